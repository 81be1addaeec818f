//! The findings of the security review (hardening issue), one test each:
//! every test here failed before its fix.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    reason = "tests: a failed expectation is a failed test"
)]

mod common;

use cliquet::{
    Account, AnyMessage, DecryptionFailure, Error, IdentityKeyPair, RatchetMessage, Session,
    SessionConfig, SessionRecord, SignedPreKey, StateError,
};
use common::devices::Devices;
use common::rng::Recording;
use common::{established, initiated, prekey};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Whether `haystack` holds `needle` anywhere.
fn holds(haystack: &[u8], needle: &[u8; 32]) -> bool {
    haystack.windows(32).any(|w| w == needle)
}

#[test]
fn finding1_the_signed_prekey_secret_is_forgotten_with_its_rotation() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let spk_secret = [0x5c; 32];
    let mut bob = Account::from_keys(
        IdentityKeyPair::generate(&mut rng),
        SignedPreKey::from_secret_bytes(1, &spk_secret),
    );
    bob.rotate_kem_prekey(&mut rng);
    let alice = Account::new(&mut rng);
    let config = SessionConfig::default();
    let mut record = SessionRecord::new();
    for header_encryption in [false, true] {
        let bundle = bob
            .bundle(None)
            .expect("bundle")
            .verify()
            .expect("verifies");
        let config = config.with_header_encryption(header_encryption);
        // The responder decrypts and never replies: as a session, and in
        // a record.
        let mut a =
            Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
        let first = a.encrypt(b"one-way", &mut rng).expect("encrypt");
        let session = bob.accept(&prekey(first), config).expect("accept").session;
        assert!(
            !holds(&session.to_bytes(), &spk_secret),
            "session keeps SPK"
        );
        let mut a =
            Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
        let first = a.encrypt(b"one-way", &mut rng).expect("encrypt");
        let mut fresh = SessionRecord::new();
        fresh
            .decrypt(&mut bob, &first, config)
            .expect("record decrypts");
        record = fresh;
    }
    bob.rotate_signed_prekey(&mut rng);
    bob.rotate_signed_prekey(&mut rng);
    bob.forget_previous_signed_prekey();
    assert!(!holds(&bob.to_bytes(), &spk_secret), "account keeps SPK");
    assert!(!holds(&record.to_bytes(), &spk_secret), "record keeps SPK");
}

#[test]
fn finding1_a_second_new_chain_before_we_reply_is_refused() {
    let mut p = established(SessionConfig::default(), 2);
    // Alice's state before her next message, kept aside.
    let mut other_alice = Session::from_bytes(&p.a.to_bytes()).expect("loads");
    let new_chain = p.a_to_b(b"new chain");
    p.b.decrypt(&new_chain).expect("decrypts");
    // The copy starts another new chain against the same ratchet key of
    // Bob's. Bob forgot that key's secret when he received the first one.
    let other = other_alice
        .encrypt(b"another new chain", &mut ChaCha20Rng::from_seed([9; 32]))
        .expect("encrypt");
    let before = p.b.to_bytes();
    assert_eq!(p.b.decrypt(&other), Err(Error::Authentication));
    assert_eq!(p.b.to_bytes(), before);
    // Once Bob replied, the copy's chain is just an unknown chain too, and
    // Alice's genuine next chain works.
    let reply = p.b_to_a(b"reply");
    p.a.decrypt(&reply).expect("decrypts");
    let next = p.a_to_b(b"next");
    assert_eq!(p.b.decrypt(&next).expect("decrypts"), b"next");
}

#[test]
fn finding2_a_notice_counts_only_signed_by_the_peer_and_naming_the_current_chain() {
    let mut d = Devices::new(3);
    d.start(true);
    let hello = d.send(true, b"hello");
    d.deliver(true, &hello).expect("decrypts");
    let reply = d.send(false, b"reply");
    d.deliver(false, &reply).expect("decrypts");
    let unread = d.send(true, b"lost state");
    let alice_key = *d.alice.account.identity_key();
    let bob_id = IdentityKeyPair::from_secret_bytes(&[0; 32]);
    // The three bytes that used to abandon any session no longer decode.
    assert!(DecryptionFailure::decode(&[0x15, 0x00, 0x00]).is_err());
    // A notice signed by someone else, or for someone else, is ignored.
    let forged = DecryptionFailure::for_message(&unread, &bob_id, &alice_key);
    let before = d.alice.record.to_bytes();
    assert!(!d.alice.record.on_decryption_failure(&forged, &alice_key));
    let bob_key = *d.bob.account.identity_key();
    let misaddressed = DecryptionFailure::for_message(&unread, d.bob.account.identity(), &bob_key);
    assert!(
        !d.alice
            .record
            .on_decryption_failure(&misaddressed, &alice_key)
    );
    assert_eq!(d.alice.record.to_bytes(), before);
    // A notice about Bob's own earlier reply's chain, which Alice moved past.
    let stale = DecryptionFailure::for_message(&hello, d.bob.account.identity(), &alice_key);
    assert!(!d.alice.record.on_decryption_failure(&stale, &alice_key));
    // The genuine one, through its wire bytes, abandons the session.
    let genuine = DecryptionFailure::for_message(&unread, d.bob.account.identity(), &alice_key);
    assert_eq!(genuine.verify(&bob_key, &alice_key), Ok(()));
    assert_eq!(
        genuine.verify(&alice_key, &bob_key),
        Err(Error::BadSignature)
    );
    let genuine = DecryptionFailure::decode(&genuine.to_bytes()).expect("decodes");
    assert!(d.alice.record.on_decryption_failure(&genuine, &alice_key));
    assert!(d.alice.record.needs_new_session());
}

#[test]
fn finding3_an_empty_record_keeps_its_peer() {
    let mut d = Devices::new(4);
    d.bob.record = SessionRecord::with_limits(0, 0).expect("limits");
    d.start(true);
    let first = d.send(true, b"hi");
    d.deliver(true, &first).expect("decrypts");
    let alice_key = *d.alice.account.identity_key();
    let bob_key = *d.bob.account.identity_key();
    // Alice reports Bob's session broken: it is abandoned, and with no room
    // in the archive the record is empty.
    let reply = d.send(false, b"reply");
    let notice = DecryptionFailure::for_message(&reply, d.alice.account.identity(), &bob_key);
    assert!(d.bob.record.on_decryption_failure(&notice, &bob_key));
    assert!(d.bob.record.current().is_none() && d.bob.record.archived().len() == 0);
    d.bob.record = SessionRecord::from_bytes(&d.bob.record.to_bytes()).expect("loads");
    assert_eq!(d.bob.record.peer_identity_key(), Some(&alice_key));
    // A prekey message from someone else is not taken as Alice's.
    let mut mallory = Devices::new(5);
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let bundle = d
        .bob
        .account
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    mallory
        .alice
        .record
        .start_new(
            mallory.alice.account.identity(),
            &bundle,
            d.config,
            &mut rng,
        )
        .expect("start");
    let foreign = mallory
        .alice
        .record
        .encrypt(b"I am Alice", &mut rng)
        .expect("encrypt");
    let before = d.bob.state();
    let mallory_key = *mallory.alice.account.identity_key();
    assert_eq!(
        d.deliver(true, &foreign),
        Err(Error::IdentityChanged(mallory_key))
    );
    assert_eq!(d.bob.state(), before);
    assert_eq!(d.bob.record.peer_identity_key(), Some(&alice_key));
}

#[test]
fn finding5_sealed_state_opens_only_where_it_was_stored() {
    let mut alice_bob = Devices::new(6);
    alice_bob.start(true);
    let mut alice_carol = Devices::new(7);
    alice_carol.start(true);
    let mut rng = ChaCha20Rng::from_seed([6; 32]);
    let key = [0x11; 32];
    let bob_row = alice_bob
        .alice
        .record
        .seal(&key, b"peer:bob", &mut rng)
        .expect("seal");
    let carol_row = alice_carol
        .alice
        .record
        .seal(&key, b"peer:carol", &mut rng)
        .expect("seal");
    // Swapped rows do not open.
    assert_eq!(
        SessionRecord::open(&carol_row, &key, b"peer:bob").err(),
        Some(Error::State(StateError::Sealed))
    );
    assert!(SessionRecord::open(&bob_row, &key, b"peer:bob").is_ok());
    // Sealed under the same context by mistake: the expected peer decides.
    let carol_as_bob = alice_carol
        .alice
        .record
        .seal(&key, b"peer:bob", &mut rng)
        .expect("seal");
    let bob_key = *alice_bob.bob.account.identity_key();
    assert_eq!(
        SessionRecord::open_for_peer(&carol_as_bob, &key, b"peer:bob", &bob_key).err(),
        Some(Error::State(StateError::OtherPeer))
    );
    let opened =
        SessionRecord::open_for_peer(&bob_row, &key, b"peer:bob", &bob_key).expect("opens");
    assert_eq!(opened.to_bytes(), alice_bob.alice.record.to_bytes());
    // Accounts and sessions bind their context too.
    let account = alice_bob
        .alice
        .account
        .seal(&key, b"account", &mut rng)
        .expect("seal");
    assert_eq!(
        Account::open(&account, &key, b"account 2").err(),
        Some(Error::State(StateError::Sealed))
    );
}

#[test]
fn finding6_a_replayed_first_message_without_one_time_prekey_is_refused() {
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let config = SessionConfig::default();
    let bundle = bob
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
    let first = prekey(a.encrypt(b"pay 10", &mut rng).expect("encrypt"));
    bob.accept(&first, config).expect("accept");
    // The session is gone (archive overflow, lost record); the replay is
    // refused, also after the account is stored and loaded.
    let before = bob.to_bytes();
    assert_eq!(bob.accept(&first, config).err(), Some(Error::Duplicate));
    assert_eq!(bob.to_bytes(), before);
    let mut reloaded = Account::from_bytes(&bob.to_bytes()).expect("loads");
    assert_eq!(
        reloaded.accept(&first, config).err(),
        Some(Error::Duplicate)
    );
    let mut record = SessionRecord::new();
    assert_eq!(
        record
            .decrypt(&mut reloaded, &AnyMessage::PreKey(first), config)
            .err(),
        Some(Error::Duplicate)
    );
    // The memory is bounded, per signed prekey, and goes with it.
    assert_eq!(Account::MAX_REMEMBERED_BASE_KEYS, 2048);
}

#[test]
fn finding9_accepted_does_not_show_the_plaintext() {
    let (_, _, mut bob, _, first) = initiated(SessionConfig::default(), 10);
    let accepted = bob
        .accept(&first, SessionConfig::default())
        .expect("accept");
    let shown = format!("{accepted:?}");
    assert!(
        !shown.contains("first") && !shown.contains("102, 105"),
        "{shown}"
    );
    assert!(shown.contains("plaintext_len: 5"), "{shown}");
}

#[test]
fn finding9_a_small_order_one_time_prekey_fails_before_anything_is_drawn() {
    let mut rng = Recording::new(11);
    let alice = Account::new(&mut rng);
    let bob = Account::new(&mut rng);
    rng.take();
    let mut one = [0u8; 32];
    one[0] = 1;
    let bundle = bob
        .bundle(None)
        .expect("bundle")
        .with_one_time_prekey(7, cliquet::PublicKey::from_bytes(one))
        .verify()
        .expect("verifies");
    let result = Session::initiate(
        alice.identity(),
        &bundle,
        SessionConfig::default(),
        &mut rng,
    );
    assert_eq!(result.err(), Some(Error::InvalidKey));
    assert_eq!(rng.take(), Vec::<usize>::new(), "nothing drawn");
}

#[test]
fn finding9_the_gap_limit_is_checked_before_the_handshake() {
    let config = SessionConfig::new(2, 10).expect("config");
    let (mut rng, alice, mut bob, _, _) = initiated(config, 12);
    let bundle = bob
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
    let messages: Vec<_> = (0..4)
        .map(|_| a.encrypt(b"x", &mut rng).expect("encrypt"))
        .collect();
    // N = 3 > max_skip, and an identity key that is not a key: the gap is
    // reported, which needs no cryptographic work.
    let mut bytes = messages[3].to_bytes();
    bytes[1..33].copy_from_slice(&[0xff; 32]);
    let forged = prekey(AnyMessage::decode(&bytes).expect("decodes"));
    assert_eq!(
        bob.accept(&forged, config).err(),
        Some(Error::TooManySkipped)
    );
}

#[test]
fn finding9_a_responder_can_require_header_encryption() {
    let required = SessionConfig::default()
        .with_header_encryption(true)
        .with_required_mode(true);
    let (_, _, mut bob, _, plain_first) = initiated(SessionConfig::default(), 13);
    let before = bob.to_bytes();
    assert_eq!(
        bob.accept(&plain_first, required).err(),
        Some(Error::ModeRefused)
    );
    assert_eq!(bob.to_bytes(), before, "no one-time prekey consumed");
    let (_, _, mut bob, _, encrypted_first) =
        initiated(SessionConfig::default().with_header_encryption(true), 14);
    let session = bob
        .accept(&encrypted_first, required)
        .expect("accept")
        .session;
    assert!(session.has_header_encryption());
    assert!(matches!(
        encrypted_first.message(),
        RatchetMessage::EncryptedHeader(_)
    ));
}

#[test]
fn finding9_one_message_stores_at_most_max_skipped_keys() {
    // max_skip == max_skipped_keys: a message that skips keys in the old
    // chain and in the new one stores more than the limit, and the oldest
    // go at once, as the SessionConfig docs say.
    let config = SessionConfig::new(3, 3).expect("config");
    let mut p = established(config, 15);
    let x = p.a_to_b(b"x");
    p.b.decrypt(&x).expect("decrypts");
    let held_old: Vec<_> = (0..3).map(|_| p.a_to_b(b"old")).collect();
    let step = p.b_to_a(b"step");
    p.a.decrypt(&step).expect("decrypts");
    let held_new: Vec<_> = (0..3).map(|_| p.a_to_b(b"new")).collect();
    let last = p.a_to_b(b"last");
    p.b.decrypt(&last).expect("decrypts");
    assert_eq!(p.b.skipped_keys(), 3);
    assert!(p.b.decrypt(&held_old[0]).is_err(), "evicted");
    assert_eq!(p.b.decrypt(&held_new[0]).expect("kept"), b"new");
}

#[test]
fn a_base_key_with_its_unused_top_bit_set_is_refused() {
    // X25519 ignores bit 255: flipping it gives the same secrets under
    // another session id. The responder refuses that encoding.
    let (_, _, mut bob, _, first) = initiated(SessionConfig::default(), 16);
    let mut bytes = first.to_bytes();
    bytes[1 + 32 + 31] ^= 0x80;
    let flipped = prekey(AnyMessage::decode(&bytes).expect("decodes"));
    let before = bob.to_bytes();
    assert_eq!(
        bob.accept(&flipped, SessionConfig::default()).err(),
        Some(Error::InvalidKey)
    );
    assert_eq!(bob.to_bytes(), before);
    assert!(bob.accept(&first, SessionConfig::default()).is_ok());
}
