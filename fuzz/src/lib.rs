//! The checks behind cliquet's fuzz targets, in a library so that the main
//! crate's `tests/fuzz_corpus.rs` replays the committed seed corpora through
//! exactly the same code on stable Rust.
//!
//! Each module is written so that it also compiles when included on its own
//! by path (it names its siblings through `crate::`).

pub mod checks;
pub mod fixtures;
pub mod group;
pub mod protocol;
pub mod users;
