//! Messages (SPEC §5, §6): `Message`, `PreKeyMessage`, `EncryptedHeaderMessage`.

use alloc::vec::Vec;

use crate::codec::Reader;
use crate::crypto::TAG_LEN;
use crate::keys::{Hex, PublicKey};
use crate::session::SessionId;
use crate::{DecodeError, Error};

pub(crate) const KIND_MESSAGE: u8 = 0x11;
pub(crate) const KIND_PREKEY_MESSAGE: u8 = 0x12;
pub(crate) const KIND_ENCRYPTED_HEADER_MESSAGE: u8 = 0x13;

/// Length of a `Message` header: kind, ratchet key, PN, N.
pub(crate) const HEADER_LEN: usize = 1 + 32 + 4 + 4;
/// Length of an encrypted header: nonce, 40-byte header, tag (§6).
pub(crate) const ENC_HEADER_LEN: usize = 12 + 40 + TAG_LEN;
/// Length of an `EncryptedHeaderMessage` header: kind and encrypted header.
pub(crate) const EH_HEADER_LEN: usize = 1 + ENC_HEADER_LEN;
/// Length of the per-message salt (§4).
pub(crate) const SALT_LEN: usize = 16;
/// The shortest ciphertext: salt and tag.
pub(crate) const MIN_CIPHERTEXT_LEN: usize = SALT_LEN + TAG_LEN;

/// Checks that what follows a header is long enough to be a ciphertext.
fn ciphertext(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    if r.remaining() < MIN_CIPHERTEXT_LEN {
        return Err(DecodeError::ShortCiphertext);
    }
    r.rest();
    Ok(())
}

/// A Double Ratchet message with a plaintext header (SPEC §5):
///
/// ```text
/// 0x11 || ratchet_pub (32) || u32be(PN) || u32be(N) || ciphertext (>= 32)
/// ciphertext = salt (16) || AES-256-GCM(plaintext) || tag (16)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    bytes: Vec<u8>,
    ratchet_key: PublicKey,
    previous_chain_length: u32,
    index: u32,
}

impl Message {
    /// Parses the wire format (structure only: no key is checked).
    ///
    /// # Errors
    /// [`Error::Malformed`]: wrong kind byte, truncated header, or a
    /// ciphertext shorter than 32 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        r.kind(KIND_MESSAGE)?;
        let ratchet_key = PublicKey::from_bytes(r.array()?);
        let previous_chain_length = r.u32_be()?;
        let index = r.u32_be()?;
        ciphertext(&mut r)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            ratchet_key,
            previous_chain_length,
            index,
        })
    }

    /// Assembles a message whose `bytes` start with the header of these fields.
    pub(crate) const fn from_parts(
        bytes: Vec<u8>,
        ratchet_key: PublicKey,
        previous_chain_length: u32,
        index: u32,
    ) -> Self {
        Self {
            bytes,
            ratchet_key,
            previous_chain_length,
            index,
        }
    }

    /// The sender's ratchet public key.
    pub const fn ratchet_key(&self) -> &PublicKey {
        &self.ratchet_key
    }

    /// `PN`: how many messages the sender sent in its previous chain.
    pub const fn previous_chain_length(&self) -> u32 {
        self.previous_chain_length
    }

    /// `N`: this message's number in its chain.
    pub const fn index(&self) -> u32 {
        self.index
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoding, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The first 41 bytes: kind, ratchet key, PN, N.
    pub(crate) fn header_bytes(&self) -> &[u8] {
        self.bytes.get(..HEADER_LEN).unwrap_or_default()
    }

    /// Salt, AEAD ciphertext and tag.
    pub(crate) fn ciphertext(&self) -> &[u8] {
        self.bytes.get(HEADER_LEN..).unwrap_or_default()
    }
}

impl core::fmt::Debug for Message {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message")
            .field("ratchet_key", &self.ratchet_key)
            .field("previous_chain_length", &self.previous_chain_length)
            .field("index", &self.index)
            .field("ciphertext_len", &self.ciphertext().len())
            .finish()
    }
}

/// A Double Ratchet message whose header is encrypted (SPEC §6):
///
/// ```text
/// 0x13 || enc_header (68) || ciphertext (>= 32)
/// enc_header = nonce (12) || AES-256-GCM(HK, ratchet_pub || u32be(PN) || u32be(N)) || tag (16)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedHeaderMessage {
    bytes: Vec<u8>,
}

impl EncryptedHeaderMessage {
    /// Parses the wire format (structure only).
    ///
    /// # Errors
    /// [`Error::Malformed`]: wrong kind byte, truncated header, or a
    /// ciphertext shorter than 32 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        r.kind(KIND_ENCRYPTED_HEADER_MESSAGE)?;
        r.take(ENC_HEADER_LEN)?;
        ciphertext(&mut r)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    pub(crate) const fn from_bytes_unchecked(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoding, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The first 69 bytes: kind and encrypted header.
    pub(crate) fn header_bytes(&self) -> &[u8] {
        self.bytes.get(..EH_HEADER_LEN).unwrap_or_default()
    }

    /// Nonce, encrypted header and its tag.
    pub(crate) fn encrypted_header(&self) -> &[u8] {
        self.bytes.get(1..EH_HEADER_LEN).unwrap_or_default()
    }

    /// Salt, AEAD ciphertext and tag.
    pub(crate) fn ciphertext(&self) -> &[u8] {
        self.bytes.get(EH_HEADER_LEN..).unwrap_or_default()
    }
}

impl core::fmt::Debug for EncryptedHeaderMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptedHeaderMessage")
            .field("ciphertext_len", &self.ciphertext().len())
            .finish_non_exhaustive()
    }
}

/// The Double Ratchet message inside a [`PreKeyMessage`]: plain header or
/// encrypted header, as the session uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RatchetMessage {
    /// A `Message` (0x11).
    Plain(Message),
    /// An `EncryptedHeaderMessage` (0x13).
    EncryptedHeader(EncryptedHeaderMessage),
}

impl RatchetMessage {
    /// Parses a `Message` or an `EncryptedHeaderMessage` by its kind byte.
    ///
    /// # Errors
    /// [`Error::Malformed`]; an empty input is `Truncated`, any other kind
    /// byte `BadKind`.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        match bytes.first() {
            None => Err(DecodeError::Truncated.into()),
            Some(&KIND_MESSAGE) => Message::decode(bytes).map(Self::Plain),
            Some(&KIND_ENCRYPTED_HEADER_MESSAGE) => {
                EncryptedHeaderMessage::decode(bytes).map(Self::EncryptedHeader)
            }
            Some(_) => Err(DecodeError::BadKind.into()),
        }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Plain(m) => m.as_bytes(),
            Self::EncryptedHeader(m) => m.as_bytes(),
        }
    }

    /// The encoding, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Plain(m) => m.into_bytes(),
            Self::EncryptedHeader(m) => m.into_bytes(),
        }
    }

    /// Whether the header is encrypted.
    pub const fn has_encrypted_header(&self) -> bool {
        matches!(self, Self::EncryptedHeader(_))
    }
}

/// The first message(s) of a session, carrying what the responder needs for
/// X3DH (SPEC §5):
///
/// ```text
/// 0x12 || IK_A_pub (32) || EK_A_pub (32) || u32be(spk_id)
///      || flag (0x00 | 0x01) [|| u32be(opk_id)] || inner (Message or EncryptedHeaderMessage)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PreKeyMessage {
    identity_key: [u8; 32],
    base_key: PublicKey,
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    message: RatchetMessage,
}

impl PreKeyMessage {
    /// Parses the wire format (structure only: keys are checked when it is
    /// accepted or decrypted).
    ///
    /// # Errors
    /// [`Error::Malformed`] with the first fault in wire order, the inner
    /// message included.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        r.kind(KIND_PREKEY_MESSAGE)?;
        let identity_key = r.array()?;
        let base_key = PublicKey::from_bytes(r.array()?);
        let signed_prekey_id = r.u32_be()?;
        let one_time_prekey_id = if r.flag()? { Some(r.u32_be()?) } else { None };
        let message = RatchetMessage::decode(r.rest())?;
        Ok(Self {
            identity_key,
            base_key,
            signed_prekey_id,
            one_time_prekey_id,
            message,
        })
    }

    pub(crate) const fn new(
        identity_key: [u8; 32],
        base_key: PublicKey,
        signed_prekey_id: u32,
        one_time_prekey_id: Option<u32>,
        message: RatchetMessage,
    ) -> Self {
        Self {
            identity_key,
            base_key,
            signed_prekey_id,
            one_time_prekey_id,
            message,
        }
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let prefix = PreKeyPrefix::new(
            &self.identity_key,
            &self.base_key,
            self.signed_prekey_id,
            self.one_time_prekey_id,
        );
        let inner = self.message.as_bytes();
        let mut out = Vec::with_capacity(prefix.as_bytes().len() + inner.len());
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(inner);
        out
    }

    /// The initiator's identity key bytes (validated when the message is
    /// accepted).
    pub const fn identity_key_bytes(&self) -> &[u8; 32] {
        &self.identity_key
    }

    /// `EK_A`, the initiator's ephemeral (base) key: it names the session.
    pub const fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// The [`SessionId`] of the session this message belongs to: route a
    /// prekey message to the session with the same id, if you have one.
    pub fn session_id(&self) -> SessionId {
        SessionId::from_base_key(&self.base_key)
    }

    /// The responder's signed prekey id used.
    pub const fn signed_prekey_id(&self) -> u32 {
        self.signed_prekey_id
    }

    /// The responder's one-time prekey id used, if any.
    pub const fn one_time_prekey_id(&self) -> Option<u32> {
        self.one_time_prekey_id
    }

    /// The inner Double Ratchet message.
    pub const fn message(&self) -> &RatchetMessage {
        &self.message
    }
}

impl core::fmt::Debug for PreKeyMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreKeyMessage")
            .field("identity_key", &Hex(&self.identity_key))
            .field("base_key", &self.base_key)
            .field("signed_prekey_id", &self.signed_prekey_id)
            .field("one_time_prekey_id", &self.one_time_prekey_id)
            .field("message", &self.message)
            .finish()
    }
}

/// The encoded fields of a `PreKeyMessage` before its inner message.
pub(crate) struct PreKeyPrefix {
    buf: [u8; 1 + 32 + 32 + 4 + 1 + 4],
    len: usize,
}

impl PreKeyPrefix {
    pub(crate) fn new(
        identity_key: &[u8; 32],
        base_key: &PublicKey,
        signed_prekey_id: u32,
        one_time_prekey_id: Option<u32>,
    ) -> Self {
        let mut buf = [0u8; 74];
        let spk = signed_prekey_id.to_be_bytes();
        let opk = one_time_prekey_id.map(u32::to_be_bytes);
        let (flag, opk): (u8, &[u8]) = match &opk {
            None => (0, &[]),
            Some(id) => (1, id),
        };
        let parts: [&[u8]; 6] = [
            &[KIND_PREKEY_MESSAGE],
            identity_key,
            base_key.as_bytes(),
            &spk,
            &[flag],
            opk,
        ];
        crate::ratchet::write_parts(&mut buf, &parts);
        let len = parts.iter().map(|p| p.len()).sum();
        Self { buf, len }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Any message a session sends or receives, decoded by its kind byte.
///
/// ```
/// use cliquet::{AnyMessage, DecodeError, Error};
/// assert_eq!(AnyMessage::decode(&[0x14]), Err(Error::Malformed(DecodeError::BadKind)));
/// assert_eq!(AnyMessage::decode(&[]), Err(Error::Malformed(DecodeError::Truncated)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyMessage {
    /// A `Message` (0x11).
    Message(Message),
    /// An `EncryptedHeaderMessage` (0x13).
    EncryptedHeader(EncryptedHeaderMessage),
    /// A `PreKeyMessage` (0x12).
    PreKey(PreKeyMessage),
}

impl AnyMessage {
    /// Parses any message by its kind byte.
    ///
    /// # Errors
    /// [`Error::Malformed`], as for each message type.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        match bytes.first() {
            Some(&KIND_PREKEY_MESSAGE) => PreKeyMessage::decode(bytes).map(Self::PreKey),
            _ => RatchetMessage::decode(bytes).map(Self::from),
        }
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Message(m) => m.as_bytes().to_vec(),
            Self::EncryptedHeader(m) => m.as_bytes().to_vec(),
            Self::PreKey(m) => m.to_bytes(),
        }
    }

    /// The encoding, copying only for a prekey message.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Message(m) => m.into_bytes(),
            Self::EncryptedHeader(m) => m.into_bytes(),
            Self::PreKey(m) => m.to_bytes(),
        }
    }

    /// The kind byte.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::Message(_) => KIND_MESSAGE,
            Self::EncryptedHeader(_) => KIND_ENCRYPTED_HEADER_MESSAGE,
            Self::PreKey(_) => KIND_PREKEY_MESSAGE,
        }
    }
}

impl From<RatchetMessage> for AnyMessage {
    fn from(m: RatchetMessage) -> Self {
        match m {
            RatchetMessage::Plain(m) => Self::Message(m),
            RatchetMessage::EncryptedHeader(m) => Self::EncryptedHeader(m),
        }
    }
}

impl From<PreKeyMessage> for AnyMessage {
    fn from(m: PreKeyMessage) -> Self {
        Self::PreKey(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(ct: usize) -> Vec<u8> {
        let mut b = vec![KIND_MESSAGE];
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&3u32.to_be_bytes());
        b.extend_from_slice(&9u32.to_be_bytes());
        b.extend(core::iter::repeat_n(0xaa, ct));
        b
    }

    #[test]
    fn s5_message_fields_and_round_trip() {
        let bytes = message(40);
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(
            (
                m.ratchet_key().to_bytes(),
                m.previous_chain_length(),
                m.index()
            ),
            ([7; 32], 3, 9)
        );
        assert_eq!(m.header_bytes(), &bytes[..41]);
        assert_eq!(m.ciphertext().len(), 40);
        assert_eq!(AnyMessage::decode(&bytes).unwrap().to_bytes(), bytes);
    }

    #[test]
    fn s5_message_structure_errors() {
        let ok = message(32);
        assert!(Message::decode(&ok).is_ok());
        for n in 0..HEADER_LEN {
            assert_eq!(
                Message::decode(&ok[..n]),
                Err(Error::Malformed(DecodeError::Truncated)),
                "{n}"
            );
        }
        for n in HEADER_LEN..ok.len() {
            assert_eq!(
                Message::decode(&ok[..n]),
                Err(Error::Malformed(DecodeError::ShortCiphertext)),
                "{n}"
            );
        }
        let mut bad = ok.clone();
        bad[0] = KIND_ENCRYPTED_HEADER_MESSAGE;
        assert_eq!(
            Message::decode(&bad),
            Err(Error::Malformed(DecodeError::BadKind))
        );
    }

    #[test]
    fn s5_prekey_message_round_trip_and_errors() {
        let inner = message(32);
        for opk in [None, Some(5u32)] {
            let m = PreKeyMessage::new(
                [1; 32],
                PublicKey::from_bytes([2; 32]),
                4,
                opk,
                RatchetMessage::decode(&inner).unwrap(),
            );
            let bytes = m.to_bytes();
            assert_eq!(PreKeyMessage::decode(&bytes).as_ref(), Ok(&m));
            assert_eq!(
                AnyMessage::decode(&bytes),
                Ok(AnyMessage::PreKey(m.clone()))
            );
            let prefix = bytes.len() - inner.len();
            for n in 0..prefix {
                assert_eq!(
                    PreKeyMessage::decode(&bytes[..n]),
                    Err(Error::Malformed(DecodeError::Truncated)),
                    "{n}"
                );
            }
            let mut bad = bytes.clone();
            bad[69] = 2;
            assert_eq!(
                PreKeyMessage::decode(&bad),
                Err(Error::Malformed(DecodeError::BadFlag))
            );
            let mut bad = bytes.clone();
            bad[prefix] = KIND_PREKEY_MESSAGE;
            assert_eq!(
                PreKeyMessage::decode(&bad),
                Err(Error::Malformed(DecodeError::BadKind))
            );
        }
    }

    #[test]
    fn s6_encrypted_header_message_structure() {
        let mut b = vec![KIND_ENCRYPTED_HEADER_MESSAGE];
        b.extend(core::iter::repeat_n(1, ENC_HEADER_LEN + MIN_CIPHERTEXT_LEN));
        let m = EncryptedHeaderMessage::decode(&b).unwrap();
        assert_eq!(m.header_bytes(), &b[..69]);
        assert_eq!(m.encrypted_header(), &b[1..69]);
        assert_eq!(m.ciphertext().len(), 32);
        assert_eq!(
            EncryptedHeaderMessage::decode(&b[..b.len() - 1]),
            Err(Error::Malformed(DecodeError::ShortCiphertext))
        );
        assert_eq!(
            EncryptedHeaderMessage::decode(&b[..68]),
            Err(Error::Malformed(DecodeError::Truncated))
        );
    }
}
