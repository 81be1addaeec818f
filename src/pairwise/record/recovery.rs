//! The recovery flow ([SPEC §13](crate::spec)): a receiver that cannot read a message
//! signs a notice; the sender abandons the session it names.

use super::outcome::{IgnoredNotice, NoticeOutcome};
use super::{Archived, SessionRecord, Standing, awaiting_answer};
use crate::error::Error;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::pairwise::wire::{AnyMessage, DecryptionFailure};

impl SessionRecord {
    /// Handles a notice that the peer could not decrypt a message;
    /// `identity` is this device's identity key, and the answer says what
    /// the record did and what the application should do.
    ///
    /// The notice counts only if the record's pinned peer identity key
    /// signed it for `identity`, so nobody else can make the record drop a
    /// session, and only if it names the current session: by its id when
    /// the failed message was a prekey message, while the current session
    /// still sends prekey messages (once a reply decrypted, the peer
    /// demonstrably holds the session and the notice is about a late
    /// copy); otherwise by the ratchet key of the failed message, which
    /// must be the one the current session last sent with and the peer has
    /// not answered with a new chain, or (header encryption) by its
    /// encrypted header, which the current sending header key must open.
    ///
    /// One notice is not enough to abandon a session ([SPEC §13](crate::spec)): whoever
    /// can alter one message in transit would otherwise end a healthy
    /// session at will. The first notice that names the current session is
    /// [`NoticeOutcome::ResendRequested`]: the peer could not read one
    /// message; send what it missed again, as new messages. A second
    /// notice about *another* message of that session (a copy of the first
    /// does not count) abandons it ([`NoticeOutcome::Abandoned`]):
    /// [`needs_new_session`](Self::needs_new_session) turns true. The
    /// warning belongs to the current session: another current session
    /// starts without one.
    ///
    /// ```
    /// use cliquet::{Account, IgnoredNotice, NoticeOutcome, SessionConfig, SessionRecord};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    /// let config = SessionConfig::default();
    /// let alice = Account::new(&mut rng);
    /// let mut bob = Account::new(&mut rng);
    /// let mut alice_to_bob = SessionRecord::new();
    /// alice_to_bob.start_new(alice.identity(), &bob.bundle(None)?.verify()?, config, &mut rng)?;
    ///
    /// // Bob has no record for Alice (he lost it): neither message opens.
    /// let bob_to_alice = SessionRecord::new();
    /// let notice_of = |m| {
    ///     let error = cliquet::Error::Authentication;
    ///     bob_to_alice.decryption_failure(&m, &error, bob.identity(), alice.identity_key())
    /// };
    /// let first = notice_of(alice_to_bob.encrypt(b"one", &mut rng)?).expect("due");
    /// let second = notice_of(alice_to_bob.encrypt(b"two", &mut rng)?).expect("due");
    /// # // The record pins Bob from his bundle; a notice must be his.
    /// let me = alice.identity_key();
    /// assert_eq!(alice_to_bob.on_decryption_failure(&first, me), NoticeOutcome::ResendRequested);
    /// assert_eq!(
    ///     alice_to_bob.on_decryption_failure(&first, me),
    ///     NoticeOutcome::Ignored(IgnoredNotice::Repeated)
    /// );
    /// assert_eq!(alice_to_bob.on_decryption_failure(&second, me), NoticeOutcome::Abandoned);
    /// assert!(alice_to_bob.needs_new_session());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn on_decryption_failure(
        &mut self,
        notice: &DecryptionFailure,
        identity: &IdentityKey,
    ) -> NoticeOutcome {
        let Some(current) = &self.current else {
            return NoticeOutcome::Ignored(IgnoredNotice::NoSession);
        };
        let signed = self
            .identity
            .pinned
            .is_some_and(|peer| notice.verify(&peer, identity).is_ok());
        if !signed {
            return NoticeOutcome::Ignored(IgnoredNotice::NotSignedByPeer);
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
            return NoticeOutcome::Ignored(IgnoredNotice::NotCurrent);
        }
        let session = current.session_id();
        let tag = notice.tag();
        match self.warning {
            Some((warned, first)) if warned == session && first == tag => {
                return NoticeOutcome::Ignored(IgnoredNotice::Repeated);
            }
            Some((warned, _)) if warned == session => {}
            _ => {
                self.warning = Some((session, tag));
                return NoticeOutcome::ResendRequested;
            }
        }
        self.warning = None;
        if let Some(session) = self.current.take() {
            self.archived.push_front(Archived {
                session,
                standing: Standing::Abandoned,
            });
        }
        self.enforce_limits();
        NoticeOutcome::Abandoned
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
    ///   that the chain's header key opens), prekey messages of the current
    ///   session included: a corrupted or forged copy, and that session is
    ///   fine;
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
                // A copy of a prekey message of the current session, on a
                // chain it receives on: that session is fine. (Of an
                // archived session, it may be a peer that restored an old
                // state, which only a notice tells.)
                let live = self
                    .current
                    .as_ref()
                    .is_some_and(|s| s.base_key() == m.base_key() && s.receives_on(m.message()));
                (unreadable && !live)
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
