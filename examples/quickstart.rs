//! Quickstart: Alice and Bob in one process.
//!
//! Bob publishes a key bundle with a one-time prekey; Alice verifies it and
//! starts a session (PQXDH: X3DH with an ML-KEM-1024 encapsulation); then they talk both ways over the Double Ratchet,
//! with some messages delivered out of order and one delivered twice. Every
//! message crosses the "network" as bytes, and the transcript shows its kind,
//! its size on the wire, and when a sender's ratchet key changed (a DH
//! ratchet step).
//!
//! Run it with `cargo run --example quickstart`.
#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "an example is a std program; these lints guard the no_std library"
)]

use std::collections::HashMap;
use std::error::Error;

use cliquet::rand_core::UnwrapErr;
use cliquet::{Account, AnyMessage, Message, PreKeyBundle, RatchetMessage, Session, SessionConfig};
use getrandom::SysRng;

fn main() -> Result<(), Box<dyn Error>> {
    // Randomness comes from the caller: here, the operating system.
    let mut rng = UnwrapErr(SysRng);
    let mut log = Transcript::default();

    // Bob creates an account and one one-time prekey, and publishes his
    // bundle (in a real app: uploads these bytes to a directory server).
    let mut bob = Account::new(&mut rng);
    let one_time = bob.generate_one_time_prekeys(1, &mut rng);
    let published = bob.bundle(one_time.first().map(|(id, _)| *id))?.encode();
    bob.mark_one_time_prekeys_published();
    println!("Bob publishes a bundle: {} bytes\n", published.len());

    // Alice downloads the bundle, verifies Bob's signature on it, and starts
    // a session. She can send right away: no round trip needed.
    let alice = Account::new(&mut rng);
    let bundle = PreKeyBundle::decode(&published)?.verify()?;
    let config = SessionConfig::default();
    let mut alice_session = Session::initiate(alice.identity(), &bundle, config, &mut rng)?;

    // Alice's first messages are prekey messages: they carry what Bob needs
    // to run X3DH on his side. Bob accepts the first (this creates his
    // session and consumes his one-time prekey) and decrypts the rest with
    // the session of the same id. (`log.send` is `session.encrypt` plus a
    // transcript line; `log.receive` is `AnyMessage::decode` and
    // `session.decrypt`: see `Transcript` below.)
    let first = log.send("alice", &mut alice_session, "Hi Bob, it's Alice.", &mut rng)?;
    let second = log.send("alice", &mut alice_session, "Are you there?", &mut rng)?;
    let AnyMessage::PreKey(hello) = AnyMessage::decode(&first)? else {
        return Err("Alice's first message should be a prekey message".into());
    };
    let accepted = bob.accept(&hello, config)?;
    log.received("bob", &accepted.plaintext);
    let mut bob_session = accepted.session;
    log.receive("bob", &mut bob_session, &second)?;

    // Bob answers. Once Alice decrypts a reply, she sends plain messages.
    let reply = log.send(
        "bob",
        &mut bob_session,
        "Hi Alice! Loud and clear.",
        &mut rng,
    )?;
    log.receive("alice", &mut alice_session, &reply)?;

    // Alice sends three messages; the network delivers them as 3, 1, 2.
    // Bob keeps the keys of the skipped messages until they arrive.
    let m1 = log.send("alice", &mut alice_session, "One,", &mut rng)?;
    let m2 = log.send("alice", &mut alice_session, "two,", &mut rng)?;
    let m3 = log.send("alice", &mut alice_session, "three.", &mut rng)?;
    for wire in [&m3, &m1, &m2] {
        log.receive("bob", &mut bob_session, wire)?;
        println!(
            "     (Bob holds {} skipped keys)",
            bob_session.skipped_keys()
        );
    }

    // A message delivered twice is refused; the session is unchanged.
    match bob_session.decrypt(&AnyMessage::decode(&m1)?) {
        Err(err) => println!("     replay of \"One,\" refused: {err}"),
        Ok(_) => return Err("a replayed message must not decrypt".into()),
    }

    let last = log.send("bob", &mut bob_session, "Got all three.", &mut rng)?;
    log.receive("alice", &mut alice_session, &last)?;

    // Both sides name the session the same way, and know each other's identity.
    if alice_session.session_id() != bob_session.session_id()
        || bob_session.peer_identity_key() != alice.identity_key()
    {
        return Err("both sides should agree on the session and the identities".into());
    }
    println!("\nSame session id on both sides; each holds the other's identity key.");
    Ok(())
}

/// Prints one line per message and remembers each sender's last ratchet key.
#[derive(Default)]
struct Transcript {
    ratchet_keys: HashMap<&'static str, [u8; 32]>,
}

impl Transcript {
    /// Encrypts `text` and returns the bytes that go on the wire.
    fn send(
        &mut self,
        from: &'static str,
        session: &mut Session,
        text: &str,
        rng: &mut UnwrapErr<SysRng>,
    ) -> Result<Vec<u8>, cliquet::Error> {
        let message = session.encrypt(text.as_bytes(), rng)?;
        let wire = message.encode();
        let (kind, header) = describe(&message);
        let mut line = format!("{from:>5} sends    {kind:<8} {:>4} bytes", wire.len());
        if let Some(header) = header {
            line.push_str(&format!("  n={:<2} {text:?}", header.index()));
            let key = header.ratchet_key().to_bytes();
            match self.ratchet_keys.insert(from, key) {
                None => line.push_str(&format!("  <- first ratchet key {}..", hex_prefix(&key))),
                Some(old) if old != key => {
                    line.push_str(&format!(
                        "  <- ratchet step, new key {}..",
                        hex_prefix(&key)
                    ));
                }
                Some(_) => {}
            }
        }
        println!("{line}");
        Ok(wire)
    }

    /// Decodes and decrypts bytes from the wire.
    fn receive(
        &mut self,
        to: &str,
        session: &mut Session,
        wire: &[u8],
    ) -> Result<(), cliquet::Error> {
        let plaintext = session.decrypt(&AnyMessage::decode(wire)?)?;
        self.received(to, &plaintext);
        Ok(())
    }

    fn received(&self, to: &str, plaintext: &[u8]) {
        println!("{to:>5} receives {:?}", String::from_utf8_lossy(plaintext));
    }
}

/// The message's kind and its plain ratchet header (inside a prekey message,
/// the header of the message it wraps). With header encryption
/// (`SessionConfig::with_header_encryption`) the ratchet key and counters are
/// hidden from the network, and from this transcript too.
fn describe(message: &AnyMessage) -> (&'static str, Option<&Message>) {
    // A post-quantum prekey message (PQXDH, 0x17) carries an ML-KEM
    // ciphertext: 1,572 bytes more than a classic one.
    let kind = match message {
        AnyMessage::PreKey(p) if p.is_post_quantum() => "PqPreKey",
        AnyMessage::PreKey(_) => "PreKey",
        _ if message.ratchet_message().has_encrypted_header() => "EncHdr",
        _ => "Message",
    };
    // `AnyMessage` and `RatchetMessage` may grow new kinds: match with a
    // wildcard arm.
    match message.ratchet_message() {
        RatchetMessage::Plain(m) => (kind, Some(m)),
        _ => (kind, None),
    }
}

fn hex_prefix(key: &[u8; 32]) -> String {
    key.iter().take(4).map(|b| format!("{b:02x}")).collect()
}
