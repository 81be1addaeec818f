//! End-to-end encryption for messengers, secure channels and device sync:
//! PQXDH key agreement over published key bundles (X3DH with ML-KEM-1024,
//! post-quantum by default), the Double Ratchet (with optional header
//! encryption), safety numbers and sender keys for groups,
//! in the family of the Signal protocol. Every byte and derivation is fixed
//! by the crate's specification, [`spec`] (the repository's `SPEC.md`); the
//! docs cite its sections as "SPEC §N".
//!
//! The crate is pure: no I/O, no clock, no threads, `no_std` + `alloc`, no
//! `unsafe`. It turns bytes and state into bytes and state; the application
//! moves the bytes and stores the state, and passes in a `rand_core` 0.10
//! RNG ([`rand_core`]) where randomness is needed.
//!
//! # Start here
//! A messenger keeps one [`Account`] per device and one [`SessionRecord`]
//! per peer device:
//!
//! ```
//! use cliquet::{Account, AnyMessage, PreKeyBundle, SessionConfig, SessionRecord};
//! # use rand_chacha::rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
//! // let mut rng = cliquet::rand_core::UnwrapErr(getrandom::SysRng);
//! let config = SessionConfig::default();
//! let alice = Account::new(&mut rng);
//! let mut bob = Account::new(&mut rng);
//! let (one_time, _) = bob.generate_one_time_prekeys(1, &mut rng)[0];
//! let published = bob.bundle(Some(one_time))?.encode();
//!
//! let mut alice_to_bob = SessionRecord::new();
//! let mut bob_to_alice = SessionRecord::new();
//! let bundle = PreKeyBundle::decode(&published)?.verify()?;
//! alice_to_bob.start_new(alice.identity(), &bundle, config, &mut rng)?;
//! let wire = alice_to_bob.encrypt(b"Hello Bob", &mut rng)?.into_bytes();
//!
//! let received = bob_to_alice.decrypt(&mut bob, &AnyMessage::decode(&wire)?, config)?;
//! assert_eq!(received.plaintext, b"Hello Bob");
//! assert!(received.account_changed); // store Bob's account with his record
//! # Ok::<(), cliquet::Error>(())
//! ```
//!
//! Then:
//! - decode what arrives with [`Incoming::decode`]: messages go to
//!   [`SessionRecord::decrypt`] (or [`SessionRecord::decrypt_ratchet`],
//!   which needs no account), notices to
//!   [`SessionRecord::on_decryption_failure`];
//! - store state with `to_stored` / `from_stored`, or sealed under a
//!   storage key with `seal` / `open` ([`SessionRecord::seal`]); wire types
//!   have `encode` / `decode`, for what crosses the network. The names
//!   never mix: `to_bytes` / `from_bytes` are only a key's or an id's raw
//!   bytes;
//! - let users compare [`SafetyNumber`]s, and decide on
//!   [`Error::IdentityChanged`] ([`SessionRecord::accept_identity`]);
//! - for groups, keep one [`GroupSession`] per group;
//! - for people with several devices ([SPEC §14](crate::spec)), keep one [`PersonRecord`]
//!   per person (and one for one's own other devices): it accepts the
//!   person's signed device lists ([`VerifiedDeviceList`], signed with a
//!   [`UserKeyPair`]) and keeps a [`SessionRecord`] per listed device;
//! - [`Session`] is the single session under a record, for applications
//!   that route messages themselves.
//!
//! # Which RNG
//! Any `rand_core` 0.10 `CryptoRng`: `cliquet::rand_core::UnwrapErr(getrandom::SysRng)`
//! (getrandom 0.4, feature `sys_rng`) uses the operating system's. `rand`
//! 0.9's `rand::rng()` implements the older `rand_core` 0.9 and does not
//! fit.
//!
//! # Enums that may grow
//! [`Error`] and its details ([`DecodeError`], [`StateError`],
//! [`ConfigError`]), [`Incoming`], [`AnyMessage`] and [`RatchetMessage`]
//! are `#[non_exhaustive]`: a new error or message kind is not a breaking
//! change, so a `match` on them needs a wildcard arm. Match errors across
//! versions and languages by [`Error::name`], [SPEC §8](crate::spec)'s stable name.
//! [`KemPreKeyKind`] is exhaustive: SPEC fixes its two kinds.
//!
//! # Features
//! - `serde`: `Serialize` / `Deserialize` for keys, bundles, messages and
//!   session ids, as their wire encoding.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
#[macro_use]
extern crate std;

// The layers, bottom up: a file uses only files of its own layer or below,
// never in a cycle. The order is declared once, in `tools/layers.toml`, and
// `python3 tools/layers.py` checks it (see Architecture in the README).
mod error;

mod codec;
mod crypto;
mod keys;

mod config;
mod storage;

mod safety;

mod group;
mod pairwise;

mod users;

mod incoming;

#[cfg(feature = "serde")]
mod serde;

// Not part of the API: the primitives' wrappers, for the Wycheproof tests.
#[cfg(feature = "test-hazmat")]
#[doc(hidden)]
pub mod hazmat;

/// The protocol this crate implements, byte for byte: the repository's
/// `SPEC.md`, included here so that every "SPEC §N" the docs cite is one
/// click away. Sections 1 to 10 and 14 are the shared protocol; 11 to 13
/// (stored formats, session records, the decryption-failure notice) are
/// this library's own, written so that a second implementation can read
/// the same state and answer the same notices.
#[doc = include_str!("../SPEC.md")]
pub mod spec {}

/// The README's code runs as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use config::SessionConfig;
pub use error::{ConfigError, DecodeError, Error, StateError};
pub use group::{GroupMessage, GroupSession, SenderKeyDistribution};
pub use incoming::Incoming;
pub use keys::{
    IdentityKey, IdentityKeyPair, KemPreKey, KemPreKeyKind, KemPublicKey, OneTimePreKey, PublicKey,
    SignedPreKey,
};
pub use pairwise::{
    Accepted, Account, Directory, PreKeyBundle, Publication, SignedKemPreKey, VerifiedBundle,
};
pub use pairwise::{
    AnyMessage, Decrypted, DecryptionFailure, EncryptedHeaderMessage, IgnoredNotice, Message,
    NoticeOutcome, PreKeyMessage, RatchetMessage, Session, SessionId, SessionRecord,
};
/// The `rand_core` this crate takes its randomness through.
pub use rand_core;
pub use safety::SafetyNumber;
pub use users::{
    DeviceEntry, DeviceFailure, DeviceList, DeviceListBuilder, DeviceMessage, Fanout, ListChange,
    PersonRecord, UserKeyPair, VerifiedDeviceList, encode_with_list_version, split_list_version,
};
