//! `Account`: a device's identity, prekey stores (KEM prekeys included),
//! bundle and the responder side of X3DH and PQXDH (SPEC §1–§3b, §5).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::codec::{Reader, Writer};
use crate::config::SessionConfig;
use crate::crypto::kem::SEED_LEN;
use crate::error::{Error, StateError};
use crate::keys::{
    IdentityKey, IdentityKeyPair, KemPreKey, KemPreKeyKind, OneTimePreKey, PublicKey, SignedPreKey,
};
use crate::pairwise::bundle::{PreKeyBundle, SignedKemPreKey};
use crate::pairwise::handshake;
use crate::pairwise::session::Session;
use crate::pairwise::wire::{PreKeyMessage, RatchetMessage};
use crate::storage::{self, Secret};

/// A one-time prekey and whether it was handed to the application to publish.
#[derive(Clone, Debug)]
struct OneTimeEntry {
    key: OneTimePreKey,
    published: bool,
}

/// A KEM prekey, its signed public part (the signature is computed once),
/// and (one-time keys) whether it was handed out to publish.
#[derive(Clone, Debug)]
struct KemEntry {
    key: KemPreKey,
    signed: SignedKemPreKey,
    published: bool,
}

impl KemEntry {
    fn new(identity: &IdentityKeyPair, key: KemPreKey) -> Self {
        let signed = SignedKemPreKey::sign(identity, &key);
        Self {
            key,
            signed,
            published: false,
        }
    }
}

/// A signed prekey, its bundle (the signature is computed once), and the
/// base keys of the sessions it accepted without a one-time prekey.
#[derive(Clone, Debug)]
struct SignedEntry {
    key: SignedPreKey,
    bundle: PreKeyBundle,
    /// Oldest first, at most [`Account::MAX_REMEMBERED_BASE_KEYS`].
    accepted: VecDeque<PublicKey>,
}

impl SignedEntry {
    fn new(identity: &IdentityKeyPair, key: SignedPreKey) -> Self {
        let bundle = PreKeyBundle::sign(identity, &key);
        Self {
            key,
            bundle,
            accepted: VecDeque::new(),
        }
    }

    /// Remembers the base key of a session accepted without a one-time
    /// prekey, forgetting the oldest beyond the bound.
    fn remember(&mut self, base_key: PublicKey) {
        if self.accepted.len() >= Account::MAX_REMEMBERED_BASE_KEYS {
            self.accepted.pop_front();
        }
        self.accepted.push_back(base_key);
    }
}

/// One device's keys: its identity, the current signed prekey (and the
/// previous one during a rotation's grace period), its unused one-time
/// prekeys, numbered sequentially from 1, and its KEM prekeys for PQXDH
/// (SPEC §3b): a last-resort one (current and previous, rotated like the
/// signed prekey) and unused one-time ones, numbered from 1 in one sequence
/// shared by both kinds.
///
/// ```
/// use cliquet::Account;
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
/// let mut account = Account::new(&mut rng);
/// account.generate_one_time_prekeys(3, &mut rng);
/// let to_publish = account.unpublished_one_time_prekeys();
/// assert_eq!(to_publish.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [1, 2, 3]);
/// // ... upload them with account.bundle(None), then:
/// account.mark_one_time_prekeys_published();
/// assert!(account.unpublished_one_time_prekeys().is_empty());
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
    /// How many base keys of sessions accepted without a one-time prekey
    /// the account remembers per signed prekey, to refuse a replay of their
    /// first message ([`Error::Duplicate`]). Beyond it the oldest is
    /// forgotten: rotate the signed prekey more often than that many such
    /// sessions arrive (at most 64 KiB of stored state per signed prekey).
    pub const MAX_REMEMBERED_BASE_KEYS: usize = 2048;

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
        }
    }

    /// The identity key pair (to [`Session::initiate`]).
    pub const fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// The public identity key.
    pub const fn identity_key(&self) -> &IdentityKey {
        self.identity.public_key()
    }

    /// The bundle to publish: a post-quantum one (0x16, SPEC §2b) with the
    /// identity key, the current signed prekey and its signature, a signed
    /// KEM prekey, and the one-time prekey `one_time_prekey` if given.
    ///
    /// The KEM prekey is the oldest one-time KEM prekey left (lowest id),
    /// else the current last-resort one. An account without any KEM prekey
    /// (built by [`from_keys`](Self::from_keys), or loaded from a format
    /// before version 3) gives its classic bundle: call
    /// [`rotate_kem_prekey`](Self::rotate_kem_prekey) once.
    ///
    /// With a one-time prekey: a directory usually stores the signed part
    /// once and attaches a different one-time prekey to each bundle it
    /// hands out.
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
    /// let mut bob = Account::new(&mut rng);
    /// assert_eq!(bob.bundle(None)?.kem_prekey().map(|k| k.id()), Some(1));
    /// bob.generate_one_time_kem_prekeys(2, &mut rng);
    /// assert_eq!(bob.bundle(None)?.kem_prekey().map(|k| k.id()), Some(2));
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
        let kem_prekey = self
            .one_time_kem_prekeys
            .values()
            .next()
            .or(self.kem_prekey.as_ref());
        Ok(match kem_prekey {
            Some(entry) => bundle.with_kem_prekey(entry.signed.clone()),
            None => bundle,
        })
    }

    /// The classic bundle (0x14, SPEC §2), without a KEM prekey: for peers
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
                self.one_time_prekeys.insert(
                    id,
                    OneTimeEntry {
                        key,
                        published: false,
                    },
                );
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
        self.one_time_prekeys.insert(
            id,
            OneTimeEntry {
                key,
                published: false,
            },
        );
        if id >= self.next_one_time_prekey_id {
            self.next_one_time_prekey_id = id.wrapping_add(1);
        }
        Ok(())
    }

    fn fresh_one_time_prekey_id(&mut self) -> u32 {
        let mut id = self.next_one_time_prekey_id;
        while id == 0 || self.one_time_prekeys.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_one_time_prekey_id = id.wrapping_add(1);
        id
    }

    /// The one-time prekeys not yet marked published, by id.
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
    fn kem_entry(&self, id: u32) -> Option<&KemEntry> {
        [self.kem_prekey.as_ref(), self.previous_kem_prekey.as_ref()]
            .into_iter()
            .flatten()
            .find(|e| e.key.id() == id)
            .or_else(|| self.one_time_kem_prekeys.get(&id))
    }

    fn fresh_kem_prekey_id(&mut self) -> u32 {
        let mut id = self.next_kem_prekey_id;
        while id == 0 || self.kem_entry(id).is_some() {
            id = id.wrapping_add(1);
        }
        self.next_kem_prekey_id = id.wrapping_add(1);
        id
    }

    /// Accepts a prekey message that belongs to no existing session: runs
    /// PQXDH (a 0x17 message) or X3DH (0x12) as responder, creates the
    /// session (header encryption as the inner message says) and decrypts
    /// the message. The one-time prekey and a one-time KEM prekey are
    /// consumed only if the message decrypts (a wrong `CT` decapsulates to
    /// a wrong secret, and the message then fails to authenticate); on any
    /// error the account is unchanged. Both kinds are accepted whatever
    /// `config` says about classic X3DH: that is the initiator's choice.
    ///
    /// A prekey message of a session you already have (same
    /// [`session_id`](PreKeyMessage::session_id)) goes to
    /// [`Session::decrypt`] instead.
    ///
    /// # Errors
    /// [`Error::UnknownPreKey`], [`Error::InvalidKey`] (bad identity key or
    /// all-zero DH output), and the errors of [`Session::decrypt`].
    pub fn accept(
        &mut self,
        message: &PreKeyMessage,
        config: SessionConfig,
    ) -> Result<Accepted, Error> {
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
                Some((&self.kem_entry(id).ok_or(Error::UnknownPreKey)?.key, ct))
            }
            _ => None,
        };
        // X25519 ignores the top bit of a public key: a base key with it set
        // is another encoding of a key an honest initiator never writes, and
        // would name another session for the same secrets.
        if message.base_key().as_bytes()[31] & 0x80 != 0 {
            return Err(Error::InvalidKey);
        }
        // A replay of a first message that used no one-time prekey.
        if one_time.is_none() && signed.accepted.contains(message.base_key()) {
            return Err(Error::Duplicate);
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
        match message.one_time_prekey_id() {
            Some(id) => {
                self.one_time_prekeys.remove(&id);
            }
            None => {
                let id = message.signed_prekey_id();
                let entry = [
                    Some(&mut self.signed_prekey),
                    self.previous_signed_prekey.as_mut(),
                ]
                .into_iter()
                .flatten()
                .find(|e| e.key.id() == id);
                if let Some(entry) = entry {
                    entry.remember(*message.base_key());
                }
            }
        }
        Ok(Accepted {
            session: responded.session,
            plaintext: responded.plaintext,
        })
    }
}

impl Account {
    /// The account's whole state (every secret) in the storage format of
    /// SPEC §7. Keep it secret; prefer [`seal`](Self::seal).
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
    /// let restored = Account::from_bytes(&account.to_bytes())?;
    /// assert_eq!(restored.to_bytes(), account.to_bytes());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Secret {
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

    /// Loads an account stored by [`to_bytes`](Self::to_bytes) (any format
    /// version up to this library's).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::read(bytes).map_err(Error::State)
    }

    fn read(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes);
        let version = storage::header(&mut r, storage::ACCOUNT)?;
        let identity = IdentityKeyPair::from_secret_bytes(&*storage::secret(&mut r)?);
        let current = read_signed_prekey(&mut r, version, &identity)?;
        let previous = if r.flag()? {
            Some(read_signed_prekey(&mut r, version, &identity)?)
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
        if version >= 3 {
            account.read_kem_prekeys(&mut r)?;
        }
        r.finish()?;
        Ok(account)
    }

    /// The KEM prekeys of format version 3. Ids must be unique across both
    /// kinds, and the one-time ones ascending.
    fn read_kem_prekeys(&mut self, r: &mut Reader<'_>) -> Result<(), StateError> {
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
    version: u8,
    identity: &IdentityKeyPair,
) -> Result<SignedEntry, StateError> {
    let id = r.u32_be()?;
    let key = SignedPreKey::from_secret_bytes(id, &*storage::secret(r)?);
    let mut entry = SignedEntry::new(identity, key);
    if version > 1 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A KEM prekey's 64-byte seed round-trips through storage with both
    /// halves: `d` shows in the encapsulation key, `z` only in implicit
    /// rejection (a wrong ciphertext's secret), which no vector observes.
    #[test]
    fn s7_kem_prekey_seed_round_trips_with_both_halves() {
        let mut seed = [0u8; 64];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::try_from(i).unwrap_or(0).wrapping_mul(7);
        }
        let identity = IdentityKeyPair::from_secret_bytes(&[1; 32]);
        let mut account =
            Account::from_keys(identity, SignedPreKey::from_secret_bytes(1, &[2; 32]));
        for (id, kind) in [(1, KemPreKeyKind::LastResort), (2, KemPreKeyKind::OneTime)] {
            let key = KemPreKey::from_secret_bytes(id, kind, &seed);
            assert_eq!(account.add_kem_prekey(key), Ok(()));
        }
        let loaded = Account::from_bytes(&account.to_bytes()).unwrap();
        assert_eq!(loaded.to_bytes(), account.to_bytes());
        let wrong_ct = [0x33; crate::crypto::kem::CIPHERTEXT_LEN];
        let mut other_z = seed;
        other_z[63] ^= 1;
        let other_z = KemPreKey::from_secret_bytes(9, KemPreKeyKind::OneTime, &other_z);
        for id in [1, 2] {
            let (before, after) = (
                account.kem_entry(id).unwrap(),
                loaded.kem_entry(id).unwrap(),
            );
            assert_eq!(after.key.seed(), &seed);
            assert_eq!(after.key.kind(), before.key.kind());
            assert_eq!(after.signed, before.signed);
            assert_eq!(
                *after.key.decapsulate(&wrong_ct),
                *before.key.decapsulate(&wrong_ct)
            );
            // The same d with another z: the same public key, another
            // implicit-rejection secret.
            assert_eq!(other_z.public_key(), after.key.public_key());
            assert_ne!(
                *other_z.decapsulate(&wrong_ct),
                *after.key.decapsulate(&wrong_ct)
            );
        }
    }
}
