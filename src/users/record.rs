//! [`PersonRecord`]: what one device keeps about one person ([SPEC §14](crate::spec)):
//! the pinned user key, the last accepted device list, and one session
//! record per listed device.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::error::Error;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::{
    Account, AnyMessage, Decrypted, SessionConfig, SessionId, SessionRecord, VerifiedBundle,
};

use super::list::VerifiedDeviceList;

/// Everything one device keeps about one person ([SPEC §14](crate::spec)): the pinned
/// user key, the last accepted [`VerifiedDeviceList`], and one
/// [`SessionRecord`] per listed device. The same type keeps one's own
/// person, to reach one's other devices ([`PersonRecord::own`]).
///
/// # Rules
/// - [`accept_list`](Self::accept_list) takes only a verified list and
///   judges it against the record: the first list pins its user key; a
///   list of another user key is [`Error::IdentityChanged`] (the
///   application shows the new safety number and may
///   [`accept_user_key`](Self::accept_user_key)); an older list, or
///   another list for the accepted version, is [`Error::StaleDeviceList`];
///   a newer one reports the devices added, removed and changed. A removed
///   or changed device's sessions are dropped; a changed device (a
///   reinstall) needs no prompt, since the user key vouches for it.
/// - A session with a device starts only from a bundle whose identity key
///   the list names for that device ([`start_session`](Self::start_session)),
///   and a message from a device is decrypted only if the list names the
///   device and, for a prekey message, its identity key
///   ([`decrypt`](Self::decrypt)); else [`Error::UnknownDevice`].
/// - [`encrypt`](Self::encrypt) makes one message per listed device that
///   has a session; [`devices_needing_bundle`](Self::devices_needing_bundle)
///   names the others.
/// - A device of the person may report, inside an authenticated message,
///   the version of the person's current list
///   ([`report_list_version`](Self::report_list_version)); while it is
///   above the accepted one, [`encrypt`](Self::encrypt) refuses with
///   [`Error::StaleDeviceList`] (a directory may withhold a newer list that
///   removed a stolen device).
///
/// Every failed call leaves the record as it was.
///
/// # Linking a device
/// 1. The new device creates its [`Account`] and makes its link
///    signature for the person's user key and the id the application
///    gives it: [`Account::link_signature`].
/// 2. It hands its identity key, id and link signature to the device that
///    holds the [`UserKeyPair`](crate::UserKeyPair) (say as a QR code the
///    holder scans).
/// 3. The holder signs the next list with the new entry
///    ([`DeviceListBuilder::next`](crate::DeviceListBuilder::next)) and
///    uploads it to the directory, next to the new device's bundle.
/// 4. Peers fetch the list and accept it: the new device is *added*, and
///    they start sessions with it from its bundle.
///
/// Removing a lost device is the same with
/// [`DeviceListBuilder::remove`](crate::DeviceListBuilder::remove): peers
/// that accept the list drop its sessions and refuse its messages. The
/// person's other devices report the new version in their messages, so
/// that a peer that was served the old list stops sending until it fetches
/// the new one.
///
/// ```
/// use cliquet::{
///     Account, AnyMessage, DeviceListBuilder, ListChange, PersonRecord, SessionConfig,
///     SessionRecord, UserKeyPair, VerifiedDeviceList,
/// };
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([4; 32]);
/// let config = SessionConfig::default();
/// // Bob has a phone (device 1) and a laptop (device 2) under one user key.
/// let bob_user = UserKeyPair::generate(&mut rng);
/// let mut phone = Account::new(&mut rng);
/// let laptop = Account::new(&mut rng);
/// let uk = *bob_user.public_key();
/// let published = DeviceListBuilder::new(1)
///     .device(1, *phone.identity_key(), phone.link_signature(&uk, 1))
///     .device(2, *laptop.identity_key(), laptop.link_signature(&uk, 2))
///     .sign(&bob_user)?
///     .encode();
///
/// // Alice fetches Bob's list and the bundles of his devices.
/// let alice = Account::new(&mut rng);
/// let mut bob = PersonRecord::new();
/// let change = bob.accept_list(&VerifiedDeviceList::decode(&published)?)?;
/// assert_eq!(change, ListChange::Accepted { added: vec![1, 2], removed: vec![], changed: vec![] });
/// for id in bob.devices_needing_bundle() {
///     let account = if id == 1 { &phone } else { &laptop };
///     let bundle = account.bundle(None)?.verify()?;
///     bob.start_session(id, alice.identity(), &bundle, config, &mut rng)?;
/// }
/// let sent = bob.encrypt(b"hi Bob", &mut rng)?.messages;
/// assert_eq!(sent.len(), 2); // one message per device
///
/// // Bob's phone decrypts its copy.
/// let mut alice_on_phone = SessionRecord::new();
/// let wire = AnyMessage::decode(sent[0].message.as_bytes())?;
/// assert_eq!(sent[0].device_id, 1);
/// let got = alice_on_phone.decrypt(&mut phone, &wire, config)?;
/// assert_eq!(got.plaintext, b"hi Bob");
/// # Ok::<(), cliquet::Error>(())
/// ```
pub struct PersonRecord {
    pub(super) user_key: Option<IdentityKey>,
    pub(super) verified: bool,
    pub(super) own_device: Option<u32>,
    pub(super) reported_version: u64,
    pub(super) list: Option<VerifiedDeviceList>,
    /// One record per listed device (the own device excepted), pinned to
    /// its listed key.
    pub(super) sessions: BTreeMap<u32, SessionRecord>,
}

/// What [`PersonRecord::accept_list`] did with a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListChange {
    /// The list is the accepted one, byte for byte: nothing changed.
    Unchanged,
    /// The list was accepted (the first, or a newer version). Each set
    /// holds device ids, ascending.
    Accepted {
        /// Listed now, not before (all of them for a first list).
        added: Vec<u32>,
        /// Listed before, not now: their sessions were dropped.
        removed: Vec<u32>,
        /// Listed before and now with another device key (a reinstall):
        /// their old sessions were dropped. No prompt is due.
        changed: Vec<u32>,
    },
}

/// One message of [`PersonRecord::encrypt`]: for which device, and the
/// message to send it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceMessage {
    /// The recipient device.
    pub device_id: u32,
    /// The message for that device.
    pub message: AnyMessage,
}

/// What [`PersonRecord::encrypt`] made: one message per device whose
/// session sent, and the devices whose session could not.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fanout {
    /// The messages, by ascending device id.
    pub messages: Vec<DeviceMessage>,
    /// Devices whose session could not send (unchanged): start a new
    /// session with each.
    pub failed: Vec<DeviceFailure>,
}

/// A device [`PersonRecord::encrypt`] could not encrypt for, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceFailure {
    /// The device.
    pub device_id: u32,
    /// Why its session could not send (for instance
    /// [`Error::ChainExhausted`]).
    pub error: Error,
}

impl PersonRecord {
    /// A record of a person this device knows nothing of yet.
    pub const fn new() -> Self {
        Self {
            user_key: None,
            verified: false,
            own_device: None,
            reported_version: 0,
            list: None,
            sessions: BTreeMap::new(),
        }
    }

    /// The record of this device's own person, where this device is
    /// `own_device_id`: it keeps no session with itself, and
    /// [`encrypt`](Self::encrypt) reaches the person's other devices.
    pub const fn own(own_device_id: u32) -> Self {
        let mut record = Self::new();
        record.own_device = Some(own_device_id);
        record
    }

    /// This device's own id, for the record of its own person.
    pub const fn own_device(&self) -> Option<u32> {
        self.own_device
    }

    /// The pinned user key (`UK_pub`), if any.
    pub const fn user_key(&self) -> Option<&IdentityKey> {
        self.user_key.as_ref()
    }

    /// Whether the user compared safety numbers for the pinned user key
    /// ([`mark_verified`](Self::mark_verified)); a new user key clears it.
    pub const fn is_verified(&self) -> bool {
        self.verified
    }

    /// Records that the user verified `user_key` (compared the safety
    /// numbers of user keys); pins it if none is pinned.
    ///
    /// # Errors
    /// [`Error::IdentityChanged`] if another user key is pinned; nothing
    /// changes.
    pub fn mark_verified(&mut self, user_key: &IdentityKey) -> Result<(), Error> {
        match self.user_key {
            Some(pinned) if pinned != *user_key => Err(Error::IdentityChanged(*user_key)),
            _ => {
                self.user_key = Some(*user_key);
                self.verified = true;
                Ok(())
            }
        }
    }

    /// The last accepted list.
    pub const fn list(&self) -> Option<&VerifiedDeviceList> {
        self.list.as_ref()
    }

    /// The version of the last accepted list.
    pub fn list_version(&self) -> Option<u64> {
        self.list.as_ref().map(VerifiedDeviceList::version)
    }

    /// Judges a verified list against the record ([SPEC §14](crate::spec)) and, if it is
    /// accepted, applies it: pins its user key (a first list), drops the
    /// sessions of removed and changed devices, and makes empty session
    /// records for added and changed ones.
    ///
    /// ```
    /// use cliquet::{Account, DeviceListBuilder, Error, ListChange, PersonRecord, UserKeyPair};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    /// let user = UserKeyPair::generate(&mut rng);
    /// let phone = Account::new(&mut rng);
    /// let link = phone.link_signature(user.public_key(), 1);
    /// let v1 = DeviceListBuilder::new(1).device(1, *phone.identity_key(), link).sign(&user)?;
    /// let v2 = DeviceListBuilder::next(&v1).sign(&user)?;
    ///
    /// let mut record = PersonRecord::new();
    /// record.accept_list(&v2)?;
    /// assert_eq!(record.accept_list(&v2), Ok(ListChange::Unchanged));
    /// assert_eq!(record.accept_list(&v1), Err(Error::StaleDeviceList)); // a replayed old list
    ///
    /// // Bob lost his user key and made a new one: an identity change.
    /// let new_user = UserKeyPair::generate(&mut rng);
    /// let link = phone.link_signature(new_user.public_key(), 1);
    /// let fresh = DeviceListBuilder::new(1).device(1, *phone.identity_key(), link).sign(&new_user)?;
    /// assert_eq!(record.accept_list(&fresh), Err(Error::IdentityChanged(*new_user.public_key())));
    /// // After the user compared the new safety number:
    /// record.accept_user_key(new_user.public_key());
    /// assert!(matches!(record.accept_list(&fresh), Ok(ListChange::Accepted { .. })));
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::IdentityChanged`] (carrying the list's user key) if another
    /// user key is pinned; [`Error::StaleDeviceList`] if its version is
    /// below the accepted one, or equal with other bytes. Nothing changes.
    pub fn accept_list(&mut self, list: &VerifiedDeviceList) -> Result<ListChange, Error> {
        if self
            .user_key
            .is_some_and(|pinned| pinned != *list.user_key())
        {
            return Err(Error::IdentityChanged(*list.user_key()));
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        let mut changed = Vec::new();
        match &self.list {
            Some(old) if list.version() < old.version() => return Err(Error::StaleDeviceList),
            Some(old) if list.version() == old.version() => {
                return if old.as_bytes() == list.as_bytes() {
                    Ok(ListChange::Unchanged)
                } else {
                    Err(Error::StaleDeviceList)
                };
            }
            Some(old) => {
                for entry in old.devices() {
                    match list.device_key(entry.device_id()) {
                        None => removed.push(entry.device_id()),
                        Some(key) if key != entry.identity_key() => changed.push(entry.device_id()),
                        Some(_) => {}
                    }
                }
                added.extend(
                    list.devices()
                        .iter()
                        .map(super::DeviceEntry::device_id)
                        .filter(|id| old.device_key(*id).is_none()),
                );
            }
            None => added.extend(list.devices().iter().map(super::DeviceEntry::device_id)),
        }
        // Checks done: apply.
        for id in removed.iter().chain(&changed) {
            self.sessions.remove(id);
        }
        for entry in list.devices() {
            if Some(entry.device_id()) != self.own_device {
                self.sessions
                    .entry(entry.device_id())
                    .or_insert_with(|| pinned_record(entry.identity_key()));
            }
        }
        self.user_key = Some(*list.user_key());
        self.list = Some(list.clone());
        Ok(ListChange::Accepted {
            added,
            removed,
            changed,
        })
    }

    /// The application's decision that `user_key` is now the person's user
    /// key (after an [`Error::IdentityChanged`] from
    /// [`accept_list`](Self::accept_list), and after showing the user the
    /// new safety number). If it is not the pinned one, the last list and
    /// every device's session are dropped, the verified mark and the
    /// reported version are cleared, and the next list counts as the first.
    pub fn accept_user_key(&mut self, user_key: &IdentityKey) {
        if self.user_key != Some(*user_key) {
            self.list = None;
            self.sessions.clear();
            self.verified = false;
            self.reported_version = 0;
        }
        self.user_key = Some(*user_key);
    }

    /// Notes that a device of this person reported `version` as the
    /// version of the person's current list, inside an authenticated
    /// message (see [`split_list_version`](crate::split_list_version)).
    /// While it is above the accepted version,
    /// [`encrypt`](Self::encrypt) refuses: fetch the list again. Only the
    /// highest reported version is kept.
    pub fn report_list_version(&mut self, version: u64) {
        self.reported_version = self.reported_version.max(version);
    }

    /// The highest list version a device of the person reported (0 if
    /// none).
    pub const fn reported_list_version(&self) -> u64 {
        self.reported_version
    }

    /// Whether a device of the person reported a list newer than the
    /// accepted one (or the record has no list yet): fetch the person's
    /// current list and [`accept_list`](Self::accept_list) it.
    pub fn needs_newer_list(&self) -> bool {
        self.list_version()
            .is_none_or(|accepted| accepted < self.reported_version)
    }

    /// The listed devices (the own device excepted) with their keys, by
    /// ascending id.
    pub fn devices(&self) -> impl Iterator<Item = (u32, &IdentityKey)> {
        self.list
            .iter()
            .flat_map(|l| l.devices())
            .filter(|d| Some(d.device_id()) != self.own_device)
            .map(|d| (d.device_id(), d.identity_key()))
    }

    /// The session record of a listed device.
    pub fn session(&self, device_id: u32) -> Option<&SessionRecord> {
        self.sessions.get(&device_id)
    }

    /// The listed devices (the own device excepted) without a current
    /// session, by ascending id: fetch their bundles and
    /// [`start_session`](Self::start_session) with each.
    pub fn devices_needing_bundle(&self) -> Vec<u32> {
        self.sessions
            .iter()
            .filter(|(_, r)| r.needs_new_session())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Starts a session with device `device_id` from its verified bundle
    /// (see [`SessionRecord::start_new`]). Returns the session's id.
    ///
    /// ```
    /// use cliquet::{Account, DeviceListBuilder, Error, PersonRecord, SessionConfig, UserKeyPair};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([6; 32]);
    /// let (alice, user, phone) = (Account::new(&mut rng), UserKeyPair::generate(&mut rng), Account::new(&mut rng));
    /// let link = phone.link_signature(user.public_key(), 1);
    /// let list = DeviceListBuilder::new(1).device(1, *phone.identity_key(), link).sign(&user)?;
    /// let mut bob = PersonRecord::new();
    /// bob.accept_list(&list)?;
    /// // A server slips in a bundle of its own for device 1: refused.
    /// let server = Account::new(&mut rng);
    /// let forged = server.bundle(None)?.verify()?;
    /// let config = SessionConfig::default();
    /// assert_eq!(bob.start_session(1, alice.identity(), &forged, config, &mut rng), Err(Error::UnknownDevice));
    /// let genuine = phone.bundle(None)?.verify()?;
    /// bob.start_session(1, alice.identity(), &genuine, config, &mut rng)?;
    /// assert!(bob.devices_needing_bundle().is_empty());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownDevice`] if the accepted list does not name the
    /// bundle's identity key for `device_id` (or names the own device);
    /// the errors of [`SessionRecord::start_new`]. Nothing changes.
    pub fn start_session(
        &mut self,
        device_id: u32,
        identity: &IdentityKeyPair,
        bundle: &VerifiedBundle,
        config: SessionConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SessionId, Error> {
        let record = self.listed(device_id, bundle.identity_key())?;
        record.start_new(identity, bundle, config, rng)
    }

    /// The session record of `device_id` if the list names it with `key`.
    fn listed(&mut self, device_id: u32, key: &IdentityKey) -> Result<&mut SessionRecord, Error> {
        let listed = self.list.as_ref().and_then(|l| l.device_key(device_id));
        if listed != Some(key) {
            return Err(Error::UnknownDevice);
        }
        self.sessions
            .get_mut(&device_id)
            .ok_or(Error::UnknownDevice)
    }

    /// Encrypts `plaintext` once for every listed device that has a
    /// session (the own device excepted), by ascending device id. Devices
    /// without one are skipped: see
    /// [`devices_needing_bundle`](Self::devices_needing_bundle).
    ///
    /// A device whose session cannot send (its chain is exhausted, say)
    /// does not hold back the others: it is reported in
    /// [`Fanout::failed`], its session unchanged, and the application
    /// starts a new session with it. Every other session advanced by the
    /// one message returned for it.
    ///
    /// # Errors
    /// [`Error::StaleDeviceList`] if a device reported a newer list
    /// ([`needs_newer_list`](Self::needs_newer_list)) or there is no list;
    /// [`Error::NoSession`] if no listed device has a session; the error
    /// of the first device if every device failed (such as
    /// [`Error::TooLarge`] past 64 GiB). Nothing changes.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Fanout, Error> {
        if self.needs_newer_list() {
            return Err(Error::StaleDeviceList);
        }
        let mut fanout = Fanout {
            messages: Vec::with_capacity(self.sessions.len()),
            failed: Vec::new(),
        };
        for (id, record) in &mut self.sessions {
            if record.needs_new_session() {
                continue;
            }
            match record.encrypt(plaintext, rng) {
                Ok(message) => fanout.messages.push(DeviceMessage {
                    device_id: *id,
                    message,
                }),
                // Too large for one is too large for all: nothing changed yet.
                Err(Error::TooLarge) => return Err(Error::TooLarge),
                Err(error) => fanout.failed.push(DeviceFailure {
                    device_id: *id,
                    error,
                }),
            }
        }
        if fanout.messages.is_empty() {
            return Err(fanout.failed.first().map_or(Error::NoSession, |f| f.error));
        }
        Ok(fanout)
    }

    /// Decrypts a message from device `device_id` of this person (see
    /// [`SessionRecord::decrypt`], whose account rules apply).
    ///
    /// # Errors
    /// [`Error::UnknownDevice`] if the accepted list does not name
    /// `device_id` (never listed, or removed; or the own device), or if a
    /// prekey message's identity key is not the listed key of that device,
    /// checked before any key agreement; the errors of
    /// [`SessionRecord::decrypt`]. Nothing changes.
    pub fn decrypt(
        &mut self,
        account: &mut Account,
        device_id: u32,
        message: &AnyMessage,
        config: SessionConfig,
    ) -> Result<Decrypted, Error> {
        let listed = self
            .list
            .as_ref()
            .and_then(|l| l.device_key(device_id))
            .copied()
            .ok_or(Error::UnknownDevice)?;
        if let AnyMessage::PreKey(prekey) = message
            && prekey.identity_key()? != listed
        {
            return Err(Error::UnknownDevice);
        }
        let record = self.listed(device_id, &listed)?;
        record.decrypt(account, message, config)
    }
}

/// An empty session record pinned to a listed device key.
pub(super) fn pinned_record(key: &IdentityKey) -> SessionRecord {
    let mut record = SessionRecord::new();
    record.accept_identity(key);
    record
}

impl Default for PersonRecord {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PersonRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonRecord")
            .field("user_key", &self.user_key)
            .field("verified", &self.verified)
            .field("own_device", &self.own_device)
            .field("list_version", &self.list_version())
            .field("reported_version", &self.reported_version)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}
