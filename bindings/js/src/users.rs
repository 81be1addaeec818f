//! People with several devices (SPEC §14): user keys, device lists, the
//! person record.

use crate::error::{Result, array, identity_key, js, to_js};
use crate::keys::{Account, SafetyNumber, SessionConfig};
use crate::record::Decrypted;
use crate::rng;
use cliquet::{AnyMessage, PreKeyBundle};
use wasm_bindgen::prelude::*;

use crate::error::stored_state;

/// A person's user key: signs the list of the person's devices and
/// nothing else. Holds a secret: `free()` it, store it with `seal`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct UserKeyPair(cliquet::UserKeyPair);

#[wasm_bindgen]
impl UserKeyPair {
    /// A new user key.
    pub fn generate() -> UserKeyPair {
        Self(cliquet::UserKeyPair::generate(&mut rng()))
    }
    /// The public half (`UK_pub`, 32 bytes): what peers pin.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Vec<u8> {
        self.0.public_key().to_bytes().to_vec()
    }
}

stored_state!(UserKeyPair, "user key");

#[wasm_bindgen]
impl Account {
    /// The link signature (64 bytes) this device makes to be listed as
    /// `deviceId` under the user key `userKey` (32 bytes).
    #[wasm_bindgen(js_name = linkSignature)]
    pub fn link_signature(
        &self,
        #[wasm_bindgen(js_name = userKey)] user_key: &[u8],
        #[wasm_bindgen(js_name = deviceId)] device_id: u32,
    ) -> Result<Vec<u8>> {
        let user_key = identity_key(user_key)?;
        Ok(self.0.link_signature(&user_key, device_id).to_vec())
    }
}

/// A device list whose signatures were checked: the only kind a
/// `PersonRecord` accepts.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct VerifiedDeviceList(cliquet::VerifiedDeviceList);

#[wasm_bindgen]
impl VerifiedDeviceList {
    /// Decodes and verifies a published list (`malformed`,
    /// `bad_signature`, `invalid_key`).
    pub fn decode(bytes: &[u8]) -> Result<VerifiedDeviceList> {
        js(cliquet::VerifiedDeviceList::decode(bytes)).map(Self)
    }
    /// The encoding, to publish.
    pub fn encode(&self) -> Vec<u8> {
        self.0.encode()
    }
    /// The user key that signed it (32 bytes).
    #[wasm_bindgen(getter, js_name = userKey)]
    pub fn user_key(&self) -> Vec<u8> {
        self.0.user_key().to_bytes().to_vec()
    }
    /// The version (a `bigint`).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> u64 {
        self.0.version()
    }
    /// The listed devices, by ascending id.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "{deviceId: number, identityKey: Uint8Array}[]"
    )]
    pub fn devices(&self) -> JsValue {
        let devices = self.0.devices().iter();
        js_array(devices.map(|d| listed(d.device_id(), d.identity_key())))
    }
}

/// A plain JS object with these properties.
fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (name, value) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object.into()
}

fn bytes(b: &[u8]) -> JsValue {
    js_sys::Uint8Array::from(b).into()
}

fn ids(ids: &[u32]) -> JsValue {
    js_sys::Uint32Array::from(ids).into()
}

/// `{deviceId, identityKey}`.
fn listed(device_id: u32, key: &cliquet::IdentityKey) -> JsValue {
    object(&[
        ("deviceId", device_id.into()),
        ("identityKey", bytes(key.as_bytes())),
    ])
}

fn js_array(items: impl Iterator<Item = JsValue>) -> JsValue {
    items.collect::<js_sys::Array>().into()
}

/// Builds a device list and signs it with the user key. `device` and
/// `remove` return the builder (this object is used up), so calls chain:
/// `new DeviceListBuilder(1n).device(1, key, link).sign(userKey)`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct DeviceListBuilder(cliquet::DeviceListBuilder);

#[wasm_bindgen]
impl DeviceListBuilder {
    /// An empty list of version `version` (a `bigint`).
    #[wasm_bindgen(constructor)]
    pub fn new(version: u64) -> DeviceListBuilder {
        Self(cliquet::DeviceListBuilder::new(version))
    }
    /// The devices of `list`, as its next version.
    pub fn next(list: &VerifiedDeviceList) -> DeviceListBuilder {
        Self(cliquet::DeviceListBuilder::next(&list.0))
    }
    /// Adds a device (or replaces the entry with the same id): its id,
    /// identity key (32 bytes) and link signature (64 bytes,
    /// `Account.linkSignature`).
    pub fn device(
        self,
        #[wasm_bindgen(js_name = deviceId)] device_id: u32,
        #[wasm_bindgen(js_name = identityKey)] key: &[u8],
        #[wasm_bindgen(js_name = linkSignature)] link_signature: &[u8],
    ) -> Result<DeviceListBuilder> {
        let (key, link) = (identity_key(key)?, array(link_signature)?);
        Ok(Self(self.0.device(device_id, key, link)))
    }
    /// Removes the device with this id, if listed.
    pub fn remove(self, #[wasm_bindgen(js_name = deviceId)] device_id: u32) -> DeviceListBuilder {
        Self(self.0.remove(device_id))
    }
    /// Signs the list (`malformed` for no device or more than 32,
    /// `invalid_key`, `bad_signature` for a wrong link signature).
    pub fn sign(&self, user_key: &UserKeyPair) -> Result<VerifiedDeviceList> {
        js(self.0.sign(&user_key.0)).map(VerifiedDeviceList)
    }
}

/// Everything one device keeps about one person: the pinned user key, the
/// accepted device list, a session record per listed device. Holds
/// secrets: `free()` it, store it with `seal`.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct PersonRecord(cliquet::PersonRecord);

#[wasm_bindgen]
impl PersonRecord {
    /// The record of a person this device knows nothing of yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> PersonRecord {
        Self::default()
    }
    /// The record of this device's own person, where this device is
    /// `deviceId`: no session with itself.
    pub fn own(#[wasm_bindgen(js_name = deviceId)] device_id: u32) -> PersonRecord {
        Self(cliquet::PersonRecord::own(device_id))
    }
    /// Accepts a verified list (`identity_changed` with the list's user
    /// key if another is pinned; `stale_device_list` if older than the
    /// accepted one, or the same version with other bytes).
    #[wasm_bindgen(
        js_name = acceptList,
        unchecked_return_type = "{kind: 'accepted' | 'unchanged', added: Uint32Array, removed: Uint32Array, changed: Uint32Array}"
    )]
    pub fn accept_list(&mut self, list: &VerifiedDeviceList) -> Result<JsValue> {
        let (kind, added, removed, changed) = match js(self.0.accept_list(&list.0))? {
            cliquet::ListChange::Accepted {
                added,
                removed,
                changed,
            } => ("accepted", added, removed, changed),
            cliquet::ListChange::Unchanged => ("unchanged", vec![], vec![], vec![]),
        };
        Ok(object(&[
            ("kind", kind.into()),
            ("added", ids(&added)),
            ("removed", ids(&removed)),
            ("changed", ids(&changed)),
        ]))
    }
    /// Pins a new user key (after `identity_changed` and the user's
    /// decision): the list and every session are dropped.
    #[wasm_bindgen(js_name = acceptUserKey)]
    pub fn accept_user_key(
        &mut self,
        #[wasm_bindgen(js_name = userKey)] user_key: &[u8],
    ) -> Result<()> {
        self.0.accept_user_key(&identity_key(user_key)?);
        Ok(())
    }
    /// Records that the user compared the safety number of `userKey`
    /// (`identity_changed` if another key is pinned).
    #[wasm_bindgen(js_name = markVerified)]
    pub fn mark_verified(
        &mut self,
        #[wasm_bindgen(js_name = userKey)] user_key: &[u8],
    ) -> Result<()> {
        js(self.0.mark_verified(&identity_key(user_key)?))
    }
    #[wasm_bindgen(getter, js_name = isVerified)]
    pub fn is_verified(&self) -> bool {
        self.0.is_verified()
    }
    /// The pinned user key (32 bytes), if any.
    #[wasm_bindgen(getter, js_name = userKey)]
    pub fn user_key(&self) -> Option<Vec<u8>> {
        self.0.user_key().map(|k| k.to_bytes().to_vec())
    }
    /// The accepted list's version (a `bigint`), if any.
    #[wasm_bindgen(getter, js_name = listVersion)]
    pub fn list_version(&self) -> Option<u64> {
        self.0.list_version()
    }
    /// The listed devices (the own device excepted), by ascending id.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "{deviceId: number, identityKey: Uint8Array}[]"
    )]
    pub fn devices(&self) -> JsValue {
        js_array(self.0.devices().map(|(id, key)| listed(id, key)))
    }
    /// The listed devices without a current session: fetch their bundles
    /// and `startSession` with each.
    #[wasm_bindgen(js_name = devicesNeedingBundle)]
    pub fn devices_needing_bundle(&self) -> Vec<u32> {
        self.0.devices_needing_bundle()
    }
    /// Starts a session with device `deviceId` from its published bundle;
    /// returns the session's 32-byte id (`unknown_device` if the list does
    /// not name the bundle's identity key for that id; the bundle's
    /// errors, `bad_signature` say).
    #[wasm_bindgen(js_name = startSession)]
    pub fn start_session(
        &mut self,
        #[wasm_bindgen(js_name = deviceId)] device_id: u32,
        account: &Account,
        bundle: &[u8],
        config: &SessionConfig,
    ) -> Result<Vec<u8>> {
        let bundle = js(PreKeyBundle::decode(bundle).and_then(|b| b.verify()))?;
        let id = self.0.start_session(
            device_id,
            account.0.identity(),
            &bundle,
            config.0,
            &mut rng(),
        );
        js(id).map(|id| id.to_bytes().to_vec())
    }
    /// Encrypts once for every listed device with a session
    /// (`stale_device_list` if a device reported a newer list, `no_session`
    /// if no device has a session).
    #[wasm_bindgen(
        unchecked_return_type = "{messages: {deviceId: number, bytes: Uint8Array}[], failed: {deviceId: number, error: Error}[]}"
    )]
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<JsValue> {
        let fanout = js(self.0.encrypt(plaintext, &mut rng()))?;
        let messages = fanout.messages.into_iter().map(|m| {
            object(&[
                ("deviceId", m.device_id.into()),
                ("bytes", bytes(m.message.as_bytes())),
            ])
        });
        let messages = js_array(messages);
        let failed = fanout
            .failed
            .into_iter()
            .map(|f| object(&[("deviceId", f.device_id.into()), ("error", to_js(f.error))]));
        Ok(object(&[
            ("messages", messages),
            ("failed", js_array(failed)),
        ]))
    }
    /// Decrypts a message from device `deviceId` of this person
    /// (`unknown_device` if the list does not name it, or a prekey
    /// message's identity key is not its listed key).
    pub fn decrypt(
        &mut self,
        account: &mut Account,
        #[wasm_bindgen(js_name = deviceId)] device_id: u32,
        message: &[u8],
        config: &SessionConfig,
    ) -> Result<Decrypted> {
        let message = js(AnyMessage::decode(message))?;
        let d = js(self
            .0
            .decrypt(&mut account.0, device_id, &message, config.0))?;
        Ok(Decrypted {
            plaintext: d.plaintext,
            account_changed: d.account_changed,
        })
    }
    /// Notes the list version a device of the person reported inside an
    /// authenticated message (`splitListVersion`).
    #[wasm_bindgen(js_name = reportListVersion)]
    pub fn report_list_version(&mut self, version: u64) {
        self.0.report_list_version(version);
    }
    /// Whether a newer list was reported than the accepted one (or there
    /// is none): fetch the person's list and `acceptList` it.
    #[wasm_bindgen(getter, js_name = needsNewerList)]
    pub fn needs_newer_list(&self) -> bool {
        self.0.needs_newer_list()
    }
}

stored_state!(PersonRecord, "person record");

/// `u64be(version) || plaintext`: the sender's own list version, carried
/// inside the encrypted message.
#[wasm_bindgen(js_name = encodeWithListVersion)]
pub fn encode_with_list_version(version: u64, plaintext: &[u8]) -> Vec<u8> {
    cliquet::encode_with_list_version(version, plaintext)
}

/// Splits what `encodeWithListVersion` made (`malformed` under 8 bytes).
#[wasm_bindgen(
    js_name = splitListVersion,
    unchecked_return_type = "{version: bigint, plaintext: Uint8Array}"
)]
pub fn split_list_version(wire: &[u8]) -> Result<JsValue> {
    let (version, plaintext) = js(cliquet::split_list_version(wire))?;
    Ok(object(&[
        ("version", version.into()),
        ("plaintext", bytes(plaintext)),
    ]))
}

#[wasm_bindgen]
impl SafetyNumber {
    /// The safety number of two people with several devices: from their
    /// user keys, one comparison for all their devices.
    #[wasm_bindgen(js_name = forUserKeys)]
    pub fn for_user_keys(
        #[wasm_bindgen(js_name = ownUserKey)] own_key: &[u8],
        #[wasm_bindgen(js_name = ownId)] own_id: &[u8],
        #[wasm_bindgen(js_name = peerUserKey)] peer_key: &[u8],
        #[wasm_bindgen(js_name = peerId)] peer_id: &[u8],
    ) -> Result<SafetyNumber> {
        let (own, peer) = (identity_key(own_key)?, identity_key(peer_key)?);
        js(cliquet::SafetyNumber::for_user_keys(
            &own, own_id, &peer, peer_id,
        ))
        .map(SafetyNumber)
    }
}
