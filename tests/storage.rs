//! SPEC §7 and §11: the stored forms of accounts and sessions, session
//! records and group sessions, sealed and plain, and the golden files of
//! every format version that each later version must keep loading.
//!
//! `CLIQUET_BLESS=1 cargo test --test storage` writes the golden files of
//! today's format version that are missing; it never overwrites one, so the
//! files of older versions stay as they are (`cliquet_testkit::golden`).

use cliquet::{
    Account, AnyMessage, Error, GroupMessage, GroupSession, IdentityKey, Session, SessionConfig,
    SessionRecord, StateError,
};
use cliquet_testkit::devices::Devices;
use cliquet_testkit::golden::{self, STORAGE_KEY};
use cliquet_testkit::group::{GROUP, identity};
use cliquet_testkit::{Pair, established};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// A pair in mid-conversation: Bob holds skipped keys in two chains, and the
/// message `held` is still to be delivered to him.
fn conversation(header_encryption: bool) -> (Pair, AnyMessage) {
    let mut p = established(
        SessionConfig::new(50, 100)
            .expect("config")
            .with_header_encryption(header_encryption),
        77,
    );
    // Never delivered: their keys stay in Bob's skipped store.
    let _early = p.a_to_b(b"held back");
    let next = p.a_to_b(b"next");
    p.b.decrypt(&next).expect("next");
    let r = p.b_to_a(b"r");
    p.a.decrypt(&r).expect("r");
    let _skipped = p.a_to_b(b"skipped");
    let last = p.a_to_b(b"last");
    p.b.decrypt(&last).expect("last");
    let held = p.a_to_b(b"the held message");
    (p, held)
}

/// Today's writer's golden files of an account (format version 4 since
/// the replay memory became tags and KEM prekeys store their public part).
fn account_files() -> golden::Set {
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let mut account = Account::new(&mut rng);
    account.generate_one_time_prekeys(2, &mut rng);
    account.mark_one_time_prekeys_published();
    account.generate_one_time_prekeys(1, &mut rng);
    account.rotate_signed_prekey(&mut rng);
    // Format 3: KEM prekeys of both kinds, a previous last-resort one, and
    // one-time ones published or not.
    account.generate_one_time_kem_prekeys(2, &mut rng);
    account.mark_one_time_kem_prekeys_published();
    account.generate_one_time_kem_prekeys(1, &mut rng);
    account.rotate_kem_prekey(&mut rng);
    // Format 4: a lowered replay-memory limit, and a session without a
    // one-time key remembered by the current signed prekey.
    account.set_replay_memory_limit(1000).expect("limit");
    let alice = Account::new(&mut rng);
    let classic = SessionConfig::default().with_classic_x3dh(true);
    let bundle = account
        .classic_bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut s = Session::initiate(alice.identity(), &bundle, classic, &mut rng).expect("initiate");
    let AnyMessage::PreKey(first) = s.encrypt(b"hi", &mut rng).expect("encrypt") else {
        panic!("a prekey message")
    };
    account.accept(&first, classic).expect("accept");
    let stored = account.to_stored().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("account", "bin", stored);
    set.state(
        "account",
        "sealed",
        account.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal"),
    );
    set
}

/// Today's writer's golden files of sessions.
fn current_files() -> golden::Set {
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    // The same draws as before the account's files moved to their own set.
    let mut account = Account::new(&mut rng);
    account.generate_one_time_prekeys(3, &mut rng);
    account.rotate_signed_prekey(&mut rng);
    account.generate_one_time_kem_prekeys(3, &mut rng);
    account.rotate_kem_prekey(&mut rng);
    let _ = account.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal");
    let (plain, plain_msg) = conversation(false);
    let (he, he_msg) = conversation(true);
    let stored = plain.b.to_stored().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("session", "bin", stored);
    set.other("session", "msg", plain_msg.encode());
    set.state("session_he", "bin", he.b.to_stored().to_vec());
    set.other("session_he", "msg", he_msg.encode());
    set.state(
        "session_he",
        "sealed",
        he.b.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal"),
    );
    set
}

#[test]
fn s7_golden_files_of_every_version_load_round_trip_and_work() {
    let files = current_files();
    golden::bless(&files);
    for version in 1..=files.version {
        check_golden(version, files.version);
    }
    let files = account_files();
    golden::bless(&files);
    for version in 1..=files.version {
        check_account_golden(version, files.version);
    }
}

/// The account golden files of format `version` load and work; those of
/// the writer's `current` version store back byte for byte.
fn check_account_golden(version: u8, current: u8) {
    let name = |name: &str, ext: &str| golden::file_name(name, version, ext);
    let read = |name: String| golden::read(&name);
    let account = Account::from_stored(&read(name("account", "bin"))).expect("account");
    assert_eq!(account.one_time_prekey_count(), 3);
    assert_eq!(account.unpublished_one_time_prekeys().len(), 1);
    assert_eq!(account.signed_prekey_id(), 2);
    if version >= 3 {
        assert_eq!(account.kem_prekey_id(), Some(5));
        assert_eq!(account.one_time_kem_prekey_count(), 3);
        assert_eq!(account.unpublished_one_time_kem_prekeys().len(), 1);
        let bundle = account.bundle(None).expect("bundle");
        assert_eq!(bundle.kem_prekey().map(|k| k.id()), Some(5), "last resort");
        assert!(bundle.verify().is_ok());
        let mut directory = cliquet::Directory::new();
        directory
            .upload(&account.full_publication())
            .expect("verifies");
        let served = directory.take_bundle().expect("uploaded");
        assert_eq!(
            served.kem_prekey().map(|k| k.id()),
            Some(2),
            "oldest one-time"
        );
    } else {
        // An account of an earlier format has no KEM prekey yet.
        assert_eq!(account.kem_prekey_id(), None);
        assert!(!account.bundle(None).expect("bundle").is_post_quantum());
    }
    if version >= 4 {
        assert_eq!(account.replay_memory_limit(), 1000);
        assert_eq!(account.replay_memory_len(), 1);
    } else {
        assert_eq!(account.replay_memory_limit(), Account::MAX_REPLAY_MEMORY);
    }
    let sealed = Account::open(&read(name("account", "sealed")), &STORAGE_KEY, b"ctx")
        .expect("sealed account");
    assert_eq!(sealed.to_stored(), account.to_stored());
    // Stored again, a loaded state loads to the same state; in the
    // writer's version, it stores byte for byte what the file holds.
    let again = account.to_stored();
    assert_eq!(
        Account::from_stored(&again).expect("reload").to_stored(),
        again
    );
    if version == current {
        assert_eq!(*again, read(name("account", "bin")));
    }
}

/// The session golden files of format `version` load and work; those of
/// the writer's `current` version store back byte for byte.
fn check_golden(version: u8, current: u8) {
    let name = |name: &str, ext: &str| golden::file_name(name, version, ext);
    let read = |name: String| golden::read(&name);
    for state in ["session", "session_he"] {
        let stored = read(name(state, "bin"));
        let mut session = Session::from_stored(&stored).unwrap_or_else(|e| panic!("{state}: {e}"));
        assert_eq!(session.skipped_keys(), 2, "{state} v{version}");
        let again = session.to_stored();
        assert_eq!(
            Session::from_stored(&again).expect("reload").to_stored(),
            again,
            "{state} v{version}"
        );
        if version == current {
            assert_eq!(*again, stored, "{state} v{version}");
        }
        let message = AnyMessage::decode(&read(name(state, "msg"))).expect("message");
        assert_eq!(
            session.decrypt(&message).expect("decrypts after reload"),
            b"the held message"
        );
    }
    let he = Session::open(&read(name("session_he", "sealed")), &STORAGE_KEY, b"ctx")
        .expect("sealed session");
    assert!(he.has_header_encryption());
    if version == current {
        assert_eq!(he.to_stored().to_vec(), read(name("session_he", "bin")));
    }
}

#[test]
fn s7_todays_writer_still_writes_its_golden_files() {
    golden::assert_writer_unchanged(&current_files());
    golden::assert_writer_unchanged(&account_files());
}

/// Blessing writes only the files that are missing, named for the writer's
/// version, and never overwrites one (so a v1 file outlives a format change).
#[test]
fn s7_blessing_writes_only_missing_files_and_never_overwrites() {
    let dir = std::env::temp_dir().join(format!(
        "cliquet-golden-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let stored = SessionRecord::new().to_stored().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("record", "bin", stored.clone());
    set.other("record", "msg", vec![1, 2, 3]);
    let version = set.version;
    assert_eq!(
        golden::file_name("record", version, "bin"),
        format!("record_v{version}.bin")
    );
    // An existing file of the same name, with other bytes: kept as it is.
    let existing = dir.join(golden::file_name("record", version, "bin"));
    std::fs::write(&existing, b"an older blessing").expect("write");
    let written = golden::write_missing(&dir, &set);
    assert_eq!(written, [golden::file_name("record", version, "msg")]);
    assert_eq!(
        std::fs::read(&existing).expect("read"),
        b"an older blessing"
    );
    assert_eq!(
        std::fs::read(dir.join(&written[0])).expect("read"),
        [1, 2, 3]
    );
    // Blessing again writes nothing.
    assert!(golden::write_missing(&dir, &set).is_empty());
    // A set holds one version: a state of another version is refused.
    let mut newer = stored;
    newer[1] = version + 1;
    let refused = std::panic::catch_unwind(move || set.state("account", "bin", newer));
    assert!(refused.is_err());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn s7_sealed_state_needs_the_right_key_and_kind() {
    let (p, _) = conversation(false);
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let sealed = p.b.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal");
    assert_eq!(
        Session::open(&sealed, &STORAGE_KEY, b"ctx")
            .expect("open")
            .to_stored(),
        p.b.to_stored()
    );
    assert_eq!(
        Session::open(&sealed, &[0x43; 32], b"ctx").err(),
        Some(Error::State(StateError::Sealed))
    );
    assert_eq!(
        Account::open(&sealed, &STORAGE_KEY, b"ctx").err(),
        Some(Error::State(StateError::WrongKind))
    );
    let account_sealed = p.alice.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal");
    assert_eq!(
        Session::open(&account_sealed, &STORAGE_KEY, b"ctx").err(),
        Some(Error::State(StateError::WrongKind))
    );
    // Every byte is bound: one flipped anywhere is refused, by name.
    for i in 0..sealed.len() {
        let mut corrupt = sealed.clone();
        corrupt[i] ^= 0x10;
        assert_eq!(
            Session::open(&corrupt, &STORAGE_KEY, b"ctx").err(),
            Some(Error::State(sealed_corruption(i, corrupt[i]))),
            "byte {i}"
        );
    }
    // Version and kind are bound: a sealed body relabelled as a newer version is refused.
    let mut relabelled = sealed.clone();
    relabelled[1] = 4;
    assert_eq!(
        Session::open(&relabelled, &STORAGE_KEY, b"ctx").err(),
        Some(Error::State(StateError::UnsupportedVersion(4)))
    );
    // Two seals of the same state differ (fresh nonce).
    assert_ne!(
        p.b.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal"),
        sealed
    );
}

/// What opening a sealed state with byte `at` changed to `now` fails with:
/// the kind byte names another kind, the version byte an unknown version,
/// and anything after them fails authentication.
fn sealed_corruption(at: usize, now: u8) -> StateError {
    match at {
        0 => StateError::WrongKind,
        // A known version (say 1 → 3) opens under another associated data.
        1 if (1..=3).contains(&now) => StateError::Sealed,
        1 => StateError::UnsupportedVersion(now),
        _ => StateError::Sealed,
    }
}

/// A corrupted copy of a real sealed state (each golden file, each kind) is
/// refused for every single flipped bit position tried, with the error that
/// names the corruption, and the genuine copy still opens.
#[test]
fn s7_every_corrupted_byte_of_a_sealed_golden_file_is_refused() {
    type Open = fn(&[u8], &[u8; 32]) -> Result<Vec<u8>, Error>;
    let files: [(&str, Open); 3] = [
        ("account_v1.sealed", |b, k| {
            Account::open(b, k, b"ctx").map(|a| a.to_stored().to_vec())
        }),
        ("session_he_v1.sealed", |b, k| {
            Session::open(b, k, b"ctx").map(|s| s.to_stored().to_vec())
        }),
        ("record_v1.sealed", |b, k| {
            SessionRecord::open(b, k, b"ctx").map(|r| r.to_stored().to_vec())
        }),
    ];
    for (name, open) in files {
        let sealed = golden::read(name);
        let genuine = open(&sealed, &STORAGE_KEY).unwrap_or_else(|e| panic!("{name}: {e}"));
        for at in 0..sealed.len() {
            let bit = 1u8 << (at % 8);
            let mut corrupt = sealed.clone();
            corrupt[at] ^= bit;
            assert_eq!(
                open(&corrupt, &STORAGE_KEY).err(),
                Some(Error::State(sealed_corruption(at, corrupt[at]))),
                "{name}: byte {at}"
            );
        }
        // Cut anywhere: the framing is short, or the tag does not match.
        for len in 0..sealed.len() {
            let expected = if len < 2 + 12 {
                StateError::Truncated
            } else {
                StateError::Sealed
            };
            assert_eq!(
                open(&sealed[..len], &STORAGE_KEY).err(),
                Some(Error::State(expected)),
                "{name}: cut at {len}"
            );
        }
        assert_eq!(open(&sealed, &STORAGE_KEY).expect("genuine"), genuine);
    }
}

#[test]
fn s7_loading_rejects_truncated_trailing_and_foreign_input() {
    let (p, _) = conversation(true);
    for stored in [p.b.to_stored().to_vec(), p.a.to_stored().to_vec()] {
        for n in 0..stored.len() {
            assert_eq!(
                Session::from_stored(&stored[..n]).err(),
                Some(Error::State(StateError::Truncated)),
                "truncated at {n}"
            );
        }
        let mut long = stored.clone();
        long.push(0);
        assert_eq!(
            Session::from_stored(&long).err(),
            Some(Error::State(StateError::Trailing))
        );
        let mut newer = stored.clone();
        newer[1] = 4;
        assert_eq!(
            Session::from_stored(&newer).err(),
            Some(Error::State(StateError::UnsupportedVersion(4)))
        );
        assert_eq!(
            Account::from_stored(&stored).err(),
            Some(Error::State(StateError::WrongKind))
        );
    }
    let account = p.bob.to_stored();
    for n in 0..account.len() {
        assert_eq!(
            Account::from_stored(&account[..n]).err(),
            Some(Error::State(StateError::Truncated)),
            "truncated at {n}"
        );
    }
    assert_eq!(
        Session::from_stored(&account).err(),
        Some(Error::State(StateError::WrongKind))
    );
}

#[test]
fn s7_loading_rejects_inconsistent_state() {
    let (p, _) = conversation(false);
    let stored = p.b.to_stored().to_vec();
    // The config of this session is max_skip 50, max_skipped_keys 100,
    // stored after the flags byte. A config that no longer admits the stored
    // skipped keys (max_skipped_keys 1 < 2 stored) is inconsistent.
    let mut fewer = stored.clone();
    fewer[3..7].copy_from_slice(&1u32.to_be_bytes());
    fewer[7..11].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        Session::from_stored(&fewer).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    // A refused config (max_skip > max_skipped_keys).
    let mut refused = stored.clone();
    refused[3..7].copy_from_slice(&101u32.to_be_bytes());
    assert_eq!(
        Session::from_stored(&refused).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    // A responder that claims to be acknowledged (bit 1 without bit 0).
    let mut flags = stored.clone();
    flags[2] |= 0b10;
    assert_eq!(
        Session::from_stored(&flags).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    // A huge skipped-key count is refused before anything is allocated.
    let mut huge = stored.clone();
    let at = huge.len() - 2 * 36 - 4 - 32 - 4;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        Session::from_stored(&huge).err(),
        Some(Error::State(StateError::Truncated))
    );
}

#[test]
fn s7_stored_sizes_stay_within_budget() {
    for (he, budget) in [(false, 320), (true, 450)] {
        let p = established(SessionConfig::default().with_header_encryption(he), 5);
        for s in [&p.a, &p.b] {
            assert_eq!(s.skipped_keys(), 0);
            let len = s.to_stored().len();
            assert!(
                len <= budget,
                "header encryption {he}: {len} > {budget} bytes"
            );
        }
        // Each skipped key costs at most 40 bytes (36: its number and key).
        let mut p = p;
        let sent: Vec<AnyMessage> = (0..101u8).map(|i| p.a_to_b(&[i])).collect();
        p.b.decrypt(&sent[0]).expect("opens the chain");
        let base = p.b.to_stored().len();
        p.b.decrypt(&sent[100]).expect("skips 99");
        let per_key = (p.b.to_stored().len() - base) as f64 / 99.0;
        assert!(per_key <= 40.0, "{per_key} bytes a skipped key");
    }
}

#[test]
fn s7_sealed_state_opens_only_where_it_was_stored() {
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
    assert_eq!(opened.to_stored(), alice_bob.alice.record.to_stored());
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

// --- Session records --------------------------------------------------------

#[test]
fn s7_record_storage_round_trip_sealing_and_rejection() {
    let mut p = Devices::new(17);
    for _ in 0..3 {
        p.start(true);
        let m = p.send(true, b"m");
        p.deliver(true, &m).unwrap();
    }
    p.round_trip();
    let stored = p.bob.record.to_stored();
    assert_eq!(stored[..2], [0x22, 4]);
    let loaded = SessionRecord::from_stored(&stored).unwrap();
    assert_eq!(loaded.to_stored(), stored);
    assert_eq!(loaded.archived().len(), 2);
    // The loaded record behaves as the original.
    p.bob.record = loaded;
    p.round_trip();

    let key = [5u8; 32];
    let sealed = p.bob.record.seal(&key, b"ctx", &mut p.rng).unwrap();
    assert_eq!(sealed[..2], [0x32, 4]);
    assert_eq!(
        SessionRecord::open(&sealed, &key, b"ctx")
            .unwrap()
            .to_stored(),
        p.bob.record.to_stored()
    );
    assert_eq!(
        SessionRecord::open(&sealed, &[6; 32], b"ctx").unwrap_err(),
        Error::State(StateError::Sealed)
    );
    let stored = p.bob.record.to_stored();
    let session = p.bob.record.current().unwrap().to_stored();
    assert_eq!(
        SessionRecord::from_stored(&session).unwrap_err(),
        Error::State(StateError::WrongKind)
    );
    assert_eq!(
        SessionRecord::from_stored(&[0x22, 5]).unwrap_err(),
        Error::State(StateError::UnsupportedVersion(5))
    );
    // Every truncation is an error; a trailing byte too.
    for len in 0..stored.len() {
        assert_eq!(
            SessionRecord::from_stored(&stored[..len]).unwrap_err(),
            Error::State(StateError::Truncated),
            "len {len}"
        );
    }
    let mut long = stored.to_vec();
    long.push(0);
    assert_eq!(
        SessionRecord::from_stored(&long).unwrap_err(),
        Error::State(StateError::Trailing)
    );
    // More archived sessions than the stored limit allows.
    let mut over = stored.to_vec();
    over[2..6].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        SessionRecord::from_stored(&over).unwrap_err(),
        Error::State(StateError::Inconsistent)
    );
    // The same session twice.
    let mut record = SessionRecord::new();
    let bundle = p.alice.account.bundle(None).unwrap().verify().unwrap();
    record
        .start_new(p.bob.account.identity(), &bundle, p.config, &mut p.rng)
        .unwrap();
    let one = record.to_stored();
    let session = record.current().unwrap().to_stored();
    let mut twice = one[..one.len() - 4].to_vec();
    twice.extend(1u32.to_be_bytes());
    twice.push(0);
    twice.extend((session.len() as u32).to_be_bytes());
    twice.extend(session.iter());
    assert_eq!(
        SessionRecord::from_stored(&twice).unwrap_err(),
        Error::State(StateError::Inconsistent)
    );
    // An empty record.
    let empty = SessionRecord::new().to_stored();
    // kind, version, limits, no pinned key, not verified, no changed key,
    // no warning (format version 4), no current session, no archived ones.
    assert_eq!(empty.len(), 2 + 8 + 1 + 1 + 1 + 1 + 1 + 4);
    assert!(
        SessionRecord::from_stored(&empty)
            .unwrap()
            .needs_new_session()
    );
}

/// Bob's record after four sessions with Alice (archived as abandoned,
/// abandoned, lost tie-break, replaced), and a message Alice sent on the
/// first one that Bob has not received yet: today's writer's golden files.
fn record_files() -> golden::Set {
    let mut p = Devices::new(21);
    p.start(true);
    let m = p.send(true, b"first");
    p.deliver(true, &m).unwrap();
    p.round_trip();
    let held = p.send(true, b"held on the first session");
    p.start(false);
    let m = p.send(false, b"second");
    p.deliver(false, &m).unwrap();
    p.round_trip();
    let (to_bob, to_alice, _, _) = p.simultaneous(1);
    p.deliver(true, &to_bob[0]).unwrap();
    p.deliver(false, &to_alice[0]).unwrap();
    p.round_trip();
    p.start(true);
    let m = p.send(true, b"fifth");
    p.deliver(true, &m).unwrap();
    p.round_trip();
    let stored = p.bob.record.to_stored().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("record", "bin", stored);
    set.other("record", "msg", held.encode());
    set.state(
        "record",
        "sealed",
        p.bob.record.seal(&STORAGE_KEY, b"ctx", &mut p.rng).unwrap(),
    );
    set
}

#[test]
fn s7_golden_record_files_of_every_version_load_round_trip_and_work() {
    let files = record_files();
    golden::bless(&files);
    for version in 1..=files.version {
        let name = |ext: &str| golden::file_name("record", version, ext);
        let stored = golden::read(&name("bin"));
        let mut record = SessionRecord::from_stored(&stored).expect("record");
        assert_eq!(record.archived().len(), 4);
        assert!(
            record.peer_identity_key().is_some(),
            "v{version} pins its peer"
        );
        // Stored again, it loads to the same state; in the writer's
        // version, byte for byte the file.
        let again = record.to_stored();
        assert_eq!(
            SessionRecord::from_stored(&again).unwrap().to_stored(),
            again
        );
        if version == files.version {
            assert_eq!(*again, stored);
        }
        let current = record.current().map(|s| s.session_id());
        let sealed = SessionRecord::open(&golden::read(&name("sealed")), &STORAGE_KEY, b"ctx")
            .expect("sealed");
        assert_eq!(sealed.to_stored(), record.to_stored());
        // The held message decrypts from the oldest (abandoned) session,
        // which stays archived.
        let mut rng = ChaCha20Rng::from_seed([21; 32]);
        let mut bob = Account::new(&mut rng);
        let held = AnyMessage::decode(&golden::read(&name("msg"))).expect("message");
        assert_eq!(
            record
                .decrypt(&mut bob, &held, SessionConfig::default())
                .map(|d| d.plaintext),
            Ok(b"held on the first session".to_vec())
        );
        assert_eq!(record.current().map(|s| s.session_id()), current);
    }
}

#[test]
fn s7_todays_writer_still_writes_its_record_golden_files() {
    golden::assert_writer_unchanged(&record_files());
}

// --- Group state ------------------------------------------------------------

/// A group state with everything the format holds: an own chain (rotated
/// once), chains from three senders, skipped keys, and a sender with six
/// chains (one dropped). `held` is a message it can still decrypt from
/// its skipped keys.
fn golden_state() -> (GroupSession, Vec<u8>, IdentityKey) {
    let mut rng = ChaCha20Rng::from_seed([23; 32]);
    let mut me = GroupSession::new(GROUP, SessionConfig::new(100, 200).expect("config"));
    me.rotate(&mut rng).expect("chain 1");
    me.encrypt(b"from me", &mut rng).expect("encrypt");
    me.rotate(&mut rng).expect("chain 2");
    let mut held = Vec::new();
    for sender in 0..3 {
        let mut them = GroupSession::new(GROUP, SessionConfig::default());
        let chains = if sender == 2 { 6 } else { 1 + sender };
        for _ in 0..chains {
            let d = them.rotate(&mut rng).expect("rotate");
            me.receive_distribution(&identity(sender), &d)
                .expect("receive");
        }
        let skipped = them.encrypt(b"held back", &mut rng).expect("encrypt");
        let _lost = them.encrypt(b"lost", &mut rng).expect("encrypt");
        let next = them.encrypt(b"next", &mut rng).expect("encrypt");
        me.decrypt(&identity(sender), &next).expect("decrypt");
        if sender == 1 {
            held = skipped.into_bytes();
        }
    }
    (me, held, identity(1))
}

/// Today's writer's golden files.
fn group_files() -> golden::Set {
    let (state, held, _) = golden_state();
    let mut rng = ChaCha20Rng::from_seed([24; 32]);
    let stored = state.to_stored().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("group", "bin", stored);
    let sealed = state.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal");
    set.state("group", "sealed", sealed);
    set.other("group", "msg", held);
    set
}

#[test]
fn s7_group_golden_files_of_every_version_load_and_work() {
    let files = group_files();
    golden::bless(&files);
    let sender = identity(1);
    for version in 1..=files.version {
        let name = |ext: &str| golden::file_name("group", version, ext);
        let stored = golden::read(&name("bin"));
        let mut loaded = GroupSession::from_stored(&stored).expect("group state");
        assert_eq!(loaded.sender_chain(), Some((2, 0)));
        assert_eq!(loaded.chains_from(&identity(2)), 5);
        assert_eq!(loaded.skipped_keys(), 6);
        let message = GroupMessage::decode(&golden::read(&name("msg"))).expect("message");
        assert_eq!(
            loaded
                .decrypt(&sender, &message)
                .expect("decrypts after reload"),
            b"held back"
        );
        assert_eq!(loaded.decrypt(&sender, &message), Err(Error::Duplicate));
        let sealed = golden::read(&name("sealed"));
        let opened = GroupSession::open(&sealed, &STORAGE_KEY, b"ctx").expect("sealed");
        if version == files.version {
            assert_eq!(opened.to_stored().as_slice(), stored);
        }
        assert_eq!(
            GroupSession::open(&sealed, &[0; 32], b"ctx").err(),
            Some(Error::State(StateError::Sealed))
        );
    }
}

#[test]
fn s7_todays_writer_still_writes_its_group_golden_files() {
    golden::assert_writer_unchanged(&group_files());
}

/// The stored size, measured: what each received chain and each skipped
/// key costs (the numbers in `GroupSession::to_bytes`'s docs).
#[test]
fn s7_group_state_size_per_chain_and_per_key() {
    let mut rng = ChaCha20Rng::from_seed([25; 32]);
    let mut me = GroupSession::new(GROUP, SessionConfig::default());
    let empty = me.to_stored().len();
    assert_eq!(empty, 31);
    me.rotate(&mut rng).expect("rotate");
    assert_eq!(me.to_stored().len(), empty + 72, "own chain");
    let mut them = GroupSession::new(GROUP, SessionConfig::default());
    let d = them.rotate(&mut rng).expect("rotate");
    let base = me.to_stored().len();
    me.receive_distribution(&identity(0), &d).expect("receive");
    assert_eq!(
        me.to_stored().len(),
        base + 37 + 76,
        "a new sender's first chain"
    );
    let d = them.rotate(&mut rng).expect("rotate");
    let before = me.to_stored().len();
    me.receive_distribution(&identity(0), &d).expect("receive");
    assert_eq!(me.to_stored().len(), before + 76, "a further chain");
    let before = me.to_stored().len();
    for _ in 0..100 {
        them.encrypt(b"lost", &mut rng).expect("encrypt");
    }
    let m = them.encrypt(b"arrives", &mut rng).expect("encrypt");
    me.decrypt(&identity(0), &m).expect("decrypt");
    assert_eq!(me.to_stored().len(), before + 100 * 36, "100 skipped keys");
}

/// The README states the stored size of an idle session: this test computes
/// each figure and checks that the README says exactly that.
#[test]
fn s7_the_readme_states_the_measured_session_sizes() {
    let mut sizes = Vec::new();
    for he in [false, true] {
        let p = established(SessionConfig::default().with_header_encryption(he), 5);
        sizes.push((p.a.to_stored().len(), p.b.to_stored().len()));
    }
    let [(a, b), (a_he, b_he)] = sizes[..] else {
        panic!("two modes")
    };
    let sentence = format!(
        "an idle session (PQXDH with a one-time prekey, one message each way) \
         stores in {a} bytes as the initiator and {b} as the responder ({a_he} and \
         {b_he} with header encryption)"
    );
    let readme = include_str!("../README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        readme.contains(&sentence),
        "the README should say: {sentence}"
    );
}
