//! What is stored of a [`GroupSession`] (SPEC §7 applied to §10): a
//! versioned binary format and its sealed form.
//!
//! The framing is that of sessions and accounts (`kind || version || body`;
//! sealed: `kind || version || nonce || AES-256-GCM(storage key, stored
//! bytes) || tag` with associated data `"cliquet/v1/state" || kind ||
//! version`), with kinds of its own: `0x23` plain, `0x33` sealed. The seal
//! and open below are a few lines over `crypto`, written here rather than
//! shared with `state.rs` because this module may not use the pairwise
//! layers that `state.rs` belongs to.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::chain::{
    ChainKey, MessageKey, OwnChain, ReceivedChain, SigningKeyPair, SigningPublicKey,
};
use super::{GroupSession, Sender};
use crate::codec::Reader;
use crate::crypto::{self, LABEL_STATE, NONCE_LEN, TAG_LEN};
use crate::keys::IdentityKey;
use crate::{DecodeError, Error, SessionConfig, StateError};

const KIND_GROUP: u8 = 0x23;
const KIND_SEALED_GROUP: u8 = 0x33;
/// The format version written today; every earlier one keeps loading.
const VERSION: u8 = 1;

/// Stored bytes before the own chain and the senders: kind, version, group
/// id, the two limits, the own-chain flag, the sender count.
const FIXED_LEN: usize = 2 + 16 + 4 + 4 + 1 + 4;
/// The own chain: id, iteration, `CK`, `GSK` seed.
const OWN_CHAIN_LEN: usize = 4 + 4 + 32 + 32;
/// A sender without its chains: identity key and the two counts.
const SENDER_LEN: usize = 32 + 4 + 4;
/// A received chain without its skipped keys: id, iteration, `CK`,
/// `GSK_pub`, the key count.
const CHAIN_LEN: usize = 4 + 4 + 32 + 32 + 4;
/// A skipped key: iteration and `MK`.
const SKIPPED_KEY_LEN: usize = 4 + 32;
/// A dropped chain id.
const DROPPED_LEN: usize = 4;

impl GroupSession {
    /// The whole state (every secret) in the storage format. Keep it secret;
    /// prefer [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x23 || version (1) || group_id (16) || u32be(max_skip) || u32be(max_skipped_keys)
    ///      || flag (own chain) [|| u32be(chain_id) || u32be(iteration) || CK (32) || GSK seed (32)]
    ///      || u32be(senders) || senders × (
    ///           IK_pub (32) || u32be(dropped) || dropped × u32be(chain_id)
    ///           || u32be(chains) || chains × (
    ///                u32be(chain_id) || u32be(iteration) || CK (32) || GSK_pub (32)
    ///                || u32be(keys) || keys × (u32be(iteration) || MK (32))))
    /// ```
    ///
    /// Senders by ascending identity key, dropped ids ascending, chains
    /// oldest-inserted first, skipped keys by ascending iteration. Sizes:
    /// 31 bytes, 72 more with an own chain, then 40 bytes a sender, 76 a
    /// received chain, 36 a skipped key and 4 a dropped chain id.
    ///
    /// ```
    /// use cliquet::{GroupSession, SessionConfig};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([2; 32]);
    /// let mut group = GroupSession::new([1; 16], SessionConfig::default());
    /// group.rotate(&mut rng)?;
    /// let stored = group.to_bytes();
    /// assert_eq!(stored.len(), 31 + 72);
    /// assert_eq!(GroupSession::from_bytes(&stored)?.to_bytes(), stored);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.stored_len()));
        out.extend_from_slice(&[KIND_GROUP, VERSION]);
        out.extend_from_slice(&self.group_id);
        put_u32(&mut out, self.config.max_skip());
        put_u32(&mut out, self.config.max_skipped_keys());
        match &self.own {
            None => out.push(0),
            Some(own) => {
                out.push(1);
                put_u32(&mut out, own.chain_id);
                put_u32(&mut out, own.iteration);
                out.extend_from_slice(own.chain_key.as_bytes());
                out.extend_from_slice(own.signing.seed());
            }
        }
        put_len(&mut out, self.senders.len());
        for (identity, sender) in &self.senders {
            out.extend_from_slice(identity);
            put_len(&mut out, sender.dropped.len());
            for id in &sender.dropped {
                put_u32(&mut out, *id);
            }
            put_len(&mut out, sender.chains.len());
            for chain in &sender.chains {
                put_u32(&mut out, chain.chain_id);
                put_u32(&mut out, chain.iteration);
                out.extend_from_slice(chain.chain_key.as_bytes());
                out.extend_from_slice(chain.signing_key.as_bytes());
                put_len(&mut out, chain.skipped.len());
                for (iteration, key) in &chain.skipped {
                    put_u32(&mut out, *iteration);
                    out.extend_from_slice(key.as_bytes());
                }
            }
        }
        out
    }

    /// Loads a state stored by [`to_bytes`](Self::to_bytes) (any format
    /// version up to this library's). Nothing is allocated beyond what the
    /// input's length can hold.
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input (an invalid configuration or key, more than five
    /// chains for a sender, a chain id held twice, more skipped keys than
    /// `max_skipped_keys` in a chain or one at or past its chain's
    /// iteration, unsorted entries).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        load(bytes).map_err(Error::State)
    }

    /// The stored state encrypted under a 32-byte storage key (AES-256-GCM,
    /// a 12-byte nonce drawn from `rng`).
    ///
    /// # Errors
    /// None in practice ([`Error::TooLarge`] past 64 GiB).
    pub fn seal(
        &self,
        storage_key: &[u8; 32],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, Error> {
        let body = self.to_bytes();
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(2 + NONCE_LEN + body.len() + TAG_LEN);
        out.extend_from_slice(&[KIND_SEALED_GROUP, VERSION]);
        out.extend_from_slice(&nonce);
        crypto::seal_append(storage_key, &nonce, &sealed_aad(VERSION), &body, &mut out)?;
        Ok(out)
    }

    /// Opens and loads a sealed state.
    ///
    /// # Errors
    /// [`StateError::Sealed`] for a wrong key or corrupted bytes,
    /// [`StateError::WrongKind`] for anything but a sealed group state, and
    /// the errors of [`from_bytes`](Self::from_bytes).
    pub fn open(sealed: &[u8], storage_key: &[u8; 32]) -> Result<Self, Error> {
        let mut r = In(Reader::new(sealed));
        let version = r.header(KIND_SEALED_GROUP)?;
        let nonce = r.array::<NONCE_LEN>()?;
        let body = crypto::open_to_vec(storage_key, &nonce, &sealed_aad(version), r.0.rest())
            .map_err(|_| StateError::Sealed)?;
        Self::from_bytes(&Zeroizing::new(body))
    }

    /// The length of [`to_bytes`](Self::to_bytes)'s output.
    fn stored_len(&self) -> usize {
        let own = if self.own.is_some() { OWN_CHAIN_LEN } else { 0 };
        let senders: usize = self
            .senders
            .values()
            .map(|s| {
                SENDER_LEN
                    + DROPPED_LEN * s.dropped.len()
                    + s.chains
                        .iter()
                        .map(|c| CHAIN_LEN + SKIPPED_KEY_LEN * c.skipped.len())
                        .sum::<usize>()
            })
            .sum();
        FIXED_LEN + own + senders
    }
}

/// `"cliquet/v1/state" || kind || version`.
fn sealed_aad(version: u8) -> [u8; 18] {
    let mut aad = [0u8; 18];
    let kind_version = [KIND_SEALED_GROUP, version];
    let parts = LABEL_STATE.iter().chain(&kind_version);
    aad.iter_mut().zip(parts).for_each(|(d, s)| *d = *s);
    aad
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A count; every count stored is bounded far below 2^32 by the limits.
fn put_len(out: &mut Vec<u8>, n: usize) {
    put_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
}

/// The [`Reader`] with storage errors.
struct In<'a>(Reader<'a>);

impl In<'_> {
    /// `kind || version`, refusing versions newer than this library.
    fn header(&mut self, kind: u8) -> Result<u8, StateError> {
        self.0.kind(kind).map_err(state_error)?;
        match self.u8()? {
            v @ 1..=VERSION => Ok(v),
            v => Err(StateError::UnsupportedVersion(v)),
        }
    }

    fn u8(&mut self) -> Result<u8, StateError> {
        self.0.u8().map_err(state_error)
    }

    fn u32(&mut self) -> Result<u32, StateError> {
        self.0.u32_be().map_err(state_error)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        self.0.array().map_err(state_error)
    }

    fn secret(&mut self) -> Result<Zeroizing<[u8; 32]>, StateError> {
        Ok(Zeroizing::new(self.array()?))
    }

    fn flag(&mut self) -> Result<bool, StateError> {
        self.0.flag().map_err(state_error)
    }

    /// A count of items of at least `item_len` bytes each, refused if the
    /// rest of the input cannot hold them (so no allocation exceeds the
    /// input).
    fn count(&mut self, item_len: usize) -> Result<usize, StateError> {
        let n = usize::try_from(self.u32()?).map_err(|_| StateError::Truncated)?;
        if n.checked_mul(item_len)
            .is_none_or(|len| len > self.0.remaining())
        {
            return Err(StateError::Truncated);
        }
        Ok(n)
    }

    fn finish(self) -> Result<(), StateError> {
        self.0.finish().map_err(state_error)
    }
}

const fn state_error(e: DecodeError) -> StateError {
    match e {
        DecodeError::BadKind => StateError::WrongKind,
        DecodeError::Trailing => StateError::Trailing,
        DecodeError::BadFlag => StateError::Inconsistent,
        _ => StateError::Truncated,
    }
}

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
    let mut r = In(Reader::new(bytes));
    r.header(KIND_GROUP)?;
    let group_id = r.array()?;
    let config = SessionConfig::new(r.u32()?, r.u32()?).map_err(|_| StateError::Inconsistent)?;
    let own = if r.flag()? {
        let chain_id = r.u32()?;
        let iteration = r.u32()?;
        let chain_key = ChainKey::from_bytes(r.secret()?);
        let signing = SigningKeyPair::from_seed(&*r.secret()?);
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
    for _ in 0..r.count(SENDER_LEN + CHAIN_LEN)? {
        let identity_bytes: [u8; 32] = r.array()?;
        let identity =
            IdentityKey::from_bytes(&identity_bytes).map_err(|_| StateError::Inconsistent)?;
        if senders
            .last_key_value()
            .is_some_and(|(last, _)| *last >= identity_bytes)
        {
            return Err(StateError::Inconsistent);
        }
        let mut dropped = BTreeSet::new();
        for _ in 0..r.count(DROPPED_LEN)? {
            let id = r.u32()?;
            if dropped.last().is_some_and(|last| *last >= id) {
                return Err(StateError::Inconsistent);
            }
            dropped.insert(id);
        }
        let n = r.count(CHAIN_LEN)?;
        // A chain is dropped only when a sixth arrives: then five are held.
        if n == 0
            || n > GroupSession::MAX_CHAINS_PER_SENDER
            || (!dropped.is_empty() && n != GroupSession::MAX_CHAINS_PER_SENDER)
        {
            return Err(StateError::Inconsistent);
        }
        let mut chains = VecDeque::with_capacity(n);
        for _ in 0..n {
            chains.push_back(received_chain(&mut r, max_skipped)?);
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
                dropped,
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

fn received_chain(r: &mut In<'_>, max_skipped: usize) -> Result<ReceivedChain, StateError> {
    let chain_id = r.u32()?;
    let iteration = r.u32()?;
    let chain_key = ChainKey::from_bytes(r.secret()?);
    let signing_key =
        SigningPublicKey::from_bytes(&r.array()?).map_err(|_| StateError::Inconsistent)?;
    let n = r.count(SKIPPED_KEY_LEN)?;
    if n > max_skipped {
        return Err(StateError::Inconsistent);
    }
    let mut skipped = BTreeMap::new();
    let mut last = None;
    for _ in 0..n {
        let at = r.u32()?;
        if last.is_some_and(|l| l >= at) || at >= iteration {
            return Err(StateError::Inconsistent);
        }
        last = Some(at);
        skipped.insert(at, MessageKey::from_bytes(r.secret()?));
    }
    Ok(ReceivedChain {
        chain_id,
        iteration,
        chain_key,
        signing_key,
        skipped,
    })
}
