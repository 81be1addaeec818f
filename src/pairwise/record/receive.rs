//! Receiving (SPEC §12): route a message to the session that can read it,
//! or create one from a prekey message, within a bounded cost.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{Decrypted, SessionRecord};
use crate::config::SessionConfig;
use crate::error::Error;
use crate::keys::IdentityKey;
use crate::pairwise::account::Account;
use crate::pairwise::session::Fit;
use crate::pairwise::wire::{AnyMessage, PreKeyMessage, RatchetMessage};

impl SessionRecord {
    /// Decrypts a message from the peer device (see the type's docs for the
    /// routing and which session becomes current). `config` is used only
    /// when a prekey message creates a session. Draws no randomness.
    ///
    /// When a prekey message creates a session, the **account changes**
    /// too (a one-time prekey is consumed, or the message's base key is
    /// remembered against replays): [`Decrypted::account_changed`] says so,
    /// and the application must then store the account in the same
    /// transaction as the record, or a restart would accept the same
    /// prekey again. A message that is not a prekey message never touches
    /// the account: [`decrypt_ratchet`](Self::decrypt_ratchet) decrypts it
    /// without one.
    ///
    /// If the application cannot store what changed (its database refuses
    /// the transaction), it reloads the record and the account from
    /// storage: the message was not processed.
    ///
    /// # Errors
    /// For a prekey message: the errors of its session's
    /// [`Session::decrypt`](crate::Session::decrypt) or of [`Account::accept`], and
    /// [`Error::IdentityChanged`] if it comes from another identity key
    /// than the record's (nothing changes: see
    /// [`accept_identity`](Self::accept_identity)). For any other message: the first error other than
    /// [`Error::Authentication`] that a session gave (say
    /// [`Error::Duplicate`]), else `Authentication`. The record and the
    /// account are unchanged.
    pub fn decrypt(
        &mut self,
        account: &mut Account,
        message: &AnyMessage,
        config: SessionConfig,
    ) -> Result<Decrypted, Error> {
        match message {
            AnyMessage::PreKey(prekey) => self.decrypt_prekey(account, message, prekey, config),
            AnyMessage::Ratchet(m) => self.decrypt_ratchet(m).map(|plaintext| Decrypted {
                plaintext,
                account_changed: false,
            }),
        }
    }

    /// Decrypts a Double Ratchet message (not a prekey message) from the
    /// peer device, with the routing of [`decrypt`](Self::decrypt): it
    /// needs no account, so an application takes its account lock only for
    /// prekey messages.
    ///
    /// ```
    /// use cliquet::{Account, AnyMessage, SessionConfig, SessionRecord};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
    /// # let config = SessionConfig::default();
    /// # let alice = Account::new(&mut rng);
    /// # let mut bob = Account::new(&mut rng);
    /// # let mut to_bob = SessionRecord::new();
    /// # let mut to_alice = SessionRecord::new();
    /// # to_bob.start_new(alice.identity(), &bob.bundle(None)?.verify()?, config, &mut rng)?;
    /// # let first = to_bob.encrypt(b"hi", &mut rng)?;
    /// # to_alice.decrypt(&mut bob, &first, config)?;
    /// # let reply = to_alice.encrypt(b"hello", &mut rng)?;
    /// # to_bob.decrypt_ratchet(reply.ratchet_message())?;
    /// let wire = to_bob.encrypt(b"no account needed", &mut rng)?.into_bytes();
    /// let plaintext = match AnyMessage::decode(&wire)? {
    ///     AnyMessage::Ratchet(m) => to_alice.decrypt_ratchet(&m)?,
    ///     // A prekey message (and any kind to come) needs the account.
    ///     other => to_alice.decrypt(&mut bob, &other, config)?.plaintext,
    /// };
    /// assert_eq!(plaintext, b"no account needed");
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt) for a message that is not a prekey
    /// message. The record is unchanged.
    pub fn decrypt_ratchet(&mut self, message: &RatchetMessage) -> Result<Vec<u8>, Error> {
        let mut first_error = None;
        let mut note = |e: Error| {
            if e != Error::Authentication && first_error.is_none() {
                first_error = Some(e);
            }
        };
        if let Some(current) = &mut self.current {
            match current.decrypt_ratchet(message) {
                Ok(plaintext) => {
                    // The peer reads this session again: a new notice is a
                    // first one (SPEC §13).
                    self.warning = None;
                    return Ok(plaintext);
                }
                Err(e) => note(e),
            }
        }
        // First the sessions that know the message's chain (a delayed
        // message costs one attempt), then, newest first, those it could
        // start a new chain in. A new chain costs a Diffie-Hellman and N + 1
        // chain steps before the message can authenticate, so those
        // attempts share a budget: a forged message with a large N reaches
        // one archived session, a genuine late one with a small N sixteen.
        let mut found = None;
        let mut budget = NEW_CHAIN_BUDGET;
        for pass in [Fit::KnownChain, Fit::NewChain] {
            for (at, entry) in self.archived.iter_mut().enumerate() {
                if entry.session.fit(message) != pass {
                    continue;
                }
                if pass == Fit::NewChain {
                    let cost = new_chain_cost(message);
                    if cost > budget {
                        break;
                    }
                    budget -= cost;
                }
                match entry.session.decrypt_ratchet(message) {
                    Ok(plaintext) => {
                        found = Some((at, plaintext));
                        break;
                    }
                    Err(e) => note(e),
                }
            }
            if found.is_some() {
                break;
            }
        }
        match found {
            Some((at, plaintext)) => {
                self.after_archived_decrypt(at, false);
                Ok(plaintext)
            }
            None => Err(first_error.unwrap_or(Error::Authentication)),
        }
    }

    pub(super) fn decrypt_prekey(
        &mut self,
        account: &mut Account,
        message: &AnyMessage,
        prekey: &PreKeyMessage,
        config: SessionConfig,
    ) -> Result<Decrypted, Error> {
        let unchanged = |plaintext| Decrypted {
            plaintext,
            account_changed: false,
        };
        let base_key = prekey.base_key();
        if let Some(current) = self.current.as_mut().filter(|s| s.base_key() == base_key) {
            let plaintext = current.decrypt(message)?;
            self.warning = None;
            return Ok(unchanged(plaintext));
        }
        let found = self
            .archived
            .iter_mut()
            .enumerate()
            .find(|(_, a)| a.session.base_key() == base_key);
        if let Some((at, entry)) = found {
            let plaintext = entry.session.decrypt(message)?;
            self.after_archived_decrypt(at, true);
            return Ok(unchanged(plaintext));
        }
        // A prekey message of another identity needs the application's
        // decision first. It changes nothing: anyone can make one.
        if let Some(pinned) = self.identity.pinned
            && pinned.as_bytes() != prekey.identity_key_bytes()
        {
            let theirs = IdentityKey::from_bytes(prekey.identity_key_bytes())?;
            return Err(Error::IdentityChanged(theirs));
        }
        let accepted = account.accept(prekey, config)?;
        self.identity.pinned = Some(*accepted.session.peer_identity_key());
        self.adopt(Box::new(accepted.session));
        Ok(Decrypted {
            plaintext: accepted.plaintext,
            account_changed: true,
        })
    }
}

/// The cost of a Diffie-Hellman in chain steps (an X25519 takes about as
/// long as 64 `KDF_CK` steps).
const DH_COST: u64 = 64;
/// What one message may spend on new chains in archived sessions: one
/// attempt at the default `max_skip`.
const NEW_CHAIN_BUDGET: u64 = DH_COST + SessionConfig::DEFAULT_MAX_SKIP as u64 + 1;

/// What trying `message` as a new chain costs a session, in chain steps.
fn new_chain_cost(message: &RatchetMessage) -> u64 {
    let index = match message {
        RatchetMessage::Plain(m) => m.index(),
        RatchetMessage::EncryptedHeader(_) => SessionConfig::DEFAULT_MAX_SKIP,
    };
    DH_COST + u64::from(index) + 1
}
