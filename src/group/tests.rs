//! [SPEC §10](crate::spec) rules the vectors cannot reach, one test each.

use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_core::{TryCryptoRng, TryRng};

use super::*;
use crate::StateError;
use crate::crypto;
use crate::keys::IdentityKeyPair;

const GROUP: [u8; 16] = [0x77; 16];

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn identity(seed: u8) -> IdentityKey {
    *IdentityKeyPair::from_secret_bytes(&[seed; 32]).public_key()
}

/// Records the length of every draw, and fails the test on any other call.
struct CountingRng {
    inner: ChaCha20Rng,
    draws: Vec<usize>,
}

impl TryRng for CountingRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        panic!("next_u32 is not a draw SPEC allows")
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        panic!("next_u64 is not a draw SPEC allows")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.draws.push(dst.len());
        rand_core::Rng::fill_bytes(&mut self.inner, dst);
        Ok(())
    }
}

impl TryCryptoRng for CountingRng {}

/// Alice's group state with a chain, and Bob's with her distribution.
fn pair(config: SessionConfig) -> (GroupSession, GroupSession, IdentityKey) {
    let mut alice = GroupSession::new(GROUP, config);
    let mut bob = GroupSession::new(GROUP, config);
    let d = alice.rotate(&mut rng(1)).unwrap();
    let d = SenderKeyDistribution::decode(&d.encode()[..]).unwrap();
    bob.receive_distribution(&identity(1), &d).unwrap();
    (alice, bob, identity(1))
}

/// Decrypts and checks that a failure changed nothing.
fn decrypt(
    group: &mut GroupSession,
    sender: &IdentityKey,
    message: &GroupMessage,
) -> Result<Vec<u8>, Error> {
    let before = group.to_stored();
    let result = group.decrypt(sender, message);
    if result.is_err() {
        assert_eq!(group.to_stored(), before, "{result:?} changed the state");
    }
    result
}

#[test]
fn s10_creating_draws_ck_then_gsk_and_encrypt_draws_the_salt() {
    let mut counting = CountingRng {
        inner: rng(5),
        draws: Vec::new(),
    };
    let mut group = GroupSession::new(GROUP, SessionConfig::default());
    let d = group.rotate(&mut counting).unwrap();
    assert_eq!(counting.draws, [32, 32]);
    // The first draw is CK_0, the second the GSK seed.
    let mut replay = rng(5);
    let mut ck = [0u8; 32];
    let mut seed = [0u8; 32];
    rand_core::Rng::fill_bytes(&mut replay, &mut ck);
    rand_core::Rng::fill_bytes(&mut replay, &mut seed);
    let bytes = d.encode();
    assert_eq!(&bytes[25..57], &ck);
    assert_eq!(
        &bytes[57..],
        IdentityKeyPair::from_secret_bytes(&seed)
            .public_key()
            .as_bytes()
    );
    group.encrypt(b"x", &mut counting).unwrap();
    assert_eq!(counting.draws, [32, 32, 16]);
    assert_eq!(group.sender_chain(), Some((1, 1)));
}

#[test]
fn s10_message_i_uses_the_chain_step_of_s4() {
    let (mut alice, _, _) = pair(SessionConfig::default());
    let ck0 = *alice.own.as_ref().unwrap().chain_key.as_bytes();
    let (_, ck1) = crypto::hmac_pair(&ck0);
    let (mk1, _) = crypto::hmac_pair(&ck1);
    alice.encrypt(b"zero", &mut rng(2)).unwrap();
    let m = alice.encrypt(b"one", &mut rng(3)).unwrap();
    assert_eq!(m.iteration(), 1);
    let ct = m.ciphertext();
    let okm = crypto::hkdf::<44>(&ct[..16], &*mk1, b"cliquet/v1/group-message");
    let key: [u8; 32] = okm[..32].try_into().unwrap();
    let nonce: [u8; 12] = okm[32..].try_into().unwrap();
    let plain = crypto::open_to_vec(&key, &nonce, m.header(), &ct[16..]).unwrap();
    assert_eq!(plain, b"one");
    assert_eq!(m.as_bytes().len(), GroupMessage::OVERHEAD + 3);
}

#[test]
fn s10_an_exhausted_chain_fails_before_drawing() {
    let (mut alice, _, sender) = pair(SessionConfig::default());
    alice.own.as_mut().unwrap().iteration = u32::MAX - 1;
    // Carol joins at that iteration.
    let own = alice.own.as_ref().unwrap();
    let d = own.distribution(GROUP);
    let mut carol = GroupSession::new(GROUP, SessionConfig::default());
    carol.receive_distribution(&sender, &d).unwrap();
    let last = alice.encrypt(b"last", &mut rng(4)).unwrap();
    assert_eq!(last.iteration(), u32::MAX - 1);
    assert_eq!(carol.decrypt(&sender, &last).unwrap(), b"last");
    let mut counting = CountingRng {
        inner: rng(6),
        draws: Vec::new(),
    };
    assert_eq!(
        alice.encrypt(b"one more", &mut counting),
        Err(Error::ChainExhausted)
    );
    assert!(counting.draws.is_empty(), "drew {:?}", counting.draws);
    // The distribution of an exhausted chain is refused by its receivers.
    let bytes = alice.distribution().unwrap().encode();
    assert_eq!(
        SenderKeyDistribution::decode(&bytes[..]).err(),
        Some(Error::InvalidKey)
    );
    // Rotating is the way on.
    alice.rotate(&mut rng(7)).unwrap();
    assert_eq!(alice.sender_chain(), Some((2, 0)));
}

#[test]
fn s10_a_message_at_iteration_max_is_invalid_key_after_the_signature() {
    let (alice, mut bob, sender) = pair(SessionConfig::default());
    let own = alice.own.as_ref().unwrap();
    let mut bytes = Vec::new();
    bytes.push(0x1a);
    bytes.extend_from_slice(&GROUP);
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    bytes.extend_from_slice(&[0u8; 40]);
    let forged = GroupMessage::decode(&[&bytes[..], &[0u8; 64]].concat()).unwrap();
    assert_eq!(
        decrypt(&mut bob, &sender, &forged),
        Err(Error::BadSignature)
    );
    let signature = own.signing.sign(&bytes);
    bytes.extend_from_slice(&signature);
    let signed = GroupMessage::decode(&bytes).unwrap();
    assert_eq!(decrypt(&mut bob, &sender, &signed), Err(Error::InvalidKey));
}

#[test]
fn s10_a_dropped_chain_id_is_refused() {
    let mut alice = GroupSession::new(GROUP, SessionConfig::default());
    let mut bob = GroupSession::new(GROUP, SessionConfig::default());
    let sender = identity(1);
    let mut kept = Vec::new();
    for seed in 0..6 {
        let d = alice.rotate(&mut rng(seed)).unwrap();
        kept.push(d.encode());
        bob.receive_distribution(&sender, &d).unwrap();
    }
    assert_eq!(bob.chains_from(&sender), 5);
    let first = SenderKeyDistribution::decode(&kept[0][..]).unwrap();
    let before = bob.to_stored();
    assert_eq!(
        bob.receive_distribution(&sender, &first),
        Err(Error::Duplicate)
    );
    assert_eq!(bob.to_stored(), before);
    // The same id from another sender is another chain.
    bob.receive_distribution(&identity(2), &first).unwrap();
}

#[test]
fn s10_skipped_keys_are_capped_per_chain_oldest_first() {
    let config = SessionConfig::new(4, 6).unwrap();
    let (mut alice, mut bob, sender) = pair(config);
    let mut sent = Vec::new();
    for i in 0..10u8 {
        sent.push(alice.encrypt(&[i], &mut rng(i)).unwrap());
    }
    // 4 ahead: keys 0..3 stored; then 4 more: keys 5..8 (8 in all, cap 6).
    assert_eq!(decrypt(&mut bob, &sender, &sent[4]).unwrap(), [4]);
    assert_eq!(decrypt(&mut bob, &sender, &sent[9]).unwrap(), [9]);
    assert_eq!(bob.skipped_keys(), 6);
    // 0 and 1 were evicted (the oldest); 2 is still there.
    assert_eq!(decrypt(&mut bob, &sender, &sent[0]), Err(Error::Duplicate));
    assert_eq!(decrypt(&mut bob, &sender, &sent[1]), Err(Error::Duplicate));
    assert_eq!(decrypt(&mut bob, &sender, &sent[2]).unwrap(), [2]);
    assert_eq!(bob.skipped_keys(), 5);
}

#[test]
fn s10_messages_of_another_group_or_sender_are_unknown_chain() {
    let (mut alice, mut bob, sender) = pair(SessionConfig::default());
    let m = alice.encrypt(b"hi", &mut rng(9)).unwrap();
    assert_eq!(
        decrypt(&mut bob, &identity(2), &m),
        Err(Error::UnknownChain)
    );
    let mut other = m.as_bytes().to_vec();
    other[1] ^= 1;
    let other = GroupMessage::decode(&other).unwrap();
    assert_eq!(decrypt(&mut bob, &sender, &other), Err(Error::UnknownChain));
    // A distribution of another group is not filed here.
    let mut elsewhere = GroupSession::new([1; 16], SessionConfig::default());
    let d = elsewhere.rotate(&mut rng(3)).unwrap();
    assert_eq!(
        bob.receive_distribution(&sender, &d),
        Err(Error::UnknownChain)
    );
    // Without an own chain there is nothing to encrypt with.
    assert_eq!(bob.encrypt(b"x", &mut rng(1)), Err(Error::UnknownChain));
}

#[test]
fn s10_debug_never_shows_secrets() {
    let (mut alice, mut bob, sender) = pair(SessionConfig::default());
    let skipped = alice.encrypt(b"a", &mut rng(1)).unwrap();
    let next = alice.encrypt(b"b", &mut rng(2)).unwrap();
    bob.decrypt(&sender, &next).unwrap();
    let own = alice.own.as_ref().unwrap();
    let secrets = [
        own.chain_key.as_bytes().to_vec(),
        own.signing.seed().to_vec(),
        bob.senders.values().next().unwrap().chains[0]
            .chain_key
            .as_bytes()
            .to_vec(),
        bob.senders.values().next().unwrap().chains[0]
            .skipped
            .iter()
            .next()
            .unwrap()
            .key
            .as_bytes()
            .to_vec(),
    ];
    let distribution = alice.distribution().unwrap();
    let shown = format!("{alice:?} {bob:?} {distribution:?} {skipped:?}");
    for secret in secrets {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&hex[..8]), "{shown}");
        assert!(!shown.contains(&format!("{:?}", &secret[..4])), "{shown}");
    }
}

#[test]
fn s7_group_state_round_trips_and_seals() {
    let (mut alice, mut bob, sender) = pair(SessionConfig::new(10, 20).unwrap());
    let held = alice.encrypt(b"held", &mut rng(1)).unwrap();
    let next = alice.encrypt(b"next", &mut rng(2)).unwrap();
    bob.decrypt(&sender, &next).unwrap();
    let d = alice.rotate(&mut rng(3)).unwrap();
    bob.receive_distribution(&sender, &d).unwrap();
    let stored = bob.to_stored();
    // 31 fixed, one sender (37), two chains (76 each), one skipped key (36).
    assert_eq!(stored.len(), 31 + 37 + 2 * 76 + 36);
    let mut loaded = GroupSession::from_stored(&stored).unwrap();
    assert_eq!(loaded.to_stored(), stored);
    assert_eq!(loaded.decrypt(&sender, &held).unwrap(), b"held");
    let sealed = bob.seal(&[9; 32], b"group 1", &mut rng(4)).unwrap();
    assert_eq!(sealed.len(), 2 + 12 + stored.len() + 16);
    assert_eq!(
        GroupSession::open(&sealed, &[9; 32], b"group 1")
            .unwrap()
            .to_stored(),
        stored
    );
    assert_eq!(
        GroupSession::open(&sealed, &[8; 32], b"group 1").err(),
        Some(Error::State(StateError::Sealed))
    );
    assert_eq!(
        GroupSession::open(&sealed, &[9; 32], b"group 2").err(),
        Some(Error::State(StateError::Sealed))
    );
    assert_eq!(
        GroupSession::open(&stored, &[9; 32], b"group 1").err(),
        Some(Error::State(StateError::WrongKind))
    );
    assert_eq!(
        GroupSession::from_stored(&sealed).err(),
        Some(Error::State(StateError::WrongKind))
    );
    let mut newer = stored.to_vec();
    assert_eq!(newer[1], crate::storage::GROUP_VERSION);
    newer[1] = crate::storage::GROUP_VERSION + 1;
    assert_eq!(
        GroupSession::from_stored(&newer).err(),
        Some(Error::State(StateError::UnsupportedVersion(
            crate::storage::GROUP_VERSION + 1
        )))
    );
    // Every prefix fails cleanly, and so does any extra byte.
    for len in 0..stored.len() {
        assert!(GroupSession::from_stored(&stored[..len]).is_err(), "{len}");
    }
    let mut longer = stored.to_vec();
    longer.push(0);
    assert_eq!(
        GroupSession::from_stored(&longer).err(),
        Some(Error::State(StateError::Trailing))
    );
}

#[test]
fn s7_loading_checks_the_invariants() {
    let config = SessionConfig::new(10, 20).unwrap();
    let (mut alice, mut bob, sender) = pair(config);
    let _held = alice.encrypt(b"held", &mut rng(1)).unwrap();
    let _held_too = alice.encrypt(b"held too", &mut rng(3)).unwrap();
    let next = alice.encrypt(b"next", &mut rng(2)).unwrap();
    bob.decrypt(&sender, &next).unwrap();
    let stored = bob.to_stored().to_vec();
    // Layout: 31 bytes (the sender count last), the sender's identity (32),
    // dropped flag (1), chain count (4), chain id, iteration, CK, GSK_pub,
    // key count, then the key: iteration, MK.
    let sender_at = 31;
    let chains_at = sender_at + 32 + 1;
    let chain_at = chains_at + 4;
    let iteration_at = chain_at + 4;
    let gsk_at = iteration_at + 4 + 32;
    let key_at = gsk_at + 32 + 4;
    let inconsistent = |bytes: &[u8], why: &str| {
        assert_eq!(
            GroupSession::from_stored(bytes).err(),
            Some(Error::State(StateError::Inconsistent)),
            "{why}"
        );
    };
    let mut b = stored.clone();
    b[iteration_at..iteration_at + 4].copy_from_slice(&0u32.to_be_bytes());
    inconsistent(&b, "a skipped key at or past its chain's iteration");
    let mut b = stored.clone();
    b[gsk_at..gsk_at + 32].copy_from_slice(&[0; 32]);
    inconsistent(&b, "a small-order GSK_pub");
    let mut b = stored.clone();
    b[sender_at..sender_at + 32].copy_from_slice(&[0; 32]);
    inconsistent(&b, "a small-order sender identity");
    let mut b = stored.clone();
    b[2 + 16..2 + 20].copy_from_slice(&30u32.to_be_bytes());
    inconsistent(&b, "max_skip above max_skipped_keys");
    let mut b = stored.clone();
    b[chains_at..chains_at + 4].copy_from_slice(&0u32.to_be_bytes());
    assert!(GroupSession::from_stored(&b).is_err(), "no chain");
    // A dropped id with a single chain: a chain is only ever dropped when
    // a sixth arrives.
    let mut b = stored[..sender_at + 32].to_vec();
    b.push(1);
    b.extend_from_slice(&9u32.to_be_bytes());
    b.extend_from_slice(&stored[sender_at + 33..]);
    inconsistent(&b, "a dropped id with fewer than five chains");
    let mut b = stored.clone();
    b[sender_at + 32] = 2;
    inconsistent(&b, "a dropped flag of 2");
    // The two skipped keys (iterations 0 and 1) in the wrong order.
    let mut b = stored.clone();
    b[key_at..key_at + 72].rotate_left(36);
    inconsistent(&b, "skipped keys out of order");
    // The sender's own chain with id 0 (after the 27 bytes before it).
    let mut b = alice.to_stored().to_vec();
    b[27..31].copy_from_slice(&0u32.to_be_bytes());
    inconsistent(&b, "own chain id 0");
    // A huge count is refused before allocating.
    let mut b = stored.clone();
    b[key_at - 4..key_at].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        GroupSession::from_stored(&b).err(),
        Some(Error::State(StateError::Truncated))
    );
    // More skipped keys than max_skipped_keys (with a smaller limit).
    let mut b = stored.clone();
    b[2 + 16..2 + 24].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    inconsistent(&b, "a skipped key over max_skipped_keys = 0");
    assert_eq!(
        GroupSession::from_stored(&[0x23]).err(),
        Some(Error::State(StateError::Truncated))
    );
}
