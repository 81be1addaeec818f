//! The Double Ratchet ([SPEC §4](crate::spec)) with optional header encryption ([SPEC §6](crate::spec)).
//!
//! Both directions stage, then commit: encrypt and decrypt compute every
//! change into locals (a [`Commit`], a staged sending step) and write `self`
//! only once nothing can fail any more, so a failed call changes nothing. The
//! second half of a DH ratchet step (new `DHs`, sending chain) is deferred
//! to the next encrypt: [`Chains::Pending`].
//!
//! Here: the state and its two constructors. Beside it: `send`, `receive`,
//! `probe` (what a record asks before it tries a ratchet), `skipped` (the
//! skipped-key store) and `storage` (the stored form).

mod probe;
pub(crate) mod receive;
mod send;
mod skipped;
pub(crate) mod storage;
#[cfg(test)]
mod tests;

use rand_core::CryptoRng;

use self::skipped::{KeyRun, SkippedKeys};
use crate::config::SessionConfig;
use crate::crypto::kdf::{ChainKey, HeaderKey, RootKey, SharedSecrets};
use crate::error::Error;
use crate::keys::{KeyPair, PublicKey};

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
    #[inline]
    const fn own(&self) -> Option<&KeyPair> {
        match self {
            Self::Sending { own, .. } | Self::Both { own, .. } => Some(own),
            Self::Pending { .. } => None,
        }
    }

    #[inline]
    const fn sending(&self) -> Option<&SendingChain> {
        match self {
            Self::Sending { sending, .. } | Self::Both { sending, .. } => Some(sending),
            Self::Pending { .. } => None,
        }
    }

    #[inline]
    const fn receiving(&self) -> Option<&ReceivingChain> {
        match self {
            Self::Pending { receiving } | Self::Both { receiving, .. } => Some(receiving),
            Self::Sending { .. } => None,
        }
    }

    #[inline]
    fn receiving_mut(&mut self) -> Option<&mut ReceivingChain> {
        match self {
            Self::Pending { receiving } | Self::Both { receiving, .. } => Some(receiving),
            Self::Sending { .. } => None,
        }
    }

    #[inline]
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

    #[inline]
    fn receiving_header_key(&self) -> Option<&HeaderKey> {
        self.header_keys.as_ref().and_then(|k| k.receiving.as_ref())
    }

    /// The session's limits and mode.
    #[inline]
    pub(crate) const fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether headers are encrypted.
    #[inline]
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

#[cfg(test)]
impl Ratchet {
    /// Two ratchets that share a first secret, built without an account,
    /// a bundle or a session: Alice's after her first message, and Bob's
    /// after he decrypted it. Returns them with their associated data.
    pub(crate) fn pair_for_tests(
        config: SessionConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> (Self, Self, [u8; crate::crypto::kdf::AD_LEN]) {
        use alloc::vec::Vec;

        use crate::crypto::kdf;
        use crate::pairwise::wire::RatchetMessage;
        let shared = || {
            kdf::x3dh(
                [&[1; 32], &[2; 32], &[3; 32]],
                None,
                None,
                &[4; 32],
                &[5; 32],
            )
        };
        let bob_signed_prekey = KeyPair::generate(rng);
        let mut alice = Self::initiator(&shared(), bob_signed_prekey.public(), config, rng)
            .unwrap_or_else(|_| unreachable!("a fresh key pair is not of small order"));
        let ad = shared().associated_data;
        let mut wire = Vec::new();
        let shape = alice
            .encrypt_into(&ad, b"first", rng, &[], &mut wire)
            .unwrap_or_else(|_| unreachable!("a new chain encrypts"));
        let first = RatchetMessage::from_shape(wire, 0, shape);
        let mut plaintext = Vec::new();
        let bob = Self::responder(
            &shared(),
            &bob_signed_prekey,
            config,
            &first,
            &mut plaintext,
        )
        .unwrap_or_else(|_| unreachable!("the first message opens"));
        assert_eq!(plaintext, b"first");
        (alice, bob, ad)
    }
}
