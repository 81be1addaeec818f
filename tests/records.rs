//! Session records (SPEC §12 and §13): one named test per scenario.
//!
//! Tests are named after the rules of `SessionRecord`'s docs
//! (`src/record.rs`): `receiving_…` (routing, and failures that change
//! nothing), `rule1_…` to `rule4_…` ("Which session is current"),
//! `bounded_cost_…`, `recovery_…` (the steps of "Recovery" and the notice),
//! or the SPEC section (`s12_…`, `s13_…`). The property test over random
//! event sequences is `tests/properties/records.rs`; the stored form and
//! its golden files are `tests/storage.rs`.

use cliquet::{
    Account, AnyMessage, DecodeError, DecryptionFailure, Error, IdentityKeyPair, IgnoredNotice,
    NoticeOutcome, RatchetMessage, SessionConfig, SessionRecord,
};
use cliquet_testkit::devices::Devices;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// The seeds used for scenarios that depend on which id is smaller; both
/// orders occur among them (checked by `rule1_seeds_cover_both_tie_break_outcomes`).
const SEEDS: [u8; 6] = [1, 2, 3, 4, 5, 6];

#[test]
fn rule1_seeds_cover_both_tie_break_outcomes() {
    let outcomes: Vec<bool> = SEEDS
        .iter()
        .map(|&seed| {
            let mut p = Devices::new(seed);
            let (_, _, a, b) = p.simultaneous(0);
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
            let (to_bob, to_alice, a_id, b_id) = p.simultaneous(1);
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
            let (to_bob, to_alice, a_id, b_id) = p.simultaneous(2);
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
                let (to_bob, to_alice, a_id, b_id) = p.simultaneous(2);
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
            let (to_bob, to_alice, a_id, b_id) = p.simultaneous(1);
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
        let (to_bob, to_alice, a_id, b_id) = p.simultaneous(1);
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
        let (to_bob, to_alice, a_id, b_id) = p.simultaneous(2);
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
                assert!(!p.on_notice(from_alice, &notice).changed());
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
        let (to_bob, to_alice, a_id, b_id) = p.simultaneous(1);
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
        let (to_bob, to_alice, a_id, b_id) = p.simultaneous(2);
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
    p.second_notice_abandons(true, &notice);
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
    let mut bob = Account::from_stored(&p.bob.account.to_stored()).unwrap();
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
        assert!(!p.on_notice(true, &notice).changed());
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
    let mut bytes = good.encode();
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
        let stored = p.bob.record.to_stored();
        assert_eq!(
            SessionRecord::from_stored(&stored).unwrap().to_stored(),
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
        let notice = DecryptionFailure::decode(&notice.encode()).unwrap();
        assert_eq!(notice.session_id(), None);
        assert_eq!(notice.ratchet_key().is_some(), !header_encryption);
        assert_eq!(notice.encrypted_header().is_some(), header_encryption);
        // Alice's record retires the session; the next message starts anew.
        p.second_notice_abandons(true, &notice);
        assert!(p.alice.record.needs_new_session());
        assert_eq!(
            p.alice.record.encrypt(b"nothing", &mut p.rng),
            Err(Error::NoSession)
        );
        assert!(!p.on_notice(true, &notice).changed());
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
    p.second_notice_abandons(true, &notice);
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
    // A prekey message of a session Bob holds that fails: a corrupted copy
    // on a live session, no notice (SPEC §13).
    assert_eq!(p.notice(true, &m, &Error::Authentication), None);
    // Without the session (say Bob lost his record), the same failure is
    // reported, naming the session and the message.
    let lost = SessionRecord::new();
    let notice = lost
        .decryption_failure(
            &m,
            &Error::Authentication,
            p.bob.account.identity(),
            p.alice.account.identity_key(),
        )
        .unwrap();
    let expected = DecryptionFailure::for_message(
        &m,
        p.bob.account.identity(),
        p.alice.account.identity_key(),
    );
    assert_eq!(notice, expected);
    assert_eq!(notice.encode().len(), 3 + 32 + 32 + 4 + 64);
    assert_eq!(notice.session_id(), p.alice.current().as_ref());
    // Once Alice's session is acknowledged, a notice about one of its
    // prekey messages is about a late copy: ignored.
    p.round_trip();
    assert!(!p.on_notice(true, &notice).changed());
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
    assert!(!p.on_notice(true, &stale).changed());
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
    // Session id, ratchet key and message number: 135 bytes with the
    // signature.
    let mut bytes = vec![0x15, 1];
    bytes.extend([9u8; 32]);
    bytes.push(1);
    bytes.extend([7u8; 32]);
    bytes.extend(5u32.to_be_bytes());
    bytes.extend(sig);
    assert_eq!(bytes.len(), 135);
    let notice = DecryptionFailure::decode(&bytes).unwrap();
    assert_eq!(notice.session_id().unwrap().to_bytes(), [9; 32]);
    assert_eq!(notice.ratchet_key().unwrap().to_bytes(), [7; 32]);
    assert_eq!(notice.message_index(), Some(5));
    assert_eq!(notice.encrypted_header(), None);
    assert_eq!(notice.encode(), bytes);
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
    assert_eq!(notice.encode(), bytes);
    assert_eq!(bytes.len(), DecryptionFailure::MAX_LEN - 32);
}

#[test]
fn record_of_one_peer_refuses_another_identity() {
    let mut p = Devices::new(18);
    p.start(true);
    let mut rng = ChaCha20Rng::from_seed([99; 32]);
    let carol = Account::new(&mut rng);
    let bundle = carol.bundle(None).unwrap().verify().unwrap();
    let before = p.alice.record.to_stored();
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
    assert_eq!(p.alice.record.to_stored(), before);
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
    let account = p.bob.account.to_stored();
    let d = p
        .bob
        .record
        .decrypt(&mut p.bob.account, &second, p.config)
        .unwrap();
    assert!(!d.account_changed, "routed to its session");
    assert_eq!(p.bob.account.to_stored(), account);
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

#[test]
fn s12_an_empty_record_keeps_its_peer() {
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
    assert_eq!(
        d.bob.record.on_decryption_failure(&notice, &bob_key),
        NoticeOutcome::ResendRequested
    );
    let again = d.send(false, b"reply again");
    let notice = DecryptionFailure::for_message(&again, d.alice.account.identity(), &bob_key);
    assert_eq!(
        d.bob.record.on_decryption_failure(&notice, &bob_key),
        NoticeOutcome::Abandoned
    );
    assert!(d.bob.record.current().is_none() && d.bob.record.archived().len() == 0);
    d.bob.record = SessionRecord::from_stored(&d.bob.record.to_stored()).expect("loads");
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
fn s13_a_notice_counts_only_signed_by_the_peer_and_naming_the_current_chain() {
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
    let before = d.alice.record.to_stored();
    assert_eq!(
        d.alice.record.on_decryption_failure(&forged, &alice_key),
        NoticeOutcome::Ignored(IgnoredNotice::NotSignedByPeer)
    );
    let bob_key = *d.bob.account.identity_key();
    let misaddressed = DecryptionFailure::for_message(&unread, d.bob.account.identity(), &bob_key);
    assert!(
        !d.alice
            .record
            .on_decryption_failure(&misaddressed, &alice_key)
            .changed()
    );
    assert_eq!(d.alice.record.to_stored(), before);
    // A notice about Bob's own earlier reply's chain, which Alice moved past.
    let stale = DecryptionFailure::for_message(&hello, d.bob.account.identity(), &alice_key);
    assert_eq!(
        d.alice.record.on_decryption_failure(&stale, &alice_key),
        NoticeOutcome::Ignored(IgnoredNotice::NotCurrent)
    );
    // The genuine one, through its wire bytes, asks for a resend; a genuine
    // one about another message abandons the session (SPEC §13).
    let genuine = DecryptionFailure::for_message(&unread, d.bob.account.identity(), &alice_key);
    assert_eq!(genuine.verify(&bob_key, &alice_key), Ok(()));
    assert_eq!(
        genuine.verify(&alice_key, &bob_key),
        Err(Error::BadSignature)
    );
    let genuine = DecryptionFailure::decode(&genuine.encode()).expect("decodes");
    assert_eq!(
        d.alice.record.on_decryption_failure(&genuine, &alice_key),
        NoticeOutcome::ResendRequested
    );
    assert!(!d.alice.record.needs_new_session());
    let unread_too = d.send(true, b"lost state too");
    let second = DecryptionFailure::for_message(&unread_too, d.bob.account.identity(), &alice_key);
    assert_eq!(
        d.alice.record.on_decryption_failure(&second, &alice_key),
        NoticeOutcome::Abandoned
    );
    assert!(d.alice.record.needs_new_session());
}

/// Flips the last byte of a message (its tag): a copy altered in transit.
fn tampered(m: &AnyMessage) -> AnyMessage {
    let mut bytes = m.as_bytes().to_vec();
    *bytes.last_mut().unwrap() ^= 1;
    AnyMessage::decode(&bytes).unwrap()
}

/// SPEC §13: whoever can alter one message in transit cannot end a healthy
/// session. The first message of a new chain, altered, is one no session
/// of Bob's can read, so his record signs a genuine notice; Alice's record
/// takes it as a request to resend, keeps the session, and a copy of the
/// notice changes nothing. Both modes.
#[test]
fn s13_one_tampered_message_cannot_end_a_session() {
    for header_encryption in [false, true] {
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let mut p = Devices::with_config(41, config);
        p.start(true);
        let m = p.send(true, b"hello");
        p.deliver(true, &m).unwrap();
        p.round_trip();
        // Alice starts a new chain; its first message is altered.
        let genuine = p.send(true, b"new chain");
        let altered = tampered(&genuine);
        let error = p.deliver(true, &altered).unwrap_err();
        let notice = p
            .notice(true, &altered, &error)
            .expect("no session reads it");
        let before = p.alice.record.to_stored();
        assert_eq!(p.on_notice(true, &notice), NoticeOutcome::ResendRequested);
        assert!(!p.alice.record.needs_new_session());
        assert_ne!(p.alice.record.to_stored(), before, "the warning is stored");
        let reloaded = SessionRecord::from_stored(&p.alice.record.to_stored()).unwrap();
        assert_eq!(reloaded.to_stored(), p.alice.record.to_stored());
        // The replayed notice, however often, changes nothing.
        for _ in 0..3 {
            assert_eq!(
                p.on_notice(true, &notice),
                NoticeOutcome::Ignored(IgnoredNotice::Repeated)
            );
        }
        // The genuine message still arrives, and the session goes on.
        assert_eq!(p.deliver(true, &genuine).unwrap(), b"new chain");
        let resent = p.send(true, b"sent again");
        assert_eq!(p.deliver(true, &resent).unwrap(), b"sent again");
        p.round_trip();
        assert!(p.same_session());
        // The limit SPEC §13 states: a second altered message of the same
        // session, a new chain's first again, does end it.
        let next = p.send(true, b"later");
        let altered = tampered(&next);
        let error = p.deliver(true, &altered).unwrap_err();
        let notice = p
            .notice(true, &altered, &error)
            .expect("no session reads it");
        assert_eq!(p.on_notice(true, &notice), NoticeOutcome::Abandoned);
        assert!(p.alice.record.needs_new_session());
    }
}

/// SPEC §13: an altered copy of a prekey message of a session the
/// receiver holds is no reason for a notice, even while the sender still
/// sends prekey messages.
#[test]
fn s13_a_tampered_prekey_message_of_a_live_session_gets_no_notice() {
    for header_encryption in [false, true] {
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let mut p = Devices::with_config(42, config);
        p.start(true);
        let first = p.send(true, b"first");
        p.deliver(true, &first).unwrap();
        let second = p.send(true, b"second");
        assert!(matches!(second, AnyMessage::PreKey(_)));
        let altered = tampered(&second);
        let error = p.deliver(true, &altered).unwrap_err();
        assert_eq!(p.notice(true, &altered, &error), None);
        assert_eq!(p.deliver(true, &second).unwrap(), b"second");
    }
}

/// SPEC §13: the live-chain rule covers prekey messages of the current
/// session only. A prekey message that fails in an archived session still
/// gets a notice: its sender may have restored an old state (found by the
/// property test, which never healed without it).
#[test]
fn s13_a_failed_prekey_message_of_an_archived_session_gets_a_notice() {
    let mut p = Devices::new(43);
    p.start(true);
    let old = p.send(true, b"first session");
    p.deliver(true, &old).unwrap();
    // Held back: a prekey message of the first session that Bob has not
    // read yet, so an altered copy fails to authenticate (not duplicate).
    let held = p.send(true, b"held back");
    assert!(matches!(held, AnyMessage::PreKey(_)));
    // Alice starts over; Bob takes the new session, the old one is archived.
    p.start(true);
    let new = p.send(true, b"second session");
    p.deliver(true, &new).unwrap();
    assert_eq!(p.bob.record.archived().len(), 1);
    let altered = tampered(&held);
    let error = p.deliver(true, &altered).unwrap_err();
    assert_eq!(error, Error::Authentication);
    assert!(p.notice(true, &altered, &error).is_some());
    // The same failure on the current session's prekey message: none.
    let current = tampered(&new);
    let error = p.deliver(true, &current).unwrap_err();
    assert_eq!(p.notice(true, &current, &error), None);
}
