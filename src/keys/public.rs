//! Public keys as plain values ([SPEC §1](crate::spec)): an X25519 [`PublicKey`] and the
//! [`IdentityKey`]. They sit at the bottom of the crate so that an
//! [`Error`](crate::Error) can carry one; validation lives with the other
//! keys (`keys`), the only way to build an `IdentityKey`.

use core::fmt;

/// Writes bytes as lowercase hex.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// An X25519 public key (signed prekey, one-time prekey, ephemeral and
/// ratchet keys): 32 bytes, RFC 7748.
///
/// Any 32 bytes are accepted here; a key that leads to an all-zero shared
/// secret is rejected where it is used ([`Error::InvalidKey`](crate::Error::InvalidKey)).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// A public key from its encoding.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The encoding.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The encoding, borrowed.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?})", Hex(&self.0))
    }
}

/// The public half of an identity key: a validated Ed25519 public key
/// ([SPEC §1](crate::spec)), with its X25519 (Montgomery) view for Diffie-Hellman. Build
/// one with [`IdentityKey::from_bytes`] or by parsing its hex form
/// (`Display` writes 64 lowercase hex digits; `Debug` shows the same
/// digits, named).
#[derive(Clone, Copy)]
pub struct IdentityKey {
    bytes: [u8; 32],
    montgomery: PublicKey,
}

impl IdentityKey {
    /// A key that `keys` validated, with its Montgomery view.
    pub(crate) const fn from_validated(bytes: [u8; 32], montgomery: [u8; 32]) -> Self {
        Self {
            bytes,
            montgomery: PublicKey::from_bytes(montgomery),
        }
    }

    /// The 32-byte Ed25519 encoding.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.bytes
    }

    /// The 32-byte Ed25519 encoding, borrowed.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The X25519 public key of this identity, `u = (1 + y) / (1 − y)`.
    pub(crate) const fn montgomery(&self) -> &PublicKey {
        &self.montgomery
    }
}

impl PartialEq for IdentityKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for IdentityKey {}

impl core::hash::Hash for IdentityKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({:?})", Hex(&self.bytes))
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", Hex(&self.bytes))
    }
}
