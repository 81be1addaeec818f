//! Unit tests of the record: the bounded cost of forged messages.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::Message;
use crate::crypto::kdf::HEADER_TRIALS;
use crate::pairwise::account::Account;
use crate::pairwise::ratchet::receive::NEW_CHAIN_TRIALS;
use crate::pairwise::record::receive::ARCHIVED_HEADER_TRIALS;
use crate::pairwise::wire::RatchetMessage;

/// A record with a current session and `archived` archived ones, each
/// of which has sent since its last ratchet step, so that a plain
/// message with an unknown ratchet key passes every cheap filter.
fn record_of_senders(archived: usize) -> (SessionRecord, Message) {
    let (record, mut later) = record_in_mode(archived, false);
    let Some(AnyMessage::Ratchet(RatchetMessage::Plain(m))) = later.pop() else {
        panic!("a plain message")
    };
    (record, m)
}

/// As [`record_of_senders`], in either header mode; returns each
/// session's next message from the peer, oldest session first.
fn record_in_mode(archived: usize, header_encryption: bool) -> (SessionRecord, Vec<AnyMessage>) {
    let mut rng = ChaCha20Rng::from_seed([21; 32]);
    let config = SessionConfig::default().with_header_encryption(header_encryption);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let mut record = SessionRecord::new();
    let mut later = Vec::new();
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
        later.push(theirs.encrypt(b"later", &mut rng).unwrap());
    }
    assert_eq!(record.archived().len(), archived);
    (record, later)
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
    let before = record.to_stored();
    NEW_CHAIN_TRIALS.with(|n| n.set(0));
    let result = record.decrypt(&mut account, &forged, SessionConfig::default());
    assert_eq!(result.err(), Some(Error::Authentication));
    // The current session, and the newest archived one.
    assert_eq!(NEW_CHAIN_TRIALS.with(core::cell::Cell::get), 2);
    assert_eq!(record.to_stored(), before);
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

/// Issue 20 item 6: a junk encrypted-header message cost one header
/// decryption per header key of every archived session (82 for forty
/// archived sessions). The archived sessions now share a budget of
/// `ARCHIVED_HEADER_TRIALS`, newest first, and a genuine late message to a
/// recent archived session still decrypts.
#[test]
fn bounded_cost_a_junk_encrypted_header_costs_a_bounded_number_of_trials() {
    let (mut record, _) = record_in_mode(40, true);
    let mut account = Account::new(&mut ChaCha20Rng::from_seed([1; 32]));
    let config = SessionConfig::default().with_header_encryption(true);
    let current = record.current().map(Session::header_trials).unwrap();
    let archived: usize = record.archived().map(Session::header_trials).sum();
    assert_eq!((current, archived), (2, 80));
    let mut junk = alloc::vec![0x13];
    junk.extend([0x5a; 68 + 32]);
    let junk = AnyMessage::decode(&junk).unwrap();
    let before = record.to_stored();
    HEADER_TRIALS.with(|n| n.set(0));
    let result = record.decrypt(&mut account, &junk, config);
    assert_eq!(result.err(), Some(Error::Authentication));
    let trials = HEADER_TRIALS.with(core::cell::Cell::get);
    assert!(
        trials <= current + ARCHIVED_HEADER_TRIALS,
        "{trials} trials"
    );
    assert_eq!(trials, current + ARCHIVED_HEADER_TRIALS);
    assert_eq!(record.to_stored(), before);
}

/// The budget spends on the newest archived sessions first: a late message
/// of the newest one is found at the cost of its own header keys.
#[test]
fn bounded_cost_a_late_encrypted_header_message_reaches_the_newest_archived_sessions() {
    let (mut record, mut later) = record_in_mode(3, true);
    let config = SessionConfig::default().with_header_encryption(true);
    let mut account = Account::new(&mut ChaCha20Rng::from_seed([2; 32]));
    // The newest archived session is the third one started.
    let message = later.swap_remove(2);
    let decrypted = record.decrypt(&mut account, &message, config).unwrap();
    assert_eq!(decrypted.plaintext, b"later");
}
