//! The chat example's library: the relay protocol ([`proto`]), the relay
//! ([`relay`]), the client ([`client`]) and people with several devices
//! ([`people`]), which the `chat_relay` and
//! `chat_client` binaries run and `tests/chat.rs` drives in-process.

pub mod client;
pub mod people;
pub mod proto;
pub mod relay;
