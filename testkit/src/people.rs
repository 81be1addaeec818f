//! [`Person`]: a person with a user key and devices, the lists they sign,
//! and two people holding person records of each other
//! ([`Conversation`]): the SPEC §14 tests (`tests/users.rs`,
//! `tests/users_storage.rs`).

use cliquet::{
    Account, DeviceListBuilder, ListChange, PersonRecord, SessionConfig, UserKeyPair,
    VerifiedDeviceList,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// The config of every session in these tests.
pub fn config() -> SessionConfig {
    SessionConfig::default()
}

/// A person: a user key and devices by id.
#[derive(Debug)]
pub struct Person {
    /// The person's user key.
    pub user: UserKeyPair,
    /// Each device's id and account.
    pub devices: Vec<(u32, Account)>,
}

impl Person {
    /// A person with a fresh user key and one account per device id.
    pub fn new(ids: &[u32], rng: &mut ChaCha20Rng) -> Self {
        Self {
            user: UserKeyPair::generate(rng),
            devices: ids.iter().map(|id| (*id, Account::new(rng))).collect(),
        }
    }

    /// The account of device `id`.
    pub fn device(&mut self, id: u32) -> &mut Account {
        &mut self
            .devices
            .iter_mut()
            .find(|(i, _)| *i == id)
            .expect("device")
            .1
    }

    /// The list of every current device, signed at `version`.
    pub fn list(&self, version: u64) -> VerifiedDeviceList {
        let uk = *self.user.public_key();
        let mut builder = DeviceListBuilder::new(version);
        for (id, account) in &self.devices {
            builder = builder.device(
                *id,
                *account.identity_key(),
                account.link_signature(&uk, *id),
            );
        }
        builder.sign(&self.user).expect("a valid list")
    }

    /// The list as a peer receives it: bytes, decoded and verified.
    pub fn published(&self, version: u64) -> VerifiedDeviceList {
        VerifiedDeviceList::decode(self.list(version).as_bytes()).expect("verifies")
    }
}

/// A seeded RNG.
pub fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// The `ListChange` of an accepted list with these device ids.
pub fn accepted(added: &[u32], removed: &[u32], changed: &[u32]) -> ListChange {
    ListChange::Accepted {
        added: added.to_vec(),
        removed: removed.to_vec(),
        changed: changed.to_vec(),
    }
}

/// `holder` starts a session with every listed device of `person` that
/// needs one.
pub fn start_all(holder: &mut PersonRecord, me: &Account, person: &Person, rng: &mut ChaCha20Rng) {
    for id in holder.devices_needing_bundle() {
        let account = &person
            .devices
            .iter()
            .find(|(i, _)| *i == id)
            .expect("listed")
            .1;
        let bundle = account
            .bundle(None)
            .expect("bundle")
            .verify()
            .expect("verifies");
        holder
            .start_session(id, me.identity(), &bundle, config(), rng)
            .expect("session starts");
    }
}

/// Alice (one device, listed under her user key) and Bob's device 1, each
/// holding a person record of the other.
#[derive(Debug)]
pub struct Conversation {
    /// Alice.
    pub alice: Person,
    /// Bob.
    pub bob: Person,
    /// Alice's record of Bob.
    pub alice_holds: PersonRecord,
    /// Bob's device 1's record of Alice.
    pub bob_holds: PersonRecord,
}

/// Alice and Bob with person records of each other and sessions.
pub fn conversation(rng: &mut ChaCha20Rng) -> Conversation {
    let alice = Person::new(&[1], rng);
    let bob = Person::new(&[1, 2], rng);
    let mut alice_holds = PersonRecord::new();
    alice_holds
        .accept_list(&bob.published(1))
        .expect("Bob's list");
    let mut bob_holds = PersonRecord::new();
    bob_holds
        .accept_list(&alice.published(1))
        .expect("Alice's list");
    start_all(&mut alice_holds, &alice.devices[0].1, &bob, rng);
    Conversation {
        alice,
        bob,
        alice_holds,
        bob_holds,
    }
}
