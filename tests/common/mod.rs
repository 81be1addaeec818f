//! Helpers shared by the integration tests, each in one place:
//! - [`pair`]: two accounts and their established sessions (`Pair`);
//! - [`devices`]: two devices with session records (`Devices`);
//! - [`people`]: people with several devices and their lists (`Person`);
//! - [`rng`]: the hand-written RNGs (recording, scripted, zero);
//! - [`golden`]: the golden files of each storage format version;
//! - [`debug`]: the check that a `Debug` output shows no secret.
//!
//! Each test file uses a different part of them.
#![allow(
    dead_code,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "a std test harness used by each test file in part: a failed expectation is a failed test"
)]

pub(crate) mod debug;
pub(crate) mod devices;
pub(crate) mod golden;
pub(crate) mod pair;
pub(crate) mod people;
pub(crate) mod rng;

#[allow(unused_imports, reason = "each test file uses a different part")]
pub(crate) use pair::{Pair, decrypt_checked, established, flipped, initiated, prekey};

/// Proptest's configuration: `default` cases, or `PROPTEST_CASES` for a
/// long run.
pub(crate) fn proptest_config(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    proptest::test_runner::Config::with_cases(cases)
}
