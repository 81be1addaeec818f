//! The user key ([SPEC §14](crate::spec)): the Ed25519 key pair whose only use is to sign
//! the list of a person's devices, and its stored form.

use core::fmt;

use rand_core::CryptoRng;

use crate::codec::{Reader, Writer};
use crate::error::{Error, StateError};
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::storage::{self, Format, Kind, Secret, USER_KEY};

/// Reads `kind || version` of a kind that exists from format version 3 on.
pub(crate) fn header(r: &mut Reader<'_>, kind: Kind) -> Result<Format, StateError> {
    let format = storage::header(r, kind)?;
    if !format.has_user_kinds() {
        return Err(StateError::Inconsistent);
    }
    Ok(format)
}

/// A person's user key ([SPEC §14](crate::spec)): an Ed25519 key pair (32-byte seed,
/// validated public key) that signs the person's device lists
/// ([`DeviceListBuilder::sign`](crate::DeviceListBuilder::sign)) and
/// nothing else. Its public half, `UK_pub`, is what others pin and what
/// safety numbers are computed from
/// ([`SafetyNumber::for_user_keys`](crate::SafetyNumber::for_user_keys)).
///
/// Keep it where the person can reach it to add a device (the first
/// device, or a backup): losing it means a new user key, which every peer
/// sees as an identity change. Its secret is zeroized when dropped; `Debug`
/// shows the public key only.
///
/// ```
/// use cliquet::UserKeyPair;
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
/// let user = UserKeyPair::generate(&mut rng);
/// let restored = UserKeyPair::from_stored(&user.to_stored())?;
/// assert_eq!(restored.public_key(), user.public_key());
/// assert!(format!("{user:?}").starts_with("UserKeyPair { public: IdentityKey("));
/// # Ok::<(), cliquet::Error>(())
/// ```
pub struct UserKeyPair(IdentityKeyPair);

impl UserKeyPair {
    /// A new user key from one 32-byte draw of `rng`.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self(IdentityKeyPair::generate(rng))
    }

    /// The user key with this 32-byte Ed25519 seed (RFC 8032).
    ///
    /// # Security
    /// The seed is the whole user key: whoever holds it can list any
    /// device as the person's. Use it only to restore a key that was
    /// generated securely and kept secret.
    pub fn from_secret_bytes(seed: &[u8; 32]) -> Self {
        Self(IdentityKeyPair::from_secret_bytes(seed))
    }

    /// The public half, `UK_pub`.
    pub const fn public_key(&self) -> &IdentityKey {
        self.0.public_key()
    }

    /// Deterministic Ed25519 signature.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message)
    }

    /// The stored form ([SPEC §11](crate::spec)): `0x24 || version || seed (32)`.
    /// Keep it secret; prefer [`seal`](Self::seal).
    pub fn to_stored(&self) -> Secret {
        let mut out = storage::start(USER_KEY, 2 + 32);
        out.put(self.0.seed());
        out
    }

    /// Loads a user key stored by [`to_stored`](Self::to_stored).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, unknown version, truncated or trailing
    /// input.
    pub fn from_stored(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        header(&mut r, USER_KEY)?;
        let seed = storage::secret(&mut r)?;
        r.finish().map_err(StateError::from)?;
        Ok(Self::from_secret_bytes(&seed))
    }
}

impl fmt::Debug for UserKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserKeyPair")
            .field("public", self.public_key())
            .finish_non_exhaustive()
    }
}

storage::sealed_storage!(UserKeyPair, USER_KEY, "user key");
