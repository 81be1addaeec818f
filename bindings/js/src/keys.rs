//! Accounts, bundles, configuration and safety numbers.

use crate::error::{Result, identity_key, js};
use crate::rng;
use cliquet::SignedKemPreKey;
use wasm_bindgen::prelude::*;

use crate::error::stored_state;

/// Limits and modes of sessions (SPEC defaults: `maxSkip` 1000,
/// `maxSkippedKeys` 2000, no header encryption, PQXDH required).
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionConfig(pub(crate) cliquet::SessionConfig);

#[wasm_bindgen]
impl SessionConfig {
    /// The defaults, or the two limits given (`invalid_config` if
    /// `maxSkip` exceeds `maxSkippedKeys`, or a limit is too large).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = maxSkip)] max_skip: Option<u32>,
        #[wasm_bindgen(js_name = maxSkippedKeys)] max_skipped_keys: Option<u32>,
    ) -> Result<SessionConfig> {
        let default = cliquet::SessionConfig::default();
        let max_skip = max_skip.unwrap_or(default.max_skip());
        let max_skipped = max_skipped_keys.unwrap_or(default.max_skipped_keys());
        js(cliquet::SessionConfig::new(max_skip, max_skipped)).map(Self)
    }
    /// A copy with header encryption on or off.
    #[wasm_bindgen(js_name = withHeaderEncryption)]
    pub fn with_header_encryption(&self, on: bool) -> SessionConfig {
        Self(self.0.with_header_encryption(on))
    }
    /// A copy that refuses messages of the other header mode (`mode_refused`).
    #[wasm_bindgen(js_name = withRequiredMode)]
    pub fn with_required_mode(&self, on: bool) -> SessionConfig {
        Self(self.0.with_required_mode(on))
    }
    /// A copy that allows classic X3DH (no ML-KEM) sessions.
    #[wasm_bindgen(js_name = withClassicX3dh)]
    pub fn with_classic_x3dh(&self, allow: bool) -> SessionConfig {
        Self(self.0.with_classic_x3dh(allow))
    }
    #[wasm_bindgen(getter, js_name = maxSkip)]
    pub fn max_skip(&self) -> u32 {
        self.0.max_skip()
    }
    #[wasm_bindgen(getter, js_name = maxSkippedKeys)]
    pub fn max_skipped_keys(&self) -> u32 {
        self.0.max_skipped_keys()
    }
    #[wasm_bindgen(getter, js_name = headerEncryption)]
    pub fn header_encryption(&self) -> bool {
        self.0.header_encryption()
    }
}

/// One device: its identity key, signed, one-time and KEM prekeys. Holds
/// secrets: call `free()` when done; store it with `seal`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Account(pub(crate) cliquet::Account);

#[wasm_bindgen]
impl Account {
    /// A new account with fresh keys (a signed prekey and a last-resort
    /// KEM prekey included).
    #[wasm_bindgen(constructor)]
    pub fn new() -> Account {
        Self(cliquet::Account::new(&mut rng()))
    }
    /// The identity key (32 bytes), public.
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.0.identity_key().to_bytes().to_vec()
    }
    /// The bundle to publish (PQXDH: with the last-resort KEM prekey, or
    /// the one-time KEM prekey given as its published bytes), with the
    /// one-time prekey of that id if given.
    pub fn bundle(
        &self,
        #[wasm_bindgen(js_name = oneTimePrekey)] one_time_prekey: Option<u32>,
        #[wasm_bindgen(js_name = oneTimeKemPrekey)] one_time_kem_prekey: Option<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let mut bundle = js(self.0.bundle(one_time_prekey))?;
        if let Some(kem) = one_time_kem_prekey {
            bundle = bundle.with_kem_prekey(js(SignedKemPreKey::decode(&kem))?);
        }
        Ok(bundle.encode())
    }
    /// A classic X3DH bundle (no KEM prekey): only for peers that allow it.
    #[wasm_bindgen(js_name = classicBundle)]
    pub fn classic_bundle(
        &self,
        #[wasm_bindgen(js_name = oneTimePrekey)] one_time_prekey: Option<u32>,
    ) -> Result<Vec<u8>> {
        js(self.0.classic_bundle(one_time_prekey)).map(|b| b.encode())
    }
    /// Generates `count` one-time prekeys; returns their ids.
    #[wasm_bindgen(js_name = generateOneTimePrekeys)]
    pub fn generate_one_time_prekeys(&mut self, count: u32) -> Vec<u32> {
        let keys = self.0.generate_one_time_prekeys(count as usize, &mut rng());
        keys.into_iter().map(|(id, _)| id).collect()
    }
    /// Ids of the one-time prekeys not yet marked published.
    #[wasm_bindgen(js_name = unpublishedOneTimePrekeys)]
    pub fn unpublished_one_time_prekeys(&self) -> Vec<u32> {
        let keys = self.0.unpublished_one_time_prekeys();
        keys.into_iter().map(|(id, _)| id).collect()
    }
    #[wasm_bindgen(js_name = markOneTimePrekeysPublished)]
    pub fn mark_one_time_prekeys_published(&mut self) {
        self.0.mark_one_time_prekeys_published();
    }
    #[wasm_bindgen(js_name = removeOneTimePrekey)]
    pub fn remove_one_time_prekey(&mut self, id: u32) -> bool {
        self.0.remove_one_time_prekey(id)
    }
    #[wasm_bindgen(getter, js_name = oneTimePrekeyCount)]
    pub fn one_time_prekey_count(&self) -> u32 {
        u32::try_from(self.0.one_time_prekey_count()).unwrap_or(u32::MAX)
    }
    /// Starts a new signed prekey (the previous one stays until forgotten).
    #[wasm_bindgen(js_name = rotateSignedPrekey)]
    pub fn rotate_signed_prekey(&mut self) -> u32 {
        self.0.rotate_signed_prekey(&mut rng())
    }
    #[wasm_bindgen(js_name = forgetPreviousSignedPrekey)]
    pub fn forget_previous_signed_prekey(&mut self) {
        self.0.forget_previous_signed_prekey();
    }
    #[wasm_bindgen(getter, js_name = signedPrekeyId)]
    pub fn signed_prekey_id(&self) -> u32 {
        self.0.signed_prekey_id()
    }
    /// Starts a new last-resort KEM prekey.
    #[wasm_bindgen(js_name = rotateKemPrekey)]
    pub fn rotate_kem_prekey(&mut self) -> u32 {
        self.0.rotate_kem_prekey(&mut rng())
    }
    #[wasm_bindgen(js_name = forgetPreviousKemPrekey)]
    pub fn forget_previous_kem_prekey(&mut self) {
        self.0.forget_previous_kem_prekey();
    }
    /// Generates `count` one-time KEM prekeys; returns their signed,
    /// publishable forms, to pass to `bundle`.
    #[wasm_bindgen(js_name = generateOneTimeKemPrekeys)]
    pub fn generate_one_time_kem_prekeys(&mut self, count: u32) -> Vec<js_sys::Uint8Array> {
        let keys = self
            .0
            .generate_one_time_kem_prekeys(count as usize, &mut rng());
        keys.iter()
            .map(|k| js_sys::Uint8Array::from(k.encode().as_slice()))
            .collect()
    }
    #[wasm_bindgen(js_name = markOneTimeKemPrekeysPublished)]
    pub fn mark_one_time_kem_prekeys_published(&mut self) {
        self.0.mark_one_time_kem_prekeys_published();
    }
    #[wasm_bindgen(getter, js_name = oneTimeKemPrekeyCount)]
    pub fn one_time_kem_prekey_count(&self) -> u32 {
        u32::try_from(self.0.one_time_kem_prekey_count()).unwrap_or(u32::MAX)
    }
}

stored_state!(Account, "account");

impl Default for Account {
    fn default() -> Self {
        Self::new()
    }
}

/// A published bundle, decoded but not yet verified.
#[wasm_bindgen]
#[derive(Debug)]
pub struct PreKeyBundle(cliquet::PreKeyBundle);

#[wasm_bindgen]
impl PreKeyBundle {
    /// Decodes a bundle (`malformed` if it is not one).
    pub fn decode(bytes: &[u8]) -> Result<PreKeyBundle> {
        js(cliquet::PreKeyBundle::decode(bytes)).map(Self)
    }
    /// Checks the identity key and the signatures (`bad_signature`,
    /// `invalid_key`); only a verified bundle starts a session.
    pub fn verify(&self) -> Result<VerifiedBundle> {
        js(self.0.verify()).map(VerifiedBundle)
    }
    #[wasm_bindgen(getter, js_name = isPostQuantum)]
    pub fn is_post_quantum(&self) -> bool {
        self.0.is_post_quantum()
    }
    #[wasm_bindgen(getter, js_name = signedPrekeyId)]
    pub fn signed_prekey_id(&self) -> u32 {
        self.0.signed_prekey_id()
    }
    #[wasm_bindgen(getter, js_name = oneTimePrekeyId)]
    pub fn one_time_prekey_id(&self) -> Option<u32> {
        self.0.one_time_prekey().map(|(id, _)| id)
    }
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.encode()
    }
}

/// A bundle whose signatures were checked.
#[wasm_bindgen]
#[derive(Debug)]
pub struct VerifiedBundle(pub(crate) cliquet::VerifiedBundle);

#[wasm_bindgen]
impl VerifiedBundle {
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.0.identity_key().to_bytes().to_vec()
    }
    #[wasm_bindgen(getter, js_name = isPostQuantum)]
    pub fn is_post_quantum(&self) -> bool {
        self.0.is_post_quantum()
    }
}

/// The number two users compare (SPEC §9).
#[wasm_bindgen]
#[derive(Debug)]
pub struct SafetyNumber(pub(crate) cliquet::SafetyNumber);

#[wasm_bindgen]
impl SafetyNumber {
    /// From both identity keys and the users' stable identifiers (1 to 255
    /// bytes each, else `invalid_identifier`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = ownKey)] own_key: &[u8],
        #[wasm_bindgen(js_name = ownId)] own_id: &[u8],
        #[wasm_bindgen(js_name = peerKey)] peer_key: &[u8],
        #[wasm_bindgen(js_name = peerId)] peer_id: &[u8],
    ) -> Result<SafetyNumber> {
        let (own, peer) = (identity_key(own_key)?, identity_key(peer_key)?);
        js(cliquet::SafetyNumber::new(&own, own_id, &peer, peer_id)).map(Self)
    }
    /// The 60 digits, the same on both sides.
    #[wasm_bindgen(getter)]
    pub fn digits(&self) -> String {
        self.0.digits().into()
    }
    /// The digits as 12 groups of 5.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_display(&self) -> String {
        self.0.to_string()
    }
    /// The bytes to show as a QR code.
    pub fn scannable(&self) -> Vec<u8> {
        self.0.scannable().to_vec()
    }
    /// Checks the peer's scanned code (`mismatch`, `malformed`).
    #[wasm_bindgen(js_name = verifyScanned)]
    pub fn verify_scanned(&self, scanned: &[u8]) -> Result<()> {
        js(self.0.verify_scanned(scanned))
    }
}
