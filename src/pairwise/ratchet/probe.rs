//! Cheap questions a record asks of a ratchet before it tries one (SPEC
//! §12): does a message fit a chain it knows, or could it start a new one;
//! did we send on this ratchet key or header key.

use super::{Chains, Fit, Ratchet};
use crate::crypto::kdf::{AD_LEN, HeaderKey};
use crate::keys::PublicKey;
use crate::pairwise::wire::{ENC_HEADER_LEN, HEADER_LEN, RatchetMessage};

impl Ratchet {
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
                        .filter_map(|c| c.header_key.as_deref())
                        .any(opens)
            }
        }
    }

    /// How many header decryptions an encrypted header that no key opens
    /// costs: `HKr` (if any), `NHKr`, and one per older chain with skipped
    /// keys ([SPEC §6](crate::spec)). Zero without header encryption.
    pub(crate) fn header_trials(&self) -> usize {
        let Some(keys) = &self.header_keys else {
            return 0;
        };
        let current = self.chains.receiving().map(|r| r.ratchet_key);
        let older = self
            .skipped
            .chains()
            .filter(|c| Some(c.ratchet_key) != current && c.header_key.is_some())
            .count();
        usize::from(keys.receiving.is_some()) + 1 + older
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
