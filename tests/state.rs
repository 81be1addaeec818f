//! SPEC §7: the storage format, its sealed form, and golden files of format
//! version 1 that every later version must keep loading.
//!
//! `CLIQUET_BLESS=1 cargo test --test state` rewrites the golden files (only
//! ever for a new format version: old files stay as they are).
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    reason = "tests: a failed expectation is a failed test"
)]

mod common;

use std::path::PathBuf;

use cliquet::{Account, AnyMessage, Error, Session, SessionConfig, StateError};
use common::{Pair, established};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const STORAGE_KEY: [u8; 32] = [0x42; 32];

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

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

/// Today's writer output for each golden file.
fn current_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let mut account = Account::new(&mut rng);
    account.generate_one_time_prekeys(2, &mut rng);
    account.mark_one_time_prekeys_published();
    account.generate_one_time_prekeys(1, &mut rng);
    account.rotate_signed_prekey(&mut rng);
    let (plain, plain_msg) = conversation(false);
    let (he, he_msg) = conversation(true);
    vec![
        ("account_v1.bin", account.to_bytes().to_vec()),
        (
            "account_v1.sealed",
            account.seal(&STORAGE_KEY, &mut rng).expect("seal"),
        ),
        ("session_v1.bin", plain.b.to_bytes().to_vec()),
        ("session_v1.msg", plain_msg.to_bytes()),
        ("session_he_v1.bin", he.b.to_bytes().to_vec()),
        ("session_he_v1.msg", he_msg.to_bytes()),
        (
            "session_he_v1.sealed",
            he.b.seal(&STORAGE_KEY, &mut rng).expect("seal"),
        ),
    ]
}

#[test]
fn s7_golden_v1_files_still_load_and_work() {
    if std::env::var_os("CLIQUET_BLESS").is_some() {
        for (name, bytes) in current_files() {
            std::fs::write(golden(name), bytes).expect("write golden file");
        }
    }
    let read = |name| std::fs::read(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let account = Account::from_bytes(&read("account_v1.bin")).expect("account v1");
    assert_eq!(account.one_time_prekey_count(), 3);
    assert_eq!(account.unpublished_one_time_prekeys().len(), 1);
    assert_eq!(account.signed_prekey_id(), 2);
    let sealed =
        Account::open(&read("account_v1.sealed"), &STORAGE_KEY).expect("sealed account v1");
    assert_eq!(sealed.to_bytes(), account.to_bytes());
    for (state, msg, expected) in [
        ("session_v1.bin", "session_v1.msg", &b"the held message"[..]),
        (
            "session_he_v1.bin",
            "session_he_v1.msg",
            b"the held message",
        ),
    ] {
        let mut session =
            Session::from_bytes(&read(state)).unwrap_or_else(|e| panic!("{state}: {e}"));
        assert_eq!(session.skipped_keys(), 2, "{state}");
        let message = AnyMessage::decode(&read(msg)).expect("message");
        assert_eq!(
            session.decrypt(&message).expect("decrypts after reload"),
            expected
        );
    }
    let he = Session::open(&read("session_he_v1.sealed"), &STORAGE_KEY).expect("sealed session v1");
    assert!(he.has_header_encryption());
}

#[test]
fn s7_todays_writer_still_writes_format_v1() {
    for (name, bytes) in current_files() {
        let stored = std::fs::read(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            stored == bytes,
            "{name}: the writer's output changed; a new format needs a new version"
        );
    }
}

#[test]
fn s7_sealed_state_needs_the_right_key_and_kind() {
    let (p, _) = conversation(false);
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let sealed = p.b.seal(&STORAGE_KEY, &mut rng).expect("seal");
    assert_eq!(
        Session::open(&sealed, &STORAGE_KEY)
            .expect("open")
            .to_bytes(),
        p.b.to_bytes()
    );
    assert_eq!(
        Session::open(&sealed, &[0x43; 32]).err(),
        Some(Error::State(StateError::Sealed))
    );
    assert_eq!(
        Account::open(&sealed, &STORAGE_KEY).err(),
        Some(Error::State(StateError::WrongKind))
    );
    let account_sealed = p.alice.seal(&STORAGE_KEY, &mut rng).expect("seal");
    assert_eq!(
        Session::open(&account_sealed, &STORAGE_KEY).err(),
        Some(Error::State(StateError::WrongKind))
    );
    for i in 0..sealed.len() {
        let mut corrupt = sealed.clone();
        corrupt[i] ^= 0x10;
        assert!(Session::open(&corrupt, &STORAGE_KEY).is_err(), "byte {i}");
    }
    // Version and kind are bound: a sealed body relabelled as a newer version is refused.
    let mut relabelled = sealed.clone();
    relabelled[1] = 2;
    assert_eq!(
        Session::open(&relabelled, &STORAGE_KEY).err(),
        Some(Error::State(StateError::UnsupportedVersion(2)))
    );
    // Two seals of the same state differ (fresh nonce).
    assert_ne!(p.b.seal(&STORAGE_KEY, &mut rng).expect("seal"), sealed);
}

#[test]
fn s7_loading_rejects_truncated_trailing_and_foreign_input() {
    let (p, _) = conversation(true);
    for stored in [p.b.to_bytes().to_vec(), p.a.to_bytes().to_vec()] {
        for n in 0..stored.len() {
            assert!(
                Session::from_bytes(&stored[..n]).is_err(),
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
        newer[1] = 2;
        assert_eq!(
            Session::from_bytes(&newer).err(),
            Some(Error::State(StateError::UnsupportedVersion(2)))
        );
        assert_eq!(
            Account::from_bytes(&stored).err(),
            Some(Error::State(StateError::WrongKind))
        );
    }
    let account = p.bob.to_bytes();
    for n in 0..account.len() {
        assert!(
            Account::from_bytes(&account[..n]).is_err(),
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
