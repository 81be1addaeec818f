//! What is stored of a [`GroupSession`] ([SPEC §7](crate::spec) applied to §10): a
//! versioned binary format in the crate's storage framing (kinds `0x23`
//! plain and `0x33` sealed, [SPEC §11](crate::spec)), sealed like every stored state.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::chain::{OwnChain, ReceivedChain, SkippedKey, SkippedKeys};
use super::keys::{ChainKey, MessageKey, SigningKeyPair, SigningPublicKey};
use super::{GroupSession, Sender};
use crate::codec::{Reader, Writer};
use crate::config::SessionConfig;
use crate::error::{Error, StateError};
use crate::keys::IdentityKey;
use crate::storage::{self, Format, Secret};

/// Stored bytes before the own chain and the senders: kind, version, group
/// id, the two limits, the own-chain flag, the sender count.
const FIXED_LEN: usize = 2 + 16 + 4 + 4 + 1 + 4;
/// The own chain: id, iteration, `CK`, `GSK` seed.
const OWN_CHAIN_LEN: usize = 4 + 4 + 32 + 32;
/// A sender without its chains: identity key, the dropped-id flag and the
/// chain count.
const SENDER_LEN: usize = 32 + 1 + 4;
/// A received chain without its skipped keys: id, iteration, `CK`,
/// `GSK_pub`, the key count.
const CHAIN_LEN: usize = 4 + 4 + 32 + 32 + 4;
/// A skipped key: iteration and `MK`.
const SKIPPED_KEY_LEN: usize = 4 + 32;
/// The highest dropped chain id (version 4), or one of the dropped chain
/// ids that versions 1 to 3 listed.
const DROPPED_LEN: usize = 4;

impl GroupSession {
    /// The whole state (every secret) in the storage format. Keep it secret;
    /// prefer [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x23 || 0x04 || group_id (16) || u32be(max_skip) || u32be(max_skipped_keys)
    ///      || flag (own chain) [|| u32be(chain_id) || u32be(iteration) || CK (32) || GSK seed (32)]
    ///      || u32be(senders) || senders × (
    ///           IK_pub (32) || flag (dropped) [|| u32be(highest dropped chain_id)]
    ///           || u32be(chains) || chains × (
    ///                u32be(chain_id) || u32be(iteration) || CK (32) || GSK_pub (32)
    ///                || u32be(keys) || keys × (u32be(iteration) || MK (32))))
    /// ```
    ///
    /// Senders by ascending identity key, chains oldest-inserted first,
    /// skipped keys by ascending iteration. Sizes: 31 bytes, 72 more with an
    /// own chain, then 37 bytes a sender (41 once one of its chains was
    /// dropped, however many), 76 a received chain and 36 a skipped key.
    /// (Format versions 1 to 3 listed every dropped chain id, 4 bytes each,
    /// after a 4-byte count.)
    ///
    /// ```
    /// use cliquet::{GroupSession, SessionConfig};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([2; 32]);
    /// let mut group = GroupSession::new([1; 16], SessionConfig::default());
    /// group.rotate(&mut rng)?;
    /// let stored = group.to_stored();
    /// assert_eq!(stored.len(), 31 + 72);
    /// assert_eq!(GroupSession::from_stored(&stored)?.to_stored(), stored);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_stored(&self) -> Secret {
        let mut out = storage::start(storage::GROUP, self.stored_len());
        out.put(&self.group_id);
        out.put_u32_be(self.config.max_skip());
        out.put_u32_be(self.config.max_skipped_keys());
        out.put_flag(self.own.is_some());
        if let Some(own) = &self.own {
            out.put_u32_be(own.chain_id);
            out.put_u32_be(own.iteration);
            out.put(own.chain_key.as_bytes());
            out.put(own.signing.seed());
        }
        out.put_len(self.senders.len());
        for (identity, sender) in &self.senders {
            out.put(identity);
            out.put_flag(sender.dropped.is_some());
            if let Some(id) = sender.dropped {
                out.put_u32_be(id);
            }
            out.put_len(sender.chains.len());
            for chain in &sender.chains {
                out.put_u32_be(chain.chain_id);
                out.put_u32_be(chain.iteration);
                out.put(chain.chain_key.as_bytes());
                out.put(chain.signing_key.as_bytes());
                out.put_len(chain.skipped.len());
                for skipped in chain.skipped.iter() {
                    out.put_u32_be(skipped.iteration);
                    out.put(skipped.key.as_bytes());
                }
            }
        }
        out
    }

    /// Loads a state stored by [`to_stored`](Self::to_stored) (any format
    /// version up to this library's). Nothing is allocated beyond what the
    /// input's length can hold.
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input (an invalid configuration or key, more than five
    /// chains for a sender, a chain id held twice or both held and dropped,
    /// more skipped keys than
    /// `max_skipped_keys` in a chain or one at or past its chain's
    /// iteration, unsorted entries).
    pub fn from_stored(bytes: &[u8]) -> Result<Self, Error> {
        load(bytes).map_err(Error::State)
    }

    /// The length of [`to_stored`](Self::to_stored)'s output.
    fn stored_len(&self) -> usize {
        let own = if self.own.is_some() { OWN_CHAIN_LEN } else { 0 };
        let senders: usize = self
            .senders
            .values()
            .map(|s| {
                SENDER_LEN
                    + s.dropped.map_or(0, |_| DROPPED_LEN)
                    + s.chains
                        .iter()
                        .map(|c| CHAIN_LEN + SKIPPED_KEY_LEN * c.skipped.len())
                        .sum::<usize>()
            })
            .sum();
        FIXED_LEN + own + senders
    }
}

storage::sealed_storage!(GroupSession, storage::GROUP, "group state");

/// Whether `items` is strictly ascending.
fn ascending<T: Ord>(mut items: impl Iterator<Item = T>) -> bool {
    let Some(mut last) = items.next() else {
        return true;
    };
    items.all(|item| {
        let up = item > last;
        last = item;
        up
    })
}

fn load(bytes: &[u8]) -> Result<GroupSession, StateError> {
    let mut r = Reader::new(bytes);
    let format = storage::header(&mut r, storage::GROUP)?;
    let group_id = r.array()?;
    let config =
        SessionConfig::new(r.u32_be()?, r.u32_be()?).map_err(|_| StateError::Inconsistent)?;
    let own = if r.flag()? {
        let chain_id = r.u32_be()?;
        let iteration = r.u32_be()?;
        let chain_key = ChainKey::from_bytes(storage::secret(&mut r)?);
        let signing = SigningKeyPair::from_seed(&*storage::secret(&mut r)?);
        if chain_id == 0 {
            return Err(StateError::Inconsistent);
        }
        Some(OwnChain {
            chain_id,
            iteration,
            chain_key,
            signing,
        })
    } else {
        None
    };
    let max_skipped = usize::try_from(config.max_skipped_keys()).unwrap_or(usize::MAX);
    let mut senders = BTreeMap::new();
    for _ in 0..storage::count(&mut r, SENDER_LEN + CHAIN_LEN)? {
        let identity_bytes: [u8; 32] = r.array()?;
        let identity =
            IdentityKey::from_bytes(&identity_bytes).map_err(|_| StateError::Inconsistent)?;
        if senders
            .last_key_value()
            .is_some_and(|(last, _)| *last >= identity_bytes)
        {
            return Err(StateError::Inconsistent);
        }
        let dropped = dropped_ids(&mut r, format)?;
        let n = storage::count(&mut r, CHAIN_LEN)?;
        // A chain is dropped only when a sixth arrives: then five are held.
        if n == 0
            || n > GroupSession::MAX_CHAINS_PER_SENDER
            || (!dropped.is_empty() && n != GroupSession::MAX_CHAINS_PER_SENDER)
        {
            return Err(StateError::Inconsistent);
        }
        let mut chains = VecDeque::with_capacity(n);
        for _ in 0..n {
            chains.push_back(Box::new(received_chain(&mut r, max_skipped)?));
        }
        let mut ids: Vec<u32> = chains.iter().map(|c| c.chain_id).collect();
        ids.sort_unstable();
        if !ascending(ids.iter()) || ids.iter().any(|id| dropped.contains(id)) {
            return Err(StateError::Inconsistent);
        }
        senders.insert(
            identity_bytes,
            Sender {
                identity,
                chains,
                // Ids only increase: the highest stands for them all.
                dropped: dropped.last().copied(),
            },
        );
    }
    r.finish()?;
    Ok(GroupSession {
        group_id,
        config,
        own,
        senders,
    })
}

/// A sender's dropped chain ids, ascending: version 4 stores the highest
/// one (a flag, then the id), versions 1 to 3 a count and every id.
fn dropped_ids(r: &mut Reader<'_>, format: Format) -> Result<Vec<u32>, StateError> {
    if format.keeps_highest_dropped_id() {
        return Ok(if r.flag()? {
            alloc::vec![r.u32_be()?]
        } else {
            Vec::new()
        });
    }
    let n = storage::count(r, DROPPED_LEN)?;
    let mut dropped = Vec::with_capacity(n);
    for _ in 0..n {
        dropped.push(r.u32_be()?);
    }
    if !ascending(dropped.iter()) {
        return Err(StateError::Inconsistent);
    }
    Ok(dropped)
}

fn received_chain(r: &mut Reader<'_>, max_skipped: usize) -> Result<ReceivedChain, StateError> {
    let chain_id = r.u32_be()?;
    let iteration = r.u32_be()?;
    let chain_key = ChainKey::from_bytes(storage::secret(r)?);
    let signing_key =
        SigningPublicKey::from_bytes(&r.array()?).map_err(|_| StateError::Inconsistent)?;
    let n = storage::count(r, SKIPPED_KEY_LEN)?;
    if n > max_skipped {
        return Err(StateError::Inconsistent);
    }
    let mut skipped = Zeroizing::new(Vec::with_capacity(n));
    for _ in 0..n {
        let at = r.u32_be()?;
        let last = skipped.last().map(|k: &SkippedKey| k.iteration);
        if last.is_some_and(|l| l >= at) || at >= iteration {
            return Err(StateError::Inconsistent);
        }
        skipped.push(SkippedKey {
            iteration: at,
            key: MessageKey::from_bytes(storage::secret(r)?),
        });
    }
    let mut keys = SkippedKeys::with_capacity(n);
    keys.append(&mut skipped);
    Ok(ReceivedChain {
        chain_id,
        iteration,
        chain_key,
        signing_key,
        skipped: keys,
    })
}
