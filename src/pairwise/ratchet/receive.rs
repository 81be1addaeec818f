//! Receiving ([SPEC §4](crate::spec), §6): route a message to its chain (an old one in
//! the skipped-key store, the current one, or a new one: a DH ratchet
//! step), stage its decryption, and commit only after it authenticated.

use alloc::vec::Vec;

use super::skipped::SkippedKeys;
use super::skipped::{KeyRun, SkippedKey};
use super::{Chains, Commit, HeaderKeys, Ratchet, ReceivingChain, Route, Step};
use crate::config::SessionConfig;
use crate::crypto::kdf::{AD_LEN, ChainKey, HeaderKey, MessageKey, RootKey, SharedSecrets};
use crate::error::Error;
use crate::keys::KeyPair;
use crate::pairwise::wire::{EncryptedHeaderMessage, Header, Message, RatchetMessage, body_aad};

impl Ratchet {
    /// `RatchetInitBob` (and `RatchetInitBobHE`) with `DHs` the signed
    /// prekey pair, and the first message: a ratchet exists on the
    /// responder's side only once its first message decrypted into `out`.
    /// The message must start the first chain (with header encryption:
    /// its header opens with `NHKr = HKA`). The signed prekey's secret is
    /// used for that step only: the ratchet does not keep it.
    pub(crate) fn responder(
        shared: &SharedSecrets,
        signed_prekey: &KeyPair,
        config: SessionConfig,
        message: &RatchetMessage,
        out: &mut Vec<u8>,
    ) -> Result<Self, Error> {
        let ad = &shared.associated_data;
        let header = match (message, config.header_encryption()) {
            (RatchetMessage::Plain(m), false) => *m.header(),
            (RatchetMessage::EncryptedHeader(m), true) => shared
                .header_key_alice
                .open(ad, m.encrypted_header())
                .and_then(|h| Header::from_bytes(&h))
                .ok_or(Error::Authentication)?,
            _ => return Err(Error::Authentication),
        };
        let step = stage_new_chain(
            &shared.root_key,
            signed_prekey,
            None,
            header,
            &config,
            ad,
            message,
            out,
        )
        .inspect_err(|_| out.clear())?;
        let mut ratchet = Self {
            config,
            root_key: step.root_key,
            chains: Chains::Pending {
                receiving: step.receiving,
            },
            previous_chain_length: 0,
            header_keys: step
                .next_receiving_header_key
                .map(|next_receiving| HeaderKeys {
                    sending: shared.next_header_key_bob.clone(),
                    receiving: Some(shared.header_key_alice.clone()),
                    next_sending: shared.next_header_key_bob.clone(),
                    next_receiving,
                }),
            skipped: SkippedKeys::default(),
        };
        let ratchet_key = header.ratchet_key;
        let header_key = ratchet.receiving_header_key().cloned();
        ratchet
            .skipped
            .insert(ratchet_key, header_key.as_ref(), step.new_chain_skipped);
        ratchet
            .skipped
            .evict_to(ratchet.config.max_skipped_keys_usize());
        Ok(ratchet)
    }

    /// Decrypts one message into `out` (resized to the plaintext, its
    /// allocation reused). On error nothing changes and `out` is empty.
    pub(crate) fn decrypt(
        &mut self,
        ad: &[u8; AD_LEN],
        message: &RatchetMessage,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match self.stage_message(ad, message, out) {
            Ok(commit) => {
                self.apply(commit);
                Ok(())
            }
            Err(e) => {
                out.clear();
                Err(e)
            }
        }
    }

    /// Routes the message to its chain, then stages its decryption.
    fn stage_message(
        &self,
        ad: &[u8; AD_LEN],
        message: &RatchetMessage,
        out: &mut Vec<u8>,
    ) -> Result<Commit, Error> {
        let (route, header) = match (message, &self.header_keys) {
            (RatchetMessage::Plain(m), None) => (self.route_plain(m)?, *m.header()),
            (RatchetMessage::EncryptedHeader(m), Some(keys)) => {
                self.route_encrypted_header(ad, keys, m)?
            }
            // A message of the other mode cannot be authentic for this session.
            _ => return Err(Error::Authentication),
        };
        self.stage(ad, route, header, message, out)
    }

    fn route_plain(&self, m: &Message) -> Result<Route, Error> {
        let header = m.header();
        // The common case first, without a look into the skipped-key store:
        // the current chain at or past its next index holds no stored key
        // (a chain's stored keys are all below its index).
        if self
            .chains
            .receiving()
            .is_some_and(|r| r.ratchet_key == header.ratchet_key && header.index >= r.index)
        {
            return Ok(Route::Current);
        }
        if self
            .skipped
            .get(&header.ratchet_key, header.index)
            .is_some()
        {
            Ok(Route::Old(header.ratchet_key))
        } else if self
            .chains
            .receiving()
            .is_some_and(|r| r.ratchet_key == header.ratchet_key)
        {
            Ok(Route::Current)
        } else if self.skipped.has_chain(&header.ratchet_key) {
            // A chain we still know (it has stored keys) but not this key.
            Err(Error::Duplicate)
        } else {
            Ok(Route::New)
        }
    }

    fn route_encrypted_header(
        &self,
        ad: &[u8; AD_LEN],
        keys: &HeaderKeys,
        m: &EncryptedHeaderMessage,
    ) -> Result<(Route, Header), Error> {
        let enc_header = m.encrypted_header();
        let open = |key: &HeaderKey| {
            key.open(ad, enc_header)
                .and_then(|h| Header::from_bytes(&h))
        };
        let current = self.chains.receiving().map(|r| r.ratchet_key);
        // One attempt per distinct header key (SPEC §6). HKr first, then
        // NHKr, so that an in-order message or a new chain costs one or two
        // attempts whatever is stored; then the header keys of the older
        // chains with skipped keys (the current chain's is HKr).
        if let Some(header) = keys.receiving.as_ref().and_then(open) {
            let in_store =
                current.is_some_and(|key| self.skipped.get(&key, header.index).is_some());
            let route = match current {
                Some(key) if in_store => Route::Old(key),
                _ => Route::Current,
            };
            return Ok((route, header));
        }
        if let Some(header) = open(&keys.next_receiving) {
            return Ok((Route::New, header));
        }
        let old = self
            .skipped
            .chains()
            .filter(|c| Some(c.ratchet_key) != current);
        for chain in old {
            if let Some(header) = chain.header_key.as_deref().and_then(open) {
                return Ok((Route::Old(chain.ratchet_key), header));
            }
        }
        Err(Error::Authentication)
    }

    fn stage(
        &self,
        ad: &[u8; AD_LEN],
        route: Route,
        header: Header,
        message: &RatchetMessage,
        out: &mut Vec<u8>,
    ) -> Result<Commit, Error> {
        let (header_bytes, ciphertext) = (message.header_bytes(), message.ciphertext());
        match route {
            Route::Old(ratchet_key) => {
                let key = self
                    .skipped
                    .get(&ratchet_key, header.index)
                    .ok_or(Error::Duplicate)?;
                key.decrypt(body_aad(ad, header_bytes).as_slice(), ciphertext, out)?;
                Ok(Commit::Skipped {
                    ratchet_key,
                    index: header.index,
                })
            }
            Route::Current => {
                let Some(chain) = self.chains.receiving() else {
                    return Err(Error::Authentication);
                };
                let gap = header
                    .index
                    .checked_sub(chain.index)
                    .ok_or(Error::Duplicate)?;
                if gap > self.config.max_skip() {
                    return Err(Error::TooManySkipped);
                }
                let next = header.index.checked_add(1).ok_or(Error::ChainExhausted)?;
                let (skipped, key, chain_key) =
                    derive_chain(&chain.chain_key, chain.index, header.index);
                key.decrypt(body_aad(ad, header_bytes).as_slice(), ciphertext, out)?;
                Ok(Commit::Advance {
                    chain_key,
                    index: next,
                    skipped,
                })
            }
            Route::New => stage_new_chain(
                &self.root_key,
                // A new chain answers our ratchet key: without one (a step
                // is pending) no honest peer sends one.
                self.chains.own().ok_or(Error::Authentication)?,
                self.chains.receiving(),
                header,
                &self.config,
                ad,
                message,
                out,
            )
            .map(Commit::Step),
        }
    }

    fn apply(&mut self, commit: Commit) {
        match commit {
            Commit::Skipped { ratchet_key, index } => self.skipped.remove(&ratchet_key, index),
            Commit::Advance {
                chain_key,
                index,
                skipped,
            } => {
                // Only a message that skipped keys stores them (and, with
                // header encryption, a copy of the chain's header key).
                let header_key = if skipped.is_empty() {
                    None
                } else {
                    self.receiving_header_key().cloned()
                };
                if let Some(chain) = self.chains.receiving_mut() {
                    self.skipped
                        .insert(chain.ratchet_key, header_key.as_ref(), skipped);
                    chain.chain_key = chain_key;
                    chain.index = index;
                }
            }
            Commit::Step(step) => self.apply_step(step),
        }
        self.skipped.evict_to(self.config.max_skipped_keys_usize());
    }

    fn apply_step(&mut self, step: Step) {
        let Step {
            root_key,
            receiving,
            new_chain_skipped,
            previous_chain_end,
            next_receiving_header_key,
        } = step;
        let old_header_key = self.receiving_header_key().cloned();
        // Our ratchet secret goes with the old chains: the new chain was its
        // last use.
        let (old_sending, old_receiving) = match self.chains.take() {
            Chains::Sending { sending, .. } => (Some(sending), None),
            Chains::Pending { receiving } => (None, Some(receiving)),
            Chains::Both {
                sending, receiving, ..
            } => (Some(sending), Some(receiving)),
        };
        if let Some(old) = old_receiving.filter(|old| old.index < previous_chain_end) {
            // The old chain's keys up to PN: derived now that the message
            // authenticated (a forged header costs no chain steps).
            let old_chain_skipped = derive_chain(&old.chain_key, old.index, previous_chain_end).0;
            self.skipped
                .insert(old.ratchet_key, old_header_key.as_ref(), old_chain_skipped);
        }
        if let (Some(keys), Some(next)) = (&mut self.header_keys, next_receiving_header_key) {
            keys.sending = keys.next_sending.clone();
            keys.receiving = Some(core::mem::replace(&mut keys.next_receiving, next));
        }
        let new_header_key = self.receiving_header_key().cloned();
        self.skipped.insert(
            receiving.ratchet_key,
            new_header_key.as_ref(),
            new_chain_skipped,
        );
        self.root_key = root_key;
        self.chains = Chains::Pending { receiving };
        if let Some(sending) = old_sending {
            self.previous_chain_length = sending.index;
        }
    }
}

/// Stages the receiving half of a DH ratchet step: checks the gaps against
/// `max_skip` first (before any cryptographic work), then
/// `RK, CKr [, NHKr] = KDF_RK(RK, DH(DHs, DHr))`, walks the new chain to
/// the message and opens it into `out`.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of the state a step reads, borrowed separately so that the responder's first message can use it before a ratchet exists"
)]
fn stage_new_chain(
    root_key: &RootKey,
    own: &KeyPair,
    previous: Option<&ReceivingChain>,
    header: Header,
    config: &SessionConfig,
    ad: &[u8; AD_LEN],
    message: &RatchetMessage,
    out: &mut Vec<u8>,
) -> Result<Step, Error> {
    let max_skip = config.max_skip();
    let previous_chain_end = previous.map_or(0, |c| header.previous_chain_length.max(c.index));
    let old_gap = previous.map_or(0, |c| header.previous_chain_length.saturating_sub(c.index));
    if old_gap > max_skip || header.index > max_skip {
        return Err(Error::TooManySkipped);
    }
    let next = header.index.checked_add(1).ok_or(Error::ChainExhausted)?;
    #[cfg(test)]
    NEW_CHAIN_TRIALS.with(|n| n.set(n.get() + 1));
    let dh = own.diffie_hellman(&header.ratchet_key)?;
    let (root_key, chain_key, next_receiving_header_key) =
        root_key.step(&dh, config.header_encryption());
    let (new_chain_skipped, key, chain_key) = derive_chain(&chain_key, 0, header.index);
    key.decrypt(
        body_aad(ad, message.header_bytes()).as_slice(),
        message.ciphertext(),
        out,
    )?;
    Ok(Step {
        root_key,
        receiving: ReceivingChain {
            ratchet_key: header.ratchet_key,
            chain_key,
            index: next,
        },
        new_chain_skipped,
        previous_chain_end,
        next_receiving_header_key,
    })
}

#[cfg(test)]
std::thread_local! {
    /// New chains staged (a Diffie-Hellman and a chain walk each) on this
    /// thread: tests count them.
    pub(crate) static NEW_CHAIN_TRIALS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Walks a chain from `from` to `to`: the keys of `from..to` (to be stored as
/// skipped), the key of message `to`, and the chain key after it.
#[inline]
fn derive_chain(chain_key: &ChainKey, from: u32, to: u32) -> (KeyRun, MessageKey, ChainKey) {
    let len = usize::try_from(to.saturating_sub(from)).unwrap_or(0);
    let mut skipped = zeroize::Zeroizing::new(Vec::with_capacity(len));
    let (mut key, mut next) = chain_key.step();
    for index in from..to {
        skipped.push(SkippedKey { index, key });
        (key, next) = next.step();
    }
    (skipped, key, next)
}
