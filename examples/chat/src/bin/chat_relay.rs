//! The chat relay: a prekey directory and mailboxes for `chat_client`.
//!
//! ```text
//! cargo run -p cliquet-chat --bin chat_relay -- [--listen 127.0.0.1:7878]
//! ```
//!
//! It runs until interrupted (Ctrl-C) and keeps everything in memory. It only
//! ever handles public keys and ciphertext.

use std::error::Error;
use std::net::TcpListener;

use cliquet_chat::relay;

fn main() -> Result<(), Box<dyn Error>> {
    let mut listen = String::from("127.0.0.1:7878");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            _ => {
                return Err(
                    format!("unknown argument {arg:?}; usage: chat_relay [--listen ADDR]").into(),
                );
            }
        }
    }
    let relay = relay::Relay::start(TcpListener::bind(&listen)?, false)?;
    println!("relay listening on {} (Ctrl-C to stop)", relay.local_addr());
    loop {
        std::thread::park();
    }
}
