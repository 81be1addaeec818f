//! The ratchet's secrets, one type per role (SPEC §4, §6): `KDF_RK`,
//! `KDF_RK_HE`, `KDF_CK`, message encryption and header encryption.

use alloc::vec::Vec;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;
use crate::crypto::{self, LABEL_MESSAGE, LABEL_ROOT, LABEL_ROOT_HE, NONCE_LEN, TAG_LEN, hkdf};
use crate::keys::PublicKey;
use crate::message::{EH_HEADER_LEN, ENC_HEADER_LEN, SALT_LEN};
use crate::x3dh::split3;

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

impl RootKey {
    /// `KDF_RK(rk, dh) = HKDF(rk, dh, "cliquet/v1/root", 64)`.
    pub(crate) fn step(&self, dh: &[u8; 32]) -> (Self, ChainKey) {
        let out = hkdf::<64>(&self.0, dh, LABEL_ROOT);
        let (rk, ck) = out.split_at(32);
        (Self(to_array(rk)), ChainKey(to_array(ck)))
    }

    /// `KDF_RK_HE(rk, dh) = HKDF(rk, dh, "cliquet/v1/root-he", 96)`.
    pub(crate) fn step_he(&self, dh: &[u8; 32]) -> (Self, ChainKey, HeaderKey) {
        let out = hkdf::<96>(&self.0, dh, LABEL_ROOT_HE);
        let [rk, ck, nhk] = split3(&out);
        (Self(*rk), ChainKey(*ck), HeaderKey(*nhk))
    }
}

impl ChainKey {
    /// `KDF_CK(ck)`: the message key `HMAC(ck, 0x01)` and the next chain key
    /// `HMAC(ck, 0x02)`.
    pub(crate) fn step(&self) -> (MessageKey, Self) {
        let (mk, ck) = crypto::hmac_pair(&self.0);
        (MessageKey(*mk), Self(*ck))
    }
}

/// `AD || header_bytes`, the associated data of a message body (§4).
struct BodyAad {
    buf: [u8; 64 + EH_HEADER_LEN],
    len: usize,
}

impl BodyAad {
    fn new(ad: &[u8; 64], header_bytes: &[u8]) -> Self {
        let mut buf = [0u8; 64 + EH_HEADER_LEN];
        let len = 64 + header_bytes.len().min(EH_HEADER_LEN);
        write_parts(&mut buf, &[ad, header_bytes]);
        Self { buf, len }
    }

    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl MessageKey {
    /// `HKDF(salt, MK, "cliquet/v1/message", 44)` → AES key || nonce.
    pub(crate) fn key_and_nonce(&self, salt: &[u8]) -> (Zeroizing<[u8; 32]>, [u8; NONCE_LEN]) {
        let out = hkdf::<44>(salt, &self.0, LABEL_MESSAGE);
        let (key, nonce) = out.split_at(32);
        (Zeroizing::new(to_array(key)), to_array(nonce))
    }

    /// Writes `salt || AEAD(key, nonce, plaintext, AD || header_bytes)` to
    /// `out`, which is exactly `16 + plaintext.len() + 16` bytes.
    pub(crate) fn encrypt(
        &self,
        salt: &[u8; SALT_LEN],
        ad: &[u8; 64],
        header_bytes: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), Error> {
        let (key, nonce) = self.key_and_nonce(salt);
        let (salt_out, sealed) = out.split_at_mut_checked(SALT_LEN).ok_or(Error::TooLarge)?;
        salt_out.copy_from_slice(salt);
        let aad = BodyAad::new(ad, header_bytes);
        crypto::seal_into(&key, &nonce, aad.as_slice(), plaintext, sealed)
    }

    /// Opens `salt || AEAD output` into `out` (the structure was checked by
    /// the decoder); `out` is left empty on failure.
    pub(crate) fn decrypt(
        &self,
        ad: &[u8; 64],
        header_bytes: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let Some((salt, sealed)) = ciphertext.split_at_checked(SALT_LEN) else {
            out.clear();
            return Err(Error::Authentication);
        };
        let (key, nonce) = self.key_and_nonce(salt);
        let aad = BodyAad::new(ad, header_bytes);
        crypto::open_into(&key, &nonce, aad.as_slice(), sealed, out)
    }
}

/// A decrypted message header: `(ratchet_pub, PN, N)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) previous_chain_length: u32,
    pub(crate) index: u32,
}

impl Header {
    /// `ratchet_pub (32) || u32be(PN) || u32be(N)`.
    pub(crate) fn to_bytes(self) -> [u8; 40] {
        let mut out = [0u8; 40];
        let (pn, n) = (
            self.previous_chain_length.to_be_bytes(),
            self.index.to_be_bytes(),
        );
        write_parts(&mut out, &[self.ratchet_key.as_bytes(), &pn, &n]);
        out
    }

    fn from_bytes(bytes: &[u8; 40]) -> Self {
        let (key, counters) = bytes.split_at(32);
        let (pn, n) = counters.split_at(4);
        Self {
            ratchet_key: PublicKey::from_bytes(to_array(key)),
            previous_chain_length: u32::from_be_bytes(to_array(pn)),
            index: u32::from_be_bytes(to_array(n)),
        }
    }
}

impl HeaderKey {
    /// `enc_header = nonce || AEAD(HK, nonce, header, AD)` (68 bytes).
    pub(crate) fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8; 64],
        header: Header,
    ) -> Result<[u8; ENC_HEADER_LEN], Error> {
        let mut body = header.to_bytes();
        let tag = crypto::seal_in_place(&self.0, nonce, ad, &mut body)?;
        let mut out = [0u8; ENC_HEADER_LEN];
        write_parts(&mut out, &[nonce, &body, &tag]);
        Ok(out)
    }

    /// Opens a 68-byte encrypted header; `None` if this key does not open it.
    pub(crate) fn open(&self, ad: &[u8; 64], enc_header: &[u8]) -> Option<Header> {
        #[cfg(test)]
        HEADER_TRIALS.with(|n| n.set(n.get() + 1));
        let (nonce, rest) = enc_header.split_first_chunk::<NONCE_LEN>()?;
        let (body, tag) = rest.split_first_chunk::<40>()?;
        let tag: &[u8; TAG_LEN] = tag.try_into().ok()?;
        let mut body = *body;
        crypto::open_in_place(&self.0, nonce, ad, &mut body, tag).ok()?;
        Some(Header::from_bytes(&body))
    }
}

#[cfg(test)]
std::thread_local! {
    /// Trial decryptions of headers on this thread (tests count them).
    pub(crate) static HEADER_TRIALS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Copies a slice of known length into an array (shorter input leaves zeros).
fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    write_parts(&mut out, &[bytes]);
    out
}

/// Copies `parts` one after another to the front of `out`, one `memcpy` a
/// part (what does not fit is left out). Byte-by-byte iterator copies cost a
/// measurable share of a small message's encrypt (see BENCHMARKS.md).
pub(crate) fn write_parts(out: &mut [u8], parts: &[&[u8]]) {
    let mut rest = out;
    for part in parts {
        let n = part.len().min(rest.len());
        let Some((dst, tail)) = core::mem::take(&mut rest).split_at_mut_checked(n) else {
            return;
        };
        if let Some(src) = part.get(..n) {
            dst.copy_from_slice(src);
        }
        rest = tail;
    }
}
