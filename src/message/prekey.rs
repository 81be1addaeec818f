//! The prekey message (SPEC §5) and the session id it names.

use alloc::vec::Vec;
use core::fmt;

use super::KIND_PREKEY_MESSAGE;
use super::ratchet::RatchetMessage;
use crate::codec::{ArrayBuf, Reader, Writer};
use crate::crypto;
use crate::error::Error;
use crate::keys::{Hex, IdentityKey, PublicKey};

/// Label of the session id hash.
const LABEL_SESSION_ID: &[u8] = b"cliquet/v1/session-id";
/// The longest prefix of a prekey message before its inner message.
pub(crate) const PREFIX_MAX_LEN: usize = 1 + 32 + 32 + 4 + 1 + 4;

/// A stable identifier of a session, the same on both sides:
/// SHA-256 of a label and the initiator's base key `EK_A`.
///
/// A responder finds the session of an incoming [`PreKeyMessage`] by
/// comparing [`PreKeyMessage::session_id`] with
/// [`Session::session_id`](crate::Session::session_id).
///
/// ```
/// use cliquet::SessionId;
/// let id = SessionId::from_bytes([7; 32]);
/// assert_eq!(SessionId::from_bytes(id.to_bytes()), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 32]);

impl SessionId {
    pub(crate) fn from_base_key(base_key: &PublicKey) -> Self {
        Self(crypto::sha256(&[LABEL_SESSION_ID, base_key.as_bytes()]))
    }

    /// An id from its 32 bytes (as an application stored it, or as a
    /// decryption-failure notice carries it).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the id.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({:?})", Hex(&self.0))
    }
}

/// What the X3DH handshake named: the fields a prekey message carries
/// besides the initiator's identity key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// `EK_A`: it names the session.
    pub(crate) base_key: PublicKey,
    pub(crate) signed_prekey_id: u32,
    pub(crate) one_time_prekey_id: Option<u32>,
}

impl Handshake {
    pub(crate) fn session_id(&self) -> SessionId {
        SessionId::from_base_key(&self.base_key)
    }

    /// `base_key || u32be(spk_id) || flag [|| u32be(opk_id)]`.
    pub(crate) fn write(&self, w: &mut impl Writer) {
        w.put(self.base_key.as_bytes());
        w.put_u32_be(self.signed_prekey_id);
        w.put_flag(self.one_time_prekey_id.is_some());
        if let Some(id) = self.one_time_prekey_id {
            w.put_u32_be(id);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, crate::error::DecodeError> {
        Ok(Self {
            base_key: PublicKey::from_bytes(r.array()?),
            signed_prekey_id: r.u32_be()?,
            one_time_prekey_id: if r.flag()? { Some(r.u32_be()?) } else { None },
        })
    }
}

/// The first message(s) of a session, carrying what the responder needs for
/// X3DH (SPEC §5):
///
/// ```text
/// 0x12 || IK_A_pub (32) || EK_A_pub (32) || u32be(spk_id)
///      || flag (0x00 | 0x01) [|| u32be(opk_id)] || inner (Message or EncryptedHeaderMessage)
/// ```
///
/// A decoded prekey message keeps its bytes: encoding it again copies
/// nothing, and its inner message lives in the same buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct PreKeyMessage {
    identity_key: [u8; 32],
    handshake: Handshake,
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
        let handshake = Handshake::read(&mut r)?;
        let start = bytes.len() - r.remaining();
        let shape = RatchetMessage::check(r.rest())?;
        Ok(Self {
            identity_key,
            handshake,
            message: RatchetMessage::from_shape(bytes.to_vec(), start, shape),
        })
    }

    /// The prefix before the inner message: kind, identity, handshake.
    pub(crate) fn prefix(
        identity_key: &[u8; 32],
        handshake: &Handshake,
    ) -> ArrayBuf<PREFIX_MAX_LEN> {
        let mut w = ArrayBuf::new();
        w.put_u8(KIND_PREKEY_MESSAGE);
        w.put(identity_key);
        handshake.write(&mut w);
        w
    }

    /// A prekey message whose `message` lives in one buffer after the
    /// [`prefix`](Self::prefix) of these fields.
    pub(crate) const fn from_encoded(
        identity_key: [u8; 32],
        handshake: Handshake,
        message: RatchetMessage,
    ) -> Self {
        Self {
            identity_key,
            handshake,
            message,
        }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.message.frame_bytes()
    }

    /// The encoding, copied.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// The encoding, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        self.message.into_frame_bytes()
    }

    /// The initiator's identity key bytes, as received (validated when the
    /// message is accepted, or by [`identity_key`](Self::identity_key)).
    pub const fn identity_key_bytes(&self) -> &[u8; 32] {
        &self.identity_key
    }

    /// The initiator's identity key, validated (SPEC §1).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for bytes that are not a valid identity key.
    pub fn identity_key(&self) -> Result<IdentityKey, Error> {
        IdentityKey::from_bytes(&self.identity_key)
    }

    /// `EK_A`, the initiator's ephemeral (base) key: it names the session.
    pub const fn base_key(&self) -> &PublicKey {
        &self.handshake.base_key
    }

    /// The [`SessionId`] of the session this message belongs to: route a
    /// prekey message to the session with the same id, if you have one.
    pub fn session_id(&self) -> SessionId {
        self.handshake.session_id()
    }

    /// The responder's signed prekey id used.
    pub const fn signed_prekey_id(&self) -> u32 {
        self.handshake.signed_prekey_id
    }

    /// The responder's one-time prekey id used, if any.
    pub const fn one_time_prekey_id(&self) -> Option<u32> {
        self.handshake.one_time_prekey_id
    }

    /// The inner Double Ratchet message.
    pub const fn message(&self) -> &RatchetMessage {
        &self.message
    }

    pub(crate) const fn handshake(&self) -> &Handshake {
        &self.handshake
    }
}

impl fmt::Debug for PreKeyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreKeyMessage")
            .field("identity_key", &Hex(&self.identity_key))
            .field("base_key", &self.handshake.base_key)
            .field("signed_prekey_id", &self.handshake.signed_prekey_id)
            .field("one_time_prekey_id", &self.handshake.one_time_prekey_id)
            .field("message", &self.message)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeError;
    use crate::message::AnyMessage;
    use crate::message::ratchet::tests::message;

    #[test]
    fn s5_prekey_message_round_trip_and_errors() {
        let inner = message(32);
        for opk in [None, Some(5u32)] {
            let handshake = Handshake {
                base_key: PublicKey::from_bytes([2; 32]),
                signed_prekey_id: 4,
                one_time_prekey_id: opk,
            };
            let mut bytes = PreKeyMessage::prefix(&[1; 32], &handshake)
                .as_slice()
                .to_vec();
            let prefix = bytes.len();
            assert_eq!(prefix, if opk.is_some() { 74 } else { 70 });
            bytes.extend_from_slice(&inner);
            let m = PreKeyMessage::decode(&bytes).unwrap();
            assert_eq!(m.as_bytes(), &bytes[..]);
            assert_eq!(m.message().as_bytes(), &inner[..]);
            assert_eq!(
                (m.identity_key_bytes(), m.handshake()),
                (&[1; 32], &handshake)
            );
            assert_eq!(
                AnyMessage::decode(&bytes),
                Ok(AnyMessage::PreKey(m.clone()))
            );
            assert_eq!(m.clone().into_bytes(), bytes);
            assert_eq!(m.message().clone().into_bytes(), inner);
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
}
