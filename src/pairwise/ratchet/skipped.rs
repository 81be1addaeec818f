//! The skipped-message-key store ([SPEC §4](crate::spec) limits, §6 header keys).
//!
//! Keys are grouped by chain. A chain is found in O(1) by its ratchet
//! public key; its keys sit in one vector sorted by `N` (36 bytes a key, a
//! binary search to find one). Chains are kept in the order of their first
//! insertion (a chain's keys are always inserted in ascending `N`), which
//! makes "evict the oldest-inserted key" a look at the oldest chain. With
//! header encryption each chain also keeps its header key, so a header
//! costs at most one trial decryption per chain that still has keys.
//!
//! Secret vectors never leave a copy behind: a vector of keys grows into a
//! new allocation only after the old one is zeroized, and the slot a removed
//! key vacates is zeroized at once.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use hashbrown::HashMap;
use zeroize::{Zeroize, Zeroizing};

use crate::codec::{Reader, Writer};
use crate::crypto::kdf::{HeaderKey, MessageKey};
use crate::error::StateError;
use crate::keys::PublicKey;
use crate::storage;

/// Stored length of one key: `u32be(N) || MK`.
const KEY_LEN: usize = 4 + 32;

/// One skipped message key: `N` and `MK`.
#[derive(Zeroize)]
pub(crate) struct SkippedKey {
    pub(crate) index: u32,
    pub(crate) key: MessageKey,
}

/// Keys of one chain, ascending, in a vector zeroized with its whole
/// capacity when dropped.
pub(crate) type KeyRun = Zeroizing<Vec<SkippedKey>>;

/// One chain's stored keys.
pub(crate) struct SkippedChain {
    pub(crate) ratchet_key: PublicKey,
    /// Boxed: the chains sit in a map whose nodes move their entries
    /// around and are freed without being wiped, so they hold only a
    /// pointer to the key, which is zeroized when dropped.
    pub(crate) header_key: Option<Box<HeaderKey>>,
    keys: KeyRun,
}

impl core::fmt::Debug for SkippedChain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SkippedChain")
            .field("ratchet_key", &self.ratchet_key)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl SkippedChain {
    fn position(&self, index: u32) -> Result<usize, usize> {
        self.keys.binary_search_by_key(&index, |k| k.index)
    }

    /// Appends `run` (ascending, above every stored index), growing into a
    /// new allocation only after zeroizing the old one.
    fn append(&mut self, run: &mut KeyRun) {
        let needed = self.keys.len() + run.len();
        if needed > self.keys.capacity() {
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.keys.len())));
            grown.extend(self.keys.drain(..));
            // The old buffer still holds the moved keys' bytes.
            self.keys.zeroize();
            self.keys = grown;
        }
        let sorted = self
            .keys
            .last()
            .zip(run.first())
            .is_none_or(|(last, first)| last.index < first.index);
        self.keys.extend(run.drain(..));
        if !sorted {
            // Not reached by the ratchet (it inserts a chain's keys in
            // ascending order); kept so the store's invariant cannot break.
            self.keys.sort_unstable_by_key(|k| k.index);
            self.keys.dedup_by_key(|k| k.index);
        }
    }

    /// Removes the keys at `range` and zeroizes the slots they vacate.
    fn remove(&mut self, range: core::ops::Range<usize>) {
        drop(self.keys.drain(range));
        self.keys.spare_capacity_mut().zeroize();
    }
}

/// All skipped keys of a session.
#[derive(Debug, Default)]
pub(crate) struct SkippedKeys {
    /// Chains by insertion order (the sequence number of their first key).
    chains: BTreeMap<u64, SkippedChain>,
    /// The sequence number of each chain, by ratchet key.
    by_key: HashMap<[u8; 32], u64>,
    next_sequence: u64,
    len: usize,
}

impl SkippedKeys {
    /// How many keys are stored.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    fn chain(&self, ratchet_key: &PublicKey) -> Option<&SkippedChain> {
        let sequence = self.by_key.get(ratchet_key.as_bytes())?;
        self.chains.get(sequence)
    }

    /// The key of message `index` of the chain of `ratchet_key`.
    pub(crate) fn get(&self, ratchet_key: &PublicKey, index: u32) -> Option<&MessageKey> {
        let chain = self.chain(ratchet_key)?;
        let at = chain.position(index).ok()?;
        chain.keys.get(at).map(|k| &k.key)
    }

    /// Whether any key of this chain is stored.
    pub(crate) fn has_chain(&self, ratchet_key: &PublicKey) -> bool {
        self.by_key.contains_key(ratchet_key.as_bytes())
    }

    /// The chains that have keys, oldest first.
    pub(crate) fn chains(&self) -> impl Iterator<Item = &SkippedChain> {
        self.chains.values()
    }

    /// Stores `run` (ascending indexes) of the chain of `ratchet_key`.
    pub(crate) fn insert(
        &mut self,
        ratchet_key: PublicKey,
        header_key: Option<&HeaderKey>,
        mut run: KeyRun,
    ) {
        if run.is_empty() {
            return;
        }
        self.len += run.len();
        if let Some(chain) = self
            .by_key
            .get(ratchet_key.as_bytes())
            .and_then(|sequence| self.chains.get_mut(sequence))
        {
            chain.append(&mut run);
            return;
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.by_key.insert(ratchet_key.to_bytes(), sequence);
        let mut chain = SkippedChain {
            ratchet_key,
            header_key: header_key.map(|key| Box::new(key.clone())),
            keys: Zeroizing::new(Vec::new()),
        };
        if run.len() == run.capacity() {
            // Take the staged vector as it is: no copy, nothing left behind.
            chain.keys = run;
        } else {
            chain.append(&mut run);
        }
        self.chains.insert(sequence, chain);
    }

    /// Forgets one key, zeroizing it where it was stored.
    pub(crate) fn remove(&mut self, ratchet_key: &PublicKey, index: u32) {
        let Some(&sequence) = self.by_key.get(ratchet_key.as_bytes()) else {
            return;
        };
        let Some(chain) = self.chains.get_mut(&sequence) else {
            return;
        };
        if let Ok(at) = chain.position(index) {
            chain.remove(at..at + 1);
            self.len -= 1;
        }
        if chain.keys.is_empty() {
            self.drop_chain(sequence);
        }
    }

    fn drop_chain(&mut self, sequence: u64) {
        if let Some(chain) = self.chains.remove(&sequence) {
            self.by_key.remove(chain.ratchet_key.as_bytes());
        }
    }

    /// Evicts oldest-inserted keys until at most `max` remain.
    pub(crate) fn evict_to(&mut self, max: usize) {
        while self.len > max {
            let Some(mut entry) = self.chains.first_entry() else {
                return;
            };
            let chain = entry.get_mut();
            let n = (self.len - max).min(chain.keys.len());
            chain.remove(0..n);
            self.len -= n;
            if chain.keys.is_empty() {
                let sequence = *entry.key();
                self.drop_chain(sequence);
            }
        }
    }

    /// Stored length: see [`write`](Self::write).
    pub(crate) fn encoded_len(&self, header_encryption: bool) -> usize {
        let chain_len = 32 + if header_encryption { 32 } else { 0 } + 4;
        4 + self.chains.len() * chain_len + self.len * KEY_LEN
    }

    /// `u32be(chains) || chains × (ratchet_pub || [HK] || u32be(n) || n × (u32be(N) || MK))`,
    /// chains oldest first, keys ascending.
    pub(crate) fn write(&self, w: &mut impl Writer) {
        w.put_len(self.chains.len());
        for chain in self.chains.values() {
            w.put(chain.ratchet_key.as_bytes());
            if let Some(key) = &chain.header_key {
                w.put(key.as_bytes());
            }
            w.put_len(chain.keys.len());
            for key in chain.keys.iter() {
                w.put_u32_be(key.index);
                w.put(key.key.as_bytes());
            }
        }
    }

    /// Loads what [`write`](Self::write) wrote, checking the store's own
    /// invariants: every chain has keys, no chain twice, keys ascending, at
    /// most `max` keys, and the keys of the current receiving chain
    /// (`receiving`: its ratchet key and next index) below that index.
    /// Linear in the input.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        header_encryption: bool,
        max: usize,
        receiving: Option<(&PublicKey, u32)>,
    ) -> Result<Self, StateError> {
        let header_key_len = if header_encryption { 32 } else { 0 };
        let mut store = Self::default();
        for _ in 0..storage::count(r, 32 + header_key_len + 4 + KEY_LEN)? {
            let ratchet_key = PublicKey::from_bytes(r.array()?);
            let header_key = if header_encryption {
                Some(HeaderKey::from_bytes(storage::secret(r)?))
            } else {
                None
            };
            let n = storage::count(r, KEY_LEN)?;
            if n == 0 || store.len.saturating_add(n) > max || store.has_chain(&ratchet_key) {
                return Err(StateError::Inconsistent);
            }
            let limit = receiving
                .filter(|(key, _)| **key == ratchet_key)
                .map_or(u32::MAX, |(_, next)| next);
            let mut run: KeyRun = Zeroizing::new(Vec::with_capacity(n));
            let mut last = None;
            for _ in 0..n {
                let index = r.u32_be()?;
                if last.is_some_and(|l| l >= index) || index >= limit {
                    return Err(StateError::Inconsistent);
                }
                last = Some(index);
                run.push(SkippedKey {
                    index,
                    key: MessageKey::from_bytes(storage::secret(r)?),
                });
            }
            store.insert(ratchet_key, header_key.as_ref(), run);
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(indexes: core::ops::Range<u32>) -> KeyRun {
        Zeroizing::new(
            indexes
                .map(|index| SkippedKey {
                    index,
                    key: MessageKey::from_bytes(Zeroizing::new([index.to_le_bytes()[0]; 32])),
                })
                .collect(),
        )
    }

    fn key(b: u8) -> PublicKey {
        PublicKey::from_bytes([b; 32])
    }

    #[test]
    fn s4_evicts_oldest_inserted_first_and_finds_every_key() {
        let mut store = SkippedKeys::default();
        store.insert(key(1), None, run(0..3));
        store.insert(key(2), None, run(5..7));
        store.insert(key(1), None, run(4..6));
        assert_eq!(store.len(), 7);
        assert_eq!(store.get(&key(1), 4).map(|k| k.as_bytes()[0]), Some(4));
        assert!(store.get(&key(1), 3).is_none());
        store.remove(&key(2), 5);
        assert_eq!((store.len(), store.has_chain(&key(2))), (6, true));
        // Chain 1 was inserted first: its keys go first, lowest first.
        store.evict_to(2);
        assert_eq!(store.len(), 2);
        assert!(store.get(&key(1), 4).is_none());
        assert!(store.get(&key(1), 5).is_some());
        store.evict_to(1);
        assert!(!store.has_chain(&key(1)));
        assert!(store.get(&key(2), 6).is_some());
        store.evict_to(0);
        assert_eq!((store.len(), store.chains().count()), (0, 0));
    }

    #[test]
    fn s7_loading_many_chains_is_linear() {
        // 32,768 chains of one key each: with a linear scan per chain this
        // would be a billion comparisons.
        let mut store = SkippedKeys::default();
        for i in 0..32_768u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            store.insert(PublicKey::from_bytes(k), None, run(0..1));
        }
        let mut bytes = Vec::new();
        store.write(&mut bytes);
        let loaded = SkippedKeys::read(&mut Reader::new(&bytes), false, 65_536, None).unwrap();
        assert_eq!(loaded.len(), 32_768);
        let mut again = Vec::new();
        loaded.write(&mut again);
        assert_eq!(again, bytes);
    }
}
