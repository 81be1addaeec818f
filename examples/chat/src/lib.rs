//! The chat example's library: the relay protocol ([`proto`]), the relay
//! ([`relay`]) and the client ([`client`]), which the `chat_relay` and
//! `chat_client` binaries run and `tests/chat.rs` drives in-process.

pub mod client;
pub mod proto;
pub mod relay;
