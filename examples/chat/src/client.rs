//! The chat client: a cliquet account and its session records, kept in
//! SQLite, talking to the relay.
//!
//! The database is the source of truth. Every change to cliquet state is
//! written in the same transaction as the event that caused it, so a client
//! killed at any point restarts from a consistent state:
//!
//! * **Receiving**: decrypt, then in one transaction store the peer's new
//!   session record (and the account, if a one-time prekey was used), record
//!   the message id as processed, and append the plaintext to the history.
//!   Only after the commit is the message acknowledged to the relay. If the
//!   client dies in between, the relay delivers the message again and the
//!   recorded id makes the client skip it (the session could not decrypt it
//!   twice anyway).
//! * **Sending**: encrypt, then in one transaction store the new session
//!   record and put the ciphertext in an outbox; only then hand it to the
//!   relay, and delete it from the outbox once the relay took it. If the
//!   client dies in between, the outbox is sent again at the next start with
//!   the same id. Sending before storing would be worse: after a crash the
//!   session would reuse a message key, or the peer would see a gap that
//!   never fills.
//!
//! Each peer has one [`SessionRecord`]: the session in use and older ones
//! that may still receive late messages. When no session can read a message
//! (the peer restored an old backup, say), the record says which notice to
//! send back; the peer's record then drops that session and the peer's next
//! message starts a new one from a fresh bundle.
//!
//! The account and the records are stored sealed (SPEC §7) under a 32-byte
//! storage key. Here that key sits in a file next to the database, which only
//! shows the mechanics: anyone who can read the database can read the key
//! file.
//! A real application keeps the storage key in the operating system's
//! keystore (Keychain, Android Keystore, Windows DPAPI, the Secret Service)
//! and also encrypts the message history, which this example keeps in clear.

use std::error::Error as StdError;
use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Instant;

use cliquet::rand_core::{Rng, UnwrapErr};
use cliquet::{
    Account, AnyMessage, Error, GroupMessage, GroupSession, IdentityKey, Incoming, NoticeOutcome,
    PreKeyBundle, SafetyNumber, SenderKeyDistribution, SessionConfig, SessionRecord,
    VerifiedBundle,
};
use getrandom::SysRng;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use crate::proto::{
    ANSWER_TIMEOUT, Envelope, MessageId, Request, Response, read_frame, until, write_frame,
};

/// Errors of the example: I/O, SQLite, cliquet, or a refusal by the relay.
pub type Result<T> = std::result::Result<T, Box<dyn StdError + Send + Sync>>;

/// Keep at least this many one-time prekeys on the relay; top up to `TARGET`.
const LOW_PREKEYS: usize = 10;
const TARGET_PREKEYS: usize = 20;
/// The longest message the client sends.
const MAX_TEXT: usize = 64 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    sealed BLOB NOT NULL
);
-- Trust on first use: the identity key first seen for each peer name, and
-- one name per identity key.
CREATE TABLE IF NOT EXISTS peers (
    name TEXT PRIMARY KEY,
    identity BLOB NOT NULL UNIQUE
);
-- A new identity key seen for a peer (a prekey message or a bundle), not
-- accepted yet: the user compares safety numbers (/verify), then /trust.
CREATE TABLE IF NOT EXISTS changed (
    name TEXT PRIMARY KEY,
    identity BLOB NOT NULL
);
-- One sealed SessionRecord per peer.
CREATE TABLE IF NOT EXISTS records (
    peer TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS processed (
    sender TEXT NOT NULL,
    message_id BLOB NOT NULL,
    PRIMARY KEY (sender, message_id)
);
-- `peer` for a pairwise message; `grp` for a group message, which the relay
-- fans out to the group's members.
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    peer TEXT NOT NULL,
    grp TEXT,
    message_id BLOB NOT NULL,
    payload BLOB NOT NULL
);
-- One sealed GroupSession per group, by the local name of the group.
CREATE TABLE IF NOT EXISTS groups (
    name TEXT PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
-- The other members of each group, and whether they have our sender chain.
CREATE TABLE IF NOT EXISTS group_members (
    grp TEXT NOT NULL,
    member TEXT NOT NULL,
    has_ours INTEGER NOT NULL,
    PRIMARY KEY (grp, member)
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    peer TEXT NOT NULL,
    outgoing INTEGER NOT NULL,
    body TEXT NOT NULL
);
";

/// A message that arrived, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The sender's name.
    pub from: String,
    /// The plaintext.
    pub text: String,
}

/// A group message that arrived, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupReceived {
    /// The group's name.
    pub group: String,
    /// The sender's name.
    pub from: String,
    /// The plaintext.
    pub text: String,
}

/// The outcome of processing a mailbox: messages to show, messages dropped
/// (and why), peers who could not read our last messages, and the ids to
/// acknowledge to the relay.
#[derive(Debug, Default)]
pub struct Batch {
    /// Messages from peers, in the order they arrived.
    pub received: Vec<Received>,
    /// Group messages, in the order they arrived.
    pub group_received: Vec<GroupReceived>,
    /// Groups someone added us to.
    pub joined: Vec<String>,
    /// Messages dropped, each with why.
    pub dropped: Vec<String>,
    /// Peers who could not read our last messages: our next message to
    /// each starts a new session.
    pub resets: Vec<String>,
    /// Peers who could not read one of our messages: the last text sent to
    /// them was sent again (a second notice would start a new session).
    pub resent: Vec<String>,
    /// Peers whose identity key changed: their messages wait for `/trust`.
    pub identity_changes: Vec<String>,
    /// The ids to acknowledge to the relay (once the batch is stored).
    pub to_ack: Vec<MessageId>,
    /// Why the outbox could not be emptied (it is retried at every poll).
    pub unsent: Option<String>,
}

/// One line of the stored history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The peer of the conversation.
    pub peer: String,
    /// Whether we sent it.
    pub outgoing: bool,
    /// The plaintext.
    pub text: String,
}

/// A chat client. Dropping it is as good as killing it: nothing is kept in
/// memory that is not already in the database.
pub struct Client {
    name: String,
    db: Connection,
    storage_key: Zeroizing<[u8; 32]>,
    account: Account,
    relay: TcpStream,
    rng: UnwrapErr<SysRng>,
    config: SessionConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("name", &self.name)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens (or creates) the client's database at `db_path`, connects to the
    /// relay, (re)publishes the bundle and one-time prekeys, and sends what
    /// the outbox still holds from a previous run.
    pub fn open(db_path: &Path, name: &str, relay: SocketAddr) -> Result<Self> {
        let mut rng = UnwrapErr(SysRng);
        let db = Connection::open(db_path)?;
        db.execute_batch(SCHEMA)?;

        let stored: Option<(String, Vec<u8>)> = db
            .query_row("SELECT name, sealed FROM account WHERE id = 1", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let key_path = key_path(db_path);
        let (account, storage_key) = match stored {
            Some((owner, _)) if owner != name => {
                return Err(format!("{} belongs to {owner:?}", db_path.display()).into());
            }
            Some((_, sealed)) => {
                let storage_key = read_storage_key(&key_path)?;
                (
                    Account::open(&sealed, &storage_key, ACCOUNT_CONTEXT)?,
                    storage_key,
                )
            }
            None => {
                let storage_key = match read_storage_key(&key_path) {
                    Ok(key) => key,
                    Err(_) => create_storage_key(&key_path, &mut rng)?,
                };
                let account = Account::new(&mut rng);
                let sealed = account.seal(&storage_key, ACCOUNT_CONTEXT, &mut rng)?;
                db.execute(
                    "INSERT INTO account (id, name, sealed) VALUES (1, ?1, ?2)",
                    params![name, sealed],
                )?;
                (account, storage_key)
            }
        };

        let relay = TcpStream::connect_timeout(&relay, ANSWER_TIMEOUT)?;
        relay.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        relay.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        relay.set_nodelay(true)?;
        let mut client = Self {
            name: name.to_owned(),
            db,
            storage_key,
            account,
            relay,
            rng,
            // Header encryption hides ratchet keys and counters from the relay.
            config: SessionConfig::default().with_header_encryption(true),
        };
        // Every key the account holds: the relay ignores the one-time keys
        // it already handed out, so this also repairs an upload that a
        // crash interrupted. Then the top-up.
        let everything = client.account.full_publication().encode();
        client.call(Request::Publish {
            user: client.name.clone(),
            publication: everything,
        })?;
        client.publish_prekeys()?;
        // What the relay does not take now stays queued for the next poll.
        let _ = client.flush_outbox();
        Ok(client)
    }

    /// This client's name on the relay.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hex of this client's identity key, to compare out of band.
    pub fn fingerprint(&self) -> String {
        hex::encode(self.account.identity_key().as_bytes())
    }

    /// Encrypts `text` for `peer` and sends it: [`queue`](Self::queue) then
    /// [`flush_outbox`](Self::flush_outbox).
    pub fn send(&mut self, peer: &str, text: &str) -> Result<()> {
        self.queue(peer, text)?;
        self.flush_outbox()
    }

    /// Encrypts `text` for `peer` (starting a session from their bundle if
    /// there is none) and stores the new session state and the ciphertext in
    /// one transaction. Nothing leaves the machine yet.
    pub fn queue(&mut self, peer: &str, text: &str) -> Result<()> {
        if text.len() > MAX_TEXT {
            return Err(format!("a message holds at most {MAX_TEXT} bytes").into());
        }
        let frame = [&[FRAME_TEXT], text.as_bytes()].concat();
        self.queue_frame(peer, &frame, Some(text), |_| Ok(()))
    }

    /// Encrypts a pairwise `frame` for `peer` (starting a session if need
    /// be) and puts it in the outbox, in one transaction with `also`.
    fn queue_frame(
        &mut self,
        peer: &str,
        frame: &[u8],
        history: Option<&str>,
        also: impl FnOnce(&Transaction<'_>) -> Result<()>,
    ) -> Result<()> {
        // A new identity key waits for the user's decision: nothing is sent
        // meanwhile, to the old key or the new one.
        if changed_identity(&self.db, peer)?.is_some() {
            return Err(identity_changed(peer).into());
        }
        let mut record = self.load_record(peer)?.unwrap_or_default();
        if record.needs_new_session() {
            let bundle = self.fetch_bundle(peer)?;
            record.start_new(self.account.identity(), &bundle, self.config, &mut self.rng)?;
        }
        let message = record.encrypt(frame, &mut self.rng)?;
        let identity = *record
            .peer_identity_key()
            .ok_or("the record has no session")?;
        let sealed = record.seal(&self.storage_key, &record_context(peer), &mut self.rng)?;

        let tx = self.db.transaction()?;
        pin_identity(&tx, peer, &identity)?;
        save_record(&tx, peer, &sealed)?;
        enqueue(&tx, peer, &message.into_bytes(), &mut self.rng)?;
        if let Some(text) = history {
            append_history(&tx, peer, true, text)?;
        }
        also(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Hands every queued message to the relay, oldest first, deleting each
    /// once the relay accepted it. Stops at the first failure; the rest
    /// stays queued.
    pub fn flush_outbox(&mut self) -> Result<()> {
        let queued: Vec<Queued> = self
            .db
            .prepare("SELECT seq, peer, grp, message_id, payload FROM outbox ORDER BY seq")?
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (seq, peer, group, id, payload) in queued {
            let id = MessageId::try_from(id.as_slice())?;
            let envelope = Envelope {
                from: self.name.clone(),
                id,
                payload,
            };
            let request = match group {
                // One upload; the relay fans the message out.
                Some(group) => Request::SendMany {
                    to: group_members(&self.db, &group)?,
                    envelope,
                },
                None => Request::Send { to: peer, envelope },
            };
            self.call(request)?;
            self.db
                .execute("DELETE FROM outbox WHERE seq = ?1", params![seq])?;
        }
        Ok(())
    }

    /// Fetches the mailbox, sends the notices it called for, acknowledges
    /// what was processed, and tops up the one-time prekeys on the relay.
    pub fn poll(&mut self) -> Result<Batch> {
        let mut batch = self.process_mail()?;
        self.send_sender_chains()?;
        batch.unsent = self.flush_outbox().err().map(|e| e.to_string());
        self.ack(&batch.to_ack)?;
        self.publish_prekeys()?;
        Ok(batch)
    }

    /// Fetches the mailbox and processes each envelope in its own
    /// transaction, but acknowledges nothing (see [`ack`](Self::ack)).
    pub fn process_mail(&mut self) -> Result<Batch> {
        let Response::Mail(mail) = self.call(Request::Fetch {
            user: self.name.clone(),
        })?
        else {
            return Err("the relay answered Fetch with something else".into());
        };
        let mut batch = Batch::default();
        for envelope in mail {
            let seen: bool = self.db.query_row(
                "SELECT EXISTS (SELECT 1 FROM processed WHERE sender = ?1 AND message_id = ?2)",
                params![envelope.from, envelope.id],
                |row| row.get(0),
            )?;
            if !seen {
                match self.receive(&envelope) {
                    Ok(Outcome::Text(text)) => batch.received.push(Received {
                        from: envelope.from.clone(),
                        text,
                    }),
                    Ok(Outcome::GroupText(group, text)) => {
                        batch.group_received.push(GroupReceived {
                            group,
                            from: envelope.from.clone(),
                            text,
                        });
                    }
                    Ok(Outcome::Joined(group)) => batch.joined.push(group),
                    Ok(Outcome::Reset) => batch.resets.push(envelope.from.clone()),
                    Ok(Outcome::ResendRequested) => {
                        self.resend_last(&envelope.from)?;
                        batch.resent.push(envelope.from.clone());
                    }
                    Ok(Outcome::IdentityChanged) => {
                        batch.identity_changes.push(envelope.from.clone());
                    }
                    // (A frame is always read before `receive` returns.)
                    Ok(Outcome::Ignored | Outcome::Frame(_)) => {}
                    Ok(Outcome::Dropped(why)) => {
                        batch.dropped.push(format!("from {}: {why}", envelope.from));
                    }
                    Err(e) => {
                        // Local failure (database): the account in memory may
                        // be ahead of the stored one; reload it, stop here.
                        self.account = load_account(&self.db, &self.storage_key)?;
                        return Err(e);
                    }
                }
            }
            batch.to_ack.push(envelope.id);
        }
        Ok(batch)
    }

    /// Tells the relay these messages can be deleted.
    pub fn ack(&mut self, ids: &[MessageId]) -> Result<()> {
        if !ids.is_empty() {
            self.call(Request::Ack {
                user: self.name.clone(),
                ids: ids.to_vec(),
            })?;
        }
        Ok(())
    }

    /// The stored conversation, oldest first.
    pub fn history(&self) -> Result<Vec<Line>> {
        Ok(self
            .db
            .prepare("SELECT peer, outgoing, body FROM history ORDER BY seq")?
            .query_map([], |row| {
                Ok(Line {
                    peer: row.get(0)?,
                    outgoing: row.get(1)?,
                    text: row.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Handles one envelope and commits its effects together with its id: a
    /// decrypted message updates the record (and the account, if it used a
    /// one-time prekey) and the history; a message no session can read may
    /// put a notice for the sender in the outbox; a notice from the peer may
    /// end our current session with them. A dropped message is recorded as
    /// processed too, so that it is not retried forever.
    fn receive(&mut self, envelope: &Envelope) -> Result<Outcome> {
        let from = envelope.from.as_str();
        let mut record = self.load_record(from)?;
        // Whether a prekey message created a session, which changes the
        // account: it is then stored in the same transaction as the record.
        let mut account_changed = false;
        let mut notice = None;
        let mut changed = None;
        let mut group_write = None;
        let mut outcome = match Incoming::decode(&envelope.payload) {
            Err(e) => Outcome::Dropped(e.to_string()),
            Ok(Incoming::Notice(failure)) => {
                let handled = record.as_mut().map(|record| {
                    record.on_decryption_failure(&failure, self.account.identity_key())
                });
                match handled {
                    Some(NoticeOutcome::Abandoned) => Outcome::Reset,
                    Some(NoticeOutcome::ResendRequested) => Outcome::ResendRequested,
                    _ => Outcome::Ignored,
                }
            }
            Ok(Incoming::Message(message)) => match self.check_sender(from, message)? {
                Err(why) => Outcome::Dropped(why),
                Ok(message) => {
                    let record = record.get_or_insert_default();
                    match record.decrypt(&mut self.account, &message, self.config) {
                        Ok(decrypted) => {
                            account_changed = decrypted.account_changed;
                            Outcome::Frame(decrypted.plaintext)
                        }
                        Err(Error::IdentityChanged(new)) => {
                            changed = Some(new);
                            Outcome::IdentityChanged
                        }
                        Err(e) => {
                            // The notice is signed for the key we know for
                            // the sender; with none, there is no one to tell.
                            let peer = match record.peer_identity_key() {
                                Some(key) => Some(*key),
                                None => pinned_identity(&self.db, from)?
                                    .and_then(|bytes| IdentityKey::from_bytes(&bytes).ok()),
                            };
                            notice = peer.and_then(|peer| {
                                record.decryption_failure(
                                    &message,
                                    &e,
                                    self.account.identity(),
                                    &peer,
                                )
                            });
                            Outcome::Dropped(e.to_string())
                        }
                    }
                }
            },
            Ok(Incoming::Group(message)) => match self.group_message(from, &message)? {
                Ok(GroupText { name, text, sealed }) => {
                    group_write = Some(GroupWrite {
                        name: name.clone(),
                        id: *message.group_id(),
                        sealed,
                        members: Vec::new(),
                    });
                    Outcome::GroupText(name, text)
                }
                Err(why) => Outcome::Dropped(why),
            },
            Ok(other) => {
                Outcome::Dropped(format!("kind {:#04x} is not for this chat", other.kind()))
            }
        };
        // A decrypted pairwise message: a text, or a group's sender chain.
        let consumed = matches!(outcome, Outcome::Frame(_));
        if let Outcome::Frame(plaintext) = &outcome {
            let sender = record
                .as_ref()
                .and_then(SessionRecord::peer_identity_key)
                .copied();
            outcome = match (plaintext.split_first(), sender) {
                (Some((&FRAME_TEXT, text)), _) => {
                    Outcome::Text(String::from_utf8_lossy(text).into_owned())
                }
                (Some((&(FRAME_INVITE | FRAME_CHAIN), _)), Some(sender)) => {
                    match self.group_frame(from, &sender, plaintext)? {
                        Ok((write, joined)) => {
                            let name = write.name.clone();
                            group_write = Some(write);
                            if joined {
                                Outcome::Joined(name)
                            } else {
                                Outcome::Ignored
                            }
                        }
                        Err(why) => Outcome::Dropped(why),
                    }
                }
                _ => Outcome::Dropped("not a message of this chat".into()),
            };
        }
        let sealed_record = match (&outcome, &record) {
            (_, Some(record))
                if consumed || matches!(outcome, Outcome::Reset | Outcome::ResendRequested) =>
            {
                Some(record.seal(&self.storage_key, &record_context(from), &mut self.rng)?)
            }
            _ => None,
        };
        let sealed_account = if !account_changed {
            None
        } else {
            Some(
                self.account
                    .seal(&self.storage_key, ACCOUNT_CONTEXT, &mut self.rng)?,
            )
        };

        let tx = self.db.transaction()?;
        tx.execute(
            "INSERT INTO processed (sender, message_id) VALUES (?1, ?2)",
            params![from, envelope.id],
        )?;
        if let Some(sealed) = sealed_record {
            save_record(&tx, from, &sealed)?;
        }
        if let (Outcome::Text(_) | Outcome::Joined(_) | Outcome::Ignored, Some(identity)) = (
            &outcome,
            record.as_ref().and_then(SessionRecord::peer_identity_key),
        ) {
            pin_identity(&tx, from, identity)?;
        }
        if let Some(sealed) = sealed_account {
            tx.execute("UPDATE account SET sealed = ?1 WHERE id = 1", [sealed])?;
        }
        if let Outcome::Text(text) = &outcome {
            append_history(&tx, from, false, text)?;
        }
        if let Some(notice) = notice {
            enqueue(&tx, from, &notice.encode(), &mut self.rng)?;
        }
        if let Some(new) = changed {
            note_changed(&tx, from, &new)?;
        }
        if let Some(write) = group_write {
            save_group(&tx, &write)?;
        }
        if let Outcome::GroupText(group, text) = &outcome {
            append_history(&tx, &format!("{from}@{group}"), false, text)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// For a prekey message (which names its sender's identity key), checks
    /// that no other name has that key. The inner `Err` says why the message
    /// is dropped.
    fn check_sender(
        &self,
        from: &str,
        message: AnyMessage,
    ) -> Result<std::result::Result<AnyMessage, String>> {
        if let AnyMessage::PreKey(prekey) = &message {
            // A changed identity key is the record's to report
            // (`Error::IdentityChanged`); the key of another name is refused.
            let identity = prekey.identity_key_bytes();
            if let Some(owner) = identity_owner(&self.db, identity)?.filter(|o| o != from) {
                return Ok(Err(format!("the identity key of {owner:?}; refused")));
            }
        }
        Ok(Ok(message))
    }

    /// The stored record of `peer`, if any.
    fn load_record(&self, peer: &str) -> Result<Option<SessionRecord>> {
        let sealed: Option<Vec<u8>> = self
            .db
            .query_row(
                "SELECT sealed FROM records WHERE peer = ?1",
                [peer],
                |row| row.get(0),
            )
            .optional()?;
        Ok(sealed
            .map(|sealed| SessionRecord::open(&sealed, &self.storage_key, &record_context(peer)))
            .transpose()?)
    }

    /// Fetches `peer`'s bundle, verifies it, and checks their identity
    /// against the one seen before.
    fn fetch_bundle(&mut self, peer: &str) -> Result<VerifiedBundle> {
        let Response::Bundle(bytes) = self.call(Request::FetchBundle {
            user: peer.to_owned(),
        })?
        else {
            return Err("the relay answered FetchBundle with something else".into());
        };
        let bundle = PreKeyBundle::decode(&bytes)?.verify()?;
        let new = bundle.identity_key();
        if pinned_identity(&self.db, peer)?.is_some_and(|pinned| pinned != new.to_bytes()) {
            let tx = self.db.transaction()?;
            note_changed(&tx, peer, new)?;
            tx.commit()?;
            return Err(identity_changed(peer).into());
        }
        let identity = bundle.identity_key().to_bytes();
        if let Some(owner) = identity_owner(&self.db, &identity)?.filter(|o| o != peer) {
            return Err(format!("the bundle of {peer:?} has the identity key of {owner:?}").into());
        }
        Ok(bundle)
    }

    /// The safety number of the conversation with `peer` (SPEC §9), for the
    /// users to compare: with the identity key held for them, and with a
    /// new one waiting for `/trust`, if any.
    pub fn safety_numbers(&self, peer: &str) -> Result<Vec<(String, SafetyNumber)>> {
        let own = self.account.identity_key();
        let mut numbers = Vec::new();
        let pinned = pinned_identity(&self.db, peer)?;
        let waiting = changed_identity(&self.db, peer)?;
        for (what, key) in [("held", pinned), ("new, not trusted yet", waiting)] {
            if let Some(key) = key {
                let key = IdentityKey::from_bytes(&key)?;
                let number = SafetyNumber::new(own, self.name.as_bytes(), &key, peer.as_bytes())?;
                numbers.push((what.to_owned(), number));
            }
        }
        if numbers.is_empty() {
            return Err(
                format!("no identity key of {peer:?} yet: exchange a message first").into(),
            );
        }
        Ok(numbers)
    }

    /// Accepts `peer`'s new identity key (after the users compared safety
    /// numbers): the record drops the old key's sessions, and the next
    /// message from or to them uses the new key.
    pub fn trust(&mut self, peer: &str) -> Result<()> {
        let new = changed_identity(&self.db, peer)?
            .ok_or_else(|| format!("no new identity key of {peer:?} to trust"))?;
        let new = IdentityKey::from_bytes(&new)?;
        let mut record = self.load_record(peer)?.unwrap_or_default();
        record.accept_identity(&new);
        let sealed = record.seal(&self.storage_key, &record_context(peer), &mut self.rng)?;
        let tx = self.db.transaction()?;
        save_record(&tx, peer, &sealed)?;
        tx.execute(
            "INSERT INTO peers (name, identity) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET identity = excluded.identity",
            params![peer, new.as_bytes()],
        )?;
        tx.execute("DELETE FROM changed WHERE name = ?1", [peer])?;
        tx.commit()?;
        Ok(())
    }

    /// Creates a group: a fresh group id and our sender chain (SPEC §10).
    pub fn create_group(&mut self, name: &str) -> Result<()> {
        if load_group(&self.db, name, &self.storage_key)?.is_some() {
            return Err(format!("there is a group {name:?} already").into());
        }
        let mut id = [0u8; 16];
        self.rng.fill_bytes(&mut id);
        let mut group = GroupSession::new(id, self.config);
        group.rotate(&mut self.rng)?;
        let write = self.group_write(name, &group, Vec::new())?;
        let tx = self.db.transaction()?;
        save_group(&tx, &write)?;
        tx.commit()?;
        Ok(())
    }

    /// Adds `peer` to `group`: sends them, over our pairwise session, the
    /// group's id and members and our sender chain; they send theirs to
    /// every member. Who is in the group is our decision, never the relay's.
    pub fn add_to_group(&mut self, group: &str, peer: &str) -> Result<()> {
        let session = load_group(&self.db, group, &self.storage_key)?
            .ok_or_else(|| format!("no group {group:?}"))?;
        let distribution = session.distribution().ok_or("no sender chain")?;
        let members = group_members(&self.db, group)?;
        let mut frame = vec![FRAME_INVITE];
        put_name(&mut frame, group)?;
        frame.push(u8::try_from(members.len()).map_err(|_| "too many members")?);
        for member in &members {
            put_name(&mut frame, member)?;
        }
        frame.extend_from_slice(&*distribution.encode());
        let (group, peer) = (group.to_owned(), peer.to_owned());
        self.queue_frame(&peer.clone(), &frame, None, move |tx| {
            // The invitation carries our chain: they have it.
            tx.execute(
                "INSERT INTO group_members (grp, member, has_ours) VALUES (?1, ?2, 1)
                 ON CONFLICT (grp, member) DO UPDATE SET has_ours = 1",
                params![group, peer],
            )?;
            Ok(())
        })?;
        let _ = self.flush_outbox();
        Ok(())
    }

    /// Encrypts `text` once for `group` and hands it to the relay, which
    /// delivers a copy to each member.
    pub fn send_group(&mut self, group: &str, text: &str) -> Result<()> {
        let mut session = load_group(&self.db, group, &self.storage_key)?
            .ok_or_else(|| format!("no group {group:?}"))?;
        if group_members(&self.db, group)?.is_empty() {
            return Err(format!("{group:?} has no other member yet: /group add").into());
        }
        let message = session.encrypt(text.as_bytes(), &mut self.rng)?;
        let write = self.group_write(group, &session, Vec::new())?;
        let mut id: MessageId = [0; 16];
        self.rng.fill_bytes(&mut id);
        let tx = self.db.transaction()?;
        save_group(&tx, &write)?;
        tx.execute(
            "INSERT INTO outbox (peer, grp, message_id, payload) VALUES ('', ?1, ?2, ?3)",
            params![group, id, message.as_bytes()],
        )?;
        append_history(&tx, &format!("@{group}"), true, text)?;
        tx.commit()?;
        self.flush_outbox()
    }

    /// Sends our sender chain to the members that do not have it yet (one
    /// pairwise message each, stored with the mark that they have it).
    fn send_sender_chains(&mut self) -> Result<()> {
        let pending: Vec<(String, String)> = self
            .db
            .prepare("SELECT grp, member FROM group_members WHERE has_ours = 0")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (group, member) in pending {
            let Some(session) = load_group(&self.db, &group, &self.storage_key)? else {
                continue;
            };
            let distribution = session.distribution().ok_or("no sender chain")?;
            let frame = [&[FRAME_CHAIN][..], &*distribution.encode()].concat();
            let (g, m) = (group.clone(), member.clone());
            self.queue_frame(&member, &frame, None, move |tx| {
                tx.execute(
                    "UPDATE group_members SET has_ours = 1 WHERE grp = ?1 AND member = ?2",
                    params![g, m],
                )?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// A pairwise frame about a group from `from` (whose identity key is
    /// `sender`): an invitation, or a member's sender chain. The inner
    /// `Err` says why it is dropped.
    fn group_frame(
        &mut self,
        from: &str,
        sender: &IdentityKey,
        frame: &[u8],
    ) -> Result<std::result::Result<(GroupWrite, bool), String>> {
        let Some((&kind, mut rest)) = frame.split_first() else {
            return Ok(Err("empty frame".into()));
        };
        let mut invited = None;
        if kind == FRAME_INVITE {
            let Some(name) = take_name(&mut rest) else {
                return Ok(Err("bad invitation".into()));
            };
            let Some((&count, tail)) = rest.split_first() else {
                return Ok(Err("bad invitation".into()));
            };
            rest = tail;
            let mut members = vec![from.to_owned()];
            for _ in 0..count {
                let Some(member) = take_name(&mut rest) else {
                    return Ok(Err("bad invitation".into()));
                };
                if member != self.name {
                    members.push(member);
                }
            }
            invited = Some((name, members));
        }
        let distribution = match SenderKeyDistribution::decode(rest) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let known = group_by_id(&self.db, distribution.group_id())?;
        let (name, mut session, members, joined) = match (known, invited) {
            (Some(name), invited) => {
                let session =
                    load_group(&self.db, &name, &self.storage_key)?.ok_or("group state missing")?;
                let members = invited.map_or_else(|| vec![from.to_owned()], |(_, m)| m);
                (name, session, members, false)
            }
            (None, Some((name, members))) => {
                if load_group(&self.db, &name, &self.storage_key)?.is_some() {
                    return Ok(Err(format!("we have another group named {name:?}")));
                }
                let mut session = GroupSession::new(*distribution.group_id(), self.config);
                session.rotate(&mut self.rng)?;
                (name, session, members, true)
            }
            (None, None) => return Ok(Err("a sender chain for an unknown group".into())),
        };
        if let Err(e) = session.receive_distribution(sender, &distribution) {
            return Ok(Err(e.to_string()));
        }
        Ok(Ok((self.group_write(&name, &session, members)?, joined)))
    }

    /// Decrypts a group message from `from`. The inner `Err` says why it is
    /// dropped.
    fn group_message(
        &mut self,
        from: &str,
        message: &GroupMessage,
    ) -> Result<std::result::Result<GroupText, String>> {
        let Some(name) = group_by_id(&self.db, message.group_id())? else {
            return Ok(Err("a message of an unknown group".into()));
        };
        let Some(sender) = pinned_identity(&self.db, from)? else {
            return Ok(Err(format!("no identity key of {from:?}")));
        };
        let sender = IdentityKey::from_bytes(&sender)?;
        let mut session =
            load_group(&self.db, &name, &self.storage_key)?.ok_or("group state missing")?;
        match session.decrypt(&sender, message) {
            Ok(plaintext) => {
                let text = String::from_utf8_lossy(&plaintext).into_owned();
                let sealed =
                    session.seal(&self.storage_key, &group_context(&name), &mut self.rng)?;
                Ok(Ok(GroupText { name, text, sealed }))
            }
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    fn group_write(
        &mut self,
        name: &str,
        session: &GroupSession,
        members: Vec<String>,
    ) -> Result<GroupWrite> {
        Ok(GroupWrite {
            name: name.to_owned(),
            id: *session.group_id(),
            sealed: session.seal(&self.storage_key, &group_context(name), &mut self.rng)?,
            members,
        })
    }

    /// Tops up the one-time prekeys of both kinds and uploads those not yet
    /// published (`Account::publication`). The account is stored before
    /// the upload (the relay must never hand out a key we could lose) and
    /// again once they are marked published; if the upload fails, the next
    /// start uploads everything again.
    fn publish_prekeys(&mut self) -> Result<()> {
        let held = self.account.one_time_prekey_count();
        let held_kem = self.account.one_time_kem_prekey_count();
        if held < LOW_PREKEYS || held_kem < LOW_PREKEYS {
            if held < LOW_PREKEYS {
                self.account
                    .generate_one_time_prekeys(TARGET_PREKEYS - held, &mut self.rng);
            }
            if held_kem < LOW_PREKEYS {
                self.account
                    .generate_one_time_kem_prekeys(TARGET_PREKEYS - held_kem, &mut self.rng);
            }
            self.store_account()?;
        }
        let publication = self.account.publication();
        if publication.one_time_prekeys().is_empty()
            && publication.one_time_kem_prekeys().is_empty()
        {
            return Ok(());
        }
        self.call(Request::Publish {
            user: self.name.clone(),
            publication: publication.encode(),
        })?;
        self.store_account()
    }

    fn store_account(&mut self) -> Result<()> {
        let sealed = self
            .account
            .seal(&self.storage_key, ACCOUNT_CONTEXT, &mut self.rng)?;
        self.db
            .execute("UPDATE account SET sealed = ?1 WHERE id = 1", [sealed])?;
        Ok(())
    }

    /// One request, one answer; a refusal becomes an error.
    fn call(&mut self, request: Request) -> Result<Response> {
        write_frame(&mut self.relay, &request.encode())?;
        let frame = read_frame(&mut self.relay, &mut until(Instant::now() + ANSWER_TIMEOUT))?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        match Response::decode(&frame)? {
            Response::Refused(why) => Err(format!("relay refused: {why}").into()),
            response => Ok(response),
        }
    }
}

/// What became of one envelope.
enum Outcome {
    /// A message, decrypted.
    Text(String),
    /// The peer could not read our messages: the next one starts a new session.
    Reset,
    /// The peer could not read one message: send the last one again.
    ResendRequested,
    /// A notice about no current session of ours.
    Ignored,
    /// Not readable, or refused; the reason.
    Dropped(String),
    /// A group message, decrypted: the group's name and the text.
    GroupText(String, String),
    /// Someone added us to this group.
    Joined(String),
    /// A decrypted pairwise plaintext, before its frame is read.
    Frame(Vec<u8>),
    /// From a new identity key of the peer: noted, waiting for `/trust`.
    IdentityChanged,
}

pub(crate) fn key_path(db_path: &Path) -> PathBuf {
    let mut path = db_path.as_os_str().to_owned();
    path.push(".key");
    PathBuf::from(path)
}

/// Reads the storage key. See the module docs: a real application asks the
/// OS keystore instead of keeping it in a file.
pub(crate) fn read_storage_key(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    let bytes =
        Zeroizing::new(fs::read(path).map_err(|e| format!("storage key {}: {e}", path.display()))?);
    let key = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{} is not a 32-byte key", path.display()))?;
    Ok(Zeroizing::new(key))
}

/// Creates a new storage key, readable by its owner only.
pub(crate) fn create_storage_key(path: &Path, rng: &mut impl Rng) -> Result<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0; 32]);
    rng.fill_bytes(&mut *key);
    let mut file = fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(path)?.write_all(&*key)?;
    Ok(key)
}

/// What the account is sealed under: its row (SPEC.md §11, sealed context).
const ACCOUNT_CONTEXT: &[u8] = b"chat/account";

/// What a peer's record is sealed under: its row, so that two peers'
/// records cannot be swapped in the database.
fn record_context(peer: &str) -> Vec<u8> {
    format!("chat/record/{peer}").into_bytes()
}

fn load_account(db: &Connection, storage_key: &[u8; 32]) -> Result<Account> {
    let sealed: Vec<u8> = db.query_row("SELECT sealed FROM account WHERE id = 1", [], |row| {
        row.get(0)
    })?;
    Ok(Account::open(&sealed, storage_key, ACCOUNT_CONTEXT)?)
}

fn pinned_identity(db: &Connection, peer: &str) -> Result<Option<[u8; 32]>> {
    stored_identity(db, "SELECT identity FROM peers WHERE name = ?1", peer)
}

/// The 32-byte identity key that `query` finds for `peer`, if any.
fn stored_identity(db: &Connection, query: &str, peer: &str) -> Result<Option<[u8; 32]>> {
    let stored: Option<Vec<u8>> = db.query_row(query, [peer], |row| row.get(0)).optional()?;
    Ok(stored
        .map(|bytes| <[u8; 32]>::try_from(bytes.as_slice()))
        .transpose()?)
}

/// Pairwise plaintexts of this chat start with a frame byte: a text, an
/// invitation to a group, or a member's sender chain for a group.
const FRAME_TEXT: u8 = b'T';
const FRAME_INVITE: u8 = b'I';
const FRAME_CHAIN: u8 = b'D';

/// A group state to store, with members to add (who do not have our
/// sender chain yet).
struct GroupWrite {
    name: String,
    id: [u8; 16],
    sealed: Vec<u8>,
    members: Vec<String>,
}

/// An outbox row: sequence, peer, group (for a group message), id, payload.
type Queued = (i64, String, Option<String>, Vec<u8>, Vec<u8>);

/// A decrypted group message: the group's name, the text, and the group
/// state to store.
struct GroupText {
    name: String,
    text: String,
    sealed: Vec<u8>,
}

/// What a group's state is sealed under: its row.
fn group_context(name: &str) -> Vec<u8> {
    format!("chat/group/{name}").into_bytes()
}

fn save_group(tx: &Transaction<'_>, write: &GroupWrite) -> Result<()> {
    tx.execute(
        "INSERT INTO groups (name, id, sealed) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed",
        params![write.name, write.id, write.sealed],
    )?;
    for member in &write.members {
        tx.execute(
            "INSERT OR IGNORE INTO group_members (grp, member, has_ours) VALUES (?1, ?2, 0)",
            params![write.name, member],
        )?;
    }
    Ok(())
}

fn load_group(db: &Connection, name: &str, key: &[u8; 32]) -> Result<Option<GroupSession>> {
    let sealed: Option<Vec<u8>> = db
        .query_row("SELECT sealed FROM groups WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(sealed
        .map(|sealed| GroupSession::open(&sealed, key, &group_context(name)))
        .transpose()?)
}

fn group_by_id(db: &Connection, id: &[u8; 16]) -> Result<Option<String>> {
    Ok(db
        .query_row(
            "SELECT name FROM groups WHERE id = ?1",
            [id.as_slice()],
            |row| row.get(0),
        )
        .optional()?)
}

fn group_members(db: &Connection, group: &str) -> Result<Vec<String>> {
    Ok(db
        .prepare("SELECT member FROM group_members WHERE grp = ?1 ORDER BY member")?
        .query_map([group], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// `u8(len) || name`.
fn put_name(out: &mut Vec<u8>, name: &str) -> Result<()> {
    out.push(u8::try_from(name.len()).map_err(|_| "name too long")?);
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn take_name(rest: &mut &[u8]) -> Option<String> {
    let (&len, tail) = rest.split_first()?;
    let (name, tail) = tail.split_at_checked(usize::from(len))?;
    *rest = tail;
    String::from_utf8(name.to_vec()).ok()
}

/// A new identity key of `peer` that waits for `/trust`, if any.
fn changed_identity(db: &Connection, peer: &str) -> Result<Option<[u8; 32]>> {
    stored_identity(db, "SELECT identity FROM changed WHERE name = ?1", peer)
}

/// Notes a new identity key of `peer`, for the user to compare and trust.
fn note_changed(tx: &Transaction<'_>, peer: &str, identity: &IdentityKey) -> Result<()> {
    tx.execute(
        "INSERT INTO changed (name, identity) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET identity = excluded.identity",
        params![peer, identity.as_bytes()],
    )?;
    Ok(())
}

/// What the user is told when `peer`'s identity key changed.
pub fn identity_changed(peer: &str) -> String {
    format!(
        "{peer}'s identity key changed (a new device, or someone else): compare safety numbers \
         with /verify {peer}, then /trust {peer} to accept it; until then nothing is sent to \
         {peer} and their messages are dropped"
    )
}

/// The peer name this identity key was first seen with, if any.
fn identity_owner(db: &Connection, identity: &[u8; 32]) -> Result<Option<String>> {
    Ok(db
        .query_row(
            "SELECT name FROM peers WHERE identity = ?1",
            [identity.as_slice()],
            |row| row.get(0),
        )
        .optional()?)
}

/// Records `identity` as `peer`'s on first contact (later ones were checked
/// against it before we got here).
fn pin_identity(tx: &Transaction<'_>, peer: &str, identity: &IdentityKey) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO peers (name, identity) VALUES (?1, ?2)",
        params![peer, identity.as_bytes()],
    )?;
    Ok(())
}

fn save_record(tx: &Transaction<'_>, peer: &str, sealed: &[u8]) -> Result<()> {
    tx.execute(
        "INSERT INTO records (peer, sealed) VALUES (?1, ?2)
         ON CONFLICT (peer) DO UPDATE SET sealed = excluded.sealed",
        params![peer, sealed],
    )?;
    Ok(())
}

/// Puts `payload` in the outbox for `peer` under a fresh random id.
fn enqueue(tx: &Transaction<'_>, peer: &str, payload: &[u8], rng: &mut impl Rng) -> Result<()> {
    let mut id: MessageId = [0; 16];
    rng.fill_bytes(&mut id);
    tx.execute(
        "INSERT INTO outbox (peer, message_id, payload) VALUES (?1, ?2, ?3)",
        params![peer, id, payload],
    )?;
    Ok(())
}

impl Client {
    /// Sends the last text we sent to `peer` again, as a new message (the
    /// peer could not read one of ours, SPEC §13); the history keeps it once.
    fn resend_last(&mut self, peer: &str) -> Result<()> {
        let last: Option<String> = self
            .db
            .query_row(
                "SELECT body FROM history WHERE peer = ?1 AND outgoing ORDER BY seq DESC LIMIT 1",
                params![peer],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(text) = last {
            let frame = [&[FRAME_TEXT], text.as_bytes()].concat();
            self.queue_frame(peer, &frame, None, |_| Ok(()))?;
        }
        Ok(())
    }
}

fn append_history(tx: &Transaction<'_>, peer: &str, outgoing: bool, text: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO history (peer, outgoing, body) VALUES (?1, ?2, ?3)",
        params![peer, outgoing, text],
    )?;
    Ok(())
}
