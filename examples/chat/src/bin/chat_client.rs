//! The chat client: end-to-end encrypted chat through `chat_relay`, with the
//! account and session records kept in SQLite (see `examples/chat/src/client.rs`
//! for the order in which state is stored).
//!
//! ```text
//! cargo run -p cliquet-chat --bin chat_client -- --name alice --peer bob
//! ```
//!
//! Interactive by default: each line typed goes to `--peer` (or to `NAME` if
//! it starts with `@NAME `), incoming messages print as they arrive, `/quit`
//! or end of input leaves, `/verify NAME` shows the safety number of the
//! conversation with NAME to compare with them, `/trust NAME` accepts their
//! new identity key. Groups: `/group create GROUP`, `/group add GROUP NAME`,
//! and `#GROUP text` sends to a group (encrypted once; the relay delivers a
//! copy to each member). Non-interactive with any of:
//!
//! * `--send TEXT` (repeatable): send these to `--peer`, in order;
//! * `--expect N`: wait until N messages arrived (at most `--wait` seconds);
//! * `--wait SECS`: how long to wait for messages (default 10 with `--expect`);
//! * `--history`: print the stored conversation at the end;
//! * `--verify NAME`: print the safety number of the conversation with NAME;
//! * `--trust NAME`: accept NAME's new identity key (after comparing).
//!
//! Other options: `--relay ADDR` (default 127.0.0.1:7878), `--db PATH`
//! (default `NAME.db`; the storage key goes to `PATH.key`).
//!
//! With `--device N`, the client is device N of a person with several
//! devices (`examples/chat/src/people.rs`; scripted only, no groups): its
//! mailbox is `NAME/N`, its database `NAME-N.db` by default, and it prints
//! the person's user key. Device 1 makes the user key and signs the
//! person's device lists. A new device N needs `--user-key HEX` (printed by
//! device 1) and prints its link code with `--link-code`; device 1 lists it
//! with `--link CODE` and drops a device with `--remove N`. `--send` reaches
//! every listed device of `--peer`, `--verify NAME` prints the one safety
//! number of the two people (of their user keys), and `--expect`/`--wait`
//! read this device's mail:
//!
//! ```text
//! chat_client --name alice --device 1 --wait 0                  # prints the user key
//! chat_client --name alice --device 2 --user-key HEX --link-code
//! chat_client --name alice --device 1 --link CODE
//! chat_client --name bob --device 1 --peer alice --send "hi, both of you"
//! chat_client --name alice --device 2 --expect 1
//! chat_client --name alice --device 1 --remove 2
//! ```

use std::error::Error;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use cliquet::IdentityKey;
use cliquet_chat::client::{self, Batch, Client};
use cliquet_chat::people::Device;

const USAGE: &str = "usage: chat_client --name NAME [--peer NAME] [--relay ADDR] [--db PATH] \
                     [--send TEXT]... [--expect N] [--wait SECS] [--history] [--verify NAME] \
                     [--trust NAME] [--device N [--user-key HEX] [--link-code] [--link CODE] \
                     [--remove N]]";
/// How often the client asks the relay for mail.
const POLL: Duration = Duration::from_millis(300);

#[derive(Default)]
struct Options {
    name: Option<String>,
    peer: Option<String>,
    relay: Option<String>,
    db: Option<PathBuf>,
    send: Vec<String>,
    expect: Option<usize>,
    wait: Option<u64>,
    history: bool,
    verify: Option<String>,
    trust: Option<String>,
    device: Option<u32>,
    user_key: Option<String>,
    link_code: bool,
    link: Option<String>,
    remove: Option<u32>,
}

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let options = parse()?;
    let name = options.name.clone().ok_or(USAGE)?;
    let relay = options.relay.as_deref().unwrap_or("127.0.0.1:7878");
    let relay = std::net::ToSocketAddrs::to_socket_addrs(relay)?
        .next()
        .ok_or("--relay: no such address")?;
    if let Some(device_id) = options.device {
        return run_device(&options, &name, device_id, relay);
    }
    let db = options
        .db
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.db")));
    let mut client = Client::open(&db, &name, relay)?;
    eprintln!(
        "{} connected to {relay}; identity {}",
        client.name(),
        client.fingerprint()
    );

    let scripted = !options.send.is_empty()
        || options.expect.is_some()
        || options.wait.is_some()
        || options.history
        || options.verify.is_some()
        || options.trust.is_some();
    if scripted {
        run_scripted(&mut client, &options)
    } else {
        run_interactive(&mut client, options.peer.as_deref())
    }
}

fn run_scripted(
    client: &mut Client,
    options: &Options,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    if let Some(name) = &options.verify {
        identity_command(client, "/verify", name)?;
    }
    if let Some(name) = &options.trust {
        identity_command(client, "/trust", name)?;
    }
    if !options.send.is_empty() {
        let peer = options.peer.as_deref().ok_or("--send needs --peer")?;
        for text in &options.send {
            client.send(peer, text)?;
        }
    }
    let wait = options
        .wait
        .unwrap_or(if options.expect.is_some() { 10 } else { 0 });
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut received = 0;
    loop {
        received += show(&client.poll()?);
        let enough = options.expect.is_some_and(|n| received >= n);
        if enough || Instant::now() >= deadline {
            break;
        }
        thread::sleep(POLL);
    }
    if options.history {
        for line in client.history()? {
            let arrow = if line.outgoing { "->" } else { "<-" };
            println!("{arrow} {}: {}", line.peer, line.text);
        }
    }
    match options.expect {
        Some(n) if received < n => Err(format!("expected {n} messages, got {received}").into()),
        _ => Ok(()),
    }
}

/// `--device N`: one device of a person with several.
fn run_device(
    options: &Options,
    name: &str,
    device_id: u32,
    relay: std::net::SocketAddr,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let db = options
        .db
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}-{device_id}.db")));
    let user_key = options
        .user_key
        .as_deref()
        .map(|key| -> Result<IdentityKey, Box<dyn Error + Send + Sync>> {
            let bytes = <[u8; 32]>::try_from(hex::decode(key.trim())?.as_slice())
                .map_err(|_| "--user-key: 32 bytes in hex")?;
            Ok(IdentityKey::from_bytes(&bytes)?)
        })
        .transpose()?;
    let mut device = Device::open(&db, relay, name, device_id, user_key.as_ref())?;
    eprintln!(
        "{} connected to {relay}; user key {}",
        device.mailbox(),
        hex::encode(device.user_key().as_bytes())
    );
    if options.link_code {
        println!("{}", device.link_code());
    }
    if let Some(code) = &options.link {
        let id = device.link_with_code(code)?;
        println!("linked device {id}");
    }
    if let Some(id) = options.remove {
        device.remove_device(id)?;
        println!("removed device {id}");
    }
    if let Some(peer) = &options.verify {
        println!("safety number with {peer}: {}", device.safety_number(peer)?);
    }
    if !options.send.is_empty() {
        let peer = options.peer.as_deref().ok_or("--send needs --peer")?;
        for text in &options.send {
            let reached = device.send(peer, text)?;
            eprintln!("sent to {peer}'s devices {reached:?}");
        }
    }
    let wait = options
        .wait
        .unwrap_or(if options.expect.is_some() { 10 } else { 0 });
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut received = 0;
    loop {
        for delivery in device.receive()? {
            let from = format!("{}/{}", delivery.from, delivery.device_id);
            match delivery.text {
                Ok(text) => {
                    println!("{from}: {text}");
                    received += 1;
                }
                Err(e) => eprintln!("refused a message from {from}: {e}"),
            }
        }
        let enough = options.expect.is_some_and(|n| received >= n);
        if enough || Instant::now() >= deadline {
            break;
        }
        thread::sleep(POLL);
    }
    match options.expect {
        Some(n) if received < n => Err(format!("expected {n} messages, got {received}").into()),
        _ => Ok(()),
    }
}

fn run_interactive(
    client: &mut Client,
    peer: Option<&str>,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    eprintln!("type a message and Enter; \"@name text\" sends to someone else; /quit leaves");
    // Standard input is read on its own thread so that mail keeps arriving
    // while nobody types.
    let (lines, input) = mpsc::channel();
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        match input.recv_timeout(POLL) {
            Ok(line) if line.trim() == "/quit" => break,
            Ok(line) if line.starts_with("/group ") => {
                let words: Vec<&str> = line.split_whitespace().collect();
                let done = match words.as_slice() {
                    [_, "create", group] => client.create_group(group),
                    [_, "add", group, name] => client.add_to_group(group, name),
                    _ => Err("usage: /group create GROUP | /group add GROUP NAME".into()),
                };
                if let Err(e) = done {
                    eprintln!("/group: {e}");
                }
            }
            Ok(line) if line.starts_with('#') => {
                let (group, text) = line[1..].split_once(' ').unwrap_or((&line[1..], ""));
                if let Err(e) = client.send_group(group, text) {
                    eprintln!("not sent to #{group}: {e}");
                }
            }
            Ok(line) if line.starts_with("/verify ") || line.starts_with("/trust ") => {
                let (command, name) = line.split_once(' ').unwrap_or_default();
                if let Err(e) = identity_command(client, command, name.trim()) {
                    eprintln!("{command}: {e}");
                }
            }
            Ok(line) => {
                let (to, text) = match line.strip_prefix('@').and_then(|l| l.split_once(' ')) {
                    Some((to, text)) => (Some(to), text),
                    None => (peer, line.as_str()),
                };
                match to {
                    _ if text.trim().is_empty() => {}
                    // Queued here and sent by the poll below (or a later
                    // one); a failure is reported and the chat goes on.
                    Some(to) => {
                        if let Err(e) = client.queue(to, text) {
                            eprintln!("not sent: {e}");
                        }
                    }
                    None => eprintln!("to whom? start with @name, or run with --peer"),
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        show(&client.poll()?);
    }
    Ok(())
}

/// `/verify NAME` or `/trust NAME`.
fn identity_command(
    client: &mut Client,
    command: &str,
    name: &str,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    if command == "/trust" {
        client.trust(name)?;
        println!("trusted {name}'s new identity key");
        return Ok(());
    }
    for (which, number) in client.safety_numbers(name)? {
        println!("safety number with {name} ({which} key): {number}");
    }
    println!(
        "compare it with {name} (read aloud, or in person); if it differs, someone is in between"
    );
    Ok(())
}

/// Prints a batch; returns how many messages it held.
fn show(batch: &Batch) -> usize {
    for message in &batch.received {
        println!("{}: {}", message.from, message.text);
    }
    for why in &batch.dropped {
        eprintln!("dropped a message {why}");
    }
    if let Some(why) = &batch.unsent {
        eprintln!("queued, not sent yet: {why}");
    }
    for message in &batch.group_received {
        println!("{}@{}: {}", message.from, message.group, message.text);
    }
    for group in &batch.joined {
        eprintln!("you were added to the group {group}; write to it with #{group} text");
    }
    for peer in &batch.identity_changes {
        eprintln!("{}", client::identity_changed(peer));
    }
    for peer in &batch.resets {
        eprintln!("{peer} could not read our last message(s); the next one starts a new session");
    }
    batch.received.len()
}

fn parse() -> Result<Options, Box<dyn Error + Send + Sync>> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value; {USAGE}"))
        };
        match arg.as_str() {
            "--name" => options.name = Some(value()?),
            "--peer" => options.peer = Some(value()?),
            "--relay" => options.relay = Some(value()?),
            "--db" => options.db = Some(value()?.into()),
            "--send" => options.send.push(value()?),
            "--expect" => options.expect = Some(value()?.parse()?),
            "--wait" => options.wait = Some(value()?.parse()?),
            "--history" => options.history = true,
            "--verify" => options.verify = Some(value()?),
            "--trust" => options.trust = Some(value()?),
            "--device" => options.device = Some(value()?.parse()?),
            "--user-key" => options.user_key = Some(value()?),
            "--link-code" => options.link_code = true,
            "--link" => options.link = Some(value()?),
            "--remove" => options.remove = Some(value()?.parse()?),
            _ => return Err(format!("unknown argument {arg:?}; {USAGE}").into()),
        }
    }
    Ok(options)
}
