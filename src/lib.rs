#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
#[macro_use]
extern crate std;

mod account;
mod bundle;
mod codec;
mod config;
mod crypto;
mod error;
mod group;
mod keys;
mod message;
mod ratchet;
mod record;
#[cfg(feature = "serde")]
mod serde;
mod session;
mod state;
mod x3dh;

pub use account::{Accepted, Account};
pub use bundle::{PreKeyBundle, VerifiedBundle};
pub use config::SessionConfig;
pub use error::{DecodeError, Error, StateError};
pub use group::{GroupMessage, GroupSession, SenderKeyDistribution};
pub use keys::{IdentityKey, IdentityKeyPair, OneTimePreKey, PublicKey, SignedPreKey};
pub use message::{AnyMessage, EncryptedHeaderMessage, Message, PreKeyMessage, RatchetMessage};
/// The `rand_core` this crate takes its randomness through.
pub use rand_core;
pub use record::{DecryptionFailure, SessionRecord};
pub use session::{Session, SessionId};
