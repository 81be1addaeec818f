//! A record's stored form ([SPEC §11](crate::spec)): its limits, its peer's identity and
//! its sessions, nested; plain or sealed.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;

use super::{Archived, Identity, SessionRecord, Standing};
use crate::codec::{Reader, Writer};
use crate::error::{Error, StateError};
use crate::keys::IdentityKey;
use crate::pairwise::session::Session;
use crate::pairwise::wire::SessionId;
use crate::storage::{self, Secret};

impl SessionRecord {
    /// The record's whole state in the storage format of [SPEC §7](crate::spec): every
    /// session in the session format of [`Session::to_stored`], unchanged.
    /// Keep it secret; prefer [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x22 || version (1) || u32be(max_archived) || u32be(max_archived_skipped_keys)
    ///      || flag [|| pinned IK (32)] || verified flag || flag [|| changed IK (32)]
    ///      || flag [|| warned session id (32) || notice tag (16)]
    ///      || flag (current present) [|| u32be(len) || session (len)]
    ///      || u32be(count) || count × (standing (1) || u32be(len) || session (len))
    /// ```
    ///
    /// Archived sessions are stored newest first; `standing` says why one
    /// was archived (0 replaced, 1 lost a tie-break, 2 abandoned), which
    /// decides what may make it current again.
    ///
    /// ```
    /// use cliquet::{Account, SessionConfig, SessionRecord};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([8; 32]);
    /// let alice = Account::new(&mut rng);
    /// let bob = Account::new(&mut rng);
    /// let mut record = SessionRecord::new();
    /// let bundle = bob.bundle(None)?.verify()?;
    /// record.start_new(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
    /// record.start_new(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
    /// let restored = SessionRecord::from_stored(&record.to_stored())?;
    /// assert_eq!(restored.to_stored(), record.to_stored());
    /// assert_eq!(restored.archived().len(), 1);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_stored(&self) -> Secret {
        let nested = |s: &Session| 4 + s.encoded_len();
        let key = |k: Option<IdentityKey>| 1 + k.map_or(0, |_| 32);
        let len = 2
            + 8
            + key(self.identity.pinned)
            + 1
            + key(self.identity.changed)
            + 1
            + self.warning.map_or(0, |_| 48)
            + 1
            + self.current.as_deref().map_or(0, nested)
            + 4
            + self
                .archived
                .iter()
                .map(|a| 1 + nested(&a.session))
                .sum::<usize>();
        let mut out = storage::start(storage::RECORD, len);
        out.put_u32_be(self.max_archived);
        out.put_u32_be(self.max_archived_skipped_keys);
        write_identity(&mut out, self.identity.pinned.as_ref());
        out.put_flag(self.identity.verified);
        write_identity(&mut out, self.identity.changed.as_ref());
        out.put_flag(self.warning.is_some());
        if let Some((session, tag)) = &self.warning {
            out.put(&session.to_bytes());
            out.put(tag);
        }
        out.put_flag(self.current.is_some());
        if let Some(session) = &self.current {
            session.write_nested(&mut out);
        }
        out.put_len(self.archived.len());
        for entry in &self.archived {
            out.put_u8(entry.standing.to_byte());
            entry.session.write_nested(&mut out);
        }
        out
    }

    /// Loads a record stored by [`to_stored`](Self::to_stored) (any format
    /// version up to this library's; a version 1 record, which did not
    /// store its peer's identity key, takes it from its sessions).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input (a session that does not load, more archived
    /// sessions or skipped keys than the record's limits, a session of
    /// another identity key than the record's, or the same session twice).
    pub fn from_stored(bytes: &[u8]) -> Result<Self, Error> {
        Self::read(bytes).map_err(Error::State)
    }

    pub(super) fn read(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes);
        let format = storage::header(&mut r, storage::RECORD)?;
        let mut record =
            Self::with_limits(r.u32_be()?, r.u32_be()?).map_err(|_| StateError::Inconsistent)?;
        if format.has_peer_identity() {
            record.identity = Identity {
                pinned: read_identity(&mut r)?,
                verified: r.flag()?,
                changed: read_identity(&mut r)?,
            };
        }
        if format.has_notice_warning() && r.flag()? {
            record.warning = Some((SessionId::from_bytes(r.array()?), r.array()?));
        }
        if r.flag()? {
            record.current = Some(Box::new(Session::read_nested(&mut r)?));
        }
        let n = storage::count(&mut r, 1 + 4)?;
        if n > usize::try_from(record.max_archived).unwrap_or(usize::MAX) {
            return Err(StateError::Inconsistent);
        }
        for _ in 0..n {
            let standing = Standing::from_byte(r.u8()?).ok_or(StateError::Inconsistent)?;
            let session = Box::new(Session::read_nested(&mut r)?);
            record.archived.push_back(Archived { session, standing });
        }
        r.finish()?;
        if !format.has_peer_identity() {
            let first = record.sessions().next().map(|s| *s.peer_identity_key());
            record.identity.pinned = first;
        }
        let Identity {
            pinned,
            verified,
            changed,
        } = record.identity;
        let unpinned = pinned.is_none() && (verified || changed.is_some());
        if unpinned || changed.is_some() && changed == pinned {
            return Err(StateError::Inconsistent);
        }
        let skipped: usize = record.archived().map(Session::skipped_keys).sum();
        let budget = usize::try_from(record.max_archived_skipped_keys).unwrap_or(usize::MAX);
        let mut base_keys = BTreeSet::new();
        for session in record.sessions() {
            if Some(*session.peer_identity_key()) != pinned
                || !base_keys.insert(*session.base_key())
            {
                return Err(StateError::Inconsistent);
            }
        }
        if skipped > budget {
            return Err(StateError::Inconsistent);
        }
        Ok(record)
    }
}

/// `flag [|| IK (32)]`.
fn write_identity(w: &mut impl Writer, identity: Option<&IdentityKey>) {
    w.put_flag(identity.is_some());
    if let Some(key) = identity {
        w.put(key.as_bytes());
    }
}

fn read_identity(r: &mut Reader<'_>) -> Result<Option<IdentityKey>, StateError> {
    if !r.flag()? {
        return Ok(None);
    }
    let key = IdentityKey::from_bytes(&r.array()?).map_err(|_| StateError::Inconsistent)?;
    Ok(Some(key))
}

storage::sealed_storage!(SessionRecord, storage::RECORD, "record");

impl SessionRecord {
    /// Opens a sealed record (see [`open`](Self::open)) that must belong to
    /// `peer`: a record of another peer, swapped in by whoever can write
    /// the application's storage, is refused even if it was sealed under
    /// the same key and context. A record that has no peer yet opens.
    ///
    /// # Errors
    /// [`StateError::OtherPeer`] for a record of another identity key, and
    /// the errors of [`open`](Self::open).
    pub fn open_for_peer(
        sealed: &[u8],
        storage_key: &[u8; 32],
        context: &[u8],
        peer: &IdentityKey,
    ) -> Result<Self, Error> {
        let record = Self::open(sealed, storage_key, context)?;
        match record.peer_identity_key() {
            Some(pinned) if pinned != peer => Err(StateError::OtherPeer.into()),
            _ => Ok(record),
        }
    }
}
