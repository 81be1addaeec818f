//! [`Pair`]: two accounts and their established sessions, with one seeded
//! RNG, for the scenario and property tests (and, through `#[path]`, the
//! benches' fixtures).
#![allow(
    dead_code,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test harness: each user takes a different part, and a failed expectation is a failed test"
)]

use cliquet::{Account, AnyMessage, Error, PreKeyMessage, Session, SessionConfig};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Two accounts and (once established) their sessions, with one seeded RNG:
/// `a` is Alice's session (the initiator), `b` Bob's.
pub(crate) struct Pair {
    pub(crate) rng: ChaCha20Rng,
    pub(crate) alice: Account,
    pub(crate) bob: Account,
    pub(crate) a: Session,
    pub(crate) b: Session,
    pub(crate) config: SessionConfig,
}

/// Alice's fresh session from Bob's bundle (with a one-time prekey), her first
/// message, and the accounts.
pub(crate) fn initiated(
    config: SessionConfig,
    seed: u8,
) -> (ChaCha20Rng, Account, Account, Session, PreKeyMessage) {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let (opk, _) = bob.generate_one_time_prekeys(1, &mut rng)[0];
    let bundle = bob
        .bundle(Some(opk))
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
    let first = prekey(a.encrypt(b"first", &mut rng).expect("encrypt"));
    (rng, alice, bob, a, first)
}

/// A session pair after one message each way: both are acknowledged, and
/// Alice's next message starts a new sending chain.
pub(crate) fn established(config: SessionConfig, seed: u8) -> Pair {
    let (mut rng, alice, mut bob, mut a, first) = initiated(config, seed);
    let accepted = bob.accept(&first, config).expect("accept");
    assert_eq!(accepted.plaintext, b"first");
    let mut b = accepted.session;
    let reply = b.encrypt(b"reply", &mut rng).expect("encrypt");
    assert_eq!(a.decrypt(&reply).expect("decrypt"), b"reply");
    assert!(a.is_acknowledged() && b.is_acknowledged());
    Pair {
        rng,
        alice,
        bob,
        a,
        b,
        config,
    }
}

/// The prekey message inside `m`; panics on any other message.
pub(crate) fn prekey(m: AnyMessage) -> PreKeyMessage {
    match m {
        AnyMessage::PreKey(m) => m,
        other => panic!("expected a prekey message, got {other:?}"),
    }
}

/// Decrypts and checks that a failure left the whole stored state unchanged.
pub(crate) fn decrypt_checked(
    session: &mut Session,
    message: &AnyMessage,
) -> Result<Vec<u8>, Error> {
    let before = session.to_bytes();
    let result = session.decrypt(message);
    if result.is_err() {
        assert_eq!(
            session.to_bytes(),
            before,
            "a failed decrypt ({result:?}) changed the session"
        );
    }
    result
}

/// `message` with one bit flipped.
pub(crate) fn flipped(message: &AnyMessage, byte: usize, bit: u8) -> Vec<u8> {
    let mut bytes = message.to_bytes();
    let at = byte % bytes.len();
    bytes[at] ^= 1 << (bit % 8);
    bytes
}

impl Pair {
    /// Alice encrypts on her session.
    pub(crate) fn a_to_b(&mut self, plaintext: &[u8]) -> AnyMessage {
        self.a.encrypt(plaintext, &mut self.rng).expect("encrypt")
    }

    /// Bob encrypts on his session.
    pub(crate) fn b_to_a(&mut self, plaintext: &[u8]) -> AnyMessage {
        self.b.encrypt(plaintext, &mut self.rng).expect("encrypt")
    }
}
