//! What is stored (SPEC §7): a versioned binary format for [`Account`],
//! [`Session`] and [`SessionRecord`], and its sealed form.
//!
//! Layout: `kind (1) || version (1) || body`. Sealed:
//! `kind (1) || version (1) || nonce (12) || AES-256-GCM(storage key, body) || tag (16)`
//! with associated data `"cliquet/v1/state" || kind || version`. The kinds
//! differ between accounts, sessions and records (plain and sealed), so one
//! can never be loaded as another.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::account::{Account, OneTimeEntry};
use crate::codec::Reader;
use crate::crypto::{self, LABEL_STATE, NONCE_LEN, TAG_LEN};
use crate::keys::{IdentityKey, IdentityKeyPair, KeyPair, OneTimePreKey, PublicKey, SignedPreKey};
use crate::ratchet::{
    ChainKey, HeaderKey, HeaderKeys, MessageKey, Ratchet, ReceivingChain, RootKey, SendingChain,
    SkippedKeys,
};
use crate::record::{Archived, SessionRecord, Standing};
use crate::session::{Handshake, Role, Session};
use crate::{DecodeError, Error, SessionConfig, StateError};

const KIND_ACCOUNT: u8 = 0x20;
const KIND_SESSION: u8 = 0x21;
const KIND_SEALED_ACCOUNT: u8 = 0x30;
const KIND_SEALED_SESSION: u8 = 0x31;
const KIND_RECORD: u8 = 0x22;
const KIND_SEALED_RECORD: u8 = 0x32;
/// The format version written today; every earlier one keeps loading.
const VERSION: u8 = 1;

impl From<DecodeError> for StateError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::BadKind => Self::WrongKind,
            DecodeError::Trailing => Self::Trailing,
            DecodeError::BadFlag => Self::Inconsistent,
            _ => Self::Truncated,
        }
    }
}

/// A buffer for secret bytes, zeroized when dropped.
type Secret = Zeroizing<Vec<u8>>;

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Reads `kind || version`, refusing versions newer than this library.
fn header(r: &mut Reader<'_>, kind: u8) -> Result<u8, StateError> {
    r.kind(kind)?;
    match r.u8()? {
        v @ 1..=VERSION => Ok(v),
        v => Err(StateError::UnsupportedVersion(v)),
    }
}

fn secret(r: &mut Reader<'_>) -> Result<Zeroizing<[u8; 32]>, StateError> {
    Ok(Zeroizing::new(r.array()?))
}

/// A count of items of at least `item_len` bytes each, refused if the rest
/// of the input cannot hold them (so no allocation exceeds the input).
fn count(r: &mut Reader<'_>, item_len: usize) -> Result<usize, StateError> {
    let n = usize::try_from(r.u32_be()?).map_err(|_| StateError::Truncated)?;
    if n.checked_mul(item_len)
        .is_none_or(|len| len > r.remaining())
    {
        return Err(StateError::Truncated);
    }
    Ok(n)
}

/// `kind || version || nonce || AEAD(body) || tag`.
fn seal(
    kind: u8,
    body: &[u8],
    storage_key: &[u8; 32],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(2 + NONCE_LEN + body.len() + TAG_LEN);
    out.extend_from_slice(&[kind, VERSION]);
    out.extend_from_slice(&nonce);
    crypto::seal_append(
        storage_key,
        &nonce,
        &sealed_aad(kind, VERSION),
        body,
        &mut out,
    )?;
    Ok(out)
}

fn open(kind: u8, sealed: &[u8], storage_key: &[u8; 32]) -> Result<Secret, Error> {
    let mut r = Reader::new(sealed);
    let version = header(&mut r, kind)?;
    let nonce = r.array::<NONCE_LEN>().map_err(StateError::from)?;
    let body = crypto::open_to_vec(storage_key, &nonce, &sealed_aad(kind, version), r.rest())
        .map_err(|_| StateError::Sealed)?;
    Ok(Zeroizing::new(body))
}

fn sealed_aad(kind: u8, version: u8) -> [u8; 18] {
    let mut aad = [0u8; 18];
    let kind_version = [kind, version];
    let parts = LABEL_STATE.iter().chain(&kind_version);
    aad.iter_mut().zip(parts).for_each(|(d, s)| *d = *s);
    aad
}

impl Account {
    /// The account's whole state (every secret) in the storage format of
    /// SPEC §7. Keep it secret; prefer [`seal`](Self::seal).
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([4; 32]);
    /// let mut account = Account::new(&mut rng);
    /// account.generate_one_time_prekeys(2, &mut rng);
    /// let restored = Account::from_bytes(&account.to_bytes())?;
    /// assert_eq!(restored.to_bytes(), account.to_bytes());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(120 + 41 * self.one_time_prekeys.len()));
        out.extend_from_slice(&[KIND_ACCOUNT, VERSION]);
        out.extend_from_slice(self.identity.seed());
        put_signed_prekey(&mut out, &self.signed_prekey.key);
        match &self.previous_signed_prekey {
            None => out.push(0),
            Some(entry) => {
                out.push(1);
                put_signed_prekey(&mut out, &entry.key);
            }
        }
        put_u32(&mut out, self.next_one_time_prekey_id);
        put_u32(
            &mut out,
            u32::try_from(self.one_time_prekeys.len()).unwrap_or(u32::MAX),
        );
        for (id, entry) in &self.one_time_prekeys {
            put_u32(&mut out, *id);
            out.extend_from_slice(entry.key.pair().secret_bytes());
            out.push(u8::from(entry.published));
        }
        out
    }

    /// Loads an account stored by [`to_bytes`](Self::to_bytes) (any format
    /// version up to this library's).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        header(&mut r, KIND_ACCOUNT)?;
        let identity = IdentityKeyPair::from_secret_bytes(&*secret(&mut r)?);
        let current = signed_prekey(&mut r)?;
        let previous = if r.flag().map_err(StateError::from)? {
            Some(signed_prekey(&mut r)?)
        } else {
            None
        };
        let next_one_time_prekey_id = r.u32_be().map_err(StateError::from)?;
        let mut account = Self::from_keys(identity, current);
        account.previous_signed_prekey =
            previous.map(|key| crate::account::sign(&account.identity, key));
        for _ in 0..count(&mut r, 4 + 32 + 1)? {
            let id = r.u32_be().map_err(StateError::from)?;
            let key = OneTimePreKey::from_secret_bytes(id, &*secret(&mut r)?);
            let published = r.flag().map_err(StateError::from)?;
            // Ids are stored ascending; anything else was not written by us.
            if account
                .one_time_prekeys
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
            {
                return Err(StateError::Inconsistent.into());
            }
            account
                .one_time_prekeys
                .insert(id, OneTimeEntry { key, published });
        }
        r.finish().map_err(StateError::from)?;
        account.next_one_time_prekey_id = next_one_time_prekey_id;
        Ok(account)
    }

    /// The stored state encrypted under a 32-byte storage key (AES-256-GCM,
    /// a 12-byte nonce drawn from `rng`).
    ///
    /// # Errors
    /// None in practice ([`Error::TooLarge`] past 64 GiB).
    pub fn seal(
        &self,
        storage_key: &[u8; 32],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, Error> {
        seal(KIND_SEALED_ACCOUNT, &self.to_bytes(), storage_key, rng)
    }

    /// Opens and loads a sealed account.
    ///
    /// # Errors
    /// [`StateError::Sealed`] for a wrong key or corrupted bytes,
    /// [`StateError::WrongKind`] for a sealed session, and the errors of
    /// [`from_bytes`](Self::from_bytes).
    pub fn open(sealed: &[u8], storage_key: &[u8; 32]) -> Result<Self, Error> {
        Self::from_bytes(&open(KIND_SEALED_ACCOUNT, sealed, storage_key)?)
    }
}

fn put_signed_prekey(out: &mut Vec<u8>, key: &SignedPreKey) {
    put_u32(out, key.id());
    out.extend_from_slice(key.pair().secret_bytes());
}

fn signed_prekey(r: &mut Reader<'_>) -> Result<SignedPreKey, StateError> {
    let id = r.u32_be()?;
    Ok(SignedPreKey::from_secret_bytes(id, &*secret(r)?))
}

/// Flag bits of a stored session.
const FLAG_INITIATOR: u8 = 1;
const FLAG_ACKNOWLEDGED: u8 = 1 << 1;
const FLAG_HEADER_ENCRYPTION: u8 = 1 << 2;
const FLAG_SENDING: u8 = 1 << 3;
const FLAG_RECEIVING: u8 = 1 << 4;
const FLAG_ONE_TIME_PREKEY: u8 = 1 << 5;
const FLAG_HEADER_KEY_SENDING: u8 = 1 << 6;
const FLAG_HEADER_KEY_RECEIVING: u8 = 1 << 7;

impl Session {
    /// The session's whole state (every secret and skipped key, and the
    /// config) in the storage format of SPEC §7. Keep it secret; prefer
    /// [`seal`](Self::seal).
    ///
    /// Layout after `kind || version`: a flags byte, `max_skip`,
    /// `max_skipped_keys`, `AD`, the handshake fields, `RK`, `DHs`, the
    /// chains, `PN`, the header keys, then the skipped keys grouped by chain
    /// (36 bytes a key).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let r = &self.ratchet;
        let mut out = Zeroizing::new(Vec::with_capacity(450 + 36 * r.skipped.len()));
        let hk = r.header_keys.as_ref();
        let flags = [
            (self.is_initiator(), FLAG_INITIATOR),
            (
                matches!(self.role, Role::Initiator { acknowledged: true }),
                FLAG_ACKNOWLEDGED,
            ),
            (hk.is_some(), FLAG_HEADER_ENCRYPTION),
            (r.sending.is_some(), FLAG_SENDING),
            (r.receiving.is_some(), FLAG_RECEIVING),
            (
                self.handshake.one_time_prekey_id.is_some(),
                FLAG_ONE_TIME_PREKEY,
            ),
            (
                hk.is_some_and(|k| k.sending.is_some()),
                FLAG_HEADER_KEY_SENDING,
            ),
            (
                hk.is_some_and(|k| k.receiving.is_some()),
                FLAG_HEADER_KEY_RECEIVING,
            ),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0u8, |acc, (_, bit)| acc | bit);
        out.extend_from_slice(&[KIND_SESSION, VERSION, flags]);
        put_u32(&mut out, r.config.max_skip());
        put_u32(&mut out, r.config.max_skipped_keys());
        out.extend_from_slice(&self.associated_data);
        out.extend_from_slice(self.handshake.base_key.as_bytes());
        put_u32(&mut out, self.handshake.signed_prekey_id);
        if let Some(id) = self.handshake.one_time_prekey_id {
            put_u32(&mut out, id);
        }
        out.extend_from_slice(r.root_key.as_bytes());
        out.extend_from_slice(r.own.secret_bytes());
        if let Some(chain) = &r.sending {
            out.extend_from_slice(chain.chain_key.as_bytes());
            put_u32(&mut out, chain.index);
        }
        if let Some(chain) = &r.receiving {
            out.extend_from_slice(chain.ratchet_key.as_bytes());
            out.extend_from_slice(chain.chain_key.as_bytes());
            put_u32(&mut out, chain.index);
        }
        put_u32(&mut out, r.previous_chain_length);
        if let Some(keys) = hk {
            for key in [&keys.sending, &keys.receiving].into_iter().flatten() {
                out.extend_from_slice(key.as_bytes());
            }
            out.extend_from_slice(keys.next_sending.as_bytes());
            out.extend_from_slice(keys.next_receiving.as_bytes());
        }
        let chains: Vec<_> = r.skipped.chains().collect();
        put_u32(&mut out, u32::try_from(chains.len()).unwrap_or(u32::MAX));
        for chain in chains {
            out.extend_from_slice(chain.ratchet_key.as_bytes());
            if let Some(key) = &chain.header_key {
                out.extend_from_slice(key.as_bytes());
            }
            let indexes: Vec<u32> = chain.indexes().collect();
            put_u32(&mut out, u32::try_from(indexes.len()).unwrap_or(u32::MAX));
            for index in indexes {
                put_u32(&mut out, index);
                if let Some(key) = r.skipped.get(&chain.ratchet_key, index) {
                    out.extend_from_slice(key.as_bytes());
                }
            }
        }
        out
    }

    /// Loads a session stored by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input (for example more skipped keys than its config
    /// allows, or a skipped key its chain could not have skipped).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        load_session(bytes).map_err(Error::State)
    }

    /// The stored state encrypted under a 32-byte storage key (AES-256-GCM,
    /// a 12-byte nonce drawn from `rng`).
    ///
    /// # Errors
    /// None in practice ([`Error::TooLarge`] past 64 GiB).
    pub fn seal(
        &self,
        storage_key: &[u8; 32],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, Error> {
        seal(KIND_SEALED_SESSION, &self.to_bytes(), storage_key, rng)
    }

    /// Opens and loads a sealed session.
    ///
    /// # Errors
    /// [`StateError::Sealed`] for a wrong key or corrupted bytes,
    /// [`StateError::WrongKind`] for a sealed account, and the errors of
    /// [`from_bytes`](Self::from_bytes).
    pub fn open(sealed: &[u8], storage_key: &[u8; 32]) -> Result<Self, Error> {
        Self::from_bytes(&open(KIND_SEALED_SESSION, sealed, storage_key)?)
    }
}

fn load_session(bytes: &[u8]) -> Result<Session, StateError> {
    let mut r = Reader::new(bytes);
    header(&mut r, KIND_SESSION)?;
    let flags = r.u8()?;
    let on = |bit: u8| flags & bit != 0;
    let config = SessionConfig::new(r.u32_be()?, r.u32_be()?)
        .map_err(|_| StateError::Inconsistent)?
        .with_header_encryption(on(FLAG_HEADER_ENCRYPTION));
    let associated_data: [u8; 64] = r.array()?;
    let role = match (on(FLAG_INITIATOR), on(FLAG_ACKNOWLEDGED)) {
        (true, acknowledged) => Role::Initiator { acknowledged },
        (false, false) => Role::Responder,
        (false, true) => return Err(StateError::Inconsistent),
    };
    let (first, second) = associated_data.split_at(32);
    let peer = if on(FLAG_INITIATOR) { second } else { first };
    let peer_identity =
        IdentityKey::from_bytes(&peer.try_into().map_err(|_| StateError::Truncated)?)
            .map_err(|_| StateError::Inconsistent)?;
    let handshake = Handshake {
        base_key: PublicKey::from_bytes(r.array()?),
        signed_prekey_id: r.u32_be()?,
        one_time_prekey_id: if on(FLAG_ONE_TIME_PREKEY) {
            Some(r.u32_be()?)
        } else {
            None
        },
    };
    let root_key = RootKey::from_bytes(secret(&mut r)?);
    let own = KeyPair::from_secret_bytes(&*secret(&mut r)?);
    let sending = if on(FLAG_SENDING) {
        Some(SendingChain {
            chain_key: ChainKey::from_bytes(secret(&mut r)?),
            index: r.u32_be()?,
        })
    } else {
        None
    };
    let receiving = if on(FLAG_RECEIVING) {
        Some(ReceivingChain {
            ratchet_key: PublicKey::from_bytes(r.array()?),
            chain_key: ChainKey::from_bytes(secret(&mut r)?),
            index: r.u32_be()?,
        })
    } else {
        None
    };
    // A session is stored only once it can send: it has a sending chain, or
    // a receiving chain to finish the pending DH step with.
    if sending.is_none() && receiving.is_none() {
        return Err(StateError::Inconsistent);
    }
    if matches!(
        role,
        Role::Initiator { acknowledged: true } | Role::Responder
    ) && receiving.is_none()
    {
        return Err(StateError::Inconsistent);
    }
    let previous_chain_length = r.u32_be()?;
    let header_keys = if on(FLAG_HEADER_ENCRYPTION) {
        let sending = if on(FLAG_HEADER_KEY_SENDING) {
            Some(HeaderKey::from_bytes(secret(&mut r)?))
        } else {
            None
        };
        let receiving = if on(FLAG_HEADER_KEY_RECEIVING) {
            Some(HeaderKey::from_bytes(secret(&mut r)?))
        } else {
            None
        };
        if sending.is_none()
            || receiving.is_none()
                != matches!(
                    role,
                    Role::Initiator {
                        acknowledged: false
                    }
                )
        {
            return Err(StateError::Inconsistent);
        }
        Some(HeaderKeys {
            sending,
            receiving,
            next_sending: HeaderKey::from_bytes(secret(&mut r)?),
            next_receiving: HeaderKey::from_bytes(secret(&mut r)?),
        })
    } else {
        if on(FLAG_HEADER_KEY_SENDING) || on(FLAG_HEADER_KEY_RECEIVING) {
            return Err(StateError::Inconsistent);
        }
        None
    };
    let header_key_len = if header_keys.is_some() { 32 } else { 0 };
    let mut skipped = SkippedKeys::default();
    let mut total: usize = 0;
    let max = usize::try_from(config.max_skipped_keys()).unwrap_or(usize::MAX);
    for _ in 0..count(&mut r, 32 + header_key_len + 4 + 36)? {
        let ratchet_key = PublicKey::from_bytes(r.array()?);
        let header_key = if header_keys.is_some() {
            Some(HeaderKey::from_bytes(secret(&mut r)?))
        } else {
            None
        };
        let n = count(&mut r, 36)?;
        total = total.saturating_add(n);
        if n == 0 || total > max || skipped.has_chain(&ratchet_key) {
            return Err(StateError::Inconsistent);
        }
        // The current chain's skipped keys lie below its next index.
        let limit = receiving
            .as_ref()
            .filter(|c| c.ratchet_key == ratchet_key)
            .map_or(u32::MAX, |c| c.index);
        let mut keys = Vec::with_capacity(n);
        let mut last = None;
        for _ in 0..n {
            let index = r.u32_be()?;
            if last.is_some_and(|l| l >= index) || index >= limit {
                return Err(StateError::Inconsistent);
            }
            last = Some(index);
            keys.push((index, MessageKey::from_bytes(secret(&mut r)?)));
        }
        skipped.insert(ratchet_key, header_key.as_ref(), keys);
    }
    r.finish()?;
    Ok(Session {
        ratchet: Ratchet {
            config,
            root_key,
            own,
            sending,
            receiving,
            previous_chain_length,
            header_keys,
            skipped,
        },
        associated_data,
        peer_identity,
        role,
        handshake,
    })
}

impl SessionRecord {
    /// The record's whole state in the storage format of SPEC §7: every
    /// session in the session format of [`Session::to_bytes`], unchanged.
    /// Keep it secret; prefer [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x22 || version (1) || u32be(max_archived) || u32be(max_archived_skipped_keys)
    ///      || flag (current present) [|| u32be(len) || session (len)]
    ///      || u32be(count) || count × (standing (1) || u32be(len) || session (len))
    /// ```
    ///
    /// Archived sessions are stored newest first; `standing` says why one
    /// was archived (0 replaced, 1 lost a tie-break, 2 abandoned), which
    /// decides what may make it current again.
    ///
    /// ```
    /// use cliquet::{Account, SessionConfig, SessionRecord};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([8; 32]);
    /// let alice = Account::new(&mut rng);
    /// let bob = Account::new(&mut rng);
    /// let mut record = SessionRecord::new();
    /// let bundle = bob.bundle(None)?.verify()?;
    /// record.start_new(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
    /// record.start_new(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
    /// let restored = SessionRecord::from_bytes(&record.to_bytes())?;
    /// assert_eq!(restored.to_bytes(), record.to_bytes());
    /// assert_eq!(restored.archived().len(), 1);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let current = self.current.as_ref().map(Session::to_bytes);
        let archived: Vec<(u8, Secret)> = self
            .archived
            .iter()
            .map(|a| (a.standing.to_byte(), a.session.to_bytes()))
            .collect();
        let len = 2
            + 8
            + 1
            + current.as_ref().map_or(0, |s| 4 + s.len())
            + 4
            + archived.iter().map(|(_, s)| 5 + s.len()).sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.extend_from_slice(&[KIND_RECORD, VERSION]);
        put_u32(&mut out, self.max_archived);
        put_u32(&mut out, self.max_archived_skipped_keys);
        match &current {
            None => out.push(0),
            Some(session) => {
                out.push(1);
                put_nested(&mut out, session);
            }
        }
        put_u32(&mut out, u32::try_from(archived.len()).unwrap_or(u32::MAX));
        for (standing, session) in &archived {
            out.push(*standing);
            put_nested(&mut out, session);
        }
        out
    }

    /// Loads a record stored by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input (a session that does not load, more archived
    /// sessions or skipped keys than the record's limits, sessions of
    /// different peers, or the same session twice).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        load_record(bytes).map_err(Error::State)
    }

    /// The stored state encrypted under a 32-byte storage key (AES-256-GCM,
    /// a 12-byte nonce drawn from `rng`).
    ///
    /// # Errors
    /// None in practice ([`Error::TooLarge`] past 64 GiB).
    pub fn seal(
        &self,
        storage_key: &[u8; 32],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, Error> {
        seal(KIND_SEALED_RECORD, &self.to_bytes(), storage_key, rng)
    }

    /// Opens and loads a sealed record.
    ///
    /// # Errors
    /// [`StateError::Sealed`] for a wrong key or corrupted bytes,
    /// [`StateError::WrongKind`] for a sealed account or session, and the
    /// errors of [`from_bytes`](Self::from_bytes).
    pub fn open(sealed: &[u8], storage_key: &[u8; 32]) -> Result<Self, Error> {
        Self::from_bytes(&open(KIND_SEALED_RECORD, sealed, storage_key)?)
    }
}

/// `u32be(len) || bytes`.
fn put_nested(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(bytes);
}

/// A session stored inside a record: `u32be(len) || session`.
fn nested_session(r: &mut Reader<'_>) -> Result<Session, StateError> {
    let len = usize::try_from(r.u32_be()?).map_err(|_| StateError::Truncated)?;
    load_session(r.take(len)?)
}

fn load_record(bytes: &[u8]) -> Result<SessionRecord, StateError> {
    let mut r = Reader::new(bytes);
    header(&mut r, KIND_RECORD)?;
    let mut record = SessionRecord::with_limits(r.u32_be()?, r.u32_be()?)
        .map_err(|_| StateError::Inconsistent)?;
    if r.flag()? {
        record.current = Some(nested_session(&mut r)?);
    }
    let n = count(&mut r, 1 + 4)?;
    if n > usize::try_from(record.max_archived).unwrap_or(usize::MAX) {
        return Err(StateError::Inconsistent);
    }
    for _ in 0..n {
        let standing = Standing::from_byte(r.u8()?).ok_or(StateError::Inconsistent)?;
        let session = nested_session(&mut r)?;
        record.archived.push_back(Archived { session, standing });
    }
    r.finish()?;
    let skipped: usize = record.archived().map(Session::skipped_keys).sum();
    let budget = usize::try_from(record.max_archived_skipped_keys).unwrap_or(usize::MAX);
    let peer = record.peer_identity_key().map(IdentityKey::to_bytes);
    let mut base_keys = BTreeSet::new();
    let sessions = record.current.iter().chain(record.archived());
    for session in sessions {
        if Some(session.peer_identity_key().to_bytes()) != peer
            || !base_keys.insert(session.handshake.base_key)
        {
            return Err(StateError::Inconsistent);
        }
    }
    if skipped > budget {
        return Err(StateError::Inconsistent);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::{AnyMessage, Session};

    #[test]
    fn s7_a_restored_old_state_never_repeats_a_key_and_nonce() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let alice = Account::new(&mut rng);
        let bob = Account::new(&mut rng);
        let bundle = bob.bundle(None).unwrap().verify().unwrap();
        let session = Session::initiate(
            alice.identity(),
            &bundle,
            SessionConfig::default(),
            &mut rng,
        )
        .unwrap();
        let backup = session.to_bytes();
        // The application restores the same backup twice and sends from each.
        let mut salts = Vec::new();
        let mut first = Session::from_bytes(&backup).unwrap();
        let mut second = Session::from_bytes(&backup).unwrap();
        for s in [&mut first, &mut second] {
            let AnyMessage::PreKey(m) = s.encrypt(b"same message key", &mut rng).unwrap() else {
                panic!()
            };
            let crate::RatchetMessage::Plain(inner) = m.message() else {
                panic!()
            };
            assert_eq!(inner.index(), 0, "both use message key 0 of the same chain");
            salts.push(inner.ciphertext().get(..16).unwrap().to_vec());
        }
        let restored = Session::from_bytes(&backup).unwrap();
        let (message_key, _) = restored.ratchet.sending.as_ref().unwrap().chain_key.step();
        let (k1, n1) = message_key.key_and_nonce(&salts[0]);
        let (k2, n2) = message_key.key_and_nonce(&salts[1]);
        assert_ne!(*k1, *k2, "AES keys differ");
        assert_ne!(n1, n2, "nonces differ");
    }
}
