//! The secrets of a sender chain ([SPEC §10](crate::spec)), one type per role: the chain
//! key, the message key, and the chain's signing key pair.

use alloc::vec::Vec;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;
use crate::crypto::kdf;
use crate::crypto::{self, NONCE_LEN};
use crate::keys::{IdentityKeyPair, Verifier};

/// Length of a group message's signature.
pub(crate) const SIGNATURE_LEN: usize = 64;

/// `info` of the group message key and nonce derivation (§10).
const LABEL_GROUP_MESSAGE: &[u8] = b"cliquet/v1/group-message";
/// The salt drawn by each encrypt.
pub(crate) const SALT_LEN: usize = 16;

kdf::secret_key!(
    /// A sender chain's `CK_i`.
    ChainKey
);
kdf::secret_key!(
    /// `MK_i = HMAC(CK_i, 0x01)`: encrypts exactly one group message.
    MessageKey
);

impl ChainKey {
    /// The chain step of §4: `(HMAC(ck, 0x01), HMAC(ck, 0x02))`.
    pub(crate) fn step(&self) -> (MessageKey, Self) {
        let (mk, ck) = crypto::hmac_pair(&self.0);
        (MessageKey(*mk), Self(*ck))
    }

    /// A copy, for a distribution (it carries `CK_i`).
    pub(crate) fn duplicate(&self) -> Self {
        Self(self.0)
    }
}

impl MessageKey {
    /// `HKDF(salt, MK, "cliquet/v1/group-message", 44)` → AES key || nonce.
    pub(crate) fn key_and_nonce(&self, salt: &[u8]) -> (Zeroizing<[u8; 32]>, [u8; NONCE_LEN]) {
        let okm = crypto::hkdf::<44>(salt, &self.0, LABEL_GROUP_MESSAGE);
        let mut key = Zeroizing::new([0u8; 32]);
        let mut nonce = [0u8; NONCE_LEN];
        let (k, n) = okm.split_at(32);
        key.copy_from_slice(k);
        nonce.copy_from_slice(n);
        (key, nonce)
    }

    /// Opens `salt || AEAD output` with the header as associated data.
    pub(crate) fn open(&self, header: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
        let (salt, sealed) = ciphertext
            .split_at_checked(SALT_LEN)
            .ok_or(Error::Authentication)?;
        let (key, nonce) = self.key_and_nonce(salt);
        crypto::open_to_vec(&key, &nonce, header, sealed)
    }
}

/// `GSK_pub`: a validated Ed25519 public key (the identity-key rules of §1),
/// which verifies a chain's messages strictly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SigningPublicKey(Verifier);

impl SigningPublicKey {
    /// # Errors
    /// [`Error::InvalidKey`] as [`IdentityKey::from_bytes`](crate::IdentityKey::from_bytes).
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        Verifier::from_bytes(bytes).map(Self)
    }

    pub(crate) const fn as_bytes(&self) -> &[u8; 32] {
        self.0.key().as_bytes()
    }

    /// Strict Ed25519 verification (`verify_strict`).
    pub(crate) fn verify(
        &self,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), Error> {
        self.0.verify(message, signature)
    }
}

/// `GSK`: the chain owner's Ed25519 key pair, from its 32-byte seed. (An
/// identity key pair's signing half, which is exactly an RFC 8032 key; its
/// Diffie-Hellman half is never used.)
pub(crate) struct SigningKeyPair(IdentityKeyPair);

impl SigningKeyPair {
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        Self(IdentityKeyPair::from_secret_bytes(seed))
    }

    pub(crate) fn seed(&self) -> &[u8; 32] {
        self.0.seed()
    }

    pub(crate) fn public(&self) -> SigningPublicKey {
        SigningPublicKey(*self.0.verifier())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message)
    }
}
