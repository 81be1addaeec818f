//! `Account`: a device's identity, prekey stores, bundle and the responder
//! side of X3DH (SPEC §1–§3, §5).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::bundle::PreKeyBundle;
use crate::keys::{IdentityKey, IdentityKeyPair, OneTimePreKey, PublicKey, SignedPreKey};
use crate::message::PreKeyMessage;
use crate::ratchet::Incoming;
use crate::session::{Handshake, Session};
use crate::{Error, SessionConfig, x3dh};

/// A one-time prekey and whether it was handed to the application to publish.
#[derive(Clone, Debug)]
pub(crate) struct OneTimeEntry {
    pub(crate) key: OneTimePreKey,
    pub(crate) published: bool,
}

/// A signed prekey and its bundle (the signature is computed once).
#[derive(Clone, Debug)]
pub(crate) struct SignedEntry {
    pub(crate) key: SignedPreKey,
    pub(crate) bundle: PreKeyBundle,
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
    pub(crate) identity: IdentityKeyPair,
    pub(crate) signed_prekey: SignedEntry,
    pub(crate) previous_signed_prekey: Option<SignedEntry>,
    pub(crate) one_time_prekeys: BTreeMap<u32, OneTimeEntry>,
    pub(crate) next_one_time_prekey_id: u32,
}

/// A session created by [`Account::accept`] and the plaintext of the prekey
/// message that created it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Accepted {
    /// The new responder session.
    pub session: Session,
    /// The decrypted first message.
    pub plaintext: Vec<u8>,
}

impl Account {
    /// A new account: an identity key, then signed prekey 1 (two 32-byte draws).
    pub fn new(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let identity = IdentityKeyPair::generate(rng);
        let signed_prekey = SignedPreKey::generate(1, rng);
        Self::from_keys(identity, signed_prekey)
    }

    /// An account with these keys and no one-time prekeys.
    pub fn from_keys(identity: IdentityKeyPair, signed_prekey: SignedPreKey) -> Self {
        let signed_prekey = sign(&identity, signed_prekey);
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
    /// signature, and the one-time prekey `one_time_prekey` if given.
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

    /// How many unused one-time prekeys the account holds.
    pub fn one_time_prekey_count(&self) -> usize {
        self.one_time_prekeys.len()
    }

    /// Replaces the signed prekey by a new one with the next id (one 32-byte
    /// draw). The old one stays usable for prekey messages until the next
    /// rotation or [`forget_previous_signed_prekey`](Self::forget_previous_signed_prekey).
    /// Returns the new id.
    pub fn rotate_signed_prekey(&mut self, rng: &mut (impl CryptoRng + ?Sized)) -> u32 {
        let id = self.signed_prekey.key.id().wrapping_add(1).max(1);
        let new = sign(&self.identity, SignedPreKey::generate(id, rng));
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
        let their_identity = IdentityKey::from_bytes(message.identity_key_bytes())?;
        let shared = x3dh::responder(
            &self.identity,
            signed.key.pair(),
            one_time.map(|e| e.key.pair()),
            &their_identity,
            message.base_key(),
        )?;
        let handshake = Handshake {
            base_key: *message.base_key(),
            signed_prekey_id: message.signed_prekey_id(),
            one_time_prekey_id: message.one_time_prekey_id(),
        };
        let config = config.with_header_encryption(message.message().has_encrypted_header());
        let mut session =
            Session::respond(shared, signed.key.pair(), their_identity, handshake, config);
        let mut plaintext = Vec::new();
        let ad = session.associated_data;
        session
            .ratchet
            .decrypt(&ad, Incoming::from(message.message()), &mut plaintext)?;
        if let Some(id) = message.one_time_prekey_id() {
            self.one_time_prekeys.remove(&id);
        }
        Ok(Accepted { session, plaintext })
    }
}

pub(crate) fn sign(identity: &IdentityKeyPair, key: SignedPreKey) -> SignedEntry {
    let bundle = PreKeyBundle::sign(identity, &key);
    SignedEntry { key, bundle }
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
