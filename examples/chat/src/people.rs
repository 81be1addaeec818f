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
//! What this module leaves out, unlike [`crate::client`]: its state lives in
//! memory only (no SQLite, no outbox, no crash recovery), it does not sync
//! messages to the person's own other devices, and it has no groups.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use cliquet::rand_core::UnwrapErr;
use cliquet::{
    Account, AnyMessage, DeviceList, DeviceListBuilder, IdentityKey, ListChange, PersonRecord,
    PreKeyBundle, SafetyNumber, SessionConfig, UserKeyPair, VerifiedDeviceList,
};
use getrandom::SysRng;

use crate::client::Result;
use crate::proto::{ANSWER_TIMEOUT, Envelope, Request, Response, read_frame, until, write_frame};

/// How many one-time prekeys of each kind a device publishes.
const ONE_TIME_PREKEYS: usize = 10;

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
    /// The first device of `name`: makes the user key, publishes its
    /// bundle under `name/1` and the list of itself (version 1).
    pub fn first(relay: SocketAddr, name: &str) -> Result<Self> {
        let mut rng = UnwrapErr(SysRng);
        let signer = UserKeyPair::generate(&mut rng);
        let user_key = *signer.public_key();
        let mut device = Self::connect(relay, name, 1, user_key)?;
        let link = device.account.link_signature(&user_key, 1);
        let list = DeviceListBuilder::new(1)
            .device(1, *device.account.identity_key(), link)
            .sign(&signer)?;
        device.signer = Some(signer);
        device.publish_list(list)?;
        Ok(device)
    }

    /// A new device `device_id` of `name`, whose user key is `user_key`
    /// (shown by the first device): publishes its bundle under
    /// `name/device_id`. It is not listed until the first device links it.
    pub fn linked(
        relay: SocketAddr,
        name: &str,
        device_id: u32,
        user_key: &IdentityKey,
    ) -> Result<Self> {
        Self::connect(relay, name, device_id, *user_key)
    }

    fn connect(
        relay: SocketAddr,
        name: &str,
        device_id: u32,
        user_key: IdentityKey,
    ) -> Result<Self> {
        let mut rng = UnwrapErr(SysRng);
        let mut account = Account::new(&mut rng);
        account.generate_one_time_prekeys(ONE_TIME_PREKEYS, &mut rng);
        account.generate_one_time_kem_prekeys(ONE_TIME_PREKEYS, &mut rng);
        let relay = TcpStream::connect_timeout(&relay, ANSWER_TIMEOUT)?;
        relay.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        relay.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        relay.set_nodelay(true)?;
        let mut device = Self {
            name: name.to_owned(),
            device_id,
            account,
            user_key,
            signer: None,
            own_list: None,
            people: HashMap::new(),
            relay,
            rng,
            config: SessionConfig::default().with_header_encryption(true),
        };
        let publication = device.account.full_publication().encode();
        device.call(Request::Publish {
            user: device.mailbox(),
            publication,
        })?;
        Ok(device)
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

    fn publish_list(&mut self, list: VerifiedDeviceList) -> Result<()> {
        self.call(Request::PublishDeviceList {
            user: self.name.clone(),
            list: list.encode(),
        })?;
        self.own_list = Some(list);
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
        let record = self.people.entry(peer.to_owned()).or_default();
        Ok(record.accept_list(&list)?)
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
    pub fn send(&mut self, peer: &str, text: &str) -> Result<Vec<u32>> {
        // A list the relay holds back or replays is no newer: keep ours.
        match self.refresh(peer) {
            Ok(_) => {}
            Err(e) if matches!(e.downcast_ref(), Some(cliquet::Error::StaleDeviceList)) => {}
            Err(e) => return Err(e),
        }
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
        let fanout = record.encrypt(text.as_bytes(), &mut self.rng)?;
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
    /// acknowledged.
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
            let text = AnyMessage::decode(&envelope.payload)
                .and_then(|message| {
                    record.decrypt(&mut self.account, device_id, &message, self.config)
                })
                .map(|got| String::from_utf8_lossy(&got.plaintext).into_owned());
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
