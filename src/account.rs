//! `Account`: a device's identity, prekey stores, bundle and the responder
//! side of X3DH (SPEC §1–§3, §5).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::bundle::PreKeyBundle;
use crate::codec::{Reader, Writer};
use crate::config::SessionConfig;
use crate::error::{Error, StateError};
use crate::keys::{IdentityKey, IdentityKeyPair, OneTimePreKey, PublicKey, SignedPreKey};
use crate::message::{PreKeyMessage, RatchetMessage};
use crate::session::Session;
use crate::storage::{self, Secret};
use crate::x3dh;

/// A one-time prekey and whether it was handed to the application to publish.
#[derive(Clone, Debug)]
struct OneTimeEntry {
    key: OneTimePreKey,
    published: bool,
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
/// previous one during a rotation's grace period), and its unused one-time
/// prekeys, numbered sequentially from 1.
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

    /// A new account: an identity key, then signed prekey 1 (two 32-byte draws).
    pub fn new(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let identity = IdentityKeyPair::generate(rng);
        let signed_prekey = SignedPreKey::generate(1, rng);
        Self::from_keys(identity, signed_prekey)
    }

    /// An account with these keys and no one-time prekeys.
    pub fn from_keys(identity: IdentityKeyPair, signed_prekey: SignedPreKey) -> Self {
        let signed_prekey = SignedEntry::new(&identity, signed_prekey);
        Self {
            identity,
            signed_prekey,
            previous_signed_prekey: None,
            one_time_prekeys: BTreeMap::new(),
            next_one_time_prekey_id: 1,
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

    /// The bundle to publish: identity key, current signed prekey and its
    /// signature, and the one-time prekey `one_time_prekey` if given (a
    /// directory usually stores the signed part once and attaches a
    /// different one-time prekey to each bundle it hands out).
    ///
    /// ```
    /// use cliquet::Account;
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    /// let mut bob = Account::new(&mut rng);
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

    /// Accepts a prekey message that belongs to no existing session: runs
    /// X3DH as responder, creates the session (header encryption as the
    /// inner message says) and decrypts the message. The one-time prekey is
    /// consumed only if the message decrypts; on any error the account is
    /// unchanged.
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
        let shared = x3dh::responder(
            &self.identity,
            signed.key.pair(),
            one_time.map(|e| e.key.pair()),
            &their_identity,
            message.base_key(),
        )?;
        let responded =
            Session::respond(&shared, signed.key.pair(), their_identity, message, config)?;
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
    /// signed prekey = u32be(spk_id) || SPK (32) || u32be(n) || n × EK_A (32)
    /// ```
    ///
    /// `EK_A` are the base keys of the sessions it accepted without a
    /// one-time prekey (format version 2; version 1 had none).
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
            + 37 * self.one_time_prekeys.len();
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
        r.finish()?;
        Ok(account)
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
            .finish_non_exhaustive()
    }
}
