//! Groups: the plumbing an application writes around `GroupSession`.
//!
//! Three devices (Alice, Bob, Carol) in one group, showing the three things
//! cliquet leaves to the application:
//!
//! 1. **Telling a distribution from a text.** Both travel inside pairwise
//!    messages; the plaintext is the application's, so it tags it: here one
//!    byte, `D` for a sender-key distribution, `T` for a text ([`Frame`]).
//! 2. **A group message before its distribution.** The server fans group
//!    messages out at once, while a distribution comes through a pairwise
//!    session and may arrive later. `decrypt` then fails with
//!    `Error::UnknownChain` and changes nothing: keep the message and try
//!    it again after the next distribution from that sender ([`Member`]).
//! 3. **Restoring a backup.** A restored group state does not know which
//!    chain ids it used after the backup; the others refuse ids they have
//!    seen. Rotate above every id it may have used (`rotate_above`), and
//!    send the new distribution to every member.
//!
//! Run it with `cargo run --example groups`.
#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "an example is a std program; these lints guard the no_std library"
)]

use std::error::Error;

use cliquet::rand_core::UnwrapErr;
use cliquet::{
    Account, GroupMessage, GroupSession, IdentityKey, SenderKeyDistribution, SessionConfig,
    SessionRecord,
};
use getrandom::SysRng;

const GROUP: [u8; 16] = *b"cliquet-example!";

/// What an application puts in a pairwise plaintext: its own convention.
enum Frame {
    /// A sender-key distribution for a group (89 bytes).
    Distribution(Box<SenderKeyDistribution>),
    /// A text for this peer only.
    Text(String),
}

impl Frame {
    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Distribution(d) => [&b"D"[..], &d.encode()[..]].concat(),
            Self::Text(t) => [&b"T"[..], t.as_bytes()].concat(),
        }
    }

    fn decode(plaintext: &[u8]) -> Result<Self, Box<dyn Error>> {
        match plaintext.split_first() {
            Some((b'D', rest)) => Ok(Self::Distribution(Box::new(SenderKeyDistribution::decode(
                rest,
            )?))),
            Some((b'T', rest)) => Ok(Self::Text(String::from_utf8(rest.to_vec())?)),
            _ => Err("not a frame of this application".into()),
        }
    }
}

/// One member's group state and the group messages it keeps until their
/// distribution arrives.
struct Member {
    name: &'static str,
    group: GroupSession,
    waiting: Vec<(IdentityKey, GroupMessage)>,
}

impl Member {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            group: GroupSession::new(GROUP, SessionConfig::default()),
            waiting: Vec::new(),
        }
    }

    /// A group message from `sender` (named by the transport, checked by
    /// the signature): decrypted, or kept for later if its chain is unknown.
    fn on_group_message(&mut self, sender: IdentityKey, message: GroupMessage) {
        match self.group.decrypt(&sender, &message) {
            Ok(text) => println!(
                "{:>6} reads {:?}",
                self.name,
                String::from_utf8_lossy(&text)
            ),
            Err(cliquet::Error::UnknownChain) => {
                println!(
                    "{:>6} keeps a group message: its distribution has not arrived",
                    self.name
                );
                self.waiting.push((sender, message));
            }
            Err(e) => println!("{:>6} drops a group message: {e}", self.name),
        }
    }

    /// A distribution from `sender` arrived (inside a pairwise message):
    /// take it, then retry what waited for it.
    fn on_distribution(&mut self, sender: IdentityKey, d: &SenderKeyDistribution) {
        match self.group.receive_distribution(&sender, d) {
            Ok(()) => println!(
                "{:>6} takes a distribution (chain {})",
                self.name,
                d.chain_id()
            ),
            Err(e) => println!("{:>6} refuses a distribution: {e}", self.name),
        }
        for (sender, message) in std::mem::take(&mut self.waiting) {
            self.on_group_message(sender, message);
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut rng = UnwrapErr(SysRng);
    let config = SessionConfig::default();
    let alice_account = Account::new(&mut rng);
    let mut bob_account = Account::new(&mut rng);
    let alice_key = *alice_account.identity_key();
    let (mut alice, mut bob) = (Member::new("alice"), Member::new("bob"));

    // Alice's pairwise session with Bob carries her distribution.
    let mut alice_to_bob = SessionRecord::new();
    let mut bob_to_alice = SessionRecord::new();
    let bundle = bob_account.bundle(None)?.verify()?;
    alice_to_bob.start_new(alice_account.identity(), &bundle, config, &mut rng)?;

    // 2. Alice starts her chain and writes at once; the server fans the
    // group message out before Bob gets her distribution.
    let distribution = alice.group.rotate(&mut rng)?;
    let early = alice.group.encrypt(b"hello group", &mut rng)?;
    bob.on_group_message(alice_key, GroupMessage::decode(early.as_bytes())?);

    // 1. The distribution arrives in a pairwise message, tagged `D`; a text
    // in the same session is tagged `T`.
    for frame in [
        Frame::Distribution(Box::new(distribution)),
        Frame::Text("see the group".into()),
    ] {
        let wire = alice_to_bob.encrypt(&frame.encode(), &mut rng)?;
        let received = bob_to_alice.decrypt(&mut bob_account, &wire, config)?;
        let sender = *bob_to_alice.peer_identity_key().ok_or("a pinned peer")?;
        match Frame::decode(&received.plaintext)? {
            Frame::Distribution(d) => bob.on_distribution(sender, &d),
            Frame::Text(t) => println!("{:>6} reads a pairwise text {t:?}", bob.name),
        }
    }

    // 3. Alice restores an old backup of her group state: it knows only
    // chain 1. She keeps her highest chain id outside the backup (here: 1
    // more chain was used since), and rotates above it.
    let backup = alice.group.to_stored();
    let second = alice.group.rotate(&mut rng)?;
    bob.on_distribution(alice_key, &second);
    alice.group = GroupSession::from_stored(&backup)?;
    let highest_used = second.chain_id();
    let fresh = alice.group.rotate_above(highest_used, &mut rng)?;
    println!(
        "{:>6} restored a backup and rotates to chain {} (above {highest_used})",
        alice.name,
        fresh.chain_id()
    );
    bob.on_distribution(alice_key, &fresh);
    let after = alice.group.encrypt(b"back from the backup", &mut rng)?;
    bob.on_group_message(alice_key, after);
    if !bob.waiting.is_empty() {
        return Err("every group message should have been read".into());
    }
    Ok(())
}
