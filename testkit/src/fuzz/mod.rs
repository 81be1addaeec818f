//! The checks behind cliquet's fuzz targets (`fuzz/fuzz_targets/`), here so
//! that `tests/fuzz_corpus.rs` replays the committed seed corpora through
//! exactly the same code on stable Rust. The fuzz crate depends on the test
//! kit by path and re-exports this module.

pub mod checks;
pub mod fixtures;
pub mod group;
pub mod protocol;
pub mod users;
