//! Unit tests of the record: the bounded cost of forged messages.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::Message;
use crate::pairwise::account::Account;
use crate::pairwise::ratchet::receive::NEW_CHAIN_TRIALS;
use crate::pairwise::wire::RatchetMessage;

/// A record with a current session and `archived` archived ones, each
/// of which has sent since its last ratchet step, so that a plain
/// message with an unknown ratchet key passes every cheap filter.
fn record_of_senders(archived: usize) -> (SessionRecord, Message) {
    let mut rng = ChaCha20Rng::from_seed([21; 32]);
    let config = SessionConfig::default();
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let mut record = SessionRecord::new();
    let mut genuine = None;
    for _ in 0..=archived {
        let bundle = bob.bundle(None).unwrap().verify().unwrap();
        record
            .start_new(alice.identity(), &bundle, config, &mut rng)
            .unwrap();
        let AnyMessage::PreKey(first) = record.encrypt(b"hi", &mut rng).unwrap() else {
            panic!("a prekey message")
        };
        let mut theirs = bob.accept(&first, config).unwrap().session;
        let reply = theirs.encrypt(b"reply", &mut rng).unwrap();
        record.decrypt(&mut bob, &reply, config).unwrap();
        record.encrypt(b"sent since", &mut rng).unwrap();
        genuine = Some(theirs.encrypt(b"later", &mut rng).unwrap());
    }
    assert_eq!(record.archived().len(), archived);
    let Some(AnyMessage::Ratchet(RatchetMessage::Plain(m))) = genuine else {
        panic!("a plain message")
    };
    (record, m)
}

#[test]
fn bounded_cost_a_forged_message_starts_at_most_two_new_chains() {
    let (mut record, genuine) = record_of_senders(40);
    let mut account = Account::new(&mut ChaCha20Rng::from_seed([1; 32]));
    // A random ratchet key with PN = N = 1000: a new chain for the
    // current session and for every archived one.
    let mut forged = genuine.as_bytes().to_vec();
    forged[1..33].copy_from_slice(&[0x42; 32]);
    forged[33..37].copy_from_slice(&1000u32.to_be_bytes());
    forged[37..41].copy_from_slice(&1000u32.to_be_bytes());
    let forged = AnyMessage::decode(&forged).unwrap();
    let before = record.to_bytes();
    NEW_CHAIN_TRIALS.with(|n| n.set(0));
    let result = record.decrypt(&mut account, &forged, SessionConfig::default());
    assert_eq!(result.err(), Some(Error::Authentication));
    // The current session, and the newest archived one.
    assert_eq!(NEW_CHAIN_TRIALS.with(core::cell::Cell::get), 2);
    assert_eq!(record.to_bytes(), before);
    // With a small N, the budget covers 16 archived sessions.
    let mut small = genuine.as_bytes().to_vec();
    small[1..33].copy_from_slice(&[0x42; 32]);
    small[33..37].copy_from_slice(&1000u32.to_be_bytes());
    small[37..41].copy_from_slice(&[0; 4]);
    let small = AnyMessage::decode(&small).unwrap();
    NEW_CHAIN_TRIALS.with(|n| n.set(0));
    let result = record.decrypt(&mut account, &small, SessionConfig::default());
    assert_eq!(result.err(), Some(Error::Authentication));
    assert_eq!(NEW_CHAIN_TRIALS.with(core::cell::Cell::get), 1 + 16);
}
