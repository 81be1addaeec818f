//! Double Ratchet messages ([SPEC §5](crate::spec), §6).

use alloc::vec::Vec;
use core::fmt;

use super::layout::{
    EH_MESSAGE_HEADER_LEN, ENC_HEADER_LEN, HEADER_LEN, MESSAGE_HEADER_LEN, ciphertext,
};
use crate::codec::{ArrayBuf, Codec, Reader, Writer, kind};
use crate::error::{DecodeError, Error};
use crate::keys::PublicKey;

/// A message header: `ratchet_pub (32) || u32be(PN) || u32be(N)` (§4, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) previous_chain_length: u32,
    pub(crate) index: u32,
}

impl Header {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            ratchet_key: PublicKey::from_bytes(r.array()?),
            previous_chain_length: r.u32_be()?,
            index: r.u32_be()?,
        })
    }

    pub(crate) fn write(&self, w: &mut impl Writer) {
        w.put(self.ratchet_key.as_bytes());
        w.put_u32_be(self.previous_chain_length);
        w.put_u32_be(self.index);
    }

    /// The 40-byte header plaintext.
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = ArrayBuf::<HEADER_LEN>::new();
        self.write(&mut out);
        out.into_array()
    }

    /// A decrypted header plaintext (`None` cannot happen: the array holds
    /// exactly one header).
    pub(crate) fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Option<Self> {
        Self::read(&mut Reader::new(bytes)).ok()
    }
}

/// The bytes of a message that may sit at the end of a prekey message's
/// encoding: a prekey message and its inner message share one buffer, so
/// neither decoding nor encoding copies the ciphertext twice.
#[derive(Clone)]
struct Frame {
    bytes: Vec<u8>,
    /// Where this message starts in `bytes` (0 unless it is inside a prekey
    /// message).
    start: usize,
}

impl Frame {
    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }

    fn into_bytes(mut self) -> Vec<u8> {
        self.bytes.drain(..self.start);
        self.bytes
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Frame {}

/// A Double Ratchet message with a plaintext header ([SPEC §5](crate::spec)):
///
/// ```text
/// 0x11 || ratchet_pub (32) || u32be(PN) || u32be(N) || ciphertext (>= 32)
/// ciphertext = salt (16) || AES-256-GCM(plaintext) || tag (16)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    frame: Frame,
    header: Header,
}

impl Message {
    /// Parses the wire format (structure only: no key is checked).
    ///
    /// # Errors
    /// [`Error::Malformed`]: wrong kind byte, truncated header, or a
    /// ciphertext shorter than 32 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }

    /// Checks the structure of an encoded message; returns its header.
    fn check(bytes: &[u8]) -> Result<Header, DecodeError> {
        let mut r = Reader::new(bytes);
        r.kind(kind::MESSAGE)?;
        let header = Header::read(&mut r)?;
        ciphertext(&mut r)?;
        Ok(header)
    }

    /// A message whose encoding, with this header, starts at `start` of
    /// `bytes` (built by the ratchet or checked by a decoder).
    pub(crate) const fn from_encoded(bytes: Vec<u8>, start: usize, header: Header) -> Self {
        Self {
            frame: Frame { bytes, start },
            header,
        }
    }

    /// The sender's ratchet public key.
    pub const fn ratchet_key(&self) -> &PublicKey {
        &self.header.ratchet_key
    }

    /// `PN`: how many messages the sender sent in its previous chain.
    pub const fn previous_chain_length(&self) -> u32 {
        self.header.previous_chain_length
    }

    /// `N`: this message's number in its chain.
    pub const fn index(&self) -> u32 {
        self.header.index
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.frame.as_bytes()
    }

    /// The encoding, without a copy (unless the message was taken out of a
    /// prekey message).
    pub fn into_bytes(self) -> Vec<u8> {
        self.frame.into_bytes()
    }

    pub(crate) const fn header(&self) -> &Header {
        &self.header
    }

    /// The first 41 bytes: kind, ratchet key, PN, N.
    pub(crate) fn header_bytes(&self) -> &[u8] {
        self.as_bytes()
            .get(..MESSAGE_HEADER_LEN)
            .unwrap_or_default()
    }

    /// Salt, AEAD ciphertext and tag.
    pub(crate) fn ciphertext(&self) -> &[u8] {
        self.as_bytes()
            .get(MESSAGE_HEADER_LEN..)
            .unwrap_or_default()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("ratchet_key", &self.header.ratchet_key)
            .field("previous_chain_length", &self.header.previous_chain_length)
            .field("index", &self.header.index)
            .field("ciphertext_len", &self.ciphertext().len())
            .finish()
    }
}

/// A Double Ratchet message whose header is encrypted ([SPEC §6](crate::spec)):
///
/// ```text
/// 0x13 || enc_header (68) || ciphertext (>= 32)
/// enc_header = nonce (12) || AES-256-GCM(HK, ratchet_pub || u32be(PN) || u32be(N)) || tag (16)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedHeaderMessage {
    frame: Frame,
    encrypted_header: [u8; ENC_HEADER_LEN],
}

impl EncryptedHeaderMessage {
    /// Parses the wire format (structure only).
    ///
    /// # Errors
    /// [`Error::Malformed`]: wrong kind byte, truncated header, or a
    /// ciphertext shorter than 32 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }

    fn check(bytes: &[u8]) -> Result<[u8; ENC_HEADER_LEN], DecodeError> {
        let mut r = Reader::new(bytes);
        r.kind(kind::ENCRYPTED_HEADER_MESSAGE)?;
        let encrypted_header = r.array()?;
        ciphertext(&mut r)?;
        Ok(encrypted_header)
    }

    /// A message whose encoding starts at `start` of `bytes`.
    pub(crate) const fn from_encoded(
        bytes: Vec<u8>,
        start: usize,
        encrypted_header: [u8; ENC_HEADER_LEN],
    ) -> Self {
        Self {
            frame: Frame { bytes, start },
            encrypted_header,
        }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.frame.as_bytes()
    }

    /// The encoding, without a copy (unless the message was taken out of a
    /// prekey message).
    pub fn into_bytes(self) -> Vec<u8> {
        self.frame.into_bytes()
    }

    /// The first 69 bytes: kind and encrypted header.
    pub(crate) fn header_bytes(&self) -> &[u8] {
        self.as_bytes()
            .get(..EH_MESSAGE_HEADER_LEN)
            .unwrap_or_default()
    }

    /// Nonce, encrypted header and its tag.
    pub(crate) const fn encrypted_header(&self) -> &[u8; ENC_HEADER_LEN] {
        &self.encrypted_header
    }

    /// Salt, AEAD ciphertext and tag.
    pub(crate) fn ciphertext(&self) -> &[u8] {
        self.as_bytes()
            .get(EH_MESSAGE_HEADER_LEN..)
            .unwrap_or_default()
    }
}

impl fmt::Debug for EncryptedHeaderMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedHeaderMessage")
            .field("ciphertext_len", &self.ciphertext().len())
            .finish_non_exhaustive()
    }
}

/// A Double Ratchet message: plain header or encrypted header, as the
/// session uses (alone, or inside a [`PreKeyMessage`](crate::PreKeyMessage)).
///
/// It may grow (a new message kind of the ratchet), so a `match` on it
/// needs a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
        Self::decode_exact(bytes)
    }

    /// Checks the message at the end of an encoding, before it is copied.
    pub(crate) fn check(bytes: &[u8]) -> Result<Shape, DecodeError> {
        match bytes.first() {
            None => Err(DecodeError::Truncated),
            Some(&kind::MESSAGE) => Message::check(bytes).map(Shape::Plain),
            Some(&kind::ENCRYPTED_HEADER_MESSAGE) => {
                EncryptedHeaderMessage::check(bytes).map(Shape::EncryptedHeader)
            }
            Some(_) => Err(DecodeError::BadKind),
        }
    }

    /// The message of this shape starting at `start` of `bytes`.
    pub(crate) fn from_shape(bytes: Vec<u8>, start: usize, shape: Shape) -> Self {
        match shape {
            Shape::Plain(header) => Self::Plain(Message::from_encoded(bytes, start, header)),
            Shape::EncryptedHeader(enc) => {
                Self::EncryptedHeader(EncryptedHeaderMessage::from_encoded(bytes, start, enc))
            }
        }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Plain(m) => m.as_bytes(),
            Self::EncryptedHeader(m) => m.as_bytes(),
        }
    }

    /// The encoding, without a copy (unless the message was taken out of a
    /// prekey message).
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

    /// The kind byte.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::Plain(_) => kind::MESSAGE,
            Self::EncryptedHeader(_) => kind::ENCRYPTED_HEADER_MESSAGE,
        }
    }

    /// The whole buffer this message lives in (a prekey message's encoding,
    /// when it is inside one).
    pub(crate) fn frame_bytes(&self) -> &[u8] {
        match self {
            Self::Plain(m) => &m.frame.bytes,
            Self::EncryptedHeader(m) => &m.frame.bytes,
        }
    }

    pub(crate) fn into_frame_bytes(self) -> Vec<u8> {
        match self {
            Self::Plain(m) => m.frame.bytes,
            Self::EncryptedHeader(m) => m.frame.bytes,
        }
    }

    /// The bytes the body's AEAD binds after `AD` (§4, §6).
    pub(crate) fn header_bytes(&self) -> &[u8] {
        match self {
            Self::Plain(m) => m.header_bytes(),
            Self::EncryptedHeader(m) => m.header_bytes(),
        }
    }

    /// Salt, AEAD ciphertext and tag.
    pub(crate) fn ciphertext(&self) -> &[u8] {
        match self {
            Self::Plain(m) => m.ciphertext(),
            Self::EncryptedHeader(m) => m.ciphertext(),
        }
    }
}

/// The fields of a well-formed ratchet message that are not at
/// fixed positions: what a decoder checked, or what an encrypt wrote.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    Plain(Header),
    EncryptedHeader([u8; ENC_HEADER_LEN]),
}

/// A message's ciphertext runs to the end of its input, so each reader
/// takes the rest: nothing can trail.
impl Codec for Message {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let bytes = r.rest();
        let header = Self::check(bytes)?;
        Ok(Self::from_encoded(bytes.to_vec(), 0, header))
    }

    fn write(&self, w: &mut impl Writer) {
        w.put(self.as_bytes());
    }
}

impl Codec for EncryptedHeaderMessage {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let bytes = r.rest();
        let encrypted_header = Self::check(bytes)?;
        Ok(Self::from_encoded(bytes.to_vec(), 0, encrypted_header))
    }

    fn write(&self, w: &mut impl Writer) {
        w.put(self.as_bytes());
    }
}

impl Codec for RatchetMessage {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let bytes = r.rest();
        Ok(Self::from_shape(bytes.to_vec(), 0, Self::check(bytes)?))
    }

    fn write(&self, w: &mut impl Writer) {
        w.put(self.as_bytes());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pairwise::wire::AnyMessage;
    use crate::pairwise::wire::layout::MIN_CIPHERTEXT_LEN;

    pub(crate) fn message(ct: usize) -> Vec<u8> {
        let mut b = vec![kind::MESSAGE];
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
        assert_eq!(
            Header::from_bytes(&m.header().to_bytes()),
            Some(*m.header())
        );
        assert_eq!(AnyMessage::decode(&bytes).unwrap().encode(), bytes);
    }

    #[test]
    fn s5_message_structure_errors() {
        let ok = message(32);
        assert!(Message::decode(&ok).is_ok());
        for n in 0..MESSAGE_HEADER_LEN {
            assert_eq!(
                Message::decode(&ok[..n]),
                Err(Error::Malformed(DecodeError::Truncated)),
                "{n}"
            );
        }
        for n in MESSAGE_HEADER_LEN..ok.len() {
            assert_eq!(
                Message::decode(&ok[..n]),
                Err(Error::Malformed(DecodeError::ShortCiphertext)),
                "{n}"
            );
        }
        let mut bad = ok.clone();
        bad[0] = kind::ENCRYPTED_HEADER_MESSAGE;
        assert_eq!(
            Message::decode(&bad),
            Err(Error::Malformed(DecodeError::BadKind))
        );
    }

    #[test]
    fn s6_encrypted_header_message_structure() {
        let mut b = vec![kind::ENCRYPTED_HEADER_MESSAGE];
        b.extend(core::iter::repeat_n(1, ENC_HEADER_LEN + MIN_CIPHERTEXT_LEN));
        let m = EncryptedHeaderMessage::decode(&b).unwrap();
        assert_eq!(m.header_bytes(), &b[..69]);
        assert_eq!(&m.encrypted_header()[..], &b[1..69]);
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
