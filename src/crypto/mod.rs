//! The primitives and the key schedule ([SPEC §1](crate::spec), §3–§6). This file is the
//! only one that names primitive crates: HKDF, HMAC, SHA-256,
//! AES-256-GCM and contributory X25519, over plain byte arrays (SPEC
//! notation and §1). What the bytes mean (labels, key roles) is decided above.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::Error;

pub(crate) mod kdf;
pub(crate) mod kem;

/// Draws a 32-byte secret with one `fill_bytes` call (§1).
pub(crate) fn draw_secret(rng: &mut (impl CryptoRng + ?Sized)) -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(bytes.as_mut_slice());
    bytes
}

/// AES-256-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// AES-256-GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;

/// `HKDF(salt, ikm, info, N)` with SHA-256 (RFC 5869).
pub(crate) fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; N]> {
    const { assert!(N <= 255 * 32, "HKDF-SHA256 output is at most 8160 bytes") };
    let mut okm = Zeroizing::new([0u8; N]);
    // Cannot fail: N is within HKDF-SHA256's bound, checked at compile time above.
    let _ = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, okm.as_mut());
    okm
}

/// `(HMAC(key, 0x01), HMAC(key, 0x02))`: `KDF_CK` of §4. The key schedule is
/// computed once and shared by both MACs.
#[inline]
pub(crate) fn hmac_pair(key: &[u8; 32]) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let keyed = hmac_keyed(key);
    let mut first = keyed.clone();
    first.update(&[0x01]);
    let mut second = keyed;
    second.update(&[0x02]);
    (
        Zeroizing::new(first.finalize().into_bytes().into()),
        Zeroizing::new(second.finalize().into_bytes().into()),
    )
}

/// HMAC-SHA256 keyed with a 32-byte key.
fn hmac_keyed(key: &[u8; 32]) -> Hmac<Sha256> {
    // A 32-byte HMAC key is zero-padded to the 64-byte block (RFC 2104), so
    // the padded array is the same key, and `new` needs no fallible slice path.
    let mut block = Zeroizing::new([0u8; 64]);
    if let Some((head, _)) = block.split_first_chunk_mut::<32>() {
        *head = *key;
    }
    <Hmac<Sha256> as KeyInit>::new(&(*block).into())
}

/// `HMAC(key, message)` with the keying of [`hmac_pair`], for the
/// Wycheproof tests (`test-hazmat`).
#[cfg(feature = "test-hazmat")]
pub(crate) fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut mac = hmac_keyed(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// SHA-256 over the concatenation of `parts`.
#[inline]
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// X25519 that rejects a non-contributory (all-zero) output (§1).
pub(crate) fn x25519(
    secret: &x25519_dalek::StaticSecret,
    public: &[u8; 32],
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(Error::InvalidKey);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// Whether an X25519 public key has small order (on the curve or its
/// twist), so that every Diffie-Hellman with it is all zeros: one of the
/// seven u-coordinates below (0, 1, the two points of order 8, and the
/// non-canonical p − 1, p, p + 1), the top bit ignored as X25519 ignores it.
/// A table look-up, where an exchange would cost a scalar multiplication.
pub(crate) fn x25519_small_order(public: &[u8; 32]) -> bool {
    const P_MINUS_ONE: [u8; 32] = {
        let mut p = [0xff; 32];
        p[0] = 0xec;
        p[31] = 0x7f;
        p
    };
    const ORDER_8: [[u8; 32]; 2] = [
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
    ];
    let mut u = *public;
    if let Some(last) = u.last_mut() {
        *last &= 0x7f;
    }
    let [first, middle @ .., last] = u;
    let small_integer = middle.iter().all(|b| *b == 0) && last == 0 && first <= 1;
    let near_p = middle.iter().all(|b| *b == 0xff)
        && last == 0x7f
        && (P_MINUS_ONE[0]..=P_MINUS_ONE[0] + 2).contains(&first);
    small_integer || near_p || ORDER_8.contains(&u)
}

/// The X25519 public key of a secret.
pub(crate) fn x25519_public(secret: &x25519_dalek::StaticSecret) -> [u8; 32] {
    x25519_dalek::PublicKey::from(secret).to_bytes()
}

/// AES-256-GCM encryption of `buf` in place; returns the tag.
pub(crate) fn seal_in_place(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], Error> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .encrypt_inout_detached(
            &Nonce::<aes_gcm::aead::consts::U12>::from(*nonce),
            aad,
            buf.into(),
        )
        .map(Into::into)
        .map_err(|_| Error::TooLarge)
}

/// AES-256-GCM decryption of `buf` in place, checking `tag` first; `buf` is
/// left untouched when the tag does not match.
pub(crate) fn open_in_place(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), Error> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt_inout_detached(
            &Nonce::<aes_gcm::aead::consts::U12>::from(*nonce),
            aad,
            buf.into(),
            &Tag::from(*tag),
        )
        .map_err(|_| Error::Authentication)
}

/// Encrypts `plaintext` into `out`, which must be `plaintext.len() + 16`
/// bytes: the ciphertext, then the tag. The plaintext is read where it is.
#[inline]
pub(crate) fn seal_into(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let (body, tag_out) = out
        .split_at_mut_checked(plaintext.len())
        .ok_or(Error::TooLarge)?;
    let tag_out: &mut [u8; TAG_LEN] = tag_out.try_into().map_err(|_| Error::TooLarge)?;
    let buf = InOutBuf::new(plaintext, body).map_err(|_| Error::TooLarge)?;
    let tag = Aes256Gcm::new(key.into())
        .encrypt_inout_detached(&Nonce::<aes_gcm::aead::consts::U12>::from(*nonce), aad, buf)
        .map_err(|_| Error::TooLarge)?;
    *tag_out = tag.into();
    Ok(())
}

/// Encrypts `plaintext` and appends `ciphertext || tag` to `out`.
pub(crate) fn seal_append(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut alloc::vec::Vec<u8>,
) -> Result<(), Error> {
    let start = out.len();
    let end = start
        .checked_add(plaintext.len() + TAG_LEN)
        .ok_or(Error::TooLarge)?;
    out.resize(end, 0);
    seal_into(
        key,
        nonce,
        aad,
        plaintext,
        out.get_mut(start..).unwrap_or_default(),
    )
}

/// Decrypts `ciphertext || tag` into `out`, reading the ciphertext where it
/// is. `out` is resized to the plaintext (its allocation is reused); on
/// failure it is left empty.
#[inline]
pub(crate) fn open_into(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
    out: &mut alloc::vec::Vec<u8>,
) -> Result<(), Error> {
    let split = sealed
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(Error::Authentication)?;
    let (body, tag) = sealed
        .split_at_checked(split)
        .ok_or(Error::Authentication)?;
    let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Authentication)?;
    out.resize(body.len(), 0);
    let opened = InOutBuf::new(body, out)
        .map_err(|_| Error::Authentication)
        .and_then(|buf| {
            Aes256Gcm::new(key.into())
                .decrypt_inout_detached(
                    &Nonce::<aes_gcm::aead::consts::U12>::from(*nonce),
                    aad,
                    buf,
                    &Tag::from(*tag),
                )
                .map_err(|_| Error::Authentication)
        });
    if opened.is_err() {
        out.clear();
    }
    opened
}

/// Decrypts `ciphertext || tag` into a new buffer.
pub(crate) fn open_to_vec(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<alloc::vec::Vec<u8>, Error> {
    let mut out = alloc::vec::Vec::new();
    open_into(key, nonce, aad, sealed, &mut out)?;
    Ok(out)
}

/// SHA-512 iterated (§9): `h = SHA-512(first...)`, then `rounds` times
/// `h = SHA-512(h || suffix)`; returns the last `h`. One hasher is reused and
/// nothing is allocated, so each round costs one SHA-512 and two buffer copies.
pub(crate) fn sha512_iterated(first: &[&[u8]], suffix: &[u8], rounds: u32) -> [u8; 64] {
    let mut hasher = sha2::Sha512::new();
    for part in first {
        hasher.update(part);
    }
    let mut h = sha2::digest::Output::<sha2::Sha512>::default();
    hasher.finalize_into_reset(&mut h);
    for _ in 0..rounds {
        hasher.update(h.as_slice());
        hasher.update(suffix);
        hasher.finalize_into_reset(&mut h);
    }
    h.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_small_order_points_are_exactly_those_with_all_zero_exchanges() {
        // Every point of the 8-torsion, in every encoding X25519 accepts.
        for point in curve25519_dalek::constants::EIGHT_TORSION {
            let u = point.to_montgomery().to_bytes();
            assert!(x25519_small_order(&u), "{u:02x?}");
            let mut high = u;
            high[31] |= 0x80;
            assert!(x25519_small_order(&high), "{high:02x?}");
        }
        let secret = x25519_dalek::StaticSecret::from([0x5a; 32]);
        let mut candidates: alloc::vec::Vec<[u8; 32]> = (0..=255u8)
            .map(|b| {
                let mut u = [b; 32];
                u[31] &= 0x7f;
                u
            })
            .collect();
        for first in 0xe0..=0xff {
            let mut u = [0xff; 32];
            u[0] = first;
            candidates.push(u);
        }
        for k in 0..4u8 {
            let mut u = [0; 32];
            u[0] = k;
            candidates.push(u);
        }
        for u in candidates {
            assert_eq!(
                x25519_small_order(&u),
                x25519(&secret, &u).is_err(),
                "{u:02x?}"
            );
        }
    }
}
