//! The recovery flow (SPEC §13): a receiver that cannot read a message
//! signs a notice; the sender abandons the session it names.

use super::{Archived, SessionRecord, Standing, awaiting_answer};
use crate::error::Error;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::pairwise::wire::{AnyMessage, DecryptionFailure};

impl SessionRecord {
    /// Handles a notice that the peer could not decrypt a message;
    /// `identity` is this device's identity key. The notice counts only if
    /// the record's pinned peer identity key signed it for `identity`, so
    /// nobody else can make the record drop a session. If it names the
    /// current session, that session is abandoned and
    /// [`needs_new_session`](Self::needs_new_session) turns true. A notice
    /// names a session by its id when the failed message was a prekey
    /// message: it counts only while the current session still sends
    /// prekey messages (once a reply decrypted, the peer demonstrably holds
    /// the session and the notice is about a late copy). Otherwise it names
    /// the ratchet key of the failed message, which must be the one the
    /// current session last sent with and the peer has not answered with a
    /// new chain, or (header encryption) carries its encrypted header,
    /// which the current sending header key must open. Returns whether the
    /// record changed; a notice that is not signed by the peer, names
    /// nothing, or names an archived or unknown session or a chain the peer
    /// has moved past, is ignored.
    pub fn on_decryption_failure(
        &mut self,
        notice: &DecryptionFailure,
        identity: &IdentityKey,
    ) -> bool {
        let Some(current) = &self.current else {
            return false;
        };
        let signed = self
            .identity
            .pinned
            .is_some_and(|peer| notice.verify(&peer, identity).is_ok());
        if !signed {
            return false;
        }
        let names_current = match (
            notice.session_id(),
            notice.ratchet_key(),
            notice.encrypted_header(),
        ) {
            (Some(id), _, _) => awaiting_answer(current) && current.session_id() == *id,
            (None, Some(key), _) => current.sends_with(key),
            (None, None, Some(header)) => current.sent_header(header),
            (None, None, None) => false,
        };
        if !names_current {
            return false;
        }
        if let Some(session) = self.current.take() {
            self.archived.push_front(Archived {
                session,
                standing: Standing::Abandoned,
            });
        }
        self.enforce_limits();
        true
    }

    /// The notice to send back after [`decrypt`](Self::decrypt) failed
    /// with `error` on `message`, signed by `identity` (this device) for
    /// `peer` (the device the transport says sent it: the record's
    /// [`peer_identity_key`](Self::peer_identity_key), or after losing the
    /// record, the key the application knows for that contact), if the
    /// failure can mean that the peer sends on a session this record cannot
    /// (or no longer) read:
    ///
    /// - [`Error::Authentication`], [`Error::UnknownPreKey`] or
    ///   [`Error::InvalidKey`], except for a message on a chain some session
    ///   receives on (its ratchet key, or with header encryption a header
    ///   that the chain's header key opens): a corrupted or forged copy,
    ///   and that session is fine;
    /// - [`Error::Duplicate`] for a prekey message of a session that is not
    ///   current here: a peer that restored an old state sends fresh prekey
    ///   messages under message numbers already used, and would never learn
    ///   otherwise. (A network duplicate of such a message yields a notice
    ///   that the peer ignores: it no longer waits on that session.)
    ///
    /// `None` otherwise: duplicates on live sessions, too many skipped keys,
    /// malformed input; the peer's session must not be replaced for those.
    pub fn decryption_failure(
        &self,
        message: &AnyMessage,
        error: &Error,
        identity: &IdentityKeyPair,
        peer: &IdentityKey,
    ) -> Option<DecryptionFailure> {
        let unreadable = matches!(
            error,
            Error::Authentication | Error::UnknownPreKey | Error::InvalidKey
        );
        let due = match message {
            AnyMessage::Ratchet(m) => unreadable && !self.sessions().any(|s| s.receives_on(m)),
            AnyMessage::PreKey(m) => {
                unreadable
                    || (*error == Error::Duplicate
                        && self
                            .current
                            .as_ref()
                            .is_none_or(|s| s.base_key() != m.base_key()))
            }
        };
        due.then(|| DecryptionFailure::for_message(message, identity, peer))
    }
}
