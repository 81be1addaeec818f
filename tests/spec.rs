//! One test per SPEC rule that the known-answer vectors do not pin on their
//! own, named after its section.

use cliquet::{
    Account, AnyMessage, DecodeError, Error, IdentityKeyPair, PreKeyMessage, RatchetMessage,
    Session, SessionConfig, SessionRecord, SignedPreKey,
};
use cliquet_testkit::rng::Recording;
use cliquet_testkit::{decrypt_checked, established, flipped, initiated, prekey};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn small(max_skip: u32, max_skipped_keys: u32) -> SessionConfig {
    SessionConfig::new(max_skip, max_skipped_keys).expect("valid config")
}

/// Re-encodes a prekey message with some bytes of its prefix replaced.
fn with_prefix_bytes(m: &PreKeyMessage, at: usize, bytes: &[u8]) -> AnyMessage {
    let mut encoded = m.encode();
    encoded[at..at + bytes.len()].copy_from_slice(bytes);
    AnyMessage::decode(&encoded).expect("still well-formed")
}

// §1 Keys

#[test]
fn s1_each_secret_is_one_32_byte_draw() {
    let mut rng = Recording::new(1);
    let mut account = Account::new(&mut rng);
    assert_eq!(
        rng.take(),
        [32, 32, 32, 32],
        "identity, signed prekey, then the KEM prekey's d and z"
    );
    let ids: Vec<u32> = account
        .generate_one_time_prekeys(3, &mut rng)
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(rng.take(), [32, 32, 32]);
    assert_eq!(ids, [1, 2, 3], "one-time prekeys are numbered from 1");
    assert_eq!(account.signed_prekey_id(), 1);
    assert_eq!(account.rotate_signed_prekey(&mut rng), 2);
    assert_eq!(rng.take(), [32]);
    let _ = IdentityKeyPair::generate(&mut rng);
    assert_eq!(rng.take(), [32]);
}

#[test]
fn s1_small_order_identity_key_in_prekey_message_is_rejected() {
    let (_, _, mut bob, _, first) = initiated(SessionConfig::default(), 2);
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    let forged = prekey(with_prefix_bytes(&first, 1, &identity_point));
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&forged, SessionConfig::default()).err(),
        Some(Error::InvalidKey)
    );
    assert_eq!(bob.to_stored(), before);
}

#[test]
fn s1_all_zero_ratchet_dh_is_rejected() {
    let mut p = established(SessionConfig::default(), 3);
    let m = p.a_to_b(b"x");
    let AnyMessage::Ratchet(RatchetMessage::Plain(m)) = m else {
        panic!("plain message expected")
    };
    // Small-order ratchet keys (0 and 1) give an all-zero X25519 output.
    for low_order in [[0u8; 32], {
        let mut k = [0u8; 32];
        k[0] = 1;
        k
    }] {
        let mut forged = m.as_bytes().to_vec();
        forged[1..33].copy_from_slice(&low_order);
        let forged = AnyMessage::decode(&forged).expect("well-formed");
        assert_eq!(
            decrypt_checked(&mut p.b, &forged).err(),
            Some(Error::InvalidKey)
        );
    }
    assert_eq!(
        p.b.decrypt(&AnyMessage::Ratchet(RatchetMessage::Plain(m)))
            .expect("genuine"),
        b"x"
    );
}

// §2 Bundle

#[test]
fn s2_bundle_names_only_held_one_time_prekeys() {
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let mut bob = Account::new(&mut rng);
    assert_eq!(bob.bundle(Some(1)).err(), Some(Error::UnknownPreKey));
    bob.generate_one_time_prekeys(1, &mut rng);
    let bundle = bob.bundle(Some(1)).expect("held");
    assert_eq!(bundle.encode().len(), 1807);
    assert_eq!(bob.bundle(None).expect("bundle").encode().len(), 1771);
    assert_eq!(
        bob.classic_bundle(Some(1)).expect("held").encode().len(),
        170
    );
    assert_eq!(
        bob.classic_bundle(None).expect("bundle").encode().len(),
        134
    );
}

// §3 X3DH

#[test]
fn s3_one_time_prekey_is_consumed_only_when_its_message_decrypts() {
    let (_, _, mut bob, _, first) = initiated(SessionConfig::default(), 5);
    let before = bob.to_stored();
    let tampered =
        AnyMessage::decode(&flipped(&AnyMessage::PreKey(first.clone()), 140, 0)).expect("decodes");
    let AnyMessage::PreKey(tampered) = tampered else {
        panic!("prekey message")
    };
    assert_eq!(
        bob.accept(&tampered, SessionConfig::default()).err(),
        Some(Error::Authentication)
    );
    assert_eq!(bob.to_stored(), before, "the one-time prekey is kept");
    assert_eq!(bob.one_time_prekey_count(), 1);
    bob.accept(&first, SessionConfig::default())
        .expect("genuine");
    assert_eq!(bob.one_time_prekey_count(), 0);
    // Accepting it again into a new session: the one-time prekey is gone.
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&first, SessionConfig::default()).err(),
        Some(Error::UnknownPreKey)
    );
    assert_eq!(bob.to_stored(), before);
}

#[test]
fn s3_unknown_signed_prekey_is_rejected_and_previous_one_has_a_grace_period() {
    let (mut rng, alice, mut bob, _, first) = initiated(SessionConfig::default(), 6);
    let old_bundle = bob
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let unknown = prekey(with_prefix_bytes(&first, 65, &99u32.to_be_bytes()));
    assert_eq!(
        bob.accept(&unknown, SessionConfig::default()).err(),
        Some(Error::UnknownPreKey)
    );
    bob.rotate_signed_prekey(&mut rng);
    assert_eq!(bob.bundle(None).expect("bundle").signed_prekey_id(), 2);
    let accepted = bob
        .accept(&first, SessionConfig::default())
        .expect("previous signed prekey still held");
    assert_eq!(accepted.plaintext, b"first");
    // A late initiation from the old bundle is refused once the grace period ends.
    let mut late = Session::initiate(
        alice.identity(),
        &old_bundle,
        SessionConfig::default(),
        &mut rng,
    )
    .expect("init");
    let late_first = prekey(late.encrypt(b"late", &mut rng).expect("enc"));
    bob.forget_previous_signed_prekey();
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&late_first, SessionConfig::default()).err(),
        Some(Error::UnknownPreKey)
    );
    assert_eq!(bob.to_stored(), before);
}

#[test]
fn s3_both_sides_agree_on_ids_and_identities() {
    let p = established(SessionConfig::default(), 7);
    assert_eq!(p.a.session_id(), p.b.session_id());
    assert_eq!(p.a.peer_identity_key(), p.bob.identity_key());
    assert_eq!(p.b.peer_identity_key(), p.alice.identity_key());
    assert!(p.a.is_initiator() && !p.b.is_initiator());
}

// §4 Double Ratchet

#[test]
fn s4_failed_decrypt_changes_nothing_and_the_next_message_decrypts() {
    for he in [false, true] {
        let mut p = established(SessionConfig::default().with_header_encryption(he), 8);
        let m = p.a_to_b(b"genuine");
        let len = m.encode().len();
        let mut refused = 0;
        for byte in 0..len {
            if let Ok(forged) = AnyMessage::decode(&flipped(&m, byte, (byte % 8) as u8)) {
                let r = decrypt_checked(&mut p.b, &forged);
                assert!(
                    matches!(
                        r,
                        Err(Error::Authentication | Error::TooManySkipped | Error::InvalidKey)
                    ),
                    "byte {byte} flipped: {r:?}"
                );
                refused += 1;
            }
        }
        // Only the kind byte makes another message type: every other
        // flipped byte reached the session and was refused there.
        assert_eq!(refused, len - 1, "header encryption {he}");
        assert_eq!(p.b.decrypt(&m).expect("genuine still decrypts"), b"genuine");
    }
}

#[test]
fn s4_a_message_decrypts_at_most_once() {
    let mut p = established(SessionConfig::default(), 9);
    let m0 = p.a_to_b(b"0");
    let m1 = p.a_to_b(b"1");
    let m2 = p.a_to_b(b"2");
    assert_eq!(p.b.decrypt(&m0).expect("m0"), b"0");
    assert_eq!(
        decrypt_checked(&mut p.b, &m0).err(),
        Some(Error::Duplicate),
        "current chain"
    );
    assert_eq!(p.b.decrypt(&m2).expect("m2"), b"2");
    assert_eq!(p.b.skipped_keys(), 1);
    assert_eq!(p.b.decrypt(&m1).expect("m1 from the skipped store"), b"1");
    assert_eq!(
        decrypt_checked(&mut p.b, &m1).err(),
        Some(Error::Duplicate),
        "skipped key used twice"
    );
    assert_eq!(p.b.skipped_keys(), 0);
}

#[test]
fn s4_prekey_message_replay_is_duplicate() {
    let (mut rng, _, mut bob, mut a, first) = initiated(SessionConfig::default(), 10);
    let second = a.encrypt(b"second", &mut rng).expect("encrypt");
    let mut b = bob
        .accept(&first, SessionConfig::default())
        .expect("accept")
        .session;
    assert_eq!(
        b.decrypt(&second).expect("routed to the session"),
        b"second"
    );
    assert_eq!(
        decrypt_checked(&mut b, &second).err(),
        Some(Error::Duplicate)
    );
    assert_eq!(
        decrypt_checked(&mut b, &AnyMessage::PreKey(first)).err(),
        Some(Error::Duplicate)
    );
}

#[test]
fn s4_max_skip_in_a_new_chain_is_exact() {
    for (n, ok) in [(3u32, true), (4, false)] {
        let mut p = established(small(3, 10), 11);
        let sent: Vec<AnyMessage> = (0..=n).map(|i| p.a_to_b(&[i as u8])).collect();
        let last = &sent[n as usize];
        let r = decrypt_checked(&mut p.b, last);
        if ok {
            assert_eq!(r.expect("exactly max_skip skipped"), [n as u8]);
            assert_eq!(p.b.skipped_keys(), 3);
        } else {
            assert_eq!(r.err(), Some(Error::TooManySkipped));
            assert_eq!(p.b.decrypt(&sent[0]).expect("nothing was lost"), [0]);
        }
    }
}

#[test]
fn s4_max_skip_in_the_current_chain_is_exact() {
    let mut p = established(small(3, 10), 12);
    let sent: Vec<AnyMessage> = (0..10u8).map(|i| p.a_to_b(&[i])).collect();
    p.b.decrypt(&sent[0]).expect("opens the chain");
    assert_eq!(
        decrypt_checked(&mut p.b, &sent[5]).err(),
        Some(Error::TooManySkipped),
        "gap 4"
    );
    assert_eq!(p.b.decrypt(&sent[4]).expect("gap 3"), [4]);
}

#[test]
fn s4_previous_chain_length_is_limited_too() {
    for (unread, ok) in [(3u8, true), (4, false)] {
        let mut p = established(small(3, 10), 13);
        let old: Vec<AnyMessage> = (0..=unread).map(|i| p.a_to_b(&[i])).collect();
        p.b.decrypt(&old[0]).expect("opens Alice's chain");
        let reply = p.b_to_a(b"r");
        p.a.decrypt(&reply).expect("Alice steps");
        let new = p.a_to_b(b"new chain");
        let r = decrypt_checked(&mut p.b, &new);
        if ok {
            assert_eq!(r.expect("PN - Nr = max_skip"), b"new chain");
            for (i, m) in old.iter().enumerate().skip(1) {
                assert_eq!(p.b.decrypt(m).expect("skipped across the step"), [i as u8]);
            }
        } else {
            assert_eq!(r.err(), Some(Error::TooManySkipped));
        }
    }
}

#[test]
fn s4_skipped_keys_are_evicted_oldest_first() {
    let mut p = established(small(5, 5), 14);
    let sent: Vec<AnyMessage> = (0..12u8).map(|i| p.a_to_b(&[i])).collect();
    p.b.decrypt(&sent[5]).expect("skips 0..5");
    assert_eq!(p.b.skipped_keys(), 5, "exactly max_skipped_keys are kept");
    p.b.decrypt(&sent[11]).expect("skips 6..11");
    assert_eq!(p.b.skipped_keys(), 5);
    for evicted in &sent[..5] {
        assert_eq!(
            decrypt_checked(&mut p.b, evicted).err(),
            Some(Error::Duplicate)
        );
    }
    for (i, kept) in sent.iter().enumerate().take(11).skip(6) {
        assert_eq!(p.b.decrypt(kept).expect("kept"), [i as u8]);
    }
}

#[test]
fn s4_message_of_an_older_chain_without_a_stored_key_is_rejected() {
    let mut p = established(SessionConfig::default(), 15);
    let a0 = p.a_to_b(b"a0");
    let a1 = p.a_to_b(b"a1");
    let a2 = p.a_to_b(b"a2");
    p.b.decrypt(&a0).expect("a0");
    p.b.decrypt(&a2).expect("a2, a1 stored");
    let r = p.b_to_a(b"r");
    p.a.decrypt(&r).expect("r");
    p.b.decrypt(&p.a.encrypt(b"next chain", &mut p.rng).expect("enc"))
        .expect("Bob steps");
    // The chain is known while one of its keys is stored: duplicate.
    assert_eq!(decrypt_checked(&mut p.b, &a0).err(), Some(Error::Duplicate));
    p.b.decrypt(&a1).expect("a1");
    // Once its last key is used the chain is forgotten: authentication.
    assert_eq!(
        decrypt_checked(&mut p.b, &a0).err(),
        Some(Error::Authentication)
    );
}

#[test]
fn s4_forward_secrecy_a_later_state_cannot_decrypt_again() {
    for he in [false, true] {
        let mut p = established(SessionConfig::default().with_header_encryption(he), 16);
        let m = p.a_to_b(b"secret");
        p.b.decrypt(&m).expect("m");
        let later = Session::from_stored(&p.b.to_stored()).expect("reload");
        let mut later = later;
        let r = later.decrypt(&m);
        assert!(
            matches!(r, Err(Error::Duplicate | Error::Authentication)),
            "{r:?}"
        );
    }
}

#[test]
fn s4_post_compromise_a_copy_from_before_a_round_trip_is_locked_out() {
    for he in [false, true] {
        let mut p = established(SessionConfig::default().with_header_encryption(he), 17);
        let stolen = p.b.to_stored();
        // While no new DH key has been exchanged, the copy still works: the
        // test below is not vacuous.
        let early = p.a_to_b(b"early");
        let mut copy = Session::from_stored(&stolen).expect("copy");
        assert_eq!(
            copy.decrypt(&early).expect("copy decrypts before healing"),
            b"early"
        );
        p.b.decrypt(&early).expect("early");
        // A full round trip: Bob draws a new ratchet key, Alice answers to it.
        let bob_says = p.b_to_a(b"b");
        p.a.decrypt(&bob_says).expect("b");
        let after = p.a_to_b(b"after");
        let mut copy = Session::from_stored(&stolen).expect("copy");
        copy.decrypt(&early).expect("replayed traffic");
        assert_eq!(
            copy.decrypt(&after).err(),
            Some(Error::Authentication),
            "the stolen state must not read messages after healing"
        );
        assert_eq!(p.b.decrypt(&after).expect("Bob reads it"), b"after");
    }
}

#[test]
fn s4_deferred_ratchet_key_and_draw_order() {
    for (he, tail) in [(false, vec![16]), (true, vec![16, 12])] {
        let config = SessionConfig::default().with_header_encryption(he);
        let mut p = established(config, 18);
        let mut rng = Recording::new(19);
        // Bob only receives: decrypt takes no RNG at all; the step's key is
        // drawn by his next encrypt, before the salt (and header nonce).
        for i in 0..3u8 {
            let m = p.a_to_b(&[i]);
            p.b.decrypt(&m).expect("decrypt");
        }
        p.b.encrypt(b"x", &mut rng).expect("encrypt");
        let mut first = vec![32];
        first.extend(&tail);
        assert_eq!(rng.take(), first);
        p.b.encrypt(b"y", &mut rng).expect("encrypt");
        assert_eq!(rng.take(), tail);
    }
}

// §5 Messages

#[test]
fn s5_prekey_messages_until_a_reply_decrypts() {
    let (mut rng, _, mut bob, mut a, first) = initiated(SessionConfig::default(), 20);
    assert!(matches!(
        a.encrypt(b"2", &mut rng).expect("enc"),
        AnyMessage::PreKey(_)
    ));
    assert!(!a.is_acknowledged());
    let mut b = bob
        .accept(&first, SessionConfig::default())
        .expect("accept")
        .session;
    assert!(b.is_acknowledged());
    let reply = b.encrypt(b"r", &mut rng).expect("enc");
    assert!(matches!(
        reply,
        AnyMessage::Ratchet(RatchetMessage::Plain(_))
    ));
    a.decrypt(&reply).expect("reply");
    assert!(a.is_acknowledged());
    assert!(matches!(
        a.encrypt(b"3", &mut rng).expect("enc"),
        AnyMessage::Ratchet(RatchetMessage::Plain(_))
    ));
}

#[test]
fn s5_prekey_message_whose_fields_differ_from_the_session_is_rejected() {
    let (mut rng, _, mut bob, mut a, first) = initiated(SessionConfig::default(), 21);
    let second = prekey(a.encrypt(b"second", &mut rng).expect("enc"));
    let mut b = bob
        .accept(&first, SessionConfig::default())
        .expect("accept")
        .session;
    assert_eq!(
        second.session_id(),
        b.session_id(),
        "routed here by its base key"
    );
    let other_identity = IdentityKeyPair::generate(&mut rng).public_key().to_bytes();
    // A PqPreKeyMessage (SPEC §5): kpk_id at 69, CT, the flag at 1641.
    assert!(second.is_post_quantum());
    let flag_at = 1641;
    let variants = [
        with_prefix_bytes(&second, 1, &other_identity),
        with_prefix_bytes(&second, 65, &(second.signed_prekey_id() + 1).to_be_bytes()),
        with_prefix_bytes(
            &second,
            69,
            &(second.kem_prekey_id().expect("kpk") + 1).to_be_bytes(),
        ),
        with_prefix_bytes(
            &second,
            flag_at + 1,
            &(second.one_time_prekey_id().expect("opk") + 1).to_be_bytes(),
        ),
    ];
    for forged in &variants {
        assert_eq!(
            decrypt_checked(&mut b, forged).err(),
            Some(Error::Authentication)
        );
    }
    // The same message without its one-time prekey field.
    let mut without = second.encode();
    without[flag_at] = 0;
    without.drain(flag_at + 1..flag_at + 5);
    let without = AnyMessage::decode(&without).expect("well-formed");
    assert_eq!(
        decrypt_checked(&mut b, &without).err(),
        Some(Error::Authentication)
    );
    // A prekey message is never for the initiator.
    let mine = AnyMessage::PreKey(second.clone());
    assert_eq!(
        decrypt_checked(&mut a, &mine).err(),
        Some(Error::Authentication)
    );
    assert_eq!(
        b.decrypt(&AnyMessage::PreKey(second)).expect("genuine"),
        b"second"
    );
}

/// A prekey message is an envelope: the session it names takes the ratchet
/// message inside it, alone or in that envelope, and only once either way.
/// (Found by the fuzzer's decrypt targets, whose check was stricter.)
#[test]
fn s5_a_session_takes_its_ratchet_message_in_either_envelope_once() {
    for config in [
        SessionConfig::default(),
        SessionConfig::default().with_header_encryption(true),
    ] {
        let (mut rng, _, mut bob, mut a, first) = initiated(config, 23);
        let second = prekey(a.encrypt(b"second", &mut rng).expect("enc"));
        let mut b = bob.accept(&first, config).expect("accept").session;
        let inner = AnyMessage::from(second.message().clone());
        assert_eq!(decrypt_checked(&mut b, &inner).expect("alone"), b"second");
        assert_eq!(
            decrypt_checked(&mut b, &AnyMessage::PreKey(second.clone())).err(),
            Some(Error::Duplicate)
        );
        // After the reply Alice sends plain messages; one of them in the
        // session's prekey envelope is still the same message.
        let reply = b.encrypt(b"reply", &mut rng).expect("enc");
        a.decrypt(&reply).expect("reply");
        let later = a.encrypt(b"later", &mut rng).expect("enc");
        assert!(!matches!(later, AnyMessage::PreKey(_)), "{later:?}");
        let mut wrapped = second.encode();
        wrapped.truncate(wrapped.len() - second.message().as_bytes().len());
        wrapped.extend_from_slice(&later.encode());
        let wrapped = AnyMessage::decode(&wrapped).expect("well-formed");
        assert_eq!(
            decrypt_checked(&mut b, &wrapped).expect("wrapped"),
            b"later"
        );
        assert_eq!(
            decrypt_checked(&mut b, &later).err(),
            Some(Error::Duplicate)
        );
        assert_eq!(
            decrypt_checked(&mut b, &wrapped).err(),
            Some(Error::Duplicate)
        );
    }
}

#[test]
fn s5_decoders_report_each_fault() {
    assert_eq!(
        AnyMessage::decode(&[]).err(),
        Some(Error::Malformed(DecodeError::Truncated))
    );
    assert_eq!(
        AnyMessage::decode(&[0x15]).err(),
        Some(Error::Malformed(DecodeError::BadKind))
    );
    let mut p = established(SessionConfig::default(), 22);
    let m = p.a_to_b(b"").encode();
    assert_eq!(m.len(), 41 + 32, "an empty plaintext is salt and tag");
    let mut trailing_is_ciphertext = m.clone();
    trailing_is_ciphertext.push(0);
    assert!(
        AnyMessage::decode(&trailing_is_ciphertext).is_ok(),
        "everything after the header is ciphertext"
    );
    assert_eq!(
        AnyMessage::decode(&m[..m.len() - 1]).err(),
        Some(Error::Malformed(DecodeError::ShortCiphertext))
    );
}

// §6 Header encryption

#[test]
fn s6_modes_do_not_mix() {
    let mut plain = established(SessionConfig::default(), 23);
    let mut he = established(SessionConfig::default().with_header_encryption(true), 23);
    let from_he = he.a_to_b(b"x");
    assert!(matches!(
        from_he,
        AnyMessage::Ratchet(RatchetMessage::EncryptedHeader(_))
    ));
    let from_plain = plain.a_to_b(b"x");
    assert_eq!(
        decrypt_checked(&mut plain.b, &from_he).err(),
        Some(Error::Authentication)
    );
    assert_eq!(
        decrypt_checked(&mut he.b, &from_plain).err(),
        Some(Error::Authentication)
    );
    assert!(he.a.has_header_encryption() && he.b.has_header_encryption());
}

// §8 Errors

#[test]
fn s8_every_error_says_what_happened() {
    let errors = [
        Error::Malformed(DecodeError::Truncated),
        Error::Authentication,
        Error::Duplicate,
        Error::TooManySkipped,
        Error::UnknownPreKey,
        Error::BadSignature,
        Error::InvalidKey,
        Error::ChainExhausted,
        Error::InvalidConfig(cliquet::ConfigError::MaxSkipAboveMaxSkippedKeys),
        Error::InvalidConfig(cliquet::ConfigError::MaxSkippedKeysAboveLimit),
        Error::InvalidConfig(cliquet::ConfigError::MaxArchivedAboveLimit),
        Error::InvalidConfig(cliquet::ConfigError::MaxArchivedSkippedKeysAboveLimit),
        Error::PreKeyIdInUse,
        Error::TooLarge,
        Error::NoSession,
        Error::State(cliquet::StateError::Sealed),
        Error::State(cliquet::StateError::OtherPeer),
        Error::IdentityChanged(*IdentityKeyPair::from_secret_bytes(&[1; 32]).public_key()),
        Error::Mismatch,
        Error::InvalidIdentifier,
        Error::ModeRefused,
        Error::UnknownChain,
    ];
    let shown: std::collections::HashSet<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), errors.len(), "each message is distinct");
    assert!(shown.iter().all(|s| s.len() > 20));
    let _: &dyn std::error::Error = &Error::Duplicate;
}

// The buffer-reusing API writes exactly what the owned API returns.

#[test]
fn s5_encrypt_into_and_decrypt_into_match_the_owned_calls() {
    for he in [false, true] {
        let config = SessionConfig::default().with_header_encryption(he);
        let (_, _, mut bob, a, first) = initiated(config, 24);
        let stored = a.to_stored();
        let (mut a1, mut a2) = (
            Session::from_stored(&stored).expect("copy"),
            Session::from_stored(&stored).expect("copy"),
        );
        let (mut r1, mut r2) = (Recording::new(25), Recording::new(25));
        let mut wire = vec![0xee; 3000]; // stale, longer content is replaced
        for text in [&b"prekey phase"[..], b"still prekey"] {
            let owned = a1.encrypt(text, &mut r1).expect("encrypt");
            a2.encrypt_into(text, &mut r2, &mut wire)
                .expect("encrypt_into");
            assert_eq!(owned.encode(), wire);
        }
        let mut b = bob.accept(&first, config).expect("accept").session;
        let reply = b
            .encrypt(b"reply", &mut Recording::new(26))
            .expect("encrypt");
        let mut plaintext = vec![0xee; 100];
        a1.decrypt_into(&reply, &mut plaintext)
            .expect("decrypt_into");
        assert_eq!(plaintext, b"reply");
        a2.decrypt(&reply).expect("decrypt");
        let owned = a1.encrypt(b"plain phase", &mut r1).expect("encrypt");
        a2.encrypt_into(b"plain phase", &mut r2, &mut wire)
            .expect("encrypt_into");
        assert_eq!(owned.encode(), wire);
        // A failed decrypt leaves the buffer empty and the session unchanged.
        let before = a1.to_stored();
        assert_eq!(
            a1.decrypt_into(&reply, &mut plaintext).err(),
            Some(Error::Duplicate)
        );
        assert!(plaintext.is_empty());
        assert_eq!(a1.to_stored(), before);
    }
}

// Found by the security review: each failed before its fix.

/// Whether `haystack` holds `needle` anywhere.
fn holds(haystack: &[u8], needle: &[u8; 32]) -> bool {
    haystack.windows(32).any(|w| w == needle)
}

#[test]
fn s1_a_base_key_with_its_unused_top_bit_set_is_refused() {
    // X25519 ignores bit 255: flipping it gives the same secrets under
    // another session id. The responder refuses that encoding.
    let (_, _, mut bob, _, first) = initiated(SessionConfig::default(), 16);
    let mut bytes = first.encode();
    bytes[1 + 32 + 31] ^= 0x80;
    let flipped = prekey(AnyMessage::decode(&bytes).expect("decodes"));
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&flipped, SessionConfig::default()).err(),
        Some(Error::InvalidKey)
    );
    assert_eq!(bob.to_stored(), before);
    assert!(bob.accept(&first, SessionConfig::default()).is_ok());
}

#[test]
fn s1_a_small_order_one_time_prekey_fails_before_anything_is_drawn() {
    let mut rng = Recording::new(11);
    let alice = Account::new(&mut rng);
    let bob = Account::new(&mut rng);
    rng.take();
    let mut one = [0u8; 32];
    one[0] = 1;
    let bundle = bob
        .bundle(None)
        .expect("bundle")
        .with_one_time_prekey(7, cliquet::PublicKey::from_bytes(one))
        .verify()
        .expect("verifies");
    let result = Session::initiate(
        alice.identity(),
        &bundle,
        SessionConfig::default(),
        &mut rng,
    );
    assert_eq!(result.err(), Some(Error::InvalidKey));
    assert_eq!(rng.take(), Vec::<usize>::new(), "nothing drawn");
}

#[test]
fn s3_the_signed_prekey_secret_is_forgotten_with_its_rotation() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let spk_secret = [0x5c; 32];
    let mut bob = Account::from_keys(
        IdentityKeyPair::generate(&mut rng),
        SignedPreKey::from_secret_bytes(1, &spk_secret),
    );
    bob.rotate_kem_prekey(&mut rng);
    let alice = Account::new(&mut rng);
    let config = SessionConfig::default();
    let mut record = SessionRecord::new();
    for header_encryption in [false, true] {
        let bundle = bob
            .bundle(None)
            .expect("bundle")
            .verify()
            .expect("verifies");
        let config = config.with_header_encryption(header_encryption);
        // The responder decrypts and never replies: as a session, and in
        // a record.
        let mut a =
            Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
        let first = a.encrypt(b"one-way", &mut rng).expect("encrypt");
        let session = bob.accept(&prekey(first), config).expect("accept").session;
        assert!(
            !holds(&session.to_stored(), &spk_secret),
            "session keeps SPK"
        );
        let mut a =
            Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
        let first = a.encrypt(b"one-way", &mut rng).expect("encrypt");
        let mut fresh = SessionRecord::new();
        fresh
            .decrypt(&mut bob, &first, config)
            .expect("record decrypts");
        record = fresh;
    }
    bob.rotate_signed_prekey(&mut rng);
    bob.rotate_signed_prekey(&mut rng);
    bob.forget_previous_signed_prekey();
    assert!(!holds(&bob.to_stored(), &spk_secret), "account keeps SPK");
    assert!(!holds(&record.to_stored(), &spk_secret), "record keeps SPK");
}

#[test]
fn s3_a_replayed_first_message_without_one_time_prekey_is_refused() {
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let config = SessionConfig::default();
    let bundle = bob
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
    let first = prekey(a.encrypt(b"pay 10", &mut rng).expect("encrypt"));
    bob.accept(&first, config).expect("accept");
    // The session is gone (archive overflow, lost record); the replay is
    // refused, also after the account is stored and loaded.
    let before = bob.to_stored();
    assert_eq!(bob.accept(&first, config).err(), Some(Error::Duplicate));
    assert_eq!(bob.to_stored(), before);
    let mut reloaded = Account::from_stored(&bob.to_stored()).expect("loads");
    assert_eq!(
        reloaded.accept(&first, config).err(),
        Some(Error::Duplicate)
    );
    let mut record = SessionRecord::new();
    assert_eq!(
        record
            .decrypt(&mut reloaded, &AnyMessage::PreKey(first), config)
            .err(),
        Some(Error::Duplicate)
    );
}

/// Issue 20 item 2: the replay memory cannot be flushed. Anyone can make
/// first messages without a one-time prekey; 2,048 of them used to evict
/// the victim's base key, and its recorded first message was then accepted
/// again (a payment delivered twice).
#[test]
fn s3_a_flood_of_first_messages_does_not_flush_the_replay_memory() {
    let mut rng = ChaCha20Rng::from_seed([21; 32]);
    let classic = SessionConfig::default().with_classic_x3dh(true);
    let alice = Account::new(&mut rng);
    let mallory = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob
        .classic_bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut first = |from: &Account, text: &[u8]| {
        let mut s =
            Session::initiate(from.identity(), &bundle, classic, &mut rng).expect("initiate");
        prekey(s.encrypt(text, &mut rng).expect("encrypt"))
    };
    let pay = first(&alice, b"pay 10");
    bob.accept(&pay, classic).expect("accept");
    for _ in 0..2048 {
        let flood = first(&mallory, b"flood");
        bob.accept(&flood, classic).expect("a new session");
    }
    assert_eq!(bob.accept(&pay, classic).err(), Some(Error::Duplicate));
}

/// A full replay memory refuses new sessions without a one-time key (it
/// never forgets one), changing nothing; sessions on a one-time prekey or a
/// one-time KEM prekey need no memory; a new signed prekey starts an empty
/// memory while the previous one keeps its own.
#[test]
fn s3_a_full_replay_memory_refuses_until_the_signed_prekey_rotates() {
    let mut rng = ChaCha20Rng::from_seed([22; 32]);
    let classic = SessionConfig::default().with_classic_x3dh(true);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    bob.set_replay_memory_limit(3).expect("limit");
    let first = |bundle: cliquet::PreKeyBundle, rng: &mut ChaCha20Rng| {
        let bundle = bundle.verify().expect("verifies");
        let mut s = Session::initiate(alice.identity(), &bundle, classic, rng).expect("initiate");
        prekey(s.encrypt(b"hi", rng).expect("encrypt"))
    };
    let old: Vec<_> = (0..3)
        .map(|_| first(bob.classic_bundle(None).expect("bundle"), &mut rng))
        .collect();
    for m in &old {
        bob.accept(m, classic).expect("room left");
    }
    assert_eq!(bob.replay_memory_len(), 3);
    let refused = first(bob.bundle(None).expect("bundle"), &mut rng);
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&refused, classic).err(),
        Some(Error::ReplayMemoryFull)
    );
    assert_eq!(bob.to_stored(), before);
    assert_eq!(bob.accept(&old[0], classic).err(), Some(Error::Duplicate));
    // One-time keys need no memory: a one-time prekey, a one-time KEM prekey.
    let (id, _) = bob.generate_one_time_prekeys(1, &mut rng)[0];
    let on_one_time = first(bob.classic_bundle(Some(id)).expect("bundle"), &mut rng);
    bob.accept(&on_one_time, classic).expect("one-time prekey");
    let kem = bob.generate_one_time_kem_prekeys(1, &mut rng).remove(0);
    let bundle = bob
        .classic_bundle(None)
        .expect("bundle")
        .with_kem_prekey(kem);
    let on_one_time_kem = first(bundle, &mut rng);
    bob.accept(&on_one_time_kem, classic)
        .expect("one-time KEM prekey");
    assert_eq!(bob.replay_memory_len(), 3);
    // Stored and loaded: the limit and the memory go with the account.
    let mut reloaded = Account::from_stored(&bob.to_stored()).expect("loads");
    assert_eq!(reloaded.replay_memory_limit(), 3);
    assert_eq!(
        reloaded.accept(&refused, classic).err(),
        Some(Error::ReplayMemoryFull)
    );
    // A new signed prekey starts empty; the previous one keeps its memory.
    bob.rotate_signed_prekey(&mut rng);
    assert_eq!(bob.replay_memory_len(), 0);
    let on_new = first(bob.classic_bundle(None).expect("bundle"), &mut rng);
    bob.accept(&on_new, classic).expect("a new signed prekey");
    assert_eq!(bob.replay_memory_len(), 1);
    assert_eq!(bob.accept(&old[1], classic).err(), Some(Error::Duplicate));
    assert_eq!(
        bob.accept(&refused, classic).err(),
        Some(Error::ReplayMemoryFull)
    );
    // Once forgotten, its messages name an unknown signed prekey.
    bob.forget_previous_signed_prekey();
    assert_eq!(
        bob.accept(&old[2], classic).err(),
        Some(Error::UnknownPreKey)
    );
}

#[test]
fn s4_a_second_new_chain_before_we_reply_is_refused() {
    let mut p = established(SessionConfig::default(), 2);
    // Alice's state before her next message, kept aside.
    let mut other_alice = Session::from_stored(&p.a.to_stored()).expect("loads");
    let new_chain = p.a_to_b(b"new chain");
    p.b.decrypt(&new_chain).expect("decrypts");
    // The copy starts another new chain against the same ratchet key of
    // Bob's. Bob forgot that key's secret when he received the first one.
    let other = other_alice
        .encrypt(b"another new chain", &mut ChaCha20Rng::from_seed([9; 32]))
        .expect("encrypt");
    let before = p.b.to_stored();
    assert_eq!(p.b.decrypt(&other), Err(Error::Authentication));
    assert_eq!(p.b.to_stored(), before);
    // Once Bob replied, the copy's chain is just an unknown chain too, and
    // Alice's genuine next chain works.
    let reply = p.b_to_a(b"reply");
    p.a.decrypt(&reply).expect("decrypts");
    let next = p.a_to_b(b"next");
    assert_eq!(p.b.decrypt(&next).expect("decrypts"), b"next");
}

#[test]
fn s4_the_gap_limit_is_checked_before_the_handshake() {
    let config = SessionConfig::new(2, 10).expect("config");
    let (mut rng, alice, mut bob, _, _) = initiated(config, 12);
    let bundle = bob
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
    let messages: Vec<_> = (0..4)
        .map(|_| a.encrypt(b"x", &mut rng).expect("encrypt"))
        .collect();
    // N = 3 > max_skip, and an identity key that is not a key: the gap is
    // reported, which needs no cryptographic work.
    let mut bytes = messages[3].encode();
    bytes[1..33].copy_from_slice(&[0xff; 32]);
    let forged = prekey(AnyMessage::decode(&bytes).expect("decodes"));
    assert_eq!(
        bob.accept(&forged, config).err(),
        Some(Error::TooManySkipped)
    );
}

#[test]
fn s4_one_message_stores_at_most_max_skipped_keys() {
    // max_skip == max_skipped_keys: a message that skips keys in the old
    // chain and in the new one stores more than the limit, and the oldest
    // go at once, as the SessionConfig docs say.
    let config = SessionConfig::new(3, 3).expect("config");
    let mut p = established(config, 15);
    let x = p.a_to_b(b"x");
    p.b.decrypt(&x).expect("decrypts");
    let held_old: Vec<_> = (0..3).map(|_| p.a_to_b(b"old")).collect();
    let step = p.b_to_a(b"step");
    p.a.decrypt(&step).expect("decrypts");
    let held_new: Vec<_> = (0..3).map(|_| p.a_to_b(b"new")).collect();
    let last = p.a_to_b(b"last");
    p.b.decrypt(&last).expect("decrypts");
    assert_eq!(p.b.skipped_keys(), 3);
    assert!(p.b.decrypt(&held_old[0]).is_err(), "evicted");
    assert_eq!(p.b.decrypt(&held_new[0]).expect("kept"), b"new");
}

#[test]
fn s6_a_responder_can_require_header_encryption() {
    let required = SessionConfig::default()
        .with_header_encryption(true)
        .with_required_mode(true);
    let (_, _, mut bob, _, plain_first) = initiated(SessionConfig::default(), 13);
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&plain_first, required).err(),
        Some(Error::ModeRefused)
    );
    assert_eq!(bob.to_stored(), before, "no one-time prekey consumed");
    let (_, _, mut bob, _, encrypted_first) =
        initiated(SessionConfig::default().with_header_encryption(true), 14);
    let session = bob
        .accept(&encrypted_first, required)
        .expect("accept")
        .session;
    assert!(session.has_header_encryption());
    assert!(matches!(
        encrypted_first.message(),
        RatchetMessage::EncryptedHeader(_)
    ));
}
