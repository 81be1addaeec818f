//! Criterion suite for cliquet: every operation a messenger performs, next to
//! the raw primitive calls it cannot avoid (the `floor` group), in one run.
//!
//! Groups (see `BENCHMARKS.md` for what each operation must call per SPEC and
//! for `benches/report.py`, which turns a run into the table of ratios):
//! - `ratchet`, `ratchet_he`: steady-chain encrypt and decrypt at 0 B to
//!   1 MiB, a ping-pong turn; without and with header encryption (§6).
//! - `skipped`, `skipped_he`: in-order decrypt with 0, 100 and 2,000 skipped
//!   keys stored, decrypt from the store, a message that starts a new chain
//!   (with header encryption: trial decryptions against every stored chain's
//!   header key), and a maximal `max_skip` jump.
//! - `x3dh`: bundle creation, bundle verification, `Session::initiate`,
//!   `Account::accept`.
//! - `state`: store and load of an account and of a session, plain and sealed.
//! - `floor`: X25519, HMAC-SHA256, HKDF-SHA256 at our output lengths,
//!   AES-256-GCM at each size and associated-data length, Ed25519, the RNG.
//!
//! Before the groups run, the binary prints to stderr the memory report (size
//! of an idle session, stored sizes) and the paired report: the issue's
//! targets measured as interleaved rounds of operation and floor, which load
//! drift on a shared machine cannot bias (`CLIQUET_NO_PAIRED=1` skips it).
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark whose setup fails must stop: its numbers would be meaningless"
)]

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use cliquet::rand_core::Rng;
use cliquet::{Account, AnyMessage, PreKeyBundle, Session, SessionConfig};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::Sha256;

/// Plaintext sizes of the steady-chain benches.
const SIZES: [usize; 5] = [0, 100, 1024, 16 * 1024, 1 << 20];
/// The payload of every bench that is not about size.
const PAYLOAD_LEN: usize = 100;
/// `AD` (64) plus the 41 header bytes of a Message (§4).
const AAD_PLAIN: usize = 64 + 41;
/// `AD` (64) plus the 69 header bytes of an EncryptedHeaderMessage (§6).
const AAD_HE: usize = 64 + 69;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn config(header_encryption: bool) -> SessionConfig {
    SessionConfig::default().with_header_encryption(header_encryption)
}

fn throughput(len: usize) -> Throughput {
    match len {
        0 => Throughput::Elements(1),
        n => Throughput::Bytes(u64::try_from(n).expect("size fits u64")),
    }
}

fn sized_label(len: usize) -> String {
    match len {
        n if n >= 1 << 20 => format!("{}MiB", n >> 20),
        n if n >= 1024 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

/// Two sessions after the handshake: Alice (initiator, acknowledged) and Bob
/// (responder). Alice's next encrypt starts a new sending chain.
struct Pair {
    alice: Session,
    bob: Session,
    rng: ChaCha20Rng,
}

impl Pair {
    fn new(header_encryption: bool, seed: u8) -> Self {
        let mut rng = rng(seed);
        let alice_account = Account::new(&mut rng);
        let mut bob_account = Account::new(&mut rng);
        let (id, _) = bob_account
            .generate_one_time_prekeys(1, &mut rng)
            .into_iter()
            .next()
            .expect("one prekey");
        let bundle = bob_account
            .bundle(Some(id))
            .expect("bundle")
            .verify()
            .expect("verifies");
        let mut alice = Session::initiate(
            alice_account.identity(),
            &bundle,
            config(header_encryption),
            &mut rng,
        )
        .expect("initiate");
        let AnyMessage::PreKey(first) = alice.encrypt(b"hello", &mut rng).expect("encrypt") else {
            panic!("the first message is a prekey message");
        };
        let bob = bob_account
            .accept(&first, config(header_encryption))
            .expect("accept")
            .session;
        let mut pair = Self { alice, bob, rng };
        pair.bob_replies();
        assert!(pair.alice.is_acknowledged());
        pair
    }

    fn alice_sends(&mut self, payload: &[u8]) -> AnyMessage {
        self.alice.encrypt(payload, &mut self.rng).expect("encrypt")
    }

    /// Bob sends one message and Alice decrypts it: her next message starts
    /// a new chain.
    fn bob_replies(&mut self) {
        let reply = self.bob.encrypt(b"reply", &mut self.rng).expect("encrypt");
        self.alice.decrypt(&reply).expect("decrypt reply");
    }

    /// Alice sends `skip + 1` messages in a new chain; only the last is
    /// delivered, so Bob stores `skip` keys. Returns the undelivered ones.
    fn new_chain_skipping(&mut self, skip: usize, payload: &[u8]) -> Vec<AnyMessage> {
        self.bob_replies();
        let mut undelivered: Vec<AnyMessage> =
            (0..=skip).map(|_| self.alice_sends(payload)).collect();
        let last = undelivered.pop().expect("at least one message");
        self.bob.decrypt(&last).expect("decrypt last");
        undelivered
    }
}

/// Times decrypting a stream of in-order messages of Alice's current chain.
/// Encryption (untimed) produces them in batches; the receiver is the live
/// session, so its skipped-key store stays exactly as it is.
fn decrypt_stream(b: &mut criterion::Bencher<'_>, pair: &mut Pair, payload: &[u8], batch: u64) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(batch);
            let messages: Vec<AnyMessage> = (0..n).map(|_| pair.alice_sends(payload)).collect();
            let start = Instant::now();
            for m in &messages {
                black_box(pair.bob.decrypt(black_box(m)).expect("decrypt"));
            }
            total += start.elapsed();
            drop(messages);
            left -= n;
        }
        total
    })
}

/// Times decrypting `messages` with fresh copies of a stored receiver
/// (`Session::from_bytes`, untimed): each copy decrypts at most `per_copy`
/// of them, in order, before it is replaced.
fn decrypt_fresh(
    b: &mut criterion::Bencher<'_>,
    stored: &[u8],
    messages: &[AnyMessage],
    per_copy: usize,
) {
    let per_copy = u64::try_from(per_copy.clamp(1, messages.len())).expect("fits");
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(per_copy);
            let mut session = Session::from_bytes(stored).expect("stored session loads");
            let start = Instant::now();
            for m in messages.iter().take(usize::try_from(n).expect("fits")) {
                black_box(session.decrypt(black_box(m)).expect("decrypt"));
            }
            total += start.elapsed();
            drop(session);
            left -= n;
        }
        total
    })
}

fn ratchet(c: &mut Criterion, header_encryption: bool) {
    let mut g = c.benchmark_group(if header_encryption {
        "ratchet_he"
    } else {
        "ratchet"
    });
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20);
    let seed = if header_encryption { 11 } else { 10 };
    for len in SIZES {
        let payload = vec![0x5a; len];
        g.throughput(throughput(len));
        let mut pair = Pair::new(header_encryption, seed);
        pair.alice_sends(b"start the chain"); // the DH step is not part of steady encrypt
        g.bench_function(BenchmarkId::new("encrypt", sized_label(len)), |b| {
            b.iter(|| {
                pair.alice
                    .encrypt(black_box(&payload), &mut pair.rng)
                    .expect("encrypt")
            })
        });
        bench_floor(
            &mut g,
            format!("encrypt_floor/{}", sized_label(len)),
            len,
            header_encryption,
            Cost::encrypt(header_encryption),
        );
        let mut pair = Pair::new(header_encryption, seed);
        let first = pair.alice_sends(b"start the chain");
        pair.bob.decrypt(&first).expect("decrypt");
        let batch = if len >= 1 << 20 { 8 } else { 256 };
        g.bench_function(BenchmarkId::new("decrypt", sized_label(len)), |b| {
            decrypt_stream(b, &mut pair, &payload, batch)
        });
        bench_floor(
            &mut g,
            format!("decrypt_floor/{}", sized_label(len)),
            len,
            header_encryption,
            Cost::decrypt(header_encryption, 0),
        );
        if len == PAYLOAD_LEN {
            // Cross-check of the streaming method: a fresh copy of the
            // receiver for every single decrypt.
            let stored = pair.bob.to_bytes();
            let next = [pair.alice_sends(&payload)];
            g.measurement_time(Duration::from_millis(300));
            g.bench_function(
                BenchmarkId::new("decrypt_fresh_copy", sized_label(len)),
                |b| decrypt_fresh(b, &stored, &next, 1),
            );
            g.measurement_time(Duration::from_millis(800));
        }
    }
    let payload = [0x5a; PAYLOAD_LEN];
    g.throughput(Throughput::Elements(1));
    let mut pair = Pair::new(header_encryption, seed);
    g.bench_function("ping_pong", |b| {
        b.iter(|| {
            let m = pair
                .alice
                .encrypt(&payload, &mut pair.rng)
                .expect("encrypt");
            black_box(pair.bob.decrypt(&m).expect("decrypt"));
            let r = pair.bob.encrypt(&payload, &mut pair.rng).expect("encrypt");
            black_box(pair.alice.decrypt(&r).expect("decrypt"))
        })
    });
    bench_floor(
        &mut g,
        "ping_pong_floor".into(),
        PAYLOAD_LEN,
        header_encryption,
        Cost::ping_pong(header_encryption),
    );
    g.finish();
}

fn ratchet_plain(c: &mut Criterion) {
    ratchet(c, false);
}

fn ratchet_he(c: &mut Criterion) {
    ratchet(c, true);
}

fn skipped(c: &mut Criterion, header_encryption: bool) {
    let mut g = c.benchmark_group(if header_encryption {
        "skipped_he"
    } else {
        "skipped"
    });
    g.warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500))
        .sample_size(15)
        .throughput(Throughput::Elements(1));
    let payload = [0x5a; PAYLOAD_LEN];
    let seed = if header_encryption { 21 } else { 20 };
    // Stored keys, and how they are spread over chains (the last is the
    // current receiving chain; with header encryption every other chain is
    // one more header key to try first).
    let scenarios: [(usize, &[usize]); 4] = [
        (0, &[0]),
        (1, &[1]),
        (100, &[100]),
        (2000, &[500, 500, 500, 500]),
    ];
    for (keys, chains) in scenarios {
        let mut pair = Pair::new(header_encryption, seed);
        let mut undelivered = Vec::new();
        for &skip in chains {
            undelivered = pair.new_chain_skipping(skip, &payload);
        }
        assert_eq!(pair.bob.skipped_keys(), keys);
        // With header encryption, the header keys of stored chains other
        // than the current one are tried first (§6), each a failed open.
        let older_chains = u32::try_from(chains.len() - 1).expect("fits");
        if keys > 0 {
            let stored = pair.bob.to_bytes();
            // Up to a tenth of the store per copy: its size barely moves.
            let per_copy = (keys / 10).max(1);
            g.bench_function(BenchmarkId::new("from_store", keys), |b| {
                decrypt_fresh(b, &stored, &undelivered, per_copy)
            });
            bench_floor(
                &mut g,
                format!("from_store_floor/{keys}"),
                PAYLOAD_LEN,
                header_encryption,
                Cost::from_store(header_encryption, older_chains),
            );
        }
        if keys == 1 {
            continue;
        }
        g.bench_function(BenchmarkId::new("in_order", keys), |b| {
            decrypt_stream(b, &mut pair, &payload, 256)
        });
        bench_floor(
            &mut g,
            format!("in_order_floor/{keys}"),
            PAYLOAD_LEN,
            header_encryption,
            Cost::decrypt(header_encryption, older_chains),
        );
        // A message of Alice's next chain: a DH ratchet step for Bob.
        let reply = pair.bob.encrypt(b"reply", &mut pair.rng).expect("encrypt");
        let stored = pair.bob.to_bytes();
        pair.alice.decrypt(&reply).expect("decrypt");
        let next_chain = [pair.alice_sends(&payload)];
        g.bench_function(BenchmarkId::new("new_chain", keys), |b| {
            decrypt_fresh(b, &stored, &next_chain, 1)
        });
        // The older chains' header keys and `HKr` fail before `NHKr` opens.
        let failed = older_chains + 1;
        bench_floor(
            &mut g,
            format!("new_chain_floor/{keys}"),
            PAYLOAD_LEN,
            header_encryption,
            Cost::new_chain(header_encryption, failed),
        );
        if keys == 0 {
            // The largest gap max_skip allows, in the current chain.
            let [first] = &next_chain;
            pair.bob.decrypt(first).expect("decrypt");
            let stored = pair.bob.to_bytes();
            let max_skip = SessionConfig::default().max_skip();
            for _ in 0..max_skip {
                pair.alice_sends(&payload);
            }
            let jump = [pair.alice_sends(&payload)];
            let [jump_message] = &jump;
            assert_eq!(
                Session::from_bytes(&stored)
                    .map(|mut s| s.decrypt(jump_message).map(|_| s.skipped_keys())),
                Ok(Ok(usize::try_from(max_skip).expect("fits"))),
            );
            g.bench_function("max_skip_jump", |b| decrypt_fresh(b, &stored, &jump, 1));
            bench_floor(
                &mut g,
                "max_skip_jump_floor".into(),
                PAYLOAD_LEN,
                header_encryption,
                Cost::jump(header_encryption, max_skip),
            );
        }
    }
    g.finish();
}

fn skipped_plain(c: &mut Criterion) {
    skipped(c, false);
}

fn skipped_he(c: &mut Criterion) {
    skipped(c, true);
}

fn x3dh(c: &mut Criterion) {
    let mut g = c.benchmark_group("x3dh");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20);
    let mut rng = rng(30);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let (id, _) = bob
        .generate_one_time_prekeys(1, &mut rng)
        .into_iter()
        .next()
        .expect("one prekey");
    let bob_stored = bob.to_bytes();

    let mut creator = Account::from_bytes(&bob_stored).expect("loads");
    g.bench_function("bundle_create", |b| {
        b.iter(|| {
            creator.rotate_signed_prekey(&mut rng);
            creator.bundle(Some(id)).expect("bundle").to_bytes()
        })
    });
    let x3dh_floor = |g: &mut criterion::BenchmarkGroup<'_, _>, name: &str, cost: Cost| {
        bench_floor(g, format!("{name}_floor"), PAYLOAD_LEN, false, cost);
    };
    x3dh_floor(
        &mut g,
        "bundle_create",
        Cost {
            rng32: 1,
            keygen: 1,
            ed_sign: 1,
            ..Cost::NONE
        },
    );

    let bundle_bytes = bob.bundle(Some(id)).expect("bundle").to_bytes();
    g.bench_function("bundle_verify", |b| {
        b.iter(|| {
            PreKeyBundle::decode(black_box(&bundle_bytes))
                .expect("decodes")
                .verify()
                .expect("verifies")
        })
    });
    x3dh_floor(
        &mut g,
        "bundle_verify",
        Cost {
            ed_decode: 1,
            ed_montgomery: 1,
            ed_verify: 1,
            ..Cost::NONE
        },
    );

    let verified = PreKeyBundle::decode(&bundle_bytes)
        .expect("decodes")
        .verify()
        .expect("verifies");
    g.bench_function("initiate", |b| {
        b.iter(|| {
            Session::initiate(
                alice.identity(),
                black_box(&verified),
                SessionConfig::default(),
                &mut rng,
            )
            .expect("initiate")
        })
    });
    // DH1-DH4 with a one-time prekey, then the first ratchet key's DH.
    x3dh_floor(
        &mut g,
        "initiate",
        Cost {
            rng32: 2,
            keygen: 2,
            dh: 5,
            x3dh_kdf: 1,
            kdf_rk: 1,
            ..Cost::NONE
        },
    );

    let first = first_prekey_message(&alice, &verified, &mut rng);
    g.bench_function("accept", |b| {
        b.iter_batched_ref(
            || Account::from_bytes(&bob_stored).expect("loads"),
            |account| {
                account
                    .accept(black_box(&first), SessionConfig::default())
                    .expect("accept")
            },
            BatchSize::SmallInput,
        )
    });
    // The peer's identity key decoded and converted, DH1-DH4, then the
    // first message: a DH ratchet step and a decrypt.
    x3dh_floor(
        &mut g,
        "accept",
        Cost {
            ed_decode: 1,
            ed_montgomery: 1,
            dh: 5,
            x3dh_kdf: 1,
            kdf_rk: 1,
            ..Cost::DECRYPT
        },
    );
    g.finish();
}

fn state(c: &mut Criterion) {
    let mut g = c.benchmark_group("state");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20);
    let storage_key = [7u8; 32];
    let mut rng = rng(40);

    let mut account = Account::new(&mut rng);
    account.generate_one_time_prekeys(100, &mut rng);
    let stored = account.to_bytes();
    let sealed = account.seal(&storage_key, &mut rng).expect("seal");
    g.bench_function("account_100_opk/to_bytes", |b| {
        b.iter(|| account.to_bytes())
    });
    g.bench_function("account_100_opk/from_bytes", |b| {
        b.iter(|| Account::from_bytes(black_box(&stored)).expect("loads"))
    });
    // What the stored format makes loading recompute: the identity's public
    // key, the signed prekey's signature, 101 X25519 public keys.
    bench_floor(
        &mut g,
        "account_100_opk/from_bytes_floor".into(),
        0,
        false,
        Cost {
            ed_keygen: 1,
            ed_sign: 1,
            keygen: 101,
            ..Cost::NONE
        },
    );
    g.bench_function("account_100_opk/seal", |b| {
        b.iter(|| account.seal(&storage_key, &mut rng).expect("seal"))
    });
    g.bench_function("account_100_opk/open", |b| {
        b.iter(|| Account::open(black_box(&sealed), &storage_key).expect("opens"))
    });

    let mut pair = Pair::new(false, 41);
    let m = pair.alice_sends(b"x");
    pair.bob.decrypt(&m).expect("decrypt");
    let mut with_skipped = Pair::new(false, 42);
    for _ in 0..4 {
        with_skipped.new_chain_skipping(500, b"x");
    }
    for (name, session) in [
        ("session", &pair.bob),
        ("session_2000_skipped", &with_skipped.bob),
    ] {
        let stored = session.to_bytes();
        let sealed = session.seal(&storage_key, &mut rng).expect("seal");
        g.bench_function(format!("{name}/to_bytes"), |b| {
            b.iter(|| session.to_bytes())
        });
        g.bench_function(format!("{name}/from_bytes"), |b| {
            b.iter(|| Session::from_bytes(black_box(&stored)).expect("loads"))
        });
        // Loading validates the peer's identity key, converts it, and
        // recomputes the public half of `DHs`.
        bench_floor(
            &mut g,
            format!("{name}/from_bytes_floor"),
            0,
            false,
            Cost {
                ed_decode: 1,
                ed_montgomery: 1,
                keygen: 1,
                ..Cost::NONE
            },
        );
        g.bench_function(format!("{name}/seal"), |b| {
            b.iter(|| session.seal(&storage_key, &mut rng).expect("seal"))
        });
        g.bench_function(format!("{name}/open"), |b| {
            b.iter(|| Session::open(black_box(&sealed), &storage_key).expect("opens"))
        });
    }
    g.finish();
}

/// `HKDF-SHA256(salt, ikm, info, N)`, the raw crate call.
fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut okm = [0u8; N];
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .expect("length within bounds");
    okm
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

/// AES-256-GCM with its key schedule (each message has its own key), in
/// place on a buffer the caller owns: the cheapest possible call.
fn aes_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Tag {
    Aes256Gcm::new(key.into())
        .encrypt_inout_detached(&Nonce::<U12>::from(*nonce), aad, buf.into())
        .expect("seal")
}

/// AES-256-GCM decryption from `sealed` into a buffer the caller owns (no
/// copy of the input first).
fn aes_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
    out: &mut [u8],
    tag: &Tag,
) -> bool {
    let buf = InOutBuf::new(sealed, out).expect("equal lengths");
    Aes256Gcm::new(key.into())
        .decrypt_inout_detached(&Nonce::<U12>::from(*nonce), aad, buf, tag)
        .is_ok()
}

/// How many times an operation must call each primitive (SPEC §3-§6); the
/// body seal and open are at the fixture's size and associated-data length.
#[derive(Clone, Copy, Default)]
struct Cost {
    rng16: u32,
    rng32: u32,
    keygen: u32,
    dh: u32,
    kdf_ck: u32,
    hkdf44: u32,
    kdf_rk: u32,
    kdf_rk_he: u32,
    x3dh_kdf: u32,
    header_seal: u32,
    header_open: u32,
    header_open_fail: u32,
    seal: u32,
    open: u32,
    ed_sign: u32,
    ed_decode: u32,
    ed_montgomery: u32,
    ed_verify: u32,
    ed_keygen: u32,
}

impl Cost {
    /// Steady encrypt: `KDF_CK`, the message KDF, the salt, the body.
    const ENCRYPT: Self = Self {
        kdf_ck: 1,
        hkdf44: 1,
        rng16: 1,
        seal: 1,
        ..Self::NONE
    };
    /// Steady decrypt.
    const DECRYPT: Self = Self {
        kdf_ck: 1,
        hkdf44: 1,
        open: 1,
        ..Self::NONE
    };
    const NONE: Self = Self {
        rng16: 0,
        rng32: 0,
        keygen: 0,
        dh: 0,
        kdf_ck: 0,
        hkdf44: 0,
        kdf_rk: 0,
        kdf_rk_he: 0,
        x3dh_kdf: 0,
        header_seal: 0,
        header_open: 0,
        header_open_fail: 0,
        seal: 0,
        open: 0,
        ed_sign: 0,
        ed_decode: 0,
        ed_montgomery: 0,
        ed_verify: 0,
        ed_keygen: 0,
    };

    /// Steady encrypt with header encryption: also the header nonce (charged
    /// as a 16-byte draw) and the header seal.
    const fn encrypt(header_encryption: bool) -> Self {
        if header_encryption {
            Self {
                rng16: 2,
                header_seal: 1,
                ..Self::ENCRYPT
            }
        } else {
            Self::ENCRYPT
        }
    }

    /// Decrypt in the current chain, after `failed` header keys that do not
    /// open the header (with header encryption).
    const fn decrypt(header_encryption: bool, failed: u32) -> Self {
        if header_encryption {
            Self {
                header_open: 1,
                header_open_fail: failed,
                ..Self::DECRYPT
            }
        } else {
            Self::DECRYPT
        }
    }

    /// One message each way, each a DH ratchet step: the sender draws and
    /// generates a ratchet key, one DH and `KDF_RK`, then encrypts; the
    /// receiver does one DH and `KDF_RK`, then decrypts (with header
    /// encryption after `HKr` failed and `NHKr` opened).
    const fn ping_pong(header_encryption: bool) -> Self {
        let he = header_encryption as u32;
        Self {
            rng32: 2,
            keygen: 2,
            dh: 4,
            kdf_rk: 4 * (1 - he),
            kdf_rk_he: 4 * he,
            kdf_ck: 4,
            hkdf44: 4,
            rng16: 2 + 2 * he,
            header_seal: 2 * he,
            header_open: 2 * he,
            header_open_fail: 2 * he,
            seal: 2,
            open: 2,
            ..Self::NONE
        }
    }

    /// Decrypt with a key from the store (no chain step), after `failed`
    /// header keys.
    const fn from_store(header_encryption: bool, failed: u32) -> Self {
        Self {
            kdf_ck: 0,
            ..Self::decrypt(header_encryption, failed)
        }
    }

    /// The first message of a new chain: one DH and `KDF_RK`, then decrypt.
    const fn new_chain(header_encryption: bool, failed: u32) -> Self {
        let he = header_encryption as u32;
        Self {
            dh: 1,
            kdf_rk: 1 - he,
            kdf_rk_he: he,
            ..Self::decrypt(header_encryption, failed)
        }
    }

    /// A gap of `skip` in the current chain: `skip` more chain steps.
    const fn jump(header_encryption: bool, skip: u32) -> Self {
        Self {
            kdf_ck: 1 + skip,
            ..Self::decrypt(header_encryption, 0)
        }
    }
}

/// Inputs of the raw primitive calls, for one body size and mode.
struct Floor {
    rng: ChaCha20Rng,
    secret32: [u8; 32],
    salt: [u8; 16],
    x3dh_ikm: [u8; 160],
    key: [u8; 32],
    wrong_key: [u8; 32],
    nonce: [u8; 12],
    ad: [u8; 64],
    aad: Vec<u8>,
    body: Vec<u8>,
    sealed: Vec<u8>,
    tag: Tag,
    opened: Vec<u8>,
    header: [u8; 40],
    sealed_header: [u8; 40],
    header_tag: Tag,
    x25519_secret: x25519_dalek::StaticSecret,
    x25519_public: x25519_dalek::PublicKey,
    signing: SigningKey,
    message: Vec<u8>,
    public_bytes: [u8; 32],
    verifying: VerifyingKey,
    signature: Signature,
}

impl Floor {
    fn new(len: usize, header_encryption: bool) -> Self {
        let (key, nonce, ad) = ([4u8; 32], [5u8; 12], [6u8; 64]);
        let aad = vec![6u8; if header_encryption { AAD_HE } else { AAD_PLAIN }];
        let mut sealed = vec![0x5a; len];
        let tag = aes_seal(&key, &nonce, &aad, &mut sealed);
        let mut sealed_header = [0x11u8; 40];
        let header_tag = aes_seal(&key, &nonce, &ad, &mut sealed_header);
        let signing = SigningKey::from_bytes(&[10u8; 32]);
        let mut message = b"cliquet/v1/signed-prekey".to_vec();
        message.extend_from_slice(&[12u8; 32]);
        let signature = signing.sign(&message);
        Self {
            rng: rng(50),
            secret32: [1u8; 32],
            salt: [2u8; 16],
            x3dh_ikm: [0xffu8; 160],
            key,
            wrong_key: [8u8; 32],
            nonce,
            ad,
            aad,
            body: vec![0x5a; len],
            sealed,
            tag,
            opened: vec![0u8; len],
            header: [0x11u8; 40],
            sealed_header,
            header_tag,
            x25519_secret: x25519_dalek::StaticSecret::from([9u8; 32]),
            x25519_public: x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(
                [3u8; 32],
            )),
            public_bytes: signing.verifying_key().to_bytes(),
            verifying: signing.verifying_key(),
            signing,
            message,
            signature,
        }
    }

    /// Calls each primitive as often as `cost` says.
    fn run(&mut self, cost: &Cost) {
        let k = &self.secret32;
        for _ in 0..cost.rng16 {
            let mut buf = [0u8; 16];
            self.rng.fill_bytes(&mut buf);
            black_box(buf);
        }
        for _ in 0..cost.rng32 {
            let mut buf = [0u8; 32];
            self.rng.fill_bytes(&mut buf);
            black_box(buf);
        }
        for _ in 0..cost.keygen {
            let secret = x25519_dalek::StaticSecret::from(*black_box(k));
            black_box(x25519_dalek::PublicKey::from(&secret));
        }
        for _ in 0..cost.dh {
            let shared = self
                .x25519_secret
                .diffie_hellman(black_box(&self.x25519_public));
            assert!(shared.was_contributory());
            black_box(shared.to_bytes());
        }
        for _ in 0..cost.kdf_ck {
            black_box(kdf_ck(black_box(k)));
        }
        for _ in 0..cost.hkdf44 {
            black_box(hkdf::<44>(black_box(&self.salt), k, b"cliquet/v1/message"));
        }
        for _ in 0..cost.kdf_rk {
            black_box(hkdf::<64>(black_box(k), k, b"cliquet/v1/root"));
        }
        for _ in 0..cost.kdf_rk_he {
            black_box(hkdf::<96>(black_box(k), k, b"cliquet/v1/root-he"));
        }
        for _ in 0..cost.x3dh_kdf {
            black_box(hkdf::<96>(
                black_box(&[0u8; 32]),
                &self.x3dh_ikm,
                b"cliquet/v1/x3dh",
            ));
        }
        for _ in 0..cost.header_seal {
            black_box(aes_seal(
                &self.key,
                &self.nonce,
                black_box(&self.ad),
                &mut self.header,
            ));
        }
        for _ in 0..cost.header_open {
            let mut out = [0u8; 40];
            let ok = aes_open(
                &self.key,
                &self.nonce,
                black_box(&self.ad),
                &self.sealed_header,
                &mut out,
                &self.header_tag,
            );
            assert!(ok);
            black_box(out);
        }
        for _ in 0..cost.header_open_fail {
            let mut out = [0u8; 40];
            let ok = aes_open(
                &self.wrong_key,
                &self.nonce,
                black_box(&self.ad),
                &self.sealed_header,
                &mut out,
                &self.header_tag,
            );
            assert!(!ok);
            black_box(out);
        }
        for _ in 0..cost.seal {
            black_box(aes_seal(
                &self.key,
                &self.nonce,
                black_box(&self.aad),
                &mut self.body,
            ));
        }
        for _ in 0..cost.open {
            let ok = aes_open(
                &self.key,
                &self.nonce,
                black_box(&self.aad),
                &self.sealed,
                &mut self.opened,
                &self.tag,
            );
            assert!(ok);
            black_box(&self.opened);
        }
        for _ in 0..cost.ed_sign {
            black_box(self.signing.sign(black_box(&self.message)));
        }
        for _ in 0..cost.ed_decode {
            black_box(VerifyingKey::from_bytes(black_box(&self.public_bytes)).expect("decodes"));
        }
        for _ in 0..cost.ed_montgomery {
            black_box(black_box(&self.verifying).to_montgomery());
        }
        for _ in 0..cost.ed_keygen {
            black_box(SigningKey::from_bytes(black_box(k)));
        }
        for _ in 0..cost.ed_verify {
            self.verifying
                .verify_strict(black_box(&self.message), &self.signature)
                .expect("verifies");
        }
    }
}

/// Benches `cost` as `<function>_floor` next to the operation it prices, so
/// that both are measured under the same load.
fn bench_floor<M: criterion::measurement::Measurement>(
    g: &mut criterion::BenchmarkGroup<'_, M>,
    id: String,
    len: usize,
    header_encryption: bool,
    cost: Cost,
) {
    let mut floor = Floor::new(len, header_encryption);
    g.bench_function(id, |b| b.iter(|| floor.run(&cost)));
}

fn floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    g.warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600))
        .sample_size(20);
    let mut rng = rng(50);

    let mut buf16 = [0u8; 16];
    g.bench_function("rng/fill_16", |b| b.iter(|| rng.fill_bytes(&mut buf16)));
    let mut buf32 = [0u8; 32];
    g.bench_function("rng/fill_32", |b| b.iter(|| rng.fill_bytes(&mut buf32)));

    // X25519: key generation is the fixed-base multiplication of the public
    // key; DH includes the contributory check the SPEC requires.
    g.bench_function("x25519/keygen", |b| {
        b.iter(|| {
            let secret = x25519_dalek::StaticSecret::from(black_box([9u8; 32]));
            x25519_dalek::PublicKey::from(&secret)
        })
    });
    let secret = x25519_dalek::StaticSecret::from([9u8; 32]);
    let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([3u8; 32]));
    g.bench_function("x25519/dh", |b| {
        b.iter(|| {
            let shared = secret.diffie_hellman(black_box(&public));
            assert!(shared.was_contributory());
            shared.to_bytes()
        })
    });

    // KDF_CK: two HMACs under one key schedule.
    let chain_key = [1u8; 32];
    g.bench_function("hmac_sha256/pair", |b| {
        b.iter(|| {
            let keyed =
                Hmac::<Sha256>::new_from_slice(black_box(&chain_key)).expect("any key length");
            let mut first = keyed.clone();
            first.update(&[0x01]);
            let mut second = keyed;
            second.update(&[0x02]);
            (
                first.finalize().into_bytes(),
                second.finalize().into_bytes(),
            )
        })
    });
    let (k16, k32) = ([2u8; 16], [3u8; 32]);
    g.bench_function("hkdf/message_44", |b| {
        b.iter(|| hkdf::<44>(black_box(&k16), &k32, b"cliquet/v1/message"))
    });
    g.bench_function("hkdf/root_64", |b| {
        b.iter(|| hkdf::<64>(black_box(&k32), &k32, b"cliquet/v1/root"))
    });
    g.bench_function("hkdf/root_he_96", |b| {
        b.iter(|| hkdf::<96>(black_box(&k32), &k32, b"cliquet/v1/root-he"))
    });
    let ikm = [0xffu8; 160];
    g.bench_function("hkdf/x3dh_96_opk", |b| {
        b.iter(|| hkdf::<96>(black_box(&[0u8; 32]), &ikm, b"cliquet/v1/x3dh"))
    });

    // AES-256-GCM with its key schedule (each message has its own key), in
    // place on a buffer the caller owns: the cheapest possible call.
    let (key, nonce) = ([4u8; 32], [5u8; 12]);
    for (aad_name, aad_len) in [("plain", AAD_PLAIN), ("he", AAD_HE)] {
        let aad = vec![6u8; aad_len];
        for len in SIZES {
            g.throughput(throughput(len));
            let mut buf = vec![0x5a; len];
            g.bench_function(
                BenchmarkId::new(format!("aes256gcm_seal_{aad_name}"), sized_label(len)),
                |b| b.iter(|| aes_seal(&key, &nonce, black_box(&aad), &mut buf)),
            );
            let mut sealed = vec![0x5a; len];
            let tag = aes_seal(&key, &nonce, &aad, &mut sealed);
            let mut out = vec![0u8; len];
            g.bench_function(
                BenchmarkId::new(format!("aes256gcm_open_{aad_name}"), sized_label(len)),
                |b| {
                    b.iter(|| {
                        let ok = aes_open(&key, &nonce, black_box(&aad), &sealed, &mut out, &tag);
                        assert!(ok);
                    })
                },
            );
        }
    }
    g.throughput(Throughput::Elements(1));

    // Header encryption: a 40-byte header under AD (§6), and a trial that fails.
    let ad = [6u8; 64];
    let mut header = [0x11u8; 40];
    g.bench_function("aes256gcm_header/seal", |b| {
        b.iter(|| aes_seal(&key, &nonce, black_box(&ad), &mut header))
    });
    let plain_header = [0x11u8; 40];
    let mut sealed_header = plain_header;
    let header_tag = aes_seal(&key, &nonce, &ad, &mut sealed_header);
    g.bench_function("aes256gcm_header/open", |b| {
        b.iter(|| {
            let mut out = [0u8; 40];
            let ok = aes_open(
                &key,
                &nonce,
                black_box(&ad),
                &sealed_header,
                &mut out,
                &header_tag,
            );
            assert!(ok);
            out
        })
    });
    let wrong_key = [8u8; 32];
    g.bench_function("aes256gcm_header/open_wrong_key", |b| {
        b.iter(|| {
            let mut out = [0u8; 40];
            let ok = aes_open(
                &wrong_key,
                &nonce,
                black_box(&ad),
                &sealed_header,
                &mut out,
                &header_tag,
            );
            assert!(!ok);
            out
        })
    });

    // Ed25519: what bundle creation and verification, accept and the state
    // codec need.
    let seed = [10u8; 32];
    g.bench_function("ed25519/keygen_from_seed", |b| {
        b.iter(|| SigningKey::from_bytes(black_box(&seed)))
    });
    let signing = SigningKey::from_bytes(&seed);
    let mut message = b"cliquet/v1/signed-prekey".to_vec();
    message.extend_from_slice(&[12u8; 32]);
    g.bench_function("ed25519/sign", |b| {
        b.iter(|| signing.sign(black_box(&message)))
    });
    let public_bytes = signing.verifying_key().to_bytes();
    g.bench_function("ed25519/decode_public", |b| {
        b.iter(|| VerifyingKey::from_bytes(black_box(&public_bytes)).expect("decodes"))
    });
    let verifying = VerifyingKey::from_bytes(&public_bytes).expect("decodes");
    g.bench_function("ed25519/to_montgomery", |b| {
        b.iter(|| black_box(&verifying).to_montgomery())
    });
    let signature: Signature = signing.sign(&message);
    g.bench_function("ed25519/verify_strict", |b| {
        b.iter(|| {
            verifying
                .verify_strict(black_box(&message), &signature)
                .expect("verifies")
        })
    });
    // Not floors: the extra checks identity-key parsing does (canonical
    // encoding by re-compression, small order), measured to explain them.
    g.bench_function("analysis/ed25519_compress", |b| {
        b.iter(|| black_box(&verifying).to_edwards().compress())
    });
    g.bench_function("analysis/ed25519_is_weak", |b| {
        b.iter(|| black_box(&verifying).is_weak())
    });
    g.bench_function("analysis/sha256_session_id", |b| {
        b.iter(|| {
            use sha2::Digest;
            let mut h = Sha256::new();
            h.update(b"cliquet/v1/session-id");
            h.update(black_box(&k32));
            h.finalize()
        })
    });
    g.finish();
}

/// One paired comparison: `rounds` rounds, each timing a block of `a` and a
/// block of `b` back to back (the order alternating), so that both see the
/// same load. Returns the quartiles of the per-round ratios `a / b`.
fn paired(
    rounds: usize,
    mut a: impl FnMut() -> Duration,
    mut b: impl FnMut() -> Duration,
) -> [f64; 3] {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (ta, tb) = if round % 2 == 0 {
                let ta = a();
                (ta, b())
            } else {
                let tb = b();
                (a(), tb)
            };
            ta.as_secs_f64() / tb.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: usize| {
        ratios
            .get(q * (rounds - 1) / 4)
            .copied()
            .unwrap_or(f64::NAN)
    };
    [at(1), at(2), at(3)]
}

/// Times `n` runs of `f`.
fn timed(n: usize, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed()
}

/// Times decrypting `n` fresh in-order messages of Alice's current chain
/// (produced untimed).
fn timed_stream(pair: &mut Pair, payload: &[u8], n: usize) -> Duration {
    let messages: Vec<AnyMessage> = (0..n).map(|_| pair.alice_sends(payload)).collect();
    let start = Instant::now();
    for m in &messages {
        black_box(pair.bob.decrypt(m).expect("decrypt"));
    }
    start.elapsed()
}

/// Like [`timed_stream`], decrypting into one reused buffer.
fn timed_stream_into(pair: &mut Pair, payload: &[u8], n: usize, out: &mut Vec<u8>) -> Duration {
    let messages: Vec<AnyMessage> = (0..n).map(|_| pair.alice_sends(payload)).collect();
    let start = Instant::now();
    for m in &messages {
        pair.bob.decrypt_into(m, out).expect("decrypt_into");
        black_box(&*out);
    }
    start.elapsed()
}

/// Alice's first (prekey) message of a new session from `verified`.
fn first_prekey_message(
    alice: &Account,
    verified: &cliquet::VerifiedBundle,
    rng: &mut ChaCha20Rng,
) -> cliquet::PreKeyMessage {
    let mut session = Session::initiate(alice.identity(), verified, SessionConfig::default(), rng)
        .expect("initiate");
    match session.encrypt(&[0x5a; PAYLOAD_LEN], rng).expect("encrypt") {
        AnyMessage::PreKey(first) => first,
        _ => panic!("the first message is a prekey message"),
    }
}

/// The paired report: the targets measured as interleaved A/B
/// rounds, a check of the criterion ratios that no slow drift of the
/// machine's load can bias.
fn paired_report() {
    const ROUNDS: usize = 41;
    let mut rows: Vec<(String, [f64; 3])> = Vec::new();
    for he in [false, true] {
        let mode = if he { "ratchet_he" } else { "ratchet" };
        let payload = vec![0x5a; PAYLOAD_LEN];
        let mut pair = Pair::new(he, 70);
        pair.alice_sends(b"start");
        let mut floor = Floor::new(PAYLOAD_LEN, he);
        let r = paired(
            ROUNDS,
            || {
                timed(400, || {
                    black_box(pair.alice_sends(&payload));
                })
            },
            || timed(400, || floor.run(&Cost::encrypt(he))),
        );
        rows.push((format!("{mode}/encrypt/100B vs floor"), r));
        let mut pair = Pair::new(he, 71);
        let first = pair.alice_sends(b"start");
        pair.bob.decrypt(&first).expect("decrypt");
        let r = paired(
            ROUNDS,
            || timed_stream(&mut pair, &payload, 400),
            || timed(400, || floor.run(&Cost::decrypt(he, 0))),
        );
        rows.push((format!("{mode}/decrypt/100B vs floor"), r));
        // The same with caller-owned buffers, reused from message to message.
        let mut pair = Pair::new(he, 75);
        pair.alice_sends(b"start");
        let mut wire = Vec::new();
        let r = paired(
            ROUNDS,
            || {
                timed(400, || {
                    pair.alice
                        .encrypt_into(&payload, &mut pair.rng, &mut wire)
                        .expect("encrypt_into");
                    black_box(&wire);
                })
            },
            || timed(400, || floor.run(&Cost::encrypt(he))),
        );
        rows.push((format!("{mode}/encrypt_into/100B vs floor"), r));
        let mut pair = Pair::new(he, 76);
        let first = pair.alice_sends(b"start");
        pair.bob.decrypt(&first).expect("decrypt");
        let mut plaintext = Vec::new();
        let r = paired(
            ROUNDS,
            || timed_stream_into(&mut pair, &payload, 400, &mut plaintext),
            || timed(400, || floor.run(&Cost::decrypt(he, 0))),
        );
        rows.push((format!("{mode}/decrypt_into/100B vs floor"), r));
        let mut pair = Pair::new(he, 72);
        let r = paired(
            ROUNDS,
            || {
                timed(4, || {
                    let m = pair.alice_sends(&payload);
                    black_box(pair.bob.decrypt(&m).expect("decrypt"));
                    let r = pair.bob.encrypt(&payload, &mut pair.rng).expect("encrypt");
                    black_box(pair.alice.decrypt(&r).expect("decrypt"));
                })
            },
            || timed(4, || floor.run(&Cost::ping_pong(he))),
        );
        rows.push((format!("{mode}/ping_pong vs floor"), r));
    }
    let big = vec![0x5a; 1 << 20];
    let mut pair = Pair::new(false, 73);
    let first = pair.alice_sends(b"start");
    pair.bob.decrypt(&first).expect("decrypt");
    let mut floor = Floor::new(1 << 20, false);
    let r = paired(
        15,
        || {
            timed(3, || {
                black_box(pair.alice_sends(&big));
            })
        },
        || timed(3, || floor.run(&Cost::encrypt(false))),
    );
    rows.push(("ratchet/encrypt/1MiB vs floor".into(), r));
    let r = paired(
        15,
        || timed_stream(&mut pair, &big, 3),
        || timed(3, || floor.run(&Cost::decrypt(false, 0))),
    );
    rows.push(("ratchet/decrypt/1MiB vs floor".into(), r));
    // The same with caller-owned buffers, reused from message to message.
    let mut wire = Vec::new();
    let r = paired(
        15,
        || {
            timed(3, || {
                pair.alice
                    .encrypt_into(&big, &mut pair.rng, &mut wire)
                    .expect("encrypt_into");
                black_box(&wire);
            })
        },
        || timed(3, || floor.run(&Cost::encrypt(false))),
    );
    rows.push(("ratchet/encrypt_into/1MiB vs floor".into(), r));
    let mut plaintext = Vec::new();
    let r = paired(
        15,
        || timed_stream_into(&mut pair, &big, 3, &mut plaintext),
        || timed(3, || floor.run(&Cost::decrypt(false, 0))),
    );
    rows.push(("ratchet/decrypt_into/1MiB vs floor".into(), r));

    let mut rng = rng(74);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let (id, _) = bob
        .generate_one_time_prekeys(1, &mut rng)
        .into_iter()
        .next()
        .expect("one prekey");
    let bundle_bytes = bob.bundle(Some(id)).expect("bundle").to_bytes();
    let verified = PreKeyBundle::decode(&bundle_bytes)
        .expect("decodes")
        .verify()
        .expect("verifies");
    let mut floor = Floor::new(PAYLOAD_LEN, false);
    let verify_cost = Cost {
        ed_decode: 1,
        ed_montgomery: 1,
        ed_verify: 1,
        ..Cost::NONE
    };
    let r = paired(
        ROUNDS,
        || {
            timed(10, || {
                black_box(
                    PreKeyBundle::decode(&bundle_bytes)
                        .expect("decodes")
                        .verify()
                        .expect("verifies"),
                );
            })
        },
        || timed(10, || floor.run(&verify_cost)),
    );
    rows.push(("x3dh/bundle_verify vs floor".into(), r));
    let initiate_cost = Cost {
        rng32: 2,
        keygen: 2,
        dh: 5,
        x3dh_kdf: 1,
        kdf_rk: 1,
        ..Cost::NONE
    };
    let r = paired(
        ROUNDS,
        || {
            timed(3, || {
                black_box(
                    Session::initiate(
                        alice.identity(),
                        &verified,
                        SessionConfig::default(),
                        &mut rng,
                    )
                    .expect("initiate"),
                );
            })
        },
        || timed(3, || floor.run(&initiate_cost)),
    );
    rows.push(("x3dh/initiate vs floor".into(), r));
    let bob_stored = bob.to_bytes();
    let first = first_prekey_message(&alice, &verified, &mut rng);
    let accept_cost = Cost {
        ed_decode: 1,
        ed_montgomery: 1,
        dh: 5,
        x3dh_kdf: 1,
        kdf_rk: 1,
        ..Cost::DECRYPT
    };
    let r = paired(
        ROUNDS,
        || {
            let mut total = Duration::ZERO;
            for _ in 0..3 {
                let mut account = Account::from_bytes(&bob_stored).expect("loads");
                let start = Instant::now();
                black_box(
                    account
                        .accept(&first, SessionConfig::default())
                        .expect("accept"),
                );
                total += start.elapsed();
            }
            total
        },
        || timed(3, || floor.run(&accept_cost)),
    );
    rows.push(("x3dh/accept vs floor".into(), r));

    for he in [false, true] {
        let mode = if he { "skipped_he" } else { "skipped" };
        let payload = [0x5a; PAYLOAD_LEN];
        let mut none = Pair::new(he, 75);
        none.new_chain_skipping(0, &payload);
        let mut full = Pair::new(he, 76);
        for _ in 0..4 {
            full.new_chain_skipping(500, &payload);
        }
        let r = paired(
            ROUNDS,
            || timed_stream(&mut full, &payload, 400),
            || timed_stream(&mut none, &payload, 400),
        );
        rows.push((format!("{mode}/in_order: 2000 stored keys vs none"), r));
        // With header encryption the 3 older chains' header keys are tried
        // first (§6): the fair comparison is with that floor.
        let mut floor = Floor::new(PAYLOAD_LEN, he);
        let r = paired(
            ROUNDS,
            || timed_stream(&mut full, &payload, 400),
            || timed(400, || floor.run(&Cost::decrypt(he, 3))),
        );
        rows.push((format!("{mode}/in_order/2000 vs floor"), r));
    }
    let mut pair = Pair::new(false, 77);
    pair.new_chain_skipping(0, &[0x5a; PAYLOAD_LEN]);
    let stored = pair.bob.to_bytes();
    let max_skip = SessionConfig::default().max_skip();
    for _ in 0..max_skip {
        pair.alice_sends(&[0x5a; PAYLOAD_LEN]);
    }
    let jump = pair.alice_sends(&[0x5a; PAYLOAD_LEN]);
    let mut floor = Floor::new(PAYLOAD_LEN, false);
    let r = paired(
        ROUNDS,
        || {
            let mut total = Duration::ZERO;
            for _ in 0..2 {
                let mut session = Session::from_bytes(&stored).expect("loads");
                let start = Instant::now();
                black_box(session.decrypt(&jump).expect("decrypt"));
                total += start.elapsed();
            }
            total
        },
        || timed(2, || floor.run(&Cost::jump(false, max_skip))),
    );
    rows.push(("skipped/max_skip_jump vs floor".into(), r));

    eprintln!("cliquet paired report (ratio quartiles over interleaved rounds):");
    for (label, [q1, q2, q3]) in rows {
        eprintln!("  {label}: {q2:.3} (quartiles {q1:.3} .. {q3:.3})");
    }
}

/// Resident set size in bytes, from `/proc/self/statm` (Linux), if readable.
fn resident_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The receiver of a session with `chains` chains of `per_chain` skipped
/// keys each (`chains == 0`: an idle session after one message each way).
fn probe_session(header_encryption: bool, chains: usize, per_chain: usize) -> Session {
    let mut pair = Pair::new(header_encryption, 60);
    if chains == 0 {
        let m = pair.alice_sends(b"x");
        pair.bob.decrypt(&m).expect("decrypt");
    }
    for _ in 0..chains {
        pair.new_chain_skipping(per_chain, b"x");
    }
    pair.bob
}

/// Child-process side of the heap measurement: loads `count` copies of a
/// session into a vector and prints the resident-set growth per copy minus
/// the copy's inline size (the vector's pages become resident as it fills):
/// its heap. A fresh process keeps freed memory of other work from being
/// reused and hiding the growth.
fn heap_probe(spec: &str) -> Option<i64> {
    let mut fields = spec.split(',').map(str::parse::<usize>);
    let (he, chains, per_chain, count) = (
        fields.next()?.ok()? == 1,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    );
    let stored = probe_session(he, chains, per_chain).to_bytes();
    let mut sessions: Vec<Session> = Vec::with_capacity(count);
    let before = resident_bytes()?;
    for _ in 0..count {
        sessions.push(Session::from_bytes(&stored).expect("loads"));
    }
    let after = resident_bytes()?;
    black_box(&sessions);
    let inline = i64::try_from(core::mem::size_of::<Session>()).ok()?;
    Some((after - before) / i64::try_from(count).ok()? - inline)
}

fn heap_in_child(spec: &str) -> Option<i64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .env("CLIQUET_HEAP_PROBE", spec)
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn memory_report() {
    let mut rows = Vec::new();
    rows.push(format!(
        "size_of::<Session>() = {} B, size_of::<Account>() = {} B",
        core::mem::size_of::<Session>(),
        core::mem::size_of::<Account>()
    ));
    for header_encryption in [false, true] {
        let he = u8::from(header_encryption);
        let idle = probe_session(header_encryption, 0, 0).to_bytes();
        let with_1000 = probe_session(header_encryption, 1, 1000).to_bytes();
        let with_2000 = probe_session(header_encryption, 4, 500).to_bytes();
        let per_key = (with_1000.len() - idle.len()) as f64 / 1000.0;
        rows.push(format!(
            "header encryption {header_encryption}: stored idle session {} B; 1000 skipped \
             keys in 1 chain {} B ({per_key:.1} B per key); 2000 in 4 chains {} B",
            idle.len(),
            with_1000.len(),
            with_2000.len(),
        ));
        for (label, spec) in [
            ("idle", format!("{he},0,0,20000")),
            ("100 skipped keys", format!("{he},1,100,1000")),
            ("1000 skipped keys", format!("{he},1,1000,200")),
            ("2000 skipped keys in 4 chains", format!("{he},4,500,200")),
        ] {
            if let Some(heap) = heap_in_child(&spec) {
                rows.push(format!(
                    "header encryption {header_encryption}: heap of a loaded session, {label}: \
                     ~{heap} B (resident-set growth per copy, fresh process)"
                ));
            }
        }
    }
    eprintln!("cliquet memory report:");
    for row in rows {
        eprintln!("  {row}");
    }
}

criterion_group!(
    benches,
    floor,
    ratchet_plain,
    ratchet_he,
    skipped_plain,
    skipped_he,
    x3dh,
    state
);

fn main() {
    if let Ok(spec) = std::env::var("CLIQUET_HEAP_PROBE") {
        match heap_probe(&spec) {
            Some(bytes) => println!("{bytes}"),
            None => println!("unavailable"),
        }
        return;
    }
    // The report is for full runs, not for `--list` or profiling a bench.
    let quiet = std::env::args().any(|a| a == "--list" || a == "--profile-time");
    if !quiet {
        memory_report();
        if std::env::var_os("CLIQUET_NO_PAIRED").is_none() {
            paired_report();
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
