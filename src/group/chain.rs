//! Sender chains ([SPEC §10](crate::spec)): the owner's chain that encrypts and signs, and
//! a receiver's copy that verifies and decrypts (their keys are in `keys`).
//!
//! No freed heap block keeps a chain or message key: the skipped keys of a
//! chain sit in one vector that is zeroized with its whole capacity, grows
//! into a new allocation only after the old one is wiped, and wipes the
//! slots that removed keys vacate; a received chain (with its `CK`) is boxed
//! by its holder, so moving it moves a pointer.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::keys::{ChainKey, MessageKey, SALT_LEN, SigningKeyPair, SigningPublicKey};
use super::wire::{GroupId, GroupMessage, SenderKeyDistribution};
use crate::codec::kind;
use crate::crypto;
use crate::crypto::draw_secret;
use crate::{Error, SessionConfig};

/// The member's own sender chain in a group: it encrypts and signs.
pub(crate) struct OwnChain {
    pub(crate) chain_id: u32,
    /// The index of the next message; 2^32 − 1: exhausted.
    pub(crate) iteration: u32,
    pub(crate) chain_key: ChainKey,
    pub(crate) signing: SigningKeyPair,
}

impl OwnChain {
    /// A new chain: draws `CK`, then the `GSK` seed (§10).
    pub(crate) fn generate(chain_id: u32, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let chain_key = ChainKey::from_bytes(draw_secret(rng));
        let signing = SigningKeyPair::from_seed(&draw_secret(rng));
        Self {
            chain_id,
            iteration: 0,
            chain_key,
            signing,
        }
    }

    /// The chain's current state as a distribution.
    pub(crate) fn distribution(&self, group_id: GroupId) -> SenderKeyDistribution {
        SenderKeyDistribution::new(
            group_id,
            self.chain_id,
            self.iteration,
            self.chain_key.duplicate(),
            self.signing.public(),
        )
    }

    /// Encrypts and signs message `iteration`, then steps the chain. An
    /// exhausted chain fails before drawing anything.
    pub(crate) fn encrypt(
        &mut self,
        group_id: GroupId,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<GroupMessage, Error> {
        let iteration = self.iteration;
        if iteration == u32::MAX {
            return Err(Error::ChainExhausted);
        }
        let len = GroupMessage::OVERHEAD
            .checked_add(plaintext.len())
            .ok_or(Error::TooLarge)?;
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let (message_key, next) = self.chain_key.step();
        let (key, nonce) = message_key.key_and_nonce(&salt);
        let mut header = [0u8; GroupMessage::HEADER_LEN];
        let parts: [&[u8]; 4] = [
            &[kind::GROUP_MESSAGE],
            &group_id,
            &self.chain_id.to_be_bytes(),
            &iteration.to_be_bytes(),
        ];
        header
            .iter_mut()
            .zip(parts.into_iter().flatten())
            .for_each(|(d, s)| *d = *s);
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&header);
        out.extend_from_slice(&salt);
        crypto::seal_append(&key, &nonce, &header, plaintext, &mut out)?;
        let signature = self.signing.sign(&out);
        out.extend_from_slice(&signature);
        debug_assert_eq!(out.len(), len);
        self.chain_key = next;
        self.iteration = iteration + 1;
        Ok(GroupMessage::from_parts(
            out,
            group_id,
            self.chain_id,
            iteration,
        ))
    }
}

impl fmt::Debug for OwnChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnChain")
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .field(
                "signing_key",
                &crate::keys::Hex(self.signing.public().as_bytes()),
            )
            .finish_non_exhaustive()
    }
}

/// One skipped message key: its iteration and `MK`.
#[derive(Zeroize)]
pub(crate) struct SkippedKey {
    pub(crate) iteration: u32,
    pub(crate) key: MessageKey,
}

/// A run of skipped keys, ascending, in a vector zeroized with its whole
/// capacity when dropped.
type KeyRun = Zeroizing<Vec<SkippedKey>>;

/// A received chain's skipped keys, by ascending iteration (the order they
/// are inserted in, so the lowest is the oldest-inserted).
#[derive(Default)]
pub(crate) struct SkippedKeys(KeyRun);

impl SkippedKeys {
    /// An empty store with room for `n` keys.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(Zeroizing::new(Vec::with_capacity(n)))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &SkippedKey> {
        self.0.iter()
    }

    fn get(&self, iteration: u32) -> Option<&MessageKey> {
        let at = self
            .0
            .binary_search_by_key(&iteration, |k| k.iteration)
            .ok()?;
        self.0.get(at).map(|k| &k.key)
    }

    /// Appends `run` (ascending, above every stored iteration), growing into
    /// a new allocation only after zeroizing the old one.
    pub(crate) fn append(&mut self, run: &mut KeyRun) {
        debug_assert!(
            self.0
                .last()
                .zip(run.first())
                .is_none_or(|(last, first)| last.iteration < first.iteration)
        );
        let needed = self.0.len() + run.len();
        if needed > self.0.capacity() {
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.0.len())));
            grown.extend(self.0.drain(..));
            // The old buffer still holds the moved keys' bytes.
            self.0.zeroize();
            self.0 = grown;
        }
        self.0.extend(run.drain(..));
    }

    /// Removes the key of `iteration`, wiping the slot it vacates.
    fn remove(&mut self, iteration: u32) {
        if let Ok(at) = self.0.binary_search_by_key(&iteration, |k| k.iteration) {
            drop(self.0.remove(at));
            self.0.spare_capacity_mut().zeroize();
        }
    }

    /// Removes the lowest keys until at most `max` are left, wiping the
    /// slots they vacate.
    fn evict_to(&mut self, max: usize) {
        if let Some(over) = self.0.len().checked_sub(max).filter(|n| *n > 0) {
            drop(self.0.drain(..over));
            self.0.spare_capacity_mut().zeroize();
        }
    }
}

/// A member's copy of another member's sender chain.
pub(crate) struct ReceivedChain {
    pub(crate) chain_id: u32,
    /// The index of the next message whose key `chain_key` derives.
    pub(crate) iteration: u32,
    pub(crate) chain_key: ChainKey,
    pub(crate) signing_key: SigningPublicKey,
    /// Keys of skipped iterations below `iteration`, by iteration. They are
    /// inserted in ascending order, so the lowest is the oldest-inserted.
    pub(crate) skipped: SkippedKeys,
}

/// A decrypt's outcome before it is committed: the chain's new state.
pub(crate) struct Staged {
    pub(crate) plaintext: Vec<u8>,
    change: Change,
}

enum Change {
    /// A stored skipped key was used: remove it.
    UsedSkipped(u32),
    /// The chain moved forward: store these skipped keys, then this state.
    Advanced {
        skipped: KeyRun,
        chain_key: ChainKey,
        iteration: u32,
    },
}

impl ReceivedChain {
    pub(crate) fn from_distribution(d: &SenderKeyDistribution) -> Self {
        Self {
            chain_id: d.chain_id(),
            iteration: d.iteration(),
            chain_key: d.chain_key().duplicate(),
            signing_key: *d.signing_key(),
            skipped: SkippedKeys::default(),
        }
    }

    /// Everything a decrypt does except writing `self` ([SPEC §10](crate::spec)
    /// "Receiving", after the chain lookup): the strict signature, the
    /// iteration, the key (stored, or derived after the limit check), AEAD.
    pub(crate) fn stage(
        &self,
        message: &GroupMessage,
        config: &SessionConfig,
    ) -> Result<Staged, Error> {
        self.signing_key
            .verify(message.signed(), &message.signature())?;
        let n = message.iteration();
        if n == u32::MAX {
            return Err(Error::InvalidKey);
        }
        if n < self.iteration {
            let key = self.skipped.get(n).ok_or(Error::Duplicate)?;
            let plaintext = key.open(message.header(), message.ciphertext())?;
            return Ok(Staged {
                plaintext,
                change: Change::UsedSkipped(n),
            });
        }
        let gap = n - self.iteration;
        if gap > config.max_skip() {
            return Err(Error::TooManySkipped);
        }
        let mut skipped = Zeroizing::new(Vec::with_capacity(usize::try_from(gap).unwrap_or(0)));
        let mut chain_key = self.chain_key.step();
        for i in self.iteration..n {
            skipped.push(SkippedKey {
                iteration: i,
                key: chain_key.0,
            });
            chain_key = chain_key.1.step();
        }
        let (message_key, next) = chain_key;
        let plaintext = message_key.open(message.header(), message.ciphertext())?;
        Ok(Staged {
            plaintext,
            change: Change::Advanced {
                skipped,
                chain_key: next,
                iteration: n + 1,
            },
        })
    }

    /// Writes a staged decrypt, then evicts skipped keys over the limit,
    /// lowest iteration (oldest-inserted) first.
    pub(crate) fn commit(&mut self, change: Staged, config: &SessionConfig) -> Vec<u8> {
        match change.change {
            Change::UsedSkipped(n) => self.skipped.remove(n),
            Change::Advanced {
                mut skipped,
                chain_key,
                iteration,
            } => {
                self.skipped.append(&mut skipped);
                self.chain_key = chain_key;
                self.iteration = iteration;
                let max = usize::try_from(config.max_skipped_keys()).unwrap_or(usize::MAX);
                self.skipped.evict_to(max);
            }
        }
        change.plaintext
    }
}

impl fmt::Debug for ReceivedChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedChain")
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .field(
                "signing_key",
                &crate::keys::Hex(self.signing_key.as_bytes()),
            )
            .field("skipped_keys", &self.skipped.len())
            .finish_non_exhaustive()
    }
}
