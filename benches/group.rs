//! Criterion benches of group messages (SPEC §10), each next to its floor:
//! the raw primitive calls the operation cannot avoid, in the same run.
//!
//! - `group/encrypt/<size>` vs `group/floor_encrypt/<size>`: the chain step
//!   (HMAC-SHA256 ×2), HKDF-SHA256 (44 bytes), AES-256-GCM over the
//!   plaintext with the 25-byte header as associated data, an Ed25519
//!   signature over the whole message, and the 16-byte salt draw.
//! - `group/decrypt/<size>` vs `group/floor_decrypt/<size>`: Ed25519
//!   `verify_strict`, the chain step, HKDF, AES-256-GCM open.
//! - `fanout/…`: sending 1 KiB to a group of 100: one group encrypt against
//!   100 pairwise `Session::encrypt` calls (established sessions). The bytes
//!   each puts on the wire are printed to stderr before the run.
//!
//! ```text
//! cargo bench --bench group -- --warm-up-time 1 --measurement-time 3
//! ```

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use cliquet::rand_core::Rng;
use cliquet::{
    Account, AnyMessage, GroupMessage, GroupSession, IdentityKey, IdentityKeyPair,
    SenderKeyDistribution, Session, SessionConfig,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer, SigningKey};
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::Sha256;

const GROUP_ID: [u8; 16] = *b"benchmark group!";
const SIZES: [usize; 2] = [100, 16 * 1024];
/// Members of the fan-out comparison, and its payload.
const FANOUT_MEMBERS: usize = 100;
const FANOUT_LEN: usize = 1024;
/// Messages encrypted (untimed) per batch of the decrypt benches.
const BATCH: u64 = 256;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn label(len: usize) -> String {
    if len >= 1024 {
        format!("{}KiB", len >> 10)
    } else {
        format!("{len}B")
    }
}

/// A sender with a chain and a receiver holding its distribution.
struct Group {
    sender: GroupSession,
    receiver: GroupSession,
    identity: IdentityKey,
    rng: ChaCha20Rng,
}

impl Group {
    fn new(seed: u8) -> Self {
        let mut rng = rng(seed);
        let identity = *IdentityKeyPair::generate(&mut rng).public_key();
        let mut sender = GroupSession::new(GROUP_ID, SessionConfig::default());
        let mut receiver = GroupSession::new(GROUP_ID, SessionConfig::default());
        let d = sender.rotate(&mut rng).expect("rotate");
        let d = SenderKeyDistribution::decode(&d.encode()[..]).expect("decodes");
        receiver
            .receive_distribution(&identity, &d)
            .expect("receive");
        Self {
            sender,
            receiver,
            identity,
            rng,
        }
    }
}

/// `KDF_CK`: two HMAC-SHA256 under one key schedule.
fn kdf_ck(chain_key: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let keyed = Hmac::<Sha256>::new_from_slice(chain_key).expect("any key length");
    let mut first = keyed.clone();
    first.update(&[0x01]);
    let mut second = keyed;
    second.update(&[0x02]);
    (
        first.finalize().into_bytes().into(),
        second.finalize().into_bytes().into(),
    )
}

/// `HKDF(salt, MK, "cliquet/v1/group-message", 44)` → key, nonce.
fn message_keys(salt: &[u8], message_key: &[u8; 32]) -> ([u8; 32], [u8; 12]) {
    let mut okm = [0u8; 44];
    hkdf::Hkdf::<Sha256>::new(Some(salt), message_key)
        .expand(b"cliquet/v1/group-message", &mut okm)
        .expect("length within bounds");
    let (key, nonce) = okm.split_at(32);
    (
        key.try_into().expect("32 bytes"),
        nonce.try_into().expect("12 bytes"),
    )
}

/// The floor of a group encrypt: salt draw, chain step, HKDF, AES-GCM in
/// place over a buffer laid out like the message, Ed25519 signature.
struct EncryptFloor {
    rng: ChaCha20Rng,
    chain_key: [u8; 32],
    signing: SigningKey,
    buf: Vec<u8>,
}

impl EncryptFloor {
    fn new(len: usize) -> Self {
        Self {
            rng: rng(90),
            chain_key: [7; 32],
            signing: SigningKey::from_bytes(&[8; 32]),
            buf: vec![0x61; 25 + 16 + len + 16],
        }
    }

    fn run(&mut self) -> Signature {
        let (header, rest) = self.buf.split_at_mut(25);
        let (salt, rest) = rest.split_at_mut(16);
        self.rng.fill_bytes(salt);
        let (message_key, next) = kdf_ck(&self.chain_key);
        let (key, nonce) = message_keys(salt, &message_key);
        let (body, tag_out) = rest.split_at_mut(rest.len() - 16);
        let tag = Aes256Gcm::new(&key.into())
            .encrypt_inout_detached(&Nonce::<U12>::from(nonce), header, body.into())
            .expect("seal");
        tag_out.copy_from_slice(&tag);
        self.chain_key = next;
        self.signing.sign(&self.buf)
    }
}

/// The floor of a group decrypt: strict verification, chain step, HKDF,
/// AES-GCM open into a buffer the caller owns.
struct DecryptFloor {
    message: Vec<u8>,
    verifying: ed25519_dalek::VerifyingKey,
    signature: Signature,
    chain_key: [u8; 32],
    out: Vec<u8>,
}

impl DecryptFloor {
    fn new(len: usize) -> Self {
        let mut encrypt = EncryptFloor::new(len);
        let chain_key = encrypt.chain_key;
        let signature = encrypt.run();
        Self {
            message: encrypt.buf,
            verifying: encrypt.signing.verifying_key(),
            signature,
            chain_key,
            out: vec![0; len],
        }
    }

    fn run(&mut self) -> bool {
        self.verifying
            .verify_strict(&self.message, &self.signature)
            .expect("verifies");
        let (header, rest) = self.message.split_at(25);
        let (salt, rest) = rest.split_at(16);
        let (message_key, _next) = kdf_ck(&self.chain_key);
        let (key, nonce) = message_keys(salt, &message_key);
        let (body, tag) = rest.split_at(rest.len() - 16);
        let tag = Tag::try_from(tag).expect("16 bytes");
        let buf = InOutBuf::new(body, &mut self.out).expect("equal lengths");
        Aes256Gcm::new(&key.into())
            .decrypt_inout_detached(&Nonce::<U12>::from(nonce), header, buf, &tag)
            .is_ok()
    }
}

fn group(c: &mut Criterion) {
    let mut g = c.benchmark_group("group");
    for len in SIZES {
        let payload = vec![0x61; len];
        g.throughput(Throughput::Bytes(u64::try_from(len).expect("fits")));
        let mut group = Group::new(1);
        g.bench_function(BenchmarkId::new("encrypt", label(len)), |b| {
            b.iter(|| {
                group
                    .sender
                    .encrypt(black_box(&payload), &mut group.rng)
                    .expect("encrypt")
            });
        });
        let mut floor = EncryptFloor::new(len);
        g.bench_function(BenchmarkId::new("floor_encrypt", label(len)), |b| {
            b.iter(|| floor.run());
        });
        // A pair of its own: the encrypt bench above moved its sender's
        // chain far ahead of its receiver.
        let mut stream = Group::new(3);
        g.bench_function(BenchmarkId::new("decrypt", label(len)), |b| {
            b.iter_custom(|iters| decrypt_stream(&mut stream, &payload, iters));
        });
        let mut floor = DecryptFloor::new(len);
        g.bench_function(BenchmarkId::new("floor_decrypt", label(len)), |b| {
            b.iter(|| floor.run());
        });
    }
    g.finish();
}

/// Times decrypting in-order messages of the sender's chain, encrypted
/// (untimed) in batches.
fn decrypt_stream(group: &mut Group, payload: &[u8], iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let messages: Vec<GroupMessage> = (0..n)
            .map(|_| {
                group
                    .sender
                    .encrypt(payload, &mut group.rng)
                    .expect("encrypt")
            })
            .collect();
        let start = Instant::now();
        for m in &messages {
            black_box(
                group
                    .receiver
                    .decrypt(&group.identity, black_box(m))
                    .expect("decrypt"),
            );
        }
        total += start.elapsed();
        left -= n;
    }
    total
}

/// One sender's established sessions with `n` members (after one message
/// each way, so that each encrypt is a plain 0x11 message).
fn pairwise_sessions(n: usize) -> (Vec<Session>, ChaCha20Rng) {
    let mut rng = rng(60);
    let sender = Account::new(&mut rng);
    let sessions = (0..n)
        .map(|_| {
            let mut member = Account::new(&mut rng);
            let bundle = member
                .bundle(None)
                .expect("bundle")
                .verify()
                .expect("verifies");
            let mut session = Session::initiate(
                sender.identity(),
                &bundle,
                SessionConfig::default(),
                &mut rng,
            )
            .expect("initiate");
            let AnyMessage::PreKey(first) = session.encrypt(b"hi", &mut rng).expect("encrypt")
            else {
                panic!("the first message is a prekey message");
            };
            let mut theirs = member
                .accept(&first, SessionConfig::default())
                .expect("accept")
                .session;
            let reply = theirs.encrypt(b"hello", &mut rng).expect("encrypt");
            session.decrypt(&reply).expect("decrypt");
            session
        })
        .collect();
    (sessions, rng)
}

fn fanout(c: &mut Criterion) {
    let payload = vec![0x61; FANOUT_LEN];
    let mut group = Group::new(2);
    let (mut sessions, mut rng) = pairwise_sessions(FANOUT_MEMBERS);
    // Bytes on the wire, for the report.
    let group_bytes = group
        .sender
        .encrypt(&payload, &mut group.rng)
        .expect("encrypt")
        .as_bytes()
        .len();
    let pairwise_bytes: usize = sessions
        .iter_mut()
        .map(|s| {
            s.encrypt(&payload, &mut rng)
                .expect("encrypt")
                .encode()
                .len()
        })
        .sum();
    eprintln!(
        "fanout: 1 KiB to {FANOUT_MEMBERS} members: group message {group_bytes} B uploaded \
         once (the server fans out {} B); pairwise {FANOUT_MEMBERS} messages, {pairwise_bytes} B \
         uploaded ({} B each)",
        group_bytes * FANOUT_MEMBERS,
        pairwise_bytes / FANOUT_MEMBERS
    );
    let mut g = c.benchmark_group("fanout");
    g.throughput(Throughput::Elements(
        u64::try_from(FANOUT_MEMBERS).expect("fits"),
    ));
    g.bench_function("group_encrypt_1KiB_to_100", |b| {
        b.iter(|| {
            group
                .sender
                .encrypt(black_box(&payload), &mut group.rng)
                .expect("encrypt")
        });
    });
    g.bench_function("pairwise_encrypt_1KiB_to_100", |b| {
        b.iter(|| {
            for s in &mut sessions {
                black_box(s.encrypt(black_box(&payload), &mut rng).expect("encrypt"));
            }
        });
    });
    g.finish();
}

criterion_group!(benches, group, fanout);
criterion_main!(benches);
