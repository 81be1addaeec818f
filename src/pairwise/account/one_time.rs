//! One-time prekeys ([SPEC §2](crate::spec)): generated with sequential ids, handed out
//! to publish once, consumed when their session's first message decrypts.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::{Account, OneTimeEntry};
use crate::error::Error;
use crate::keys::{OneTimePreKey, PublicKey};

impl Account {
    /// Generates `count` one-time prekeys with the next sequential ids (one
    /// 32-byte draw each) and returns their ids and public keys.
    pub fn generate_one_time_prekeys(
        &mut self,
        count: usize,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Vec<(u32, PublicKey)> {
        (0..count)
            .map(|_| {
                let id = self.fresh_one_time_prekey_id();
                let key = OneTimePreKey::generate(id, rng);
                let public = *key.public_key();
                self.one_time_prekeys
                    .insert(id, OneTimeEntry::new(key, false));
                (id, public)
            })
            .collect()
    }

    /// Adds a one-time prekey with its own id; later generated ids follow it.
    ///
    /// # Errors
    /// [`Error::PreKeyIdInUse`] if the account already holds that id.
    pub fn add_one_time_prekey(&mut self, key: OneTimePreKey) -> Result<(), Error> {
        let id = key.id();
        if self.one_time_prekeys.contains_key(&id) {
            return Err(Error::PreKeyIdInUse);
        }
        self.one_time_prekeys
            .insert(id, OneTimeEntry::new(key, false));
        if id >= self.next_one_time_prekey_id {
            self.next_one_time_prekey_id = id.wrapping_add(1);
        }
        Ok(())
    }

    pub(super) fn fresh_one_time_prekey_id(&mut self) -> u32 {
        let mut id = self.next_one_time_prekey_id;
        while id == 0 || self.one_time_prekeys.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_one_time_prekey_id = id.wrapping_add(1);
        id
    }

    /// The one-time prekeys not yet marked published, by id.
    /// [`publication`](Self::publication) gives them with everything else
    /// a directory needs, and marks them.
    pub fn unpublished_one_time_prekeys(&self) -> Vec<(u32, PublicKey)> {
        self.one_time_prekeys
            .iter()
            .filter(|(_, e)| !e.published)
            .map(|(id, e)| (*id, *e.key.public_key()))
            .collect()
    }

    /// Marks every one-time prekey published (call it once the upload succeeded).
    pub fn mark_one_time_prekeys_published(&mut self) {
        self.one_time_prekeys
            .values_mut()
            .for_each(|e| e.published = true);
    }

    /// Every one-time prekey the account holds, published or not, by id: to
    /// upload them again after the directory lost its copy.
    pub fn one_time_prekeys(&self) -> Vec<(u32, PublicKey)> {
        self.one_time_prekeys
            .iter()
            .map(|(id, e)| (*id, *e.key.public_key()))
            .collect()
    }

    /// Deletes a one-time prekey (say the directory reports it handed out,
    /// or it was never uploaded); a prekey message naming it then fails with
    /// [`Error::UnknownPreKey`]. Returns whether the account held it.
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    /// let mut account = Account::new(&mut rng);
    /// let ids: Vec<u32> = account.generate_one_time_prekeys(2, &mut rng).iter().map(|k| k.0).collect();
    /// assert!(account.remove_one_time_prekey(ids[0]));
    /// assert!(!account.remove_one_time_prekey(ids[0]));
    /// assert_eq!(account.one_time_prekeys().len(), 1);
    /// ```
    pub fn remove_one_time_prekey(&mut self, id: u32) -> bool {
        self.one_time_prekeys.remove(&id).is_some()
    }

    /// How many unused one-time prekeys the account holds.
    pub fn one_time_prekey_count(&self) -> usize {
        self.one_time_prekeys.len()
    }
}
