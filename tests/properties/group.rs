//! SPEC §10 over whole group lives: random schedules of sends, loss,
//! reordering, duplicate delivery, joins, leaves (with rotation),
//! rotations and reloads, checked against a model of who may read what.
//! The group state's golden files are in `tests/storage.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use cliquet::{Error, GroupMessage, GroupSession, SenderKeyDistribution, SessionConfig};
use cliquet_testkit::group::{GROUP, identity};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Members who may ever be in the group (indices 0..MEMBERS).
const MEMBERS: usize = 5;

/// One step of a schedule; indices are reduced modulo what exists.
#[derive(Clone, Debug)]
enum Op {
    /// A member sends a message to the group.
    Send(usize),
    /// The server delivers one pending (message, recipient) pair, chosen
    /// at random: reordering; pairs never chosen are lost.
    Deliver(usize),
    /// The server delivers an already delivered pair again.
    Redeliver(usize),
    /// A non-member joins: it gets every member's current distribution and
    /// gives its own (a new chain) to every member.
    Join(usize),
    /// A member leaves: every remaining member rotates and gives the new
    /// chain to the remaining members only.
    Leave(usize),
    /// A member rotates (healing) and gives the new chain to the members.
    Rotate(usize),
    /// A member stores its state and loads it back.
    Reload(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<usize>().prop_map(Op::Send),
        8 => any::<usize>().prop_map(Op::Deliver),
        1 => any::<usize>().prop_map(Op::Redeliver),
        1 => any::<usize>().prop_map(Op::Join),
        1 => any::<usize>().prop_map(Op::Leave),
        1 => any::<usize>().prop_map(Op::Rotate),
        1 => any::<usize>().prop_map(Op::Reload),
    ]
}

/// A sent message and what the model needs to know about it.
struct Sent {
    sender: usize,
    chain_id: u32,
    iteration: u32,
    plaintext: Vec<u8>,
    message: GroupMessage,
    /// The members when it was sent: the only ones who may read it.
    members: BTreeSet<usize>,
}

/// The model of one member's received chains (SPEC §10).
#[derive(Default)]
struct Holds {
    /// (sender, chain id) → the iteration its copy started at.
    start: BTreeMap<(usize, u32), u32>,
    /// Per sender, chain ids oldest-inserted first (at most five).
    order: BTreeMap<usize, VecDeque<u32>>,
    dropped: BTreeSet<(usize, u32)>,
    /// Messages this member decrypted.
    read: BTreeSet<usize>,
}

struct World {
    rng: ChaCha20Rng,
    groups: Vec<GroupSession>,
    members: BTreeSet<usize>,
    holds: Vec<Holds>,
    sent: Vec<Sent>,
    pending: Vec<(usize, usize)>,
    delivered: Vec<(usize, usize)>,
}

impl World {
    fn new(initial: usize, seed: u64) -> Self {
        let mut w = Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
            groups: (0..MEMBERS)
                .map(|_| GroupSession::new(GROUP, SessionConfig::default()))
                .collect(),
            members: BTreeSet::new(),
            holds: (0..MEMBERS).map(|_| Holds::default()).collect(),
            sent: Vec::new(),
            pending: Vec::new(),
            delivered: Vec::new(),
        };
        for i in 0..initial {
            w.join(i);
        }
        w
    }

    /// `to` receives `from`'s current distribution, as the model predicts.
    fn give(&mut self, from: usize, to: usize) {
        let d = self.groups[from].distribution().expect("has a chain");
        let d = SenderKeyDistribution::decode(&d.encode()[..]).expect("decodes");
        let key = (from, d.chain_id());
        let h = &mut self.holds[to];
        let expected = if h.start.contains_key(&key) || h.dropped.contains(&key) {
            Err(Error::Duplicate)
        } else {
            Ok(())
        };
        let before = self.groups[to].to_stored();
        let got = self.groups[to].receive_distribution(&identity(from), &d);
        assert_eq!(got, expected, "{to} receives {key:?}");
        if got.is_err() {
            assert_eq!(
                self.groups[to].to_stored(),
                before,
                "a refusal changed state"
            );
            return;
        }
        h.start.insert(key, d.iteration());
        let order = h.order.entry(from).or_default();
        order.push_back(key.1);
        if order.len() > GroupSession::MAX_CHAINS_PER_SENDER {
            let oldest = order.pop_front().expect("six");
            h.start.remove(&(from, oldest));
            h.dropped.insert((from, oldest));
        }
        assert_eq!(self.groups[to].chains_from(&identity(from)), order.len());
    }

    /// `who` starts a new chain and gives it to every other member.
    fn rotate(&mut self, who: usize) {
        let before = self.groups[who].sender_chain().map_or(0, |(id, _)| id);
        self.groups[who].rotate(&mut self.rng).expect("rotate");
        assert_eq!(self.groups[who].sender_chain(), Some((before + 1, 0)));
        let others: Vec<usize> = self.members.iter().copied().filter(|m| *m != who).collect();
        for m in others {
            self.give(who, m);
        }
    }

    fn join(&mut self, who: usize) {
        if !self.members.insert(who) {
            return;
        }
        let others: Vec<usize> = self.members.iter().copied().filter(|m| *m != who).collect();
        for m in &others {
            self.give(*m, who);
        }
        self.rotate(who);
    }

    fn leave(&mut self, who: usize) {
        if self.members.len() <= 1 || !self.members.remove(&who) {
            return;
        }
        let remaining: Vec<usize> = self.members.iter().copied().collect();
        for m in remaining {
            self.rotate(m);
        }
    }

    fn send(&mut self, who: usize) {
        let n = self.sent.len();
        let plaintext = format!("message {n} from {who}").into_bytes();
        let message = self.groups[who]
            .encrypt(&plaintext, &mut self.rng)
            .expect("encrypt");
        // The server fans it out to everyone it knows, leavers included.
        for to in (0..MEMBERS).filter(|to| *to != who) {
            self.pending.push((n, to));
        }
        self.sent.push(Sent {
            sender: who,
            chain_id: message.chain_id(),
            iteration: message.iteration(),
            plaintext,
            message,
            members: self.members.clone(),
        });
    }

    /// What the model says `to` gets for message `n`.
    fn expected(&self, n: usize, to: usize) -> Result<Vec<u8>, Error> {
        let m = &self.sent[n];
        let h = &self.holds[to];
        let Some(start) = h.start.get(&(m.sender, m.chain_id)) else {
            return Err(Error::UnknownChain);
        };
        if m.iteration < *start || h.read.contains(&n) {
            return Err(Error::Duplicate);
        }
        Ok(m.plaintext.clone())
    }

    fn deliver(&mut self, n: usize, to: usize) {
        let expected = self.expected(n, to);
        let m = &self.sent[n];
        // What travels is bytes.
        let message = GroupMessage::decode(m.message.as_bytes()).expect("decodes");
        let before = self.groups[to].to_stored();
        let got = self.groups[to].decrypt(&identity(m.sender), &message);
        assert_eq!(got, expected, "message {n} from {} to {to}", m.sender);
        match got {
            Ok(_) => {
                assert!(
                    m.members.contains(&to),
                    "{to} read message {n}, sent while it was not a member"
                );
                self.holds[to].read.insert(n);
            }
            Err(_) => assert_eq!(
                self.groups[to].to_stored(),
                before,
                "a failure changed state"
            ),
        }
    }

    fn run(&mut self, op: &Op) {
        let member = |w: &Self, i: usize| w.members.iter().copied().nth(i % w.members.len());
        match *op {
            Op::Send(i) => {
                if let Some(who) = member(self, i) {
                    self.send(who);
                }
            }
            Op::Deliver(k) if !self.pending.is_empty() => {
                let (n, to) = self.pending.swap_remove(k % self.pending.len());
                self.deliver(n, to);
                self.delivered.push((n, to));
            }
            Op::Redeliver(k) if !self.delivered.is_empty() => {
                let (n, to) = self.delivered[k % self.delivered.len()];
                self.deliver(n, to);
            }
            Op::Join(i) => {
                let outside: Vec<usize> =
                    (0..MEMBERS).filter(|m| !self.members.contains(m)).collect();
                if !outside.is_empty() {
                    self.join(outside[i % outside.len()]);
                }
            }
            Op::Leave(i) => {
                if let Some(who) = member(self, i) {
                    self.leave(who);
                }
            }
            Op::Rotate(i) => {
                if let Some(who) = member(self, i) {
                    self.rotate(who);
                }
            }
            Op::Reload(i) => {
                let who = i % MEMBERS;
                let stored = self.groups[who].to_stored();
                self.groups[who] = GroupSession::from_stored(&stored).expect("loads");
                assert_eq!(self.groups[who].to_stored(), stored);
            }
            Op::Deliver(_) | Op::Redeliver(_) => {}
        }
    }

    /// Delivers everything still pending, then checks that each member read
    /// exactly the messages sent while it was a member on chains it still
    /// holds, and nothing sent while it was not.
    fn finish(&mut self) {
        while let Some((n, to)) = self.pending.pop() {
            self.deliver(n, to);
        }
        for to in 0..MEMBERS {
            let h = &self.holds[to];
            for (n, m) in self.sent.iter().enumerate() {
                let was_member = m.members.contains(&to) && m.sender != to;
                if h.read.contains(&n) {
                    assert!(was_member, "{to} read message {n} without being a member");
                } else if was_member && h.start.contains_key(&(m.sender, m.chain_id)) {
                    panic!("{to} never read message {n}, sent while it was a member");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(crate::proptest_config(64))]

    #[test]
    fn s10_members_read_exactly_what_was_sent_while_they_were_members(
        initial in 2..=MEMBERS,
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let mut world = World::new(initial, seed);
        for op in &ops {
            world.run(op);
        }
        world.finish();
    }
}

#[test]
fn s10_a_leaver_reads_nothing_after_the_rotation_and_a_joiner_nothing_before() {
    let mut w = World::new(3, 7);
    w.send(0);
    w.leave(2);
    w.send(0);
    w.send(1);
    w.join(3);
    w.send(1);
    w.finish();
    // Member 2 (left after message 0) read only message 0; member 3
    // (joined before message 3) only message 3.
    assert_eq!(w.holds[2].read, BTreeSet::from([0]));
    assert_eq!(w.holds[3].read, BTreeSet::from([3]));
    assert_eq!(w.holds[1].read, BTreeSet::from([0, 1]));
    assert_eq!(w.holds[0].read, BTreeSet::from([2, 3]));
}
