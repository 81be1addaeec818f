//! The replay memory of a signed prekey ([SPEC §3](crate::spec), §11): which sessions it
//! accepted without consuming a one-time key, so that their first message
//! is refused if it comes again.
//!
//! A session that consumed a one-time prekey or a one-time KEM prekey needs
//! no memory: the key is gone, and a replay names an unknown one. Any other
//! first message can be replayed for as long as its signed prekey is held,
//! so the memory must last as long: it never forgets. It keeps an 8-byte
//! tag per session, sorted, and is bounded; once full, new sessions without
//! a one-time key are refused (`replay_memory_full`) until the signed
//! prekey rotates, since forgetting one would let an attacker flush the
//! memory with sessions of its own and replay a victim's first message.

use alloc::vec::Vec;

use crate::crypto;
use crate::keys::PublicKey;

/// Label of the replay tag ([SPEC §11](crate::spec)).
const LABEL_REPLAY: &[u8] = b"cliquet/v1/replay";

/// A session's tag: the first 8 bytes of
/// `SHA-256("cliquet/v1/replay" || EK_A)`. A collision between two honest
/// sessions (chance about `n / 2^64` for `n` remembered ones) refuses the
/// second as a replay; an attacker cannot aim one at a victim's base key
/// without about 2^64 key generations.
pub(super) type Tag = [u8; 8];

/// The tag of the session with base key `EK_A`.
pub(super) fn tag(base_key: &PublicKey) -> Tag {
    let digest = crypto::sha256(&[LABEL_REPLAY, base_key.as_bytes()]);
    let mut tag = [0u8; 8];
    if let Some(head) = digest.first_chunk::<8>() {
        tag = *head;
    }
    tag
}

/// The tags of the sessions one signed prekey accepted without a one-time
/// key, ascending and distinct: 8 bytes each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ReplayMemory {
    tags: Vec<Tag>,
}

impl ReplayMemory {
    /// How many sessions it remembers.
    pub(super) fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether it remembers the session with this tag.
    pub(super) fn contains(&self, tag: &Tag) -> bool {
        self.tags.binary_search(tag).is_ok()
    }

    /// Remembers a tag (once).
    pub(super) fn insert(&mut self, tag: Tag) {
        if let Err(at) = self.tags.binary_search(&tag) {
            self.tags.insert(at, tag);
        }
    }

    /// The tags, ascending.
    pub(super) fn tags(&self) -> &[Tag] {
        &self.tags
    }

    /// Room for `n` more tags, allocated exactly (a stored memory's size
    /// is known when it loads).
    pub(super) fn reserve_exact(&mut self, n: usize) {
        self.tags.reserve_exact(n);
    }

    /// Appends a stored tag; `false` (and nothing appended) unless it is
    /// above every tag held, as a writer stores them.
    pub(super) fn push_ascending(&mut self, tag: Tag) -> bool {
        if self.tags.last().is_some_and(|last| *last >= tag) {
            return false;
        }
        self.tags.push(tag);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s11_tags_stay_sorted_and_distinct() {
        let mut memory = ReplayMemory::default();
        let keys: Vec<PublicKey> = (0u8..20).map(|i| PublicKey::from_bytes([i; 32])).collect();
        for key in keys.iter().rev().chain(&keys) {
            memory.insert(tag(key));
        }
        assert_eq!(memory.len(), 20);
        assert!(memory.tags().windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| memory.contains(&tag(k))));
        assert!(!memory.contains(&tag(&PublicKey::from_bytes([99; 32]))));
        let mut loaded = ReplayMemory::default();
        assert!(memory.tags().iter().all(|t| loaded.push_ascending(*t)));
        assert!(!loaded.push_ascending(memory.tags()[0]));
        assert_eq!(loaded, memory);
    }
}
