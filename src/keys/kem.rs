//! ML-KEM-1024 prekeys ([SPEC §1](crate::spec), §3b): the encapsulation key, last-resort
//! and one-time KEM prekeys.

use alloc::boxed::Box;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::public::Hex;
use crate::crypto::draw_secret;
use crate::crypto::kem;
use crate::error::Error;

/// An ML-KEM-1024 encapsulation key ([SPEC §1](crate::spec), §3b): the public half of a
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
/// that uses it). Its wire byte `kpk_kind` is 0x00 or 0x01 ([SPEC §2b](crate::spec)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KemPreKeyKind {
    /// `kpk_kind` 0x00: stays until replaced.
    LastResort,
    /// `kpk_kind` 0x01: used by at most one session.
    OneTime,
}

impl KemPreKeyKind {
    /// The `kpk_kind` byte.
    pub(crate) const fn to_byte(self) -> u8 {
        match self {
            Self::LastResort => 0x00,
            Self::OneTime => 0x01,
        }
    }

    /// The kind of a `kpk_kind` byte (`None` for any other value).
    pub(crate) const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x00 => Some(Self::LastResort),
            0x01 => Some(Self::OneTime),
            _ => None,
        }
    }
}

/// A KEM prekey ([SPEC §1](crate::spec), §3b): an ML-KEM-1024 key pair kept as its 64-byte
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
    /// A new key: draws `d`, then `z` (two 32-byte draws, [SPEC §1](crate::spec)).
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
