//! The Double Ratchet (SPEC §4) with optional header encryption (SPEC §6).
//!
//! Both directions stage, then commit: encrypt and decrypt compute every
//! change into locals (a [`Commit`], a staged sending step) and write `self`
//! only once nothing can fail any more, so a failed call changes nothing. The
//! second half of a DH ratchet step (new `DHs`, sending chain) is deferred
//! to the next encrypt: [`Chains::Pending`].

mod skipped;
mod state;

pub(crate) use state::RATCHET_FLAGS;

use alloc::vec::Vec;

use rand_core::CryptoRng;

use self::skipped::{KeyRun, SkippedKey, SkippedKeys};
use crate::codec::{ArrayBuf, Writer, kind};
use crate::config::SessionConfig;
use crate::crypto::kdf::{
    AD_LEN, ChainKey, HeaderKey, MessageKey, RootKey, SALT_LEN, SharedSecrets,
};
use crate::crypto::{NONCE_LEN, TAG_LEN};
use crate::error::Error;
use crate::keys::{KeyPair, PublicKey};
use crate::pairwise::wire::{
    EH_MESSAGE_HEADER_LEN, ENC_HEADER_LEN, EncryptedHeaderMessage, HEADER_LEN, Header, Message,
    RatchetMessage, Shape,
};

/// AES-GCM's plaintext limit (2^36 − 32 bytes), checked before anything is drawn.
const MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;

/// A sending chain: `CKs` and `Ns`.
#[derive(Debug)]
struct SendingChain {
    chain_key: ChainKey,
    index: u32,
}

/// A receiving chain: `DHr`, `CKr` and `Nr`.
#[derive(Debug)]
struct ReceivingChain {
    ratchet_key: PublicKey,
    chain_key: ChainKey,
    index: u32,
}

/// Which chains the ratchet has: where it stands in the DH ratchet. Our
/// ratchet key pair `DHs` exists only with a sending chain: it is needed to
/// receive the chain the peer starts in reply to it, and for nothing after
/// the peer did so.
#[derive(Debug)]
enum Chains {
    /// The initiator before any reply: it sends, and receives nothing yet.
    Sending { own: KeyPair, sending: SendingChain },
    /// The peer started a new chain in reply to our last ratchet key and we
    /// have not sent since: the next encrypt draws `DHs` and derives the
    /// sending chain (the deferred half of the DH ratchet step). Until
    /// then we hold no ratchet secret, so the peer can start no other chain
    /// (an honest one never does before our next message).
    Pending { receiving: ReceivingChain },
    /// Both directions.
    Both {
        own: KeyPair,
        sending: SendingChain,
        receiving: ReceivingChain,
    },
}

impl Chains {
    const fn own(&self) -> Option<&KeyPair> {
        match self {
            Self::Sending { own, .. } | Self::Both { own, .. } => Some(own),
            Self::Pending { .. } => None,
        }
    }

    const fn sending(&self) -> Option<&SendingChain> {
        match self {
            Self::Sending { sending, .. } | Self::Both { sending, .. } => Some(sending),
            Self::Pending { .. } => None,
        }
    }

    const fn receiving(&self) -> Option<&ReceivingChain> {
        match self {
            Self::Pending { receiving } | Self::Both { receiving, .. } => Some(receiving),
            Self::Sending { .. } => None,
        }
    }

    fn receiving_mut(&mut self) -> Option<&mut ReceivingChain> {
        match self {
            Self::Pending { receiving } | Self::Both { receiving, .. } => Some(receiving),
            Self::Sending { .. } => None,
        }
    }

    fn sending_mut(&mut self) -> Option<&mut SendingChain> {
        match self {
            Self::Sending { sending, .. } | Self::Both { sending, .. } => Some(sending),
            Self::Pending { .. } => None,
        }
    }
}

/// The header keys of §6. `HKs` always exists (the initiator starts with
/// `HKA`, the responder takes `NHKs` in the step of its first message);
/// `HKr` exists once a chain was received.
#[derive(Debug, Clone)]
struct HeaderKeys {
    sending: HeaderKey,
    receiving: Option<HeaderKey>,
    next_sending: HeaderKey,
    next_receiving: HeaderKey,
}

/// The state of one Double Ratchet.
#[derive(Debug)]
pub(crate) struct Ratchet {
    config: SessionConfig,
    root_key: RootKey,
    chains: Chains,
    /// `PN`.
    previous_chain_length: u32,
    /// `Some` iff the session encrypts headers.
    header_keys: Option<HeaderKeys>,
    skipped: SkippedKeys,
}

/// What a successful decrypt writes.
enum Commit {
    /// A stored skipped key was used.
    Skipped { ratchet_key: PublicKey, index: u32 },
    /// The current receiving chain advanced.
    Advance {
        chain_key: ChainKey,
        index: u32,
        skipped: KeyRun,
    },
    /// A DH ratchet step (receiving half). Not boxed: moving it out of a
    /// box would free a heap block holding the new root and chain keys.
    Step(Step),
}

/// The receiving half of a DH ratchet step, staged.
struct Step {
    root_key: RootKey,
    receiving: ReceivingChain,
    /// The skipped keys of the new chain (`0..N`).
    new_chain_skipped: KeyRun,
    /// `PN`: where the previous receiving chain ends. Its skipped keys are
    /// derived when the step is applied, after the message authenticated.
    previous_chain_end: u32,
    next_receiving_header_key: Option<HeaderKey>,
}

/// The deferred half of a DH ratchet step, staged by an encrypt.
struct SendingStep {
    own: KeyPair,
    root_key: RootKey,
    chain_key: ChainKey,
    next_sending_header_key: Option<HeaderKey>,
}

/// The chain an encrypt sends on.
enum Sender<'a> {
    /// The current sending chain, and our ratchet key pair.
    Current(&'a SendingChain, &'a KeyPair),
    /// A new one: the deferred half of a DH step, staged.
    Step(SendingStep),
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

/// How a message may belong to a ratchet, judged from cheap comparisons only
/// (a record uses it to choose which archived sessions to try).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    /// It cannot.
    No,
    /// A chain the ratchet receives on (or, with encrypted headers, it may:
    /// trying costs a few header decryptions).
    KnownChain,
    /// It could start a new chain: trying costs a Diffie-Hellman.
    NewChain,
}

impl Ratchet {
    /// `RatchetInitAlice` (and `RatchetInitAliceHE`): draws `DHs`.
    pub(crate) fn initiator(
        shared: &SharedSecrets,
        their_signed_prekey: &PublicKey,
        config: SessionConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, Error> {
        let own = KeyPair::generate(rng);
        let dh = own.diffie_hellman(their_signed_prekey)?;
        let (root_key, chain_key, next_sending) =
            shared.root_key.step(&dh, config.header_encryption());
        let header_keys = next_sending.map(|next_sending| HeaderKeys {
            sending: shared.header_key_alice.clone(),
            receiving: None,
            next_sending,
            next_receiving: shared.next_header_key_bob.clone(),
        });
        Ok(Self {
            config,
            root_key,
            chains: Chains::Sending {
                own,
                sending: SendingChain {
                    chain_key,
                    index: 0,
                },
            },
            previous_chain_length: 0,
            header_keys,
            skipped: SkippedKeys::default(),
        })
    }

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

    /// Encrypts one message and writes `prefix || message` to `out`
    /// (resized to fit, its allocation reused); returns what the written
    /// message holds. Draws, in order: the deferred ratchet key (if a step
    /// is pending), the 16-byte salt, and with header encryption the 12-byte
    /// header nonce. On error nothing changed.
    pub(crate) fn encrypt_into(
        &mut self,
        ad: &[u8; AD_LEN],
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
        prefix: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Shape, Error> {
        if u64::try_from(plaintext.len()).map_or(true, |len| len > MAX_PLAINTEXT_LEN) {
            return Err(Error::TooLarge);
        }
        // Stage: the chain this message is sent on, new if a step is pending.
        let sender = match &self.chains {
            Chains::Pending { receiving } => Sender::Step(self.stage_sending_step(receiving, rng)?),
            Chains::Sending { sending, .. } | Chains::Both { sending, .. }
                if sending.index == u32::MAX =>
            {
                return Err(Error::ChainExhausted);
            }
            Chains::Sending { own, sending } | Chains::Both { own, sending, .. } => {
                Sender::Current(sending, own)
            }
        };
        let (chain_key, index, own) = match &sender {
            Sender::Current(chain, own) => (&chain.chain_key, chain.index, *own),
            Sender::Step(step) => (&step.chain_key, 0, &step.own),
        };
        let header = Header {
            ratchet_key: *own.public(),
            previous_chain_length: self.previous_chain_length,
            index,
        };
        let (message_key, next_chain_key) = chain_key.step();
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let mut header_bytes = ArrayBuf::<EH_MESSAGE_HEADER_LEN>::new();
        let shape = match &self.header_keys {
            None => {
                header_bytes.put_u8(kind::MESSAGE);
                header.write(&mut header_bytes);
                Shape::Plain(header)
            }
            Some(keys) => {
                let mut nonce = [0u8; NONCE_LEN];
                rng.fill_bytes(&mut nonce);
                let enc_header = keys.sending.seal(&nonce, ad, &header.to_bytes())?;
                header_bytes.put_u8(kind::ENCRYPTED_HEADER_MESSAGE);
                header_bytes.put(&enc_header);
                Shape::EncryptedHeader(enc_header)
            }
        };
        let header_bytes = header_bytes.as_slice();
        let head_len = prefix.len() + header_bytes.len();
        out.resize(head_len + SALT_LEN + plaintext.len() + TAG_LEN, 0);
        let (head, body) = out.split_at_mut_checked(head_len).ok_or(Error::TooLarge)?;
        let (prefix_out, header_out) = head.split_at_mut(prefix.len());
        prefix_out.copy_from_slice(prefix);
        header_out.copy_from_slice(header_bytes);
        message_key.encrypt(&salt, ad, header_bytes, plaintext, body)?;
        // Commit.
        let next = SendingChain {
            chain_key: next_chain_key,
            index: index.saturating_add(1),
        };
        match sender {
            Sender::Current(..) => {
                if let Some(chain) = self.chains.sending_mut() {
                    *chain = next;
                }
            }
            Sender::Step(step) => self.apply_sending_step(step, next),
        }
        Ok(shape)
    }

    /// The deferred half of a DH ratchet step: a new `DHs`, then
    /// `RK, CKs [, NHKs] = KDF_RK(RK, DH(DHs, DHr))`.
    fn stage_sending_step(
        &self,
        receiving: &ReceivingChain,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SendingStep, Error> {
        let own = KeyPair::generate(rng);
        let dh = own.diffie_hellman(&receiving.ratchet_key)?;
        let (root_key, chain_key, next_sending_header_key) =
            self.root_key.step(&dh, self.header_keys.is_some());
        Ok(SendingStep {
            own,
            root_key,
            chain_key,
            next_sending_header_key,
        })
    }

    fn apply_sending_step(&mut self, step: SendingStep, next: SendingChain) {
        self.root_key = step.root_key;
        if let (Some(keys), Some(header_key)) =
            (&mut self.header_keys, step.next_sending_header_key)
        {
            keys.next_sending = header_key;
        }
        let own = step.own;
        self.chains = match self.chains.take() {
            Chains::Pending { receiving } | Chains::Both { receiving, .. } => Chains::Both {
                own,
                sending: next,
                receiving,
            },
            Chains::Sending { .. } => Chains::Sending { own, sending: next },
        };
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
            if let Some(header) = chain.header_key.as_ref().and_then(open) {
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
                key.decrypt(ad, header_bytes, ciphertext, out)?;
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
                key.decrypt(ad, header_bytes, ciphertext, out)?;
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
                let header_key = self.receiving_header_key().cloned();
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

    fn receiving_header_key(&self) -> Option<&HeaderKey> {
        self.header_keys.as_ref().and_then(|k| k.receiving.as_ref())
    }

    /// The session's limits and mode.
    pub(crate) const fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether headers are encrypted.
    pub(crate) const fn has_header_encryption(&self) -> bool {
        self.header_keys.is_some()
    }

    /// Whether a chain was received (the peer answered).
    pub(crate) const fn has_receiving_chain(&self) -> bool {
        self.chains.receiving().is_some()
    }

    /// How many skipped message keys are stored.
    pub(crate) fn skipped_keys(&self) -> usize {
        self.skipped.len()
    }

    /// Evicts the oldest-inserted skipped keys until at most `max` remain.
    pub(crate) fn evict_skipped_to(&mut self, max: usize) {
        self.skipped.evict_to(max);
    }

    /// Whether `key` is the ratchet public key our last messages carry and
    /// the peer has not visibly moved past (it has not answered it with a
    /// new chain).
    pub(crate) fn sends_with(&self, key: &PublicKey) -> bool {
        self.chains.own().is_some_and(|own| own.public() == key)
    }

    /// Whether `HKs` opens `enc_header`: the header is of a message we sent
    /// on our current header key.
    pub(crate) fn sent_header(&self, ad: &[u8; AD_LEN], enc_header: &[u8; ENC_HEADER_LEN]) -> bool {
        self.header_keys.as_ref().is_some_and(|keys| {
            keys.sending
                .open::<HEADER_LEN, ENC_HEADER_LEN>(ad, enc_header)
                .is_some()
        })
    }

    /// Whether a message of this chain would be received on a chain we
    /// know: the receiving chain or a chain with stored skipped keys (with
    /// header encryption: one whose header key opens the header; a header
    /// for a new chain, `NHKr`, does not count).
    pub(crate) fn receives_on(&self, ad: &[u8; AD_LEN], message: &RatchetMessage) -> bool {
        match message {
            RatchetMessage::Plain(m) => self.knows_chain(m.ratchet_key()),
            RatchetMessage::EncryptedHeader(m) => {
                let enc_header = m.encrypted_header();
                let opens = |key: &HeaderKey| {
                    key.open::<HEADER_LEN, ENC_HEADER_LEN>(ad, enc_header)
                        .is_some()
                };
                self.receiving_header_key().is_some_and(opens)
                    || self
                        .skipped
                        .chains()
                        .filter_map(|c| c.header_key.as_ref())
                        .any(opens)
            }
        }
    }

    fn knows_chain(&self, key: &PublicKey) -> bool {
        self.chains
            .receiving()
            .is_some_and(|c| c.ratchet_key == *key)
            || self.skipped.has_chain(key)
    }

    /// How `message` may belong to this ratchet, from cheap comparisons.
    ///
    /// A plain message's ratchet key is the receiving chain's, a chain with
    /// stored skipped keys, or a new chain; the peer can only have started a
    /// new chain after receiving our current ratchet key, so we must have
    /// sent since our last step, and the peer's previous chain (`PN` long)
    /// is the one we receive on, of which we already got `Nr` messages.
    pub(crate) fn fit(&self, message: &RatchetMessage) -> Fit {
        match (message, self.has_header_encryption()) {
            (RatchetMessage::EncryptedHeader(_), true) => Fit::KnownChain,
            (RatchetMessage::Plain(m), false) => {
                let new = match &self.chains {
                    Chains::Sending { .. } => true,
                    Chains::Both { receiving, .. } => m.previous_chain_length() >= receiving.index,
                    Chains::Pending { .. } => false,
                };
                if self.knows_chain(m.ratchet_key()) {
                    Fit::KnownChain
                } else if new {
                    Fit::NewChain
                } else {
                    Fit::No
                }
            }
            _ => Fit::No,
        }
    }
}

impl Chains {
    /// Takes the chains out to build the next ones from their parts,
    /// leaving an inert placeholder that the caller overwrites at once.
    fn take(&mut self) -> Self {
        core::mem::replace(
            self,
            Self::Pending {
                receiving: ReceivingChain {
                    ratchet_key: PublicKey::from_bytes([0; 32]),
                    chain_key: ChainKey::from_bytes(zeroize::Zeroizing::new([0; 32])),
                    index: u32::MAX,
                },
            },
        )
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
    key.decrypt(ad, message.header_bytes(), message.ciphertext(), out)?;
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

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use zeroize::ZeroizeOnDrop;

    use super::*;
    use crate::crypto::kdf::HEADER_TRIALS;
    use crate::{Account, AnyMessage, Session};

    /// Alice's session and Bob's, after one message each way.
    fn pair(header_encryption: bool, rng: &mut ChaCha20Rng) -> (Session, Session) {
        let alice = Account::new(rng);
        let mut bob = Account::new(rng);
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let bundle = bob.bundle(None).unwrap().verify().unwrap();
        let mut a = Session::initiate(alice.identity(), &bundle, config, rng).unwrap();
        let AnyMessage::PreKey(first) = a.encrypt(b"1", rng).unwrap() else {
            panic!("not a prekey message")
        };
        let mut b = bob.accept(&first, config).unwrap().session;
        let reply = b.encrypt(b"2", rng).unwrap();
        assert_eq!(a.decrypt(&reply).unwrap(), b"2");
        (a, b)
    }

    /// Every secret a ratchet holds, as bytes.
    fn secrets(r: &Ratchet) -> Vec<Vec<u8>> {
        let mut secrets = vec![r.root_key.as_bytes().to_vec()];
        secrets.extend(r.chains.own().map(|own| own.secret_bytes().to_vec()));
        secrets.extend(r.chains.sending().map(|c| c.chain_key.as_bytes().to_vec()));
        secrets.extend(
            r.chains
                .receiving()
                .map(|c| c.chain_key.as_bytes().to_vec()),
        );
        if let Some(k) = &r.header_keys {
            secrets.push(k.sending.as_bytes().to_vec());
            secrets.extend(k.receiving.iter().map(|k| k.as_bytes().to_vec()));
            secrets.push(k.next_sending.as_bytes().to_vec());
            secrets.push(k.next_receiving.as_bytes().to_vec());
        }
        secrets
    }

    #[test]
    fn s4_sending_counter_never_wraps() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let (mut a, mut b) = pair(false, &mut rng);
        let step = a
            .encrypt(b"activates the deferred sending chain", &mut rng)
            .unwrap();
        b.decrypt(&step).unwrap();
        a.ratchet_mut().chains.sending_mut().unwrap().index = u32::MAX - 1;
        let last = a.encrypt(b"last", &mut rng).unwrap();
        let AnyMessage::Ratchet(RatchetMessage::Plain(m)) = &last else {
            panic!("plain message expected")
        };
        assert_eq!(m.index(), u32::MAX - 1);
        let before = a.to_bytes();
        assert_eq!(
            a.encrypt(b"one too many", &mut rng).err(),
            Some(Error::ChainExhausted)
        );
        assert_eq!(a.to_bytes(), before, "a refused encrypt changes nothing");
        // The receiver refuses to step its counter past 2^32 - 1 as well.
        b.ratchet_mut().chains.receiving_mut().unwrap().index = u32::MAX - 1;
        let before = b.to_bytes();
        let mut forged = m.as_bytes().to_vec();
        forged[37..41].copy_from_slice(&u32::MAX.to_be_bytes());
        let forged = AnyMessage::decode(&forged).unwrap();
        assert_eq!(b.decrypt(&forged).err(), Some(Error::ChainExhausted));
        assert_eq!(b.to_bytes(), before);
    }

    #[test]
    fn s4_a_failed_encrypt_leaves_a_pending_step_pending() {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let (mut a, mut b) = pair(false, &mut rng);
        let new_chain = a.encrypt(b"new chain", &mut rng).unwrap();
        b.decrypt(&new_chain).unwrap();
        assert!(matches!(b.ratchet_mut().chains, Chains::Pending { .. }));
        // A peer ratchet key of small order: the deferred step's
        // Diffie-Hellman fails after the new ratchet key was drawn.
        let chain = b.ratchet_mut().chains.receiving_mut().unwrap();
        chain.ratchet_key = PublicKey::from_bytes([0; 32]);
        let before = b.to_bytes();
        assert_eq!(b.encrypt(b"x", &mut rng).err(), Some(Error::InvalidKey));
        assert_eq!(b.to_bytes(), before, "nothing committed");
        assert!(matches!(b.ratchet_mut().chains, Chains::Pending { .. }));
    }

    #[test]
    fn s6_one_trial_decryption_per_distinct_header_key() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let (mut a, mut b) = pair(true, &mut rng);
        // Five round trips in which one of Alice's messages is held back:
        // Bob ends up with skipped keys in five old chains.
        let mut held = Vec::new();
        for i in 0..5u8 {
            held.push(a.encrypt(&[i], &mut rng).unwrap());
            let sent = a.encrypt(b"x", &mut rng).unwrap();
            b.decrypt(&sent).unwrap();
            let reply = b.encrypt(b"y", &mut rng).unwrap();
            a.decrypt(&reply).unwrap();
        }
        let chains = b.ratchet_mut().skipped.chains().count();
        assert_eq!((chains, b.skipped_keys()), (5, 5));
        // A message no key opens: one trial per distinct header key, that is
        // one per stored chain (the newest one's is HKr) and NHKr.
        let mut junk = a.encrypt(b"z", &mut rng).unwrap().to_bytes();
        junk[5] ^= 1;
        let junk = AnyMessage::decode(&junk).unwrap();
        HEADER_TRIALS.with(|n| n.set(0));
        assert_eq!(b.decrypt(&junk).err(), Some(Error::Authentication));
        assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), chains + 1);
        // A held-back message of the oldest chain: HKr, NHKr, then the
        // oldest chain's key.
        HEADER_TRIALS.with(|n| n.set(0));
        assert_eq!(b.decrypt(&held[0]).unwrap(), [0]);
        assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), 3);
        // The first message of a new chain costs two trials, an in-order
        // message one, however much is stored.
        for expected in [2, 1, 1] {
            let in_order = a.encrypt(b"in order", &mut rng).unwrap();
            HEADER_TRIALS.with(|n| n.set(0));
            b.decrypt(&in_order).unwrap();
            assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), expected);
        }
        let reply = b.encrypt(b"reply", &mut rng).unwrap();
        a.decrypt(&reply).unwrap();
        let new_chain = a.encrypt(b"new chain", &mut rng).unwrap();
        HEADER_TRIALS.with(|n| n.set(0));
        b.decrypt(&new_chain).unwrap();
        assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), 2);
        // The four other held messages and the one whose copy was tampered.
        assert_eq!(b.skipped_keys(), 5);
    }

    #[test]
    fn s7_secrets_are_zeroize_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<RootKey>();
        zeroized_on_drop::<ChainKey>();
        zeroized_on_drop::<MessageKey>();
        zeroized_on_drop::<HeaderKey>();
        zeroized_on_drop::<x25519_dalek::StaticSecret>();
        zeroized_on_drop::<ed25519_dalek::SigningKey>();
    }

    #[test]
    fn s7_debug_shows_no_secret() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for header_encryption in [false, true] {
            let (mut a, mut b) = pair(header_encryption, &mut rng);
            for s in [&mut a, &mut b] {
                let session = format!("{s:?}");
                let shown = format!("{session} {:?}", s.ratchet_mut());
                for secret in secrets(s.ratchet_mut()) {
                    let hex: alloc::string::String =
                        secret.iter().map(|b| format!("{b:02x}")).collect();
                    assert!(!shown.contains(&hex[..16]), "{shown}");
                    assert!(
                        !shown.contains(&format!("{:?}", &secret[..4])[1..10]),
                        "{shown}"
                    );
                }
                assert!(shown.contains("Session {"), "{shown}");
            }
        }
    }

    #[test]
    fn s7_a_restored_old_state_never_repeats_a_key_and_nonce() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let alice = Account::new(&mut rng);
        let bob = Account::new(&mut rng);
        let bundle = bob.bundle(None).unwrap().verify().unwrap();
        let config = SessionConfig::default();
        let session = Session::initiate(alice.identity(), &bundle, config, &mut rng).unwrap();
        let backup = session.to_bytes();
        // The application restores the same backup twice and sends from each.
        let mut salts = Vec::new();
        for _ in 0..2 {
            let mut s = Session::from_bytes(&backup).unwrap();
            let AnyMessage::PreKey(m) = s.encrypt(b"same message key", &mut rng).unwrap() else {
                panic!()
            };
            let RatchetMessage::Plain(inner) = m.message() else {
                panic!()
            };
            assert_eq!(inner.index(), 0, "both use message key 0 of the same chain");
            salts.push(inner.ciphertext().get(..16).unwrap().to_vec());
        }
        let mut restored = Session::from_bytes(&backup).unwrap();
        let chain = restored.ratchet_mut().chains.sending().unwrap();
        let (message_key, _) = chain.chain_key.step();
        let (k1, n1) = message_key.key_and_nonce(&salts[0]);
        let (k2, n2) = message_key.key_and_nonce(&salts[1]);
        assert_ne!(*k1, *k2, "AES keys differ");
        assert_ne!(n1, n2, "nonces differ");
    }
}
