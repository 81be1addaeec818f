//! SPEC.md §11 for SPEC §14's state: the stored and sealed forms of the
//! user key and the person record, and loads of truncated, corrupted or
//! inconsistent bytes (typed errors, never a panic).

use cliquet::{Error, PersonRecord, StateError, UserKeyPair};
use cliquet_testkit::people::{Person, config, conversation, rng};

#[test]
fn s11_person_record_round_trips_plain_and_sealed() {
    let mut rng = rng(17);
    let mut c = conversation(&mut rng);
    let sent = c
        .alice_holds
        .encrypt(b"hello", &mut rng)
        .expect("encrypts")
        .messages;
    c.bob_holds
        .decrypt(c.bob.device(1), 1, &sent[0].message, config())
        .expect("decrypts");
    c.alice_holds.report_list_version(1);
    for record in [&c.alice_holds, &c.bob_holds] {
        let stored = record.to_stored();
        let loaded = PersonRecord::from_stored(&stored).expect("loads");
        assert_eq!(*loaded.to_stored(), *stored);
        let sealed = record
            .seal(&[3; 32], b"people/bob", &mut rng)
            .expect("seals");
        let opened = PersonRecord::open(&sealed, &[3; 32], b"people/bob").expect("opens");
        assert_eq!(*opened.to_stored(), *stored);
        assert_eq!(
            PersonRecord::open(&sealed, &[3; 32], b"people/eve").err(),
            Some(Error::State(StateError::Sealed))
        );
    }
    // The loaded record goes on: the next message decrypts.
    let mut loaded = PersonRecord::from_stored(&c.bob_holds.to_stored()).expect("loads");
    let more = c
        .alice_holds
        .encrypt(b"more", &mut rng)
        .expect("encrypts")
        .messages;
    let got = loaded
        .decrypt(c.bob.device(1), 1, &more[0].message, config())
        .expect("decrypts");
    assert_eq!(got.plaintext, b"more");
}

#[test]
fn s11_user_key_round_trips_and_debug_shows_no_secret() {
    let mut rng = rng(18);
    let seed = [0x5a; 32];
    let user = UserKeyPair::from_secret_bytes(&seed);
    let stored = user.to_stored();
    assert_eq!(stored.len(), 34);
    assert_eq!(stored[..2], [0x24, 4]);
    assert_eq!(stored[2..], seed);
    let loaded = UserKeyPair::from_stored(&stored).expect("loads");
    assert_eq!(loaded.public_key(), user.public_key());
    let sealed = user.seal(&[1; 32], b"user", &mut rng).expect("seals");
    assert_eq!(
        UserKeyPair::open(&sealed, &[1; 32], b"user").map(|k| *k.public_key()),
        Ok(*user.public_key())
    );
    let shown = format!("{user:?}");
    assert!(!shown.contains(&hex::encode(seed)), "{shown}");
    assert!(shown.contains(&hex::encode(user.public_key().as_bytes())));
    // Another kind, a truncated or longer input, an unknown version.
    assert_eq!(
        UserKeyPair::from_stored(&stored[..33]).err(),
        Some(Error::State(StateError::Truncated))
    );
    let mut longer = stored.to_vec();
    longer.push(0);
    assert_eq!(
        UserKeyPair::from_stored(&longer).err(),
        Some(Error::State(StateError::Trailing))
    );
    let mut other = stored.to_vec();
    other[0] = 0x25;
    assert_eq!(
        UserKeyPair::from_stored(&other).err(),
        Some(Error::State(StateError::WrongKind))
    );
    other[0] = 0x24;
    other[1] = 9;
    assert_eq!(
        UserKeyPair::from_stored(&other).err(),
        Some(Error::State(StateError::UnsupportedVersion(9)))
    );
}

#[test]
fn s11_truncated_or_garbage_person_records_give_typed_errors() {
    let mut rng = rng(19);
    let c = conversation(&mut rng);
    let stored = c.alice_holds.to_stored();
    for len in 0..stored.len() {
        match PersonRecord::from_stored(&stored[..len]) {
            Err(Error::State(_)) => {}
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
    let mut longer = stored.to_vec();
    longer.push(0);
    assert_eq!(
        PersonRecord::from_stored(&longer).err(),
        Some(Error::State(StateError::Trailing))
    );
    // Flipping any byte either loads something consistent or is refused
    // with a state error; never a panic.
    for i in 0..stored.len() {
        let mut bad = stored.to_vec();
        bad[i] ^= 0x41;
        match PersonRecord::from_stored(&bad) {
            Ok(_) | Err(Error::State(_)) => {}
            Err(e) => panic!("byte {i}: {e:?}"),
        }
    }
    // A huge count in a short input is refused without allocating for it.
    let mut huge = PersonRecord::new().to_stored().to_vec();
    let n = huge.len() - 4;
    huge[n..].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        PersonRecord::from_stored(&huge).err(),
        Some(Error::State(StateError::Truncated))
    );
}

#[test]
fn s11_person_record_with_sessions_not_matching_its_list_is_inconsistent() {
    let mut rng = rng(20);
    let bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(1)).expect("first");
    let stored = record.to_stored().to_vec();
    // Simplest inconsistent case: verified without a pinned user key.
    let mut unpinned = PersonRecord::new().to_stored().to_vec();
    unpinned[3] = 1;
    assert_eq!(
        PersonRecord::from_stored(&unpinned).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    // A session count other than the listed devices'.
    let count_at = stored.len()
        - record
            .devices()
            .map(|(id, _)| 8 + record.session(id).expect("session").to_stored().len())
            .sum::<usize>()
        - 4;
    let mut fewer = stored.clone();
    fewer[count_at..count_at + 4].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        PersonRecord::from_stored(&fewer).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    assert!(PersonRecord::from_stored(&stored).is_ok());
}

// --- SPEC §7: golden files -------------------------------------------------

use cliquet::{Account, AnyMessage, SessionRecord};
use cliquet_testkit::golden::{self, STORAGE_KEY};
use cliquet_testkit::people::start_all;

/// Today's writer's golden files: a person record with two devices (list
/// version 3, verified, a reported version, live sessions), a reply from
/// device 1 it has not read yet, and a user key.
fn person_files() -> golden::Set {
    let mut rng = rng(30);
    let alice = Account::new(&mut rng);
    let mut bob = Person::new(&[1, 2], &mut rng);
    let mut record = PersonRecord::new();
    record.accept_list(&bob.published(3)).expect("first list");
    start_all(&mut record, &alice, &bob, &mut rng);
    let sent = record
        .encrypt(b"hello", &mut rng)
        .expect("encrypts")
        .messages;
    let mut on_phone = SessionRecord::new();
    on_phone
        .decrypt(bob.device(1), &sent[0].message, config())
        .expect("decrypts");
    let held = on_phone.encrypt(b"held back", &mut rng).expect("reply");
    record.report_list_version(2);
    record.mark_verified(bob.user.public_key()).expect("pinned");
    let stored = record.to_stored().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("person", "bin", stored);
    let sealed = record.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal");
    set.state("person", "sealed", sealed);
    set.other("person", "msg", held.into_bytes());
    set.state("user_key", "bin", bob.user.to_stored().to_vec());
    let sealed = bob.user.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal");
    set.state("user_key", "sealed", sealed);
    set
}

#[test]
fn s7_person_golden_files_of_every_version_load_and_work() {
    let files = person_files();
    golden::bless(&files);
    // Version 3 is the first of these kinds.
    for version in 3..=files.version {
        let name = |what: &str, ext: &str| golden::file_name(what, version, ext);
        let stored = golden::read(&name("person", "bin"));
        let mut loaded = PersonRecord::from_stored(&stored).expect("person record");
        assert_eq!(loaded.list_version(), Some(3));
        assert_eq!(loaded.reported_list_version(), 2);
        assert!(loaded.is_verified());
        assert!(loaded.devices_needing_bundle().is_empty());
        let message = AnyMessage::decode(&golden::read(&name("person", "msg"))).expect("message");
        let mut account = Account::new(&mut rng(31));
        let got = loaded
            .decrypt(&mut account, 1, &message, config())
            .expect("decrypts after reload");
        assert_eq!(got.plaintext, b"held back");
        let sealed = golden::read(&name("person", "sealed"));
        let opened = PersonRecord::open(&sealed, &STORAGE_KEY, b"ctx").expect("sealed");
        if version == files.version {
            // Today's version stores back as read; an older one nests
            // older session records, stored back upgraded.
            assert_eq!(*opened.to_stored(), *stored);
        }
        let user = UserKeyPair::from_stored(&golden::read(&name("user_key", "bin"))).expect("user");
        let sealed = golden::read(&name("user_key", "sealed"));
        let opened = UserKeyPair::open(&sealed, &STORAGE_KEY, b"ctx").expect("sealed user key");
        assert_eq!(opened.public_key(), user.public_key());
        assert_eq!(loaded.user_key(), Some(user.public_key()));
    }
}

#[test]
fn s7_todays_writer_still_writes_its_person_golden_files() {
    golden::assert_writer_unchanged(&person_files());
}
