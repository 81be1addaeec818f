//! The stored form of a [`PersonRecord`] ([SPEC §11](crate::spec)).

use alloc::collections::BTreeMap;

use crate::SessionRecord;
use crate::codec::{Reader, Writer};
use crate::error::{Error, StateError};
use crate::keys::IdentityKey;
use crate::storage::{self, PERSON, Secret};

use super::key::header;
use super::list::VerifiedDeviceList;
use super::record::PersonRecord;

impl PersonRecord {
    /// The record's whole state ([SPEC §11](crate::spec)), every session record in the
    /// format of [`SessionRecord::to_stored`]. Keep it secret; prefer
    /// [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x25 || version (1) || flag [|| UK_pub (32)] || verified flag
    ///      || flag [|| u32be(own_device_id)] || u64be(reported_version)
    ///      || flag [|| u32be(len) || device list (len)]
    ///      || u32be(n) || n × (u32be(device_id) || u32be(len) || session record (len))
    /// ```
    ///
    /// There is one session record per listed device (the own device
    /// excepted), by ascending id, each pinned to its listed key.
    ///
    /// ```
    /// use cliquet::PersonRecord;
    /// let record = PersonRecord::own(3);
    /// let restored = PersonRecord::from_stored(&record.to_stored())?;
    /// assert_eq!(restored.own_device(), Some(3));
    /// assert_eq!(*restored.to_stored(), *record.to_stored());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_stored(&self) -> Secret {
        let records: alloc::vec::Vec<(u32, Secret)> = self
            .sessions
            .iter()
            .map(|(id, r)| (*id, r.to_stored()))
            .collect();
        let len = 2
            + 1
            + self.user_key.map_or(0, |_| 32)
            + 1
            + 1
            + self.own_device.map_or(0, |_| 4)
            + 8
            + 1
            + self.list.as_ref().map_or(0, |l| 4 + l.as_bytes().len())
            + 4
            + records.iter().map(|(_, r)| 8 + r.len()).sum::<usize>();
        let mut out = storage::start(PERSON, len);
        out.put_flag(self.user_key.is_some());
        if let Some(key) = &self.user_key {
            out.put(key.as_bytes());
        }
        out.put_flag(self.verified);
        out.put_flag(self.own_device.is_some());
        if let Some(id) = self.own_device {
            out.put_u32_be(id);
        }
        out.put(&self.reported_version.to_be_bytes());
        out.put_flag(self.list.is_some());
        if let Some(list) = &self.list {
            out.put_len(list.as_bytes().len());
            out.put(list.as_bytes());
        }
        out.put_len(records.len());
        for (id, record) in &records {
            out.put_u32_be(*id);
            out.put_len(record.len());
            out.put(record);
        }
        out
    }

    /// Loads a record stored by [`to_stored`](Self::to_stored). The stored
    /// list is decoded and its keys checked again; its signatures, checked
    /// when it was accepted, are not.
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, unknown version, truncated, trailing or
    /// inconsistent input (a list that does not decode, a list of another
    /// user key than the pinned one, session records that are not exactly
    /// one per listed device, or one pinned to another key).
    pub fn from_stored(bytes: &[u8]) -> Result<Self, Error> {
        Self::read(bytes).map_err(Error::State)
    }

    fn read(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes);
        header(&mut r, PERSON)?;
        let user_key = if r.flag()? {
            Some(IdentityKey::from_bytes(&r.array()?).map_err(|_| StateError::Inconsistent)?)
        } else {
            None
        };
        let verified = r.flag()?;
        let own_device = if r.flag()? { Some(r.u32_be()?) } else { None };
        let reported_version = u64::from_be_bytes(r.array()?);
        let list = if r.flag()? {
            let bytes = storage::nested(&mut r)?;
            Some(VerifiedDeviceList::from_stored(bytes).map_err(|_| StateError::Inconsistent)?)
        } else {
            None
        };
        let n = storage::count(&mut r, 4 + 4)?;
        let mut sessions = BTreeMap::new();
        let mut expected = list
            .iter()
            .flat_map(|l| l.devices())
            .filter(|d| Some(d.device_id()) != own_device);
        for _ in 0..n {
            let id = r.u32_be()?;
            let record =
                SessionRecord::from_stored(storage::nested(&mut r)?).map_err(|e| match e {
                    Error::State(e) => e,
                    _ => StateError::Inconsistent,
                })?;
            let entry = expected.next().ok_or(StateError::Inconsistent)?;
            if entry.device_id() != id
                || record.peer_identity_key() != Some(entry.identity_key())
                || record.changed_identity().is_some()
            {
                return Err(StateError::Inconsistent);
            }
            sessions.insert(id, record);
        }
        if expected.next().is_some() {
            return Err(StateError::Inconsistent);
        }
        r.finish()?;
        let list_key = list.as_ref().map(VerifiedDeviceList::user_key);
        if (verified && user_key.is_none())
            || list_key.is_some_and(|k| Some(k) != user_key.as_ref())
        {
            return Err(StateError::Inconsistent);
        }
        Ok(Self {
            user_key,
            verified,
            own_device,
            reported_version,
            list,
            sessions,
        })
    }
}

storage::sealed_storage!(PersonRecord, PERSON, "person record");
