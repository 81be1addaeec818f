//! Property tests, one module per part of the library: random two-party
//! conversations and arbitrary bytes into every decoder and loader
//! ([`conversations`]), session records over random event sequences
//! ([`records`]) and whole group lives ([`group`]), each checked against
//! what SPEC promises.
//!
//! Cases default to a quick run; `PROPTEST_CASES=5000 cargo test --release
//! --test properties` runs a heavy one (`-- records` for one module). Each
//! module's regressions file is next to it
//! (`<module>.proptest-regressions`).

mod conversations;
mod group;
mod records;

/// Proptest's configuration: `default` cases, or `PROPTEST_CASES` for a
/// long run.
fn proptest_config(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    proptest::test_runner::Config::with_cases(cases)
}
