//! Identity (SPEC §9 and SPEC.md §12): records pin their peer's identity
//! key; a change of key is the application's decision, on the receiving and
//! the sending side; the verified mark; records of format version 1.

use cliquet::{Account, Error, IdentityKey, SafetyNumber, SessionRecord};
use cliquet_testkit::devices::{Device, Devices};
use cliquet_testkit::golden;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Alice and Bob have talked; Bob then reinstalls: a new account, a new
/// identity key, an empty record.
fn reinstalled(seed: u8) -> (Devices, IdentityKey) {
    let mut d = Devices::new(seed);
    d.round_trip();
    let old = *d.bob.account.identity_key();
    let mut rng = ChaCha20Rng::from_seed([seed.wrapping_add(100); 32]);
    d.bob = Device::new(&mut rng);
    (d, old)
}

#[test]
fn receiving_side_a_new_identity_changes_nothing_until_accepted() {
    let (mut d, old) = reinstalled(1);
    let new = *d.bob.account.identity_key();
    // The reinstalled Bob writes first: his prekey message carries his new key.
    let hello = d.send(false, b"it's me, new phone");
    let before = d.alice.state();
    assert_eq!(d.deliver(false, &hello), Err(Error::IdentityChanged(new)));
    assert_eq!(d.alice.state(), before, "no session, nothing stored");
    assert_eq!(d.alice.record.peer_identity_key(), Some(&old));
    assert_eq!(d.alice.record.changed_identity(), None);
    // The application shows the new safety number; the user accepts it.
    let number = SafetyNumber::new(d.alice.account.identity_key(), b"alice", &new, b"bob")
        .expect("identifiers");
    assert_eq!(number.digits().len(), 60);
    d.alice.record.accept_identity(&new);
    assert_eq!(d.alice.record.peer_identity_key(), Some(&new));
    assert_eq!(
        d.alice.record.archived().len(),
        0,
        "the old key's sessions are gone"
    );
    assert_eq!(
        d.deliver(false, &hello).expect("decrypts now"),
        b"it's me, new phone"
    );
    d.round_trip();
}

#[test]
fn receiving_side_a_refused_identity_stays_refused() {
    let (mut d, old) = reinstalled(2);
    let new = *d.bob.account.identity_key();
    let hello = d.send(false, b"trust me");
    let bob_prekeys = d.bob.account.one_time_prekey_count();
    assert_eq!(d.deliver(false, &hello), Err(Error::IdentityChanged(new)));
    d.alice.record.refuse_identity_change();
    assert_eq!(d.deliver(false, &hello), Err(Error::IdentityChanged(new)));
    assert_eq!(d.alice.record.peer_identity_key(), Some(&old));
    assert_eq!(d.bob.account.one_time_prekey_count(), bob_prekeys);
    // Alice's own session with the old key is untouched and still sends.
    assert!(d.alice.record.encrypt(b"still here", &mut d.rng).is_ok());
}

#[test]
fn sending_side_nothing_leaves_for_a_new_key_without_a_decision() {
    let (mut d, old) = reinstalled(3);
    let new = *d.bob.account.identity_key();
    // Alice fetches Bob's new bundle to start over.
    let bundle = d
        .bob
        .account
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let result =
        d.alice
            .record
            .start_new(d.alice.account.identity(), &bundle, d.config, &mut d.rng);
    assert_eq!(result, Err(Error::IdentityChanged(new)));
    assert_eq!(d.alice.record.changed_identity(), Some(&new));
    // Queued messages are not sent, to the old key or the new one.
    assert_eq!(
        d.alice.record.encrypt(b"queued", &mut d.rng).err(),
        Some(Error::IdentityChanged(new))
    );
    // The change survives storage.
    let stored = d.alice.record.to_stored();
    let loaded = SessionRecord::from_stored(&stored).expect("loads");
    assert_eq!(loaded.changed_identity(), Some(&new));
    assert_eq!(loaded.peer_identity_key(), Some(&old));
    // Accepted: the session starts and the message reaches the new key.
    d.alice.record.accept_identity(&new);
    d.alice
        .record
        .start_new(d.alice.account.identity(), &bundle, d.config, &mut d.rng)
        .expect("starts");
    let m = d
        .alice
        .record
        .encrypt(b"hello new phone", &mut d.rng)
        .expect("encrypts");
    assert_eq!(d.deliver(true, &m).expect("decrypts"), b"hello new phone");
}

#[test]
fn sending_side_a_refused_change_keeps_the_old_session() {
    let (mut d, old) = reinstalled(4);
    let bundle = d
        .bob
        .account
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let before = d.alice.record.to_stored();
    assert!(
        d.alice
            .record
            .start_new(d.alice.account.identity(), &bundle, d.config, &mut d.rng)
            .is_err()
    );
    d.alice.record.refuse_identity_change();
    assert_eq!(d.alice.record.to_stored(), before);
    assert_eq!(d.alice.record.peer_identity_key(), Some(&old));
    assert!(
        d.alice
            .record
            .encrypt(b"to the old key", &mut d.rng)
            .is_ok()
    );
}

#[test]
fn verified_is_stored_and_cleared_by_a_change_of_identity() {
    let (mut d, old) = reinstalled(5);
    assert!(!d.alice.record.is_verified());
    let stranger = *Account::new(&mut ChaCha20Rng::from_seed([55; 32])).identity_key();
    assert_eq!(
        d.alice.record.mark_verified(&stranger),
        Err(Error::IdentityChanged(stranger))
    );
    assert!(!d.alice.record.is_verified());
    d.alice.record.mark_verified(&old).expect("the pinned key");
    let loaded = SessionRecord::from_stored(&d.alice.record.to_stored()).expect("loads");
    assert!(loaded.is_verified());
    let new = *d.bob.account.identity_key();
    d.alice.record.accept_identity(&new);
    assert!(!d.alice.record.is_verified(), "a new key is not verified");
    // Accepting the key already pinned changes nothing.
    d.alice.record.mark_verified(&new).expect("pinned");
    d.alice.record.accept_identity(&new);
    assert!(d.alice.record.is_verified());
}

#[test]
fn a_record_of_format_v1_pins_its_peer_from_its_sessions() {
    let stored = golden::read("record_v1.bin");
    let mut record = SessionRecord::from_stored(&stored).expect("record v1");
    let peer = *record.peer_identity_key().expect("pinned on load");
    assert!(record.archived().all(|s| *s.peer_identity_key() == peer));
    assert!(!record.is_verified());
    // A prekey message of someone else is an identity change for it too.
    let mut d = Devices::new(6);
    let bundle = d
        .bob
        .account
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    d.alice
        .record
        .start_new(d.alice.account.identity(), &bundle, d.config, &mut d.rng)
        .expect("start");
    let foreign = d.alice.record.encrypt(b"hi", &mut d.rng).expect("encrypt");
    let mut bob = Account::new(&mut ChaCha20Rng::from_seed([21; 32]));
    let mallory = *d.alice.account.identity_key();
    assert_eq!(
        record.decrypt(&mut bob, &foreign, d.config).err(),
        Some(Error::IdentityChanged(mallory))
    );
    // Stored again, it is a version 2 record that keeps its peer.
    let again = SessionRecord::from_stored(&record.to_stored()).expect("reloads");
    assert_eq!(again.peer_identity_key(), Some(&peer));
}
