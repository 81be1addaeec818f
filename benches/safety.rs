//! Safety numbers (SPEC §9): `SafetyNumber::new` next to its floor, the
//! 2 × 5,201 SHA-512 computations it must make (one chain per side, over the
//! same input sizes: `h_0` over label, length, id and key, then 5,200 times
//! 96 bytes), in one criterion run; and checking a scanned code.
//!
//! Two floors: `floor_sha512_2x5201` with one-shot `Sha512::digest` calls
//! (what any caller of `sha2` pays), and `floor_compress512_2x5201`, the
//! compression function alone on pre-padded one-block inputs (every input of
//! §9 fits one 128-byte block: no buffering, no padding work).
//!
//! Before the group runs, the binary prints to stderr a paired report: the
//! ratio of `new` to each floor over interleaved rounds (quartiles), which
//! load drift on a shared machine cannot bias (`CLIQUET_NO_PAIRED=1` skips it).
//!
//! `cargo bench --bench safety`

use core::hint::black_box;

use cliquet::{IdentityKey, IdentityKeyPair, SafetyNumber};
use cliquet_testkit::timing::{paired, timed};
use criterion::{Criterion, Throughput, criterion_group};
use sha2::{Digest, Sha512};

const LABEL: &[u8] = b"cliquet/v1/safety-number";
const OWN_ID: &[u8] = b"alice@example.org";
const PEER_ID: &[u8] = b"bob@example.org";

fn keys() -> (IdentityKey, IdentityKey) {
    (
        *IdentityKeyPair::from_secret_bytes(&[1; 32]).public_key(),
        *IdentityKeyPair::from_secret_bytes(&[2; 32]).public_key(),
    )
}

/// One side's chain with one-shot `Sha512::digest` calls: 5,201 SHA-512.
fn floor_chain(ik: &[u8; 32], id: &[u8]) -> [u8; 64] {
    let mut first = Vec::with_capacity(LABEL.len() + 1 + id.len() + 32);
    first.extend_from_slice(LABEL);
    first.push(u8::try_from(id.len()).unwrap());
    first.extend_from_slice(id);
    first.extend_from_slice(ik);
    let mut block = [0u8; 96];
    block[..64].copy_from_slice(&Sha512::digest(&first));
    block[64..].copy_from_slice(ik);
    for _ in 0..5200 {
        let h = Sha512::digest(block);
        block[..64].copy_from_slice(&h);
    }
    block[..64].try_into().unwrap()
}

/// FIPS 180-4's SHA-512 initial hash value.
const IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

/// One side's `rounds` SHA-512 (5,201) as bare compressions of a padded
/// 96-byte block `h || IK || 0x80 || zeros || u128be(768)`, chained like
/// §9's (from `h = zeros(64)`); returns the last hash.
fn floor_compress(ik: &[u8; 32], rounds: usize) -> [u8; 64] {
    let mut block = [0u8; 128];
    block[64..96].copy_from_slice(ik);
    block[96] = 0x80;
    block[112..].copy_from_slice(&(96u128 * 8).to_be_bytes());
    for _ in 0..rounds {
        let mut state = IV;
        sha2::block_api::compress512(&mut state, core::slice::from_ref(&block));
        for (out, word) in block[..64].chunks_exact_mut(8).zip(state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
    }
    block[..64].try_into().unwrap()
}

fn safety(c: &mut Criterion) {
    let (own, peer) = keys();
    // The floor computes what `new` computes: check it once.
    let number = SafetyNumber::new(&own, OWN_ID, &peer, PEER_ID).unwrap();
    assert_eq!(
        floor_chain(own.as_bytes(), OWN_ID)[..30],
        number.own_fingerprint()[..]
    );
    let mut block = [0u8; 96];
    block[64..].copy_from_slice(own.as_bytes());
    assert_eq!(
        floor_compress(own.as_bytes(), 1)[..],
        Sha512::digest(block)[..],
        "the compression floor computes SHA-512"
    );
    let theirs = SafetyNumber::new(&peer, PEER_ID, &own, OWN_ID).unwrap();
    let code = theirs.scannable();

    let mut g = c.benchmark_group("safety");
    g.throughput(Throughput::Elements(1));
    g.bench_function("new", |b| {
        b.iter(|| {
            SafetyNumber::new(
                black_box(&own),
                black_box(OWN_ID),
                black_box(&peer),
                black_box(PEER_ID),
            )
        });
    });
    g.bench_function("floor_sha512_2x5201", |b| {
        b.iter(|| {
            (
                floor_chain(black_box(own.as_bytes()), black_box(OWN_ID)),
                floor_chain(black_box(peer.as_bytes()), black_box(PEER_ID)),
            )
        });
    });
    g.bench_function("floor_compress512_2x5201", |b| {
        b.iter(|| {
            (
                floor_compress(black_box(own.as_bytes()), 5201),
                floor_compress(black_box(peer.as_bytes()), 5201),
            )
        });
    });
    g.bench_function("verify_scanned", |b| {
        b.iter(|| black_box(&number).verify_scanned(black_box(&code)));
    });
    g.finish();
}

fn paired_report() {
    const ROUNDS: usize = 21;
    const CALLS: usize = 20;
    let (own, peer) = keys();
    let new = || {
        timed(CALLS, || {
            black_box(SafetyNumber::new(
                black_box(&own),
                black_box(OWN_ID),
                black_box(&peer),
                black_box(PEER_ID),
            ))
            .unwrap();
        })
    };
    let digest = || {
        timed(CALLS, || {
            black_box(floor_chain(black_box(own.as_bytes()), black_box(OWN_ID)));
            black_box(floor_chain(black_box(peer.as_bytes()), black_box(PEER_ID)));
        })
    };
    let compress = || {
        timed(CALLS, || {
            black_box(floor_compress(black_box(own.as_bytes()), 5201));
            black_box(floor_compress(black_box(peer.as_bytes()), 5201));
        })
    };
    eprintln!("paired report ({ROUNDS} interleaved rounds of {CALLS} calls; ratio quartiles):");
    for (name, r) in [
        ("new / floor_sha512_2x5201", paired(ROUNDS, new, digest)),
        (
            "new / floor_compress512_2x5201",
            paired(ROUNDS, new, compress),
        ),
    ] {
        eprintln!("  {name:32} {:.3} {:.3} {:.3}", r[0], r[1], r[2]);
    }
}

criterion_group!(benches, safety);

fn main() {
    let quiet = std::env::args().any(|a| a == "--list" || a == "--profile-time");
    if !quiet && std::env::var_os("CLIQUET_NO_PAIRED").is_none() {
        paired_report();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
