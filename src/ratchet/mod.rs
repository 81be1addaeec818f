//! The Double Ratchet (SPEC §4) with optional header encryption (SPEC §6).
//!
//! Decrypt stages every change in a [`Commit`] and writes `self` only after
//! the message authenticated, so a failed decrypt changes nothing and draws
//! no randomness. The second half of a DH ratchet step (new `DHs`, sending
//! chain) is deferred to the next encrypt.

mod kdf;
mod skipped;

use alloc::boxed::Box;
use alloc::vec::Vec;

use rand_core::CryptoRng;

#[cfg(test)]
pub(crate) use kdf::HEADER_TRIALS;
pub(crate) use kdf::{ChainKey, Header, HeaderKey, MessageKey, RootKey, write_parts};
pub(crate) use skipped::SkippedKeys;

use crate::crypto::{NONCE_LEN, TAG_LEN};
use crate::keys::{KeyPair, PublicKey};
use crate::message::{
    EH_HEADER_LEN, EncryptedHeaderMessage, HEADER_LEN, KIND_ENCRYPTED_HEADER_MESSAGE, KIND_MESSAGE,
    Message, RatchetMessage, SALT_LEN,
};
use crate::{Error, SessionConfig, StateError};

/// A received ratchet message, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Incoming<'a> {
    Plain(&'a Message),
    EncryptedHeader(&'a EncryptedHeaderMessage),
}

impl<'a> From<&'a RatchetMessage> for Incoming<'a> {
    fn from(m: &'a RatchetMessage) -> Self {
        match m {
            RatchetMessage::Plain(m) => Self::Plain(m),
            RatchetMessage::EncryptedHeader(m) => Self::EncryptedHeader(m),
        }
    }
}

/// AES-GCM's plaintext limit (2^36 − 32 bytes), checked before anything is drawn.
const MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;

/// A sending chain: `CKs` and `Ns`.
#[derive(Debug)]
pub(crate) struct SendingChain {
    pub(crate) chain_key: ChainKey,
    pub(crate) index: u32,
}

/// A receiving chain: `DHr`, `CKr` and `Nr`.
#[derive(Debug)]
pub(crate) struct ReceivingChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) chain_key: ChainKey,
    pub(crate) index: u32,
}

/// The header keys of §6.
#[derive(Debug, Clone)]
pub(crate) struct HeaderKeys {
    pub(crate) sending: Option<HeaderKey>,
    pub(crate) receiving: Option<HeaderKey>,
    pub(crate) next_sending: HeaderKey,
    pub(crate) next_receiving: HeaderKey,
}

/// The state of one Double Ratchet.
#[derive(Debug)]
pub(crate) struct Ratchet {
    pub(crate) config: SessionConfig,
    pub(crate) root_key: RootKey,
    /// `DHs`.
    pub(crate) own: KeyPair,
    /// `None` when a DH step is pending: the next encrypt draws `DHs`.
    pub(crate) sending: Option<SendingChain>,
    pub(crate) receiving: Option<ReceivingChain>,
    /// `PN`.
    pub(crate) previous_chain_length: u32,
    /// `Some` iff the session encrypts headers.
    pub(crate) header_keys: Option<HeaderKeys>,
    pub(crate) skipped: SkippedKeys,
}

/// What a successful decrypt writes.
enum Commit {
    /// A stored skipped key was used.
    Skipped { ratchet_key: PublicKey, index: u32 },
    /// The current receiving chain advanced.
    Advance {
        chain_key: ChainKey,
        index: u32,
        skipped: Vec<(u32, MessageKey)>,
    },
    /// A DH ratchet step (receiving half).
    Step(Box<Step>),
}

struct Step {
    root_key: RootKey,
    receiving: ReceivingChain,
    old_chain_skipped: Vec<(u32, MessageKey)>,
    new_chain_skipped: Vec<(u32, MessageKey)>,
    next_receiving_header_key: Option<HeaderKey>,
}

/// Which chain a received header belongs to.
enum Route {
    /// A chain that only lives on in the skipped-key store.
    Old(PublicKey),
    /// The current receiving chain.
    Current,
    /// A new chain: a DH ratchet step.
    New,
}

impl Ratchet {
    /// `RatchetInitAlice` (and `RatchetInitAliceHE`): draws `DHs`.
    pub(crate) fn initiator(
        shared: crate::x3dh::SharedSecrets,
        their_signed_prekey: &PublicKey,
        config: SessionConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, Error> {
        let own = KeyPair::generate(rng);
        let dh = own.diffie_hellman(their_signed_prekey)?;
        let (root_key, chain_key, next_sending) =
            kdf_root(&shared.root_key, &dh, config.header_encryption());
        let header_keys = next_sending.map(|next_sending| HeaderKeys {
            sending: Some(shared.header_key_alice.clone()),
            receiving: None,
            next_sending,
            next_receiving: shared.next_header_key_bob.clone(),
        });
        Ok(Self {
            config,
            root_key,
            own,
            sending: Some(SendingChain {
                chain_key,
                index: 0,
            }),
            receiving: None,
            previous_chain_length: 0,
            header_keys,
            skipped: SkippedKeys::default(),
        })
    }

    /// `RatchetInitBob` (and `RatchetInitBobHE`): `DHs` is the signed prekey pair.
    pub(crate) fn responder(
        shared: crate::x3dh::SharedSecrets,
        signed_prekey: &KeyPair,
        config: SessionConfig,
    ) -> Self {
        let header_keys = config.header_encryption().then(|| HeaderKeys {
            sending: None,
            receiving: None,
            next_sending: shared.next_header_key_bob.clone(),
            next_receiving: shared.header_key_alice.clone(),
        });
        Self {
            config,
            root_key: shared.root_key,
            own: signed_prekey.clone(),
            sending: None,
            receiving: None,
            previous_chain_length: 0,
            header_keys,
            skipped: SkippedKeys::default(),
        }
    }

    /// Encrypts one message and writes `prefix || message` to `out`
    /// (resized to fit, its allocation reused); returns the header. Draws,
    /// in order: the deferred ratchet key (if a step is pending), the
    /// 16-byte salt, and with header encryption the 12-byte header nonce.
    pub(crate) fn encrypt_into(
        &mut self,
        ad: &[u8; 64],
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
        prefix: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Header, Error> {
        if u64::try_from(plaintext.len()).map_or(true, |len| len > MAX_PLAINTEXT_LEN) {
            return Err(Error::TooLarge);
        }
        if self.sending.as_ref().is_some_and(|c| c.index == u32::MAX) {
            return Err(Error::ChainExhausted);
        }
        if self.sending.is_none() {
            self.finish_step(rng)?;
        }
        let Some(chain) = self.sending.as_mut() else {
            return Err(StateError::Inconsistent.into());
        };
        let header = Header {
            ratchet_key: *self.own.public(),
            previous_chain_length: self.previous_chain_length,
            index: chain.index,
        };
        let (message_key, next_chain_key) = chain.chain_key.step();
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let mut header_bytes = [0u8; EH_HEADER_LEN];
        let header_len = match &self.header_keys {
            None => {
                kdf::write_parts(&mut header_bytes, &[&[KIND_MESSAGE], &header.to_bytes()]);
                HEADER_LEN
            }
            Some(keys) => {
                let Some(header_key) = &keys.sending else {
                    return Err(StateError::Inconsistent.into());
                };
                let mut nonce = [0u8; NONCE_LEN];
                rng.fill_bytes(&mut nonce);
                let enc_header = header_key.seal(&nonce, ad, header)?;
                kdf::write_parts(
                    &mut header_bytes,
                    &[&[KIND_ENCRYPTED_HEADER_MESSAGE], &enc_header],
                );
                EH_HEADER_LEN
            }
        };
        let header_bytes = header_bytes.get(..header_len).unwrap_or_default();
        let head_len = prefix.len() + header_len;
        out.resize(head_len + SALT_LEN + plaintext.len() + TAG_LEN, 0);
        let (head, body) = out.split_at_mut_checked(head_len).ok_or(Error::TooLarge)?;
        kdf::write_parts(head, &[prefix, header_bytes]);
        message_key.encrypt(&salt, ad, header_bytes, plaintext, body)?;
        chain.chain_key = next_chain_key;
        chain.index = header.index.saturating_add(1);
        Ok(header)
    }

    /// The deferred half of a DH ratchet step: new `DHs`, then
    /// `RK, CKs [, NHKs] = KDF_RK(RK, DH(DHs, DHr))`.
    fn finish_step(&mut self, rng: &mut (impl CryptoRng + ?Sized)) -> Result<(), Error> {
        let Some(their) = self.receiving.as_ref().map(|r| r.ratchet_key) else {
            return Err(StateError::Inconsistent.into());
        };
        let own = KeyPair::generate(rng);
        let dh = own.diffie_hellman(&their)?;
        let (root_key, chain_key, next_sending) =
            kdf_root(&self.root_key, &dh, self.header_keys.is_some());
        self.own = own;
        self.root_key = root_key;
        if let (Some(keys), Some(next)) = (&mut self.header_keys, next_sending) {
            keys.next_sending = next;
        }
        self.sending = Some(SendingChain {
            chain_key,
            index: 0,
        });
        Ok(())
    }

    /// Decrypts one message into `out` (resized to the plaintext, its
    /// allocation reused). On error nothing changes and `out` is empty.
    pub(crate) fn decrypt(
        &mut self,
        ad: &[u8; 64],
        message: Incoming<'_>,
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
        ad: &[u8; 64],
        message: Incoming<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Commit, Error> {
        let (route, header, header_bytes, ciphertext) = match (message, &self.header_keys) {
            (Incoming::Plain(m), None) => {
                let (route, header) = self.route_plain(m)?;
                (route, header, m.header_bytes(), m.ciphertext())
            }
            (Incoming::EncryptedHeader(m), Some(keys)) => {
                let (route, header) = self.route_encrypted_header(ad, keys, m)?;
                (route, header, m.header_bytes(), m.ciphertext())
            }
            // A message of the other mode cannot be authentic for this session.
            _ => return Err(Error::Authentication),
        };
        self.stage(ad, route, header, header_bytes, ciphertext, out)
    }

    fn route_plain(&self, m: &Message) -> Result<(Route, Header), Error> {
        let header = Header {
            ratchet_key: *m.ratchet_key(),
            previous_chain_length: m.previous_chain_length(),
            index: m.index(),
        };
        let route = if self
            .skipped
            .get(&header.ratchet_key, header.index)
            .is_some()
        {
            Route::Old(header.ratchet_key)
        } else if self
            .receiving
            .as_ref()
            .is_some_and(|r| r.ratchet_key == header.ratchet_key)
        {
            Route::Current
        } else if self.skipped.has_chain(&header.ratchet_key) {
            // A chain we still know (it has stored keys) but not this key.
            return Err(Error::Duplicate);
        } else {
            Route::New
        };
        Ok((route, header))
    }

    fn route_encrypted_header(
        &self,
        ad: &[u8; 64],
        keys: &HeaderKeys,
        m: &EncryptedHeaderMessage,
    ) -> Result<(Route, Header), Error> {
        let enc_header = m.encrypted_header();
        let current = self.receiving.as_ref().map(|r| r.ratchet_key);
        // One attempt per distinct header key: the skipped chains' keys (the
        // current chain's key is HKr, tried next), then HKr, then NHKr.
        let old = self
            .skipped
            .chains()
            .filter(|c| Some(c.ratchet_key) != current);
        for chain in old {
            let Some(header_key) = &chain.header_key else {
                continue;
            };
            if let Some(header) = header_key.open(ad, enc_header) {
                return Ok((Route::Old(chain.ratchet_key), header));
            }
        }
        if let Some(header) = keys.receiving.as_ref().and_then(|k| k.open(ad, enc_header)) {
            let in_store =
                current.is_some_and(|key| self.skipped.get(&key, header.index).is_some());
            let route = match current {
                Some(key) if in_store => Route::Old(key),
                _ => Route::Current,
            };
            return Ok((route, header));
        }
        if let Some(header) = keys.next_receiving.open(ad, enc_header) {
            return Ok((Route::New, header));
        }
        Err(Error::Authentication)
    }

    fn stage(
        &self,
        ad: &[u8; 64],
        route: Route,
        header: Header,
        header_bytes: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Commit, Error> {
        let max_skip = self.config.max_skip();
        match route {
            Route::Old(ratchet_key) => {
                let key = self
                    .skipped
                    .get(&ratchet_key, header.index)
                    .ok_or(Error::Duplicate)?;
                key.decrypt(ad, header_bytes, ciphertext, out)?;
                Ok(Commit::Skipped {
                    ratchet_key,
                    index: header.index,
                })
            }
            Route::Current => {
                let Some(chain) = &self.receiving else {
                    return Err(Error::Authentication);
                };
                let gap = header
                    .index
                    .checked_sub(chain.index)
                    .ok_or(Error::Duplicate)?;
                if gap > max_skip {
                    return Err(Error::TooManySkipped);
                }
                let next = header.index.checked_add(1).ok_or(Error::ChainExhausted)?;
                let (skipped, key, chain_key) =
                    derive_chain(&chain.chain_key, chain.index, header.index);
                key.decrypt(ad, header_bytes, ciphertext, out)?;
                Ok(Commit::Advance {
                    chain_key,
                    index: next,
                    skipped,
                })
            }
            Route::New => {
                let old_gap = self
                    .receiving
                    .as_ref()
                    .map_or(0, |c| header.previous_chain_length.saturating_sub(c.index));
                if old_gap > max_skip || header.index > max_skip {
                    return Err(Error::TooManySkipped);
                }
                let next = header.index.checked_add(1).ok_or(Error::ChainExhausted)?;
                let old_chain_skipped = match &self.receiving {
                    Some(c) if old_gap > 0 => {
                        derive_chain(&c.chain_key, c.index, header.previous_chain_length).0
                    }
                    _ => Vec::new(),
                };
                let dh = self.own.diffie_hellman(&header.ratchet_key)?;
                let (root_key, chain_key, next_receiving_header_key) =
                    kdf_root(&self.root_key, &dh, self.header_keys.is_some());
                let (new_chain_skipped, key, chain_key) = derive_chain(&chain_key, 0, header.index);
                key.decrypt(ad, header_bytes, ciphertext, out)?;
                let step = Step {
                    root_key,
                    receiving: ReceivingChain {
                        ratchet_key: header.ratchet_key,
                        chain_key,
                        index: next,
                    },
                    old_chain_skipped,
                    new_chain_skipped,
                    next_receiving_header_key,
                };
                Ok(Commit::Step(Box::new(step)))
            }
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
                if let Some(chain) = &mut self.receiving {
                    let header_key = self.header_keys.as_ref().and_then(|k| k.receiving.as_ref());
                    self.skipped.insert(chain.ratchet_key, header_key, skipped);
                    chain.chain_key = chain_key;
                    chain.index = index;
                }
            }
            Commit::Step(step) => {
                let Step {
                    root_key,
                    receiving,
                    old_chain_skipped,
                    new_chain_skipped,
                    next_receiving_header_key,
                } = *step;
                let old_header_key = self.header_keys.as_ref().and_then(|k| k.receiving.as_ref());
                if let Some(old) = &self.receiving {
                    self.skipped
                        .insert(old.ratchet_key, old_header_key, old_chain_skipped);
                }
                if let (Some(keys), Some(next)) = (&mut self.header_keys, next_receiving_header_key)
                {
                    keys.sending = Some(keys.next_sending.clone());
                    keys.receiving = Some(core::mem::replace(&mut keys.next_receiving, next));
                }
                let new_header_key = self.header_keys.as_ref().and_then(|k| k.receiving.as_ref());
                self.skipped
                    .insert(receiving.ratchet_key, new_header_key, new_chain_skipped);
                self.root_key = root_key;
                self.receiving = Some(receiving);
                if let Some(sending) = self.sending.take() {
                    self.previous_chain_length = sending.index;
                }
            }
        }
        let max = usize::try_from(self.config.max_skipped_keys()).unwrap_or(usize::MAX);
        self.skipped.evict_to(max);
    }
}

/// `KDF_RK`, or `KDF_RK_HE` (which also yields a next header key).
fn kdf_root(
    root_key: &RootKey,
    dh: &[u8; 32],
    header_encryption: bool,
) -> (RootKey, ChainKey, Option<HeaderKey>) {
    if header_encryption {
        let (rk, ck, nhk) = root_key.step_he(dh);
        (rk, ck, Some(nhk))
    } else {
        let (rk, ck) = root_key.step(dh);
        (rk, ck, None)
    }
}

/// Walks a chain from `from` to `to`: the keys of `from..to` (to be stored as
/// skipped), the key of message `to`, and the chain key after it.
fn derive_chain(
    chain_key: &ChainKey,
    from: u32,
    to: u32,
) -> (Vec<(u32, MessageKey)>, MessageKey, ChainKey) {
    let mut skipped = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
    let (mut key, mut next) = chain_key.step();
    for index in from..to {
        skipped.push((index, key));
        (key, next) = next.step();
    }
    (skipped, key, next)
}
