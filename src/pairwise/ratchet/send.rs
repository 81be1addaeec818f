//! Sending ([SPEC §4](crate::spec), §6): encrypt on the current chain, or stage the
//! deferred half of a DH ratchet step first; write `self` only once the
//! message is sealed.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::{Chains, Ratchet, ReceivingChain, Sender, SendingChain, SendingStep};
use crate::codec::{ArrayBuf, Writer, kind};
use crate::crypto::kdf::{AD_LEN, SALT_LEN};
use crate::crypto::{NONCE_LEN, TAG_LEN};
use crate::error::Error;
use crate::keys::KeyPair;
use crate::pairwise::wire::{EH_MESSAGE_HEADER_LEN, Header, Shape, body_aad};

/// AES-GCM's plaintext limit (2^36 − 32 bytes), checked before anything is drawn.
const MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;

impl Ratchet {
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
        message_key.encrypt(
            &salt,
            body_aad(ad, header_bytes).as_slice(),
            plaintext,
            body,
        )?;
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
}
