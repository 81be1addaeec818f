//! [`AnyMessage`]: anything a session receives, by kind byte ([SPEC §5](crate::spec)).

use alloc::vec::Vec;

use super::prekey::PreKeyMessage;
use super::ratchet::{EncryptedHeaderMessage, Message, RatchetMessage};
use crate::codec::{Codec, Reader, Writer, kind};
use crate::error::Error;

/// Any message a session sends or receives, decoded by its kind byte: a
/// Double Ratchet message (plain or encrypted header), or a prekey message
/// that carries one.
///
/// ```
/// use cliquet::{AnyMessage, DecodeError, Error};
/// assert_eq!(AnyMessage::decode(&[0x14]), Err(Error::Malformed(DecodeError::BadKind)));
/// assert_eq!(AnyMessage::decode(&[]), Err(Error::Malformed(DecodeError::Truncated)));
/// ```
///
/// It may grow: a future message kind (the post-quantum ratchet's, say)
/// becomes a new variant, so a `match` on it needs a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnyMessage {
    /// A `Message` (0x11) or an `EncryptedHeaderMessage` (0x13).
    Ratchet(RatchetMessage),
    /// A `PreKeyMessage` (0x12) or a `PqPreKeyMessage` (0x17).
    PreKey(PreKeyMessage),
}

impl AnyMessage {
    /// Parses any message by its kind byte.
    ///
    /// # Errors
    /// [`Error::Malformed`], as for each message type; an empty input is
    /// `Truncated`, an unknown kind byte `BadKind`.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Ratchet(m) => m.as_bytes(),
            Self::PreKey(m) => m.as_bytes(),
        }
    }

    /// The encoding, copied.
    pub fn encode(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// The encoding, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Ratchet(m) => m.into_bytes(),
            Self::PreKey(m) => m.into_bytes(),
        }
    }

    /// The kind byte.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::Ratchet(m) => m.kind(),
            Self::PreKey(m) => m.kind(),
        }
    }

    /// The Double Ratchet message: the message itself, or the one a prekey
    /// message carries.
    pub const fn ratchet_message(&self) -> &RatchetMessage {
        match self {
            Self::Ratchet(m) => m,
            Self::PreKey(m) => m.message(),
        }
    }
}

impl From<RatchetMessage> for AnyMessage {
    fn from(m: RatchetMessage) -> Self {
        Self::Ratchet(m)
    }
}

impl From<Message> for AnyMessage {
    fn from(m: Message) -> Self {
        Self::Ratchet(RatchetMessage::Plain(m))
    }
}

impl From<EncryptedHeaderMessage> for AnyMessage {
    fn from(m: EncryptedHeaderMessage) -> Self {
        Self::Ratchet(RatchetMessage::EncryptedHeader(m))
    }
}

impl From<PreKeyMessage> for AnyMessage {
    fn from(m: PreKeyMessage) -> Self {
        Self::PreKey(m)
    }
}

impl Codec for AnyMessage {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let bytes = r.rest();
        match bytes.first() {
            Some(&(kind::PREKEY_MESSAGE | kind::PQ_PREKEY_MESSAGE)) => {
                PreKeyMessage::read(&mut Reader::new(bytes)).map(Self::PreKey)
            }
            _ => RatchetMessage::read(&mut Reader::new(bytes)).map(Self::Ratchet),
        }
    }

    fn write(&self, w: &mut impl Writer) {
        w.put(self.as_bytes());
    }
}
