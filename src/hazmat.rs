//! **Not part of the API.** Hidden, behind the non-default `test-hazmat`
//! feature, with no stability promise: the crate-private wrappers of the
//! primitives, exposed as they are so that the tests package can run the
//! Wycheproof vectors through exactly the code the protocol uses
//! (`tests/wycheproof.rs`). Nothing here is meant for applications.

use alloc::vec::Vec;

use crate::Error;
use crate::crypto::{self, NONCE_LEN};
use crate::keys::Verifier;

/// The Ed25519 check of bundles, notices, device lists and group messages
/// ([SPEC §1](crate::spec), §2): the public key validated as an identity key
/// ([`Error::InvalidKey`]: not 32 bytes, not decompressing, not canonical,
/// small order), then `verify_strict` ([`Error::BadSignature`], also for a
/// signature that is not 64 bytes).
///
/// # Errors
/// As above.
pub fn ed25519_verify(public: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
    let public: &[u8; 32] = public.try_into().map_err(|_| Error::InvalidKey)?;
    let signature: &[u8; 64] = signature.try_into().map_err(|_| Error::BadSignature)?;
    Verifier::from_bytes(public)?.verify(message, signature)
}

/// The contributory X25519 of every Diffie-Hellman ([SPEC §1](crate::spec)).
///
/// # Errors
/// [`Error::InvalidKey`] for an all-zero output.
pub fn x25519(secret: &[u8; 32], public: &[u8; 32]) -> Result<[u8; 32], Error> {
    let secret = x25519_dalek::StaticSecret::from(*secret);
    crypto::x25519(&secret, public).map(|shared| *shared)
}

/// The table look-up that refuses a small-order one-time prekey before
/// anything is drawn ([SPEC §1](crate::spec), §3): whether every exchange with `public`
/// is all zeros.
pub fn x25519_small_order(public: &[u8; 32]) -> bool {
    crypto::x25519_small_order(public)
}

/// AES-256-GCM with a 12-byte nonce: `ciphertext || tag`.
///
/// # Errors
/// [`Error::TooLarge`] past what one key may encrypt.
pub fn aes256gcm_seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    crypto::seal_append(key, nonce, aad, plaintext, &mut out)?;
    Ok(out)
}

/// Opens `ciphertext || tag` sealed by [`aes256gcm_seal`].
///
/// # Errors
/// [`Error::Authentication`] if it does not open.
pub fn aes256gcm_open(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, Error> {
    crypto::open_to_vec(key, nonce, aad, sealed)
}

/// `HKDF-SHA256(salt, ikm, info, N)`, as the key schedule derives. An `N`
/// above 8160 bytes does not compile.
pub fn hkdf_sha256<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    *crypto::hkdf::<N>(salt, ikm, info)
}

/// `HMAC-SHA256(key, message)` keyed as the chain step keys it (32-byte
/// keys only).
pub fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    crypto::hmac(key, message)
}
