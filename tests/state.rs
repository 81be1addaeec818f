//! SPEC §7: the storage format, its sealed form, and golden files of format
//! version 1 that every later version must keep loading.
//!
//! `CLIQUET_BLESS=1 cargo test --test state` writes the golden files of
//! today's format version that are missing; it never overwrites one, so the
//! files of version 1 stay as they are (`common::golden`).
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    reason = "tests: a failed expectation is a failed test"
)]

mod common;

use cliquet::{Account, AnyMessage, Error, Session, SessionConfig, SessionRecord, StateError};
use common::golden::{self, STORAGE_KEY};
use common::{Pair, established};
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

/// Today's writer's golden files.
fn current_files() -> golden::Set {
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
    let (plain, plain_msg) = conversation(false);
    let (he, he_msg) = conversation(true);
    let stored = account.to_bytes().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("account", "bin", stored);
    set.state(
        "account",
        "sealed",
        account.seal(&STORAGE_KEY, b"ctx", &mut rng).expect("seal"),
    );
    set.state("session", "bin", plain.b.to_bytes().to_vec());
    set.other("session", "msg", plain_msg.to_bytes());
    set.state("session_he", "bin", he.b.to_bytes().to_vec());
    set.other("session_he", "msg", he_msg.to_bytes());
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
}

/// The golden files of format `version` load and work; those of the
/// writer's `current` version store back byte for byte.
fn check_golden(version: u8, current: u8) {
    let name = |name: &str, ext: &str| golden::file_name(name, version, ext);
    let read = |name: String| golden::read(&name);
    let account = Account::from_bytes(&read(name("account", "bin"))).expect("account");
    assert_eq!(account.one_time_prekey_count(), 3);
    assert_eq!(account.unpublished_one_time_prekeys().len(), 1);
    assert_eq!(account.signed_prekey_id(), 2);
    if version >= 3 {
        assert_eq!(account.kem_prekey_id(), Some(5));
        assert_eq!(account.one_time_kem_prekey_count(), 3);
        assert_eq!(account.unpublished_one_time_kem_prekeys().len(), 1);
        let bundle = account.bundle(None).expect("bundle");
        assert_eq!(
            bundle.kem_prekey().map(|k| k.id()),
            Some(2),
            "oldest one-time"
        );
        assert!(bundle.verify().is_ok());
    } else {
        // An account of an earlier format has no KEM prekey yet.
        assert_eq!(account.kem_prekey_id(), None);
        assert!(!account.bundle(None).expect("bundle").is_post_quantum());
    }
    let sealed = Account::open(&read(name("account", "sealed")), &STORAGE_KEY, b"ctx")
        .expect("sealed account");
    assert_eq!(sealed.to_bytes(), account.to_bytes());
    // Stored again, a loaded state loads to the same state; in the
    // writer's version, it stores byte for byte what the file holds.
    let again = account.to_bytes();
    assert_eq!(
        Account::from_bytes(&again).expect("reload").to_bytes(),
        again
    );
    if version == current {
        assert_eq!(*again, read(name("account", "bin")));
    }
    for state in ["session", "session_he"] {
        let stored = read(name(state, "bin"));
        let mut session = Session::from_bytes(&stored).unwrap_or_else(|e| panic!("{state}: {e}"));
        assert_eq!(session.skipped_keys(), 2, "{state} v{version}");
        let again = session.to_bytes();
        assert_eq!(
            Session::from_bytes(&again).expect("reload").to_bytes(),
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
        assert_eq!(he.to_bytes().to_vec(), read(name("session_he", "bin")));
    }
}

#[test]
fn s7_todays_writer_still_writes_its_golden_files() {
    golden::assert_writer_unchanged(&current_files());
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
    let stored = SessionRecord::new().to_bytes().to_vec();
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
            .to_bytes(),
        p.b.to_bytes()
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
            Account::open(b, k, b"ctx").map(|a| a.to_bytes().to_vec())
        }),
        ("session_he_v1.sealed", |b, k| {
            Session::open(b, k, b"ctx").map(|s| s.to_bytes().to_vec())
        }),
        ("record_v1.sealed", |b, k| {
            SessionRecord::open(b, k, b"ctx").map(|r| r.to_bytes().to_vec())
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
    for stored in [p.b.to_bytes().to_vec(), p.a.to_bytes().to_vec()] {
        for n in 0..stored.len() {
            assert_eq!(
                Session::from_bytes(&stored[..n]).err(),
                Some(Error::State(StateError::Truncated)),
                "truncated at {n}"
            );
        }
        let mut long = stored.clone();
        long.push(0);
        assert_eq!(
            Session::from_bytes(&long).err(),
            Some(Error::State(StateError::Trailing))
        );
        let mut newer = stored.clone();
        newer[1] = 4;
        assert_eq!(
            Session::from_bytes(&newer).err(),
            Some(Error::State(StateError::UnsupportedVersion(4)))
        );
        assert_eq!(
            Account::from_bytes(&stored).err(),
            Some(Error::State(StateError::WrongKind))
        );
    }
    let account = p.bob.to_bytes();
    for n in 0..account.len() {
        assert_eq!(
            Account::from_bytes(&account[..n]).err(),
            Some(Error::State(StateError::Truncated)),
            "truncated at {n}"
        );
    }
    assert_eq!(
        Session::from_bytes(&account).err(),
        Some(Error::State(StateError::WrongKind))
    );
}

#[test]
fn s7_loading_rejects_inconsistent_state() {
    let (p, _) = conversation(false);
    let stored = p.b.to_bytes().to_vec();
    // The config of this session is max_skip 50, max_skipped_keys 100,
    // stored after the flags byte. A config that no longer admits the stored
    // skipped keys (max_skipped_keys 1 < 2 stored) is inconsistent.
    let mut fewer = stored.clone();
    fewer[3..7].copy_from_slice(&1u32.to_be_bytes());
    fewer[7..11].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        Session::from_bytes(&fewer).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    // A refused config (max_skip > max_skipped_keys).
    let mut refused = stored.clone();
    refused[3..7].copy_from_slice(&101u32.to_be_bytes());
    assert_eq!(
        Session::from_bytes(&refused).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    // A responder that claims to be acknowledged (bit 1 without bit 0).
    let mut flags = stored.clone();
    flags[2] |= 0b10;
    assert_eq!(
        Session::from_bytes(&flags).err(),
        Some(Error::State(StateError::Inconsistent))
    );
    // A huge skipped-key count is refused before anything is allocated.
    let mut huge = stored.clone();
    let at = huge.len() - 2 * 36 - 4 - 32 - 4;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        Session::from_bytes(&huge).err(),
        Some(Error::State(StateError::Truncated))
    );
}

#[test]
fn s7_stored_sizes_stay_within_budget() {
    for (he, budget) in [(false, 320), (true, 450)] {
        let p = established(SessionConfig::default().with_header_encryption(he), 5);
        for s in [&p.a, &p.b] {
            assert_eq!(s.skipped_keys(), 0);
            let len = s.to_bytes().len();
            assert!(
                len <= budget,
                "header encryption {he}: {len} > {budget} bytes"
            );
        }
        // Each skipped key costs at most 40 bytes (36: its number and key).
        let mut p = p;
        let sent: Vec<AnyMessage> = (0..101u8).map(|i| p.a_to_b(&[i])).collect();
        p.b.decrypt(&sent[0]).expect("opens the chain");
        let base = p.b.to_bytes().len();
        p.b.decrypt(&sent[100]).expect("skips 99");
        let per_key = (p.b.to_bytes().len() - base) as f64 / 99.0;
        assert!(per_key <= 40.0, "{per_key} bytes a skipped key");
    }
}
