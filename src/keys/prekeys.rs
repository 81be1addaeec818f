//! X25519 key pairs and the signed and one-time prekeys ([SPEC §1](crate::spec), §2).

use core::fmt;

use rand_core::CryptoRng;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use super::public::PublicKey;
use crate::crypto;
use crate::crypto::draw_secret;
use crate::error::Error;

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
