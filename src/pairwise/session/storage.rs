//! A session's stored form ([SPEC §11](crate::spec)): its flags, handshake fields and
//! ratchet, plain or sealed; older format versions are read here too.

use alloc::boxed::Box;

use super::{Role, Session};
use crate::codec::{Reader, Writer};
use crate::config::SessionConfig;
use crate::crypto::kdf::AD_LEN;
use crate::crypto::kem::CIPHERTEXT_LEN;
use crate::error::{Error, StateError};
use crate::keys::{IdentityKey, PublicKey};
use crate::pairwise::ratchet::Ratchet;
use crate::pairwise::ratchet::storage::RATCHET_FLAGS;
use crate::pairwise::wire::Handshake;
use crate::storage::{self, Format, Secret};

/// Flag bits of a stored session that belong to the session (the ratchet
/// owns the others: [`RATCHET_FLAGS`]).
const FLAG_INITIATOR: u8 = 1;
const FLAG_ACKNOWLEDGED: u8 = 1 << 1;
const FLAG_ONE_TIME_PREKEY: u8 = 1 << 5;

impl Session {
    /// The session's whole state (every secret and skipped key, and the
    /// config) in the storage format of [SPEC §7](crate::spec). Keep it secret; prefer
    /// [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x21 || version (1) || flags (1) || u32be(max_skip) || u32be(max_skipped_keys)
    ///      || AD (64) || EK_A (32) || u32be(spk_id) || [u32be(opk_id)]
    ///      || kem (1: 0x00 X3DH, 0x01 PQXDH) [|| u32be(kpk_id) [|| CT (1568)]] || ratchet
    /// ```
    ///
    /// `CT` is stored while an initiator still sends prekey messages. The
    /// `kem` byte is new in format version 3 (earlier sessions are X3DH).
    ///
    /// The ratchet's part (root key, ratchet keys, chains, header keys and
    /// the skipped keys grouped by chain, 36 bytes a key) is laid out in
    /// the crate's SPEC.md, §7.
    pub fn to_stored(&self) -> Secret {
        let mut out = storage::start(storage::SESSION, self.encoded_len());
        self.write(&mut out);
        out
    }

    /// Loads a session stored by [`to_stored`](Self::to_stored).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input (for example more skipped keys than its config
    /// allows, or a skipped key its chain could not have skipped).
    pub fn from_stored(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let format = storage::header(&mut r, storage::SESSION)?;
        let session = Self::read(&mut r, format)?;
        r.finish().map_err(StateError::from)?;
        Ok(session)
    }

    /// The stored length, `kind || version` included.
    pub(crate) fn encoded_len(&self) -> usize {
        let one_time_prekey = self.handshake.one_time_prekey_id.map_or(0, |_| 4);
        let kem = 1
            + self.handshake.kem_prekey_id.map_or(0, |_| 4)
            + self.kem_ciphertext.as_ref().map_or(0, |_| CIPHERTEXT_LEN);
        2 + 1 + 8 + AD_LEN + 32 + 4 + one_time_prekey + kem + self.ratchet.encoded_len()
    }

    /// Everything after `kind || version`.
    fn write(&self, w: &mut impl Writer) {
        let mut flags = self.ratchet.flags();
        if self.is_initiator() {
            flags |= FLAG_INITIATOR;
        }
        if self.is_initiator() && self.is_acknowledged() {
            flags |= FLAG_ACKNOWLEDGED;
        }
        if self.handshake.one_time_prekey_id.is_some() {
            flags |= FLAG_ONE_TIME_PREKEY;
        }
        w.put_u8(flags);
        self.ratchet.config().write(w);
        w.put(&self.associated_data);
        w.put(self.handshake.base_key.as_bytes());
        w.put_u32_be(self.handshake.signed_prekey_id);
        if let Some(id) = self.handshake.one_time_prekey_id {
            w.put_u32_be(id);
        }
        w.put_flag(self.handshake.kem_prekey_id.is_some());
        if let Some(id) = self.handshake.kem_prekey_id {
            w.put_u32_be(id);
            if let Some(ct) = &self.kem_ciphertext {
                w.put(&ct[..]);
            }
        }
        self.ratchet.write(w);
    }

    /// Reads what [`write`](Self::write) wrote; checks that the role and
    /// the ratchet agree (a session that was answered has received a chain,
    /// one that was not has not).
    fn read(r: &mut Reader<'_>, format: Format) -> Result<Self, StateError> {
        let flags = r.u8()?;
        let on = |bit: u8| flags & bit != 0;
        let header_encryption = Ratchet::stored_header_encryption(flags);
        let config = SessionConfig::read(r, header_encryption)?.ok_or(StateError::Inconsistent)?;
        let associated_data: [u8; AD_LEN] = r.array()?;
        let role = match (on(FLAG_INITIATOR), on(FLAG_ACKNOWLEDGED)) {
            (true, acknowledged) => Role::Initiator { acknowledged },
            (false, false) => Role::Responder,
            (false, true) => return Err(StateError::Inconsistent),
        };
        let peer = match role {
            Role::Initiator { .. } => associated_data.last_chunk::<32>(),
            Role::Responder => associated_data.first_chunk::<32>(),
        };
        let peer_identity = peer
            .and_then(|bytes| IdentityKey::from_bytes(bytes).ok())
            .ok_or(StateError::Inconsistent)?;
        let base_key = PublicKey::from_bytes(r.array()?);
        let signed_prekey_id = r.u32_be()?;
        let one_time_prekey_id = if on(FLAG_ONE_TIME_PREKEY) {
            Some(r.u32_be()?)
        } else {
            None
        };
        let kem_prekey_id = if format.has_post_quantum() && r.flag()? {
            Some(r.u32_be()?)
        } else {
            None
        };
        let kem_ciphertext = match (kem_prekey_id, role) {
            (
                Some(_),
                Role::Initiator {
                    acknowledged: false,
                },
            ) => Some(Box::new(r.array::<CIPHERTEXT_LEN>()?)),
            _ => None,
        };
        let handshake = Handshake {
            base_key,
            signed_prekey_id,
            kem_prekey_id,
            one_time_prekey_id,
        };
        let ratchet = Ratchet::read(r, format, flags & RATCHET_FLAGS, config)?;
        let answered = !matches!(
            role,
            Role::Initiator {
                acknowledged: false
            }
        );
        if ratchet.has_receiving_chain() != answered {
            return Err(StateError::Inconsistent);
        }
        Ok(Self {
            ratchet,
            associated_data,
            peer_identity,
            role,
            handshake,
            kem_ciphertext,
        })
    }

    /// A session stored inside a record: `u32be(len) || session`.
    pub(crate) fn write_nested(&self, w: &mut impl Writer) {
        w.put_len(self.encoded_len());
        w.put(&[storage::SESSION.plain, storage::SESSION.version]);
        self.write(w);
    }

    /// Reads what [`write_nested`](Self::write_nested) wrote.
    pub(crate) fn read_nested(r: &mut Reader<'_>) -> Result<Self, StateError> {
        let mut inner = Reader::new(storage::nested(r)?);
        let format = storage::header(&mut inner, storage::SESSION)?;
        let session = Self::read(&mut inner, format)?;
        inner.finish()?;
        Ok(session)
    }
}

storage::sealed_storage!(Session, storage::SESSION, "session");
