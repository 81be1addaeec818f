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

use crate::codec::{Reader, Writer};
use crate::error::StateError;
use crate::kdf::{HeaderKey, MessageKey};
use crate::keys::PublicKey;
use crate::storage;

/// Stored length of one key: `u32be(N) || MK`.
const KEY_LEN: usize = 4 + 32;

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

    /// Stored length: see [`write`](Self::write).
    pub(crate) fn encoded_len(&self, header_encryption: bool) -> usize {
        let chain_len = 32 + if header_encryption { 32 } else { 0 } + 4;
        4 + self.chains.len() * chain_len + self.keys.len() * KEY_LEN
    }

    /// `u32be(chains) || chains × (ratchet_pub || [HK] || u32be(n) || n × (u32be(N) || MK))`,
    /// chains oldest first, keys ascending.
    pub(crate) fn write(&self, w: &mut impl Writer) {
        w.put_len(self.chains.len());
        for chain in &self.chains {
            w.put(chain.ratchet_key.as_bytes());
            if let Some(key) = &chain.header_key {
                w.put(key.as_bytes());
            }
            w.put_len(chain.indexes.len());
            for index in chain.indexes() {
                w.put_u32_be(index);
                if let Some(key) = self.get(&chain.ratchet_key, index) {
                    w.put(key.as_bytes());
                }
            }
        }
    }

    /// Loads what [`write`](Self::write) wrote, checking the store's own
    /// invariants: every chain has keys, no chain twice, keys ascending, at
    /// most `max` keys, and the keys of the current receiving chain
    /// (`receiving`: its ratchet key and next index) below that index.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        header_encryption: bool,
        max: usize,
        receiving: Option<(&PublicKey, u32)>,
    ) -> Result<Self, StateError> {
        let header_key_len = if header_encryption { 32 } else { 0 };
        let mut store = Self::default();
        let mut total: usize = 0;
        for _ in 0..storage::count(r, 32 + header_key_len + 4 + KEY_LEN)? {
            let ratchet_key = PublicKey::from_bytes(r.array()?);
            let header_key = if header_encryption {
                Some(HeaderKey::from_bytes(storage::secret(r)?))
            } else {
                None
            };
            let n = storage::count(r, KEY_LEN)?;
            total = total.saturating_add(n);
            if n == 0 || total > max || store.has_chain(&ratchet_key) {
                return Err(StateError::Inconsistent);
            }
            let limit = receiving
                .filter(|(key, _)| **key == ratchet_key)
                .map_or(u32::MAX, |(_, next)| next);
            let mut keys = Vec::with_capacity(n);
            let mut last = None;
            for _ in 0..n {
                let index = r.u32_be()?;
                if last.is_some_and(|l| l >= index) || index >= limit {
                    return Err(StateError::Inconsistent);
                }
                last = Some(index);
                keys.push((index, MessageKey::from_bytes(storage::secret(r)?)));
            }
            store.insert(ratchet_key, header_key.as_ref(), keys);
        }
        Ok(store)
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
