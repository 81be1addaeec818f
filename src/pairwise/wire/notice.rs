//! The decryption-failure notice (kind 0x15) of the recovery flow: the
//! wire type and its signature; what a record does with one is in `record`.

use alloc::vec::Vec;
use core::fmt;

use super::any::AnyMessage;
use super::layout::ENC_HEADER_LEN;
use super::prekey::SessionId;
use super::ratchet::RatchetMessage;
use crate::codec::{Codec, Reader, Writer, kind};
use crate::error::{DecodeError, Error};
use crate::keys::{Hex, IdentityKey, IdentityKeyPair, PublicKey};

/// Prefix of what a notice's signature covers.
const LABEL_NOTICE: &[u8] = b"cliquet/v1/decryption-failure";
/// Length of an Ed25519 signature.
const SIGNATURE_LEN: usize = 64;

/// A notice that a message could not be decrypted by any session, for the
/// receiver's application to send back to the sender (see
/// [`SessionRecord`](crate::SessionRecord)'s recovery flow). It names the
/// session when the failed message was a prekey message, and the failed
/// message: its ratchet key and number, or with header encryption its
/// encrypted header (which only the sender can open). Two notices of two
/// different failed messages therefore differ, which lets the sender tell
/// a second failure from a replayed first one. It carries no secret
/// and no plaintext, and it is signed by the identity key of the device
/// that sends it, so that nobody else can make a record abandon a session
/// ([SPEC §13](crate::spec)):
///
/// ```text
/// 0x15 || flag (1: 0x00 | 0x01) [|| session_id (32)]
///      || chain (1: 0x00 none | 0x01 ratchet key | 0x02 encrypted header)
///      [|| ratchet_pub (32) || u32be(N) | enc_header (68)] || signature (64)
/// signature = Ed25519(IK_sender, "cliquet/v1/decryption-failure"
///                     || IK_sender_pub || IK_receiver_pub || every byte before it)
/// ```
///
/// 67 to 167 bytes. The kind byte differs from every message kind, so a
/// transport can carry notices and messages side by side.
///
/// ```
/// use cliquet::{DecodeError, DecryptionFailure, Error};
///
/// let mut bytes = vec![0x15, 0x00, 0x00];
/// bytes.extend_from_slice(&[0; 64]);
/// let notice = DecryptionFailure::decode(&bytes)?;
/// assert_eq!((notice.session_id(), notice.ratchet_key()), (None, None));
/// assert_eq!(notice.encode(), bytes);
/// bytes[2] = 0x03;
/// assert_eq!(DecryptionFailure::decode(&bytes), Err(Error::Malformed(DecodeError::BadFlag)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptionFailure {
    session_id: Option<SessionId>,
    named: Named,
    signature: [u8; SIGNATURE_LEN],
}

/// Which chain a notice names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Named {
    Nothing,
    RatchetKey(PublicKey, u32),
    EncryptedHeader([u8; ENC_HEADER_LEN]),
}

impl DecryptionFailure {
    /// The longest encoding: kind, flag, session id, chain byte, encrypted
    /// header, signature.
    pub const MAX_LEN: usize = 1 + 1 + 32 + 1 + ENC_HEADER_LEN + SIGNATURE_LEN;

    /// The notice naming what `message` shows of its session, signed by
    /// `identity` (the device that could not decrypt) for `peer` (the
    /// device that sent the message).
    pub fn for_message(
        message: &AnyMessage,
        identity: &IdentityKeyPair,
        peer: &IdentityKey,
    ) -> Self {
        let session_id = match message {
            AnyMessage::PreKey(m) => Some(m.session_id()),
            AnyMessage::Ratchet(_) => None,
        };
        let named = match message.ratchet_message() {
            RatchetMessage::Plain(m) => Named::RatchetKey(*m.ratchet_key(), m.index()),
            RatchetMessage::EncryptedHeader(m) => Named::EncryptedHeader(*m.encrypted_header()),
        };
        let mut notice = Self {
            session_id,
            named,
            signature: [0; SIGNATURE_LEN],
        };
        let signed = notice.signed_bytes(identity.public_key(), peer);
        notice.signature = identity.sign(&signed);
        notice
    }

    /// The session of the failed message, if it was a prekey message.
    pub const fn session_id(&self) -> Option<&SessionId> {
        self.session_id.as_ref()
    }

    /// The ratchet key of the failed message, if its header was plain.
    pub const fn ratchet_key(&self) -> Option<&PublicKey> {
        match &self.named {
            Named::RatchetKey(key, _) => Some(key),
            _ => None,
        }
    }

    /// The number `N` of the failed message in its chain, if its header was
    /// plain.
    pub const fn message_index(&self) -> Option<u32> {
        match &self.named {
            Named::RatchetKey(_, index) => Some(*index),
            _ => None,
        }
    }

    /// A 16-byte digest of what the notice names (everything before the
    /// signature): equal for copies of one notice, different for notices
    /// of different failed messages. A record keeps it to tell a second
    /// failure from a replayed first one ([SPEC §13](crate::spec)).
    pub(crate) fn tag(&self) -> [u8; 16] {
        let mut body = Vec::with_capacity(Self::MAX_LEN);
        self.write_body(&mut body);
        let digest = crate::crypto::sha256(&[LABEL_NOTICE, &body]);
        let mut tag = [0; 16];
        tag.iter_mut().zip(digest).for_each(|(t, d)| *t = d);
        tag
    }

    /// The encrypted header of the failed message (nonce, ciphertext and
    /// tag: 68 bytes), if it used header encryption.
    pub const fn encrypted_header(&self) -> Option<&[u8; ENC_HEADER_LEN]> {
        match &self.named {
            Named::EncryptedHeader(header) => Some(header),
            _ => None,
        }
    }

    /// Checks the signature: `sender` signed this notice for `receiver`
    /// (strict Ed25519 verification).
    ///
    /// # Errors
    /// [`Error::BadSignature`] otherwise.
    pub fn verify(&self, sender: &IdentityKey, receiver: &IdentityKey) -> Result<(), Error> {
        sender.verify(&self.signed_bytes(sender, receiver), &self.signature)
    }

    /// Parses a notice (its signature is checked by [`verify`](Self::verify)).
    ///
    /// # Errors
    /// [`Error::Malformed`]: wrong kind byte, a flag other than 0 or 1 or a
    /// chain byte other than 0, 1 or 2, truncated or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }
}

impl Codec for DecryptionFailure {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        r.kind(kind::DECRYPTION_FAILURE)?;
        let session_id = if r.flag()? {
            Some(SessionId::from_bytes(r.array()?))
        } else {
            None
        };
        let named = match r.u8()? {
            0 => Named::Nothing,
            1 => Named::RatchetKey(PublicKey::from_bytes(r.array()?), r.u32_be()?),
            2 => Named::EncryptedHeader(r.array()?),
            _ => return Err(DecodeError::BadFlag.into()),
        };
        let signature = r.array()?;
        Ok(Self {
            session_id,
            named,
            signature,
        })
    }

    fn write(&self, w: &mut impl Writer) {
        self.write_body(w);
        w.put(&self.signature);
    }
}

impl DecryptionFailure {
    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::MAX_LEN);
        self.write(&mut out);
        out
    }

    /// Everything before the signature.
    fn write_body(&self, w: &mut impl Writer) {
        w.put_u8(kind::DECRYPTION_FAILURE);
        w.put_flag(self.session_id.is_some());
        if let Some(id) = &self.session_id {
            w.put(&id.to_bytes());
        }
        match &self.named {
            Named::Nothing => w.put_u8(0),
            Named::RatchetKey(key, index) => {
                w.put_u8(1);
                w.put(key.as_bytes());
                w.put_u32_be(*index);
            }
            Named::EncryptedHeader(header) => {
                w.put_u8(2);
                w.put(header);
            }
        }
    }

    /// What the signature covers.
    fn signed_bytes(&self, sender: &IdentityKey, receiver: &IdentityKey) -> Vec<u8> {
        let mut signed = Vec::with_capacity(LABEL_NOTICE.len() + 64 + Self::MAX_LEN);
        signed.put(LABEL_NOTICE);
        signed.put(sender.as_bytes());
        signed.put(receiver.as_bytes());
        self.write_body(&mut signed);
        signed
    }
}

impl fmt::Debug for DecryptionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionFailure")
            .field("session_id", &self.session_id)
            .field("named", &self.named)
            .field("signature", &Hex(&self.signature))
            .finish()
    }
}
