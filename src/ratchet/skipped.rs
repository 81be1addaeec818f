//! The skipped-message-key store (SPEC §4 limits, §6 header keys).
//!
//! Keys are found in O(1) by `(ratchet public key, N)`. They are grouped by
//! chain in insertion order (a chain's keys are always inserted together and
//! in ascending `N`, and chains one after another), which makes "evict the
//! oldest-inserted key" a look at the front chain. With header encryption
//! each chain also keeps its header key, so a header costs at most one trial
//! decryption per chain that still has keys.

use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;

use hashbrown::HashMap;
use zeroize::Zeroize;

use super::kdf::{HeaderKey, MessageKey};
use crate::keys::PublicKey;

/// One chain's stored keys.
#[derive(Debug)]
pub(crate) struct SkippedChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) header_key: Option<HeaderKey>,
    indexes: BTreeSet<u32>,
}

impl SkippedChain {
    /// The message numbers stored for this chain, ascending.
    pub(crate) fn indexes(&self) -> impl Iterator<Item = u32> + '_ {
        self.indexes.iter().copied()
    }
}

/// All skipped keys of a session.
#[derive(Debug, Default)]
pub(crate) struct SkippedKeys {
    keys: HashMap<([u8; 32], u32), MessageKey>,
    chains: VecDeque<SkippedChain>,
}

impl SkippedKeys {
    /// How many keys are stored.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key of message `index` of the chain of `ratchet_key`.
    pub(crate) fn get(&self, ratchet_key: &PublicKey, index: u32) -> Option<&MessageKey> {
        self.keys.get(&(ratchet_key.to_bytes(), index))
    }

    /// Whether any key of this chain is stored.
    pub(crate) fn has_chain(&self, ratchet_key: &PublicKey) -> bool {
        self.chains.iter().any(|c| c.ratchet_key == *ratchet_key)
    }

    /// The chains that have keys, oldest first.
    pub(crate) fn chains(&self) -> impl Iterator<Item = &SkippedChain> {
        self.chains.iter()
    }

    /// Stores `keys` (ascending indexes) of the chain of `ratchet_key`.
    pub(crate) fn insert(
        &mut self,
        ratchet_key: PublicKey,
        header_key: Option<&HeaderKey>,
        keys: Vec<(u32, MessageKey)>,
    ) {
        if keys.is_empty() {
            return;
        }
        let chain = match self
            .chains
            .iter()
            .rposition(|c| c.ratchet_key == ratchet_key)
        {
            Some(at) => self.chains.get_mut(at),
            None => {
                self.chains.push_back(SkippedChain {
                    ratchet_key,
                    header_key: header_key.cloned(),
                    indexes: BTreeSet::new(),
                });
                self.chains.back_mut()
            }
        };
        let Some(chain) = chain else { return };
        // One growth of the table for the whole chain, not one per doubling.
        self.keys.reserve(keys.len());
        for (index, key) in keys {
            chain.indexes.insert(index);
            if let Some(mut old) = self.keys.insert((ratchet_key.to_bytes(), index), key) {
                old.zeroize();
            }
        }
    }

    /// Forgets one key, zeroizing it where it is stored.
    pub(crate) fn remove(&mut self, ratchet_key: &PublicKey, index: u32) {
        let slot = (ratchet_key.to_bytes(), index);
        if let Some(key) = self.keys.get_mut(&slot) {
            key.zeroize();
        }
        self.keys.remove(&slot);
        if let Some(at) = self
            .chains
            .iter()
            .position(|c| c.ratchet_key == *ratchet_key)
        {
            let empty = self.chains.get_mut(at).is_some_and(|c| {
                c.indexes.remove(&index);
                c.indexes.is_empty()
            });
            if empty {
                self.chains.remove(at);
            }
        }
    }

    /// Evicts oldest-inserted keys until at most `max` remain.
    pub(crate) fn evict_to(&mut self, max: usize) {
        while self.keys.len() > max {
            let Some(front) = self.chains.front() else {
                return;
            };
            let ratchet_key = front.ratchet_key;
            match front.indexes.first() {
                Some(&index) => self.remove(&ratchet_key, index),
                None => {
                    self.chains.pop_front();
                }
            }
        }
    }
}
