//! Deterministic keys, states and messages shared by the fuzz targets, the
//! seed-corpus generator (`examples/make_corpus.rs`) and the stable replay
//! test (`tests/fuzz_corpus.rs` in the main crate).
//!
//! Everything here is built through cliquet's public API from seeded RNGs:
//! real keys, real sessions, no test-only door in the library.

use std::convert::Infallible;
use std::sync::OnceLock;

use cliquet::rand_core::{TryCryptoRng, TryRng};
use cliquet::{
    Account, AnyMessage, IdentityKeyPair, PublicKey, Session, SessionConfig, SignedPreKey,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// The storage key of the sealed-state targets.
pub const STORAGE_KEY: [u8; 32] = [0x5a; 32];

/// The limits of the decrypt fixtures: small, so that a mutated counter
/// reaches `TooManySkipped` and a success reaches eviction quickly. Classic
/// X3DH is allowed: the fixtures' sessions are classic ones, so that a
/// mutated prekey message reaches the handshake.
pub fn decrypt_config(header_encryption: bool) -> SessionConfig {
    SessionConfig::new(16, 32)
        .unwrap_or_default()
        .with_header_encryption(header_encryption)
        .with_classic_x3dh(true)
}

/// A ChaCha20 RNG seeded with 32 copies of `seed`.
pub fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// Yields the given bytes, then zeros: replays the nonce of a sealed state,
/// so that sealing what was opened gives back the same bytes.
#[derive(Debug)]
pub struct ReplayRng<'a> {
    bytes: &'a [u8],
}

impl<'a> ReplayRng<'a> {
    /// An RNG that yields `bytes` first.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
}

impl TryRng for ReplayRng<'_> {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let n = dst.len().min(self.bytes.len());
        let (head, rest) = self.bytes.split_at(n);
        let (out, zeros) = dst.split_at_mut(n);
        out.copy_from_slice(head);
        zeros.fill(0);
        self.bytes = rest;
        Ok(())
    }
}

impl TryCryptoRng for ReplayRng<'_> {}

/// A message of a decrypt fixture.
#[derive(Debug)]
pub struct Genuine {
    /// Its encoding.
    pub bytes: Vec<u8>,
    /// The ratchet message it carries: a prekey message's inner message,
    /// else the whole encoding. A live session takes this message in either
    /// envelope (SPEC §5), so it is what identifies the message.
    pub ratchet: Vec<u8>,
    /// Whether Bob (the responder) is its recipient.
    pub to_bob: bool,
    /// What it decrypts to.
    pub plaintext: Vec<u8>,
    /// Whether the stored recipient has not decrypted it yet.
    pub pending: bool,
}

/// Two live sessions after a few ratchet steps, with messages held back in
/// both directions (in an old chain, in the current chain, and one that
/// starts a new chain), all stored.
#[derive(Debug)]
pub struct Fixture {
    /// Alice's (initiator's) stored session.
    pub alice: Vec<u8>,
    /// Bob's (responder's) stored session.
    pub bob: Vec<u8>,
    /// Bob's stored account: its first one-time prekey is used, a second
    /// one is not.
    pub bob_account: Vec<u8>,
    /// Every message of the exchange, delivered or held back.
    pub messages: Vec<Genuine>,
}

/// The fixture of this mode, built once.
pub fn fixture(header_encryption: bool) -> &'static Fixture {
    static PLAIN: OnceLock<Fixture> = OnceLock::new();
    static HEADER: OnceLock<Fixture> = OnceLock::new();
    let cell = if header_encryption { &HEADER } else { &PLAIN };
    cell.get_or_init(|| build_fixture(header_encryption))
}

/// An account without a KEM prekey, drawn as `Account::new` drew before
/// PQXDH (identity, then signed prekey): the decrypt fixtures keep their
/// bytes, and the inputs that fuzzing campaigns found for them stay
/// genuine. Their sessions run classic X3DH (allowed explicitly); PQXDH
/// is fuzzed by `protocol`, the stored states and the PQ decoders.
fn classic_account(rng: &mut ChaCha20Rng) -> Account {
    let identity = IdentityKeyPair::generate(rng);
    Account::from_keys(identity, SignedPreKey::generate(1, rng))
}

/// Alice's session from Bob's bundle with the first of `opks` (PQXDH from
/// a post-quantum bundle, X3DH from a classic one).
fn initiate_with_first_prekey(
    alice: &Account,
    bob: &Account,
    opks: &[(u32, PublicKey)],
    config: SessionConfig,
    rng: &mut ChaCha20Rng,
) -> Session {
    let opk = opks.first().map(|(id, _)| *id);
    let bundle = bob
        .bundle(opk)
        .and_then(|b| b.verify())
        .expect("own bundle verifies");
    let config = config.with_classic_x3dh(true);
    Session::initiate(alice.identity(), &bundle, config, rng).expect("initiate works")
}

fn build_fixture(header_encryption: bool) -> Fixture {
    let mut rng = rng(if header_encryption { 2 } else { 1 });
    let config = decrypt_config(header_encryption);
    let alice = classic_account(&mut rng);
    let mut bob = classic_account(&mut rng);
    let opks = bob.generate_one_time_prekeys(2, &mut rng);
    let mut a = initiate_with_first_prekey(&alice, &bob, &opks, config, &mut rng);
    let mut messages = Vec::new();
    let mut send = |s: &mut Session, to_bob: bool, text: &str, rng: &mut ChaCha20Rng| {
        let m = s.encrypt(text.as_bytes(), rng).expect("encrypt works");
        let ratchet = match &m {
            AnyMessage::PreKey(p) => p.message().as_bytes().to_vec(),
            other => other.encode(),
        };
        messages.push(Genuine {
            bytes: m.encode(),
            ratchet,
            to_bob,
            plaintext: text.as_bytes().to_vec(),
            pending: true,
        });
        (messages.len() - 1, m)
    };
    let (_, a0) = send(&mut a, true, "a0", &mut rng);
    let AnyMessage::PreKey(first) = &a0 else {
        unreachable!("an unacknowledged initiator sends prekey messages")
    };
    let mut b = bob.accept(first, config).expect("accept works").session;
    let (a1, _) = send(&mut a, true, "a1: held, old chain", &mut rng);
    let (_, a2) = send(&mut a, true, "a2", &mut rng);
    b.decrypt(&a2).expect("a2 decrypts");
    let (_, b0) = send(&mut b, false, "b0", &mut rng);
    a.decrypt(&b0).expect("b0 decrypts");
    let (b1, _) = send(&mut b, false, "b1: held, old chain", &mut rng);
    let (_, b2) = send(&mut b, false, "b2", &mut rng);
    a.decrypt(&b2).expect("b2 decrypts");
    let (_, a3) = send(&mut a, true, "a3", &mut rng);
    b.decrypt(&a3).expect("a3 decrypts");
    let (a4, _) = send(&mut a, true, "a4: held, current chain", &mut rng);
    let (_, b3) = send(&mut b, false, "b3", &mut rng);
    a.decrypt(&b3).expect("b3 decrypts");
    let (b4, _) = send(&mut b, false, "b4: held, current chain", &mut rng);
    let (a5, _) = send(&mut a, true, "a5: held, new chain", &mut rng);
    let pending = [a1, b1, a4, b4, a5];
    for (i, m) in messages.iter_mut().enumerate() {
        m.pending = pending.contains(&i);
    }
    Fixture {
        alice: a.to_stored().to_vec(),
        bob: b.to_stored().to_vec(),
        bob_account: bob.to_stored().to_vec(),
        messages,
    }
}

/// Stored accounts and sessions at many stages of their lives (for the
/// loader seeds): fresh, with prekeys, rotated; initiator before and after
/// the reply, responder before and after its first send, with skipped keys,
/// in both modes.
pub fn stored_states() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut rng = rng(3);
    let mut accounts = Vec::new();
    let mut sessions = Vec::new();
    for header_encryption in [false, true] {
        let config = decrypt_config(header_encryption);
        let alice = Account::new(&mut rng);
        let mut bob = Account::new(&mut rng);
        accounts.push(bob.to_stored().to_vec());
        let opks = bob.generate_one_time_prekeys(3, &mut rng);
        accounts.push(bob.to_stored().to_vec());
        bob.mark_one_time_prekeys_published();
        bob.rotate_signed_prekey(&mut rng);
        accounts.push(bob.to_stored().to_vec());
        let mut a = initiate_with_first_prekey(&alice, &bob, &opks, config, &mut rng);
        sessions.push(a.to_stored().to_vec());
        let first = a.encrypt(b"1", &mut rng).expect("encrypt works");
        let AnyMessage::PreKey(first) = &first else {
            unreachable!("an unacknowledged initiator sends prekey messages")
        };
        let mut b = bob.accept(first, config).expect("accept works").session;
        accounts.push(bob.to_stored().to_vec());
        sessions.push(b.to_stored().to_vec());
        let held = a.encrypt(b"2", &mut rng).expect("encrypt works");
        let third = a.encrypt(b"3", &mut rng).expect("encrypt works");
        b.decrypt(&third).expect("decrypts");
        sessions.push(b.to_stored().to_vec());
        for round in 0..3u8 {
            let reply = b.encrypt(&[round], &mut rng).expect("encrypt works");
            let _lost = b.encrypt(b"lost", &mut rng).expect("encrypt works");
            let last = b.encrypt(b"last", &mut rng).expect("encrypt works");
            a.decrypt(&reply).expect("decrypts");
            a.decrypt(&last).expect("decrypts");
            sessions.push(a.to_stored().to_vec());
            let m = a.encrypt(&[round], &mut rng).expect("encrypt works");
            b.decrypt(&m).expect("decrypts");
            sessions.push(b.to_stored().to_vec());
        }
        b.decrypt(&held).expect("decrypts");
        sessions.push(b.to_stored().to_vec());
    }
    (accounts, sessions)
}
