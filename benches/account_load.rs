//! Issue 20 item 8: what loading an account costs per one-time KEM prekey.
//! Format 3 stored only each key's 64-byte seed (SPEC.md §11), so
//! `Account::from_bytes` expanded every encapsulation key and signed it
//! again; format 4 stores each key's signed public part too, and loading
//! copies it. This measures how the load grows: the last-resort key alone,
//! then 100, 1,000 and 10,000 one-time KEM prekeys.
//!
//! Measured here (2 shared cores, `--warm-up-time 1 --measurement-time 3`),
//! format 3 → format 4: 0 keys 134 µs → 58 µs; 100 keys 7.0 ms → 68 µs;
//! 1,000 keys 75 ms → 1.0 ms; 10,000 keys 802 ms → 26 ms.
//!
//! ```text
//! cargo bench -p cliquet-bench --bench account_load
//! ```
#![allow(
    clippy::expect_used,
    reason = "a benchmark whose setup fails must stop: its numbers would be meaningless"
)]

use core::hint::black_box;
use core::time::Duration;

use cliquet::Account;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn account_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("account_load");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut rng = ChaCha20Rng::from_seed([81; 32]);
    for n in [0u64, 100, 1_000, 10_000] {
        let mut account = Account::new(&mut rng);
        account.generate_one_time_kem_prekeys(usize::try_from(n).expect("small"), &mut rng);
        let stored = account.to_stored();
        // Per KEM prekey (the last-resort one included).
        g.throughput(Throughput::Elements(n + 1));
        g.bench_with_input(
            BenchmarkId::new("one_time_kem_prekeys", n),
            &stored,
            |b, stored| b.iter(|| Account::from_stored(black_box(stored)).expect("loads")),
        );
    }
    g.finish();
}

criterion_group!(benches, account_load);
criterion_main!(benches);
