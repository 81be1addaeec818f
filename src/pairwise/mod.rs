//! One device talking to another ([SPEC §1](crate::spec)–§7, §11–§13): the bundle, the
//! wire messages, the PQXDH/X3DH handshake, the Double Ratchet, and the
//! state a device keeps: its [`Account`], one [`Session`] per handshake and
//! one [`SessionRecord`] per peer device.
//!
//! The files, bottom up (each uses only those before it): `bundle`, `wire`,
//! `publication`, `handshake`, `ratchet`, `session`, `account`, `record`.

pub(crate) mod bundle;
pub(crate) mod wire;

pub(crate) mod publication;

pub(crate) mod handshake;

pub(crate) mod ratchet;

pub(crate) mod session;

pub(crate) mod account;

pub(crate) mod record;

pub use account::{Accepted, Account};
pub use bundle::{PreKeyBundle, SignedKemPreKey, VerifiedBundle};
pub use publication::{Directory, Publication};

pub use record::{Decrypted, IgnoredNotice, NoticeOutcome, SessionRecord};
pub use session::Session;
pub use wire::{
    AnyMessage, DecryptionFailure, EncryptedHeaderMessage, Message, PreKeyMessage, RatchetMessage,
    SessionId,
};
