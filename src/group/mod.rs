//! Group messages with sender keys ([SPEC §10](crate::spec)).
//!
//! Each member of a group has one *sender chain* in it: it encrypts a group
//! message once with that chain, and every other member decrypts with the
//! copy it received. The copy (a [`SenderKeyDistribution`]) travels inside
//! the pairwise sessions, so the server that fans out group messages never
//! sees it. [`GroupSession`] holds one group's state for one member: its own
//! chain and the chains it received from the others.
//!
//! This module uses only the codec, the primitives, the key types, the
//! errors and the config: nothing of the pairwise protocol.

mod chain;
mod keys;
mod storage;
mod wire;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use self::chain::{OwnChain, ReceivedChain};
pub use self::wire::{GroupMessage, SenderKeyDistribution};
use crate::keys::{Hex, IdentityKey};
use crate::{Error, SessionConfig};

/// One member's state in one group ([SPEC §10](crate::spec)): its own sender chain (once
/// it has one) and the chains it received from other members, at most
/// [`MAX_CHAINS_PER_SENDER`](Self::MAX_CHAINS_PER_SENDER) per sender.
///
/// An application keeps one `GroupSession` per group and device, and stores
/// it like a pairwise session ([`to_stored`](Self::to_stored) /
/// [`seal`](Self::seal)).
///
/// **Senders.** A group message does not say who sent it, and the server
/// that delivers it is not trusted to say so either. A sender chain belongs
/// to the member whose *pairwise session* delivered its distribution: the
/// application passes that session's
/// [`peer_identity_key`](crate::Session::peer_identity_key) as `sender` to
/// [`receive_distribution`](Self::receive_distribution), and later names the
/// sender of each group message the same way (a message from a member signs
/// with that member's chain, so a wrong name fails with
/// [`Error::UnknownChain`] or [`Error::BadSignature`]). Never take a
/// distribution from anywhere but the pairwise session of the member it is
/// filed under: whoever gives it decides what that member's messages say.
///
/// **Rotation.** Sender keys have forward secrecy (chain keys only move
/// forward) but do not heal: when a member leaves, each remaining member
/// forgets its chains ([`remove_sender`](Self::remove_sender)), calls
/// [`rotate`](Self::rotate) and sends the new distribution to the remaining
/// members only. Rotating also heals after a suspected compromise.
///
/// **Errors change nothing.** When a call returns an error the state is
/// exactly what it was.
///
/// ```
/// use cliquet::{GroupSession, IdentityKeyPair, SenderKeyDistribution, SessionConfig};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
/// let group_id = [0x42; 16];
/// let alice_identity = IdentityKeyPair::generate(&mut rng);
/// let mut alice = GroupSession::new(group_id, SessionConfig::default());
/// let mut bob = GroupSession::new(group_id, SessionConfig::default());
///
/// // Alice starts her chain; its distribution goes to Bob inside their
/// // pairwise session (here directly), and Bob files it under Alice.
/// let distribution = alice.rotate(&mut rng)?;
/// let received = SenderKeyDistribution::decode(&distribution.encode()[..])?;
/// bob.receive_distribution(alice_identity.public_key(), &received)?;
///
/// // One encryption for the whole group; each member decrypts it once.
/// let message = alice.encrypt(b"hello, group", &mut rng)?;
/// let plaintext = bob.decrypt(alice_identity.public_key(), &message)?;
/// assert_eq!(plaintext, b"hello, group");
/// assert_eq!(
///     bob.decrypt(alice_identity.public_key(), &message),
///     Err(cliquet::Error::Duplicate)
/// );
/// # Ok::<(), cliquet::Error>(())
/// ```
pub struct GroupSession {
    group_id: [u8; 16],
    config: SessionConfig,
    own: Option<OwnChain>,
    /// Received chains by sender identity key (its encoding).
    senders: BTreeMap<[u8; 32], Sender>,
}

/// What a member holds of one other member's chains in the group.
struct Sender {
    identity: IdentityKey,
    /// Oldest-inserted first; at most [`GroupSession::MAX_CHAINS_PER_SENDER`].
    /// Boxed, so that the deque's buffer holds no chain key when it grows.
    chains: VecDeque<Box<ReceivedChain>>,
    /// The highest id of a chain dropped under the limit: that id and
    /// every lower one are refused if distributed (a member numbers its
    /// chains upwards), so the state stays bounded however many chains
    /// come and go.
    dropped: Option<u32>,
}

impl Sender {
    fn holds_or_dropped(&self, chain_id: u32) -> bool {
        self.dropped.is_some_and(|highest| chain_id <= highest)
            || self.chains.iter().any(|c| c.chain_id == chain_id)
    }
}

impl GroupSession {
    /// The most chains kept per sender ([SPEC §10](crate::spec)): a sixth drops the
    /// oldest-inserted one.
    pub const MAX_CHAINS_PER_SENDER: usize = 5;

    /// An empty state for the group `group_id` (16 bytes chosen by the
    /// application, for instance a UUID): no own chain, nothing received.
    ///
    /// `config` gives the receiving limits of [SPEC §4](crate::spec), applied to each
    /// received chain: at most [`max_skip`](SessionConfig::max_skip) keys
    /// skipped by one message and
    /// [`max_skipped_keys`](SessionConfig::max_skipped_keys) stored per
    /// chain (its header-encryption option plays no part here).
    pub fn new(group_id: [u8; 16], config: SessionConfig) -> Self {
        Self {
            group_id,
            config: config.with_header_encryption(false),
            own: None,
            senders: BTreeMap::new(),
        }
    }

    /// The group's id.
    pub const fn group_id(&self) -> &[u8; 16] {
        &self.group_id
    }

    /// The receiving limits.
    pub const fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Starts a new own sender chain, and returns its distribution to send
    /// to every member who should read it. The first chain has id 1, each
    /// later one the next id: a rotation, which replaces the previous chain
    /// (members who hold the old one can still read what was sent on it).
    ///
    /// Draws `CK`, then the `GSK` seed (two 32-byte draws). A member that
    /// lost its group state starts again with
    /// [`rotate_above`](Self::rotate_above) instead.
    ///
    /// # Errors
    /// [`Error::ChainExhausted`] if the current chain id is 2^32 − 1 (no
    /// draw happens).
    pub fn rotate(
        &mut self,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SenderKeyDistribution, Error> {
        let chain_id = match &self.own {
            None => 1,
            Some(own) => own.chain_id.checked_add(1).ok_or(Error::ChainExhausted)?,
        };
        Ok(self.start_chain(chain_id, rng))
    }

    /// Like [`rotate`](Self::rotate), but the new chain's id is above
    /// `floor` too: `max(floor, current id) + 1`. For a member that lost its
    /// group state (a reinstall, a restore from an old backup) and starts
    /// again from [`new`](Self::new).
    ///
    /// Receivers refuse a chain id they hold for this member, and every id
    /// at or below the highest one they dropped for it (SPEC.md, additions
    /// to §10): a state that starts over at chain 1 would be refused
    /// ([`Error::Duplicate`]) by every member that still holds its chain 1
    /// or saw five or more of its chains. A restored member must
    /// therefore start above every id it may have used: pass as `floor` the
    /// highest chain id it used, or a bound on it, kept where the loss
    /// cannot reach it. [`sender_chain`](Self::sender_chain) gives the
    /// current id to keep; an application that keeps nothing can use a
    /// clock, if it never rotates faster than it ticks (for instance
    /// minutes since a fixed date, with a margin).
    ///
    /// ```
    /// use cliquet::{Error, GroupSession, IdentityKeyPair, SessionConfig};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([6; 32]);
    /// let alice = IdentityKeyPair::generate(&mut rng);
    /// let mut alice_group = GroupSession::new([3; 16], SessionConfig::default());
    /// let mut bob = GroupSession::new([3; 16], SessionConfig::default());
    /// for _ in 0..6 {
    ///     bob.receive_distribution(alice.public_key(), &alice_group.rotate(&mut rng)?)?;
    /// }
    /// let last_used = alice_group.sender_chain().map_or(0, |(id, _)| id);
    ///
    /// // Alice loses her group state and starts over.
    /// let mut restored = GroupSession::new([3; 16], SessionConfig::default());
    /// let naive = GroupSession::new([3; 16], SessionConfig::default()).rotate(&mut rng)?;
    /// assert_eq!(bob.receive_distribution(alice.public_key(), &naive), Err(Error::Duplicate));
    /// let d = restored.rotate_above(last_used, &mut rng)?;
    /// assert_eq!(d.chain_id(), 7);
    /// bob.receive_distribution(alice.public_key(), &d)?;
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ChainExhausted`] if the new id would pass 2^32 − 1 (no draw
    /// happens).
    pub fn rotate_above(
        &mut self,
        floor: u32,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SenderKeyDistribution, Error> {
        let current = self.own.as_ref().map_or(0, |own| own.chain_id);
        let chain_id = current
            .max(floor)
            .checked_add(1)
            .ok_or(Error::ChainExhausted)?;
        Ok(self.start_chain(chain_id, rng))
    }

    /// Starts the own chain `chain_id` and returns its distribution.
    fn start_chain(
        &mut self,
        chain_id: u32,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> SenderKeyDistribution {
        let own = OwnChain::generate(chain_id, rng);
        let distribution = own.distribution(self.group_id);
        self.own = Some(own);
        distribution
    }

    /// The own chain's current state (`None` before the first
    /// [`rotate`](Self::rotate)): what a member who joins now receives.
    /// It reads messages from the current iteration on, never earlier ones.
    pub fn distribution(&self) -> Option<SenderKeyDistribution> {
        self.own.as_ref().map(|own| own.distribution(self.group_id))
    }

    /// The own chain's id and the iteration of its next message.
    pub fn sender_chain(&self) -> Option<(u32, u32)> {
        self.own.as_ref().map(|own| (own.chain_id, own.iteration))
    }

    /// Encrypts `plaintext` for the group with the own chain: one message
    /// for all members ([SPEC §10](crate::spec)). Draws the 16-byte salt.
    ///
    /// # Errors
    /// - [`Error::UnknownChain`]: no own chain yet (call [`rotate`](Self::rotate));
    /// - [`Error::ChainExhausted`]: the chain sent its last message
    ///   (iteration 2^32 − 2): rotate. Nothing is drawn.
    /// - [`Error::TooLarge`] past 64 GiB.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<GroupMessage, Error> {
        let own = self.own.as_mut().ok_or(Error::UnknownChain)?;
        own.encrypt(self.group_id, plaintext, rng)
    }

    /// Files a distribution under `sender`, the identity key of the member
    /// whose pairwise session delivered it (see the type's docs): from now
    /// on this member reads that chain's messages from the distribution's
    /// iteration on. The sender's sixth chain in the group drops its
    /// oldest-inserted one.
    ///
    /// # Errors
    /// - [`Error::Duplicate`]: a chain with this id is held for `sender`, or
    ///   the id is at or below the highest one dropped for `sender` (a
    ///   chain id is used once, and a member numbers its chains upwards, so
    ///   a replayed distribution can never move a chain back to keys
    ///   already used; see [`rotate_above`](Self::rotate_above) for a
    ///   member that lost its state);
    /// - [`Error::UnknownChain`]: the distribution is for another group;
    /// - [`Error::SigningKeyInUse`]: its signing key is held for another
    ///   sender in this group, or is this member's own chain's (checked
    ///   after the two above).
    ///
    /// The signing key and iteration were checked by
    /// [`SenderKeyDistribution::decode`].
    ///
    /// **One chain, one sender.** A distribution does not name its sender
    /// ([SPEC §10](crate::spec) pins its 89 bytes), so a member could re-send another
    /// member's distribution as its own: filed under both names, each of
    /// that chain's messages would decrypt once per name. This state
    /// therefore refuses a signing key it already holds for someone else.
    /// Whichever copy arrives first is kept, so a refusal is an alarm: one
    /// of the two members passed on a chain that is not its own, and the
    /// application may tell the user, or drop both members' chains
    /// ([`remove_sender`](Self::remove_sender)). A key is compared with the
    /// chains held now, not with dropped or removed ones.
    pub fn receive_distribution(
        &mut self,
        sender: &IdentityKey,
        distribution: &SenderKeyDistribution,
    ) -> Result<(), Error> {
        if distribution.group_id() != &self.group_id {
            return Err(Error::UnknownChain);
        }
        let entry = self.senders.get(sender.as_bytes());
        if entry.is_some_and(|s| s.holds_or_dropped(distribution.chain_id())) {
            return Err(Error::Duplicate);
        }
        if self.signing_key_held_by_other(sender, distribution) {
            return Err(Error::SigningKeyInUse);
        }
        let entry = self
            .senders
            .entry(sender.to_bytes())
            .or_insert_with(|| Sender {
                identity: *sender,
                chains: VecDeque::new(),
                dropped: None,
            });
        if entry.chains.len() >= Self::MAX_CHAINS_PER_SENDER
            && let Some(oldest) = entry.chains.pop_front()
        {
            entry.dropped = Some(
                entry
                    .dropped
                    .map_or(oldest.chain_id, |d| d.max(oldest.chain_id)),
            );
        }
        entry
            .chains
            .push_back(Box::new(ReceivedChain::from_distribution(distribution)));
        Ok(())
    }

    /// Whether the distribution's signing key is this member's own chain's,
    /// or that of a chain held for a sender other than `sender`.
    fn signing_key_held_by_other(
        &self,
        sender: &IdentityKey,
        distribution: &SenderKeyDistribution,
    ) -> bool {
        let key = distribution.signing_key();
        self.own
            .as_ref()
            .is_some_and(|own| own.signing.public() == *key)
            || self
                .senders
                .iter()
                .filter(|(identity, _)| *identity != sender.as_bytes())
                .flat_map(|(_, s)| &s.chains)
                .any(|c| c.signing_key == *key)
    }

    /// Decrypts a group message from `sender` ([SPEC §10](crate::spec) "Receiving"): the
    /// chain is looked up by (sender, group id, chain id), the signature
    /// verified strictly before any other work, then the message key taken
    /// from the stored skipped keys or derived (storing the keys of skipped
    /// iterations), then the AEAD opened. Each message decrypts once.
    ///
    /// # Errors
    /// Each leaves the state unchanged:
    /// - [`Error::UnknownChain`]: no such chain held (never received, or
    ///   dropped), or a message of another group;
    /// - [`Error::BadSignature`]: the signature fails strict verification
    ///   with the chain's signing key (checked before everything below);
    /// - [`Error::InvalidKey`]: iteration 2^32 − 1, which no chain sends;
    /// - [`Error::Duplicate`]: already decrypted, its key was evicted, or it
    ///   precedes the iteration this member's copy started at;
    /// - [`Error::TooManySkipped`]: more than `max_skip` iterations ahead;
    /// - [`Error::Authentication`]: the ciphertext does not open.
    pub fn decrypt(
        &mut self,
        sender: &IdentityKey,
        message: &GroupMessage,
    ) -> Result<Vec<u8>, Error> {
        if message.group_id() != &self.group_id {
            return Err(Error::UnknownChain);
        }
        let chain = self
            .senders
            .get_mut(sender.as_bytes())
            .and_then(|s| {
                s.chains
                    .iter_mut()
                    .find(|c| c.chain_id == message.chain_id())
            })
            .ok_or(Error::UnknownChain)?;
        let staged = chain.stage(message, &self.config)?;
        Ok(chain.commit(staged, &self.config))
    }

    /// Forgets everything held for `sender` in this group: its chains, their
    /// skipped keys and the chain ids it had dropped. From now on its
    /// messages fail with [`Error::UnknownChain`], and [`to_stored`](Self::to_stored)
    /// no longer holds any of its keys. Returns whether anything was held.
    ///
    /// The library does not know who is in the group: the application
    /// decides membership, and calls this for a member who left (or was
    /// removed), next to the [`rotate`](Self::rotate) that shuts the member
    /// out of what comes next. Messages that member sent before leaving and
    /// that have not arrived yet can no longer be read: remove it once they
    /// are no longer expected, if that matters.
    ///
    /// If the member later comes back, it is a new sender: it hands out a
    /// new distribution, with a chain id above every one it used before
    /// (see [`rotate_above`](Self::rotate_above)); an old distribution of it
    /// can only come back through its pairwise session, which never
    /// delivers a message twice.
    ///
    /// ```
    /// use cliquet::{Error, GroupSession, IdentityKeyPair, SessionConfig};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([4; 32]);
    /// let dave = IdentityKeyPair::generate(&mut rng);
    /// let mut dave_group = GroupSession::new([9; 16], SessionConfig::default());
    /// let mut me = GroupSession::new([9; 16], SessionConfig::default());
    /// me.receive_distribution(dave.public_key(), &dave_group.rotate(&mut rng)?)?;
    /// let late = dave_group.encrypt(b"sent before leaving", &mut rng)?;
    ///
    /// // Dave left the group (the application's decision).
    /// assert!(me.remove_sender(dave.public_key()));
    /// assert_eq!(me.decrypt(dave.public_key(), &late), Err(Error::UnknownChain));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn remove_sender(&mut self, sender: &IdentityKey) -> bool {
        self.senders.remove(sender.as_bytes()).is_some()
    }

    /// How many chains are held for `sender`.
    pub fn chains_from(&self, sender: &IdentityKey) -> usize {
        self.senders
            .get(sender.as_bytes())
            .map_or(0, |s| s.chains.len())
    }

    /// The skipped message keys stored, over every received chain.
    pub fn skipped_keys(&self) -> usize {
        self.senders
            .values()
            .flat_map(|s| &s.chains)
            .map(|c| c.skipped.len())
            .sum()
    }
}

impl fmt::Debug for GroupSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupSession")
            .field("group_id", &Hex(&self.group_id))
            .field("config", &self.config)
            .field("own", &self.own)
            .field("senders", &self.senders.values().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("identity", &self.identity)
            .field("chains", &self.chains)
            .field("dropped", &self.dropped)
            .finish()
    }
}

#[cfg(test)]
mod tests;
