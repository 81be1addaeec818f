//! Key bundle (SPEC §2).

use alloc::vec::Vec;

use crate::codec::{ArrayBuf, Reader, Writer};
use crate::error::Error;
use crate::keys::{Hex, IdentityKey, IdentityKeyPair, PublicKey, SignedPreKey, Verifier};

/// Prefix of the signed-prekey signature (§2).
const LABEL_SIGNED_PREKEY: &[u8] = b"cliquet/v1/signed-prekey";

/// Kind byte of a bundle.
pub(crate) const KIND_BUNDLE: u8 = 0x14;

/// A published key bundle: what an initiator needs to start a session.
///
/// Wire format (SPEC §2), 134 or 170 bytes:
///
/// ```text
/// 0x14 || IK_pub (32) || u32be(spk_id) || SPK_pub (32) || spk_signature (64)
///      || flag (1: 0x00 no one-time prekey, 0x01 one follows)
///      [|| u32be(opk_id) || OPK_pub (32)]
/// ```
///
/// A decoded bundle is only structurally sound; [`verify`](Self::verify)
/// checks the identity key and the signature and yields the
/// [`VerifiedBundle`] that [`Session::initiate`](crate::Session::initiate) takes.
///
/// ```
/// use cliquet::{Account, PreKeyBundle};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
/// let mut bob = Account::new(&mut rng);
/// let id = bob.generate_one_time_prekeys(1, &mut rng)[0].0;
/// let bytes = bob.bundle(Some(id))?.to_bytes();
/// assert_eq!(bytes.len(), 170);
/// let verified = PreKeyBundle::decode(&bytes)?.verify()?;
/// assert_eq!(verified.identity_key(), bob.identity_key());
/// # Ok::<(), cliquet::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PreKeyBundle {
    identity_key: [u8; 32],
    signed_prekey_id: u32,
    signed_prekey: PublicKey,
    signature: [u8; 64],
    one_time_prekey: Option<(u32, PublicKey)>,
}

impl PreKeyBundle {
    /// Length without a one-time prekey.
    pub const LEN_WITHOUT_ONE_TIME_PREKEY: usize = 134;
    /// Length with a one-time prekey.
    pub const LEN_WITH_ONE_TIME_PREKEY: usize = 170;

    /// Signs `signed_prekey` with `identity` and builds a bundle.
    pub(crate) fn sign(identity: &IdentityKeyPair, signed_prekey: &SignedPreKey) -> Self {
        Self {
            identity_key: identity.public_key().to_bytes(),
            signed_prekey_id: signed_prekey.id(),
            signed_prekey: *signed_prekey.public_key(),
            signature: identity.sign(&signed_message(signed_prekey.public_key())),
            one_time_prekey: None,
        }
    }

    /// The same bundle with this one-time prekey (for example, one that a
    /// directory server hands out with the signed part).
    #[must_use]
    pub const fn with_one_time_prekey(mut self, id: u32, key: PublicKey) -> Self {
        self.one_time_prekey = Some((id, key));
        self
    }

    /// The same bundle without a one-time prekey.
    #[must_use]
    pub const fn without_one_time_prekey(mut self) -> Self {
        self.one_time_prekey = None;
        self
    }

    /// Parses the wire format. It checks structure only; see [`verify`](Self::verify).
    ///
    /// # Errors
    /// [`Error::Malformed`] with the first fault in wire order.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        r.kind(KIND_BUNDLE)?;
        let identity_key = r.array()?;
        let signed_prekey_id = r.u32_be()?;
        let signed_prekey = PublicKey::from_bytes(r.array()?);
        let signature = r.array()?;
        let one_time_prekey = if r.flag()? {
            Some((r.u32_be()?, PublicKey::from_bytes(r.array()?)))
        } else {
            None
        };
        r.finish()?;
        Ok(Self {
            identity_key,
            signed_prekey_id,
            signed_prekey,
            signature,
            one_time_prekey,
        })
    }

    /// The wire format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN_WITH_ONE_TIME_PREKEY);
        out.put_u8(KIND_BUNDLE);
        out.put(&self.identity_key);
        out.put_u32_be(self.signed_prekey_id);
        out.put(self.signed_prekey.as_bytes());
        out.put(&self.signature);
        out.put_flag(self.one_time_prekey.is_some());
        if let Some((id, key)) = &self.one_time_prekey {
            out.put_u32_be(*id);
            out.put(key.as_bytes());
        }
        out
    }

    /// Checks the identity key (§1) and then the signed-prekey signature with
    /// strict Ed25519 verification (§2).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an identity key that does not decompress, is
    /// not canonical or has small order; [`Error::BadSignature`] if the
    /// signature does not verify strictly.
    pub fn verify(&self) -> Result<VerifiedBundle, Error> {
        let verifier = Verifier::from_bytes(&self.identity_key)?;
        verifier.verify(&signed_message(&self.signed_prekey), &self.signature)?;
        Ok(VerifiedBundle {
            identity_key: *verifier.key(),
            signed_prekey_id: self.signed_prekey_id,
            signed_prekey: self.signed_prekey,
            one_time_prekey: self.one_time_prekey,
        })
    }

    /// The identity key bytes, as received (not validated until [`verify`](Self::verify)).
    pub const fn identity_key_bytes(&self) -> &[u8; 32] {
        &self.identity_key
    }

    /// The signed prekey's id.
    pub const fn signed_prekey_id(&self) -> u32 {
        self.signed_prekey_id
    }

    /// The one-time prekey, if the bundle has one: its id and key.
    pub const fn one_time_prekey(&self) -> Option<(u32, PublicKey)> {
        self.one_time_prekey
    }
}

impl core::fmt::Debug for PreKeyBundle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreKeyBundle")
            .field("identity_key", &Hex(&self.identity_key))
            .field("signed_prekey_id", &self.signed_prekey_id)
            .field("signed_prekey", &self.signed_prekey)
            .field("one_time_prekey", &self.one_time_prekey)
            .finish_non_exhaustive()
    }
}

/// A bundle whose identity key and signature were checked: the only input
/// [`Session::initiate`](crate::Session::initiate) accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    identity_key: IdentityKey,
    signed_prekey_id: u32,
    signed_prekey: PublicKey,
    one_time_prekey: Option<(u32, PublicKey)>,
}

impl VerifiedBundle {
    /// The peer's identity key. Compare it with the one you expect (safety
    /// number, trust on first use) before you talk.
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The signed prekey's id and key.
    pub const fn signed_prekey(&self) -> (u32, &PublicKey) {
        (self.signed_prekey_id, &self.signed_prekey)
    }

    /// The one-time prekey, if any.
    pub const fn one_time_prekey(&self) -> Option<(u32, PublicKey)> {
        self.one_time_prekey
    }
}

/// What the identity key signs: `"cliquet/v1/signed-prekey" || SPK_pub`.
fn signed_message(signed_prekey: &PublicKey) -> [u8; LABEL_SIGNED_PREKEY.len() + 32] {
    let mut m = ArrayBuf::new();
    m.put(LABEL_SIGNED_PREKEY);
    m.put(signed_prekey.as_bytes());
    m.into_array()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeError;

    fn bundle() -> (Vec<u8>, PreKeyBundle) {
        let ik = IdentityKeyPair::from_secret_bytes(&[1; 32]);
        let spk = SignedPreKey::from_secret_bytes(3, &[2; 32]);
        let b = PreKeyBundle::sign(&ik, &spk);
        (b.to_bytes(), b)
    }

    #[test]
    fn s2_round_trip_and_lengths() {
        let (bytes, b) = bundle();
        assert_eq!(bytes.len(), 134);
        assert_eq!(PreKeyBundle::decode(&bytes).ok(), Some(b.clone()));
        let with = b.with_one_time_prekey(9, PublicKey::from_bytes([5; 32]));
        let bytes = with.to_bytes();
        assert_eq!(bytes.len(), 170);
        assert_eq!(bytes.get(133), Some(&1));
        assert_eq!(PreKeyBundle::decode(&bytes).ok(), Some(with));
        assert!(
            PreKeyBundle::decode(&bytes)
                .and_then(|b| b.verify())
                .is_ok()
        );
    }

    #[test]
    fn s2_every_signed_byte_matters() {
        let (bytes, _) = bundle();
        // Flip a bit in the SPK and in each signature byte: strict verify fails.
        for i in 37..133 {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let r = PreKeyBundle::decode(&b).and_then(|b| b.verify());
            assert!(matches!(r, Err(Error::BadSignature)), "byte {i}: {r:?}");
        }
    }

    #[test]
    fn s2_truncation_and_trailing_are_errors() {
        let (bytes, _) = bundle();
        for n in 0..bytes.len() {
            assert_eq!(
                PreKeyBundle::decode(&bytes[..n]),
                Err(Error::Malformed(DecodeError::Truncated)),
                "{n}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            PreKeyBundle::decode(&long),
            Err(Error::Malformed(DecodeError::Trailing))
        );
    }
}
