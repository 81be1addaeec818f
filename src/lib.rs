#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
#[macro_use]
extern crate std;

// The layers, bottom up: a module uses only modules on lines above its own
// (`python3 tools/layers.py` checks it; see ARCHITECTURE in the README).
// ground
mod codec;
mod config;
mod crypto;
mod error;
// keys and the key schedule
mod kdf;
mod keys;
// wire types
mod bundle;
mod message;
// the handshake and the storage framing
mod storage;
mod x3dh;
// state machines
mod account;
mod ratchet;
mod record;
mod session;
// optional layers
#[cfg(feature = "serde")]
mod serde;

pub use account::{Accepted, Account};
pub use bundle::{PreKeyBundle, VerifiedBundle};
pub use config::SessionConfig;
pub use error::{ConfigError, DecodeError, Error, StateError};
pub use keys::{IdentityKey, IdentityKeyPair, OneTimePreKey, PublicKey, SignedPreKey};
pub use message::{
    AnyMessage, DecryptionFailure, EncryptedHeaderMessage, Message, PreKeyMessage, RatchetMessage,
    SessionId,
};
/// The `rand_core` this crate takes its randomness through.
pub use rand_core;
pub use record::SessionRecord;
pub use session::Session;
