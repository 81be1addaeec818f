//! An account's stored form ([SPEC §11](crate::spec)): identity, signed prekeys with
//! their replay memory, one-time prekeys and KEM prekeys; plain or sealed.

use alloc::collections::BTreeMap;

use super::replay::{self, ReplayMemory};
use super::{Account, KemEntry, OneTimeEntry, SignedEntry};
use crate::codec::{Codec, Reader, Writer};
use crate::crypto::kem::SEED_LEN;
use crate::error::{Error, StateError};
use crate::keys::{
    IdentityKeyPair, KemPreKey, KemPreKeyKind, OneTimePreKey, PublicKey, SignedPreKey,
};
use crate::pairwise::bundle::SignedKemPreKey;
use crate::storage::{self, Format, Secret};

impl Account {
    /// The account's whole state (every secret) in the storage format of
    /// [SPEC §7](crate::spec). Keep it secret; prefer [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x20 || 0x04 || IK seed (32) || u32be(replay_limit) || signed prekey || flag [|| previous signed prekey]
    ///      || u32be(next_opk_id) || u32be(count) || count × (u32be(id) || OPK (32) || published (1))
    ///      || u32be(next_kpk_id) || flag [|| KEM prekey] || flag [|| previous KEM prekey]
    ///      || u32be(count) || count × (KEM prekey || published (1))
    /// signed prekey = u32be(spk_id) || SPK (32) || u32be(n) || n × tag (8)
    /// KEM prekey = seed d || z (64) || u32be(kpk_id) || kpk_kind (1) || KPK_pub (1568) || kpk_signature (64)
    /// ```
    ///
    /// A tag names a session its signed prekey accepted without a one-time
    /// key (the replay memory, ascending; 8 bytes each, at most
    /// [`MAX_REPLAY_MEMORY`](Self::MAX_REPLAY_MEMORY)). A KEM prekey is its
    /// seed and its signed public part as a bundle carries it ([SPEC §2b](crate::spec)),
    /// so loading one costs a copy: about 1.7 KB stored per KEM prekey,
    /// nothing derived or signed. Earlier versions load too ([SPEC §11](crate::spec)).
    ///
    /// Loading trusts the stored public part; it does not check it against
    /// the seed. Stored state is the application's own (seal it, and a
    /// corrupted copy does not open); and a public part that does not match
    /// fails safe: initiators refuse a bundle whose signature does not
    /// verify, and a session built on a wrong key fails to authenticate its
    /// first message, since this account decapsulates with the seed.
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
        let entry_len = |e: &SignedEntry| 4 + 32 + 4 + 8 * e.accepted.len();
        let previous = self.previous_signed_prekey.as_ref().map_or(0, entry_len);
        let len = 2
            + 32
            + 4
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
        out.put_u32_be(self.replay_memory_limit);
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
                write_kem_prekey(&mut out, entry);
            }
        }
        out.put_len(self.one_time_kem_prekeys.len());
        for entry in self.one_time_kem_prekeys.values() {
            write_kem_prekey(&mut out, entry);
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
        let replay_memory_limit = if format.has_replay_tags() {
            let limit = r.u32_be()?;
            if !(1..=Self::MAX_REPLAY_MEMORY).contains(&limit) {
                return Err(StateError::Inconsistent);
            }
            limit
        } else {
            Self::MAX_REPLAY_MEMORY
        };
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
            replay_memory_limit,
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
                .insert(id, OneTimeEntry::new(key, published));
        }
        if format.has_post_quantum() {
            account.read_kem_prekeys(&mut r, format)?;
        }
        r.finish()?;
        Ok(account)
    }

    /// The KEM prekeys of format version 3 on. Ids must be unique across
    /// both kinds, and the one-time ones ascending.
    pub(super) fn read_kem_prekeys(
        &mut self,
        r: &mut Reader<'_>,
        format: Format,
    ) -> Result<(), StateError> {
        self.next_kem_prekey_id = r.u32_be()?;
        let entry_len = if format.has_signed_kem_prekeys() {
            KEM_ENTRY_LEN
        } else {
            4 + SEED_LEN
        };
        for previous in [false, true] {
            if r.flag()? {
                let entry = self.read_kem_prekey(r, format, KemPreKeyKind::LastResort)?;
                if previous {
                    self.previous_kem_prekey = Some(entry);
                } else {
                    self.kem_prekey = Some(entry);
                }
            }
        }
        for _ in 0..storage::count(r, entry_len + 1)? {
            let mut entry = self.read_kem_prekey(r, format, KemPreKeyKind::OneTime)?;
            entry.published = r.flag()?;
            let id = entry.key.id();
            let ascending = self
                .one_time_kem_prekeys
                .last_key_value()
                .is_none_or(|(last, _)| *last < id);
            if !ascending {
                return Err(StateError::Inconsistent);
            }
            self.one_time_kem_prekeys.insert(id, entry);
        }
        Ok(())
    }

    /// One KEM prekey of `kind`, whose id the account does not hold yet.
    /// Version 3 stored `u32be(kpk_id) || seed`: its public part is derived
    /// and signed again (about 60 µs).
    fn read_kem_prekey(
        &self,
        r: &mut Reader<'_>,
        format: Format,
        kind: KemPreKeyKind,
    ) -> Result<KemEntry, StateError> {
        let entry = if format.has_signed_kem_prekeys() {
            let seed = zeroize::Zeroizing::new(r.array::<SEED_LEN>()?);
            let signed = SignedKemPreKey::read_stored(r)?;
            if signed.kind() != kind {
                return Err(StateError::Inconsistent);
            }
            let public = signed.public_key().clone();
            let key = KemPreKey::from_parts(signed.id(), kind, &seed, public);
            KemEntry::from_parts(key, signed, false)
        } else {
            let id = r.u32_be()?;
            let seed = zeroize::Zeroizing::new(r.array::<SEED_LEN>()?);
            KemEntry::new(
                &self.identity,
                KemPreKey::from_secret_bytes(id, kind, &seed),
            )
        };
        if self.kem_entry(entry.key.id()).is_some() {
            return Err(StateError::Inconsistent);
        }
        Ok(entry)
    }
}

storage::sealed_storage!(Account, storage::ACCOUNT, "account");

/// `u32be(id) || SPK secret (32) || u32be(n) || n × tag (8)`.
fn write_signed_prekey(w: &mut impl Writer, entry: &SignedEntry) {
    w.put_u32_be(entry.key.id());
    w.put(entry.key.pair().secret_bytes());
    w.put_len(entry.accepted.len());
    for tag in entry.accepted.tags() {
        w.put(tag);
    }
}

/// Stored length of a KEM prekey: its seed and its signed public part.
const KEM_ENTRY_LEN: usize = SEED_LEN + SignedKemPreKey::LEN;

/// `seed (64) || u32be(kpk_id) || kpk_kind || KPK_pub || kpk_signature`.
fn write_kem_prekey(w: &mut impl Writer, entry: &KemEntry) {
    w.put(entry.key.seed());
    entry.signed.write(w);
}

fn read_signed_prekey(
    r: &mut Reader<'_>,
    format: Format,
    identity: &IdentityKeyPair,
) -> Result<SignedEntry, StateError> {
    let id = r.u32_be()?;
    let key = SignedPreKey::from_secret_bytes(id, &*storage::secret(r)?);
    let mut entry = SignedEntry::new(identity, key);
    if format.has_replay_tags() {
        let n = storage::count(r, 8)?;
        if n > Account::MAX_REPLAY_MEMORY as usize {
            return Err(StateError::Inconsistent);
        }
        entry.accepted.reserve_exact(n);
        for _ in 0..n {
            if !entry.accepted.push_ascending(r.array()?) {
                return Err(StateError::Inconsistent);
            }
        }
    } else if format.has_replay_memory() {
        // Versions 2 and 3: at most 2,048 base keys, oldest first.
        let n = storage::count(r, 32)?;
        if n > LEGACY_MAX_BASE_KEYS {
            return Err(StateError::Inconsistent);
        }
        let mut memory = ReplayMemory::default();
        memory.reserve_exact(n);
        for _ in 0..n {
            memory.insert(replay::tag(&PublicKey::from_bytes(r.array()?)));
        }
        entry.accepted = memory;
    }
    Ok(entry)
}

/// How many base keys formats 2 and 3 kept per signed prekey.
const LEGACY_MAX_BASE_KEYS: usize = 2048;
