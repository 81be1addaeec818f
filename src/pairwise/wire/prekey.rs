//! The prekey messages ([SPEC §5](crate::spec): 0x12, and 0x17 for PQXDH) and the session
//! id they name.

use alloc::vec::Vec;
use core::fmt;

use super::ratchet::RatchetMessage;
use crate::codec::{ArrayBuf, Codec, Reader, Writer, kind};
use crate::crypto;
use crate::crypto::kem::{CIPHERTEXT_LEN, Ciphertext};
use crate::error::{DecodeError, Error};
use crate::keys::{Hex, IdentityKey, PublicKey};

/// Label of the session id hash.
const LABEL_SESSION_ID: &[u8] = b"cliquet/v1/session-id";
/// The longest prefix of a prekey message before its inner message (0x17
/// with a one-time prekey).
pub(crate) const PREFIX_MAX_LEN: usize = 1 + 32 + 32 + 4 + 4 + CIPHERTEXT_LEN + 1 + 4;
/// Where `CT` starts in a 0x17 message: kind, `IK_A`, `EK_A`, `spk_id`, `kpk_id`.
const CIPHERTEXT_OFFSET: usize = 1 + 32 + 32 + 4 + 4;

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

/// What the X3DH or PQXDH handshake named: the fields a prekey message
/// carries besides the initiator's identity key and the KEM ciphertext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// `EK_A`: it names the session.
    pub(crate) base_key: PublicKey,
    pub(crate) signed_prekey_id: u32,
    /// `kpk_id`: `Some` for PQXDH (a 0x17 message).
    pub(crate) kem_prekey_id: Option<u32>,
    pub(crate) one_time_prekey_id: Option<u32>,
}

impl Handshake {
    pub(crate) fn session_id(&self) -> SessionId {
        SessionId::from_base_key(&self.base_key)
    }

    /// `base_key || u32be(spk_id) [|| u32be(kpk_id) || CT] || flag [|| u32be(opk_id)]`.
    pub(crate) fn write(&self, ciphertext: Option<&Ciphertext>, w: &mut impl Writer) {
        w.put(self.base_key.as_bytes());
        w.put_u32_be(self.signed_prekey_id);
        if let Some(id) = self.kem_prekey_id {
            w.put_u32_be(id);
            w.put(ciphertext.unwrap_or(&[0; CIPHERTEXT_LEN]));
        }
        w.put_flag(self.one_time_prekey_id.is_some());
        if let Some(id) = self.one_time_prekey_id {
            w.put_u32_be(id);
        }
    }

    /// Reads what [`write`](Self::write) wrote, skipping `CT` (it stays
    /// in the message's buffer).
    pub(crate) fn read(r: &mut Reader<'_>, post_quantum: bool) -> Result<Self, DecodeError> {
        let base_key = PublicKey::from_bytes(r.array()?);
        let signed_prekey_id = r.u32_be()?;
        let kem_prekey_id = if post_quantum {
            let id = r.u32_be()?;
            r.take(CIPHERTEXT_LEN)?;
            Some(id)
        } else {
            None
        };
        Ok(Self {
            base_key,
            signed_prekey_id,
            kem_prekey_id,
            one_time_prekey_id: if r.flag()? { Some(r.u32_be()?) } else { None },
        })
    }
}

/// The first message(s) of a session, carrying what the responder needs for
/// X3DH or PQXDH ([SPEC §5](crate::spec)). Two kinds share this type: the PqPreKeyMessage
/// of a session from a post-quantum bundle,
///
/// ```text
/// 0x17 || IK_A_pub (32) || EK_A_pub (32) || u32be(spk_id) || u32be(kpk_id)
///      || CT (1568) || flag (0x00 | 0x01) [|| u32be(opk_id)] || inner
/// ```
///
/// and the PreKeyMessage of a classic X3DH session,
///
/// ```text
/// 0x12 || IK_A_pub (32) || EK_A_pub (32) || u32be(spk_id)
///      || flag (0x00 | 0x01) [|| u32be(opk_id)] || inner
/// ```
///
/// where `inner` is a Message or an EncryptedHeaderMessage.
///
/// A decoded prekey message keeps its bytes: encoding it again copies
/// nothing, and its inner message (and `CT`) live in the same buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct PreKeyMessage {
    identity_key: [u8; 32],
    handshake: Handshake,
    message: RatchetMessage,
}

impl PreKeyMessage {
    /// Parses either kind (0x12 or 0x17, by its kind byte); structure
    /// only: keys are checked when it is accepted or decrypted.
    ///
    /// # Errors
    /// [`Error::Malformed`] with the first fault in wire order, the inner
    /// message included.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }

    /// Parses a PqPreKeyMessage (0x17) only: a 0x12 one is
    /// [`DecodeError::BadKind`](crate::DecodeError::BadKind).
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_post_quantum(bytes: &[u8]) -> Result<Self, Error> {
        Reader::new(bytes).kind(kind::PQ_PREKEY_MESSAGE)?;
        Self::decode_exact(bytes)
    }

    /// The prefix before the inner message: kind, identity, handshake (and
    /// `CT` for PQXDH).
    pub(crate) fn prefix(
        identity_key: &[u8; 32],
        handshake: &Handshake,
        ciphertext: Option<&Ciphertext>,
    ) -> ArrayBuf<PREFIX_MAX_LEN> {
        let mut w = ArrayBuf::new();
        w.put_u8(kind_of(handshake));
        w.put(identity_key);
        handshake.write(ciphertext, &mut w);
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
    pub fn encode(&self) -> Vec<u8> {
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

    /// The initiator's identity key, validated ([SPEC §1](crate::spec)).
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

    /// The responder's KEM prekey id used: `Some` for a PqPreKeyMessage
    /// (0x17, PQXDH).
    pub const fn kem_prekey_id(&self) -> Option<u32> {
        self.handshake.kem_prekey_id
    }

    /// Whether this is a PqPreKeyMessage (0x17, PQXDH).
    pub const fn is_post_quantum(&self) -> bool {
        self.handshake.kem_prekey_id.is_some()
    }

    /// The kind byte: 0x17 for PQXDH, 0x12 for classic X3DH.
    pub const fn kind(&self) -> u8 {
        kind_of(&self.handshake)
    }

    /// The ML-KEM ciphertext `CT` of a PqPreKeyMessage (1568 bytes).
    pub fn kem_ciphertext(&self) -> Option<&[u8; CIPHERTEXT_LEN]> {
        self.handshake.kem_prekey_id?;
        self.as_bytes()
            .get(CIPHERTEXT_OFFSET..)?
            .first_chunk::<CIPHERTEXT_LEN>()
    }

    /// The inner Double Ratchet message.
    pub const fn message(&self) -> &RatchetMessage {
        &self.message
    }

    pub(crate) const fn handshake(&self) -> &Handshake {
        &self.handshake
    }
}

/// The kind byte of a prekey message with this handshake.
const fn kind_of(handshake: &Handshake) -> u8 {
    if handshake.kem_prekey_id.is_some() {
        kind::PQ_PREKEY_MESSAGE
    } else {
        kind::PREKEY_MESSAGE
    }
}

impl fmt::Debug for PreKeyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreKeyMessage")
            .field("identity_key", &Hex(&self.identity_key))
            .field("base_key", &self.handshake.base_key)
            .field("signed_prekey_id", &self.handshake.signed_prekey_id)
            .field("kem_prekey_id", &self.handshake.kem_prekey_id)
            .field("one_time_prekey_id", &self.handshake.one_time_prekey_id)
            .field("message", &self.message)
            .finish()
    }
}

/// The inner message runs to the end of the input, so the reader takes the
/// rest: nothing can trail.
impl Codec for PreKeyMessage {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let bytes = r.rest();
        let mut r = Reader::new(bytes);
        let post_quantum = match r.u8()? {
            kind::PREKEY_MESSAGE => false,
            kind::PQ_PREKEY_MESSAGE => true,
            _ => return Err(DecodeError::BadKind.into()),
        };
        let identity_key = r.array()?;
        let handshake = Handshake::read(&mut r, post_quantum)?;
        let start = bytes.len() - r.remaining();
        let shape = RatchetMessage::check(r.rest())?;
        Ok(Self {
            identity_key,
            handshake,
            message: RatchetMessage::from_shape(bytes.to_vec(), start, shape),
        })
    }

    fn write(&self, w: &mut impl Writer) {
        w.put(self.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairwise::wire::AnyMessage;
    use crate::pairwise::wire::ratchet::tests::message;

    #[test]
    fn s5_prekey_message_round_trip_and_errors() {
        let inner = message(32);
        for opk in [None, Some(5u32)] {
            let handshake = Handshake {
                base_key: PublicKey::from_bytes([2; 32]),
                signed_prekey_id: 4,
                kem_prekey_id: None,
                one_time_prekey_id: opk,
            };
            let mut bytes = PreKeyMessage::prefix(&[1; 32], &handshake, None)
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
            truncated_and_bad_flag(&bytes, prefix, 69);
            let mut bad = bytes.clone();
            bad[prefix] = kind::PREKEY_MESSAGE;
            assert_eq!(
                PreKeyMessage::decode(&bad),
                Err(Error::Malformed(DecodeError::BadKind))
            );
        }
    }

    /// Every proper prefix of the message's prefix part is `Truncated`, and
    /// the one-time prekey flag at `flag_at` set to 2 is `BadFlag`.
    pub(super) fn truncated_and_bad_flag(bytes: &[u8], prefix: usize, flag_at: usize) {
        for n in 0..prefix {
            assert_eq!(
                PreKeyMessage::decode(&bytes[..n]),
                Err(Error::Malformed(DecodeError::Truncated)),
                "{n}"
            );
        }
        let mut bad = bytes.to_vec();
        bad[flag_at] = 2;
        assert_eq!(
            PreKeyMessage::decode(&bad),
            Err(Error::Malformed(DecodeError::BadFlag))
        );
    }
}

#[cfg(test)]
mod pq_tests {
    use super::*;
    use crate::pairwise::wire::AnyMessage;
    use crate::pairwise::wire::ratchet::tests::message;

    #[test]
    fn s5_pq_prekey_message_round_trip_and_errors() {
        let inner = message(32);
        let ct = [0x5a; CIPHERTEXT_LEN];
        for opk in [None, Some(5u32)] {
            let handshake = Handshake {
                base_key: PublicKey::from_bytes([2; 32]),
                signed_prekey_id: 4,
                kem_prekey_id: Some(9),
                one_time_prekey_id: opk,
            };
            let mut bytes = PreKeyMessage::prefix(&[1; 32], &handshake, Some(&ct))
                .as_slice()
                .to_vec();
            let prefix = bytes.len();
            assert_eq!(prefix, if opk.is_some() { 1646 } else { 1642 });
            assert_eq!(bytes[0], 0x17);
            bytes.extend_from_slice(&inner);
            let m = PreKeyMessage::decode(&bytes).unwrap();
            assert_eq!(PreKeyMessage::decode_post_quantum(&bytes).as_ref(), Ok(&m));
            assert_eq!(m.as_bytes(), &bytes[..]);
            assert_eq!(m.kind(), 0x17);
            assert_eq!(m.kem_prekey_id(), Some(9));
            assert_eq!(m.kem_ciphertext(), Some(&ct));
            assert_eq!(m.message().as_bytes(), &inner[..]);
            assert_eq!(m.handshake(), &handshake);
            assert_eq!(
                AnyMessage::decode(&bytes),
                Ok(AnyMessage::PreKey(m.clone()))
            );
            assert_eq!(AnyMessage::decode(&bytes).map(|m| m.kind()), Ok(0x17));
            super::tests::truncated_and_bad_flag(&bytes, prefix, 1641);
            let mut classic = bytes.clone();
            classic[0] = kind::PREKEY_MESSAGE;
            assert!(PreKeyMessage::decode_post_quantum(&classic).is_err());
            assert_eq!(
                PreKeyMessage::decode_post_quantum(&classic),
                Err(Error::Malformed(DecodeError::BadKind))
            );
        }
    }
}
