//! The ratchet's part of a stored session ([SPEC §7](crate::spec)): its flag bits and its
//! fields, written and loaded here, with its own invariants checked on load.
//!
//! ```text
//! RK (32) || [DHs (32) || CKs (32) || u32be(Ns)] || [DHr (32) || CKr (32) || u32be(Nr)]
//!   || u32be(PN) || [[HKs (32)] || [HKr (32)] || NHKs (32) || NHKr (32)] || skipped keys
//! ```
//!
//! The bracketed parts are present as the flag bits below say. Format
//! version 1 stored `DHs` after `RK` in every session, also while a DH step
//! was pending; version 2 stores it with the sending chain only, as the
//! ratchet keeps it (a version 1 session drops it on load).

use super::skipped::SkippedKeys;
use super::{Chains, HeaderKeys, Ratchet, ReceivingChain, SendingChain};
use crate::codec::{Reader, Writer};
use crate::config::SessionConfig;
use crate::crypto::kdf::{ChainKey, HeaderKey, RootKey};
use crate::error::StateError;
use crate::keys::{KeyPair, PublicKey};
use crate::storage::{self, Format};

/// The session encrypts headers.
const FLAG_HEADER_ENCRYPTION: u8 = 1 << 2;
/// A sending chain is stored.
const FLAG_SENDING: u8 = 1 << 3;
/// A receiving chain is stored.
const FLAG_RECEIVING: u8 = 1 << 4;
/// `HKs` is stored.
const FLAG_HEADER_KEY_SENDING: u8 = 1 << 6;
/// `HKr` is stored.
const FLAG_HEADER_KEY_RECEIVING: u8 = 1 << 7;
/// The bits of the flags byte that belong to the ratchet; the session owns
/// the others.
pub(crate) const RATCHET_FLAGS: u8 = FLAG_HEADER_ENCRYPTION
    | FLAG_SENDING
    | FLAG_RECEIVING
    | FLAG_HEADER_KEY_SENDING
    | FLAG_HEADER_KEY_RECEIVING;

impl Ratchet {
    /// Whether stored flags say the session encrypts headers (the config is
    /// read before the ratchet's fields).
    pub(crate) const fn stored_header_encryption(flags: u8) -> bool {
        flags & FLAG_HEADER_ENCRYPTION != 0
    }

    /// The ratchet's bits of the stored flags byte.
    pub(crate) const fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.chains.sending().is_some() {
            flags |= FLAG_SENDING;
        }
        if self.chains.receiving().is_some() {
            flags |= FLAG_RECEIVING;
        }
        if let Some(keys) = &self.header_keys {
            flags |= FLAG_HEADER_ENCRYPTION | FLAG_HEADER_KEY_SENDING;
            if keys.receiving.is_some() {
                flags |= FLAG_HEADER_KEY_RECEIVING;
            }
        }
        flags
    }

    /// The length [`write`](Self::write) writes.
    pub(crate) fn encoded_len(&self) -> usize {
        let sending = self.chains.sending().map_or(0, |_| 32 + 32 + 4);
        let receiving = self.chains.receiving().map_or(0, |_| 32 + 32 + 4);
        let header_keys = self
            .header_keys
            .as_ref()
            .map_or(0, |k| 32 * (3 + usize::from(k.receiving.is_some())));
        32 + sending
            + receiving
            + 4
            + header_keys
            + self.skipped.encoded_len(self.header_keys.is_some())
    }

    /// Writes the ratchet's fields (the layout in the module docs).
    pub(crate) fn write(&self, w: &mut impl Writer) {
        w.put(self.root_key.as_bytes());
        if let (Some(own), Some(chain)) = (self.chains.own(), self.chains.sending()) {
            w.put(own.secret_bytes());
            w.put(chain.chain_key.as_bytes());
            w.put_u32_be(chain.index);
        }
        if let Some(chain) = self.chains.receiving() {
            w.put(chain.ratchet_key.as_bytes());
            w.put(chain.chain_key.as_bytes());
            w.put_u32_be(chain.index);
        }
        w.put_u32_be(self.previous_chain_length);
        if let Some(keys) = &self.header_keys {
            w.put(keys.sending.as_bytes());
            if let Some(key) = &keys.receiving {
                w.put(key.as_bytes());
            }
            w.put(keys.next_sending.as_bytes());
            w.put(keys.next_receiving.as_bytes());
        }
        self.skipped.write(w);
    }

    /// Loads what [`write`](Self::write) wrote, as the stored `flags` say,
    /// and checks the ratchet's invariants: it has a chain to send or
    /// receive on, `HKs` with header encryption and `HKr` exactly when a
    /// chain was received, and a skipped-key store that
    /// [`SkippedKeys::read`] accepts within the config's limit.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        format: Format,
        flags: u8,
        config: SessionConfig,
    ) -> Result<Self, StateError> {
        let on = |bit: u8| flags & bit != 0;
        let root_key = RootKey::from_bytes(storage::secret(r)?);
        // Version 1: `DHs` always, here.
        let mut own = if format.ratchet_secret_after_root_key() {
            Some(KeyPair::from_secret_bytes(&*storage::secret(r)?))
        } else {
            None
        };
        let sending = if on(FLAG_SENDING) {
            if !format.ratchet_secret_after_root_key() {
                own = Some(KeyPair::from_secret_bytes(&*storage::secret(r)?));
            }
            Some(SendingChain {
                chain_key: ChainKey::from_bytes(storage::secret(r)?),
                index: r.u32_be()?,
            })
        } else {
            None
        };
        let receiving = if on(FLAG_RECEIVING) {
            Some(ReceivingChain {
                ratchet_key: PublicKey::from_bytes(r.array()?),
                chain_key: ChainKey::from_bytes(storage::secret(r)?),
                index: r.u32_be()?,
            })
        } else {
            None
        };
        let chains = match (own, sending, receiving) {
            (Some(own), Some(sending), None) => Chains::Sending { own, sending },
            // A version 1 session's `DHs` of a pending step is dropped here.
            (_, None, Some(receiving)) => Chains::Pending { receiving },
            (Some(own), Some(sending), Some(receiving)) => Chains::Both {
                own,
                sending,
                receiving,
            },
            _ => return Err(StateError::Inconsistent),
        };
        let previous_chain_length = r.u32_be()?;
        let header_keys = if on(FLAG_HEADER_ENCRYPTION) {
            let sending = if on(FLAG_HEADER_KEY_SENDING) {
                Some(HeaderKey::from_bytes(storage::secret(r)?))
            } else {
                None
            };
            let receiving = if on(FLAG_HEADER_KEY_RECEIVING) {
                Some(HeaderKey::from_bytes(storage::secret(r)?))
            } else {
                None
            };
            let (Some(sending), true) =
                (sending, receiving.is_some() == chains.receiving().is_some())
            else {
                return Err(StateError::Inconsistent);
            };
            Some(HeaderKeys {
                sending,
                receiving,
                next_sending: HeaderKey::from_bytes(storage::secret(r)?),
                next_receiving: HeaderKey::from_bytes(storage::secret(r)?),
            })
        } else {
            if on(FLAG_HEADER_KEY_SENDING) || on(FLAG_HEADER_KEY_RECEIVING) {
                return Err(StateError::Inconsistent);
            }
            None
        };
        let skipped = SkippedKeys::read(
            r,
            header_keys.is_some(),
            config.max_skipped_keys_usize(),
            chains.receiving().map(|c| (&c.ratchet_key, c.index)),
        )?;
        Ok(Self {
            config,
            root_key,
            chains,
            previous_chain_length,
            header_keys,
            skipped,
        })
    }
}
