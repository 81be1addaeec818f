//! The paired report: the targets of `BENCHMARKS.md` measured as
//! interleaved rounds of operation and floor (41 rounds of two blocks, the
//! order alternating; the ratio is taken per round), which slow drift of a
//! shared machine's load cannot bias. Prints the median ratio and its
//! quartiles for each comparison to stderr; about 5 seconds.
//!
//! `cargo bench --bench paired`

mod common;

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use cliquet::{Account, AnyMessage, PreKeyBundle, PreKeyMessage, Session, SessionConfig};
use cliquet_testkit::timing::{paired, timed};
use common::{Cost, Floor, PAYLOAD_LEN, Pair, first_prekey_message, rng};

/// Paired: three accepts of `first` by fresh copies of the stored account
/// (loading not timed) against three runs of the floor `cost`.
fn accept_vs_floor(
    bob_stored: &[u8],
    first: &PreKeyMessage,
    floor: &mut Floor,
    cost: &Cost,
) -> [f64; 3] {
    paired(
        ROUNDS,
        || {
            let mut total = Duration::ZERO;
            for _ in 0..3 {
                let mut account = Account::from_stored(bob_stored).expect("loads");
                let start = Instant::now();
                black_box(
                    account
                        .accept(first, SessionConfig::default().with_classic_x3dh(true))
                        .expect("accept"),
                );
                total += start.elapsed();
            }
            total
        },
        || timed(3, || floor.run(cost)),
    )
}

/// Times decrypting `n` fresh in-order messages of Alice's current chain
/// (produced untimed).
fn timed_stream(pair: &mut Pair, payload: &[u8], n: usize) -> Duration {
    let messages: Vec<AnyMessage> = (0..n).map(|_| pair.a_to_b(payload)).collect();
    let start = Instant::now();
    for m in &messages {
        black_box(pair.b.decrypt(m).expect("decrypt"));
    }
    start.elapsed()
}

/// Like [`timed_stream`], decrypting into one reused buffer.
fn timed_stream_into(pair: &mut Pair, payload: &[u8], n: usize, out: &mut Vec<u8>) -> Duration {
    let messages: Vec<AnyMessage> = (0..n).map(|_| pair.a_to_b(payload)).collect();
    let start = Instant::now();
    for m in &messages {
        pair.b.decrypt_into(m, out).expect("decrypt_into");
        black_box(&*out);
    }
    start.elapsed()
}

/// Rounds of each paired comparison.
const ROUNDS: usize = 41;

/// The paired report: the targets measured as interleaved A/B
/// rounds, a check of the criterion ratios that no slow drift of the
/// machine's load can bias.
fn paired_report() {
    let mut rows: Vec<(String, [f64; 3])> = Vec::new();
    for he in [false, true] {
        let mode = if he { "ratchet_he" } else { "ratchet" };
        let payload = vec![0x5a; PAYLOAD_LEN];
        let mut pair = Pair::new(he, 70);
        pair.a_to_b(b"start");
        let mut floor = Floor::new(PAYLOAD_LEN, he);
        let r = paired(
            ROUNDS,
            || {
                timed(400, || {
                    black_box(pair.a_to_b(&payload));
                })
            },
            || timed(400, || floor.run(&Cost::encrypt(he))),
        );
        rows.push((format!("{mode}/encrypt/100B vs floor"), r));
        let mut pair = Pair::new(he, 71);
        let first = pair.a_to_b(b"start");
        pair.b.decrypt(&first).expect("decrypt");
        let r = paired(
            ROUNDS,
            || timed_stream(&mut pair, &payload, 400),
            || timed(400, || floor.run(&Cost::decrypt(he, 0))),
        );
        rows.push((format!("{mode}/decrypt/100B vs floor"), r));
        // The same with caller-owned buffers, reused from message to message.
        let mut pair = Pair::new(he, 75);
        pair.a_to_b(b"start");
        let mut wire = Vec::new();
        let r = paired(
            ROUNDS,
            || {
                timed(400, || {
                    pair.a
                        .encrypt_into(&payload, &mut pair.rng, &mut wire)
                        .expect("encrypt_into");
                    black_box(&wire);
                })
            },
            || timed(400, || floor.run(&Cost::encrypt(he))),
        );
        rows.push((format!("{mode}/encrypt_into/100B vs floor"), r));
        let mut pair = Pair::new(he, 76);
        let first = pair.a_to_b(b"start");
        pair.b.decrypt(&first).expect("decrypt");
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
                    let m = pair.a_to_b(&payload);
                    black_box(pair.b.decrypt(&m).expect("decrypt"));
                    let r = pair.b.encrypt(&payload, &mut pair.rng).expect("encrypt");
                    black_box(pair.a.decrypt(&r).expect("decrypt"));
                })
            },
            || timed(4, || floor.run(&Cost::ping_pong(he))),
        );
        rows.push((format!("{mode}/ping_pong vs floor"), r));
    }
    let big = vec![0x5a; 1 << 20];
    let mut pair = Pair::new(false, 73);
    let first = pair.a_to_b(b"start");
    pair.b.decrypt(&first).expect("decrypt");
    let mut floor = Floor::new(1 << 20, false);
    let r = paired(
        15,
        || {
            timed(3, || {
                black_box(pair.a_to_b(&big));
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
                pair.a
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
    // Classic X3DH (explicitly allowed), then PQXDH below.
    let classic = SessionConfig::default().with_classic_x3dh(true);
    let bundle_bytes = bob.classic_bundle(Some(id)).expect("bundle").encode();
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
                    Session::initiate(alice.identity(), &verified, classic, &mut rng)
                        .expect("initiate"),
                );
            })
        },
        || timed(3, || floor.run(&initiate_cost)),
    );
    rows.push(("x3dh/initiate vs floor".into(), r));
    let bob_stored = bob.to_stored();
    let first = first_prekey_message(&alice, &verified, &mut rng);
    let accept_cost = Cost {
        ed_decode: 1,
        ed_montgomery: 1,
        dh: 5,
        x3dh_kdf: 1,
        kdf_rk: 1,
        ..Cost::DECRYPT
    };
    rows.push((
        "x3dh/accept vs floor".into(),
        accept_vs_floor(&bob_stored, &first, &mut floor, &accept_cost),
    ));

    // PQXDH: the bundle from its bytes (decode, both signatures, the modulus
    // check) and the initiation, as an initiator does it; accept with the
    // first message. Floors: the same primitive calls plus ML-KEM.
    let pq_bytes = bob.bundle(Some(id)).expect("bundle").encode();
    let pq_initiate_cost = Cost {
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
    };
    let r = paired(
        ROUNDS,
        || {
            timed(3, || {
                let verified = PreKeyBundle::decode(black_box(&pq_bytes))
                    .expect("decodes")
                    .verify()
                    .expect("verifies");
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
        || timed(3, || floor.run(&pq_initiate_cost)),
    );
    rows.push((
        "pqxdh/initiate (decode + verify + initiate) vs floor".into(),
        r,
    ));
    let pq_verified = PreKeyBundle::decode(&pq_bytes)
        .expect("decodes")
        .verify()
        .expect("verifies");
    let pq_first = first_prekey_message(&alice, &pq_verified, &mut rng);
    let pq_accept_cost = Cost {
        ed_decode: 1,
        ed_montgomery: 1,
        dh: 5,
        kem_keygen: 1,
        kem_decaps: 1,
        pqxdh_kdf: 1,
        kdf_rk: 1,
        ..Cost::DECRYPT
    };
    rows.push((
        "pqxdh/accept vs floor".into(),
        accept_vs_floor(&bob_stored, &pq_first, &mut floor, &pq_accept_cost),
    ));

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
        // With header encryption HKr is tried first (§6), so an in-order
        // message costs one header trial whatever is stored.
        let mut floor = Floor::new(PAYLOAD_LEN, he);
        let r = paired(
            ROUNDS,
            || timed_stream(&mut full, &payload, 400),
            || timed(400, || floor.run(&Cost::decrypt(he, 0))),
        );
        rows.push((format!("{mode}/in_order/2000 vs floor"), r));
    }
    let mut pair = Pair::new(false, 77);
    pair.new_chain_skipping(0, &[0x5a; PAYLOAD_LEN]);
    let stored = pair.b.to_stored();
    let max_skip = SessionConfig::default().max_skip();
    for _ in 0..max_skip {
        pair.a_to_b(&[0x5a; PAYLOAD_LEN]);
    }
    let jump = pair.a_to_b(&[0x5a; PAYLOAD_LEN]);
    let mut floor = Floor::new(PAYLOAD_LEN, false);
    let r = paired(
        ROUNDS,
        || {
            let mut total = Duration::ZERO;
            for _ in 0..2 {
                let mut session = Session::from_stored(&stored).expect("loads");
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

fn main() {
    // `cargo bench` passes `--bench`; a listing asks for nothing to run.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    paired_report();
}
