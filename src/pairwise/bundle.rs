//! Key bundles ([SPEC §2](crate::spec), §2b): the classic one (0x14) and the post-quantum
//! one (0x16), which adds a signed KEM prekey.

use alloc::vec::Vec;
use core::fmt;

use crate::codec::{ArrayBuf, Codec, Reader, Writer, kind};
use crate::error::{DecodeError, Error};
use crate::keys::{
    Hex, IdentityKey, IdentityKeyPair, KemPreKey, KemPreKeyKind, KemPublicKey, PublicKey,
    SignedPreKey, Verifier,
};

/// Prefix of the signed-prekey signature (§2).
const LABEL_SIGNED_PREKEY: &[u8] = b"cliquet/v1/signed-prekey";
/// Prefix of the KEM-prekey signature (§2b).
const LABEL_KEM_PREKEY: &[u8] = b"cliquet/v1/kem-prekey";

/// A KEM prekey's public part as a post-quantum bundle carries it (SPEC
/// §2b): id, kind, encapsulation key, and the identity key's signature
/// `kpk_signature` over `"cliquet/v1/kem-prekey" || kpk_kind || u32be(kpk_id) || KPK_pub`.
///
/// An account publishes these ([`Account::publication`](crate::Account::publication))
/// so that a directory can put one into each bundle it serves
/// ([`Directory::take_bundle`](crate::Directory::take_bundle), or
/// [`PreKeyBundle::with_kem_prekey`] for a server of your own), each
/// one-time key into one bundle only. Nothing is checked until the bundle
/// is verified.
///
/// ```
/// use cliquet::{Account, KemPreKeyKind};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([6; 32]);
/// let mut bob = Account::new(&mut rng);
/// let one_time = bob.generate_one_time_kem_prekeys(1, &mut rng).remove(0);
/// assert_eq!((one_time.id(), one_time.kind()), (2, KemPreKeyKind::OneTime));
/// // A server serves the signed part with it; Alice checks both signatures.
/// let bundle = bob.classic_bundle(None)?.with_kem_prekey(one_time).verify()?;
/// assert_eq!(bundle.kem_prekey().map(|(id, _)| id), Some(2));
/// # Ok::<(), cliquet::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SignedKemPreKey {
    id: u32,
    kind: KemPreKeyKind,
    key: KemPublicKey,
    signature: [u8; 64],
}

impl SignedKemPreKey {
    /// Signs `key`'s public part with `identity`.
    pub(crate) fn sign(identity: &IdentityKeyPair, key: &KemPreKey) -> Self {
        let signature = identity.sign(&kem_signed_message(key.kind(), key.id(), key.public_key()));
        Self {
            id: key.id(),
            kind: key.kind(),
            key: key.public_key().clone(),
            signature,
        }
    }

    /// The id.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// Last resort or one-time.
    pub const fn kind(&self) -> KemPreKeyKind {
        self.kind
    }

    /// The encapsulation key (not checked until a bundle is verified).
    pub const fn public_key(&self) -> &KemPublicKey {
        &self.key
    }

    /// Length of the encoding: id, kind, encapsulation key, signature.
    pub const LEN: usize = 4 + 1 + KemPublicKey::LEN + 64;

    /// The encoding, as a bundle carries it ([SPEC §2b](crate::spec)):
    /// `u32be(kpk_id) || kpk_kind || KPK_pub (1568) || kpk_signature (64)`,
    /// for a directory server to store and attach to bundles.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        self.write(&mut out);
        out
    }

    /// Parses what [`encode`](Self::encode) wrote (structure only: the
    /// signature and the key are checked when a bundle carrying it is
    /// verified).
    ///
    /// ```
    /// use cliquet::{Account, SignedKemPreKey};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
    /// let mut bob = Account::new(&mut rng);
    /// let key = bob.generate_one_time_kem_prekeys(1, &mut rng).remove(0);
    /// let stored = key.encode();
    /// assert_eq!(stored.len(), SignedKemPreKey::LEN);
    /// assert_eq!(SignedKemPreKey::decode(&stored)?, key);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Malformed`]: a kind other than 0 or 1, truncated or
    /// trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }
}

impl Codec for SignedKemPreKey {
    /// `u32be(kpk_id) || kpk_kind || KPK_pub || kpk_signature`.
    fn write(&self, w: &mut impl Writer) {
        w.put_u32_be(self.id);
        w.put_u8(self.kind.to_byte());
        w.put(self.key.as_bytes());
        w.put(&self.signature);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let id = r.u32_be()?;
        let kind = KemPreKeyKind::from_byte(r.u8()?).ok_or(DecodeError::BadFlag)?;
        let key = r.take(KemPublicKey::LEN)?;
        let key: &[u8; KemPublicKey::LEN] = key.try_into().map_err(|_| DecodeError::Truncated)?;
        Ok(Self {
            id,
            kind,
            key: KemPublicKey::from_bytes(key),
            signature: r.array()?,
        })
    }
}

impl SignedKemPreKey {
    /// Reads one as an account stores it (the encoding above), keeping any
    /// decode fault as a stored-state error.
    pub(crate) fn read_stored(r: &mut Reader<'_>) -> Result<Self, crate::error::StateError> {
        Self::read(r).map_err(|e| match e {
            Error::Malformed(detail) => detail.into(),
            _ => crate::error::StateError::Inconsistent,
        })
    }

    /// Checks the signature strictly, then the modulus check of the key.
    pub(crate) fn verify(&self, verifier: &Verifier) -> Result<(), Error> {
        verifier.verify(
            &kem_signed_message(self.kind, self.id, &self.key),
            &self.signature,
        )?;
        self.key.check()
    }
}

impl fmt::Debug for SignedKemPreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedKemPreKey")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A published key bundle: what an initiator needs to start a session.
///
/// Two kinds share this type. The post-quantum bundle ([SPEC §2b](crate::spec)), which
/// [`Account::bundle`](crate::Account::bundle) builds, 1771 or 1807 bytes:
///
/// ```text
/// 0x16 || IK_pub (32) || u32be(spk_id) || SPK_pub (32) || spk_signature (64)
///      || u32be(kpk_id) || kpk_kind (1: 0x00 last resort, 0x01 one-time)
///      || KPK_pub (1568) || kpk_signature (64)
///      || flag (1: 0x00 no one-time prekey, 0x01 one follows)
///      [|| u32be(opk_id) || OPK_pub (32)]
/// ```
///
/// and the classic one ([SPEC §2](crate::spec)), 134 or 170 bytes, which an initiator
/// refuses unless its configuration allows classic X3DH
/// ([`SessionConfig::with_classic_x3dh`](crate::SessionConfig::with_classic_x3dh)):
///
/// ```text
/// 0x14 || IK_pub (32) || u32be(spk_id) || SPK_pub (32) || spk_signature (64)
///      || flag (1: 0x00 no one-time prekey, 0x01 one follows)
///      [|| u32be(opk_id) || OPK_pub (32)]
/// ```
///
/// A decoded bundle is only structurally sound; [`verify`](Self::verify)
/// checks the identity key, the signatures and the KEM prekey and yields
/// the [`VerifiedBundle`] that [`Session::initiate`](crate::Session::initiate) takes.
///
/// ```
/// use cliquet::{Account, PreKeyBundle};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
/// let mut bob = Account::new(&mut rng);
/// let id = bob.generate_one_time_prekeys(1, &mut rng)[0].0;
/// let bytes = bob.bundle(Some(id))?.encode();
/// assert_eq!(bytes.len(), PreKeyBundle::PQ_LEN_WITH_ONE_TIME_PREKEY);
/// let verified = PreKeyBundle::decode(&bytes)?.verify()?;
/// assert!(verified.is_post_quantum());
/// assert_eq!(verified.identity_key(), bob.identity_key());
/// # Ok::<(), cliquet::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PreKeyBundle {
    identity_key: [u8; 32],
    signed_prekey_id: u32,
    signed_prekey: PublicKey,
    signature: [u8; 64],
    kem_prekey: Option<SignedKemPreKey>,
    one_time_prekey: Option<(u32, PublicKey)>,
}

impl PreKeyBundle {
    /// Length of a classic bundle without a one-time prekey.
    pub const LEN_WITHOUT_ONE_TIME_PREKEY: usize = 134;
    /// Length of a classic bundle with a one-time prekey.
    pub const LEN_WITH_ONE_TIME_PREKEY: usize = 170;
    /// Length of a post-quantum bundle without a one-time prekey.
    pub const PQ_LEN_WITHOUT_ONE_TIME_PREKEY: usize = 1771;
    /// Length of a post-quantum bundle with a one-time prekey.
    pub const PQ_LEN_WITH_ONE_TIME_PREKEY: usize = 1807;

    /// Signs `signed_prekey` with `identity` and builds a classic bundle.
    pub(crate) fn sign(identity: &IdentityKeyPair, signed_prekey: &SignedPreKey) -> Self {
        Self {
            identity_key: identity.public_key().to_bytes(),
            signed_prekey_id: signed_prekey.id(),
            signed_prekey: *signed_prekey.public_key(),
            signature: identity.sign(&signed_message(signed_prekey.public_key())),
            kem_prekey: None,
            one_time_prekey: None,
        }
    }

    /// The same bundle with this one-time prekey (for example, one that a
    /// directory server hands out with the signed part).
    #[must_use]
    pub fn with_one_time_prekey(mut self, id: u32, key: PublicKey) -> Self {
        self.one_time_prekey = Some((id, key));
        self
    }

    /// The same bundle without a one-time prekey.
    #[must_use]
    pub fn without_one_time_prekey(mut self) -> Self {
        self.one_time_prekey = None;
        self
    }

    /// The same bundle as a post-quantum one (0x16) carrying this signed KEM
    /// prekey (for example, a one-time KEM prekey that a directory server
    /// hands out, or the last-resort one when it has none left).
    #[must_use]
    pub fn with_kem_prekey(mut self, kem_prekey: SignedKemPreKey) -> Self {
        self.kem_prekey = Some(kem_prekey);
        self
    }

    /// The same bundle as a classic one (0x14), without its KEM prekey. Its
    /// signature still verifies: this is the downgrade that anyone on the
    /// path can make, and the reason an initiator refuses classic bundles
    /// by default ([`Error::PostQuantumRequired`], [SPEC §3b](crate::spec)).
    #[must_use]
    pub fn without_kem_prekey(mut self) -> Self {
        self.kem_prekey = None;
        self
    }

    /// Parses either kind of bundle (0x14 or 0x16, by its kind byte). It
    /// checks structure only; see [`verify`](Self::verify).
    ///
    /// # Errors
    /// [`Error::Malformed`] with the first fault in wire order (a
    /// `kpk_kind` other than 0x00 or 0x01 is [`DecodeError::BadFlag`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }

    /// Parses a post-quantum bundle (0x16) only: a classic one is
    /// [`DecodeError::BadKind`].
    ///
    /// ```
    /// use cliquet::{Account, DecodeError, Error, PreKeyBundle};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
    /// let bob = Account::new(&mut rng);
    /// let classic = bob.classic_bundle(None)?.encode();
    /// assert_eq!(
    ///     PreKeyBundle::decode_post_quantum(&classic),
    ///     Err(Error::Malformed(DecodeError::BadKind))
    /// );
    /// assert!(PreKeyBundle::decode_post_quantum(&bob.bundle(None)?.encode()).is_ok());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_post_quantum(bytes: &[u8]) -> Result<Self, Error> {
        Reader::new(bytes).kind(kind::PQ_BUNDLE)?;
        Self::decode_exact(bytes)
    }
}

impl Codec for PreKeyBundle {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let kind = r.u8()?;
        if kind != kind::BUNDLE && kind != kind::PQ_BUNDLE {
            return Err(DecodeError::BadKind.into());
        }
        let identity_key = r.array()?;
        let signed_prekey_id = r.u32_be()?;
        let signed_prekey = PublicKey::from_bytes(r.array()?);
        let signature = r.array()?;
        let kem_prekey = if kind == kind::PQ_BUNDLE {
            Some(SignedKemPreKey::read(r)?)
        } else {
            None
        };
        let one_time_prekey = if r.flag()? {
            Some((r.u32_be()?, PublicKey::from_bytes(r.array()?)))
        } else {
            None
        };
        Ok(Self {
            identity_key,
            signed_prekey_id,
            signed_prekey,
            signature,
            kem_prekey,
            one_time_prekey,
        })
    }

    fn write(&self, w: &mut impl Writer) {
        w.put_u8(if self.kem_prekey.is_some() {
            kind::PQ_BUNDLE
        } else {
            kind::BUNDLE
        });
        w.put(&self.identity_key);
        w.put_u32_be(self.signed_prekey_id);
        w.put(self.signed_prekey.as_bytes());
        w.put(&self.signature);
        if let Some(kem_prekey) = &self.kem_prekey {
            kem_prekey.write(w);
        }
        w.put_flag(self.one_time_prekey.is_some());
        if let Some((id, key)) = &self.one_time_prekey {
            w.put_u32_be(*id);
            w.put(key.as_bytes());
        }
    }
}

impl PreKeyBundle {
    /// The wire format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::PQ_LEN_WITH_ONE_TIME_PREKEY);
        self.write(&mut out);
        out
    }

    /// Checks the identity key (§1), the signed-prekey signature with strict
    /// Ed25519 verification (§2), and for a post-quantum bundle the
    /// KEM-prekey signature and FIPS 203's modulus check of its key (§2b).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an identity key that does not decompress, is
    /// not canonical or has small order, or a KEM prekey that fails the
    /// modulus check; [`Error::BadSignature`] if a signature does not verify
    /// strictly.
    pub fn verify(&self) -> Result<VerifiedBundle, Error> {
        let verifier = Verifier::from_bytes(&self.identity_key)?;
        verifier.verify(&signed_message(&self.signed_prekey), &self.signature)?;
        if let Some(kem_prekey) = &self.kem_prekey {
            kem_prekey.verify(&verifier)?;
        }
        Ok(VerifiedBundle {
            identity_key: *verifier.key(),
            signed_prekey_id: self.signed_prekey_id,
            signed_prekey: self.signed_prekey,
            kem_prekey: self.kem_prekey.as_ref().map(|k| (k.id, k.key.clone())),
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

    /// The signed KEM prekey of a post-quantum bundle.
    pub const fn kem_prekey(&self) -> Option<&SignedKemPreKey> {
        self.kem_prekey.as_ref()
    }

    /// Whether this is a post-quantum bundle (0x16).
    pub const fn is_post_quantum(&self) -> bool {
        self.kem_prekey.is_some()
    }
}

impl fmt::Debug for PreKeyBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreKeyBundle")
            .field("identity_key", &Hex(&self.identity_key))
            .field("signed_prekey_id", &self.signed_prekey_id)
            .field("signed_prekey", &self.signed_prekey)
            .field("kem_prekey", &self.kem_prekey)
            .field("one_time_prekey", &self.one_time_prekey)
            .finish_non_exhaustive()
    }
}

/// A bundle whose identity key, signatures and KEM prekey were checked: the
/// only input [`Session::initiate`](crate::Session::initiate) accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    identity_key: IdentityKey,
    signed_prekey_id: u32,
    signed_prekey: PublicKey,
    kem_prekey: Option<(u32, KemPublicKey)>,
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

    /// The KEM prekey's id and encapsulation key, for a post-quantum bundle.
    pub fn kem_prekey(&self) -> Option<(u32, &KemPublicKey)> {
        self.kem_prekey.as_ref().map(|(id, key)| (*id, key))
    }

    /// Whether the bundle was post-quantum (0x16): a session from it runs
    /// PQXDH.
    pub const fn is_post_quantum(&self) -> bool {
        self.kem_prekey.is_some()
    }
}

/// What the identity key signs: `"cliquet/v1/signed-prekey" || SPK_pub`.
fn signed_message(signed_prekey: &PublicKey) -> [u8; LABEL_SIGNED_PREKEY.len() + 32] {
    let mut m = ArrayBuf::new();
    m.put(LABEL_SIGNED_PREKEY);
    m.put(signed_prekey.as_bytes());
    m.into_array()
}

/// What the identity key signs for a KEM prekey:
/// `"cliquet/v1/kem-prekey" || kpk_kind || u32be(kpk_id) || KPK_pub`.
fn kem_signed_message(
    kind: KemPreKeyKind,
    id: u32,
    key: &KemPublicKey,
) -> [u8; LABEL_KEM_PREKEY.len() + 1 + 4 + KemPublicKey::LEN] {
    let mut m = ArrayBuf::new();
    m.put(LABEL_KEM_PREKEY);
    m.put_u8(kind.to_byte());
    m.put_u32_be(id);
    m.put(key.as_bytes());
    m.into_array()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> (Vec<u8>, PreKeyBundle) {
        let ik = IdentityKeyPair::from_secret_bytes(&[1; 32]);
        let spk = SignedPreKey::from_secret_bytes(3, &[2; 32]);
        let b = PreKeyBundle::sign(&ik, &spk);
        (b.encode(), b)
    }

    #[test]
    fn s2_round_trip_and_lengths() {
        let (bytes, b) = bundle();
        assert_eq!(bytes.len(), 134);
        assert_eq!(PreKeyBundle::decode(&bytes).ok(), Some(b.clone()));
        let with = b.with_one_time_prekey(9, PublicKey::from_bytes([5; 32]));
        let bytes = with.encode();
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
