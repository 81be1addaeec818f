//! Wire types ([SPEC §5](crate::spec), §6 and the notice of the recovery flow): what
//! crosses the network, decoded strictly and encoded once. Nothing here
//! knows a session; the session and the record read these types.
//!
//! - [`ratchet`]: `Message` (0x11), `EncryptedHeaderMessage` (0x13), and
//!   [`RatchetMessage`], either of them;
//! - [`prekey`]: `PreKeyMessage` (0x12, and 0x17 for PQXDH), the [`Handshake`] it carries and the
//!   [`SessionId`] it names;
//! - [`notice`]: `DecryptionFailure` (0x15);
//! - [`any`]: [`AnyMessage`], anything a session receives, by kind byte;
//! - [`layout`]: the lengths of headers and ciphertexts.

mod any;
pub(crate) mod layout;
mod notice;
mod prekey;
mod ratchet;

pub use any::AnyMessage;
pub(crate) use layout::{EH_MESSAGE_HEADER_LEN, ENC_HEADER_LEN, HEADER_LEN, body_aad};
pub use notice::DecryptionFailure;
pub(crate) use prekey::Handshake;
pub use prekey::{PreKeyMessage, SessionId};
pub use ratchet::{EncryptedHeaderMessage, Message, RatchetMessage};
pub(crate) use ratchet::{Header, Shape};
