//! SPEC §14, one test per rule: users and their devices, device lists, and
//! the record per person (`PersonRecord`): what it accepts, what it
//! refuses (changing nothing, compared as stored bytes), and how sessions
//! follow the list.

use cliquet::{
    Account, DecodeError, DeviceList, DeviceListBuilder, Error, ListChange, PersonRecord,
    SafetyNumber, SessionRecord, UserKeyPair, encode_with_list_version, split_list_version,
};
use cliquet_testkit::people::{Person, accepted, config, conversation, rng, start_all};

#[test]
fn s14_first_list_pins_the_user_key_and_adds_every_device() {
    let mut rng = rng(1);
    let bob = Person::new(&[2, 5, 9], &mut rng);
    let mut record = PersonRecord::new();
    assert_eq!(
        record.accept_list(&bob.published(1)),
        Ok(accepted(&[2, 5, 9], &[], &[]))
    );
    assert_eq!(record.user_key(), Some(bob.user.public_key()));
    assert_eq!(record.list_version(), Some(1));
    assert_eq!(record.devices_needing_bundle(), [2, 5, 9]);
}

#[test]
fn s14_newer_list_reports_added_removed_and_changed_and_drops_their_sessions() {
    let mut rng = rng(2);
    let alice = Account::new(&mut rng);
    let mut bob = Person::new(&[1, 2, 3], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(1)).expect("first list");
    start_all(&mut record, &alice, &bob, &mut rng);
    assert!(record.devices_needing_bundle().is_empty());

    // Device 1 is removed, device 3 reinstalled (another key), 4 added.
    bob.devices.retain(|(id, _)| *id != 1);
    *bob.device(3) = Account::new(&mut rng);
    bob.devices.push((4, Account::new(&mut rng)));
    assert_eq!(
        record.accept_list(&bob.published(2)),
        Ok(accepted(&[4], &[1], &[3]))
    );
    // Device 2 keeps its session; 3 and 4 need a bundle; 1 is gone.
    assert_eq!(record.devices_needing_bundle(), [3, 4]);
    assert!(record.session(1).is_none());
    assert!(record.session(2).is_some_and(|s| !s.needs_new_session()));
    assert_eq!(
        record.session(3).and_then(SessionRecord::peer_identity_key),
        Some(bob.device(3).identity_key())
    );
}

#[test]
fn s14_a_newer_version_with_the_same_devices_is_accepted_with_no_change() {
    let mut rng = rng(3);
    let bob = Person::new(&[1], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(1)).expect("first");
    assert_eq!(
        record.accept_list(&bob.published(2)),
        Ok(accepted(&[], &[], &[]))
    );
    assert_eq!(record.list_version(), Some(2));
}

#[test]
fn s14_same_list_again_is_unchanged() {
    let mut rng = rng(4);
    let bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(3)).expect("first");
    let before = record.to_stored();
    assert_eq!(
        record.accept_list(&bob.published(3)),
        Ok(ListChange::Unchanged)
    );
    assert_eq!(*record.to_stored(), *before);
}

#[test]
fn s14_older_list_is_stale_and_changes_nothing() {
    let mut rng = rng(5);
    let bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(5)).expect("first");
    let before = record.to_stored();
    assert_eq!(
        record.accept_list(&bob.published(4)),
        Err(Error::StaleDeviceList)
    );
    assert_eq!(*record.to_stored(), *before);
}

#[test]
fn s14_two_lists_for_one_version_is_stale_and_changes_nothing() {
    let mut rng = rng(6);
    let mut bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(5)).expect("first");
    let before = record.to_stored();
    bob.devices.push((3, Account::new(&mut rng)));
    assert_eq!(
        record.accept_list(&bob.published(5)),
        Err(Error::StaleDeviceList)
    );
    assert_eq!(*record.to_stored(), *before);
}

#[test]
fn s14_another_user_key_is_identity_changed_until_accepted() {
    let mut rng = rng(7);
    let alice = Account::new(&mut rng);
    let mut bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(4)).expect("first");
    start_all(&mut record, &alice, &bob, &mut rng);
    record
        .mark_verified(bob.user.public_key())
        .expect("pinned key");

    let old_key = *bob.user.public_key();
    bob.user = UserKeyPair::generate(&mut rng);
    let new_key = *bob.user.public_key();
    let before = record.to_stored();
    assert_eq!(
        record.accept_list(&bob.published(1)),
        Err(Error::IdentityChanged(new_key))
    );
    assert_eq!(*record.to_stored(), *before);
    assert!(record.is_verified());

    record.accept_user_key(&new_key);
    assert_eq!(record.user_key(), Some(&new_key));
    assert!(!record.is_verified());
    assert!(record.list().is_none());
    assert!(record.session(1).is_none());
    // The next list counts as the first, whatever its version.
    assert_eq!(
        record.accept_list(&bob.published(1)),
        Ok(accepted(&[1, 2], &[], &[]))
    );
    assert_ne!(old_key, new_key);
}

#[test]
fn s14_withheld_newer_list_reported_by_a_device_stops_encryption() {
    let mut rng = rng(8);
    let alice = Account::new(&mut rng);
    let mut bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(1)).expect("first");
    start_all(&mut record, &alice, &bob, &mut rng);
    assert!(record.encrypt(b"before", &mut rng).is_ok());

    // Bob removed device 2 in list 2, which the directory withholds; his
    // device 1 says so inside a message.
    let (version, _) = split_list_version(&encode_with_list_version(2, b"hi")).expect("split");
    record.report_list_version(version);
    assert!(record.needs_newer_list());
    let before = record.to_stored();
    assert_eq!(
        record.encrypt(b"to a stolen device?", &mut rng),
        Err(Error::StaleDeviceList)
    );
    assert_eq!(*record.to_stored(), *before);
    // A lower report does not lower the bar.
    record.report_list_version(1);
    assert_eq!(record.reported_list_version(), 2);

    bob.devices.retain(|(id, _)| *id != 2);
    record.accept_list(&bob.published(2)).expect("newer list");
    let sent = record
        .encrypt(b"after", &mut rng)
        .expect("encrypts")
        .messages;
    assert_eq!(sent.iter().map(|m| m.device_id).collect::<Vec<_>>(), [1]);
}

#[test]
fn s14_bundle_not_listed_for_that_device_is_unknown_device() {
    let mut rng = rng(9);
    let alice = Account::new(&mut rng);
    let bob = Person::new(&[1, 2], &mut rng);
    let mallory = Account::new(&mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(1)).expect("first");
    let before = record.to_stored();
    let bundle_1 = bob.devices[0]
        .1
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("ok");
    let forged = mallory.bundle(None).expect("bundle").verify().expect("ok");
    // Another key for a listed id, a listed key under another id, an unlisted id.
    for (id, bundle) in [(1, &forged), (2, &bundle_1), (3, &bundle_1)] {
        assert_eq!(
            record.start_session(id, alice.identity(), bundle, config(), &mut rng),
            Err(Error::UnknownDevice),
            "device {id}"
        );
    }
    assert_eq!(*record.to_stored(), *before);
    assert!(
        record
            .start_session(1, alice.identity(), &bundle_1, config(), &mut rng)
            .is_ok()
    );
}

#[test]
fn s14_a_message_for_a_person_reaches_each_listed_device() {
    let mut rng = rng(10);
    let mut c = conversation(&mut rng);
    let sent = c
        .alice_holds
        .encrypt(b"hello", &mut rng)
        .expect("encrypts")
        .messages;
    assert_eq!(sent.iter().map(|m| m.device_id).collect::<Vec<_>>(), [1, 2]);
    let got = c
        .bob_holds
        .decrypt(c.bob.device(1), 1, &sent[0].message, config())
        .expect("Bob's device 1 decrypts");
    assert_eq!(got.plaintext, b"hello");
    // And the reply goes back on the same session.
    let reply = c
        .bob_holds
        .encrypt(b"hi", &mut rng)
        .expect("reply")
        .messages;
    assert_eq!(reply.len(), 1);
    let alice_account = &mut c.alice.devices[0].1;
    let got = c
        .alice_holds
        .decrypt(alice_account, 1, &reply[0].message, config())
        .expect("Alice decrypts");
    assert_eq!(got.plaintext, b"hi");
}

#[test]
fn s14_prekey_message_from_an_unlisted_device_key_is_refused_before_key_agreement() {
    let mut rng = rng(11);
    let mut c = conversation(&mut rng);
    // Mallory, not in Alice's list, claims to be Alice's device 1.
    let mallory = Account::new(&mut rng);
    let mut to_bob = SessionRecord::new();
    let bundle = c
        .bob
        .device(1)
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("ok");
    to_bob
        .start_new(mallory.identity(), &bundle, config(), &mut rng)
        .expect("session");
    let forged = to_bob.encrypt(b"it's me", &mut rng).expect("encrypts");
    let (record_before, account_before) = (c.bob_holds.to_stored(), c.bob.device(1).to_stored());
    for id in [1, 2] {
        assert_eq!(
            c.bob_holds
                .decrypt(c.bob.device(1), id, &forged, config())
                .err(),
            Some(Error::UnknownDevice)
        );
    }
    assert_eq!(*c.bob_holds.to_stored(), *record_before);
    assert_eq!(*c.bob.device(1).to_stored(), *account_before);
}

#[test]
fn s14_message_from_a_removed_device_is_refused() {
    let mut rng = rng(12);
    let mut c = conversation(&mut rng);
    let sent = c
        .alice_holds
        .encrypt(b"hello", &mut rng)
        .expect("encrypts")
        .messages;
    c.bob_holds
        .decrypt(c.bob.device(1), 1, &sent[0].message, config())
        .expect("decrypts");
    let later = c
        .alice_holds
        .encrypt(b"again", &mut rng)
        .expect("encrypts")
        .messages;
    // Alice's device 1 is lost; her list 2 lists a new device 3 only.
    c.alice.devices = vec![(3, Account::new(&mut rng))];
    assert_eq!(
        c.bob_holds.accept_list(&c.alice.published(2)),
        Ok(accepted(&[3], &[1], &[]))
    );
    assert_eq!(
        c.bob_holds
            .decrypt(c.bob.device(1), 1, &later[0].message, config())
            .err(),
        Some(Error::UnknownDevice)
    );
}

#[test]
fn s14_own_devices_are_reached_the_same_way_and_never_oneself() {
    let mut rng = rng(13);
    let me = Person::new(&[1, 2, 3], &mut rng);
    let mut own = PersonRecord::own(1);
    assert_eq!(
        own.accept_list(&me.published(1)),
        Ok(accepted(&[1, 2, 3], &[], &[]))
    );
    assert_eq!(own.devices_needing_bundle(), [2, 3]);
    assert_eq!(own.devices().map(|(id, _)| id).collect::<Vec<_>>(), [2, 3]);
    start_all(&mut own, &me.devices[0].1, &me, &mut rng);
    let sent = own.encrypt(b"sync", &mut rng).expect("encrypts").messages;
    assert_eq!(sent.iter().map(|m| m.device_id).collect::<Vec<_>>(), [2, 3]);
    // No session with oneself, not even from one's own bundle.
    let own_bundle = me.devices[0]
        .1
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("ok");
    assert_eq!(
        own.start_session(
            1,
            me.devices[0].1.identity(),
            &own_bundle,
            config(),
            &mut rng
        ),
        Err(Error::UnknownDevice)
    );
    let restored = PersonRecord::from_stored(&own.to_stored()).expect("loads");
    assert_eq!(restored.own_device(), Some(1));
}

#[test]
fn s14_encrypt_without_a_list_or_a_session_is_refused() {
    let mut rng = rng(14);
    let bob = Person::new(&[1], &mut rng);
    let mut record = PersonRecord::new();
    assert_eq!(record.encrypt(b"x", &mut rng), Err(Error::StaleDeviceList));
    record.accept_list(&bob.published(1)).expect("first");
    assert_eq!(record.encrypt(b"x", &mut rng), Err(Error::NoSession));
}

#[test]
fn s14_builder_refuses_lists_others_would_refuse() {
    let mut rng = rng(15);
    let user = UserKeyPair::generate(&mut rng);
    let device = Account::new(&mut rng);
    let uk = *user.public_key();
    assert_eq!(
        DeviceListBuilder::new(1).sign(&user),
        Err(Error::Malformed(DecodeError::BadCount))
    );
    // A link signed for another id.
    assert_eq!(
        DeviceListBuilder::new(1)
            .device(2, *device.identity_key(), device.link_signature(&uk, 1))
            .sign(&user),
        Err(Error::BadSignature)
    );
    // One device key under two ids.
    assert_eq!(
        DeviceListBuilder::new(1)
            .device(1, *device.identity_key(), device.link_signature(&uk, 1))
            .device(2, *device.identity_key(), device.link_signature(&uk, 2))
            .sign(&user),
        Err(Error::InvalidKey)
    );
    let mut builder = DeviceListBuilder::new(1);
    for id in 0..33 {
        let account = Account::new(&mut rng);
        builder = builder.device(id, *account.identity_key(), account.link_signature(&uk, id));
    }
    assert_eq!(
        builder.sign(&user),
        Err(Error::Malformed(DecodeError::BadCount))
    );
    let list = builder.remove(32).sign(&user).expect("32 devices");
    assert_eq!(list.as_bytes().len(), 106 + 32 * 100);
    assert_eq!(
        DeviceList::decode(list.as_bytes()).map(|l| l.version()),
        Ok(1)
    );
}

#[test]
fn s14_safety_numbers_of_user_keys_agree() {
    let mut rng = rng(16);
    let alice = UserKeyPair::generate(&mut rng);
    let bob = UserKeyPair::generate(&mut rng);
    let a = SafetyNumber::for_user_keys(alice.public_key(), b"alice", bob.public_key(), b"bob")
        .expect("number");
    let b = SafetyNumber::for_user_keys(bob.public_key(), b"bob", alice.public_key(), b"alice")
        .expect("number");
    assert_eq!(a.digits(), b.digits());
    assert_eq!(b.verify_scanned(&a.scannable()), Ok(()));
}

#[test]
fn s14_split_list_version_refuses_short_input() {
    assert_eq!(
        split_list_version(&[0; 7]),
        Err(Error::Malformed(DecodeError::Truncated))
    );
    assert_eq!(
        split_list_version(&[0, 0, 0, 0, 0, 0, 1, 0]),
        Ok((256, &[][..]))
    );
}

#[test]
fn s14_a_device_whose_session_cannot_send_does_not_hold_back_the_others() {
    let mut rng = rng(21);
    let mut alice = Account::new(&mut rng);
    let mut bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(1)).expect("first");
    start_all(&mut record, &alice, &bob, &mut rng);
    let sent = record
        .encrypt(b"hello", &mut rng)
        .expect("encrypts")
        .messages;
    let mut on_phone = SessionRecord::new();
    on_phone
        .decrypt(bob.device(1), &sent[0].message, config())
        .expect("decrypts");
    let reply = on_phone.encrypt(b"hi", &mut rng).expect("reply");
    record
        .decrypt(&mut alice, 1, &reply, config())
        .expect("reply decrypts");
    record.encrypt(b"again", &mut rng).expect("encrypts");

    // Device 1's session (an acknowledged PQXDH initiator, no one-time
    // prekey) has sent one message on its new chain: set its Ns to 2^32 − 1
    // (SPEC.md §11's session layout, bytes 212..216).
    let session = record
        .session(1)
        .and_then(SessionRecord::current)
        .expect("a session")
        .to_stored();
    assert_eq!(session[212..216], 1u32.to_be_bytes(), "Ns of the session");
    let mut stored = record.to_stored().to_vec();
    let at = stored
        .windows(session.len())
        .position(|w| w == &session[..])
        .expect("the session inside the record");
    stored[at + 212..at + 216].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut record = PersonRecord::from_stored(&stored).expect("loads");
    let exhausted = record.session(1).expect("device 1").to_stored();

    let fanout = record
        .encrypt(b"more", &mut rng)
        .expect("device 2 still gets it");
    assert_eq!(
        fanout
            .messages
            .iter()
            .map(|m| m.device_id)
            .collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(fanout.failed.len(), 1);
    assert_eq!(
        (fanout.failed[0].device_id, fanout.failed[0].error),
        (1, Error::ChainExhausted)
    );
    assert_eq!(
        *record.session(1).expect("device 1").to_stored(),
        *exhausted
    );
}
