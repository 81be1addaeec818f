//! Session records (issue 7): one named test per scenario, and a property
//! test over random event sequences for two devices that ends with both
//! able to talk again.
//!
//! Tests are named after the rules of `SessionRecord`'s docs
//! (`src/record.rs`): `receiving_…` (routing, and failures that change
//! nothing), `rule1_…` to `rule4_…` ("Which session is current"),
//! `bounded_cost_…`, `recovery_…` (the steps of "Recovery" and the notice),
//! and `s7_…` for the stored form.
//!
//! Cases default to a quick run; `PROPTEST_CASES=2000 cargo test --release
//! --test records` runs a heavy one. `CLIQUET_BLESS=1 cargo test --test
//! records` writes the record golden files of today's format version that
//! are missing; it never overwrites one (`common::golden`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core,
    reason = "tests: a failed expectation is a failed test; small test values"
)]

mod common;

use cliquet::{
    Account, AnyMessage, DecodeError, DecryptionFailure, Error, RatchetMessage, SessionConfig,
    SessionId, SessionRecord, StateError,
};
use common::devices::Devices;
use common::golden;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Both sides start a session from each other's bundle and each sends
/// `count` prekey messages; returns (Alice's, Bob's) and their session ids.
fn simultaneous(
    p: &mut Devices,
    count: usize,
) -> (Vec<AnyMessage>, Vec<AnyMessage>, SessionId, SessionId) {
    let a_id = p.start(true);
    let b_id = p.start(false);
    let from_alice = (0..count).map(|_| p.send(true, b"from alice")).collect();
    let from_bob = (0..count).map(|_| p.send(false, b"from bob")).collect();
    (from_alice, from_bob, a_id, b_id)
}

/// The seeds used for scenarios that depend on which id is smaller; both
/// orders occur among them (checked by `rule1_seeds_cover_both_tie_break_outcomes`).
const SEEDS: [u8; 6] = [1, 2, 3, 4, 5, 6];

#[test]
fn rule1_seeds_cover_both_tie_break_outcomes() {
    let outcomes: Vec<bool> = SEEDS
        .iter()
        .map(|&seed| {
            let mut p = Devices::new(seed);
            let (_, _, a, b) = simultaneous(&mut p, 0);
            a < b
        })
        .collect();
    assert!(outcomes.contains(&true) && outcomes.contains(&false));
}

#[test]
fn rule1_simultaneous_initiation_the_smaller_id_wins_on_both_sides() {
    for seed in SEEDS {
        for alice_first in [true, false] {
            let mut p = Devices::new(seed);
            let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 1);
            if alice_first {
                assert_eq!(p.deliver(true, &to_bob[0]).unwrap(), b"from alice");
                assert_eq!(p.deliver(false, &to_alice[0]).unwrap(), b"from bob");
            } else {
                assert_eq!(p.deliver(false, &to_alice[0]).unwrap(), b"from bob");
                assert_eq!(p.deliver(true, &to_bob[0]).unwrap(), b"from alice");
            }
            // The smaller id wins on both sides; the loser is kept archived.
            let winner = a_id.min(b_id);
            assert_eq!(p.alice.current(), Some(winner));
            assert_eq!(p.bob.current(), Some(winner));
            assert!(p.alice.record.contains(&a_id.max(b_id)));
            assert_eq!(p.bob.record.archived().len(), 1);
            p.round_trip();
            assert_eq!(p.alice.current(), Some(winner));
        }
    }
}

#[test]
fn rule1_simultaneous_initiation_messages_cross_after_the_window() {
    // Both send again before anything arrives; then everything is delivered
    // in every one of the orders below.
    for seed in SEEDS {
        for order in 0..4u8 {
            let mut p = Devices::new(seed);
            let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 2);
            let mut steps: Vec<(bool, &AnyMessage)> = vec![
                (true, &to_bob[0]),
                (false, &to_alice[0]),
                (true, &to_bob[1]),
                (false, &to_alice[1]),
            ];
            steps.rotate_left(usize::from(order));
            if order % 2 == 1 {
                steps.reverse();
            }
            for (from_alice, m) in steps {
                p.deliver(from_alice, m).unwrap();
            }
            assert_eq!(p.alice.current(), Some(a_id.min(b_id)));
            assert_eq!(p.bob.current(), Some(a_id.min(b_id)));
            // Replies cross too.
            let m_a = p.send(true, b"a");
            let m_b = p.send(false, b"b");
            p.deliver(false, &m_b).unwrap();
            p.deliver(true, &m_a).unwrap();
            assert!(p.same_session());
            p.round_trip();
        }
    }
}

/// Every arrival pattern of the window's four prekey messages (two each
/// way): each lost or delivered, the delivered ones in every order.
fn arrival_patterns() -> Vec<Vec<usize>> {
    fn extend(prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(prefix.clone());
        for m in 0..4 {
            if !prefix.contains(&m) {
                prefix.push(m);
                extend(prefix, out);
                prefix.pop();
            }
        }
    }
    let mut out = Vec::new();
    extend(&mut Vec::new(), &mut out);
    out
}

#[test]
fn rule1_simultaneous_initiation_converges_after_one_round_trip_whatever_arrives() {
    let patterns = arrival_patterns();
    assert_eq!(patterns.len(), 65);
    for seed in [1, 2] {
        for pattern in &patterns {
            for alice_starts in [true, false] {
                let mut p = Devices::new(seed);
                let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 2);
                for &m in pattern {
                    let from_alice = m < 2;
                    let message = if from_alice {
                        &to_bob[m]
                    } else {
                        &to_alice[m - 2]
                    };
                    p.deliver(from_alice, message).unwrap();
                }
                // One round trip, either side first.
                let m = p.send(alice_starts, b"one");
                p.deliver(alice_starts, &m).unwrap();
                let m = p.send(!alice_starts, b"two");
                p.deliver(!alice_starts, &m).unwrap();
                assert!(p.same_session(), "seed {seed} pattern {pattern:?}");
                // Whatever got lost, the smaller id won wherever both were
                // seen; both sides keep talking.
                if pattern.iter().any(|&m| m < 2) && pattern.iter().any(|&m| m >= 2) {
                    assert_eq!(p.alice.current(), Some(a_id.min(b_id)));
                }
                p.round_trip();
            }
        }
    }
}

#[test]
fn rule1_simultaneous_initiation_with_lost_prekey_message() {
    for seed in SEEDS {
        for lost_alices in [true, false] {
            let mut p = Devices::new(seed);
            let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 1);
            // One side's prekey message is lost; the other's arrives.
            if lost_alices {
                p.deliver(false, &to_alice[0]).unwrap();
            } else {
                p.deliver(true, &to_bob[0]).unwrap();
            }
            // Each side sends one more message and both arrive.
            let m_a = p.send(true, b"again from alice");
            let m_b = p.send(false, b"again from bob");
            assert_eq!(p.deliver(true, &m_a).unwrap(), b"again from alice");
            assert_eq!(p.deliver(false, &m_b).unwrap(), b"again from bob");
            assert!(p.same_session());
            assert_eq!(p.alice.current(), Some(a_id.min(b_id)));
            p.round_trip();
        }
    }
}

#[test]
fn rule1_simultaneous_initiation_with_lost_normal_message() {
    for seed in SEEDS {
        let mut p = Devices::new(seed);
        let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 1);
        p.deliver(true, &to_bob[0]).unwrap();
        p.deliver(false, &to_alice[0]).unwrap();
        // The winner's responder answers first; that answer is lost.
        let responder_is_alice = b_id < a_id;
        let _lost = p.send(responder_is_alice, b"lost");
        // The initiator, still unacknowledged, sends another prekey message.
        let m = p.send(!responder_is_alice, b"still there?");
        assert!(matches!(m, AnyMessage::PreKey(_)));
        assert_eq!(p.deliver(!responder_is_alice, &m).unwrap(), b"still there?");
        p.round_trip();
        assert_eq!(p.alice.current(), Some(a_id.min(b_id)));
    }
}

#[test]
fn rule1_simultaneous_initiation_with_repeated_prekey_messages() {
    for seed in SEEDS {
        let mut p = Devices::new(seed);
        let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 2);
        for m in &to_bob {
            p.deliver(true, m).unwrap();
        }
        for m in &to_alice {
            p.deliver(false, m).unwrap();
        }
        p.round_trip();
        // Every prekey message again, late: duplicates, and nothing moves.
        // (Duplicate where the session still knows the chain, else
        // Authentication: SPEC §4), and no notice is due for any of them.
        for m in to_bob.iter().chain(&to_alice) {
            let from_alice = to_bob.contains(m);
            let error = p.deliver(from_alice, m).unwrap_err();
            assert!(matches!(error, Error::Duplicate | Error::Authentication));
            // A notice about it would name the session, but the sender's
            // session is acknowledged, so it would be ignored.
            if let Some(notice) = p.notice(from_alice, m, &error) {
                assert!(!p.on_notice(from_alice, &notice));
            }
        }
        assert_eq!(p.alice.current(), Some(a_id.min(b_id)));
        assert!(p.same_session());
        p.round_trip();
    }
}

#[test]
fn rule1_loser_prekey_message_first_seen_after_the_winner_was_acknowledged() {
    // The loser's prekey message reaches the winner's initiator only after
    // the winner was acknowledged: it is accepted (a new session to that
    // side) and, after one round trip, both are back on the same session.
    for seed in SEEDS {
        let mut p = Devices::new(seed);
        let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 1);
        let alice_wins = a_id < b_id;
        // The winner's initiator is `w`; its prekey message reaches the peer.
        let (w_msgs, l_msgs) = if alice_wins {
            (&to_bob, &to_alice)
        } else {
            (&to_alice, &to_bob)
        };
        p.deliver(alice_wins, &w_msgs[0]).unwrap();
        let reply = p.send(!alice_wins, b"reply");
        p.deliver(!alice_wins, &reply).unwrap();
        // Now the loser's prekey message arrives.
        let expected: &[u8] = if alice_wins {
            b"from bob"
        } else {
            b"from alice"
        };
        assert_eq!(p.deliver(!alice_wins, &l_msgs[0]).unwrap(), expected);
        let m = p.send(!alice_wins, b"x");
        p.deliver(!alice_wins, &m).unwrap();
        let m = p.send(alice_wins, b"y");
        p.deliver(alice_wins, &m).unwrap();
        p.round_trip();
        assert_eq!(p.alice.current(), Some(a_id.min(b_id)));
    }
}

/// Rule 2: while the current session is this side's unanswered
/// initiation, a normal message that an archived session decrypts does not
/// promote that session. Without the initiation, the same message does.
#[test]
fn rule2_waiting_for_an_answer_a_normal_message_on_an_archived_session_does_not_promote_it() {
    for waiting in [true, false] {
        let mut p = Devices::new(22);
        let first = p.start(true);
        let m = p.send(true, b"hello");
        p.deliver(true, &m).unwrap();
        p.round_trip();
        // Bob sends on the first session; the message is delayed.
        let delayed = p.send(false, b"delayed on the first session");
        // Bob moves to a second session: Alice archives the first (replaced).
        let second = p.start(false);
        let m = p.send(false, b"second");
        p.deliver(false, &m).unwrap();
        p.round_trip();
        assert_eq!(p.alice.current(), Some(second));
        let third = waiting.then(|| p.start(true));
        if let Some(third) = third {
            assert!(!p.alice.record.current().unwrap().is_acknowledged());
            assert_eq!(p.alice.current(), Some(third));
        }
        assert_eq!(
            p.deliver(false, &delayed).unwrap(),
            b"delayed on the first session"
        );
        if let Some(third) = third {
            // Rule 2: Alice keeps waiting for Bob's answer on her session.
            assert_eq!(p.alice.current(), Some(third));
            assert!(p.alice.record.contains(&first));
            let m = p.send(true, b"third");
            assert!(matches!(m, AnyMessage::PreKey(_)));
            assert_eq!(p.deliver(true, &m).unwrap(), b"third");
            p.round_trip();
            assert_eq!(p.bob.current(), Some(third));
        } else {
            // Not waiting: the session that decrypted it becomes current.
            assert_eq!(p.alice.current(), Some(first));
        }
    }
}

/// Rule 3: late prekey messages of a session that lost the tie-break
/// decrypt but do not promote it (the peer sent them before it learned the
/// outcome).
#[test]
fn rule3_late_prekey_messages_of_a_tie_break_loser_do_not_promote_it() {
    for seed in SEEDS {
        let mut p = Devices::new(seed);
        let (to_bob, to_alice, a_id, b_id) = simultaneous(&mut p, 2);
        p.deliver(true, &to_bob[0]).unwrap();
        p.deliver(false, &to_alice[0]).unwrap();
        let (winner, loser) = (a_id.min(b_id), a_id.max(b_id));
        assert_eq!(
            (p.alice.current(), p.bob.current()),
            (Some(winner), Some(winner))
        );
        // The loser's second prekey message reaches the side that did not
        // start it, where the loser is archived.
        let (late, to_alice_side) = if loser == a_id {
            (&to_bob[1], false)
        } else {
            (&to_alice[1], true)
        };
        let AnyMessage::PreKey(prekey) = late else {
            panic!("a prekey message")
        };
        assert_eq!(prekey.session_id(), loser);
        let receiver = if to_alice_side { &p.alice } else { &p.bob };
        let archived = receiver.record.archived().len();
        let from_alice = !to_alice_side;
        assert_eq!(
            p.deliver(from_alice, late).unwrap(),
            if from_alice {
                &b"from alice"[..]
            } else {
                b"from bob"
            }
        );
        let receiver = if to_alice_side { &p.alice } else { &p.bob };
        assert_eq!(receiver.current(), Some(winner));
        assert!(receiver.record.contains(&loser));
        assert_eq!(receiver.record.archived().len(), archived);
        p.round_trip();
        assert_eq!(p.alice.current(), Some(winner));
    }
}

#[test]
fn receiving_a_delayed_message_decrypts_from_an_archived_session() {
    let mut p = Devices::new(9);
    let first = p.start(true);
    let m = p.send(true, b"hello");
    p.deliver(true, &m).unwrap();
    p.round_trip();
    // Bob sends on the first session; the message is delayed.
    let delayed = p.send(false, b"late");
    // Bob starts a new session (say, his app decided to); Alice follows.
    let second = p.start(false);
    let m = p.send(false, b"new session");
    assert_eq!(p.deliver(false, &m).unwrap(), b"new session");
    assert_eq!(p.alice.current(), Some(second));
    p.round_trip();
    assert_eq!(p.alice.current(), Some(second));
    assert!(p.alice.record.contains(&first));
    // The delayed message still decrypts, from the archive.
    assert_eq!(p.deliver(false, &delayed).unwrap(), b"late");
    assert_eq!(p.deliver(false, &delayed), Err(Error::Duplicate));
    // After one round trip both are on Bob's new session.
    p.round_trip();
    assert_eq!(p.alice.current(), Some(second));
    assert_eq!(p.bob.current(), Some(second));
}

#[test]
fn rule4_session_replaced_by_start_new_decrypts_delayed_messages_and_stays_archived() {
    let mut p = Devices::new(10);
    let first = p.start(true);
    let m = p.send(true, b"hello");
    p.deliver(true, &m).unwrap();
    p.round_trip();
    let delayed = p.send(false, b"late");
    // Alice replaces the session herself: the old one is retired.
    let second = p.start(true);
    let m = p.send(true, b"new");
    p.deliver(true, &m).unwrap();
    p.round_trip();
    assert_eq!(p.deliver(false, &delayed).unwrap(), b"late");
    assert_eq!(p.alice.current(), Some(second));
    assert_ne!(first, second);
    p.round_trip();
}

/// Rule 4, second case: a session the peer reported broken (a
/// decryption-failure notice) still decrypts delayed messages, but is not
/// promoted by them: the record still needs a new session.
#[test]
fn rule4_session_reported_broken_decrypts_delayed_messages_and_stays_abandoned() {
    let mut p = Devices::new(23);
    let first = p.start(true);
    let m = p.send(true, b"hello");
    p.deliver(true, &m).unwrap();
    p.round_trip();
    let delayed = p.send(false, b"delayed");
    // Bob loses his record; Alice learns it from his notice.
    p.bob.record = SessionRecord::new();
    let m = p.send(true, b"lost");
    let error = p.deliver(true, &m).unwrap_err();
    let notice = p.notice(true, &m, &error).unwrap();
    assert!(p.on_notice(true, &notice));
    assert_eq!(p.alice.current(), None);
    assert_eq!(p.deliver(false, &delayed).unwrap(), b"delayed");
    assert_eq!(
        p.alice.current(),
        None,
        "an abandoned session is not promoted"
    );
    assert!(p.alice.record.contains(&first));
    assert!(p.alice.record.needs_new_session());
}

/// Receiving: a prekey message goes to the session with its id, archived
/// ones included, before any prekey lookup (its one-time prekey is gone, so
/// accepting it again would fail).
#[test]
fn receiving_a_prekey_message_is_routed_to_its_archived_session_by_id() {
    let mut p = Devices::new(24);
    let first = p.start(true);
    let one = p.send(true, b"one");
    let two = p.send(true, b"two");
    assert!(matches!(two, AnyMessage::PreKey(_)));
    p.deliver(true, &one).unwrap();
    assert_eq!(p.bob.current(), Some(first));
    // Bob replaces the session before Alice's second prekey message arrives.
    let second = p.start(false);
    let archived = p.bob.record.archived().len();
    let opks = p.bob.account.one_time_prekey_count();
    assert_eq!(p.deliver(true, &two).unwrap(), b"two");
    // Bob's new session awaits an answer: the routed prekey message
    // promotes its archived session only if it wins the tie-break (rule 1).
    let winner = if first < second { first } else { second };
    assert_eq!(p.bob.current(), Some(winner), "rule 1: the smaller id");
    assert_eq!(p.bob.record.archived().len(), archived);
    assert_eq!(p.bob.account.one_time_prekey_count(), opks);
    // What routing avoided: accepting it anew finds no one-time prekey.
    let mut bob = Account::from_bytes(&p.bob.account.to_bytes()).unwrap();
    let AnyMessage::PreKey(two) = two else {
        panic!("a prekey message")
    };
    assert_eq!(bob.accept(&two, p.config).err(), Some(Error::UnknownPreKey));
}

#[test]
fn recovery_peer_lost_its_state_and_starts_over_and_a_late_notice_is_ignored() {
    for seed in SEEDS {
        let mut p = Devices::new(seed);
        p.start(true);
        let m = p.send(true, b"hello");
        p.deliver(true, &m).unwrap();
        p.round_trip();
        let old = p.alice.current().unwrap();
        // Alice writes while Bob is reinstalling: lost to him.
        let unread = p.send(true, b"unread");
        // Bob lost his record (not his account) and starts over.
        p.bob.record = SessionRecord::new();
        let error = p.deliver(true, &unread).unwrap_err();
        assert_eq!(error, Error::Authentication);
        let notice = p.notice(true, &unread, &error).unwrap();
        let m = p.send(false, b"it's me again");
        assert!(matches!(m, AnyMessage::PreKey(_)));
        assert_eq!(p.deliver(false, &m).unwrap(), b"it's me again");
        let new = p.bob.current().unwrap();
        assert_eq!(p.alice.current(), Some(new));
        assert!(p.alice.record.contains(&old));
        // The notice arrives after Alice moved on: it names the old session's
        // ratchet key, not the current one, and is ignored.
        assert!(!p.on_notice(true, &notice));
        assert_eq!(p.alice.current(), Some(new));
        p.round_trip();
    }
}

#[test]
fn receiving_every_failure_leaves_account_and_record_unchanged() {
    let mut p = Devices::new(11);
    // Bob's record already holds a current and an archived session.
    for _ in 0..2 {
        p.start(true);
        let m = p.send(true, b"hi");
        p.deliver(true, &m).unwrap();
    }
    assert_eq!(p.bob.record.archived().len(), 1);
    p.start(true);
    let AnyMessage::PreKey(good) = p.send(true, b"secret") else {
        panic!("a prekey message")
    };
    let opks = p.bob.account.one_time_prekey_count();
    // Tampered ciphertext: a new session would be created, but the message
    // does not authenticate. `receive` checks account and record are intact.
    let mut bytes = good.to_bytes();
    *bytes.last_mut().unwrap() ^= 1;
    let tampered = AnyMessage::decode(&bytes).unwrap();
    assert_eq!(p.deliver(true, &tampered), Err(Error::Authentication));
    assert_eq!(p.bob.account.one_time_prekey_count(), opks);
    // A prekey message from another identity is refused before any prekey
    // lookup, and changes nothing either.
    let mut mallory = Devices::new(12);
    let (id, _) = p.bob.account.generate_one_time_prekeys(1, &mut p.rng)[0];
    let bundle = p.bob.account.bundle(Some(id)).unwrap().verify().unwrap();
    mallory
        .alice
        .record
        .start_new(
            mallory.alice.account.identity(),
            &bundle,
            p.config,
            &mut p.rng,
        )
        .unwrap();
    let foreign = mallory.alice.record.encrypt(b"x", &mut p.rng).unwrap();
    let mallory_key = *mallory.alice.account.identity_key();
    assert_eq!(
        p.deliver(true, &foreign),
        Err(Error::IdentityChanged(mallory_key))
    );
    // The untouched message still works afterwards, exactly once.
    let good = AnyMessage::PreKey(good);
    assert_eq!(p.deliver(true, &good).unwrap(), b"secret");
    assert_eq!(p.bob.account.one_time_prekey_count(), opks);
    assert_eq!(p.deliver(true, &good), Err(Error::Duplicate));
    // A normal message no session can read changes nothing either.
    p.round_trip();
    let AnyMessage::Ratchet(RatchetMessage::Plain(m)) = p.send(true, b"z") else {
        panic!("a normal message")
    };
    let mut bytes = m.as_bytes().to_vec();
    bytes[50] ^= 1;
    assert_eq!(
        p.deliver(true, &AnyMessage::decode(&bytes).unwrap()),
        Err(Error::Authentication)
    );
}

#[test]
fn bounded_cost_archive_never_exceeds_its_limits_and_evicts_oldest_first() {
    let mut p = Devices::new(13);
    p.bob.record = SessionRecord::with_limits(3, 10).unwrap();
    p.alice.record = SessionRecord::with_limits(3, 10).unwrap();
    for i in 0..8u32 {
        p.start(true);
        // Four messages, only the last delivered: three skipped keys each.
        let mut last = None;
        for _ in 0..4 {
            last = Some(p.send(true, b"m"));
        }
        p.deliver(true, &last.unwrap()).unwrap();
        let archived: Vec<usize> = p.bob.record.archived().map(|s| s.skipped_keys()).collect();
        assert!(archived.len() <= 3);
        assert_eq!(archived.len(), (i as usize).min(3));
        assert!(archived.iter().sum::<usize>() <= 10);
        // Eviction starts with the oldest: the newest archived keeps its keys.
        if let Some(newest) = archived.first() {
            assert_eq!(*newest, 3);
        }
        assert!(p.alice.record.archived().len() <= 3);
        // And the stored record loads back identical.
        let stored = p.bob.record.to_bytes();
        assert_eq!(
            SessionRecord::from_bytes(&stored).unwrap().to_bytes(),
            stored
        );
    }
    assert_eq!(
        SessionRecord::with_limits(SessionRecord::LIMIT_MAX_ARCHIVED + 1, 0).unwrap_err(),
        Error::InvalidConfig(cliquet::ConfigError::MaxArchivedAboveLimit)
    );
    // The detail names the limit that was broken (both broken: the first).
    assert_eq!(
        SessionRecord::with_limits(5000, 10).unwrap_err(),
        Error::InvalidConfig(cliquet::ConfigError::MaxArchivedAboveLimit)
    );
    assert_eq!(
        SessionRecord::with_limits(10, SessionConfig::LIMIT_MAX_SKIPPED_KEYS + 1).unwrap_err(),
        Error::InvalidConfig(cliquet::ConfigError::MaxArchivedSkippedKeysAboveLimit)
    );
    // A zero limit keeps nothing archived.
    p.bob.record = SessionRecord::with_limits(0, 0).unwrap();
    p.start(true);
    let m = p.send(true, b"m");
    p.deliver(true, &m).unwrap();
    p.start(true);
    let m = p.send(true, b"m");
    p.deliver(true, &m).unwrap();
    assert_eq!(p.bob.record.archived().len(), 0);
}

#[test]
fn recovery_steps_1_to_3_after_a_decryption_failure_notice() {
    for header_encryption in [false, true] {
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let mut p = Devices::with_config(14, config);
        p.start(true);
        let m = p.send(true, b"hello");
        p.deliver(true, &m).unwrap();
        p.round_trip();
        // Bob loses his record; Alice's messages can no longer be read.
        p.bob.record = SessionRecord::new();
        let m = p.send(true, b"lost");
        let error = p.deliver(true, &m).unwrap_err();
        let notice = p.notice(true, &m, &error).expect("a notice");
        let notice = DecryptionFailure::decode(&notice.to_bytes()).unwrap();
        assert_eq!(notice.session_id(), None);
        assert_eq!(notice.ratchet_key().is_some(), !header_encryption);
        assert_eq!(notice.encrypted_header().is_some(), header_encryption);
        // Alice's record retires the session; the next message starts anew.
        assert!(p.on_notice(true, &notice));
        assert!(p.alice.record.needs_new_session());
        assert_eq!(
            p.alice.record.encrypt(b"nothing", &mut p.rng),
            Err(Error::NoSession)
        );
        assert!(!p.on_notice(true, &notice));
        let m = p.send(true, b"fresh start");
        assert!(matches!(m, AnyMessage::PreKey(_)));
        assert_eq!(p.deliver(true, &m).unwrap(), b"fresh start");
        p.round_trip();
    }
}

#[test]
fn recovery_when_a_prekey_message_names_a_used_one_time_prekey() {
    let mut p = Devices::new(15);
    p.start(true);
    let m = p.send(true, b"hello");
    // Bob accepts it (using up the one-time prekey), then loses his record
    // but not his account.
    p.deliver(true, &m).unwrap();
    p.bob.record = SessionRecord::new();
    let m = p.send(true, b"again");
    let error = p.deliver(true, &m).unwrap_err();
    assert_eq!(error, Error::UnknownPreKey);
    let notice = p.notice(true, &m, &error).unwrap();
    assert_eq!(notice.session_id(), p.alice.current().as_ref());
    assert!(p.on_notice(true, &notice));
    let m = p.send(true, b"new");
    assert_eq!(p.deliver(true, &m).unwrap(), b"new");
    p.round_trip();
}

#[test]
fn recovery_step1_notices_only_for_failures_no_session_could_read() {
    let mut p = Devices::new(16);
    p.start(true);
    let m = p.send(true, b"hello");
    p.deliver(true, &m).unwrap();
    let dup = p.deliver(true, &m).unwrap_err();
    assert_eq!(dup, Error::Duplicate);
    assert_eq!(p.notice(true, &m, &dup), None);
    assert_eq!(
        p.notice(true, &m, &Error::Malformed(DecodeError::Truncated)),
        None
    );
    let notice = p.notice(true, &m, &Error::Authentication).unwrap();
    let expected = DecryptionFailure::for_message(
        &m,
        p.bob.account.identity(),
        p.alice.account.identity_key(),
    );
    assert_eq!(notice, expected);
    assert_eq!(notice.to_bytes().len(), 3 + 32 + 32 + 64);
    assert_eq!(notice.session_id(), p.alice.current().as_ref());
    // Once Alice's session is acknowledged, a notice about one of its
    // prekey messages is about a late copy: ignored.
    p.round_trip();
    assert!(!p.on_notice(true, &notice));
    // A plain message on a chain Bob receives on, that fails: a corrupted
    // copy, no notice.
    let m = p.send(true, b"y");
    p.deliver(true, &m).unwrap();
    let AnyMessage::Ratchet(RatchetMessage::Plain(plain)) = p.send(true, b"z") else {
        panic!("a normal message")
    };
    let mut bytes = plain.as_bytes().to_vec();
    *bytes.last_mut().unwrap() ^= 1;
    let corrupted = AnyMessage::decode(&bytes).unwrap();
    let error = p.deliver(true, &corrupted).unwrap_err();
    assert_eq!(p.notice(true, &corrupted, &error), None);
    assert_eq!(
        p.deliver(true, &AnyMessage::Ratchet(RatchetMessage::Plain(plain)))
            .unwrap(),
        b"z"
    );
    // A notice for an archived session is ignored.
    let old = p.alice.current().unwrap();
    p.start(true);
    assert!(p.alice.record.contains(&old));
    let on_old = p.send(false, b"on the old session");
    let stale = SessionRecord::new()
        .decryption_failure(
            &on_old,
            &Error::Authentication,
            p.bob.account.identity(),
            p.alice.account.identity_key(),
        )
        .unwrap();
    assert!(!p.on_notice(true, &stale));
    assert!(!p.alice.record.needs_new_session());
}

#[test]
fn recovery_notice_wire_format() {
    let sig = [0x5a; 64];
    let with_sig = |body: &[u8]| [body, &sig].concat();
    let cases: [(Vec<u8>, DecodeError); 8] = [
        (vec![], DecodeError::Truncated),
        (with_sig(&[0x14, 0, 0]), DecodeError::BadKind),
        (vec![0x15, 0], DecodeError::Truncated),
        (with_sig(&[0x15, 2, 0]), DecodeError::BadFlag),
        (with_sig(&[0x15, 0, 3]), DecodeError::BadFlag),
        (vec![0x15, 0, 0, 0], DecodeError::Truncated),
        (with_sig(&[0x15, 0, 0, 0]), DecodeError::Trailing),
        (with_sig(&[0x15, 0, 2, 0]), DecodeError::Truncated),
    ];
    for (bytes, e) in cases {
        assert_eq!(
            DecryptionFailure::decode(&bytes),
            Err(Error::Malformed(e)),
            "{bytes:?}"
        );
    }
    // Session id and ratchet key: 131 bytes with the signature.
    let mut bytes = vec![0x15, 1];
    bytes.extend([9u8; 32]);
    bytes.push(1);
    bytes.extend([7u8; 32]);
    bytes.extend(sig);
    assert_eq!(bytes.len(), 131);
    let notice = DecryptionFailure::decode(&bytes).unwrap();
    assert_eq!(notice.session_id().unwrap().to_bytes(), [9; 32]);
    assert_eq!(notice.ratchet_key().unwrap().to_bytes(), [7; 32]);
    assert_eq!(notice.encrypted_header(), None);
    assert_eq!(notice.to_bytes(), bytes);
    // Not a message: the message decoder refuses the kind byte.
    assert_eq!(
        AnyMessage::decode(&bytes),
        Err(Error::Malformed(DecodeError::BadKind))
    );
    // An encrypted header: 135 bytes.
    let bytes = with_sig(&[&[0x15, 0, 2][..], &[5u8; 68]].concat());
    let notice = DecryptionFailure::decode(&bytes).unwrap();
    assert_eq!(notice.encrypted_header(), Some(&[5u8; 68]));
    assert_eq!((notice.session_id(), notice.ratchet_key()), (None, None));
    assert_eq!(notice.to_bytes(), bytes);
    assert_eq!(bytes.len(), DecryptionFailure::MAX_LEN - 32);
}

#[test]
fn s7_record_storage_round_trip_sealing_and_rejection() {
    let mut p = Devices::new(17);
    for _ in 0..3 {
        p.start(true);
        let m = p.send(true, b"m");
        p.deliver(true, &m).unwrap();
    }
    p.round_trip();
    let stored = p.bob.record.to_bytes();
    assert_eq!(stored[..2], [0x22, 3]);
    let loaded = SessionRecord::from_bytes(&stored).unwrap();
    assert_eq!(loaded.to_bytes(), stored);
    assert_eq!(loaded.archived().len(), 2);
    // The loaded record behaves as the original.
    p.bob.record = loaded;
    p.round_trip();

    let key = [5u8; 32];
    let sealed = p.bob.record.seal(&key, b"ctx", &mut p.rng).unwrap();
    assert_eq!(sealed[..2], [0x32, 3]);
    assert_eq!(
        SessionRecord::open(&sealed, &key, b"ctx")
            .unwrap()
            .to_bytes(),
        p.bob.record.to_bytes()
    );
    assert_eq!(
        SessionRecord::open(&sealed, &[6; 32], b"ctx").unwrap_err(),
        Error::State(StateError::Sealed)
    );
    let stored = p.bob.record.to_bytes();
    let session = p.bob.record.current().unwrap().to_bytes();
    assert_eq!(
        SessionRecord::from_bytes(&session).unwrap_err(),
        Error::State(StateError::WrongKind)
    );
    assert_eq!(
        SessionRecord::from_bytes(&[0x22, 4]).unwrap_err(),
        Error::State(StateError::UnsupportedVersion(4))
    );
    // Every truncation is an error; a trailing byte too.
    for len in 0..stored.len() {
        assert_eq!(
            SessionRecord::from_bytes(&stored[..len]).unwrap_err(),
            Error::State(StateError::Truncated),
            "len {len}"
        );
    }
    let mut long = stored.to_vec();
    long.push(0);
    assert_eq!(
        SessionRecord::from_bytes(&long).unwrap_err(),
        Error::State(StateError::Trailing)
    );
    // More archived sessions than the stored limit allows.
    let mut over = stored.to_vec();
    over[2..6].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        SessionRecord::from_bytes(&over).unwrap_err(),
        Error::State(StateError::Inconsistent)
    );
    // The same session twice.
    let mut record = SessionRecord::new();
    let bundle = p.alice.account.bundle(None).unwrap().verify().unwrap();
    record
        .start_new(p.bob.account.identity(), &bundle, p.config, &mut p.rng)
        .unwrap();
    let one = record.to_bytes();
    let session = record.current().unwrap().to_bytes();
    let mut twice = one[..one.len() - 4].to_vec();
    twice.extend(1u32.to_be_bytes());
    twice.push(0);
    twice.extend((session.len() as u32).to_be_bytes());
    twice.extend(session.iter());
    assert_eq!(
        SessionRecord::from_bytes(&twice).unwrap_err(),
        Error::State(StateError::Inconsistent)
    );
    // An empty record.
    let empty = SessionRecord::new().to_bytes();
    // kind, version, limits, no pinned key, not verified, no changed key,
    // no current session, no archived ones.
    assert_eq!(empty.len(), 2 + 8 + 1 + 1 + 1 + 1 + 4);
    assert!(
        SessionRecord::from_bytes(&empty)
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
    let (to_bob, to_alice, _, _) = simultaneous(&mut p, 1);
    p.deliver(true, &to_bob[0]).unwrap();
    p.deliver(false, &to_alice[0]).unwrap();
    p.round_trip();
    p.start(true);
    let m = p.send(true, b"fifth");
    p.deliver(true, &m).unwrap();
    p.round_trip();
    let stored = p.bob.record.to_bytes().to_vec();
    let mut set = golden::Set::of(&stored);
    set.state("record", "bin", stored);
    set.other("record", "msg", held.to_bytes());
    set.state(
        "record",
        "sealed",
        p.bob
            .record
            .seal(&golden::STORAGE_KEY, b"ctx", &mut p.rng)
            .unwrap(),
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
        let mut record = SessionRecord::from_bytes(&stored).expect("record");
        assert_eq!(record.archived().len(), 4);
        assert!(
            record.peer_identity_key().is_some(),
            "v{version} pins its peer"
        );
        // Stored again, it loads to the same state; in the writer's
        // version, byte for byte the file.
        let again = record.to_bytes();
        assert_eq!(SessionRecord::from_bytes(&again).unwrap().to_bytes(), again);
        if version == files.version {
            assert_eq!(*again, stored);
        }
        let current = record.current().map(|s| s.session_id());
        let sealed =
            SessionRecord::open(&golden::read(&name("sealed")), &golden::STORAGE_KEY, b"ctx")
                .expect("sealed");
        assert_eq!(sealed.to_bytes(), record.to_bytes());
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

#[test]
fn record_of_one_peer_refuses_another_identity() {
    let mut p = Devices::new(18);
    p.start(true);
    let mut rng = ChaCha20Rng::from_seed([99; 32]);
    let carol = Account::new(&mut rng);
    let bundle = carol.bundle(None).unwrap().verify().unwrap();
    let before = p.alice.record.to_bytes();
    let current = p.alice.current();
    assert_eq!(
        p.alice
            .record
            .start_new(p.alice.account.identity(), &bundle, p.config, &mut rng),
        Err(Error::IdentityChanged(*carol.identity_key()))
    );
    // No session was created; the record notes the new key, and sends
    // nothing until the application decides.
    assert_eq!(p.alice.current(), current);
    assert_eq!(p.alice.record.archived().len(), 0);
    assert_eq!(
        p.alice.record.changed_identity(),
        Some(carol.identity_key())
    );
    assert_eq!(
        p.alice.record.encrypt(b"queued", &mut rng).err(),
        Some(Error::IdentityChanged(*carol.identity_key()))
    );
    p.alice.record.refuse_identity_change();
    assert_eq!(p.alice.record.to_bytes(), before);
}

// --- Property test over random event sequences ---------------------------

#[derive(Clone, Debug)]
enum Event {
    /// A device sends (starting a session first if it has none).
    Send { alice: bool },
    /// A message in flight to a device arrives (any of them: reordering).
    Deliver { to_alice: bool, pick: usize },
    /// A message in flight is lost.
    Drop { to_alice: bool, pick: usize },
    /// A message that already arrived arrives again.
    Repeat { to_alice: bool, pick: usize },
    /// A device loses its record (keeps its account) and starts over.
    Reset { alice: bool },
    /// A device takes a backup of account and record.
    Backup { alice: bool },
    /// A device restores its last backup.
    Restore { alice: bool },
    /// A pending decryption-failure notice reaches a device.
    Notice { to_alice: bool },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        5 => any::<bool>().prop_map(|alice| Event::Send { alice }),
        5 => (any::<bool>(), any::<usize>()).prop_map(|(to_alice, pick)| Event::Deliver { to_alice, pick }),
        1 => (any::<bool>(), any::<usize>()).prop_map(|(to_alice, pick)| Event::Drop { to_alice, pick }),
        1 => (any::<bool>(), any::<usize>()).prop_map(|(to_alice, pick)| Event::Repeat { to_alice, pick }),
        1 => any::<bool>().prop_map(|alice| Event::Reset { alice }),
        1 => any::<bool>().prop_map(|alice| Event::Backup { alice }),
        1 => any::<bool>().prop_map(|alice| Event::Restore { alice }),
        2 => any::<bool>().prop_map(|to_alice| Event::Notice { to_alice }),
    ]
}

/// The network and the backups around a [`Devices`].
#[derive(Default)]
struct World {
    /// In flight, by receiver (index 0: to Bob, 1: to Alice).
    flight: [Vec<AnyMessage>; 2],
    arrived: [Vec<AnyMessage>; 2],
    notices: [Vec<DecryptionFailure>; 2],
    backups: [Option<(Vec<u8>, Vec<u8>)>; 2],
}

fn slot(to_alice: bool) -> usize {
    usize::from(to_alice)
}

impl World {
    /// A decrypt failed at the receiver: queue a notice for the sender.
    fn failed(&mut self, p: &Devices, to_alice: bool, message: &AnyMessage, error: &Error) {
        if let Some(notice) = p.notice(!to_alice, message, error) {
            self.notices[slot(!to_alice)].push(notice);
        }
    }

    fn apply(&mut self, p: &mut Devices, event: &Event) {
        match *event {
            Event::Send { alice } => {
                let m = p.send(alice, b"event");
                self.flight[slot(!alice)].push(m);
            }
            Event::Deliver { to_alice, pick } => {
                let queue = &mut self.flight[slot(to_alice)];
                if queue.is_empty() {
                    return;
                }
                let m = queue.remove(pick % queue.len());
                match p.deliver(!to_alice, &m) {
                    Ok(plaintext) => assert_eq!(plaintext, b"event"),
                    Err(e) => self.failed(p, to_alice, &m, &e),
                }
                self.arrived[slot(to_alice)].push(m);
            }
            Event::Drop { to_alice, pick } => {
                let queue = &mut self.flight[slot(to_alice)];
                if !queue.is_empty() {
                    queue.remove(pick % queue.len());
                }
            }
            Event::Repeat { to_alice, pick } => {
                let arrived = &self.arrived[slot(to_alice)];
                if arrived.is_empty() {
                    return;
                }
                let m = arrived[pick % arrived.len()].clone();
                if let Err(e) = p.deliver(!to_alice, &m) {
                    self.failed(p, to_alice, &m, &e);
                }
            }
            Event::Reset { alice } => p.devices(alice).0.record = SessionRecord::new(),
            Event::Backup { alice } => {
                self.backups[slot(alice)] = Some(p.devices(alice).0.state());
            }
            Event::Restore { alice } => {
                if let Some((account, record)) = &self.backups[slot(alice)] {
                    let device = p.devices(alice).0;
                    device.account = Account::from_bytes(account).unwrap();
                    device.record = SessionRecord::from_bytes(record).unwrap();
                }
            }
            Event::Notice { to_alice } => {
                if let Some(notice) = self.notices[slot(to_alice)].pop() {
                    let before = p.devices(to_alice).0.current();
                    let acted = p.on_notice(to_alice, &notice);
                    let after = p.devices(to_alice).0.current();
                    assert_eq!(acted, before.is_some() && after.is_none());
                }
            }
        }
    }

    /// After the events: what is in flight is lost, and the two devices
    /// talk in turns, handing notices over at once, until a round in which
    /// both send on the same session, each message decrypts, and that
    /// session is current on both sides. Returns the rounds it took.
    fn heal(&mut self, p: &mut Devices, max_rounds: usize) -> Option<usize> {
        for round in 0..max_rounds {
            let mut ok = true;
            let mut used = Vec::new();
            for alice in [true, false] {
                let m = p.send(alice, b"heal");
                used.push(p.devices(alice).0.current());
                match p.deliver(alice, &m) {
                    Ok(plaintext) => assert_eq!(plaintext, b"heal"),
                    Err(e) => {
                        ok = false;
                        if let Some(notice) = p.notice(alice, &m, &e) {
                            p.on_notice(alice, &notice);
                        }
                    }
                }
            }
            let current = p.alice.current();
            if ok && p.same_session() && used.iter().all(|id| *id == current) {
                return Some(round);
            }
        }
        None
    }
}

/// Runs `events` and heals; returns the rounds healing took.
fn replay(seed: u8, header_encryption: bool, events: &[Event]) -> Option<usize> {
    let config = SessionConfig::default().with_header_encryption(header_encryption);
    let mut p = Devices::with_config(seed, config);
    let mut world = World::default();
    for event in events {
        world.apply(&mut p, event);
    }
    let rounds = world.heal(&mut p, 10);
    p.round_trip();
    rounds
}

#[test]
fn recovery_peer_restores_a_backup_taken_before_its_session_was_answered() {
    // Found by the property test. Bob initiates and Alice answers; Bob
    // restores a backup from before the answer, so his session is again
    // waiting, with message numbers Alice already used: his new prekey
    // messages are duplicates to her. Her duplicate-prekey notice makes him
    // abandon it; they agree on a new session.
    use Event::{Backup, Deliver, Restore, Send};
    let events = [
        Send { alice: false },
        Deliver {
            to_alice: true,
            pick: 0,
        },
        Send { alice: false },
        Send { alice: false },
        Send { alice: true },
        Backup { alice: false },
        Send { alice: false },
        Send { alice: true },
        Deliver {
            to_alice: false,
            pick: 0,
        },
        Send { alice: true },
        Send { alice: false },
        Deliver {
            to_alice: true,
            pick: 3,
        },
        Send { alice: false },
        Restore { alice: false },
    ];
    let rounds = replay(163, false, &events).expect("heals");
    assert!(rounds <= 4, "{rounds} rounds");
}

#[test]
fn rule3_normal_message_on_a_tie_break_loser_promotes_it_after_the_peer_reset() {
    // Found by the property test. Alice and Bob initiate at once; Bob loses
    // his record and initiates again. Alice's tie-break chose Bob's first
    // session and then accepted his second; Bob's chose Alice's. Each then
    // decrypts the other's normal messages with a tie-break loser, and a
    // normal message (the peer chose that session) promotes it.
    use Event::{Deliver, Reset, Send};
    let events = [
        Send { alice: true },
        Send { alice: false },
        Reset { alice: false },
        Send { alice: false },
        Deliver {
            to_alice: true,
            pick: 0,
        },
        Deliver {
            to_alice: true,
            pick: 0,
        },
        Deliver {
            to_alice: false,
            pick: 0,
        },
    ];
    for header_encryption in [false, true] {
        let rounds = replay(206, header_encryption, &events).expect("heals");
        assert!(rounds <= 2, "{rounds} rounds");
    }
}

#[test]
fn recovery_step2_stale_notice_about_a_replaced_session_is_ignored() {
    // Found by the property test. Alice loses her record, so Bob's
    // header-encrypted messages on their old session fail and produce
    // notices; she starts a new session, which Bob accepts. The stale
    // notices then reach Bob: they carry the old chain's encrypted header,
    // which his current sending header key does not open, so his new
    // current session is kept (a notice naming nothing would have made him
    // abandon it and diverge from Alice).
    use Event::{Deliver, Drop, Notice, Reset, Send};
    let events = [
        Send { alice: true },
        Send { alice: false },
        Reset { alice: true },
        Deliver {
            to_alice: false,
            pick: 0,
        },
        Send { alice: false },
        Drop {
            to_alice: true,
            pick: 501_459_841_090_293_494,
        },
        Deliver {
            to_alice: true,
            pick: 0,
        },
        Send { alice: false },
        Deliver {
            to_alice: true,
            pick: 0,
        },
        Send { alice: true },
        Send { alice: true },
        Deliver {
            to_alice: false,
            pick: 0,
        },
        Send { alice: false },
        Notice { to_alice: false },
        Send { alice: false },
        Deliver {
            to_alice: true,
            pick: 10_032_594_634_884_439_087,
        },
        Deliver {
            to_alice: true,
            pick: 0,
        },
    ];
    let rounds = replay(134, true, &events).expect("heals");
    assert_eq!(rounds, 0);
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    #[test]
    fn two_devices_always_talk_again(
        seed in any::<u8>(),
        header_encryption in any::<bool>(),
        events in prop::collection::vec(event(), 0..48),
    ) {
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let mut p = Devices::with_config(seed, config);
        let mut world = World::default();
        for event in &events {
            world.apply(&mut p, event);
            prop_assert!(p.alice.record.archived().len() <= 40);
        }
        // 100,000 release cases needed at most 3 failed rounds before a
        // clean one (73% none, 27% one); allow 6.
        let rounds = world.heal(&mut p, 7);
        prop_assert!(rounds.is_some(), "did not converge within 6 failed rounds");
        // And from then on, every message decrypts.
        for _ in 0..2 {
            p.round_trip();
        }
    }
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    #[test]
    fn arbitrary_bytes_never_panic_the_record_and_notice_decoders(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        // Whatever is accepted is exactly what its encoder writes.
        if let Ok(notice) = DecryptionFailure::decode(&bytes) {
            prop_assert_eq!(notice.to_bytes(), bytes.clone());
        }
        for version in [1, 2] {
            let mut with_header = vec![0x22, version];
            with_header.extend(&bytes);
            for input in [&bytes, &with_header] {
                if let Ok(record) = SessionRecord::from_bytes(input) {
                    let stored = record.to_bytes();
                    if input.get(1) == Some(&3) {
                        prop_assert_eq!(&*stored, &input[..]);
                    }
                    let again = SessionRecord::from_bytes(&stored).unwrap().to_bytes();
                    prop_assert_eq!(again, stored);
                }
            }
        }
    }

    #[test]
    fn a_corrupted_stored_record_is_refused_or_loads_consistently(
        at in any::<usize>(),
        bit in 0u8..8,
    ) {
        for name in ["record_v1.bin", "record_v2.bin", "record_v3.bin"] {
            let stored = golden::read(name);
            let mut bytes = stored.clone();
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            // A flipped key byte still loads (keys are not checked at rest:
            // that is what sealing is for); anything that loads stores back
            // as read (an older version: in today's, stably).
            if let Ok(record) = SessionRecord::from_bytes(&bytes) {
                let again = record.to_bytes().to_vec();
                if bytes[1] == 3 {
                    prop_assert_eq!(&again, &bytes);
                }
                let reloaded = SessionRecord::from_bytes(&again).unwrap().to_bytes().to_vec();
                prop_assert_eq!(reloaded, again);
            }
        }
    }
}

#[test]
fn receiving_says_when_the_account_changed_and_needs_no_account_otherwise() {
    let mut p = Devices::new(31);
    p.start(true);
    let first = p.send(true, b"first");
    let second = p.send(true, b"second");
    let prekeys = p.bob.account.one_time_prekey_count();
    let d = p
        .bob
        .record
        .decrypt(&mut p.bob.account, &first, p.config)
        .unwrap();
    assert!(
        d.account_changed,
        "a session was created: a one-time prekey consumed"
    );
    assert_eq!(p.bob.account.one_time_prekey_count(), prekeys - 1);
    assert!(format!("{d:?}").contains("plaintext_len: 5"));
    let account = p.bob.account.to_bytes();
    let d = p
        .bob
        .record
        .decrypt(&mut p.bob.account, &second, p.config)
        .unwrap();
    assert!(!d.account_changed, "routed to its session");
    assert_eq!(p.bob.account.to_bytes(), account);
    let reply = p.send(false, b"reply");
    p.deliver(false, &reply).unwrap();
    // A Double Ratchet message needs no account at all.
    let m = p.send(true, b"plain");
    let AnyMessage::Ratchet(ratchet) = &m else {
        panic!("a normal message once acknowledged")
    };
    assert_eq!(p.bob.record.decrypt_ratchet(ratchet).unwrap(), b"plain");
    assert_eq!(p.bob.record.decrypt_ratchet(ratchet), Err(Error::Duplicate));
}
