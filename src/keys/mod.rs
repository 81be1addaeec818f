//! Keys and their encodings (SPEC §1): one type per secret role.

use alloc::boxed::Box;
use core::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

pub(crate) mod public;

use crate::crypto;
use crate::crypto::kem;
use crate::error::Error;
pub(crate) use public::Hex;
pub use public::{IdentityKey, PublicKey};

/// Draws a 32-byte secret with one `fill_bytes` call (§1).
pub(crate) fn draw_secret(rng: &mut (impl CryptoRng + ?Sized)) -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(bytes.as_mut_slice());
    bytes
}

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

/// An X25519 key pair: the secret and its public key.
#[derive(Clone)]
pub(crate) struct KeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

impl KeyPair {
    pub(crate) fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self::from_secret_bytes(&draw_secret(rng))
    }

    pub(crate) fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        let secret = StaticSecret::from(*secret);
        let public = PublicKey::from_bytes(crypto::x25519_public(&secret));
        Self { secret, public }
    }

    pub(crate) const fn public(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn secret_bytes(&self) -> &[u8; 32] {
        self.secret.as_bytes()
    }

    pub(crate) fn diffie_hellman(&self, public: &PublicKey) -> Result<Zeroizing<[u8; 32]>, Error> {
        crypto::x25519(&self.secret, public.as_bytes())
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

macro_rules! prekey_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            id: u32,
            pair: KeyPair,
        }

        impl $name {
            /// A new key with this id, from one 32-byte draw of `rng`.
            pub fn generate(id: u32, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
                Self { id, pair: KeyPair::generate(rng) }
            }

            /// The key with this id and 32-byte X25519 secret (RFC 7748).
            ///
            /// # Security
            /// Use it only to restore a key that was generated securely and kept
            /// secret; a known secret lets anyone read the sessions built on it.
            pub fn from_secret_bytes(id: u32, secret: &[u8; 32]) -> Self {
                Self { id, pair: KeyPair::from_secret_bytes(secret) }
            }

            /// The id its owner gave it.
            pub const fn id(&self) -> u32 {
                self.id
            }

            /// The public key.
            pub const fn public_key(&self) -> &PublicKey {
                self.pair.public()
            }

            pub(crate) const fn pair(&self) -> &KeyPair {
                &self.pair
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("id", &self.id)
                    .field("public", self.pair.public())
                    .finish_non_exhaustive()
            }
        }
    };
}

prekey_type!(
    /// A signed prekey (§1, §2): a medium-term X25519 key whose public half the
    /// identity key signs in the bundle.
    ///
    /// ```
    /// use cliquet::SignedPreKey;
    /// let spk = SignedPreKey::from_secret_bytes(1, &[9; 32]);
    /// assert_eq!(spk.id(), 1);
    /// assert!(!format!("{spk:?}").contains("0909"));
    /// ```
    SignedPreKey
);

prekey_type!(
    /// A one-time prekey (§1): an X25519 key used by at most one session.
    ///
    /// ```
    /// use cliquet::OneTimePreKey;
    /// let opk = OneTimePreKey::from_secret_bytes(7, &[3; 32]);
    /// assert_eq!(opk.id(), 7);
    /// ```
    OneTimePreKey
);

/// An ML-KEM-1024 encapsulation key (SPEC §1, §3b): the public half of a
/// [`KemPreKey`], 1568 bytes.
///
/// Any 1568 bytes are accepted here; a bundle's key is checked with
/// FIPS 203's modulus check when the bundle is verified
/// ([`Error::InvalidKey`]). `Debug` shows its first 8 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KemPublicKey(Box<kem::EncapsulationKey>);

impl KemPublicKey {
    /// Length of the encoding.
    pub const LEN: usize = kem::ENCAPSULATION_KEY_LEN;

    /// A key from its encoding.
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        Self(Box::new(*bytes))
    }

    pub(crate) const fn from_boxed(bytes: Box<kem::EncapsulationKey>) -> Self {
        Self(bytes)
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// FIPS 203's modulus check.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if kem::modulus_check(&self.0) {
            Ok(())
        } else {
            Err(Error::InvalidKey)
        }
    }
}

impl fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = self.0.first_chunk::<8>().map_or(&[][..], |h| &h[..]);
        write!(f, "KemPublicKey({:?}..)", Hex(head))
    }
}

/// Whether a KEM prekey is the device's last-resort one (kept, replaced
/// like a signed prekey) or a one-time one (consumed by the first session
/// that uses it). Its wire byte `kpk_kind` is 0x00 or 0x01 (SPEC §2b).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KemPreKeyKind {
    /// `kpk_kind` 0x00: stays until replaced.
    LastResort,
    /// `kpk_kind` 0x01: used by at most one session.
    OneTime,
}

impl KemPreKeyKind {
    /// The `kpk_kind` byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::LastResort => 0x00,
            Self::OneTime => 0x01,
        }
    }

    /// The kind of a `kpk_kind` byte (`None` for any other value).
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x00 => Some(Self::LastResort),
            0x01 => Some(Self::OneTime),
            _ => None,
        }
    }
}

/// A KEM prekey (SPEC §1, §3b): an ML-KEM-1024 key pair kept as its 64-byte
/// seed `d || z`, with an id and a [`KemPreKeyKind`]. Its encapsulation key
/// is derived from the seed when the key is built (about 40 µs) and kept;
/// the decapsulation key is expanded from the seed when a message needs it.
///
/// ```
/// use cliquet::{KemPreKey, KemPreKeyKind};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([8; 32]);
/// let key = KemPreKey::generate(5, KemPreKeyKind::OneTime, &mut rng);
/// assert_eq!((key.id(), key.kind()), (5, KemPreKeyKind::OneTime));
/// assert_eq!(key.public_key().as_bytes().len(), 1568);
/// // Debug shows the id, kind and the start of the public key only.
/// assert!(format!("{key:?}").contains("KemPublicKey("));
/// ```
#[derive(Clone)]
pub struct KemPreKey {
    id: u32,
    kind: KemPreKeyKind,
    seed: Zeroizing<[u8; kem::SEED_LEN]>,
    public: KemPublicKey,
}

impl KemPreKey {
    /// A new key: draws `d`, then `z` (two 32-byte draws, SPEC §1).
    pub fn generate(id: u32, kind: KemPreKeyKind, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let d = draw_secret(rng);
        let z = draw_secret(rng);
        let mut seed = Zeroizing::new([0u8; kem::SEED_LEN]);
        if let Some((head, tail)) = seed.split_first_chunk_mut::<32>() {
            *head = *d;
            if let Some(tail) = tail.first_chunk_mut::<32>() {
                *tail = *z;
            }
        }
        Self::from_secret_bytes(id, kind, &seed)
    }

    /// The key with this id, kind and 64-byte seed `d || z` (FIPS 203
    /// `KeyGen_internal(d, z)`).
    ///
    /// # Security
    /// Use it only to restore a key that was generated securely and kept
    /// secret; a known seed lets anyone read the sessions built on it.
    pub fn from_secret_bytes(id: u32, kind: KemPreKeyKind, seed: &[u8; 64]) -> Self {
        let public = KemPublicKey::from_boxed(kem::encapsulation_key(seed));
        Self::from_parts(id, kind, seed, public)
    }

    /// The key with its encapsulation key already derived (as stored).
    pub(crate) fn from_parts(
        id: u32,
        kind: KemPreKeyKind,
        seed: &[u8; 64],
        public: KemPublicKey,
    ) -> Self {
        Self {
            id,
            kind,
            seed: Zeroizing::new(*seed),
            public,
        }
    }

    /// The id its owner gave it.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// Last resort or one-time.
    pub const fn kind(&self) -> KemPreKeyKind {
        self.kind
    }

    /// The encapsulation key.
    pub const fn public_key(&self) -> &KemPublicKey {
        &self.public
    }

    /// The seed `d || z`, for the state codec.
    pub(crate) fn seed(&self) -> &[u8; kem::SEED_LEN] {
        &self.seed
    }

    /// `Decaps` of `ct` with the key expanded from the seed.
    pub(crate) fn decapsulate(&self, ct: &kem::Ciphertext) -> Zeroizing<[u8; 32]> {
        kem::decapsulate(&self.seed, ct)
    }
}

impl fmt::Debug for KemPreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemPreKey")
            .field("id", &self.id)
            .field("kind", &self.kind)
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
/// - [`Error::InvalidKey`] for hex that is not a valid identity key (SPEC §1).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_identity_x25519_view_matches_both_sides() {
        // DH between identity secrets and the peer's Montgomery view agrees.
        let a = IdentityKeyPair::from_secret_bytes(&[1; 32]);
        let b = IdentityKeyPair::from_secret_bytes(&[2; 32]);
        let ab = a.diffie_hellman(b.public_key().montgomery()).ok();
        let ba = b.diffie_hellman(a.public_key().montgomery()).ok();
        assert!(ab.is_some());
        assert_eq!(ab.as_deref(), ba.as_deref());
    }

    #[test]
    fn s1_non_canonical_identity_key_is_rejected() {
        // y = p + 1 ≡ 1 encodes the identity point non-canonically; y = p + 3 a
        // non-canonical encoding of a regular point (where it decompresses).
        let p_plus = |k: u8| {
            let mut b = [0xff; 32];
            b[0] = 0xed_u8.wrapping_add(k);
            b[31] = 0x7f;
            b
        };
        for k in 0..18 {
            assert_eq!(
                IdentityKey::from_bytes(&p_plus(k)).err(),
                Some(Error::InvalidKey),
                "y = p + {k}"
            );
        }
        // A valid key re-encodes to itself and is accepted.
        let ok = IdentityKeyPair::from_secret_bytes(&[5; 32])
            .public_key()
            .to_bytes();
        assert!(IdentityKey::from_bytes(&ok).is_ok());
        // Setting the sign bit of a valid key gives another point (accepted) or fails;
        // on x = 0 with the sign bit set it must fail.
        let mut x0 = [0u8; 32];
        x0[0] = 1;
        x0[31] = 0x80;
        assert_eq!(IdentityKey::from_bytes(&x0).err(), Some(Error::InvalidKey));
    }

    #[test]
    fn s1_zero_dh_output_is_rejected() {
        let pair = KeyPair::from_secret_bytes(&[4; 32]);
        assert_eq!(
            pair.diffie_hellman(&PublicKey::from_bytes([0; 32])).err(),
            Some(Error::InvalidKey)
        );
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(
            pair.diffie_hellman(&PublicKey::from_bytes(one)).err(),
            Some(Error::InvalidKey)
        );
    }

    #[test]
    fn s5_debug_never_shows_secrets() {
        let secret = [0xab; 32];
        let shown = format!(
            "{:?} {:?} {:?} {:?}",
            IdentityKeyPair::from_secret_bytes(&secret),
            SignedPreKey::from_secret_bytes(1, &secret),
            OneTimePreKey::from_secret_bytes(2, &secret),
            KeyPair::from_secret_bytes(&secret)
        );
        assert!(!shown.contains("abab"), "{shown}");
        assert!(!shown.contains("171, 171"), "{shown}");
    }
}
