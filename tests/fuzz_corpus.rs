//! Replays every committed seed-corpus file `fuzz/seeds/<target>/*` through
//! the same checks as the fuzz targets (the test kit's `fuzz` module,
//! `testkit/src/fuzz/`), so that stable CI runs them without cargo-fuzz or
//! nightly.

use std::fs;
use std::path::Path;

use cliquet_testkit::fuzz::{checks, fixtures, group, protocol, users};

/// Runs `check` on every seed of `target`; at least one must get past the
/// parser, so that the checks do real work.
fn replay(target: &str, check: fn(&[u8]) -> bool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{target}: no seed");
    let mut accepted = 0;
    for file in &files {
        let data = fs::read(file).expect("readable seed");
        // Printed only if the test fails: the seed that panicked is the
        // last one named (`cargo fuzz run <target> <file>` replays it).
        eprintln!("{target}: {}", file.display());
        accepted += usize::from(check(&data));
    }
    assert!(accepted > 0, "{target}: no seed was accepted");
}

/// One test per target, so that they run in parallel and fail by name.
macro_rules! replay_tests {
    ($($target:ident: $check:path,)*) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), $check);
            }
        )*

        #[test]
        fn every_target_is_replayed() {
            let replayed = [$(stringify!($target)),*];
            let targets: Vec<&str> = checks::TARGETS.iter().map(|(name, _)| *name).collect();
            assert_eq!(targets, replayed);
        }
    };
}

replay_tests! {
    decode_bundle: checks::decode_bundle,
    decode_pq_bundle: checks::decode_pq_bundle,
    decode_message: checks::decode_message,
    decode_prekey_message: checks::decode_prekey_message,
    decode_pq_prekey_message: checks::decode_pq_prekey_message,
    decode_encrypted_header_message: checks::decode_encrypted_header_message,
    decode_any_message: checks::decode_any_message,
    load_account: checks::load_account,
    load_session: checks::load_session,
    open_sealed: checks::open_sealed,
    load_record: checks::load_record,
    decode_decryption_failure: checks::decode_decryption_failure,
    decrypt_plain: checks::decrypt_plain,
    decrypt_header: checks::decrypt_header,
    protocol: protocol::run,
    decode_distribution: group::decode_distribution,
    decode_group_message: group::decode_group_message,
    group_decrypt: group::group_decrypt,
    decode_device_list: users::decode_device_list,
    load_user_record: users::load_user_record,
    device_list_updates: users::device_list_updates,
    decode_publication: checks::decode_publication,
}

#[test]
fn generated_states_pass_the_loader_checks() {
    let (accounts, sessions) = fixtures::stored_states();
    assert!(accounts.iter().all(|a| checks::load_account(a)));
    assert!(sessions.iter().all(|s| checks::load_session(s)));
}

#[test]
fn generated_person_records_pass_the_loader_checks() {
    let records = users::stored_person_records();
    assert!(records.len() > 4);
    assert!(records.iter().all(|r| users::load_user_record(r)));
}

#[test]
fn decrypt_fixtures_hold_back_messages_for_both_sides() {
    for header_encryption in [false, true] {
        let fixture = fixtures::fixture(header_encryption);
        let pending: Vec<_> = fixture.messages.iter().filter(|m| m.pending).collect();
        assert!(pending.iter().any(|m| m.to_bob) && pending.iter().any(|m| !m.to_bob));
        // Every held-back message decrypts, every delivered one does not;
        // a prekey message's inner message on its own likewise.
        let target = if header_encryption {
            checks::decrypt_header
        } else {
            checks::decrypt_plain
        };
        for m in &fixture.messages {
            assert_eq!(target(&m.bytes), m.pending, "{m:?}");
            assert_eq!(target(&m.ratchet), m.pending, "inner message of {m:?}");
        }
        let prekey_messages = fixture.messages.iter().filter(|m| m.bytes != m.ratchet);
        assert!(prekey_messages.clone().any(|m| m.pending));
        assert!(prekey_messages.clone().any(|m| !m.pending));
    }
}

/// The campaign of 26 November 2026 found two inputs that the decrypt
/// checks wrongly called forgeries: the inner message of a held-back prekey
/// message, sent on its own (`decrypt_plain`), and a later message wrapped
/// in the prekey envelope of its session (`decrypt_header`). Both carry a
/// genuine ratchet message, and SPEC §5 lets a live session take it in
/// either envelope; the checks now identify a message by what it carries.
#[test]
fn campaign_inputs_in_another_envelope_decrypt_once() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    for (file, check) in [
        (
            "decrypt_plain/campaign-inner-message-alone",
            checks::decrypt_plain as fn(&[u8]) -> bool,
        ),
        (
            "decrypt_header/campaign-later-message-in-prekey-envelope",
            checks::decrypt_header,
        ),
    ] {
        let data = fs::read(dir.join(file)).expect("committed input");
        assert!(check(&data), "{file} decrypts");
    }
}

#[test]
fn protocol_schedules_run_in_both_modes() {
    // Header: mode, max_skip, extra; then encrypt/deliver/exchange steps.
    let ping_pong = [0, 4, 4, 0, 0, 1, 0, 0, 1, 1, 0, 9, 9];
    assert!(protocol::run(&ping_pong));
    let tampered = [1, 4, 4, 0, 0, 5, 0, 9, 1, 1, 0];
    assert!(protocol::run(&tampered));
    // Too short for a configuration: nothing runs.
    assert!(!protocol::run(&[0, 1]));
}

#[test]
fn group_fixture_holds_back_messages_of_both_senders() {
    let fixture = group::group_fixture();
    for sender in 0..2 {
        let of = |pending| {
            fixture
                .messages
                .iter()
                .any(|m| m.sender == sender && m.pending == pending)
        };
        assert!(of(true) && of(false), "sender {sender}");
    }
    // Every held-back message decrypts, once, as its sender's; a delivered
    // one, or one named as another sender's, does not.
    for m in &fixture.messages {
        for named in 0..3u8 {
            let input = [&[named][..], &m.bytes].concat();
            let expected = m.pending && usize::from(named) == m.sender;
            let mut state = cliquet::GroupSession::from_stored(&fixture.state).expect("loads");
            let message = cliquet::GroupMessage::decode(&m.bytes).expect("decodes");
            assert_eq!(
                state
                    .decrypt(&fixture.senders[usize::from(named)], &message)
                    .is_ok(),
                expected,
                "{m:?} named as {named}'s"
            );
            assert!(group::group_decrypt(&input));
        }
    }
}

/// The campaign of 5 December 2026 (`load_user_record`) found a person
/// record whose nested session record is of format version 2: it loads and
/// is stored in today's version, so the check compares the upgraded bytes
/// with themselves, not with the input.
#[test]
fn campaign_person_record_with_an_older_nested_record_upgrades() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/load_user_record/campaign-nested-record-v2");
    let data = fs::read(seed).expect("committed seed");
    let record = cliquet::PersonRecord::from_stored(&data).expect("loads");
    let stored = record.to_stored();
    assert_ne!(*stored, *data, "the nested record was upgraded");
    assert!(users::load_user_record(&data));
}
