//! What the account uploads to its directory ([SPEC §2c](crate::spec)): its signed part,
//! its last-resort KEM prekey and its one-time keys, each one-time key to
//! be handed out once by the directory.

use alloc::vec::Vec;

use super::Account;
use crate::pairwise::publication::Publication;

impl Account {
    /// What to upload now: the signed part, the current last-resort KEM
    /// prekey, and the one-time prekeys and one-time KEM prekeys not
    /// published yet, which it marks published. Upload it to a
    /// [`Directory`](crate::Directory), which hands each one-time key to
    /// one initiator only; see [`Publication`] for the whole flow.
    ///
    /// Call it after generating keys and after a rotation. If the upload
    /// fails, upload [`full_publication`](Self::full_publication) instead:
    /// a directory ignores the keys it already took.
    pub fn publication(&mut self) -> Publication {
        let one_time_prekeys = self
            .one_time_prekeys
            .iter_mut()
            .filter(|(_, e)| !e.published)
            .map(|(id, e)| {
                e.published = true;
                (*id, *e.key.public_key())
            })
            .collect();
        let one_time_kem_prekeys = self
            .one_time_kem_prekeys
            .values_mut()
            .filter(|e| !e.published)
            .map(|e| {
                e.published = true;
                e.signed.clone()
            })
            .collect();
        self.publication_of(one_time_prekeys, one_time_kem_prekeys)
    }

    /// Everything to upload, published or not: for a directory that lost
    /// its copy, or after an upload that may have failed. Marks nothing.
    pub fn full_publication(&self) -> Publication {
        let one_time_prekeys = self
            .one_time_prekeys
            .iter()
            .map(|(id, e)| (*id, *e.key.public_key()))
            .collect();
        let one_time_kem_prekeys = self
            .one_time_kem_prekeys
            .values()
            .map(|e| e.signed.clone())
            .collect();
        self.publication_of(one_time_prekeys, one_time_kem_prekeys)
    }

    fn publication_of(
        &self,
        one_time_prekeys: Vec<(u32, crate::keys::PublicKey)>,
        one_time_kem_prekeys: Vec<crate::pairwise::bundle::SignedKemPreKey>,
    ) -> Publication {
        Publication::new(
            self.signed_prekey.bundle.clone(),
            self.kem_prekey.as_ref().map(|e| e.signed.clone()),
            one_time_prekeys,
            one_time_kem_prekeys,
        )
    }
}
