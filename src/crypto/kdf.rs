//! The key schedule ([SPEC §3](crate::spec)–§6): its labels, one secret type per role, the
//! X3DH KDF, `KDF_RK`, `KDF_RK_HE`, `KDF_CK`, and the message and header
//! AEAD. It sits below both the handshake and the ratchet, which only call it,
//! and knows no wire layout: header lengths are the wire layer's (`pairwise::wire`).

use alloc::vec::Vec;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{ArrayBuf, Writer};
use crate::crypto::{self, NONCE_LEN, TAG_LEN, hkdf};
use crate::error::Error;

/// `info` of the X3DH KDF (§3).
const LABEL_X3DH: &[u8] = b"cliquet/v1/x3dh";
/// `info` of the PQXDH KDF (§3b).
const LABEL_PQXDH: &[u8] = b"cliquet/v1/pqxdh";
/// `info` of `KDF_RK` (§4).
const LABEL_ROOT: &[u8] = b"cliquet/v1/root";
/// `info` of `KDF_RK_HE` (§6).
const LABEL_ROOT_HE: &[u8] = b"cliquet/v1/root-he";
/// `info` of the per-message key and nonce derivation (§4).
const LABEL_MESSAGE: &[u8] = b"cliquet/v1/message";

/// Length of the per-message salt (§4).
pub(crate) const SALT_LEN: usize = 16;
/// Length of the associated data `AD = IK_A_pub || IK_B_pub` (§3).
pub(crate) const AD_LEN: usize = 64;

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Zeroize, ZeroizeOnDrop)]
        pub(crate) struct $name([u8; 32]);

        impl $name {
            pub(crate) fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
                Self(*bytes)
            }

            pub(crate) const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

/// Group chains (§10) keep their keys the same way.
pub(crate) use secret_key;

secret_key!(
    /// `RK`.
    RootKey
);
secret_key!(
    /// `CKs` or `CKr`.
    ChainKey
);
secret_key!(
    /// `MK`: encrypts exactly one message.
    MessageKey
);
secret_key!(
    /// `HKs`, `HKr`, `NHKs`, `NHKr` (§6).
    HeaderKey
);

impl Clone for HeaderKey {
    fn clone(&self) -> Self {
        Self(self.0)
    }
}

impl PartialEq for HeaderKey {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

/// What X3DH yields: `SK` as the first root key, the two header keys of §6,
/// and the associated data `AD = IK_A_pub || IK_B_pub`.
pub(crate) struct SharedSecrets {
    pub(crate) root_key: RootKey,
    pub(crate) header_key_alice: HeaderKey,
    pub(crate) next_header_key_bob: HeaderKey,
    pub(crate) associated_data: [u8; AD_LEN],
}

/// The X3DH KDF (§3 step 4 and 5):
/// `HKDF(zeros(32), 0xFF*32 || DH1 || DH2 || DH3 [|| DH4], "cliquet/v1/x3dh", 96)`
/// split into `SK`, `HKA` and `NHKB`; with the ML-KEM shared secret `SS`,
/// the PQXDH KDF (§3b step 4):
/// `HKDF(zeros(32), 0xFF*32 || DH1 || DH2 || DH3 [|| DH4] || SS, "cliquet/v1/pqxdh", 96)`.
pub(crate) fn x3dh(
    dh: [&[u8; 32]; 3],
    dh4: Option<&[u8; 32]>,
    kem_secret: Option<&[u8; 32]>,
    initiator: &[u8; 32],
    responder: &[u8; 32],
) -> SharedSecrets {
    let mut ikm = Zeroizing::new(Vec::with_capacity(6 * 32));
    ikm.put(&[0xff; 32]);
    for part in dh.into_iter().chain(dh4).chain(kem_secret) {
        ikm.put(part);
    }
    let label = if kem_secret.is_some() {
        LABEL_PQXDH
    } else {
        LABEL_X3DH
    };
    let [sk, hka, nhkb] = split3(&hkdf::<96>(&[0; 32], &ikm, label));
    let mut ad = ArrayBuf::<AD_LEN>::new();
    ad.put(initiator);
    ad.put(responder);
    SharedSecrets {
        root_key: RootKey(*sk),
        header_key_alice: HeaderKey(*hka),
        next_header_key_bob: HeaderKey(*nhkb),
        associated_data: ad.into_array(),
    }
}

impl RootKey {
    /// `KDF_RK(rk, dh) = HKDF(rk, dh, "cliquet/v1/root", 64)`, or with header
    /// encryption `KDF_RK_HE(rk, dh) = HKDF(rk, dh, "cliquet/v1/root-he", 96)`,
    /// which also yields the next header key.
    pub(crate) fn step(
        &self,
        dh: &[u8; 32],
        header_encryption: bool,
    ) -> (Self, ChainKey, Option<HeaderKey>) {
        if header_encryption {
            let [rk, ck, nhk] = split3(&hkdf::<96>(&self.0, dh, LABEL_ROOT_HE));
            (Self(*rk), ChainKey(*ck), Some(HeaderKey(*nhk)))
        } else {
            let out = hkdf::<64>(&self.0, dh, LABEL_ROOT);
            let (rk, ck) = split(&out);
            (Self(rk), ChainKey(ck), None)
        }
    }
}

impl ChainKey {
    /// `KDF_CK(ck)`: the message key `HMAC(ck, 0x01)` and the next chain key
    /// `HMAC(ck, 0x02)`.
    #[inline]
    pub(crate) fn step(&self) -> (MessageKey, Self) {
        let (mk, ck) = crypto::hmac_pair(&self.0);
        (MessageKey(*mk), Self(*ck))
    }
}

impl MessageKey {
    /// `HKDF(salt, MK, "cliquet/v1/message", 44)` → AES key || nonce.
    #[inline]
    pub(crate) fn key_and_nonce(&self, salt: &[u8]) -> (Zeroizing<[u8; 32]>, [u8; NONCE_LEN]) {
        let out = hkdf::<44>(salt, &self.0, LABEL_MESSAGE);
        let (key, nonce) = split(&out);
        (Zeroizing::new(key), nonce)
    }

    /// Writes `salt || AEAD(key, nonce, plaintext, aad)` to `out`, which is
    /// exactly `16 + plaintext.len() + 16` bytes; `aad` is the body's
    /// associated data, `AD || header_bytes` (§4, built by the wire layer,
    /// which knows the header).
    #[inline]
    pub(crate) fn encrypt(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), Error> {
        let (key, nonce) = self.key_and_nonce(salt);
        let (salt_out, sealed) = out.split_at_mut_checked(SALT_LEN).ok_or(Error::TooLarge)?;
        salt_out.copy_from_slice(salt);
        crypto::seal_into(&key, &nonce, aad, plaintext, sealed)
    }

    /// Opens `salt || AEAD output` into `out` (the structure was checked by
    /// the decoder); `out` is left empty on failure.
    #[inline]
    pub(crate) fn decrypt(
        &self,
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let Some((salt, sealed)) = ciphertext.split_at_checked(SALT_LEN) else {
            out.clear();
            return Err(Error::Authentication);
        };
        let (key, nonce) = self.key_and_nonce(salt);
        crypto::open_into(&key, &nonce, aad, sealed, out)
    }
}

impl HeaderKey {
    /// `enc_header = nonce || AEAD(HK, nonce, header, AD)`: `E` is the
    /// header's length `H` plus 28 (the wire layer names both, §6).
    pub(crate) fn seal<const H: usize, const E: usize>(
        &self,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8; AD_LEN],
        header: &[u8; H],
    ) -> Result<[u8; E], Error> {
        const {
            assert!(
                E == NONCE_LEN + H + TAG_LEN,
                "nonce, header and tag fill it"
            )
        };
        let mut body = *header;
        let tag = crypto::seal_in_place(&self.0, nonce, ad, &mut body)?;
        let mut out = ArrayBuf::<E>::new();
        out.put(nonce);
        out.put(&body);
        out.put(&tag);
        Ok(out.into_array())
    }

    /// Opens an encrypted header; `None` if this key does not open it.
    pub(crate) fn open<const H: usize, const E: usize>(
        &self,
        ad: &[u8; AD_LEN],
        enc_header: &[u8; E],
    ) -> Option<[u8; H]> {
        const {
            assert!(
                E == NONCE_LEN + H + TAG_LEN,
                "nonce, header and tag fill it"
            )
        };
        #[cfg(test)]
        HEADER_TRIALS.with(|n| n.set(n.get() + 1));
        let (nonce, rest) = enc_header.split_first_chunk::<NONCE_LEN>()?;
        let (body, tag) = rest.split_first_chunk::<H>()?;
        let tag: &[u8; TAG_LEN] = tag.try_into().ok()?;
        let mut body = *body;
        crypto::open_in_place(&self.0, nonce, ad, &mut body, tag).ok()?;
        Some(body)
    }
}

#[cfg(test)]
std::thread_local! {
    /// Trial decryptions of headers on this thread (tests count them).
    pub(crate) static HEADER_TRIALS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Splits `A + B` bytes into an `A`-byte and a `B`-byte array.
fn split<const A: usize, const B: usize, const N: usize>(bytes: &[u8; N]) -> ([u8; A], [u8; B]) {
    const { assert!(A + B == N, "the parts fill the input") };
    let mut a = [0u8; A];
    let mut b = [0u8; B];
    if let Some((head, tail)) = bytes.split_at_checked(A) {
        a.copy_from_slice(head);
        b.copy_from_slice(tail);
    }
    (a, b)
}

/// Splits 96 bytes into three 32-byte secrets.
fn split3(out: &[u8; 96]) -> [Zeroizing<[u8; 32]>; 3] {
    let mut keys: [Zeroizing<[u8; 32]>; 3] = Default::default();
    for (key, chunk) in keys.iter_mut().zip(out.chunks_exact(32)) {
        key.copy_from_slice(chunk);
    }
    keys
}
