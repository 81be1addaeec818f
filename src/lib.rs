#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
#[macro_use]
extern crate std;

// The layers, bottom up: a module uses only modules declared before it
// (`python3 tools/layers.py` checks it; see Architecture in the README).
mod public;

mod codec;
mod config;
mod crypto;
mod error;
mod kem;

mod kdf;
mod keys;

mod bundle;
mod message;
mod safety;

mod storage;
mod x3dh;

mod group;

mod ratchet;

mod session;

mod account;

mod record;

#[cfg(feature = "serde")]
mod serde;

pub use account::{Accepted, Account};
pub use bundle::{PreKeyBundle, SignedKemPreKey, VerifiedBundle};
pub use config::SessionConfig;
pub use error::{ConfigError, DecodeError, Error, StateError};
pub use group::{GroupMessage, GroupSession, SenderKeyDistribution};
pub use keys::{
    IdentityKey, IdentityKeyPair, KemPreKey, KemPreKeyKind, KemPublicKey, OneTimePreKey, PublicKey,
    SignedPreKey,
};
pub use message::{
    AnyMessage, DecryptionFailure, EncryptedHeaderMessage, Message, PreKeyMessage, RatchetMessage,
    SessionId,
};
/// The `rand_core` this crate takes its randomness through.
pub use rand_core;
pub use record::SessionRecord;
pub use safety::SafetyNumber;
pub use session::Session;
