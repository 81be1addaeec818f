//! People with several devices (SPEC §14), in one process.
//!
//! Bob has a phone; he links a laptop (the laptop makes its link signature,
//! the phone, which holds Bob's user key, signs the next device list), and
//! Alice, who holds a `PersonRecord` of Bob, reaches both devices with one
//! call. Bob's phone also reaches his laptop (his own other device). Then
//! the laptop is lost: the phone signs a list without it, but the
//! "directory" keeps serving Alice the old one. Bob's phone tells Alice the
//! version of its current list inside a message, so Alice stops sending
//! until she has fetched the new list, which drops the laptop.
//!
//! Run it with `cargo run --example devices`.
#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "an example is a std program; these lints guard the no_std library"
)]

use std::error::Error;

use cliquet::rand_core::UnwrapErr;
use cliquet::{
    Account, DeviceListBuilder, Error as CliquetError, ListChange, PersonRecord, SafetyNumber,
    SessionConfig, SessionRecord, UserKeyPair, VerifiedDeviceList, encode_with_list_version,
    split_list_version,
};
use getrandom::SysRng;

const PHONE: u32 = 1;
const LAPTOP: u32 = 2;

fn main() -> Result<(), Box<dyn Error>> {
    let mut rng = UnwrapErr(SysRng);
    let config = SessionConfig::default();

    // Bob's first device makes his user key and a list of itself.
    let bob_user = UserKeyPair::generate(&mut rng);
    let uk = *bob_user.public_key();
    let mut phone = Account::new(&mut rng);
    let v1 = DeviceListBuilder::new(1)
        .device(
            PHONE,
            *phone.identity_key(),
            phone.link_signature(&uk, PHONE),
        )
        .sign(&bob_user)?;

    // Linking the laptop: it signs its agreement to be device 2 of Bob's
    // user key and hands that to the phone (a QR code, say).
    let mut laptop = Account::new(&mut rng);
    let (laptop_key, laptop_link) = (*laptop.identity_key(), laptop.link_signature(&uk, LAPTOP));
    let v2 = DeviceListBuilder::next(&v1)
        .device(LAPTOP, laptop_key, laptop_link)
        .sign(&bob_user)?;
    // The directory now serves these bytes next to both devices' bundles.
    let mut directory = v2.encode();
    println!("Bob's list v2: {} bytes, devices 1 and 2", directory.len());

    // Alice and Bob compare one safety number: that of their user keys.
    let alice_user = UserKeyPair::generate(&mut rng);
    let number = SafetyNumber::for_user_keys(alice_user.public_key(), b"alice", &uk, b"bob")?;
    println!("safety number to compare: {number}");

    // Alice fetches Bob's list and his devices' bundles.
    let mut alice = Account::new(&mut rng);
    let mut bob = PersonRecord::new();
    let change = bob.accept_list(&VerifiedDeviceList::decode(&directory)?)?;
    println!("Alice accepts Bob's list: {change:?}");
    bob.mark_verified(&uk)?; // after comparing the safety number
    for id in bob.devices_needing_bundle() {
        let device = if id == PHONE { &phone } else { &laptop };
        let bundle = device.bundle(None)?.verify()?;
        bob.start_session(id, alice.identity(), &bundle, config, &mut rng)?;
    }
    let sent = bob.encrypt(b"hello, all of Bob", &mut rng)?;
    println!(
        "Alice sends one message per device: {:?}",
        ids(&sent.messages)
    );

    // Each of Bob's devices keeps a record of Alice's device (one session
    // per device pair); here both read their copy.
    let mut phone_to_alice = SessionRecord::new();
    let mut laptop_to_alice = SessionRecord::new();
    for m in &sent.messages {
        let (record, account) = if m.device_id == PHONE {
            (&mut phone_to_alice, &mut phone)
        } else {
            (&mut laptop_to_alice, &mut laptop)
        };
        let got = record.decrypt(account, &m.message, config)?;
        println!(
            "device {} reads: {}",
            m.device_id,
            String::from_utf8_lossy(&got.plaintext)
        );
    }

    // Bob's phone reaches his laptop the same way: a record of his own person.
    let mut own = PersonRecord::own(PHONE);
    own.accept_list(&v2)?;
    let laptop_bundle = laptop.bundle(None)?.verify()?;
    own.start_session(LAPTOP, phone.identity(), &laptop_bundle, config, &mut rng)?;
    let synced = own.encrypt(b"sync: read up to here", &mut rng)?;
    println!(
        "the phone syncs to its other devices: {:?}",
        ids(&synced.messages)
    );

    // The laptop is lost. The phone signs list 3 without it; the directory,
    // dishonest or stale, keeps serving list 2 to Alice.
    let v3 = DeviceListBuilder::next(&v2)
        .remove(LAPTOP)
        .sign(&bob_user)?;
    let published_v3 = v3.encode();
    // The phone's messages say which list is current.
    let reply =
        phone_to_alice.encrypt(&encode_with_list_version(v3.version(), b"hi!"), &mut rng)?;
    let got = bob.decrypt(&mut alice, PHONE, &reply, config)?;
    let (version, text) = split_list_version(&got.plaintext)?;
    bob.report_list_version(version);
    println!(
        "Alice reads {:?}; Bob's current list is v{version}",
        String::from_utf8_lossy(text)
    );
    match bob.encrypt(b"to the stolen laptop?", &mut rng) {
        Err(CliquetError::StaleDeviceList) => {
            println!("Alice sends nothing until she has a list at least v{version}");
        }
        other => return Err(format!("expected StaleDeviceList, got {other:?}").into()),
    }
    // The old list is no help; the new one is.
    assert_eq!(
        bob.accept_list(&VerifiedDeviceList::decode(&directory)?),
        Ok(ListChange::Unchanged)
    );
    directory = published_v3;
    let change = bob.accept_list(&VerifiedDeviceList::decode(&directory)?)?;
    println!("Alice accepts list v3: {change:?}");
    let sent = bob.encrypt(b"only to the phone", &mut rng)?;
    println!("Alice now sends to: {:?}", ids(&sent.messages));

    // A message from the lost laptop is refused before any key agreement.
    let from_laptop = laptop_to_alice.encrypt(b"it's still me", &mut rng)?;
    let refused = bob.decrypt(&mut alice, LAPTOP, &from_laptop, config);
    println!("a message from the removed laptop: {:?}", refused.err());
    Ok(())
}

fn ids(messages: &[cliquet::DeviceMessage]) -> Vec<u32> {
    messages.iter().map(|m| m.device_id).collect()
}
