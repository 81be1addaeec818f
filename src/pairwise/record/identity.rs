//! The peer's pinned identity key ([SPEC §12](crate::spec)): verified, changed, accepted
//! or refused.

use super::SessionRecord;
use crate::error::Error;
use crate::keys::IdentityKey;

impl SessionRecord {
    /// The peer's identity key, pinned by the record's first session (or
    /// [`mark_verified`](Self::mark_verified)). A record belongs to one
    /// peer identity: it keeps it when its sessions go, and a session
    /// under another identity key needs the application's decision
    /// ([`accept_identity`](Self::accept_identity)).
    pub const fn peer_identity_key(&self) -> Option<&IdentityKey> {
        self.identity.pinned.as_ref()
    }

    /// Whether the user verified the pinned identity key (compared safety
    /// numbers, [`SafetyNumber`](crate::SafetyNumber)); a change of
    /// identity clears it.
    pub const fn is_verified(&self) -> bool {
        self.identity.verified
    }

    /// Records that the user verified `identity` (compared safety numbers
    /// with its owner). Pins it if the record has no identity yet.
    ///
    /// # Errors
    /// [`Error::IdentityChanged`] if `identity` is not the pinned key (a
    /// number computed for another key was compared); nothing changes.
    pub fn mark_verified(&mut self, identity: &IdentityKey) -> Result<(), Error> {
        match self.identity.pinned {
            Some(pinned) if pinned != *identity => Err(Error::IdentityChanged(*identity)),
            _ => {
                self.identity.pinned = Some(*identity);
                self.identity.verified = true;
                Ok(())
            }
        }
    }

    /// The other identity key this side was asked to start a session with
    /// ([`start_new`](Self::start_new) failed with
    /// [`Error::IdentityChanged`]) and that the application has not yet
    /// accepted or refused. While there is one, [`encrypt`](Self::encrypt)
    /// refuses: nothing leaves for the old key or the new one until the
    /// user decides.
    pub const fn changed_identity(&self) -> Option<&IdentityKey> {
        self.identity.changed.as_ref()
    }

    /// The application's decision that `identity` is now the peer's
    /// identity key (after showing the user the new safety number). The
    /// sessions under the old key are dropped (their peer cannot read them
    /// any more, or was never the peer), the verified mark is cleared, and
    /// a prekey message or a bundle of `identity` is then accepted.
    pub fn accept_identity(&mut self, identity: &IdentityKey) {
        if self.identity.pinned != Some(*identity) {
            self.current = None;
            self.archived.clear();
            self.identity.verified = false;
        }
        self.identity.pinned = Some(*identity);
        self.identity.changed = None;
    }

    /// The application's decision to keep the pinned identity key: forgets
    /// the [`changed_identity`](Self::changed_identity), so that
    /// [`encrypt`](Self::encrypt) works again with the current session.
    pub fn refuse_identity_change(&mut self) {
        self.identity.changed = None;
    }
}
