//! [`Pair`]: two accounts and their established sessions, with one seeded
//! RNG, for the scenario and property tests and the benches.

use cliquet::{Account, AnyMessage, Error, PreKeyMessage, Session, SessionConfig};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Two accounts and (once established) their sessions, with one seeded RNG:
/// `a` is Alice's session (the initiator), `b` Bob's.
#[derive(Debug)]
pub struct Pair {
    /// The one RNG of both sides.
    pub rng: ChaCha20Rng,
    /// Alice's account.
    pub alice: Account,
    /// Bob's account.
    pub bob: Account,
    /// Alice's session with Bob.
    pub a: Session,
    /// Bob's session with Alice.
    pub b: Session,
    /// The configuration of both sessions.
    pub config: SessionConfig,
}

/// Alice's fresh session from Bob's bundle (with a one-time prekey), her first
/// message, and the accounts.
pub fn initiated(
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
pub fn established(config: SessionConfig, seed: u8) -> Pair {
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
pub fn prekey(m: AnyMessage) -> PreKeyMessage {
    match m {
        AnyMessage::PreKey(m) => m,
        other => panic!("expected a prekey message, got {other:?}"),
    }
}

/// Decrypts and checks that a failure left the whole stored state unchanged.
pub fn decrypt_checked(session: &mut Session, message: &AnyMessage) -> Result<Vec<u8>, Error> {
    let before = session.to_stored();
    let result = session.decrypt(message);
    if result.is_err() {
        assert_eq!(
            session.to_stored(),
            before,
            "a failed decrypt ({result:?}) changed the session"
        );
    }
    result
}

/// `message` with one bit flipped.
pub fn flipped(message: &AnyMessage, byte: usize, bit: u8) -> Vec<u8> {
    let mut bytes = message.encode();
    let at = byte % bytes.len();
    bytes[at] ^= 1 << (bit % 8);
    bytes
}

impl Pair {
    /// Alice encrypts on her session.
    pub fn a_to_b(&mut self, plaintext: &[u8]) -> AnyMessage {
        self.a.encrypt(plaintext, &mut self.rng).expect("encrypt")
    }

    /// Bob encrypts on his session.
    pub fn b_to_a(&mut self, plaintext: &[u8]) -> AnyMessage {
        self.b.encrypt(plaintext, &mut self.rng).expect("encrypt")
    }

    /// Two sessions after the handshake and one message each way, with
    /// header encryption or without: Alice (`a`, initiator, acknowledged)
    /// and Bob (`b`, responder). Alice's next encrypt starts a new sending
    /// chain.
    pub fn new(header_encryption: bool, seed: u8) -> Self {
        established(
            SessionConfig::default().with_header_encryption(header_encryption),
            seed,
        )
    }

    /// Bob sends one message and Alice decrypts it: her next message starts
    /// a new chain.
    pub fn bob_replies(&mut self) {
        let reply = self.b_to_a(b"reply");
        self.a.decrypt(&reply).expect("decrypt reply");
    }

    /// Alice sends `skip + 1` messages in a new chain; only the last is
    /// delivered, so Bob stores `skip` keys. Returns the undelivered ones.
    pub fn new_chain_skipping(&mut self, skip: usize, payload: &[u8]) -> Vec<AnyMessage> {
        self.bob_replies();
        let mut undelivered: Vec<AnyMessage> = (0..=skip).map(|_| self.a_to_b(payload)).collect();
        let last = undelivered.pop().expect("at least one message");
        self.b.decrypt(&last).expect("decrypt last");
        undelivered
    }
}
