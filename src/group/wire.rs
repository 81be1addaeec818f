//! The two wire types of sender keys ([SPEC §10](crate::spec)): the distribution of a
//! sender chain (0x19) and the group message (0x1A).

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::keys::{ChainKey, SIGNATURE_LEN, SigningPublicKey};
use crate::codec::{Codec, Reader, Writer, kind};
use crate::keys::Hex;
use crate::{DecodeError, Error};

/// Salt (16) and AES-GCM tag (16): the shortest ciphertext.
const MIN_CIPHERTEXT_LEN: usize = 32;

/// A group's id: 16 bytes chosen by the application (a UUID, say).
pub(crate) type GroupId = [u8; 16];

/// The state of a sender chain at some iteration, as its owner hands it to
/// each member of the group ([SPEC §10](crate::spec), kind `0x19`, 89 bytes):
///
/// ```text
/// 0x19 || group_id (16) || u32be(chain_id) || u32be(iteration) || CK (32) || GSK_pub (32)
/// ```
///
/// With it a member reads the chain's messages from `iteration` on, never
/// earlier ones. It carries the chain key: send it only as the plaintext of
/// a pairwise message ([`Session::encrypt`](crate::Session::encrypt)) to
/// each member the application chooses, never in the clear.
///
/// A value of this type is always valid: [`decode`](Self::decode) checks the
/// structure, the signing key (like an identity key, [SPEC §1](crate::spec)) and refuses
/// iteration 2^32 − 1, on which nothing could be sent.
///
/// ```
/// use cliquet::{Error, GroupSession, SenderKeyDistribution, SessionConfig};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
/// let mut group = GroupSession::new([7; 16], SessionConfig::default());
/// let distribution = group.rotate(&mut rng)?;
/// let bytes = distribution.encode();
/// assert_eq!(bytes.len(), SenderKeyDistribution::LEN);
/// let decoded = SenderKeyDistribution::decode(&bytes[..])?;
/// assert_eq!((decoded.chain_id(), decoded.iteration()), (1, 0));
/// // Debug never shows the chain key.
/// assert!(!format!("{decoded:?}").contains(&format!("{:02x}{:02x}", bytes[25], bytes[26])));
/// # Ok::<(), Error>(())
/// ```
pub struct SenderKeyDistribution {
    group_id: GroupId,
    chain_id: u32,
    iteration: u32,
    chain_key: ChainKey,
    signing_key: SigningPublicKey,
}

impl SenderKeyDistribution {
    /// The encoded length: 89 bytes.
    pub const LEN: usize = 1 + 16 + 4 + 4 + 32 + 32;

    pub(crate) const fn new(
        group_id: GroupId,
        chain_id: u32,
        iteration: u32,
        chain_key: ChainKey,
        signing_key: SigningPublicKey,
    ) -> Self {
        Self {
            group_id,
            chain_id,
            iteration,
            chain_key,
            signing_key,
        }
    }

    /// Decodes and checks a distribution ([SPEC §10](crate::spec)).
    ///
    /// # Errors
    /// - [`Error::Malformed`]: [`DecodeError::Truncated`] for fewer than 89
    ///   bytes, [`DecodeError::Trailing`] for more, [`DecodeError::BadKind`]
    ///   for a kind byte other than `0x19`;
    /// - [`Error::InvalidKey`]: `GSK_pub` does not decompress, is not
    ///   canonically encoded or has small order, or `iteration` is
    ///   2^32 − 1.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let distribution = Self::decode_exact(bytes)?;
        if distribution.iteration == u32::MAX {
            return Err(Error::InvalidKey);
        }
        Ok(distribution)
    }
}

/// [SPEC §10](crate::spec) orders the checks: structure (trailing bytes included) before
/// the signing key, so the exact decode finishes the reader first.
impl Codec for SenderKeyDistribution {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Self::read_fields(r)?.validate()
    }

    fn decode_exact(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let fields = Self::read_fields(&mut r)?;
        r.finish()?;
        fields.validate()
    }

    fn write(&self, w: &mut impl Writer) {
        w.put(self.encode().as_slice());
    }
}

/// A distribution's fields before its signing key is validated.
struct DistributionFields {
    group_id: GroupId,
    chain_id: u32,
    iteration: u32,
    chain_key: ChainKey,
    signing_key: [u8; 32],
}

impl DistributionFields {
    fn validate(self) -> Result<SenderKeyDistribution, Error> {
        Ok(SenderKeyDistribution::new(
            self.group_id,
            self.chain_id,
            self.iteration,
            self.chain_key,
            SigningPublicKey::from_bytes(&self.signing_key)?,
        ))
    }
}

impl SenderKeyDistribution {
    fn read_fields(r: &mut Reader<'_>) -> Result<DistributionFields, DecodeError> {
        r.kind(kind::DISTRIBUTION)?;
        Ok(DistributionFields {
            group_id: r.array()?,
            chain_id: r.u32_be()?,
            iteration: r.u32_be()?,
            chain_key: ChainKey::from_bytes(Zeroizing::new(r.array()?)),
            signing_key: r.array()?,
        })
    }

    /// The 89-byte encoding. It holds the chain key: keep it secret.
    pub fn encode(&self) -> Zeroizing<[u8; Self::LEN]> {
        let mut out = Zeroizing::new([0u8; Self::LEN]);
        let parts: [&[u8]; 6] = [
            &[kind::DISTRIBUTION],
            &self.group_id,
            &self.chain_id.to_be_bytes(),
            &self.iteration.to_be_bytes(),
            self.chain_key.as_bytes(),
            self.signing_key.as_bytes(),
        ];
        out.iter_mut()
            .zip(parts.into_iter().flatten())
            .for_each(|(d, s)| *d = *s);
        out
    }

    /// The group's id.
    pub const fn group_id(&self) -> &[u8; 16] {
        &self.group_id
    }

    /// The chain's id (numbered from 1 by its owner, per group).
    pub const fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The iteration of the first message a receiver of this distribution
    /// can read.
    pub const fn iteration(&self) -> u32 {
        self.iteration
    }

    /// `GSK_pub`, the Ed25519 key that signs the chain's messages.
    pub const fn signing_key_bytes(&self) -> &[u8; 32] {
        self.signing_key.as_bytes()
    }

    pub(crate) const fn chain_key(&self) -> &ChainKey {
        &self.chain_key
    }

    pub(crate) const fn signing_key(&self) -> &SigningPublicKey {
        &self.signing_key
    }
}

impl fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("group_id", &Hex(&self.group_id))
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .field("signing_key", &Hex(self.signing_key.as_bytes()))
            .finish_non_exhaustive()
    }
}

/// A message to a group, encrypted once with its sender's chain ([SPEC §10](crate::spec),
/// kind `0x1A`):
///
/// ```text
/// 0x1A || group_id (16) || u32be(chain_id) || u32be(iteration)       header: 25 bytes
///      || salt (16) || AES-256-GCM(plaintext, aad = header) || tag (16)   ciphertext: >= 32
///      || signature (64)                     Ed25519 by GSK over every byte before it
/// ```
///
/// A group message does not say who sent it: the receiver names the sender
/// ([`GroupSession::decrypt`](crate::GroupSession::decrypt)). [`decode`](Self::decode)
/// checks the structure only; the signature and the ciphertext are checked
/// by the decrypt.
///
/// ```
/// use cliquet::{DecodeError, Error, GroupMessage};
///
/// // 25-byte header and a 64-byte signature, but no ciphertext.
/// let mut bytes = vec![0x1a; 1];
/// bytes.resize(89, 0);
/// assert_eq!(
///     GroupMessage::decode(&bytes),
///     Err(Error::Malformed(DecodeError::ShortCiphertext))
/// );
/// bytes.resize(121, 0);
/// let message = GroupMessage::decode(&bytes)?;
/// assert_eq!((message.chain_id(), message.iteration()), (0, 0));
/// assert_eq!(message.as_bytes(), &bytes[..]);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GroupMessage {
    bytes: Vec<u8>,
    group_id: GroupId,
    chain_id: u32,
    iteration: u32,
}

impl GroupMessage {
    /// Length of the header (kind, group id, chain id, iteration).
    pub const HEADER_LEN: usize = 1 + 16 + 4 + 4;
    /// The shortest group message: header, salt, tag and signature (an empty
    /// plaintext), 121 bytes.
    pub const MIN_LEN: usize = Self::HEADER_LEN + MIN_CIPHERTEXT_LEN + SIGNATURE_LEN;
    /// What a group message adds to its plaintext: 121 bytes.
    pub const OVERHEAD: usize = Self::MIN_LEN;

    /// Decodes a group message's structure (no keys, no cryptography).
    ///
    /// # Errors
    /// [`Error::Malformed`]: [`DecodeError::Truncated`] if the 25-byte
    /// header is cut, [`DecodeError::BadKind`] for a kind byte other than
    /// `0x1A`, [`DecodeError::ShortCiphertext`] if fewer than 32 bytes of
    /// ciphertext come before the 64-byte signature (a message of 25 to 120
    /// bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }
}

/// The signed ciphertext runs to the end of the input, so the reader takes
/// the rest: nothing can trail.
impl Codec for GroupMessage {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let bytes = r.rest();
        let mut r = Reader::new(bytes);
        r.kind(kind::GROUP_MESSAGE)?;
        let group_id = r.array()?;
        let chain_id = r.u32_be()?;
        let iteration = r.u32_be()?;
        if r.remaining() < MIN_CIPHERTEXT_LEN + SIGNATURE_LEN {
            return Err(DecodeError::ShortCiphertext.into());
        }
        Ok(Self {
            bytes: bytes.to_vec(),
            group_id,
            chain_id,
            iteration,
        })
    }

    fn write(&self, w: &mut impl Writer) {
        w.put(&self.bytes);
    }
}

impl GroupMessage {
    /// A message whose bytes this module just wrote.
    pub(crate) const fn from_parts(
        bytes: Vec<u8>,
        group_id: GroupId,
        chain_id: u32,
        iteration: u32,
    ) -> Self {
        Self {
            bytes,
            group_id,
            chain_id,
            iteration,
        }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoding, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The group's id.
    pub const fn group_id(&self) -> &[u8; 16] {
        &self.group_id
    }

    /// The id of the sender chain that encrypted it.
    pub const fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// Its iteration (index) in that chain.
    pub const fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The 25-byte header: the AEAD's associated data.
    pub(crate) fn header(&self) -> &[u8] {
        self.bytes.get(..Self::HEADER_LEN).unwrap_or_default()
    }

    /// `salt || AEAD output`: between the header and the signature.
    pub(crate) fn ciphertext(&self) -> &[u8] {
        let end = self.signed_len();
        self.bytes.get(Self::HEADER_LEN..end).unwrap_or_default()
    }

    /// Everything the signature covers.
    pub(crate) fn signed(&self) -> &[u8] {
        self.bytes.get(..self.signed_len()).unwrap_or_default()
    }

    /// The last 64 bytes.
    pub(crate) fn signature(&self) -> [u8; SIGNATURE_LEN] {
        self.bytes
            .last_chunk::<SIGNATURE_LEN>()
            .copied()
            .unwrap_or([0; SIGNATURE_LEN])
    }

    fn signed_len(&self) -> usize {
        self.bytes.len().saturating_sub(SIGNATURE_LEN)
    }
}

impl fmt::Debug for GroupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupMessage")
            .field("group_id", &Hex(&self.group_id))
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .field("len", &self.bytes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s10_group_message_needs_a_full_header() {
        for len in 0..GroupMessage::HEADER_LEN {
            let mut bytes = vec![0u8; len];
            if let Some(b) = bytes.first_mut() {
                *b = kind::GROUP_MESSAGE;
            }
            assert_eq!(
                GroupMessage::decode(&bytes),
                Err(Error::Malformed(DecodeError::Truncated)),
                "{len}"
            );
        }
        // Short of the signature and a minimal ciphertext: short_ciphertext.
        for len in GroupMessage::HEADER_LEN..GroupMessage::MIN_LEN {
            let mut bytes = vec![0u8; len];
            bytes[0] = kind::GROUP_MESSAGE;
            assert_eq!(
                GroupMessage::decode(&bytes),
                Err(Error::Malformed(DecodeError::ShortCiphertext)),
                "{len}"
            );
        }
    }

    #[test]
    fn s10_distribution_is_exactly_89_bytes() {
        assert_eq!(SenderKeyDistribution::LEN, 89);
        assert_eq!(
            SenderKeyDistribution::decode(&[]).err(),
            Some(Error::Malformed(DecodeError::Truncated))
        );
        assert_eq!(
            SenderKeyDistribution::decode(&[0x1a]).err(),
            Some(Error::Malformed(DecodeError::BadKind))
        );
    }
}
