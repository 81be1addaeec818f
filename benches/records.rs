//! Session records: decrypt with 0 and 40 archived sessions (a message on
//! the current session; on the oldest archived one, delayed on a chain it
//! knows or starting a new chain; one no session can read), next to a bare
//! `Session::decrypt`; record store and load.
//!
//! `cargo bench --bench records`

use core::hint::black_box;

use cliquet::{Account, AnyMessage, Session, SessionConfig, SessionRecord};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Bob's record of Alice holding `archived` archived sessions and a current
/// one, each after two round trips; Alice's side of every session, oldest
/// first, and for each a message she sent that Bob has not received yet.
struct Setup {
    rng: ChaCha20Rng,
    bob: Account,
    record: SessionRecord,
    alice_sessions: Vec<Session>,
    held: Vec<AnyMessage>,
}

fn setup(archived: usize, seed: u8) -> Setup {
    setup_with(archived, seed, SessionConfig::default())
}

fn setup_with(archived: usize, seed: u8, config: SessionConfig) -> Setup {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let mut record = SessionRecord::new();
    let mut alice_sessions = Vec::new();
    let mut held = Vec::new();
    for _ in 0..=archived {
        let bundle = bob.bundle(None).unwrap().verify().unwrap();
        let mut session = Session::initiate(alice.identity(), &bundle, config, &mut rng).unwrap();
        let first = session.encrypt(b"hello", &mut rng).unwrap();
        record.decrypt(&mut bob, &first, config).unwrap();
        let reply = record.encrypt(b"hi", &mut rng).unwrap();
        session.decrypt(&reply).unwrap();
        let m = session.encrypt(b"new chain", &mut rng).unwrap();
        record.decrypt(&mut bob, &m, config).unwrap();
        held.push(session.encrypt(b"delayed", &mut rng).unwrap());
        let reply = record.encrypt(b"again", &mut rng).unwrap();
        session.decrypt(&reply).unwrap();
        alice_sessions.push(session);
    }
    assert_eq!(record.archived().len(), archived);
    Setup {
        rng,
        bob,
        record,
        alice_sessions,
        held,
    }
}

fn decrypt(c: &mut Criterion) {
    let config = SessionConfig::default();
    let mut group = c.benchmark_group("record");
    for archived in [0usize, 40] {
        let mut s = setup(archived, 42);
        let stored = s.record.to_stored();
        let on_current = s
            .alice_sessions
            .last_mut()
            .unwrap()
            .encrypt(&[0u8; 64], &mut s.rng)
            .unwrap();
        group.bench_function(format!("decrypt_current/{archived}_archived"), |b| {
            b.iter_batched(
                || SessionRecord::from_stored(&stored).unwrap(),
                // Returning the record keeps its drop out of the timing.
                |mut record| {
                    let plaintext = record.decrypt(&mut s.bob, black_box(&on_current), config);
                    (record, plaintext)
                },
                BatchSize::SmallInput,
            );
        });
        if archived > 0 {
            let on_oldest = s.alice_sessions[0].encrypt(&[0u8; 64], &mut s.rng).unwrap();
            group.bench_function(
                format!("decrypt_oldest_archived_new_chain/{archived}_archived"),
                |b| {
                    b.iter_batched(
                        || SessionRecord::from_stored(&stored).unwrap(),
                        |mut record| {
                            let plaintext =
                                record.decrypt(&mut s.bob, black_box(&on_oldest), config);
                            assert!(plaintext.is_ok());
                            record
                        },
                        BatchSize::SmallInput,
                    );
                },
            );
        }
        if archived > 0 {
            let delayed = s.held[0].clone();
            group.bench_function(
                format!("decrypt_delayed_oldest_archived/{archived}_archived"),
                |b| {
                    b.iter_batched(
                        || SessionRecord::from_stored(&stored).unwrap(),
                        |mut record| {
                            let plaintext = record.decrypt(&mut s.bob, black_box(&delayed), config);
                            assert!(plaintext.is_ok());
                            record
                        },
                        BatchSize::SmallInput,
                    );
                },
            );
        }
        // A message of a session the record does not hold: every session is
        // considered; the cheap filter rules out those it can.
        let mut stranger = setup(0, 43).alice_sessions.remove(0);
        let unknown = stranger.encrypt(&[0u8; 64], &mut s.rng).unwrap();
        group.bench_function(format!("reject_unknown/{archived}_archived"), |b| {
            b.iter(|| {
                let result = s.record.decrypt(&mut s.bob, black_box(&unknown), config);
                assert!(result.is_err());
            });
        });
    }
    // Hardening finding 4: a forged plain message with an unknown ratchet
    // key and PN = N = 1000 passes the cheap filter of every archived
    // session (each has sent since its last step); next to it, genuine
    // messages: a small one, and one of the same shape (a new chain that
    // skips 1000 keys), which costs what a forged one costs one session.
    let mut s = setup(40, 44);
    let stored = s.record.to_stored();
    let last = s.alice_sessions.last_mut().unwrap();
    let small = last.encrypt(&[0u8; 64], &mut s.rng).unwrap();
    let skipping = (0..1000)
        .map(|_| last.encrypt(&[0u8; 64], &mut s.rng).unwrap())
        .last()
        .unwrap();
    let mut forged = small.encode();
    forged[1..33].copy_from_slice(&[0x42; 32]);
    forged[33..37].copy_from_slice(&1000u32.to_be_bytes());
    forged[37..41].copy_from_slice(&1000u32.to_be_bytes());
    let forged = AnyMessage::decode(&forged).unwrap();
    for (name, message, genuine) in [
        ("genuine_small", &small, true),
        ("genuine_new_chain_skipping_1000", &skipping, true),
        ("forged_new_chain_pn_n_1000", &forged, false),
    ] {
        group.bench_function(format!("{name}/40_archived_all_sent"), |b| {
            b.iter_batched(
                || SessionRecord::from_stored(&stored).unwrap(),
                |mut record| {
                    let result = record.decrypt(&mut s.bob, black_box(message), config);
                    assert_eq!(result.is_ok(), genuine);
                    (record, result)
                },
                BatchSize::SmallInput,
            );
        });
    }
    // With header encryption an archived session rejects a stranger's
    // message by trying its header keys (AES-GCM), without any X25519.
    let he = SessionConfig::default().with_header_encryption(true);
    let mut s = setup_with(40, 42, he);
    let mut stranger = setup_with(0, 43, he).alice_sessions.remove(0);
    let unknown = stranger.encrypt(&[0u8; 64], &mut s.rng).unwrap();
    group.bench_function("reject_unknown_header_encrypted/40_archived", |b| {
        b.iter(|| {
            let result = s.record.decrypt(&mut s.bob, black_box(&unknown), he);
            assert!(result.is_err());
        });
    });
    // The bare session decrypt the record decrypt wraps.
    let mut s = setup(0, 42);
    let stored = s.record.current().unwrap().to_stored();
    let message = s.alice_sessions[0].encrypt(&[0u8; 64], &mut s.rng).unwrap();
    group.bench_function("session_decrypt", |b| {
        b.iter_batched(
            || Session::from_stored(&stored).unwrap(),
            |mut session| {
                let plaintext = session.decrypt(black_box(&message));
                (session, plaintext)
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn store_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    for archived in [0usize, 40] {
        let s = setup(archived, 42);
        let stored = s.record.to_stored();
        println!(
            "record with {archived} archived sessions: {} bytes stored",
            stored.len()
        );
        group.bench_function(format!("store/{archived}_archived"), |b| {
            b.iter(|| black_box(&s.record).to_stored());
        });
        group.bench_function(format!("load/{archived}_archived"), |b| {
            b.iter(|| SessionRecord::from_stored(black_box(&stored)).unwrap());
        });
    }
    group.finish();
    // Hardening finding 7: loading a session with 32,768 stored chains (one
    // skipped key each) is linear. The stored bytes are those of a real
    // session whose skipped-key section is replaced (SPEC.md §11).
    let config = SessionConfig::new(1000, 65_536).unwrap();
    let mut rng = ChaCha20Rng::from_seed([45; 32]);
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob.bundle(None).unwrap().verify().unwrap();
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).unwrap();
    let AnyMessage::PreKey(first) = a.encrypt(b"hi", &mut rng).unwrap() else {
        unreachable!("a prekey message")
    };
    let b = bob.accept(&first, config).unwrap().session;
    let mut stored = b.to_stored().to_vec();
    assert_eq!(stored[stored.len() - 4..], [0, 0, 0, 0], "no chains yet");
    stored.truncate(stored.len() - 4);
    let chains = 32_768u32;
    stored.extend(chains.to_be_bytes());
    for i in 0..chains {
        let mut key = [7u8; 32];
        key[..4].copy_from_slice(&i.to_be_bytes());
        stored.extend(key);
        stored.extend(1u32.to_be_bytes());
        stored.extend(0u32.to_be_bytes());
        stored.extend([9u8; 32]);
    }
    assert_eq!(
        Session::from_stored(&stored).unwrap().skipped_keys(),
        32_768
    );
    let mut group = c.benchmark_group("session");
    group.sample_size(10);
    group.bench_function("load/32768_chains", |b| {
        b.iter(|| Session::from_stored(black_box(&stored)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, decrypt, store_load);
criterion_main!(benches);
