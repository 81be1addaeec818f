//! [`Incoming`]: whatever a peer device sends on the wire, decoded by its
//! kind byte, so that an application needs one decoder for its transport.

use crate::codec::kind;
use crate::error::{DecodeError, Error};
use crate::group::GroupMessage;
use crate::pairwise::wire::{AnyMessage, DecryptionFailure};

/// Anything one device sends another over the transport, by kind byte: a
/// message for a session ([SPEC §5](crate::spec), §6), a decryption-failure notice
/// ([SPEC §13](crate::spec)) or a group message ([SPEC §10](crate::spec)). A sender-key distribution
/// travels inside a session's message, never on its own.
///
/// ```
/// use cliquet::{DecodeError, Error, Incoming};
///
/// let mut notice = vec![0x15, 0x00, 0x00];
/// notice.extend_from_slice(&[0; 64]);
/// assert!(matches!(Incoming::decode(&notice)?, Incoming::Notice(_)));
/// assert_eq!(Incoming::decode(&[0x14]), Err(Error::Malformed(DecodeError::BadKind)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    /// A message for a session: hand it to
    /// [`SessionRecord::decrypt`](crate::SessionRecord::decrypt).
    Message(AnyMessage),
    /// A decryption-failure notice: hand it to
    /// [`SessionRecord::on_decryption_failure`](crate::SessionRecord::on_decryption_failure).
    Notice(DecryptionFailure),
    /// A group message: hand it to
    /// [`GroupSession::decrypt`](crate::GroupSession::decrypt) with its sender.
    Group(GroupMessage),
}

impl Incoming {
    /// Parses whatever arrived by its kind byte.
    ///
    /// # Errors
    /// [`Error::Malformed`], as each type's decoder reports it; an empty
    /// input is `Truncated`, an unknown kind byte `BadKind`.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        match bytes.first() {
            None => Err(DecodeError::Truncated.into()),
            Some(&kind::DECRYPTION_FAILURE) => DecryptionFailure::decode(bytes).map(Self::Notice),
            Some(&kind::GROUP_MESSAGE) => GroupMessage::decode(bytes).map(Self::Group),
            Some(_) => AnyMessage::decode(bytes).map(Self::Message),
        }
    }

    /// The kind byte.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Message(m) => m.kind(),
            Self::Notice(_) => kind::DECRYPTION_FAILURE,
            Self::Group(_) => kind::GROUP_MESSAGE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_every_kind_goes_to_its_decoder() {
        for kind in 0..=255u8 {
            let bytes = [kind];
            let expected = match kind {
                0x11..=0x13 | 0x17 => AnyMessage::decode(&bytes).map(Incoming::Message),
                0x15 => DecryptionFailure::decode(&bytes).map(Incoming::Notice),
                0x1A => GroupMessage::decode(&bytes).map(Incoming::Group),
                _ => Err(DecodeError::BadKind.into()),
            };
            assert_eq!(Incoming::decode(&bytes), expected, "{kind:#x}");
        }
    }

    #[test]
    fn s5_kind_is_the_first_byte_of_what_was_decoded() {
        // Every kind byte before a body of 0x09 bytes (not a low-order
        // point, not a zero length), long enough for any kind, and a notice
        // (its flags must be 0 or 1).
        let mut inputs: alloc::vec::Vec<alloc::vec::Vec<u8>> = (0..=255u8)
            .map(|kind| {
                let mut bytes = alloc::vec![0x09; 1900];
                bytes[0] = kind;
                bytes
            })
            .collect();
        let mut notice = alloc::vec![0x15, 0, 0];
        notice.extend_from_slice(&[0x09; 64]);
        inputs.push(notice);
        let mut decoded = alloc::vec::Vec::new();
        for bytes in &inputs {
            if let Ok(incoming) = Incoming::decode(bytes) {
                assert_eq!(incoming.kind(), bytes[0]);
                decoded.push(bytes[0]);
            }
        }
        decoded.sort_unstable();
        assert_eq!(decoded, [0x11, 0x13, 0x15, 0x1A]);
    }
}
