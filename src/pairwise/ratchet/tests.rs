//! Unit tests of the ratchet: counters, staged steps, header trials,
//! zeroization and restored state.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use zeroize::ZeroizeOnDrop;

use alloc::vec::Vec;

use super::*;
use crate::config::SessionConfig;
use crate::crypto::kdf::HEADER_TRIALS;
use crate::crypto::kdf::MessageKey;
use crate::error::Error;
use crate::keys::PublicKey;
use crate::pairwise::wire::RatchetMessage;
use crate::{Account, AnyMessage, Session};

/// Alice's session and Bob's, after one message each way.
fn pair(header_encryption: bool, rng: &mut ChaCha20Rng) -> (Session, Session) {
    let alice = Account::new(rng);
    let mut bob = Account::new(rng);
    let config = SessionConfig::default().with_header_encryption(header_encryption);
    let bundle = bob.bundle(None).unwrap().verify().unwrap();
    let mut a = Session::initiate(alice.identity(), &bundle, config, rng).unwrap();
    let AnyMessage::PreKey(first) = a.encrypt(b"1", rng).unwrap() else {
        panic!("not a prekey message")
    };
    let mut b = bob.accept(&first, config).unwrap().session;
    let reply = b.encrypt(b"2", rng).unwrap();
    assert_eq!(a.decrypt(&reply).unwrap(), b"2");
    (a, b)
}

/// Every secret a ratchet holds, as bytes.
fn secrets(r: &Ratchet) -> Vec<Vec<u8>> {
    let mut secrets = vec![r.root_key.as_bytes().to_vec()];
    secrets.extend(r.chains.own().map(|own| own.secret_bytes().to_vec()));
    secrets.extend(r.chains.sending().map(|c| c.chain_key.as_bytes().to_vec()));
    secrets.extend(
        r.chains
            .receiving()
            .map(|c| c.chain_key.as_bytes().to_vec()),
    );
    if let Some(k) = &r.header_keys {
        secrets.push(k.sending.as_bytes().to_vec());
        secrets.extend(k.receiving.iter().map(|k| k.as_bytes().to_vec()));
        secrets.push(k.next_sending.as_bytes().to_vec());
        secrets.push(k.next_receiving.as_bytes().to_vec());
    }
    secrets
}

#[test]
fn s4_sending_counter_never_wraps() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let (mut a, mut b) = pair(false, &mut rng);
    let step = a
        .encrypt(b"activates the deferred sending chain", &mut rng)
        .unwrap();
    b.decrypt(&step).unwrap();
    a.ratchet_mut().chains.sending_mut().unwrap().index = u32::MAX - 1;
    let last = a.encrypt(b"last", &mut rng).unwrap();
    let AnyMessage::Ratchet(RatchetMessage::Plain(m)) = &last else {
        panic!("plain message expected")
    };
    assert_eq!(m.index(), u32::MAX - 1);
    let before = a.to_stored();
    assert_eq!(
        a.encrypt(b"one too many", &mut rng).err(),
        Some(Error::ChainExhausted)
    );
    assert_eq!(a.to_stored(), before, "a refused encrypt changes nothing");
    // The receiver refuses to step its counter past 2^32 - 1 as well.
    b.ratchet_mut().chains.receiving_mut().unwrap().index = u32::MAX - 1;
    let before = b.to_stored();
    let mut forged = m.as_bytes().to_vec();
    forged[37..41].copy_from_slice(&u32::MAX.to_be_bytes());
    let forged = AnyMessage::decode(&forged).unwrap();
    assert_eq!(b.decrypt(&forged).err(), Some(Error::ChainExhausted));
    assert_eq!(b.to_stored(), before);
}

#[test]
fn s4_a_failed_encrypt_leaves_a_pending_step_pending() {
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let (mut a, mut b) = pair(false, &mut rng);
    let new_chain = a.encrypt(b"new chain", &mut rng).unwrap();
    b.decrypt(&new_chain).unwrap();
    assert!(matches!(b.ratchet_mut().chains, Chains::Pending { .. }));
    // A peer ratchet key of small order: the deferred step's
    // Diffie-Hellman fails after the new ratchet key was drawn.
    let chain = b.ratchet_mut().chains.receiving_mut().unwrap();
    chain.ratchet_key = PublicKey::from_bytes([0; 32]);
    let before = b.to_stored();
    assert_eq!(b.encrypt(b"x", &mut rng).err(), Some(Error::InvalidKey));
    assert_eq!(b.to_stored(), before, "nothing committed");
    assert!(matches!(b.ratchet_mut().chains, Chains::Pending { .. }));
}

#[test]
fn s6_one_trial_decryption_per_distinct_header_key() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let (mut a, mut b) = pair(true, &mut rng);
    // Five round trips in which one of Alice's messages is held back:
    // Bob ends up with skipped keys in five old chains.
    let mut held = Vec::new();
    for i in 0..5u8 {
        held.push(a.encrypt(&[i], &mut rng).unwrap());
        let sent = a.encrypt(b"x", &mut rng).unwrap();
        b.decrypt(&sent).unwrap();
        let reply = b.encrypt(b"y", &mut rng).unwrap();
        a.decrypt(&reply).unwrap();
    }
    let chains = b.ratchet_mut().skipped.chains().count();
    assert_eq!((chains, b.skipped_keys()), (5, 5));
    // A message no key opens: one trial per distinct header key, that is
    // one per stored chain (the newest one's is HKr) and NHKr.
    let mut junk = a.encrypt(b"z", &mut rng).unwrap().encode();
    junk[5] ^= 1;
    let junk = AnyMessage::decode(&junk).unwrap();
    HEADER_TRIALS.with(|n| n.set(0));
    assert_eq!(b.decrypt(&junk).err(), Some(Error::Authentication));
    assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), chains + 1);
    // A held-back message of the oldest chain: HKr, NHKr, then the
    // oldest chain's key.
    HEADER_TRIALS.with(|n| n.set(0));
    assert_eq!(b.decrypt(&held[0]).unwrap(), [0]);
    assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), 3);
    // The first message of a new chain costs two trials, an in-order
    // message one, however much is stored.
    for expected in [2, 1, 1] {
        let in_order = a.encrypt(b"in order", &mut rng).unwrap();
        HEADER_TRIALS.with(|n| n.set(0));
        b.decrypt(&in_order).unwrap();
        assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), expected);
    }
    let reply = b.encrypt(b"reply", &mut rng).unwrap();
    a.decrypt(&reply).unwrap();
    let new_chain = a.encrypt(b"new chain", &mut rng).unwrap();
    HEADER_TRIALS.with(|n| n.set(0));
    b.decrypt(&new_chain).unwrap();
    assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), 2);
    // The four other held messages and the one whose copy was tampered.
    assert_eq!(b.skipped_keys(), 5);
}

#[test]
fn s7_secrets_are_zeroize_on_drop() {
    fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
    zeroized_on_drop::<RootKey>();
    zeroized_on_drop::<ChainKey>();
    zeroized_on_drop::<MessageKey>();
    zeroized_on_drop::<HeaderKey>();
    zeroized_on_drop::<x25519_dalek::StaticSecret>();
    zeroized_on_drop::<ed25519_dalek::SigningKey>();
}

#[test]
fn s7_debug_shows_no_secret() {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    for header_encryption in [false, true] {
        let (mut a, mut b) = pair(header_encryption, &mut rng);
        for s in [&mut a, &mut b] {
            let session = format!("{s:?}");
            let shown = format!("{session} {:?}", s.ratchet_mut());
            for secret in secrets(s.ratchet_mut()) {
                let hex: alloc::string::String =
                    secret.iter().map(|b| format!("{b:02x}")).collect();
                assert!(!shown.contains(&hex[..16]), "{shown}");
                assert!(
                    !shown.contains(&format!("{:?}", &secret[..4])[1..10]),
                    "{shown}"
                );
            }
            assert!(shown.contains("Session {"), "{shown}");
        }
    }
}

#[test]
fn s7_a_restored_old_state_never_repeats_a_key_and_nonce() {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let alice = Account::new(&mut rng);
    let bob = Account::new(&mut rng);
    let bundle = bob.bundle(None).unwrap().verify().unwrap();
    let config = SessionConfig::default();
    let session = Session::initiate(alice.identity(), &bundle, config, &mut rng).unwrap();
    let backup = session.to_stored();
    // The application restores the same backup twice and sends from each.
    let mut salts = Vec::new();
    for _ in 0..2 {
        let mut s = Session::from_stored(&backup).unwrap();
        let AnyMessage::PreKey(m) = s.encrypt(b"same message key", &mut rng).unwrap() else {
            panic!()
        };
        let RatchetMessage::Plain(inner) = m.message() else {
            panic!()
        };
        assert_eq!(inner.index(), 0, "both use message key 0 of the same chain");
        salts.push(inner.ciphertext().get(..16).unwrap().to_vec());
    }
    let mut restored = Session::from_stored(&backup).unwrap();
    let chain = restored.ratchet_mut().chains.sending().unwrap();
    let (message_key, _) = chain.chain_key.step();
    let (k1, n1) = message_key.key_and_nonce(&salts[0]);
    let (k2, n2) = message_key.key_and_nonce(&salts[1]);
    assert_ne!(*k1, *k2, "AES keys differ");
    assert_ne!(n1, n2, "nonces differ");
}

/// The ratchet alone, from its test constructor: no account, bundle or
/// session around it. Bob's first encrypt takes the deferred half of the
/// DH step, Alice receives on the new chain, and a replay changes nothing.
#[test]
fn s4_a_ratchet_pair_talks_both_ways_without_a_session() {
    for header_encryption in [false, true] {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let (mut alice, mut bob, ad) = Ratchet::pair_for_tests(config, &mut rng);
        assert!(matches!(bob.chains, Chains::Pending { .. }));
        assert!(!alice.has_receiving_chain());
        let mut wire = Vec::new();
        let shape = bob
            .encrypt_into(&ad, b"reply", &mut rng, &[], &mut wire)
            .unwrap();
        assert!(matches!(bob.chains, Chains::Both { .. }));
        let reply = RatchetMessage::from_shape(wire, 0, shape);
        assert_eq!(reply.has_encrypted_header(), header_encryption);
        let mut out = Vec::new();
        alice.decrypt(&ad, &reply, &mut out).unwrap();
        assert_eq!(out, b"reply");
        assert!(alice.has_receiving_chain());
        let before = secrets(&alice);
        assert!(alice.decrypt(&ad, &reply, &mut out).is_err());
        assert!(out.is_empty());
        assert_eq!(secrets(&alice), before, "a replay changes nothing");
    }
}
