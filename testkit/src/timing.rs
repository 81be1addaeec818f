//! The paired reports' clock: blocks of calls timed back to back.

use core::time::Duration;
use std::time::Instant;

/// One paired comparison: `rounds` rounds, each timing a block of `a` and a
/// block of `b` back to back (the order alternating), so that both see the
/// same load. Returns the quartiles of the per-round ratios `a / b`.
pub fn paired(
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
pub fn timed(n: usize, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed()
}
