//! `Account`: a device's identity, prekey stores (KEM prekeys included),
//! bundle and the responder side of X3DH and PQXDH ([SPEC §1](crate::spec)–§3b, §5).
//!
//! Here: the account, its bundle and `accept`. Beside it: `one_time`,
//! `signed` and `kem` (the three prekey stores), `replay` (what a signed
//! prekey remembers of the sessions it accepted) and `storage` ([SPEC §11](crate::spec)).

mod kem;
mod one_time;
mod publish;
mod replay;
mod signed;
mod storage;
#[cfg(test)]
mod tests;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use self::replay::ReplayMemory;
use crate::config::SessionConfig;
use crate::error::{ConfigError, Error};
use crate::keys::{
    IdentityKey, IdentityKeyPair, KemPreKey, KemPreKeyKind, OneTimePreKey, SignedPreKey,
};
use crate::pairwise::bundle::{PreKeyBundle, SignedKemPreKey};
use crate::pairwise::handshake;
use crate::pairwise::session::Session;
use crate::pairwise::wire::{PreKeyMessage, RatchetMessage};

/// A one-time prekey and whether it was handed to the application to publish.
///
/// The key is boxed: a map node then holds only a pointer, and the secret
/// lives in one heap block that is zeroized when the key is dropped. Inline,
/// the map would leave copies of it in its nodes as entries move (a removal
/// shifts the entries after it, a split copies half a node).
#[derive(Clone, Debug)]
struct OneTimeEntry {
    key: Box<OneTimePreKey>,
    published: bool,
}

impl OneTimeEntry {
    fn new(key: OneTimePreKey, published: bool) -> Self {
        Self {
            key: Box::new(key),
            published,
        }
    }
}

/// A KEM prekey (boxed, as a one-time prekey is), its signed public part
/// (the signature is computed once, and stored), and (one-time keys)
/// whether it was handed out to publish.
#[derive(Clone, Debug)]
struct KemEntry {
    key: Box<KemPreKey>,
    signed: SignedKemPreKey,
    published: bool,
}

impl KemEntry {
    fn new(identity: &IdentityKeyPair, key: KemPreKey) -> Self {
        let signed = SignedKemPreKey::sign(identity, &key);
        Self::from_parts(key, signed, false)
    }

    fn from_parts(key: KemPreKey, signed: SignedKemPreKey, published: bool) -> Self {
        Self {
            key: Box::new(key),
            signed,
            published,
        }
    }
}

/// A signed prekey, its bundle (the signature is computed once), and the
/// tags of the sessions it accepted without a one-time key.
#[derive(Clone, Debug)]
struct SignedEntry {
    key: SignedPreKey,
    bundle: PreKeyBundle,
    /// Never forgets; at most the account's replay-memory limit.
    accepted: ReplayMemory,
}

impl SignedEntry {
    fn new(identity: &IdentityKeyPair, key: SignedPreKey) -> Self {
        let bundle = PreKeyBundle::sign(identity, &key);
        Self {
            key,
            bundle,
            accepted: ReplayMemory::default(),
        }
    }
}

/// One device's keys: its identity, the current signed prekey (and the
/// previous one during a rotation's grace period), its unused one-time
/// prekeys, numbered sequentially from 1, and its KEM prekeys for PQXDH
/// ([SPEC §3b](crate::spec)): a last-resort one (current and previous, rotated like the
/// signed prekey) and unused one-time ones, numbered from 1 in one sequence
/// shared by both kinds.
///
/// ```
/// use cliquet::Account;
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
/// let mut account = Account::new(&mut rng);
/// account.generate_one_time_prekeys(3, &mut rng);
/// // What to upload to the directory (see `Publication`); marks them published.
/// let upload = account.publication();
/// let ids: Vec<u32> = upload.one_time_prekeys().iter().map(|(id, _)| *id).collect();
/// assert_eq!(ids, [1, 2, 3]);
/// assert!(account.publication().one_time_prekeys().is_empty());
/// ```
pub struct Account {
    identity: IdentityKeyPair,
    signed_prekey: SignedEntry,
    previous_signed_prekey: Option<SignedEntry>,
    one_time_prekeys: BTreeMap<u32, OneTimeEntry>,
    next_one_time_prekey_id: u32,
    kem_prekey: Option<KemEntry>,
    previous_kem_prekey: Option<KemEntry>,
    one_time_kem_prekeys: BTreeMap<u32, KemEntry>,
    next_kem_prekey_id: u32,
    replay_memory_limit: u32,
}

/// A session created by [`Account::accept`] and the plaintext of the prekey
/// message that created it. Its `Debug` shows the session and the
/// plaintext's length, never the plaintext.
#[non_exhaustive]
pub struct Accepted {
    /// The new responder session.
    pub session: Session,
    /// The decrypted first message.
    pub plaintext: Vec<u8>,
}

impl Account {
    /// The largest replay memory, and the default: how many sessions
    /// accepted without a one-time key (no one-time prekey, no one-time KEM
    /// prekey) a signed prekey remembers, 8 bytes each, to refuse a replay
    /// of their first message ([`Error::Duplicate`]) for as long as the
    /// signed prekey is held. At most 512 KiB per signed prekey (in memory
    /// and stored), 1 MiB during a rotation's grace period.
    ///
    /// The memory never forgets, so it cannot be flushed: once a signed
    /// prekey remembers this many sessions (or the account's lower
    /// [`replay_memory_limit`](Self::replay_memory_limit)), a new session
    /// without a one-time key is refused with [`Error::ReplayMemoryFull`]
    /// until the signed prekey rotates. Anyone can make such sessions (a
    /// last-resort bundle is public), so an attacker can fill the memory
    /// (65,536 first messages, well under a minute of CPU) and hold such sessions off
    /// until the next rotation; sessions on one-time keys are not affected.
    /// Keep one-time keys published, and rotate the signed prekey when
    /// [`replay_memory_len`](Self::replay_memory_len) nears the limit.
    pub const MAX_REPLAY_MEMORY: u32 = 65_536;

    /// A new account: an identity key, signed prekey 1, and last-resort
    /// KEM prekey 1 (four 32-byte draws: the identity seed, the signed
    /// prekey, then the KEM prekey's `d` and `z`).
    pub fn new(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let identity = IdentityKeyPair::generate(rng);
        let signed_prekey = SignedPreKey::generate(1, rng);
        let mut account = Self::from_keys(identity, signed_prekey);
        account.rotate_kem_prekey(rng);
        account
    }

    /// An account with these keys, no one-time prekeys and no KEM prekey
    /// (add them with [`add_kem_prekey`](Self::add_kem_prekey) or
    /// [`rotate_kem_prekey`](Self::rotate_kem_prekey); until then its
    /// bundle is a classic one).
    pub fn from_keys(identity: IdentityKeyPair, signed_prekey: SignedPreKey) -> Self {
        let signed_prekey = SignedEntry::new(&identity, signed_prekey);
        Self {
            identity,
            signed_prekey,
            previous_signed_prekey: None,
            one_time_prekeys: BTreeMap::new(),
            next_one_time_prekey_id: 1,
            kem_prekey: None,
            previous_kem_prekey: None,
            one_time_kem_prekeys: BTreeMap::new(),
            next_kem_prekey_id: 1,
            replay_memory_limit: Self::MAX_REPLAY_MEMORY,
        }
    }

    /// Lowers (or raises again, up to [`MAX_REPLAY_MEMORY`](Self::MAX_REPLAY_MEMORY))
    /// how many sessions without a one-time key each signed prekey
    /// remembers before it refuses more ([`Error::ReplayMemoryFull`]). The
    /// limit is stored with the account. A memory already above a lowered
    /// limit keeps what it holds (it never forgets) and is full.
    ///
    /// ```
    /// use cliquet::{Account, ConfigError, Error};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([2; 32]);
    /// let mut account = Account::new(&mut rng);
    /// assert_eq!(account.replay_memory_limit(), 65_536); // 512 KiB
    /// account.set_replay_memory_limit(4096)?; // 32 KiB per signed prekey
    /// assert_eq!(
    ///     account.set_replay_memory_limit(0),
    ///     Err(Error::InvalidConfig(ConfigError::ReplayMemoryOutOfRange))
    /// );
    /// assert_eq!(account.replay_memory_len(), 0);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for 0 or a limit above
    /// [`MAX_REPLAY_MEMORY`](Self::MAX_REPLAY_MEMORY).
    pub fn set_replay_memory_limit(&mut self, sessions: u32) -> Result<(), Error> {
        if !(1..=Self::MAX_REPLAY_MEMORY).contains(&sessions) {
            return Err(ConfigError::ReplayMemoryOutOfRange.into());
        }
        self.replay_memory_limit = sessions;
        Ok(())
    }

    /// How many sessions without a one-time key each signed prekey
    /// remembers at most (see [`MAX_REPLAY_MEMORY`](Self::MAX_REPLAY_MEMORY)).
    pub const fn replay_memory_limit(&self) -> u32 {
        self.replay_memory_limit
    }

    /// How many sessions without a one-time key the current signed prekey
    /// remembers: rotate it before this reaches
    /// [`replay_memory_limit`](Self::replay_memory_limit).
    pub fn replay_memory_len(&self) -> usize {
        self.signed_prekey.accepted.len()
    }

    /// The identity key pair (to [`Session::initiate`]).
    pub const fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// The public identity key.
    pub const fn identity_key(&self) -> &IdentityKey {
        self.identity.public_key()
    }

    /// A bundle of this account, for a peer that gets it directly (a QR
    /// code, a link): a post-quantum one (0x16, [SPEC §2b](crate::spec)) with the identity
    /// key, the current signed prekey and its signature, the current
    /// last-resort KEM prekey, and the one-time prekey `one_time_prekey`
    /// if given. An account without any KEM prekey (built by
    /// [`from_keys`](Self::from_keys), or loaded from a format before
    /// version 3) gives its classic bundle: call
    /// [`rotate_kem_prekey`](Self::rotate_kem_prekey) once.
    ///
    /// It never carries a one-time KEM prekey: the account cannot know how
    /// many times a bundle is handed out, and a one-time key must reach
    /// one initiator only. For a directory server, upload
    /// [`publication`](Self::publication) to a [`Directory`](crate::Directory)
    /// instead: it hands out each one-time prekey and one-time KEM prekey
    /// once.
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
    /// let mut bob = Account::new(&mut rng);
    /// assert_eq!(bob.bundle(None)?.kem_prekey().map(|k| k.id()), Some(1));
    /// bob.generate_one_time_kem_prekeys(2, &mut rng);
    /// // Still the last-resort KEM prekey: one-time ones go to a directory.
    /// assert_eq!(bob.bundle(None)?.kem_prekey().map(|k| k.id()), Some(1));
    /// let (id, key) = bob.generate_one_time_prekeys(1, &mut rng)[0];
    /// let bundle = bob.bundle(Some(id))?;
    /// assert_eq!(bundle.one_time_prekey(), Some((id, key)));
    /// // The same as attaching it to the signed part:
    /// assert_eq!(bob.bundle(None)?.with_one_time_prekey(id, key), bundle);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownPreKey`] if the account holds no one-time prekey with
    /// that id.
    pub fn bundle(&self, one_time_prekey: Option<u32>) -> Result<PreKeyBundle, Error> {
        let bundle = self.classic_bundle(one_time_prekey)?;
        Ok(match &self.kem_prekey {
            Some(entry) => bundle.with_kem_prekey(entry.signed.clone()),
            None => bundle,
        })
    }

    /// The classic bundle (0x14, [SPEC §2](crate::spec)), without a KEM prekey: for peers
    /// that cannot run PQXDH, which must allow classic X3DH
    /// ([`SessionConfig::with_classic_x3dh`]) to use it. A directory server
    /// can also start from it and add a KEM prekey of its own choosing
    /// ([`PreKeyBundle::with_kem_prekey`]).
    ///
    /// # Errors
    /// As [`bundle`](Self::bundle).
    pub fn classic_bundle(&self, one_time_prekey: Option<u32>) -> Result<PreKeyBundle, Error> {
        let bundle = self.signed_prekey.bundle.clone();
        match one_time_prekey {
            None => Ok(bundle),
            Some(id) => {
                let entry = self.one_time_prekeys.get(&id).ok_or(Error::UnknownPreKey)?;
                Ok(bundle.with_one_time_prekey(id, *entry.key.public_key()))
            }
        }
    }

    /// Accepts a prekey message that belongs to no existing session: runs
    /// PQXDH (a 0x17 message) or, if `config` allows classic X3DH
    /// ([`SessionConfig::with_classic_x3dh`]), X3DH (0x12) as responder, creates the
    /// session (header encryption as the inner message says) and decrypts
    /// the message. The one-time prekey and a one-time KEM prekey are
    /// consumed only if the message decrypts (a wrong `CT` decapsulates to
    /// a wrong secret, and the message then fails to authenticate); on any
    /// error the account is unchanged. A session that consumes neither is
    /// remembered by its signed prekey, and its first message is refused
    /// as a replay for as long as that signed prekey is held
    /// ([`MAX_REPLAY_MEMORY`](Self::MAX_REPLAY_MEMORY)).
    ///
    /// A prekey message of a session you already have (same
    /// [`session_id`](PreKeyMessage::session_id)) goes to
    /// [`Session::decrypt`] instead.
    ///
    /// # Errors
    /// [`Error::PostQuantumRequired`] (a 0x12 message while `config`
    /// refuses classic X3DH), [`Error::UnknownPreKey`], [`Error::InvalidKey`] (bad identity key or
    /// all-zero DH output), [`Error::Duplicate`] (a replay of a first
    /// message), [`Error::ReplayMemoryFull`] (rotate the signed prekey),
    /// and the errors of [`Session::decrypt`].
    pub fn accept(
        &mut self,
        message: &PreKeyMessage,
        config: SessionConfig,
    ) -> Result<Accepted, Error> {
        // SPEC §3b: classic X3DH only where the configuration allows it.
        if message.kem_prekey_id().is_none() && !config.allows_classic_x3dh() {
            return Err(Error::PostQuantumRequired);
        }
        let signed = [
            Some(&self.signed_prekey),
            self.previous_signed_prekey.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|e| e.key.id() == message.signed_prekey_id())
        .ok_or(Error::UnknownPreKey)?;
        let one_time = match message.one_time_prekey_id() {
            None => None,
            Some(id) => Some(self.one_time_prekeys.get(&id).ok_or(Error::UnknownPreKey)?),
        };
        let kem = match (message.kem_prekey_id(), message.kem_ciphertext()) {
            (Some(id), Some(ct)) => {
                Some((&*self.kem_entry(id).ok_or(Error::UnknownPreKey)?.key, ct))
            }
            _ => None,
        };
        let one_time_kem = kem.is_some_and(|(k, _)| k.kind() == KemPreKeyKind::OneTime);
        // X25519 ignores the top bit of a public key: a base key with it set
        // is another encoding of a key an honest initiator never writes, and
        // would name another session for the same secrets.
        if message.base_key().as_bytes()[31] & 0x80 != 0 {
            return Err(Error::InvalidKey);
        }
        // A replay of a first message that consumed no one-time key, or a
        // new one with no room left to remember it.
        let remember =
            (one_time.is_none() && !one_time_kem).then(|| replay::tag(message.base_key()));
        if let Some(tag) = &remember {
            if signed.accepted.contains(tag) {
                return Err(Error::Duplicate);
            }
            if signed.accepted.len() >= self.replay_memory_limit as usize {
                return Err(Error::ReplayMemoryFull);
            }
        }
        // SPEC §4: the gap limit is checked before any cryptographic work
        // (with an encrypted header, N is known only after X3DH).
        if let RatchetMessage::Plain(inner) = message.message()
            && inner.index() > config.max_skip()
        {
            return Err(Error::TooManySkipped);
        }
        if config.requires_mode()
            && message.message().has_encrypted_header() != config.header_encryption()
        {
            return Err(Error::ModeRefused);
        }
        let their_identity = IdentityKey::from_bytes(message.identity_key_bytes())?;
        let shared = handshake::responder(
            &self.identity,
            signed.key.pair(),
            one_time.map(|e| e.key.pair()),
            kem,
            &their_identity,
            message.base_key(),
        )?;
        let responded =
            Session::respond(&shared, signed.key.pair(), their_identity, message, config)?;
        if let Some(id) = message.kem_prekey_id() {
            self.one_time_kem_prekeys.remove(&id);
        }
        if let Some(id) = message.one_time_prekey_id() {
            self.one_time_prekeys.remove(&id);
        }
        if let Some(tag) = remember {
            let id = message.signed_prekey_id();
            let entry = [
                Some(&mut self.signed_prekey),
                self.previous_signed_prekey.as_mut(),
            ]
            .into_iter()
            .flatten()
            .find(|e| e.key.id() == id);
            if let Some(entry) = entry {
                entry.accepted.insert(tag);
            }
        }
        Ok(Accepted {
            session: responded.session,
            plaintext: responded.plaintext,
        })
    }
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("session", &self.session)
            .field("plaintext_len", &self.plaintext.len())
            .finish()
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("identity_key", self.identity_key())
            .field("signed_prekey_id", &self.signed_prekey.key.id())
            .field(
                "previous_signed_prekey_id",
                &self.previous_signed_prekey.as_ref().map(|e| e.key.id()),
            )
            .field("one_time_prekeys", &self.one_time_prekeys.len())
            .field("kem_prekey_id", &self.kem_prekey_id())
            .field(
                "previous_kem_prekey_id",
                &self.previous_kem_prekey.as_ref().map(|e| e.key.id()),
            )
            .field("one_time_kem_prekeys", &self.one_time_kem_prekeys.len())
            .finish_non_exhaustive()
    }
}
