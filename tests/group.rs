//! SPEC §7 for the group state (SPEC §10): golden files of format
//! version 1, written only when missing (a new format version gets new
//! files; old ones stay), and the stored size per chain and per key.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "tests: a failed expectation is a failed test"
)]

use std::path::PathBuf;

use cliquet::{
    Error, GroupMessage, GroupSession, IdentityKey, IdentityKeyPair, SessionConfig, StateError,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const GROUP: [u8; 16] = *b"group-under-test";

fn identity(i: usize) -> IdentityKey {
    let seed = [u8::try_from(i).expect("small") + 1; 32];
    *IdentityKeyPair::from_secret_bytes(&seed).public_key()
}

const STORAGE_KEY: [u8; 32] = [0x42; 32];

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

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

/// Writes a golden file only if it is missing: a format version's files
/// never change.
fn bless_if_missing(name: &str, bytes: &[u8]) {
    let path = golden(name);
    if !path.exists() {
        std::fs::write(&path, bytes).expect("write golden file");
    }
}

#[test]
fn s7_group_golden_v1_files_still_load_and_work() {
    let (state, held, sender) = golden_state();
    let mut rng = ChaCha20Rng::from_seed([24; 32]);
    bless_if_missing("group_v1.bin", &state.to_bytes());
    bless_if_missing(
        "group_v1.sealed",
        &state.seal(&STORAGE_KEY, &mut rng).expect("seal"),
    );
    bless_if_missing("group_v1.msg", &held);
    let read = |name| std::fs::read(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut loaded = GroupSession::from_bytes(&read("group_v1.bin")).expect("group v1");
    assert_eq!(loaded.sender_chain(), Some((2, 0)));
    assert_eq!(loaded.chains_from(&identity(2)), 5);
    assert_eq!(loaded.skipped_keys(), 6);
    let message = GroupMessage::decode(&read("group_v1.msg")).expect("message");
    assert_eq!(
        loaded
            .decrypt(&sender, &message)
            .expect("decrypts after reload"),
        b"held back"
    );
    assert_eq!(loaded.decrypt(&sender, &message), Err(Error::Duplicate));
    let sealed = GroupSession::open(&read("group_v1.sealed"), &STORAGE_KEY).expect("sealed v1");
    assert_eq!(sealed.to_bytes().as_slice(), read("group_v1.bin"));
    assert_eq!(
        GroupSession::open(&read("group_v1.sealed"), &[0; 32]).err(),
        Some(Error::State(StateError::Sealed))
    );
}

#[test]
fn s7_todays_writer_still_writes_group_format_v1() {
    let (state, _, _) = golden_state();
    let stored = std::fs::read(golden("group_v1.bin")).expect("golden file");
    assert!(
        stored == state.to_bytes().as_slice(),
        "the writer's output changed; a new format needs a new version"
    );
}

/// The stored size, measured: what each received chain and each skipped
/// key costs (the numbers in `GroupSession::to_bytes`'s docs).
#[test]
fn s7_group_state_size_per_chain_and_per_key() {
    let mut rng = ChaCha20Rng::from_seed([25; 32]);
    let mut me = GroupSession::new(GROUP, SessionConfig::default());
    let empty = me.to_bytes().len();
    assert_eq!(empty, 31);
    me.rotate(&mut rng).expect("rotate");
    assert_eq!(me.to_bytes().len(), empty + 72, "own chain");
    let mut them = GroupSession::new(GROUP, SessionConfig::default());
    let d = them.rotate(&mut rng).expect("rotate");
    let base = me.to_bytes().len();
    me.receive_distribution(&identity(0), &d).expect("receive");
    assert_eq!(
        me.to_bytes().len(),
        base + 40 + 76,
        "a new sender's first chain"
    );
    let d = them.rotate(&mut rng).expect("rotate");
    let before = me.to_bytes().len();
    me.receive_distribution(&identity(0), &d).expect("receive");
    assert_eq!(me.to_bytes().len(), before + 76, "a further chain");
    let before = me.to_bytes().len();
    for _ in 0..100 {
        them.encrypt(b"lost", &mut rng).expect("encrypt");
    }
    let m = them.encrypt(b"arrives", &mut rng).expect("encrypt");
    me.decrypt(&identity(0), &m).expect("decrypt");
    assert_eq!(me.to_bytes().len(), before + 100 * 36, "100 skipped keys");
}
