//! The checks behind cliquet's fuzz targets live in the test kit
//! (`testkit/src/fuzz/`), so that the main workspace's
//! `tests/fuzz_corpus.rs` replays the committed seed corpora through exactly
//! the same code on stable Rust; the targets name them through this crate.

pub use cliquet_testkit::fuzz::{checks, fixtures, group, protocol, users};
