//! KEM prekeys ([SPEC §3b](crate::spec)): the last-resort one (and the previous one
//! during a rotation) and one-time KEM prekeys.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::{Account, KemEntry};
use crate::error::Error;
use crate::keys::{KemPreKey, KemPreKeyKind};
use crate::pairwise::bundle::SignedKemPreKey;

impl Account {
    /// Replaces the last-resort KEM prekey by a new one with the next KEM
    /// prekey id (two 32-byte draws, `d` then `z`). The old one stays
    /// usable for prekey messages until the next rotation or
    /// [`forget_previous_kem_prekey`](Self::forget_previous_kem_prekey).
    /// Returns the new id.
    pub fn rotate_kem_prekey(&mut self, rng: &mut (impl CryptoRng + ?Sized)) -> u32 {
        let id = self.fresh_kem_prekey_id();
        let key = KemPreKey::generate(id, KemPreKeyKind::LastResort, rng);
        let entry = KemEntry::new(&self.identity, key);
        self.previous_kem_prekey = self.kem_prekey.replace(entry);
        id
    }

    /// Ends the grace period of the previous last-resort KEM prekey.
    pub fn forget_previous_kem_prekey(&mut self) {
        self.previous_kem_prekey = None;
    }

    /// The current last-resort KEM prekey's id, if the account has one.
    pub fn kem_prekey_id(&self) -> Option<u32> {
        self.kem_prekey.as_ref().map(|e| e.key.id())
    }

    /// The current last-resort KEM prekey's signed public part, for a
    /// directory server to serve once it has no one-time KEM prekey left.
    pub fn last_resort_kem_prekey(&self) -> Option<SignedKemPreKey> {
        self.kem_prekey.as_ref().map(|e| e.signed.clone())
    }

    /// Adds a KEM prekey with its own id; later generated ids follow it. A
    /// last-resort key becomes the current one (the current one becomes the
    /// previous one, as in a rotation); a one-time key joins the others.
    ///
    /// # Errors
    /// [`Error::PreKeyIdInUse`] if the account already holds a KEM prekey
    /// with that id.
    pub fn add_kem_prekey(&mut self, key: KemPreKey) -> Result<(), Error> {
        let id = key.id();
        if self.kem_entry(id).is_some() {
            return Err(Error::PreKeyIdInUse);
        }
        let entry = KemEntry::new(&self.identity, key);
        match entry.key.kind() {
            KemPreKeyKind::LastResort => {
                self.previous_kem_prekey = self.kem_prekey.replace(entry);
            }
            KemPreKeyKind::OneTime => {
                self.one_time_kem_prekeys.insert(id, entry);
            }
        }
        if id >= self.next_kem_prekey_id {
            self.next_kem_prekey_id = id.wrapping_add(1);
        }
        Ok(())
    }

    /// Generates `count` one-time KEM prekeys with the next KEM prekey ids
    /// (two 32-byte draws each) and returns their signed public parts.
    /// Each costs about 40 µs to generate and 1.7 KB to publish.
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    /// let mut account = Account::new(&mut rng); // last-resort KEM prekey 1
    /// account.generate_one_time_kem_prekeys(2, &mut rng);
    /// let ids: Vec<u32> = account.unpublished_one_time_kem_prekeys().iter().map(|k| k.id()).collect();
    /// assert_eq!(ids, [2, 3]);
    /// // ... upload them, then:
    /// account.mark_one_time_kem_prekeys_published();
    /// assert!(account.unpublished_one_time_kem_prekeys().is_empty());
    /// assert_eq!(account.one_time_kem_prekey_count(), 2);
    /// ```
    pub fn generate_one_time_kem_prekeys(
        &mut self,
        count: usize,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Vec<SignedKemPreKey> {
        (0..count)
            .map(|_| {
                let id = self.fresh_kem_prekey_id();
                let key = KemPreKey::generate(id, KemPreKeyKind::OneTime, rng);
                let entry = KemEntry::new(&self.identity, key);
                let signed = entry.signed.clone();
                self.one_time_kem_prekeys.insert(id, entry);
                signed
            })
            .collect()
    }

    /// The one-time KEM prekeys not yet marked published, by id.
    pub fn unpublished_one_time_kem_prekeys(&self) -> Vec<SignedKemPreKey> {
        self.one_time_kem_prekeys
            .values()
            .filter(|e| !e.published)
            .map(|e| e.signed.clone())
            .collect()
    }

    /// Marks every one-time KEM prekey published (call it once the upload
    /// succeeded).
    pub fn mark_one_time_kem_prekeys_published(&mut self) {
        self.one_time_kem_prekeys
            .values_mut()
            .for_each(|e| e.published = true);
    }

    /// How many unused one-time KEM prekeys the account holds.
    pub fn one_time_kem_prekey_count(&self) -> usize {
        self.one_time_kem_prekeys.len()
    }

    /// The KEM prekey with this id, of either kind.
    pub(super) fn kem_entry(&self, id: u32) -> Option<&KemEntry> {
        [self.kem_prekey.as_ref(), self.previous_kem_prekey.as_ref()]
            .into_iter()
            .flatten()
            .find(|e| e.key.id() == id)
            .or_else(|| self.one_time_kem_prekeys.get(&id))
    }

    pub(super) fn fresh_kem_prekey_id(&mut self) -> u32 {
        let mut id = self.next_kem_prekey_id;
        while id == 0 || self.kem_entry(id).is_some() {
            id = id.wrapping_add(1);
        }
        self.next_kem_prekey_id = id.wrapping_add(1);
        id
    }
}
