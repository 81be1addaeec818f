//! The decryption-failure notice (kind 0x15) of the recovery flow: the
//! wire type only; what a record does with one is in `record`.

use alloc::vec::Vec;

use super::prekey::SessionId;
use super::ratchet::RatchetMessage;
use super::{AnyMessage, KIND_DECRYPTION_FAILURE};
use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::kdf::ENC_HEADER_LEN;
use crate::keys::PublicKey;

/// A notice that a message could not be decrypted by any session, for the
/// receiver's application to send back to the sender (see
/// [`SessionRecord`](crate::SessionRecord)'s recovery flow). It names the session when the failed
/// message was a prekey message, and the failed message's chain: its
/// ratchet key, or with header encryption its encrypted header (which only
/// the sender can open). It carries no secret and no plaintext.
///
/// ```text
/// 0x15 || flag (1: 0x00 | 0x01) [|| session_id (32)]
///      || chain (1: 0x00 none | 0x01 ratchet key | 0x02 encrypted header)
///      [|| ratchet_pub (32) | enc_header (68)]
/// ```
///
/// 3 to 103 bytes. The kind byte differs from every message kind, so a
/// transport can carry notices and messages side by side.
///
/// ```
/// use cliquet::{DecodeError, DecryptionFailure, Error};
///
/// let notice = DecryptionFailure::decode(&[0x15, 0x00, 0x00])?;
/// assert_eq!((notice.session_id(), notice.ratchet_key()), (None, None));
/// assert_eq!(notice.to_bytes(), [0x15, 0x00, 0x00]);
/// assert_eq!(
///     DecryptionFailure::decode(&[0x15, 0x00, 0x03]),
///     Err(Error::Malformed(DecodeError::BadFlag))
/// );
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptionFailure {
    session_id: Option<SessionId>,
    named: Named,
}

/// Which chain a notice names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Named {
    Nothing,
    RatchetKey(PublicKey),
    EncryptedHeader([u8; ENC_HEADER_LEN]),
}

impl DecryptionFailure {
    /// The longest encoding: kind, flag, session id, chain byte, encrypted header.
    pub const MAX_LEN: usize = 1 + 1 + 32 + 1 + ENC_HEADER_LEN;

    /// The notice naming what `message` shows of its session.
    pub fn for_message(message: &AnyMessage) -> Self {
        let session_id = match message {
            AnyMessage::PreKey(m) => Some(m.session_id()),
            AnyMessage::Ratchet(_) => None,
        };
        let named = match message.ratchet_message() {
            RatchetMessage::Plain(m) => Named::RatchetKey(*m.ratchet_key()),
            RatchetMessage::EncryptedHeader(m) => Named::EncryptedHeader(*m.encrypted_header()),
        };
        Self { session_id, named }
    }

    /// The session of the failed message, if it was a prekey message.
    pub const fn session_id(&self) -> Option<&SessionId> {
        self.session_id.as_ref()
    }

    /// The ratchet key of the failed message, if its header was plain.
    pub const fn ratchet_key(&self) -> Option<&PublicKey> {
        match &self.named {
            Named::RatchetKey(key) => Some(key),
            _ => None,
        }
    }

    /// The encrypted header of the failed message (nonce, ciphertext and
    /// tag: 68 bytes), if it used header encryption.
    pub const fn encrypted_header(&self) -> Option<&[u8; ENC_HEADER_LEN]> {
        match &self.named {
            Named::EncryptedHeader(header) => Some(header),
            _ => None,
        }
    }

    /// Parses a notice.
    ///
    /// # Errors
    /// [`Error::Malformed`]: wrong kind byte, a flag other than 0 or 1 or a
    /// chain byte other than 0, 1 or 2, truncated or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        r.kind(KIND_DECRYPTION_FAILURE)?;
        let session_id = if r.flag()? {
            Some(SessionId::from_bytes(r.array()?))
        } else {
            None
        };
        let named = match r.u8()? {
            0 => Named::Nothing,
            1 => Named::RatchetKey(PublicKey::from_bytes(r.array()?)),
            2 => Named::EncryptedHeader(r.array()?),
            _ => return Err(DecodeError::BadFlag.into()),
        };
        r.finish()?;
        Ok(Self { session_id, named })
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::MAX_LEN);
        out.put_u8(KIND_DECRYPTION_FAILURE);
        out.put_flag(self.session_id.is_some());
        if let Some(id) = &self.session_id {
            out.put(&id.to_bytes());
        }
        match &self.named {
            Named::Nothing => out.put_u8(0),
            Named::RatchetKey(key) => {
                out.put_u8(1);
                out.put(key.as_bytes());
            }
            Named::EncryptedHeader(header) => {
                out.put_u8(2);
                out.put(header);
            }
        }
        out
    }
}
