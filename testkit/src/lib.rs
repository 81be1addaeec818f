//! cliquet's test kit (unpublished): the fixtures that the integration
//! tests (`tests/`), the benchmarks (`benches/`) and the fuzz targets
//! (`fuzz/`) share, each in one place:
//!
//! - [`pair`]: two accounts and their established sessions ([`Pair`]);
//! - [`devices`]: two devices with session records ([`devices::Devices`]);
//! - [`rng`]: the hand-written RNGs (recording, scripted, zero);
//! - [`golden`]: the golden files of each storage format version;
//! - [`group`]: the group of the group tests;
//! - [`people`]: people with user keys and devices, and the records they
//!   hold of each other (SPEC §14);
//! - [`debug`]: the check that a `Debug` output shows no secret;
//! - [`timing`]: the paired benchmark reports' clock;
//! - [`fuzz`]: the checks behind the fuzz targets, which
//!   `tests/fuzz_corpus.rs` replays on every committed seed.
//!
//! A fixture that fails panics: a failed expectation is a failed test.

pub mod debug;
pub mod devices;
pub mod fuzz;
pub mod golden;
pub mod group;
pub mod pair;
pub mod people;
pub mod rng;
pub mod timing;

pub use pair::{Pair, decrypt_checked, established, flipped, initiated, prekey};
