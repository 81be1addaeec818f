//! People with several devices (SPEC §14) over the relay.
//!
//! A [`Device`] is one device of a person: its mailbox and prekey directory
//! on the relay are `name/device` (`alice/2`). The person's first device
//! makes the user key, which signs the person's device list; the relay
//! stores the latest list per person and serves it to anyone, unchecked.
//! A peer keeps one `PersonRecord` per person: it verifies each list it
//! fetches against the user key it pinned, starts a session with each
//! listed device from that device's bundle (a bundle whose identity key is
//! not the listed one is refused), and one `encrypt` fans a message out to
//! every device. The safety number is that of the two user keys, so it is
//! the same whichever device a person talks from.
//!
//! Linking: the new device signs its agreement to be device `N` of the
//! person's user key ([`Device::link_request`]), and the first device, which
//! holds the user key, signs the next list with it ([`Device::link_device`]).
//! Between two real devices that would travel in a QR code.
//!
//! The device's state lives in SQLite, sealed under the storage key in the
//! file next to the database (as for [`crate::client`]): the account, the
//! user key on the signing device, the last list it signed, and one sealed
//! `PersonRecord` per person. Each received message's state is stored
//! before the message is acknowledged, and a sent message's before it is
//! handed to the relay. What this module leaves out, unlike
//! [`crate::client`]: an outbox and a record of processed message ids (a
//! crash between storing and sending loses that message; a redelivered one
//! fails to decrypt), trust-on-first-use prompts (a new user key is an
//! error here), and groups.
//!
//! A device sends to its own person's other devices by sending to its own
//! name: the record of its own person (`PersonRecord::own`) leaves it out.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Instant;

use cliquet::rand_core::UnwrapErr;
use cliquet::{
    Account, AnyMessage, DeviceList, DeviceListBuilder, IdentityKey, ListChange, PersonRecord,
    PreKeyBundle, SafetyNumber, SessionConfig, UserKeyPair, VerifiedDeviceList,
    encode_with_list_version, split_list_version,
};
use getrandom::SysRng;
use rusqlite::{Connection, OptionalExtension, params};
use zeroize::Zeroizing;

use crate::client::{Result, create_storage_key, key_path, read_storage_key};
use crate::proto::{ANSWER_TIMEOUT, Envelope, Request, Response, read_frame, until, write_frame};

/// How many one-time prekeys of each kind a device publishes.
const ONE_TIME_PREKEYS: usize = 10;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS device (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    device_id INTEGER NOT NULL,
    user_key BLOB NOT NULL,
    account BLOB NOT NULL,
    -- On the signing device: the sealed user key and the last list signed.
    signer BLOB,
    own_list BLOB
);
-- One sealed PersonRecord per person.
CREATE TABLE IF NOT EXISTS people (
    name TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
);
";
const ACCOUNT_CONTEXT: &[u8] = b"chat/device/account";
const SIGNER_CONTEXT: &[u8] = b"chat/device/user-key";

fn person_context(name: &str) -> Vec<u8> {
    format!("chat/device/person/{name}").into_bytes()
}

/// A message a device read, or why it refused it.
#[derive(Debug)]
pub struct Delivery {
    /// The sending person, as the relay said.
    pub from: String,
    /// The sending device, as the relay said.
    pub device_id: u32,
    /// The plaintext, or why it was refused (`UnknownDevice` for a device
    /// the sender's list does not name).
    pub text: std::result::Result<String, cliquet::Error>,
}

/// One device of a person, talking to the relay.
pub struct Device {
    name: String,
    device_id: u32,
    account: Account,
    /// The person's user key: its secret on the device that signs lists.
    user_key: IdentityKey,
    signer: Option<UserKeyPair>,
    /// The last list this device signed (on the signing device).
    own_list: Option<VerifiedDeviceList>,
    people: HashMap<String, PersonRecord>,
    db: Connection,
    storage_key: Zeroizing<[u8; 32]>,
    relay: TcpStream,
    rng: UnwrapErr<SysRng>,
    config: SessionConfig,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Opens the device whose state is in `db_path`, or creates it: device
    /// 1 of a person makes the user key, publishes its bundle under `name/1`
    /// and the list of itself (version 1); another device needs the
    /// person's `user_key` (shown by the first device), publishes its bundle
    /// under `name/device_id`, and is not listed until the first device
    /// links it ([`link_request`](Self::link_request)).
    pub fn open(
        db_path: &Path,
        relay: SocketAddr,
        name: &str,
        device_id: u32,
        user_key: Option<&IdentityKey>,
    ) -> Result<Self> {
        let mut rng = UnwrapErr(SysRng);
        let db = Connection::open(db_path)?;
        db.execute_batch(SCHEMA)?;
        let key_path = key_path(db_path);
        type Row = (
            String,
            u32,
            Vec<u8>,
            Vec<u8>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let stored: Option<Row> = db
            .query_row(
                "SELECT name, device_id, user_key, account, signer, own_list FROM device WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?)),
            )
            .optional()?;
        let relay = TcpStream::connect_timeout(&relay, ANSWER_TIMEOUT)?;
        relay.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        relay.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        relay.set_nodelay(true)?;
        if let Some((owner, id, user_key, account, signer, own_list)) = stored {
            if owner != name || id != device_id {
                let path = db_path.display();
                return Err(format!("{path} belongs to {owner}/{id}").into());
            }
            let storage_key = read_storage_key(&key_path)?;
            let user_key = <[u8; 32]>::try_from(user_key.as_slice())
                .map_err(|_| "a stored user key is 32 bytes")?;
            let mut people = HashMap::new();
            let mut rows = db.prepare("SELECT name, sealed FROM people")?;
            for row in rows.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
            })? {
                let (person, sealed) = row?;
                let record = PersonRecord::open(&sealed, &storage_key, &person_context(&person))?;
                people.insert(person, record);
            }
            drop(rows);
            let mut device = Self {
                name: name.to_owned(),
                device_id,
                account: Account::open(&account, &storage_key, ACCOUNT_CONTEXT)?,
                user_key: IdentityKey::from_bytes(&user_key)?,
                signer: signer
                    .map(|sealed| UserKeyPair::open(&sealed, &storage_key, SIGNER_CONTEXT))
                    .transpose()?,
                own_list: own_list
                    .map(|bytes| VerifiedDeviceList::decode(&bytes))
                    .transpose()?,
                people,
                db,
                storage_key,
                relay,
                rng,
                config: SessionConfig::default().with_header_encryption(true),
            };
            // Everything again: the relay ignores the one-time keys it
            // already handed out, and a relay restarted empty is repaired.
            device.republish()?;
            return Ok(device);
        }
        let storage_key = match read_storage_key(&key_path) {
            Ok(key) => key,
            Err(_) => create_storage_key(&key_path, &mut rng)?,
        };
        let signer = match (device_id, user_key) {
            (1, None) => Some(UserKeyPair::generate(&mut rng)),
            (1, Some(_)) => return Err("device 1 makes the user key".into()),
            (_, Some(_)) => None,
            (_, None) => return Err("a linked device needs the person's user key".into()),
        };
        let user_key = *signer
            .as_ref()
            .map_or_else(|| user_key.ok_or("no user key"), |s| Ok(s.public_key()))?;
        let mut account = Account::new(&mut rng);
        account.generate_one_time_prekeys(ONE_TIME_PREKEYS, &mut rng);
        account.generate_one_time_kem_prekeys(ONE_TIME_PREKEYS, &mut rng);
        let sealed = account.seal(&storage_key, ACCOUNT_CONTEXT, &mut rng)?;
        let sealed_signer = signer
            .as_ref()
            .map(|s| s.seal(&storage_key, SIGNER_CONTEXT, &mut rng))
            .transpose()?;
        db.execute(
            "INSERT INTO device (id, name, device_id, user_key, account, signer) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![name, device_id, user_key.to_bytes(), sealed, sealed_signer],
        )?;
        let mut device = Self {
            name: name.to_owned(),
            device_id,
            account,
            user_key,
            signer,
            own_list: None,
            people: HashMap::new(),
            db,
            storage_key,
            relay,
            rng,
            config: SessionConfig::default().with_header_encryption(true),
        };
        device.republish()?;
        if let Some(signer) = &device.signer {
            let link = device.account.link_signature(&user_key, device_id);
            let list = DeviceListBuilder::new(1)
                .device(device_id, *device.account.identity_key(), link)
                .sign(signer)?;
            device.publish_list(list)?;
        }
        Ok(device)
    }

    /// Uploads the device's whole publication, and on the signing device the
    /// last list it signed.
    fn republish(&mut self) -> Result<()> {
        let publication = self.account.full_publication().encode();
        self.call(Request::Publish {
            user: self.mailbox(),
            publication,
        })?;
        if let Some(list) = &self.own_list {
            let list = list.encode();
            self.call(Request::PublishDeviceList {
                user: self.name.clone(),
                list,
            })?;
        }
        Ok(())
    }

    /// This device's mailbox on the relay: `name/device`.
    pub fn mailbox(&self) -> String {
        format!("{}/{}", self.name, self.device_id)
    }

    /// The person's user key.
    pub const fn user_key(&self) -> &IdentityKey {
        &self.user_key
    }

    /// What this device hands the signing device to be linked (a QR code):
    /// its id, its identity key, and its link signature.
    pub fn link_request(&self) -> (u32, IdentityKey, [u8; 64]) {
        (
            self.device_id,
            *self.account.identity_key(),
            self.account.link_signature(&self.user_key, self.device_id),
        )
    }

    /// [`link_request`](Self::link_request) as text to carry to the signing
    /// device (`chat_client --link CODE`): the hex of `u32be(device id) ||
    /// identity key || link signature`.
    pub fn link_code(&self) -> String {
        let (id, key, link) = self.link_request();
        hex::encode([&id.to_be_bytes()[..], key.as_bytes(), &link].concat())
    }

    /// On the signing device: links the device of a
    /// [`link_code`](Self::link_code); returns its id.
    pub fn link_with_code(&mut self, code: &str) -> Result<u32> {
        let bytes = hex::decode(code.trim())?;
        let (id, rest) = bytes.split_first_chunk::<4>().ok_or("a short link code")?;
        let (key, link) = rest.split_first_chunk::<32>().ok_or("a short link code")?;
        let link = <[u8; 64]>::try_from(link).map_err(|_| "a link code is 100 bytes")?;
        let id = u32::from_be_bytes(*id);
        self.link_device(id, IdentityKey::from_bytes(key)?, link)?;
        Ok(id)
    }

    /// On the signing device: lists the device of a
    /// [`link_request`](Self::link_request) in the next list and uploads it.
    pub fn link_device(
        &mut self,
        device_id: u32,
        identity: IdentityKey,
        link: [u8; 64],
    ) -> Result<()> {
        let list = DeviceListBuilder::next(self.signed_list()?)
            .device(device_id, identity, link)
            .sign(self.signer()?)?;
        self.publish_list(list)
    }

    /// On the signing device: the next list, without `device_id`, uploaded.
    pub fn remove_device(&mut self, device_id: u32) -> Result<()> {
        let list = DeviceListBuilder::next(self.signed_list()?)
            .remove(device_id)
            .sign(self.signer()?)?;
        self.publish_list(list)
    }

    fn signer(&self) -> Result<&UserKeyPair> {
        self.signer
            .as_ref()
            .ok_or_else(|| "only the first device holds the user key".into())
    }

    fn signed_list(&self) -> Result<&VerifiedDeviceList> {
        self.own_list
            .as_ref()
            .ok_or_else(|| "only the first device holds the user key".into())
    }

    /// Stores the list, then uploads it (a failed upload is repeated by
    /// the next change).
    fn publish_list(&mut self, list: VerifiedDeviceList) -> Result<()> {
        let bytes = list.encode();
        self.db
            .execute("UPDATE device SET own_list = ?1 WHERE id = 1", [&bytes])?;
        self.own_list = Some(list);
        self.call(Request::PublishDeviceList {
            user: self.name.clone(),
            list: bytes,
        })?;
        Ok(())
    }

    /// Stores the account and the record of `person`, in one transaction.
    fn store(&mut self, person: &str) -> Result<()> {
        let account = self
            .account
            .seal(&self.storage_key, ACCOUNT_CONTEXT, &mut self.rng)?;
        let tx = self.db.transaction()?;
        tx.execute("UPDATE device SET account = ?1 WHERE id = 1", [account])?;
        if let Some(record) = self.people.get(person) {
            let sealed = record.seal(&self.storage_key, &person_context(person), &mut self.rng)?;
            tx.execute(
                "INSERT OR REPLACE INTO people (name, sealed) VALUES (?1, ?2)",
                params![person, sealed],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Fetches `peer`'s device list from the relay, verifies it and has the
    /// record of `peer` judge it. Errors: a list that does not verify
    /// (`BadSignature`), one signed by another user key than the pinned one
    /// (`IdentityChanged`), an older one (`StaleDeviceList`).
    pub fn refresh(&mut self, peer: &str) -> Result<ListChange> {
        let Response::DeviceList(bytes) = self.call(Request::FetchDeviceList {
            user: peer.to_owned(),
        })?
        else {
            return Err("the relay answered FetchDeviceList with something else".into());
        };
        let list = DeviceList::decode(&bytes)?.verify()?;
        let record = if peer == self.name {
            // Our own person: pinned to our user key from the start.
            let mut own = PersonRecord::own(self.device_id);
            own.mark_verified(&self.user_key)?;
            self.people.entry(peer.to_owned()).or_insert(own)
        } else {
            self.people.entry(peer.to_owned()).or_default()
        };
        let change = record.accept_list(&list)?;
        if change != ListChange::Unchanged {
            self.store(peer)?;
        }
        Ok(change)
    }

    /// [`refresh`](Self::refresh), where a list the relay holds back or
    /// replays (no newer than ours) keeps ours.
    fn refresh_tolerant(&mut self, peer: &str) -> Result<()> {
        match self.refresh(peer) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.downcast_ref(), Some(cliquet::Error::StaleDeviceList)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The version of our person's current list: the last one signed here,
    /// or on another device the newest one the relay served, verified
    /// against our user key.
    fn own_list_version(&mut self) -> Result<u64> {
        if let Some(list) = &self.own_list {
            return Ok(list.version());
        }
        let name = self.name.clone();
        self.refresh_tolerant(&name)?;
        self.people
            .get(&name)
            .and_then(PersonRecord::list_version)
            .ok_or_else(|| "no list of our own person".into())
    }

    /// The safety number with `peer`: that of the two user keys, one per
    /// person whatever their devices (fetches their list if none is held).
    pub fn safety_number(&mut self, peer: &str) -> Result<SafetyNumber> {
        if self
            .people
            .get(peer)
            .and_then(PersonRecord::user_key)
            .is_none()
        {
            self.refresh(peer)?;
        }
        let theirs = self
            .people
            .get(peer)
            .and_then(PersonRecord::user_key)
            .ok_or("no user key for this peer")?;
        Ok(SafetyNumber::for_user_keys(
            &self.user_key,
            self.name.as_bytes(),
            theirs,
            peer.as_bytes(),
        )?)
    }

    /// The device ids `peer`'s accepted list names.
    pub fn devices_of(&self, peer: &str) -> Vec<u32> {
        self.people
            .get(peer)
            .map(|record| record.devices().map(|(id, _)| id).collect())
            .unwrap_or_default()
    }

    /// Sends `text` to every listed device of `peer`: fetches their current
    /// list, starts a session with each device without one (from its bundle
    /// at `peer/device`), encrypts once per device and puts each message in
    /// that device's mailbox. Returns the devices reached.
    ///
    /// Each message carries the version of our own current list
    /// (`encode_with_list_version`); a peer that reads a newer version than
    /// the list it holds stops sending to us (`StaleDeviceList`) until the
    /// relay serves that list, so that withholding the list that removed a
    /// device does not keep the device reached.
    pub fn send(&mut self, peer: &str, text: &str) -> Result<Vec<u32>> {
        let version = self.own_list_version()?;
        self.refresh_tolerant(peer)?;
        let needing = self
            .people
            .get(peer)
            .map(PersonRecord::devices_needing_bundle)
            .unwrap_or_default();
        for id in needing {
            let Response::Bundle(bytes) = self.call(Request::FetchBundle {
                user: format!("{peer}/{id}"),
            })?
            else {
                return Err("the relay answered FetchBundle with something else".into());
            };
            let bundle = PreKeyBundle::decode(&bytes)?.verify()?;
            let record = self.people.get_mut(peer).ok_or("no record")?;
            // Refused (`UnknownDevice`) unless the list names this key.
            record.start_session(
                id,
                self.account.identity(),
                &bundle,
                self.config,
                &mut self.rng,
            )?;
        }
        let record = self.people.get_mut(peer).ok_or("no record")?;
        let plaintext = encode_with_list_version(version, text.as_bytes());
        let fanout = record.encrypt(&plaintext, &mut self.rng)?;
        // Stored before anything is sent: never a message key used twice.
        self.store(peer)?;
        let mut reached = Vec::with_capacity(fanout.messages.len());
        for message in fanout.messages {
            let mut id = [0; 16];
            cliquet::rand_core::Rng::fill_bytes(&mut self.rng, &mut id);
            self.call(Request::Send {
                to: format!("{peer}/{}", message.device_id),
                envelope: Envelope {
                    from: self.mailbox(),
                    id,
                    payload: message.message.as_bytes().to_vec(),
                },
            })?;
            reached.push(message.device_id);
        }
        Ok(reached)
    }

    /// Reads this device's mailbox: each message is decrypted with the
    /// record of the sending person, for the sending device (fetching the
    /// person's list first if that device is not listed yet), and
    /// acknowledged once its state is stored. An envelope whose sender is
    /// not `name/device` is dropped; one that does not decrypt is reported
    /// and dropped.
    pub fn receive(&mut self) -> Result<Vec<Delivery>> {
        let Response::Mail(mail) = self.call(Request::Fetch {
            user: self.mailbox(),
        })?
        else {
            return Err("the relay answered Fetch with something else".into());
        };
        let mut deliveries = Vec::with_capacity(mail.len());
        for envelope in &mail {
            let Some((from, device_id)) = envelope
                .from
                .split_once('/')
                .and_then(|(name, id)| Some((name.to_owned(), id.parse::<u32>().ok()?)))
            else {
                continue;
            };
            let listed = self
                .people
                .get(&from)
                .is_some_and(|r| r.devices().any(|(id, _)| id == device_id));
            if !listed {
                // A device we have not seen listed: perhaps a newer list
                // names it. If none does, the record refuses it below.
                let _ = self.refresh(&from);
            }
            let record = self.people.entry(from.clone()).or_default();
            let decrypted = AnyMessage::decode(&envelope.payload).and_then(|message| {
                record.decrypt(&mut self.account, device_id, &message, self.config)
            });
            // A decrypted message changed the record (and the account, for
            // a prekey message): stored whatever its plaintext holds.
            let changed = decrypted.is_ok();
            let text = decrypted.and_then(|got| {
                let (version, text) = split_list_version(&got.plaintext)?;
                // As authentic as the message: the sender's list is at
                // least this version.
                record.report_list_version(version);
                Ok(String::from_utf8_lossy(text).into_owned())
            });
            if changed {
                self.store(&from)?;
            }
            deliveries.push(Delivery {
                from,
                device_id,
                text,
            });
        }
        if !mail.is_empty() {
            self.call(Request::Ack {
                user: self.mailbox(),
                ids: mail.iter().map(|e| e.id).collect(),
            })?;
        }
        Ok(deliveries)
    }

    /// One request, one answer; a refusal becomes an error.
    fn call(&mut self, request: Request) -> Result<Response> {
        write_frame(&mut self.relay, &request.encode())?;
        let frame = read_frame(&mut self.relay, &mut until(Instant::now() + ANSWER_TIMEOUT))?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        match Response::decode(&frame)? {
            Response::Refused(why) => Err(format!("relay refused: {why}").into()),
            response => Ok(response),
        }
    }
}
