//! The signed prekey ([SPEC §2](crate::spec)): the current one and the previous one
//! during a rotation's grace period.

use rand_core::CryptoRng;

use super::{Account, SignedEntry};
use crate::keys::SignedPreKey;

impl Account {
    /// Replaces the signed prekey by a new one with the next id (one 32-byte
    /// draw). The old one stays usable for prekey messages until the next
    /// rotation or [`forget_previous_signed_prekey`](Self::forget_previous_signed_prekey).
    /// Returns the new id. Rotate regularly (say weekly) and publish the new
    /// bundle; forget the previous key once prekey messages for it have had
    /// time to arrive.
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([4; 32]);
    /// let mut account = Account::new(&mut rng);
    /// let old = account.bundle(None)?;
    /// let id = account.rotate_signed_prekey(&mut rng);
    /// assert_eq!((old.signed_prekey_id(), id), (1, 2));
    /// assert_eq!(account.bundle(None)?.signed_prekey_id(), 2);
    /// account.forget_previous_signed_prekey();
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn rotate_signed_prekey(&mut self, rng: &mut (impl CryptoRng + ?Sized)) -> u32 {
        let id = self.signed_prekey.key.id().wrapping_add(1).max(1);
        let new = SignedEntry::new(&self.identity, SignedPreKey::generate(id, rng));
        self.previous_signed_prekey = Some(core::mem::replace(&mut self.signed_prekey, new));
        id
    }

    /// Ends the grace period of the previous signed prekey.
    pub fn forget_previous_signed_prekey(&mut self) {
        self.previous_signed_prekey = None;
    }

    /// The current signed prekey's id.
    pub const fn signed_prekey_id(&self) -> u32 {
        self.signed_prekey.key.id()
    }
}
