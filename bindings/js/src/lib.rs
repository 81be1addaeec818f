//! cliquet for JavaScript (browser and Node), through wasm-bindgen.
//!
//! A thin layer: each method converts its arguments, makes one call into
//! the core crate and converts the result. Bytes cross as `Uint8Array`,
//! identity keys as their 32 bytes, errors as JS `Error`s whose `name` and
//! `code` are the SPEC §8 names (`error.rs`). Randomness is
//! `crypto.getRandomValues`, through getrandom's `wasm_js` backend.
//!
//! Every class that holds a secret (`Account`, `SessionRecord`,
//! `GroupSession`, `UserKeyPair`, `PersonRecord`) has wasm-bindgen's
//! `free()`, which drops the Rust value; the core types wipe their secrets
//! on drop. Secrets leave the wasm memory only sealed (`seal`), or
//! unsealed when the caller asks (`toBytes`).

mod error;
mod group;
mod keys;
mod record;
mod users;

pub use error::to_js;
pub use group::GroupSession;
pub use keys::{Account, PreKeyBundle, SafetyNumber, SessionConfig, VerifiedBundle};
pub use record::{Decrypted, Incoming, SessionRecord};
pub use users::{
    DeviceListBuilder, PersonRecord, UserKeyPair, VerifiedDeviceList, encode_with_list_version,
    split_list_version,
};

use cliquet::rand_core::UnwrapErr;

/// The RNG of every call that draws: the platform's CSPRNG
/// (`crypto.getRandomValues` in wasm, the OS's elsewhere).
fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}
