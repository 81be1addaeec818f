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
//! The paired report (`cargo bench --bench paired`) and the memory report
//! (`cargo bench --bench memory`) are their own targets; the setup they
//! share with this suite is in `benches/common/`.

mod common;

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use aes_gcm::aead::KeyInit;
use cliquet::rand_core::Rng;
use cliquet::{Account, AnyMessage, PreKeyBundle, Session, SessionConfig};
use common::{
    AAD_HE, AAD_PLAIN, Cost, Floor, PAYLOAD_LEN, Pair, SIZES, aes_open, aes_seal,
    first_prekey_message, hkdf, rng,
};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use libcrux_ml_kem::mlkem1024;
use sha2::Sha256;

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

/// Times decrypting a stream of in-order messages of Alice's current chain.
/// Encryption (untimed) produces them in batches; the receiver is the live
/// session, so its skipped-key store stays exactly as it is.
fn decrypt_stream(b: &mut criterion::Bencher<'_>, pair: &mut Pair, payload: &[u8], batch: u64) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(batch);
            let messages: Vec<AnyMessage> = (0..n).map(|_| pair.a_to_b(payload)).collect();
            let start = Instant::now();
            for m in &messages {
                black_box(pair.b.decrypt(black_box(m)).expect("decrypt"));
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
            let mut session = Session::from_stored(stored).expect("stored session loads");
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
        pair.a_to_b(b"start the chain"); // the DH step is not part of steady encrypt
        g.bench_function(BenchmarkId::new("encrypt", sized_label(len)), |b| {
            b.iter(|| {
                pair.a
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
        let first = pair.a_to_b(b"start the chain");
        pair.b.decrypt(&first).expect("decrypt");
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
            let stored = pair.b.to_stored();
            let next = [pair.a_to_b(&payload)];
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
            let m = pair.a.encrypt(&payload, &mut pair.rng).expect("encrypt");
            black_box(pair.b.decrypt(&m).expect("decrypt"));
            let r = pair.b.encrypt(&payload, &mut pair.rng).expect("encrypt");
            black_box(pair.a.decrypt(&r).expect("decrypt"))
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
        assert_eq!(pair.b.skipped_keys(), keys);
        // With header encryption, the header keys of stored chains other
        // than the current one are tried first (§6), each a failed open.
        let older_chains = u32::try_from(chains.len() - 1).expect("fits");
        if keys > 0 {
            let stored = pair.b.to_stored();
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
            // HKr opens an in-order header at the first trial (SPEC §6 order:
            // HKr, NHKr, then the older chains' keys).
            Cost::decrypt(header_encryption, 0),
        );
        // A message of Alice's next chain: a DH ratchet step for Bob.
        let reply = pair.b.encrypt(b"reply", &mut pair.rng).expect("encrypt");
        let stored = pair.b.to_stored();
        pair.a.decrypt(&reply).expect("decrypt");
        let next_chain = [pair.a_to_b(&payload)];
        g.bench_function(BenchmarkId::new("new_chain", keys), |b| {
            decrypt_fresh(b, &stored, &next_chain, 1)
        });
        // `HKr` fails before `NHKr` opens, whatever older chains are stored.
        let failed = 1;
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
            pair.b.decrypt(first).expect("decrypt");
            let stored = pair.b.to_stored();
            let max_skip = SessionConfig::default().max_skip();
            for _ in 0..max_skip {
                pair.a_to_b(&payload);
            }
            let jump = [pair.a_to_b(&payload)];
            let [jump_message] = &jump;
            assert_eq!(
                Session::from_stored(&stored)
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
    let bob_stored = bob.to_stored();

    // Classic X3DH, explicitly allowed (the `pqxdh` group has the default).
    let classic = SessionConfig::default().with_classic_x3dh(true);
    let mut creator = Account::from_stored(&bob_stored).expect("loads");
    g.bench_function("bundle_create", |b| {
        b.iter(|| {
            creator.rotate_signed_prekey(&mut rng);
            creator.classic_bundle(Some(id)).expect("bundle").encode()
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

    let bundle_bytes = bob.classic_bundle(Some(id)).expect("bundle").encode();
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
            Session::initiate(alice.identity(), black_box(&verified), classic, &mut rng)
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
            || Account::from_stored(&bob_stored).expect("loads"),
            |account| {
                account
                    .accept(
                        black_box(&first),
                        SessionConfig::default().with_classic_x3dh(true),
                    )
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

fn pqxdh(c: &mut Criterion) {
    let mut g = c.benchmark_group("pqxdh");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20);
    let mut rng = rng(31);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let (id, _) = bob
        .generate_one_time_prekeys(1, &mut rng)
        .into_iter()
        .next()
        .expect("one prekey");
    let bob_stored = bob.to_stored();
    let pq_floor = |g: &mut criterion::BenchmarkGroup<'_, _>, name: &str, cost: Cost| {
        bench_floor(g, format!("{name}_floor"), PAYLOAD_LEN, false, cost);
    };

    // A new last-resort KEM prekey and its signature (the bundle reuses it).
    let mut creator = Account::from_stored(&bob_stored).expect("loads");
    g.bench_function("kem_prekey_rotate", |b| {
        b.iter(|| creator.rotate_kem_prekey(&mut rng))
    });
    pq_floor(
        &mut g,
        "kem_prekey_rotate",
        Cost {
            rng32: 2,
            kem_keygen: 1,
            ed_sign_kem: 1,
            ..Cost::NONE
        },
    );

    // What an initiator does with the bytes it fetched: decode, both
    // signatures and the modulus check, then PQXDH.
    let bundle_bytes = bob.bundle(Some(id)).expect("bundle").encode();
    g.throughput(Throughput::Bytes(bundle_bytes.len() as u64));
    g.bench_function("initiate", |b| {
        b.iter(|| {
            let verified = PreKeyBundle::decode(black_box(&bundle_bytes))
                .expect("decodes")
                .verify()
                .expect("verifies");
            Session::initiate(
                alice.identity(),
                &verified,
                SessionConfig::default(),
                &mut rng,
            )
            .expect("initiate")
        })
    });
    pq_floor(
        &mut g,
        "initiate",
        Cost {
            ed_decode: 1,
            ed_montgomery: 1,
            ed_verify: 1,
            ed_verify_kem: 1,
            kem_check: 1,
            rng32: 3,
            keygen: 2,
            dh: 5,
            kem_encaps: 1,
            pqxdh_kdf: 1,
            kdf_rk: 1,
            ..Cost::NONE
        },
    );

    let verified = PreKeyBundle::decode(&bundle_bytes)
        .expect("decodes")
        .verify()
        .expect("verifies");
    let first = first_prekey_message(&alice, &verified, &mut rng);
    g.throughput(Throughput::Bytes(first.as_bytes().len() as u64));
    g.bench_function("accept", |b| {
        b.iter_batched_ref(
            || Account::from_stored(&bob_stored).expect("loads"),
            |account| {
                account
                    .accept(
                        black_box(&first),
                        SessionConfig::default().with_classic_x3dh(true),
                    )
                    .expect("accept")
            },
            BatchSize::SmallInput,
        )
    });
    // As X3DH's accept, plus the decapsulation key expanded from the seed
    // and the decapsulation.
    pq_floor(
        &mut g,
        "accept",
        Cost {
            ed_decode: 1,
            ed_montgomery: 1,
            dh: 5,
            kem_keygen: 1,
            kem_decaps: 1,
            pqxdh_kdf: 1,
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
    let stored = account.to_stored();
    let sealed = account.seal(&storage_key, b"ctx", &mut rng).expect("seal");
    g.bench_function("account_100_opk/to_bytes", |b| {
        b.iter(|| account.to_stored())
    });
    g.bench_function("account_100_opk/from_bytes", |b| {
        b.iter(|| Account::from_stored(black_box(&stored)).expect("loads"))
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
    // 100 one-time KEM prekeys besides the last-resort one: loading copies
    // each stored encapsulation key and signature (account format 4; format
    // 3 derived and signed each again, 101 ML-KEM key generations and
    // signatures).
    let mut with_kem = Account::new(&mut rng);
    with_kem.generate_one_time_kem_prekeys(100, &mut rng);
    let stored_kem = with_kem.to_stored();
    g.bench_function("account_100_kem/from_bytes", |b| {
        b.iter(|| Account::from_stored(black_box(&stored_kem)).expect("loads"))
    });
    bench_floor(
        &mut g,
        "account_100_kem/from_bytes_floor".into(),
        0,
        false,
        Cost {
            ed_keygen: 1,
            ed_sign: 1,
            keygen: 1,
            ..Cost::NONE
        },
    );
    g.bench_function("account_100_opk/seal", |b| {
        b.iter(|| account.seal(&storage_key, b"ctx", &mut rng).expect("seal"))
    });
    g.bench_function("account_100_opk/open", |b| {
        b.iter(|| Account::open(black_box(&sealed), &storage_key, b"ctx").expect("opens"))
    });

    let mut pair = Pair::new(false, 41);
    let m = pair.a_to_b(b"x");
    pair.b.decrypt(&m).expect("decrypt");
    let mut with_skipped = Pair::new(false, 42);
    for _ in 0..4 {
        with_skipped.new_chain_skipping(500, b"x");
    }
    for (name, session) in [
        ("session", &pair.b),
        ("session_2000_skipped", &with_skipped.b),
    ] {
        let stored = session.to_stored();
        let sealed = session.seal(&storage_key, b"ctx", &mut rng).expect("seal");
        g.bench_function(format!("{name}/to_bytes"), |b| {
            b.iter(|| session.to_stored())
        });
        g.bench_function(format!("{name}/from_bytes"), |b| {
            b.iter(|| Session::from_stored(black_box(&stored)).expect("loads"))
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
            b.iter(|| session.seal(&storage_key, b"ctx", &mut rng).expect("seal"))
        });
        g.bench_function(format!("{name}/open"), |b| {
            b.iter(|| Session::open(black_box(&sealed), &storage_key, b"ctx").expect("opens"))
        });
    }
    g.finish();
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
    // ML-KEM-1024 (libcrux-ml-kem): what PQXDH adds.
    let kem_seed = [13u8; 64];
    g.bench_function("mlkem1024/keygen_from_seed", |b| {
        b.iter(|| mlkem1024::generate_key_pair(*black_box(&kem_seed)))
    });
    let (kem_private, kem_public) = mlkem1024::generate_key_pair(kem_seed).into_parts();
    g.bench_function("mlkem1024/encapsulate", |b| {
        b.iter(|| mlkem1024::encapsulate(black_box(&kem_public), [14u8; 32]))
    });
    let (kem_ct, _) = mlkem1024::encapsulate(&kem_public, [14u8; 32]);
    g.bench_function("mlkem1024/decapsulate", |b| {
        b.iter(|| mlkem1024::decapsulate(black_box(&kem_private), &kem_ct))
    });
    g.bench_function("mlkem1024/modulus_check", |b| {
        b.iter(|| mlkem1024::validate_public_key(black_box(&kem_public)))
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

criterion_group!(
    benches,
    floor,
    ratchet_plain,
    ratchet_he,
    skipped_plain,
    skipped_he,
    x3dh,
    pqxdh,
    state
);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
