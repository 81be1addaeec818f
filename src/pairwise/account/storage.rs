//! An account's stored form ([SPEC §11](crate::spec)): identity, signed prekeys with
//! their replay memory, one-time prekeys and KEM prekeys; plain or sealed.

use alloc::collections::BTreeMap;

use super::{Account, KemEntry, OneTimeEntry, SignedEntry};
use crate::codec::{Reader, Writer};
use crate::crypto::kem::SEED_LEN;
use crate::error::{Error, StateError};
use crate::keys::{
    IdentityKeyPair, KemPreKey, KemPreKeyKind, OneTimePreKey, PublicKey, SignedPreKey,
};
use crate::storage::{self, Format, Secret};

impl Account {
    /// The account's whole state (every secret) in the storage format of
    /// [SPEC §7](crate::spec). Keep it secret; prefer [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x20 || version (1) || IK seed (32) || signed prekey || flag [|| previous signed prekey]
    ///      || u32be(next_opk_id) || u32be(count) || count × (u32be(id) || OPK (32) || published (1))
    ///      || u32be(next_kpk_id) || flag [|| KEM prekey] || flag [|| previous KEM prekey]
    ///      || u32be(count) || count × (KEM prekey || published (1))
    /// signed prekey = u32be(spk_id) || SPK (32) || u32be(n) || n × EK_A (32)
    /// KEM prekey = u32be(kpk_id) || seed d || z (64)
    /// ```
    ///
    /// `EK_A` are the base keys of the sessions it accepted without a
    /// one-time prekey (format version 2; version 1 had none). The KEM
    /// prekeys (last resort, previous last resort, one-time ones) are new in
    /// version 3; an account of an earlier version loads without any. Only
    /// their seeds are stored: loading derives each encapsulation key and
    /// signs it again (about 60 µs a key, 7 ms for 100 one-time KEM prekeys).
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([4; 32]);
    /// let mut account = Account::new(&mut rng);
    /// account.generate_one_time_prekeys(2, &mut rng);
    /// let restored = Account::from_stored(&account.to_stored())?;
    /// assert_eq!(restored.to_stored(), account.to_stored());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_stored(&self) -> Secret {
        let entry_len = |e: &SignedEntry| 4 + 32 + 4 + 32 * e.accepted.len();
        let previous = self.previous_signed_prekey.as_ref().map_or(0, entry_len);
        let len = 2
            + 32
            + entry_len(&self.signed_prekey)
            + 1
            + previous
            + 8
            + 37 * self.one_time_prekeys.len()
            + 4
            + 2 * (1 + KEM_ENTRY_LEN)
            + 4
            + (KEM_ENTRY_LEN + 1) * self.one_time_kem_prekeys.len();
        let mut out = storage::start(storage::ACCOUNT, len);
        out.put(self.identity.seed());
        write_signed_prekey(&mut out, &self.signed_prekey);
        out.put_flag(self.previous_signed_prekey.is_some());
        if let Some(entry) = &self.previous_signed_prekey {
            write_signed_prekey(&mut out, entry);
        }
        out.put_u32_be(self.next_one_time_prekey_id);
        out.put_len(self.one_time_prekeys.len());
        for (id, entry) in &self.one_time_prekeys {
            out.put_u32_be(*id);
            out.put(entry.key.pair().secret_bytes());
            out.put_flag(entry.published);
        }
        out.put_u32_be(self.next_kem_prekey_id);
        for entry in [&self.kem_prekey, &self.previous_kem_prekey] {
            out.put_flag(entry.is_some());
            if let Some(entry) = entry {
                write_kem_prekey(&mut out, &entry.key);
            }
        }
        out.put_len(self.one_time_kem_prekeys.len());
        for entry in self.one_time_kem_prekeys.values() {
            write_kem_prekey(&mut out, &entry.key);
            out.put_flag(entry.published);
        }
        out
    }

    /// Loads an account stored by [`to_stored`](Self::to_stored) (any format
    /// version up to this library's).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input.
    pub fn from_stored(bytes: &[u8]) -> Result<Self, Error> {
        Self::read(bytes).map_err(Error::State)
    }

    pub(super) fn read(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes);
        let format = storage::header(&mut r, storage::ACCOUNT)?;
        let identity = IdentityKeyPair::from_secret_bytes(&*storage::secret(&mut r)?);
        let current = read_signed_prekey(&mut r, format, &identity)?;
        let previous = if r.flag()? {
            Some(read_signed_prekey(&mut r, format, &identity)?)
        } else {
            None
        };
        let next_one_time_prekey_id = r.u32_be()?;
        let mut account = Self {
            identity,
            signed_prekey: current,
            previous_signed_prekey: previous,
            one_time_prekeys: BTreeMap::new(),
            next_one_time_prekey_id,
            kem_prekey: None,
            previous_kem_prekey: None,
            one_time_kem_prekeys: BTreeMap::new(),
            next_kem_prekey_id: 1,
        };
        for _ in 0..storage::count(&mut r, 4 + 32 + 1)? {
            let id = r.u32_be()?;
            let key = OneTimePreKey::from_secret_bytes(id, &*storage::secret(&mut r)?);
            let published = r.flag()?;
            // Ids are stored ascending; anything else was not written by us.
            if account
                .one_time_prekeys
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
            {
                return Err(StateError::Inconsistent);
            }
            account
                .one_time_prekeys
                .insert(id, OneTimeEntry { key, published });
        }
        if format.has_post_quantum() {
            account.read_kem_prekeys(&mut r)?;
        }
        r.finish()?;
        Ok(account)
    }

    /// The KEM prekeys of format version 3. Ids must be unique across both
    /// kinds, and the one-time ones ascending.
    pub(super) fn read_kem_prekeys(&mut self, r: &mut Reader<'_>) -> Result<(), StateError> {
        self.next_kem_prekey_id = r.u32_be()?;
        for previous in [false, true] {
            if r.flag()? {
                let key = read_kem_prekey(r, KemPreKeyKind::LastResort)?;
                if self.kem_entry(key.id()).is_some() {
                    return Err(StateError::Inconsistent);
                }
                let entry = Some(KemEntry::new(&self.identity, key));
                if previous {
                    self.previous_kem_prekey = entry;
                } else {
                    self.kem_prekey = entry;
                }
            }
        }
        for _ in 0..storage::count(r, KEM_ENTRY_LEN + 1)? {
            let key = read_kem_prekey(r, KemPreKeyKind::OneTime)?;
            let published = r.flag()?;
            let id = key.id();
            let ascending = self
                .one_time_kem_prekeys
                .last_key_value()
                .is_none_or(|(last, _)| *last < id);
            if !ascending || self.kem_entry(id).is_some() {
                return Err(StateError::Inconsistent);
            }
            let mut entry = KemEntry::new(&self.identity, key);
            entry.published = published;
            self.one_time_kem_prekeys.insert(id, entry);
        }
        Ok(())
    }
}

storage::sealed_storage!(Account, storage::ACCOUNT, "account");

/// `u32be(id) || SPK secret (32) || u32be(n) || n × EK_A (32)`.
fn write_signed_prekey(w: &mut impl Writer, entry: &SignedEntry) {
    w.put_u32_be(entry.key.id());
    w.put(entry.key.pair().secret_bytes());
    w.put_len(entry.accepted.len());
    for base_key in &entry.accepted {
        w.put(base_key.as_bytes());
    }
}

/// Stored length of a KEM prekey: id and seed.
const KEM_ENTRY_LEN: usize = 4 + SEED_LEN;

/// `u32be(kpk_id) || seed (64)`.
fn write_kem_prekey(w: &mut impl Writer, key: &KemPreKey) {
    w.put_u32_be(key.id());
    w.put(key.seed());
}

fn read_kem_prekey(r: &mut Reader<'_>, kind: KemPreKeyKind) -> Result<KemPreKey, StateError> {
    let id = r.u32_be()?;
    let seed = zeroize::Zeroizing::new(r.array::<SEED_LEN>()?);
    Ok(KemPreKey::from_secret_bytes(id, kind, &seed))
}

fn read_signed_prekey(
    r: &mut Reader<'_>,
    format: Format,
    identity: &IdentityKeyPair,
) -> Result<SignedEntry, StateError> {
    let id = r.u32_be()?;
    let key = SignedPreKey::from_secret_bytes(id, &*storage::secret(r)?);
    let mut entry = SignedEntry::new(identity, key);
    if format.has_replay_memory() {
        let n = storage::count(r, 32)?;
        if n > Account::MAX_REMEMBERED_BASE_KEYS {
            return Err(StateError::Inconsistent);
        }
        entry.accepted.reserve_exact(n);
        for _ in 0..n {
            entry.accepted.push_back(PublicKey::from_bytes(r.array()?));
        }
    }
    Ok(entry)
}
