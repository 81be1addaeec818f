//! The two-party protocol target: an arbitrary schedule of encrypt, deliver,
//! drop, reorder, duplicate, tamper, store/reload, snapshot and restore steps
//! for Alice (initiator) and Bob (responder), in either mode, checked against
//! a reference model of SPEC §4.
//!
//! Input: three configuration bytes, then operations (an opcode byte and its
//! arguments) until the input ends. Byte 0: bit 0 header encryption, bit 1
//! a one-time prekey in the bundle; byte 1: `max_skip` (0..=8); byte 2:
//! `max_skipped_keys - max_skip` (0..=8).
//!
//! Checks, at every delivery:
//! - a tampered message never decrypts, and a failed call changes nothing
//!   (session and account compared through their stored bytes);
//! - a genuine message decrypts at most once in a state's history, and only
//!   to its own plaintext;
//! - as long as no party was rolled back to an older state, every result is
//!   exactly the model's (success, `Duplicate`, `Authentication`,
//!   `TooManySkipped`), and so is the number of stored skipped keys: in-order
//!   delivery within the limits always works, and a replay fails with
//!   `Duplicate` (`Authentication` for a chain forgotten by eviction);
//! - after a rollback, a genuine message either decrypts to its plaintext or
//!   fails with one of those three errors.
//!
//! At the end, both sides send one more message that is delivered at once.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, OnceLock, PoisonError};

use cliquet::{Account, AnyMessage, Error, RatchetMessage, Session, SessionConfig};
use rand_chacha::ChaCha20Rng;

use crate::fuzz::fixtures;

/// Most operations per input, and most messages in flight.
const MAX_OPS: usize = 200;
const MAX_IN_FLIGHT: usize = 48;

const ALICE: usize = 0;
const BOB: usize = 1;

/// Runs one schedule; whether any message decrypted.
pub fn run(data: &[u8]) -> bool {
    let mut input = Input(data);
    let (Some(mode), Some(skip), Some(extra)) = (input.byte(), input.byte(), input.byte()) else {
        return false;
    };
    let max_skip = u32::from(skip % 9);
    let config = SessionConfig::new(max_skip, max_skip + u32::from(extra % 9))
        .expect("max_skip <= max_skipped_keys")
        .with_header_encryption(mode & 1 != 0);
    let mut world = World::new(config, mode & 2 != 0);
    for _ in 0..MAX_OPS {
        let Some(op) = input.byte() else { break };
        match op % 10 {
            5 => {
                let (Some(i), Some(pos), Some(xor)) = (input.byte(), input.byte(), input.byte())
                else {
                    break;
                };
                world.tamper(usize::from(i), usize::from(pos), xor);
            }
            9 => world.exchange(),
            op => {
                let Some(arg) = input.byte() else { break };
                let arg = usize::from(arg);
                match op {
                    0 => {
                        world.encrypt(arg & 1, arg >> 1);
                    }
                    1 => world.deliver_at(arg),
                    2 => world.drop_at(arg),
                    3 => world.duplicate(arg),
                    4 => world.move_to_back(arg),
                    6 => world.reload(arg & 1, arg & 2 != 0),
                    7 => world.snapshot(arg & 1),
                    _ => world.restore(arg & 1),
                }
            }
        }
    }
    world.exchange();
    world.decrypted > 0
}

/// The unread rest of the input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }
}

/// A message sent by `from`: where it sits in the sender's chains.
struct Sent {
    from: usize,
    epoch: u32,
    index: u32,
    previous_chain_length: u32,
    plaintext: Vec<u8>,
}

/// What SPEC §4 says a party's ratchet holds, in counters only.
#[derive(Clone, Debug, Default)]
struct Model {
    /// Sending chain number (1 for the first), next index, `PN`, and whether
    /// the next encrypt starts a new chain (after a received DH step).
    epoch: u32,
    next: u32,
    previous_chain_length: u32,
    pending_step: bool,
    /// The receiving chain: the peer's chain number and the next index.
    receiving: Option<(u32, u32)>,
    /// Skipped keys `(peer chain, index)`, oldest inserted first.
    skipped: VecDeque<(u32, u32)>,
    /// The genuine messages this state has decrypted.
    decrypted: BTreeSet<usize>,
}

impl Model {
    /// The sender's side of an encrypt: the message's place.
    fn send(&mut self) -> (u32, u32, u32) {
        if self.pending_step {
            self.pending_step = false;
            self.epoch += 1;
            self.previous_chain_length = self.next;
            self.next = 0;
        }
        let index = self.next;
        self.next += 1;
        (self.epoch, index, self.previous_chain_length)
    }

    /// The receiver's side: what decrypting `m` does (the result, and the
    /// state after a success), per SPEC §4 "Limits and failure rules".
    fn receive(&self, m: &Sent, config: &SessionConfig) -> Result<Self, Error> {
        let max_skip = config.max_skip();
        let mut after = self.clone();
        let key = (m.epoch, m.index);
        match self.receiving {
            Some((chain, next)) if m.epoch <= chain => {
                if let Some(at) = self.skipped.iter().position(|k| *k == key) {
                    after.skipped.remove(at);
                    return Ok(after);
                }
                if m.epoch == chain {
                    if m.index < next {
                        return Err(Error::Duplicate);
                    }
                    if m.index - next > max_skip {
                        return Err(Error::TooManySkipped);
                    }
                    after.skipped.extend((next..m.index).map(|i| (chain, i)));
                    after.receiving = Some((chain, m.index + 1));
                } else if self.skipped.iter().any(|k| k.0 == m.epoch) {
                    return Err(Error::Duplicate);
                } else if config.header_encryption() {
                    // No stored header key opens it.
                    return Err(Error::Authentication);
                } else {
                    // Taken for a new chain: the limits first, then it
                    // fails to authenticate.
                    let old_gap = m.previous_chain_length.saturating_sub(next);
                    if old_gap > max_skip || m.index > max_skip {
                        return Err(Error::TooManySkipped);
                    }
                    return Err(Error::Authentication);
                }
            }
            _ => {
                let old_gap = self
                    .receiving
                    .map_or(0, |(_, next)| m.previous_chain_length.saturating_sub(next));
                if old_gap > max_skip || m.index > max_skip {
                    return Err(Error::TooManySkipped);
                }
                if let Some((chain, next)) = self.receiving {
                    let old = next..m.previous_chain_length.max(next);
                    after.skipped.extend(old.map(|i| (chain, i)));
                }
                after.skipped.extend((0..m.index).map(|i| (m.epoch, i)));
                after.receiving = Some((m.epoch, m.index + 1));
                after.pending_step = true;
            }
        }
        let limit = usize::try_from(config.max_skipped_keys()).unwrap_or(usize::MAX);
        while after.skipped.len() > limit {
            after.skipped.pop_front();
        }
        Ok(after)
    }
}

/// One party: Alice has her session from the start; Bob has his account,
/// and a session once he accepted Alice's first message.
struct Party {
    account: Option<Account>,
    session: Option<Session>,
    model: Model,
    snapshot: Option<Snapshot>,
}

impl Party {
    fn stored(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (
            self.account.as_ref().map(|a| a.to_stored().to_vec()),
            self.session.as_ref().map(|s| s.to_stored().to_vec()),
        )
    }
}

/// A party's stored state and model, kept to be restored later.
#[derive(Clone)]
struct Snapshot {
    account: Option<Vec<u8>>,
    session: Option<Vec<u8>>,
    model: Model,
}

/// A message in flight to `to`.
#[derive(Clone)]
struct Packet {
    to: usize,
    bytes: Vec<u8>,
}

struct World {
    config: SessionConfig,
    rng: ChaCha20Rng,
    parties: [Party; 2],
    in_flight: Vec<Packet>,
    sent: Vec<Sent>,
    genuine: HashMap<Vec<u8>, usize>,
    /// Set once a party went back to an older state: the model no longer
    /// knows what the peer has seen.
    rolled_back: bool,
    /// How many genuine messages decrypted.
    decrypted: usize,
}

impl World {
    fn new(config: SessionConfig, one_time_prekey: bool) -> Self {
        let (alice, bob) = start(config, one_time_prekey);
        let session = Session::from_stored(&alice).expect("a stored session loads");
        let bob = Account::from_stored(&bob).expect("a stored account loads");
        let rng = fixtures::rng(8);
        let alice = Party {
            account: None,
            session: Some(session),
            model: Model {
                epoch: 1,
                ..Model::default()
            },
            snapshot: None,
        };
        let bob = Party {
            account: Some(bob),
            session: None,
            model: Model::default(),
            snapshot: None,
        };
        Self {
            config,
            rng,
            parties: [alice, bob],
            in_flight: Vec::new(),
            sent: Vec::new(),
            genuine: HashMap::new(),
            rolled_back: false,
            decrypted: 0,
        }
    }

    /// `from` encrypts a message of `len` bytes (Bob only once he has a
    /// session); returns the packet.
    fn encrypt(&mut self, from: usize, len: usize) -> Option<Packet> {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            return None;
        }
        let id = self.sent.len();
        let party = self.parties.get_mut(from)?;
        let session = party.session.as_mut()?;
        let mut plaintext = format!("{from}:{id}:").into_bytes();
        plaintext.resize(plaintext.len() + len % 64, 0xa5);
        let acknowledged = session.is_acknowledged();
        let message = session
            .encrypt(&plaintext, &mut self.rng)
            .expect("encrypt within the limits works");
        assert_eq!(
            matches!(message, AnyMessage::PreKey(_)),
            !acknowledged,
            "prekey messages exactly until acknowledged"
        );
        let (epoch, index, previous_chain_length) = party.model.send();
        let plain = match message.ratchet_message() {
            RatchetMessage::Plain(m) => Some(m),
            _ => None,
        };
        if let Some(m) = plain
            && !self.rolled_back
        {
            assert_eq!(
                (m.index(), m.previous_chain_length()),
                (index, previous_chain_length),
                "header counters differ from SPEC §4"
            );
        }
        let bytes = message.into_bytes();
        self.sent.push(Sent {
            from,
            epoch,
            index,
            previous_chain_length,
            plaintext,
        });
        self.genuine.insert(bytes.clone(), id);
        if bytes.first() == Some(&KIND_PQ_PREKEY) {
            self.genuine.insert(without_kem_ciphertext(&bytes), id);
        }
        let packet = Packet {
            to: 1 - from,
            bytes,
        };
        self.in_flight.push(packet.clone());
        Some(packet)
    }

    fn index(&self, i: usize) -> Option<usize> {
        (!self.in_flight.is_empty()).then(|| i % self.in_flight.len())
    }

    fn deliver_at(&mut self, i: usize) {
        if let Some(i) = self.index(i) {
            let packet = self.in_flight.remove(i);
            self.deliver(&packet);
        }
    }

    fn drop_at(&mut self, i: usize) {
        if let Some(i) = self.index(i) {
            self.in_flight.remove(i);
        }
    }

    fn duplicate(&mut self, i: usize) {
        if let Some(i) = self.index(i)
            && self.in_flight.len() < MAX_IN_FLIGHT
        {
            let copy = self.in_flight.get(i).cloned();
            self.in_flight.extend(copy);
        }
    }

    /// Reorders: the packet goes to the back of the queue.
    fn move_to_back(&mut self, i: usize) {
        if let Some(i) = self.index(i) {
            let packet = self.in_flight.remove(i);
            self.in_flight.push(packet);
        }
    }

    fn tamper(&mut self, i: usize, pos: usize, xor: u8) {
        if let Some(i) = self.index(i)
            && let Some(packet) = self.in_flight.get_mut(i)
        {
            let len = packet.bytes.len();
            if let Some(b) = packet.bytes.get_mut(pos * 7 % len.max(1)) {
                *b ^= xor.max(1);
            }
        }
    }

    /// Stores and loads the party's state (sealed, or plain).
    fn reload(&mut self, who: usize, sealed: bool) {
        let Some(party) = self.parties.get_mut(who) else {
            return;
        };
        let before = party.stored();
        let key = fixtures::STORAGE_KEY;
        if let Some(s) = &party.session {
            party.session = Some(if sealed {
                let bytes = s.seal(&key, b"ctx", &mut self.rng).expect("seal");
                Session::open(&bytes, &key, b"ctx").expect("a sealed session opens")
            } else {
                Session::from_stored(&s.to_stored()).expect("a stored session loads")
            });
        }
        if let Some(a) = &party.account {
            party.account = Some(if sealed {
                let bytes = a.seal(&key, b"ctx", &mut self.rng).expect("seal");
                Account::open(&bytes, &key, b"ctx").expect("a sealed account opens")
            } else {
                Account::from_stored(&a.to_stored()).expect("a stored account loads")
            });
        }
        assert!(party.stored() == before, "a reload changed the state");
    }

    fn snapshot(&mut self, who: usize) {
        if let Some(party) = self.parties.get_mut(who) {
            let (account, session) = party.stored();
            party.snapshot = Some(Snapshot {
                account,
                session,
                model: party.model.clone(),
            });
        }
    }

    /// Goes back to the last snapshot (the application restored an old
    /// backup).
    fn restore(&mut self, who: usize) {
        let Some(party) = self.parties.get_mut(who) else {
            return;
        };
        let Some(Snapshot {
            account,
            session,
            model,
        }) = party.snapshot.clone()
        else {
            return;
        };
        if party.stored() != (account.clone(), session.clone()) {
            self.rolled_back = true;
        }
        party.account = account.map(|a| Account::from_stored(&a).expect("a stored account loads"));
        party.session = session.map(|s| Session::from_stored(&s).expect("a stored session loads"));
        party.model = model;
    }

    /// Alice sends and it is delivered at once, then Bob.
    fn exchange(&mut self) {
        for from in [ALICE, BOB] {
            if let Some(packet) = self.encrypt(from, 3) {
                self.in_flight.pop();
                self.deliver(&packet);
            }
        }
    }

    fn deliver(&mut self, packet: &Packet) {
        let config = self.config;
        let Some(party) = self.parties.get_mut(packet.to) else {
            return;
        };
        let before = party.stored();
        let result = receive(party, &packet.bytes, config);
        let Some(result) = result else {
            return;
        };
        if result.is_err() {
            assert!(
                party.stored() == before,
                "a failed decrypt changed the state"
            );
        }
        let id = match self.genuine.get(&packet.bytes) {
            Some(&id) => id,
            // SPEC §5: Bob does not keep a PQXDH session's `CT`, so a copy of
            // a 0x17 message with another `CT`, routed to the session it
            // names, decrypts like the genuine message: it counts as it.
            None => match self.genuine.get(&without_kem_ciphertext(&packet.bytes)) {
                Some(&id) if result.is_ok() => id,
                _ => {
                    assert!(result.is_err(), "a tampered message decrypted");
                    return;
                }
            },
        };
        let sent = self.sent.get(id).expect("sent messages are recorded");
        assert_eq!(sent.from, 1 - packet.to, "delivered to its sender");
        if let Ok(plaintext) = &result {
            assert_eq!(*plaintext, sent.plaintext, "wrong plaintext");
            assert!(
                party.model.decrypted.insert(id),
                "message {id} decrypted twice"
            );
            self.decrypted += 1;
        }
        if self.rolled_back {
            if let Err(e) = result {
                assert!(
                    matches!(
                        e,
                        Error::Duplicate | Error::Authentication | Error::TooManySkipped
                    ),
                    "genuine message after a rollback: {e:?}"
                );
            }
            return;
        }
        let expected = party.model.receive(sent, &config);
        match (&result, expected) {
            (Ok(_), Ok(mut after)) => {
                after.decrypted = party.model.decrypted.clone();
                party.model = after;
                let skipped = party.session.as_ref().map_or(0, Session::skipped_keys);
                assert_eq!(
                    skipped,
                    party.model.skipped.len(),
                    "skipped keys differ from the model"
                );
            }
            (Err(e), Err(want)) => assert_eq!(*e, want, "message {id}: wrong error"),
            (got, want) => panic!(
                "message {id} ({}, {}): got {:?}, model says {:?}",
                sent.epoch,
                sent.index,
                got.as_ref().map(|_| ()),
                want.map(|_| ())
            ),
        }
    }
}

/// The kind byte of a PQXDH prekey message and where its `CT` lies (SPEC
/// §5: after kind, `IK_A`, `EK_A`, `spk_id` and `kpk_id`).
const KIND_PQ_PREKEY: u8 = 0x17;
const KEM_CIPHERTEXT: core::ops::Range<usize> = 73..73 + 1568;

/// A 0x17 message with its `CT` zeroed (and a marker byte appended, so that
/// it never equals a message as sent); other bytes are returned as they are.
fn without_kem_ciphertext(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.first() == Some(&KIND_PQ_PREKEY)
        && let Some(ct) = out.get_mut(KEM_CIPHERTEXT)
    {
        ct.fill(0);
        out.push(0xff);
    }
    out
}

/// Alice's stored session just after `initiate` and Bob's stored account,
/// built once per configuration (key generation and X3DH would otherwise
/// dominate every run).
fn start(config: SessionConfig, one_time_prekey: bool) -> (Vec<u8>, Vec<u8>) {
    type Key = (u32, u32, bool, bool);
    type Stored = (Vec<u8>, Vec<u8>);
    static CACHE: OnceLock<Mutex<HashMap<Key, Stored>>> = OnceLock::new();
    let key = (
        config.max_skip(),
        config.max_skipped_keys(),
        config.header_encryption(),
        one_time_prekey,
    );
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    cache
        .entry(key)
        .or_insert_with(|| {
            let mut rng = fixtures::rng(7);
            let alice = Account::new(&mut rng);
            let mut bob = Account::new(&mut rng);
            let opk = if one_time_prekey {
                bob.generate_one_time_prekeys(1, &mut rng)
                    .first()
                    .map(|(id, _)| *id)
            } else {
                None
            };
            let bundle = bob
                .bundle(opk)
                .and_then(|b| b.verify())
                .expect("own bundle verifies");
            let session =
                Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
            (session.to_stored().to_vec(), bob.to_stored().to_vec())
        })
        .clone()
}

/// Hands `bytes` to the party: a prekey message of no session of Bob's goes
/// to his account. `None` if there is nothing to hand it to.
fn receive(
    party: &mut Party,
    bytes: &[u8],
    config: SessionConfig,
) -> Option<Result<Vec<u8>, Error>> {
    let message = match AnyMessage::decode(bytes) {
        Ok(m) => m,
        Err(e) => return Some(Err(e)),
    };
    if let AnyMessage::PreKey(m) = &message
        && let Some(account) = party.account.as_mut()
        && party
            .session
            .as_ref()
            .is_none_or(|s| s.session_id() != m.session_id())
    {
        return Some(account.accept(m, config).map(|accepted| {
            party.session = Some(accepted.session);
            accepted.plaintext
        }));
    }
    Some(party.session.as_mut()?.decrypt(&message))
}
