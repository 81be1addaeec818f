//! Quickstart: Alice and Bob in one process, on the API the README teaches.
//!
//! Bob uploads what a directory needs (`Account::publication`) and the
//! directory hands Alice one bundle (`Directory::take_bundle`, each one-time
//! key once). Alice verifies it and starts a session in her `SessionRecord`
//! for Bob (PQXDH: X3DH with an ML-KEM-1024 encapsulation); then they talk
//! both ways over the Double Ratchet, with some messages delivered out of
//! order and one delivered twice. Every message crosses the "network" as
//! bytes, and the transcript shows its kind, its size on the wire, and when
//! a sender's ratchet key changed (a DH ratchet step).
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
use cliquet::{
    Account, AnyMessage, Directory, Message, PreKeyBundle, Publication, RatchetMessage,
    SessionConfig, SessionRecord,
};
use getrandom::SysRng;

fn main() -> Result<(), Box<dyn Error>> {
    // Randomness comes from the caller: here, the operating system.
    let mut rng = UnwrapErr(SysRng);
    let mut log = Transcript::default();
    let config = SessionConfig::default();

    // Bob creates an account with one-time prekeys of both kinds and uploads
    // what a directory needs. `publication()` marks the keys it carries as
    // published: there is nothing else to mark.
    let mut bob = Account::new(&mut rng);
    bob.generate_one_time_prekeys(2, &mut rng);
    bob.generate_one_time_kem_prekeys(2, &mut rng);
    let upload = bob.publication().encode();
    println!("Bob uploads his keys: {} bytes", upload.len());

    // The directory (a server) checks the upload and hands out one bundle
    // per request, each one-time key to one requester only.
    let mut directory = Directory::new();
    directory.upload(&Publication::decode(&upload)?)?;
    let published = directory.take_bundle().ok_or("no bundle")?.encode();
    println!(
        "The directory hands Alice a bundle: {} bytes\n",
        published.len()
    );

    // Alice verifies Bob's signatures on the bundle and starts a session in
    // her record for Bob. She can send right away: no round trip needed.
    let mut alice = Account::new(&mut rng);
    let bundle = PreKeyBundle::decode(&published)?.verify()?;
    let mut alice_to_bob = SessionRecord::new();
    alice_to_bob.start_new(alice.identity(), &bundle, config, &mut rng)?;
    let mut bob_to_alice = SessionRecord::new();

    // Alice's first messages are prekey messages: they carry what Bob needs
    // to run PQXDH on his side. Bob's record creates his session from the
    // first (consuming his one-time prekeys: his account changed, store it
    // with the record) and decrypts the rest with it. (`log.send` is
    // `record.encrypt` plus a transcript line; `log.receive` is
    // `AnyMessage::decode` and `record.decrypt`: see `Transcript` below.)
    let first = log.send("alice", &mut alice_to_bob, "Hi Bob, it's Alice.", &mut rng)?;
    let second = log.send("alice", &mut alice_to_bob, "Are you there?", &mut rng)?;
    log.receive("bob", &mut bob_to_alice, &mut bob, &first)?;
    log.receive("bob", &mut bob_to_alice, &mut bob, &second)?;

    // Bob answers. Once Alice decrypts a reply, she sends plain messages.
    let reply = log.send(
        "bob",
        &mut bob_to_alice,
        "Hi Alice! Loud and clear.",
        &mut rng,
    )?;
    log.receive("alice", &mut alice_to_bob, &mut alice, &reply)?;

    // Alice sends three messages; the network delivers them as 3, 1, 2.
    // Bob keeps the keys of the skipped messages until they arrive.
    let m1 = log.send("alice", &mut alice_to_bob, "One,", &mut rng)?;
    let m2 = log.send("alice", &mut alice_to_bob, "two,", &mut rng)?;
    let m3 = log.send("alice", &mut alice_to_bob, "three.", &mut rng)?;
    for wire in [&m3, &m1, &m2] {
        log.receive("bob", &mut bob_to_alice, &mut bob, wire)?;
        let skipped = bob_to_alice.current().map_or(0, |s| s.skipped_keys());
        println!("     (Bob holds {skipped} skipped keys)");
    }

    // A message delivered twice is refused; the record is unchanged.
    match bob_to_alice.decrypt(&mut bob, &AnyMessage::decode(&m1)?, config) {
        Err(err) => println!("     replay of \"One,\" refused ({}): {err}", err.name()),
        Ok(_) => return Err("a replayed message must not decrypt".into()),
    }

    let last = log.send("bob", &mut bob_to_alice, "Got all three.", &mut rng)?;
    log.receive("alice", &mut alice_to_bob, &mut alice, &last)?;

    // Both sides name the session the same way, and pinned each other's
    // identity key (compare safety numbers to verify it: SafetyNumber).
    let id = |r: &SessionRecord| r.current().map(|s| s.session_id());
    if id(&alice_to_bob) != id(&bob_to_alice)
        || bob_to_alice.peer_identity_key() != Some(alice.identity_key())
    {
        return Err("both sides should agree on the session and the identities".into());
    }
    println!("\nSame session id on both sides; each record pinned the other's identity key.");
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
        record: &mut SessionRecord,
        text: &str,
        rng: &mut UnwrapErr<SysRng>,
    ) -> Result<Vec<u8>, cliquet::Error> {
        let message = record.encrypt(text.as_bytes(), rng)?;
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
        record: &mut SessionRecord,
        account: &mut Account,
        wire: &[u8],
    ) -> Result<(), cliquet::Error> {
        let received = record.decrypt(
            account,
            &AnyMessage::decode(wire)?,
            SessionConfig::default(),
        )?;
        self.received(to, &received.plaintext);
        if received.account_changed {
            println!("     ({to}'s account changed: store it with the record)");
        }
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
