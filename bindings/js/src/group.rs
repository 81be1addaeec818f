//! Sender-key groups (SPEC §10).

use crate::error::{Result, array, identity_key, js, secret_in, secret_out};
use crate::keys::SessionConfig;
use crate::rng;
use cliquet::{GroupMessage, SenderKeyDistribution};
use wasm_bindgen::prelude::*;

use crate::error::stored_state;

/// One group: this member's sender chain and the chains of the others.
/// Holds secrets: `free()` it, store it with `seal`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct GroupSession(cliquet::GroupSession);

#[wasm_bindgen]
impl GroupSession {
    /// A group state for the 16-byte group id, without an own chain yet
    /// (`rotate` creates it).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = groupId)] group_id: &[u8],
        config: &SessionConfig,
    ) -> Result<GroupSession> {
        Ok(Self(cliquet::GroupSession::new(array(group_id)?, config.0)))
    }
    #[wasm_bindgen(getter, js_name = groupId)]
    pub fn group_id(&self) -> Vec<u8> {
        self.0.group_id().to_vec()
    }
    /// Starts a new own chain; returns its distribution, a SECRET to send
    /// to each member inside the pairwise session.
    pub fn rotate(&mut self) -> Result<js_sys::Uint8Array> {
        js(self.0.rotate(&mut rng())).map(|d| secret_out(&*d.encode()))
    }
    /// Like `rotate`, with a chain id above `floor` (after losing state).
    #[wasm_bindgen(js_name = rotateAbove)]
    pub fn rotate_above(&mut self, floor: u32) -> Result<js_sys::Uint8Array> {
        js(self.0.rotate_above(floor, &mut rng())).map(|d| secret_out(&*d.encode()))
    }
    /// The current own chain's distribution (a secret), if any.
    pub fn distribution(&self) -> Option<js_sys::Uint8Array> {
        self.0.distribution().map(|d| secret_out(&*d.encode()))
    }
    /// Encrypts once for every member (`unknown_chain` before `rotate`).
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        js(self.0.encrypt(plaintext, &mut rng())).map(GroupMessage::into_bytes)
    }
    /// Files a distribution that arrived in the pairwise session of the
    /// member with identity key `sender`.
    #[wasm_bindgen(js_name = receiveDistribution)]
    pub fn receive_distribution(
        &mut self,
        sender: &[u8],
        distribution: &js_sys::Uint8Array,
    ) -> Result<()> {
        let distribution = js(SenderKeyDistribution::decode(&secret_in(distribution)))?;
        js(self
            .0
            .receive_distribution(&identity_key(sender)?, &distribution))
    }
    /// Decrypts a group message of the member `sender`.
    pub fn decrypt(&mut self, sender: &[u8], message: &[u8]) -> Result<Vec<u8>> {
        let message = js(GroupMessage::decode(message))?;
        js(self.0.decrypt(&identity_key(sender)?, &message))
    }
    /// Drops every chain of `sender`; whether there was one.
    #[wasm_bindgen(js_name = removeSender)]
    pub fn remove_sender(&mut self, sender: &[u8]) -> Result<bool> {
        Ok(self.0.remove_sender(&identity_key(sender)?))
    }
    #[wasm_bindgen(js_name = chainsFrom)]
    pub fn chains_from(&self, sender: &[u8]) -> Result<u32> {
        let n = self.0.chains_from(&identity_key(sender)?);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

stored_state!(GroupSession, "group state");
