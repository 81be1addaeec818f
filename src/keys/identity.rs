//! The identity key ([SPEC §1](crate::spec)): Ed25519, validated strictly, with its
//! X25519 view for X3DH; its hex form.

use core::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use super::public::{IdentityKey, PublicKey};
use crate::crypto;
use crate::crypto::draw_secret;
use crate::error::Error;

impl IdentityKey {
    /// Parses and validates an Ed25519 public key.
    ///
    /// ```
    /// use cliquet::{Error, IdentityKey};
    ///
    /// // Small-order points are refused (SPEC §1).
    /// let mut identity_point = [0u8; 32];
    /// identity_point[0] = 1;
    /// assert_eq!(IdentityKey::from_bytes(&identity_point), Err(Error::InvalidKey));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the bytes do not decompress to a curve point,
    /// are not the canonical encoding of that point, or the point has small
    /// order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        Verifier::from_bytes(bytes).map(|v| v.key)
    }

    /// Strict Ed25519 verification (`verify_strict`, §2). Decompresses the
    /// key first: for many verifications, keep a [`Verifier`].
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), Error> {
        Verifier::from_bytes(self.as_bytes())?.verify(message, signature)
    }
}

/// A validated Ed25519 public key with its decompressed point, for
/// verifying signatures (a bundle's, a group sender's) without
/// decompressing it each time.
#[derive(Clone, Copy)]
pub(crate) struct Verifier {
    key: IdentityKey,
    verifying: VerifyingKey,
}

impl Verifier {
    /// Parses and validates an Ed25519 public key as
    /// [`IdentityKey::from_bytes`] does.
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        if !y_is_reduced(bytes) {
            return Err(Error::InvalidKey);
        }
        let verifying = VerifyingKey::from_bytes(bytes).map_err(|_| Error::InvalidKey)?;
        if verifying.is_weak() {
            return Err(Error::InvalidKey);
        }
        Ok(Self::from_verifying(verifying))
    }

    fn from_verifying(verifying: VerifyingKey) -> Self {
        let key =
            IdentityKey::from_validated(verifying.to_bytes(), verifying.to_montgomery().to_bytes());
        Self { key, verifying }
    }

    /// The key.
    pub(crate) const fn key(&self) -> &IdentityKey {
        &self.key
    }

    /// Strict Ed25519 verification (`verify_strict`, §2).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), Error> {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.verifying
            .verify_strict(message, &signature)
            .map_err(|_| Error::BadSignature)
    }
}

impl PartialEq for Verifier {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Verifier {}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Verifier").field(&self.key).finish()
    }
}

/// Whether an Ed25519 encoding's y coordinate is reduced (y < p = 2^255 − 19).
///
/// With the small-order check this is the whole canonicity check: the only
/// other non-canonical encodings, x = 0 with the sign bit set, are those of
/// y = 1 and y = p − 1, points of order 1 and 2. (A byte check, where
/// re-compressing the point would cost a field inversion.)
fn y_is_reduced(bytes: &[u8; 32]) -> bool {
    let [first, middle @ .., last] = bytes;
    !(*first >= 0xed && middle.iter().all(|b| *b == 0xff) && last & 0x7f == 0x7f)
}

/// A device's long-term identity: an Ed25519 key pair (it signs prekeys) that
/// also does X25519 with the first half of SHA-512 of its seed (§1).
///
/// ```
/// use cliquet::IdentityKeyPair;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
/// # use rand_chacha::rand_core::SeedableRng;
/// let identity = IdentityKeyPair::generate(&mut rng);
/// // Debug shows the public key only.
/// let shown = format!("{identity:?}");
/// assert!(shown.contains("IdentityKey("));
/// ```
pub struct IdentityKeyPair {
    signing: SigningKey,
    dh: StaticSecret,
    public: Verifier,
}

impl IdentityKeyPair {
    /// A new identity key from one 32-byte draw of `rng`.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self::from_secret_bytes(&draw_secret(rng))
    }

    /// The identity key with this 32-byte Ed25519 seed (RFC 8032).
    ///
    /// # Security
    /// The seed is the whole identity: whoever holds it is this device. Use it
    /// only to restore a key that was generated securely and kept secret.
    pub fn from_secret_bytes(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let dh = StaticSecret::from(signing.to_scalar_bytes());
        let public = Verifier::from_verifying(signing.verifying_key());
        Self {
            signing,
            dh,
            public,
        }
    }

    /// The public half.
    pub const fn public_key(&self) -> &IdentityKey {
        self.public.key()
    }

    /// The public half, ready to verify this key's signatures.
    pub(crate) const fn verifier(&self) -> &Verifier {
        &self.public
    }

    /// The 32-byte seed, for the state codec.
    pub(crate) fn seed(&self) -> &[u8; 32] {
        self.signing.as_bytes()
    }

    /// Deterministic Ed25519 signature (RFC 8032).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// X25519 with the identity's DH view.
    pub(crate) fn diffie_hellman(&self, public: &PublicKey) -> Result<Zeroizing<[u8; 32]>, Error> {
        crypto::x25519(&self.dh, public.as_bytes())
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// The 32-byte encoding as 64 lowercase hex digits, for logs, configuration
/// files and the like (`Debug` shows the same digits inside `IdentityKey(…)`).
///
/// ```
/// use cliquet::IdentityKeyPair;
///
/// let key = *IdentityKeyPair::from_secret_bytes(&[1; 32]).public_key();
/// let shown = key.to_string();
/// assert_eq!(shown.len(), 64);
/// assert_eq!(shown.parse(), Ok(key));
/// ```
/// Parses the 64 hex digits that `Display` writes (upper- or lowercase
/// accepted) and validates the key as
/// [`IdentityKey::from_bytes`] does.
///
/// # Errors
/// - [`Error::Malformed`] with [`DecodeError::Truncated`](crate::DecodeError::Truncated)
///   for fewer than 64 bytes, [`Trailing`](crate::DecodeError::Trailing) for more,
///   and [`InvalidHex`](crate::DecodeError::InvalidHex) for a character that is
///   not a hex digit;
/// - [`Error::InvalidKey`] for hex that is not a valid identity key ([SPEC §1](crate::spec)).
///
/// ```
/// use cliquet::{DecodeError, Error, IdentityKey};
///
/// let hex = "eafd04e809261df12b1af8d9ac0cb802efc4c2b68c3ac5faf12bf4d9c549f0a9";
/// let key: IdentityKey = hex.parse()?;
/// assert_eq!(key.to_string(), hex);
/// assert_eq!(hex.to_uppercase().parse(), Ok(key));
///
/// assert_eq!(hex[..63].parse::<IdentityKey>(), Err(Error::Malformed(DecodeError::Truncated)));
/// assert_eq!(format!("{hex}0").parse::<IdentityKey>(), Err(Error::Malformed(DecodeError::Trailing)));
/// assert_eq!(hex.replace('e', "g").parse::<IdentityKey>(), Err(Error::Malformed(DecodeError::InvalidHex)));
/// // The identity point, a small-order key (SPEC §1).
/// let identity = format!("01{}", "0".repeat(62));
/// assert_eq!(identity.parse::<IdentityKey>(), Err(Error::InvalidKey));
/// # Ok::<(), Error>(())
/// ```
impl core::str::FromStr for IdentityKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let digits = s.as_bytes();
        match digits.len() {
            64 => {}
            n if n < 64 => return Err(crate::DecodeError::Truncated.into()),
            _ => return Err(crate::DecodeError::Trailing.into()),
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let [high, low] = pair else {
                return Err(crate::DecodeError::Truncated.into());
            };
            *byte = (hex_digit(*high)? << 4) | hex_digit(*low)?;
        }
        Self::from_bytes(&bytes)
    }
}

/// The value of one hex digit (either case).
fn hex_digit(c: u8) -> Result<u8, Error> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(crate::DecodeError::InvalidHex.into()),
    }
}
