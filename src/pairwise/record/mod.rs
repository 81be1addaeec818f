//! `SessionRecord`: everything one device keeps about one peer device (the
//! current session and the archived ones): routing, promotion and the
//! recovery flow, through `Session`'s API; and its stored form (SPEC §7).

use alloc::boxed::Box;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::codec::{Reader, Writer};
use crate::config::SessionConfig;
use crate::error::{ConfigError, Error, StateError};
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::pairwise::account::Account;
use crate::pairwise::bundle::VerifiedBundle;
use crate::pairwise::session::{Fit, Session};
use crate::pairwise::wire::{
    AnyMessage, DecryptionFailure, PreKeyMessage, RatchetMessage, SessionId,
};
use crate::storage::{self, Secret};

/// Everything one device keeps about one peer device: the current session
/// and up to [`max_archived`](Self::max_archived) archived ones, newest
/// first (libsignal's session record, without I/O).
///
/// # Receiving
/// [`decrypt`](Self::decrypt) routes a [`PreKeyMessage`] to the session
/// with its session id (current or archived) or, if there is none, creates
/// the session through [`Account::accept`]; the previous current session is
/// archived, not lost. Any other message tries the current session, then
/// the archived ones, newest first. Every failure leaves the record and the
/// account exactly as they were.
///
/// # Which session is current
/// A session that decrypts a message becomes current, with deterministic
/// exceptions that make the two sides agree:
///
/// 1. **Simultaneous initiation.** While the current session is one this
///    side initiated and the peer has not acknowledged (no reply decrypted
///    yet), a prekey message of another session (new or archived) makes
///    that session current only if its [`SessionId`] is smaller than the
///    current one's; the other one is archived as having *lost the
///    tie-break*. The peer, in the same situation, compares the same two
///    ids, so once both prekey messages arrive both sides hold the same
///    current session, whatever the order, losses or repetitions (an
///    initiator keeps sending prekey messages until it is acknowledged, so
///    one of them arriving is enough).
/// 2. **Waiting for an answer.** While the current session is this side's
///    unacknowledged initiation, a normal message decrypted by an archived
///    session does not promote it: the peer is about to switch to our new
///    session, and switching back would race with it.
/// 3. **Late prekey messages** of a session that lost a tie-break do not
///    promote it (the peer sent them before it learned the outcome); a
///    normal message on it does (the peer chose it: the two sides compared
///    different pairs, say after one of them started over).
/// 4. **Abandoned sessions** (replaced by [`start_new`](Self::start_new),
///    or reported broken by a [`DecryptionFailure`]) still decrypt delayed
///    messages but are promoted only by rule 1.
///
/// A new session created by a prekey message becomes current unless rule 1
/// keeps the current one.
///
/// # Bounded cost
/// At most `max_archived` archived sessions are kept (the oldest is
/// dropped). Together they keep at most
/// [`max_archived_skipped_keys`](Self::max_archived_skipped_keys) skipped
/// message keys, evicted from the oldest archived sessions first. A decrypt
/// tries each archived session at most once, with cheap comparisons first:
/// it skips those whose header mode differs or whose state rules out a
/// plain message's ratchet key (not its receiving chain nor a stored
/// skipped chain, and no new chain possible: it has not sent since its last
/// ratchet step, or `PN` is below what it already received), and tries
/// those that know the message's chain (one attempt finds a delayed
/// message); those where it would start a new chain (a Diffie-Hellman and
/// `N + 1` chain steps before it can authenticate) share a budget of one
/// attempt at `N = max_skip`, newest first: a forged message with a large
/// `N` costs at most two sessions' worth of work (the current one and the
/// newest archived one), not forty-one, while a genuine late message with a
/// small `N` still reaches the sixteen newest archived sessions. With header encryption an
/// attempt costs only header decryptions unless a next header key opens
/// the header.
///
/// # Recovery
/// 1. The receiver's [`decrypt`](Self::decrypt) fails. It asks
///    [`decryption_failure`](Self::decryption_failure) whether the failure
///    means its record cannot read the sender's session (rather than, say,
///    a replayed message); if so it gets a [`DecryptionFailure`], and the
///    application sends its bytes back to the sender.
/// 2. The sender's application decodes it and hands it to
///    [`on_decryption_failure`](Self::on_decryption_failure), which
///    abandons the current session if the notice names it.
/// 3. [`needs_new_session`](Self::needs_new_session) is then true and
///    [`encrypt`](Self::encrypt) fails with [`Error::NoSession`]: the application
///    fetches a fresh bundle of the peer and calls
///    [`start_new`](Self::start_new); its next message is a prekey message
///    that the receiver accepts into a new session.
///
/// ```
/// use cliquet::{Account, DecryptionFailure, SessionConfig, SessionRecord};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
/// let config = SessionConfig::default();
/// let mut alice = Account::new(&mut rng);
/// let mut bob = Account::new(&mut rng);
/// let mut alice_to_bob = SessionRecord::new();
/// let mut bob_to_alice = SessionRecord::new();
///
/// // Both start a session at the same moment, from each other's bundle.
/// alice_to_bob.start_new(alice.identity(), &bob.bundle(None)?.verify()?, config, &mut rng)?;
/// bob_to_alice.start_new(bob.identity(), &alice.bundle(None)?.verify()?, config, &mut rng)?;
/// let hi_bob = alice_to_bob.encrypt(b"hi Bob", &mut rng)?;
/// let hi_alice = bob_to_alice.encrypt(b"hi Alice", &mut rng)?;
/// assert_eq!(bob_to_alice.decrypt(&mut bob, &hi_bob, config)?.plaintext, b"hi Bob");
/// assert_eq!(alice_to_bob.decrypt(&mut alice, &hi_alice, config)?.plaintext, b"hi Alice");
/// // The tie-break chose the same session on both sides.
/// let current = |r: &SessionRecord| r.current().map(|s| s.session_id());
/// assert_eq!(current(&alice_to_bob), current(&bob_to_alice));
/// // One round trip, and both sessions are acknowledged.
/// let m = alice_to_bob.encrypt(b"good", &mut rng)?;
/// bob_to_alice.decrypt(&mut bob, &m, config)?;
/// let m = bob_to_alice.encrypt(b"good", &mut rng)?;
/// alice_to_bob.decrypt(&mut alice, &m, config)?;
/// assert!(alice_to_bob.current().is_some_and(|s| s.is_acknowledged()));
///
/// // Bob loses his record; Alice's next message cannot be decrypted.
/// let mut bob_to_alice = SessionRecord::new();
/// let lost = alice_to_bob.encrypt(b"are you there?", &mut rng)?;
/// let error = bob_to_alice.decrypt(&mut bob, &lost, config).unwrap_err();
/// let notice = bob_to_alice
///     .decryption_failure(&lost, &error, bob.identity(), alice.identity_key())
///     .expect("no session could read it");
///
/// // Bob's application sends the notice back; Alice's hands it to her record.
/// let notice = DecryptionFailure::decode(&notice.to_bytes())?;
/// assert!(alice_to_bob.on_decryption_failure(&notice, alice.identity_key()));
/// assert!(alice_to_bob.needs_new_session());
/// alice_to_bob.start_new(alice.identity(), &bob.bundle(None)?.verify()?, config, &mut rng)?;
/// let again = alice_to_bob.encrypt(b"again", &mut rng)?;
/// assert_eq!(bob_to_alice.decrypt(&mut bob, &again, config)?.plaintext, b"again");
/// # Ok::<(), cliquet::Error>(())
/// ```
pub struct SessionRecord {
    /// Sessions are boxed so that moving them (promotion, archiving) moves
    /// a pointer, never their secrets: a moved-from heap block is freed
    /// without being zeroized.
    current: Option<Box<Session>>,
    /// Newest first.
    archived: VecDeque<Archived>,
    max_archived: u32,
    max_archived_skipped_keys: u32,
    identity: Identity,
}

/// What a record knows of its peer's identity key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Identity {
    /// The peer's identity key, pinned by the record's first session (or by
    /// the application): every session of the record is under it, and it
    /// stays when the sessions go.
    pinned: Option<IdentityKey>,
    /// The user compared safety numbers for the pinned key.
    verified: bool,
    /// Another identity key this side was asked to start a session with,
    /// waiting for the application's decision.
    changed: Option<IdentityKey>,
}

/// What [`SessionRecord::decrypt`] produced: the plaintext, and whether
/// the account changed with it. Its `Debug` shows the plaintext's length,
/// never the plaintext.
#[non_exhaustive]
pub struct Decrypted {
    /// The decrypted message.
    pub plaintext: Vec<u8>,
    /// Whether a prekey message created a session, which changes the
    /// account (a one-time prekey consumed, or the base key remembered):
    /// store the account in the same transaction as the record.
    pub account_changed: bool,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("account_changed", &self.account_changed)
            .finish()
    }
}

/// An archived session.
#[derive(Debug)]
struct Archived {
    session: Box<Session>,
    standing: Standing,
}

/// Why a session was archived: what may promote it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Replaced by another session: any message it decrypts promotes it.
    Replaced,
    /// Lost a simultaneous-initiation tie-break: a normal message promotes
    /// it, a late prekey message does not.
    LostTieBreak,
    /// Abandoned by this side or reported broken by the peer: only a
    /// tie-break promotes it.
    Abandoned,
}

impl Standing {
    /// The stored byte.
    const fn to_byte(self) -> u8 {
        match self {
            Self::Replaced => 0,
            Self::LostTieBreak => 1,
            Self::Abandoned => 2,
        }
    }

    /// From the stored byte.
    const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Replaced),
            1 => Some(Self::LostTieBreak),
            2 => Some(Self::Abandoned),
            _ => None,
        }
    }
}

impl SessionRecord {
    /// Default number of archived sessions kept.
    pub const DEFAULT_MAX_ARCHIVED: u32 = 40;
    /// Default budget of skipped message keys shared by the archived sessions.
    pub const DEFAULT_MAX_ARCHIVED_SKIPPED_KEYS: u32 = 2000;
    /// The largest `max_archived` accepted: it bounds the sessions one
    /// decrypt may try.
    pub const LIMIT_MAX_ARCHIVED: u32 = 1024;

    /// An empty record with the default limits.
    pub const fn new() -> Self {
        Self {
            current: None,
            archived: VecDeque::new(),
            max_archived: Self::DEFAULT_MAX_ARCHIVED,
            max_archived_skipped_keys: Self::DEFAULT_MAX_ARCHIVED_SKIPPED_KEYS,
            identity: Identity {
                pinned: None,
                verified: false,
                changed: None,
            },
        }
    }

    /// An empty record keeping at most `max_archived` archived sessions,
    /// which together keep at most `max_archived_skipped_keys` skipped keys.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the limit broken: `max_archived` exceeds
    /// [`LIMIT_MAX_ARCHIVED`](Self::LIMIT_MAX_ARCHIVED) or
    /// `max_archived_skipped_keys` exceeds
    /// [`SessionConfig::LIMIT_MAX_SKIPPED_KEYS`].
    pub const fn with_limits(
        max_archived: u32,
        max_archived_skipped_keys: u32,
    ) -> Result<Self, Error> {
        if max_archived > Self::LIMIT_MAX_ARCHIVED {
            return Err(Error::InvalidConfig(ConfigError::MaxArchivedAboveLimit));
        }
        if max_archived_skipped_keys > SessionConfig::LIMIT_MAX_SKIPPED_KEYS {
            return Err(Error::InvalidConfig(
                ConfigError::MaxArchivedSkippedKeysAboveLimit,
            ));
        }
        let mut record = Self::new();
        record.max_archived = max_archived;
        record.max_archived_skipped_keys = max_archived_skipped_keys;
        Ok(record)
    }

    /// The session [`encrypt`](Self::encrypt) uses, if any.
    pub fn current(&self) -> Option<&Session> {
        self.current.as_deref()
    }

    /// The archived sessions, newest first.
    pub fn archived(&self) -> impl ExactSizeIterator<Item = &Session> {
        self.archived.iter().map(|a| &*a.session)
    }

    /// Whether the record holds a session with this id (current or archived).
    pub fn contains(&self, id: &SessionId) -> bool {
        self.sessions().any(|s| s.session_id() == *id)
    }

    /// Most archived sessions kept.
    pub const fn max_archived(&self) -> u32 {
        self.max_archived
    }

    /// Most skipped keys the archived sessions keep together.
    pub const fn max_archived_skipped_keys(&self) -> u32 {
        self.max_archived_skipped_keys
    }

    /// The peer's identity key, pinned by the record's first session (or
    /// [`mark_verified`](Self::mark_verified)). A record belongs to one
    /// peer identity: it keeps it when its sessions go, and a session
    /// under another identity key needs the application's decision
    /// ([`accept_identity`](Self::accept_identity)).
    pub const fn peer_identity_key(&self) -> Option<&IdentityKey> {
        self.identity.pinned.as_ref()
    }

    /// Whether the user verified the pinned identity key (compared safety
    /// numbers, [`SafetyNumber`](crate::SafetyNumber)); a change of
    /// identity clears it.
    pub const fn is_verified(&self) -> bool {
        self.identity.verified
    }

    /// Records that the user verified `identity` (compared safety numbers
    /// with its owner). Pins it if the record has no identity yet.
    ///
    /// # Errors
    /// [`Error::IdentityChanged`] if `identity` is not the pinned key (a
    /// number computed for another key was compared); nothing changes.
    pub fn mark_verified(&mut self, identity: &IdentityKey) -> Result<(), Error> {
        match self.identity.pinned {
            Some(pinned) if pinned != *identity => Err(Error::IdentityChanged(*identity)),
            _ => {
                self.identity.pinned = Some(*identity);
                self.identity.verified = true;
                Ok(())
            }
        }
    }

    /// The other identity key this side was asked to start a session with
    /// ([`start_new`](Self::start_new) failed with
    /// [`Error::IdentityChanged`]) and that the application has not yet
    /// accepted or refused. While there is one, [`encrypt`](Self::encrypt)
    /// refuses: nothing leaves for the old key or the new one until the
    /// user decides.
    pub const fn changed_identity(&self) -> Option<&IdentityKey> {
        self.identity.changed.as_ref()
    }

    /// The application's decision that `identity` is now the peer's
    /// identity key (after showing the user the new safety number). The
    /// sessions under the old key are dropped (their peer cannot read them
    /// any more, or was never the peer), the verified mark is cleared, and
    /// a prekey message or a bundle of `identity` is then accepted.
    pub fn accept_identity(&mut self, identity: &IdentityKey) {
        if self.identity.pinned != Some(*identity) {
            self.current = None;
            self.archived.clear();
            self.identity.verified = false;
        }
        self.identity.pinned = Some(*identity);
        self.identity.changed = None;
    }

    /// The application's decision to keep the pinned identity key: forgets
    /// the [`changed_identity`](Self::changed_identity), so that
    /// [`encrypt`](Self::encrypt) works again with the current session.
    pub fn refuse_identity_change(&mut self) {
        self.identity.changed = None;
    }

    /// Whether there is no current session: the record is new, or a
    /// [`DecryptionFailure`] abandoned the current one. Fetch the peer's
    /// bundle and call [`start_new`](Self::start_new) before sending.
    pub const fn needs_new_session(&self) -> bool {
        self.current.is_none()
    }

    /// Starts a new session from the peer's verified bundle; it becomes
    /// current and the previous current session is archived as abandoned.
    /// Draws as [`Session::initiate`] does. Returns the new session's id.
    ///
    /// # Errors
    /// [`Error::IdentityChanged`] if the bundle's identity key is not the
    /// record's pinned one: no session is created, and the record notes the
    /// new key ([`changed_identity`](Self::changed_identity)) so that
    /// nothing is sent until the application accepts or refuses it. The
    /// errors of [`Session::initiate`], the record unchanged.
    pub fn start_new(
        &mut self,
        identity: &IdentityKeyPair,
        bundle: &VerifiedBundle,
        config: SessionConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SessionId, Error> {
        let theirs = bundle.identity_key();
        if self.identity.pinned.is_some_and(|pinned| pinned != *theirs) {
            self.identity.changed = Some(*theirs);
            return Err(Error::IdentityChanged(*theirs));
        }
        let session = Box::new(Session::initiate(identity, bundle, config, rng)?);
        let id = session.session_id();
        self.identity.pinned = Some(*theirs);
        self.replace_current(session, Standing::Abandoned);
        self.enforce_limits();
        Ok(id)
    }

    /// Encrypts with the current session (see [`Session::encrypt`]).
    ///
    /// # Errors
    /// [`Error::IdentityChanged`] while a [`changed_identity`](Self::changed_identity)
    /// waits for the application's decision; [`Error::NoSession`] when
    /// there is no current session ([`needs_new_session`](Self::needs_new_session));
    /// nothing drawn in either case. The errors of [`Session::encrypt`].
    /// The record is unchanged.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<AnyMessage, Error> {
        if let Some(changed) = self.identity.changed {
            return Err(Error::IdentityChanged(changed));
        }
        match &mut self.current {
            None => Err(Error::NoSession),
            Some(session) => session.encrypt(plaintext, rng),
        }
    }

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
    /// [`Session::decrypt`] or of [`Account::accept`], and
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
    ///     prekey @ AnyMessage::PreKey(_) => to_alice.decrypt(&mut bob, &prekey, config)?.plaintext,
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
                Ok(plaintext) => return Ok(plaintext),
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

    /// Handles a notice that the peer could not decrypt a message;
    /// `identity` is this device's identity key. The notice counts only if
    /// the record's pinned peer identity key signed it for `identity`, so
    /// nobody else can make the record drop a session. If it names the
    /// current session, that session is abandoned and
    /// [`needs_new_session`](Self::needs_new_session) turns true. A notice
    /// names a session by its id when the failed message was a prekey
    /// message: it counts only while the current session still sends
    /// prekey messages (once a reply decrypted, the peer demonstrably holds
    /// the session and the notice is about a late copy). Otherwise it names
    /// the ratchet key of the failed message, which must be the one the
    /// current session last sent with and the peer has not answered with a
    /// new chain, or (header encryption) carries its encrypted header,
    /// which the current sending header key must open. Returns whether the
    /// record changed; a notice that is not signed by the peer, names
    /// nothing, or names an archived or unknown session or a chain the peer
    /// has moved past, is ignored.
    pub fn on_decryption_failure(
        &mut self,
        notice: &DecryptionFailure,
        identity: &IdentityKey,
    ) -> bool {
        let Some(current) = &self.current else {
            return false;
        };
        let signed = self
            .identity
            .pinned
            .is_some_and(|peer| notice.verify(&peer, identity).is_ok());
        if !signed {
            return false;
        }
        let names_current = match (
            notice.session_id(),
            notice.ratchet_key(),
            notice.encrypted_header(),
        ) {
            (Some(id), _, _) => awaiting_answer(current) && current.session_id() == *id,
            (None, Some(key), _) => current.sends_with(key),
            (None, None, Some(header)) => current.sent_header(header),
            (None, None, None) => false,
        };
        if !names_current {
            return false;
        }
        if let Some(session) = self.current.take() {
            self.archived.push_front(Archived {
                session,
                standing: Standing::Abandoned,
            });
        }
        self.enforce_limits();
        true
    }

    /// The notice to send back after [`decrypt`](Self::decrypt) failed
    /// with `error` on `message`, signed by `identity` (this device) for
    /// `peer` (the device the transport says sent it: the record's
    /// [`peer_identity_key`](Self::peer_identity_key), or after losing the
    /// record, the key the application knows for that contact), if the
    /// failure can mean that the peer sends on a session this record cannot
    /// (or no longer) read:
    ///
    /// - [`Error::Authentication`], [`Error::UnknownPreKey`] or
    ///   [`Error::InvalidKey`], except for a message on a chain some session
    ///   receives on (its ratchet key, or with header encryption a header
    ///   that the chain's header key opens): a corrupted or forged copy,
    ///   and that session is fine;
    /// - [`Error::Duplicate`] for a prekey message of a session that is not
    ///   current here: a peer that restored an old state sends fresh prekey
    ///   messages under message numbers already used, and would never learn
    ///   otherwise. (A network duplicate of such a message yields a notice
    ///   that the peer ignores: it no longer waits on that session.)
    ///
    /// `None` otherwise: duplicates on live sessions, too many skipped keys,
    /// malformed input; the peer's session must not be replaced for those.
    pub fn decryption_failure(
        &self,
        message: &AnyMessage,
        error: &Error,
        identity: &IdentityKeyPair,
        peer: &IdentityKey,
    ) -> Option<DecryptionFailure> {
        let unreadable = matches!(
            error,
            Error::Authentication | Error::UnknownPreKey | Error::InvalidKey
        );
        let due = match message {
            AnyMessage::Ratchet(m) => unreadable && !self.sessions().any(|s| s.receives_on(m)),
            AnyMessage::PreKey(m) => {
                unreadable
                    || (*error == Error::Duplicate
                        && self
                            .current
                            .as_ref()
                            .is_none_or(|s| s.base_key() != m.base_key()))
            }
        };
        due.then(|| DecryptionFailure::for_message(message, identity, peer))
    }

    /// Every session, current first, then the archived ones newest first.
    fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.current.as_deref().into_iter().chain(self.archived())
    }

    fn decrypt_prekey(
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
            return current.decrypt(message).map(unchanged);
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

    /// The archived session at `at` decrypted a message: promote it, or
    /// not, by the rules on the type.
    fn after_archived_decrypt(&mut self, at: usize, prekey: bool) {
        let Some(entry) = self.archived.get_mut(at) else {
            return;
        };
        let promote = match &self.current {
            None => entry.standing != Standing::Abandoned,
            Some(current) if awaiting_answer(current) => {
                let wins = prekey && entry.session.session_id() < current.session_id();
                if prekey && !wins && entry.standing == Standing::Replaced {
                    entry.standing = Standing::LostTieBreak;
                }
                wins
            }
            Some(_) => match entry.standing {
                Standing::Replaced => true,
                Standing::LostTieBreak => !prekey,
                Standing::Abandoned => false,
            },
        };
        if promote && let Some(entry) = self.archived.remove(at) {
            let standing = self.standing_of_replaced();
            self.replace_current(entry.session, standing);
        }
        self.enforce_limits();
    }

    /// A prekey message created `session`: it becomes current unless the
    /// tie-break keeps our own unanswered initiation.
    fn adopt(&mut self, session: Box<Session>) {
        match &self.current {
            Some(current)
                if awaiting_answer(current) && current.session_id() < session.session_id() =>
            {
                self.archived.push_front(Archived {
                    session,
                    standing: Standing::LostTieBreak,
                });
            }
            Some(_) => {
                let standing = self.standing_of_replaced();
                self.replace_current(session, standing);
            }
            None => self.current = Some(session),
        }
        self.enforce_limits();
    }

    /// How the current session is archived when a session the peer sent
    /// on replaces it: as a tie-break loser if it was our own unanswered
    /// initiation.
    fn standing_of_replaced(&self) -> Standing {
        if self.current.as_deref().is_some_and(awaiting_answer) {
            Standing::LostTieBreak
        } else {
            Standing::Replaced
        }
    }

    fn replace_current(&mut self, session: Box<Session>, standing: Standing) {
        if let Some(old) = self.current.replace(session) {
            self.archived.push_front(Archived {
                session: old,
                standing,
            });
        }
    }

    /// Drops the oldest archived sessions beyond `max_archived`, then evicts
    /// skipped keys from the oldest archived sessions until the budget holds.
    fn enforce_limits(&mut self) {
        let max = usize::try_from(self.max_archived).unwrap_or(usize::MAX);
        self.archived.truncate(max);
        let budget = usize::try_from(self.max_archived_skipped_keys).unwrap_or(usize::MAX);
        let mut total: usize = self.archived().map(Session::skipped_keys).sum();
        for entry in self.archived.iter_mut().rev() {
            if total <= budget {
                break;
            }
            let session = &mut entry.session;
            let before = session.skipped_keys();
            session.evict_skipped_to(before.saturating_sub(total.saturating_sub(budget)));
            total = total.saturating_sub(before.saturating_sub(session.skipped_keys()));
        }
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

/// An initiated session the peer has not answered yet.
fn awaiting_answer(session: &Session) -> bool {
    session.is_initiator() && !session.is_acknowledged()
}

impl Default for SessionRecord {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("current", &self.current)
            .field("archived", &self.archived.len())
            .field(
                "abandoned",
                &self
                    .archived
                    .iter()
                    .filter(|a| a.standing == Standing::Abandoned)
                    .count(),
            )
            .field("max_archived", &self.max_archived)
            .field("max_archived_skipped_keys", &self.max_archived_skipped_keys)
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    /// The record's whole state in the storage format of SPEC §7: every
    /// session in the session format of [`Session::to_bytes`], unchanged.
    /// Keep it secret; prefer [`seal`](Self::seal).
    ///
    /// ```text
    /// 0x22 || version (1) || u32be(max_archived) || u32be(max_archived_skipped_keys)
    ///      || flag [|| pinned IK (32)] || verified flag || flag [|| changed IK (32)]
    ///      || flag (current present) [|| u32be(len) || session (len)]
    ///      || u32be(count) || count × (standing (1) || u32be(len) || session (len))
    /// ```
    ///
    /// Archived sessions are stored newest first; `standing` says why one
    /// was archived (0 replaced, 1 lost a tie-break, 2 abandoned), which
    /// decides what may make it current again.
    ///
    /// ```
    /// use cliquet::{Account, SessionConfig, SessionRecord};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([8; 32]);
    /// let alice = Account::new(&mut rng);
    /// let bob = Account::new(&mut rng);
    /// let mut record = SessionRecord::new();
    /// let bundle = bob.bundle(None)?.verify()?;
    /// record.start_new(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
    /// record.start_new(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
    /// let restored = SessionRecord::from_bytes(&record.to_bytes())?;
    /// assert_eq!(restored.to_bytes(), record.to_bytes());
    /// assert_eq!(restored.archived().len(), 1);
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Secret {
        let nested = |s: &Session| 4 + s.encoded_len();
        let key = |k: Option<IdentityKey>| 1 + k.map_or(0, |_| 32);
        let len = 2
            + 8
            + key(self.identity.pinned)
            + 1
            + key(self.identity.changed)
            + 1
            + self.current.as_deref().map_or(0, nested)
            + 4
            + self
                .archived
                .iter()
                .map(|a| 1 + nested(&a.session))
                .sum::<usize>();
        let mut out = storage::start(storage::RECORD, len);
        out.put_u32_be(self.max_archived);
        out.put_u32_be(self.max_archived_skipped_keys);
        write_identity(&mut out, self.identity.pinned.as_ref());
        out.put_flag(self.identity.verified);
        write_identity(&mut out, self.identity.changed.as_ref());
        out.put_flag(self.current.is_some());
        if let Some(session) = &self.current {
            session.write_nested(&mut out);
        }
        out.put_len(self.archived.len());
        for entry in &self.archived {
            out.put_u8(entry.standing.to_byte());
            entry.session.write_nested(&mut out);
        }
        out
    }

    /// Loads a record stored by [`to_bytes`](Self::to_bytes) (any format
    /// version up to this library's; a version 1 record, which did not
    /// store its peer's identity key, takes it from its sessions).
    ///
    /// # Errors
    /// [`Error::State`]: wrong kind, newer version, truncated, trailing or
    /// inconsistent input (a session that does not load, more archived
    /// sessions or skipped keys than the record's limits, a session of
    /// another identity key than the record's, or the same session twice).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::read(bytes).map_err(Error::State)
    }

    fn read(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader::new(bytes);
        let version = storage::header(&mut r, storage::RECORD)?;
        let mut record =
            Self::with_limits(r.u32_be()?, r.u32_be()?).map_err(|_| StateError::Inconsistent)?;
        if version > 1 {
            record.identity = Identity {
                pinned: read_identity(&mut r)?,
                verified: r.flag()?,
                changed: read_identity(&mut r)?,
            };
        }
        if r.flag()? {
            record.current = Some(Box::new(Session::read_nested(&mut r)?));
        }
        let n = storage::count(&mut r, 1 + 4)?;
        if n > usize::try_from(record.max_archived).unwrap_or(usize::MAX) {
            return Err(StateError::Inconsistent);
        }
        for _ in 0..n {
            let standing = Standing::from_byte(r.u8()?).ok_or(StateError::Inconsistent)?;
            let session = Box::new(Session::read_nested(&mut r)?);
            record.archived.push_back(Archived { session, standing });
        }
        r.finish()?;
        if version == 1 {
            let first = record.sessions().next().map(|s| *s.peer_identity_key());
            record.identity.pinned = first;
        }
        let Identity {
            pinned,
            verified,
            changed,
        } = record.identity;
        let unpinned = pinned.is_none() && (verified || changed.is_some());
        if unpinned || changed.is_some() && changed == pinned {
            return Err(StateError::Inconsistent);
        }
        let skipped: usize = record.archived().map(Session::skipped_keys).sum();
        let budget = usize::try_from(record.max_archived_skipped_keys).unwrap_or(usize::MAX);
        let mut base_keys = BTreeSet::new();
        for session in record.sessions() {
            if Some(*session.peer_identity_key()) != pinned
                || !base_keys.insert(*session.base_key())
            {
                return Err(StateError::Inconsistent);
            }
        }
        if skipped > budget {
            return Err(StateError::Inconsistent);
        }
        Ok(record)
    }
}

/// `flag [|| IK (32)]`.
fn write_identity(w: &mut impl Writer, identity: Option<&IdentityKey>) {
    w.put_flag(identity.is_some());
    if let Some(key) = identity {
        w.put(key.as_bytes());
    }
}

fn read_identity(r: &mut Reader<'_>) -> Result<Option<IdentityKey>, StateError> {
    if !r.flag()? {
        return Ok(None);
    }
    let key = IdentityKey::from_bytes(&r.array()?).map_err(|_| StateError::Inconsistent)?;
    Ok(Some(key))
}

storage::sealed_storage!(SessionRecord, storage::RECORD, "record");

impl SessionRecord {
    /// Opens a sealed record (see [`open`](Self::open)) that must belong to
    /// `peer`: a record of another peer, swapped in by whoever can write
    /// the application's storage, is refused even if it was sealed under
    /// the same key and context. A record that has no peer yet opens.
    ///
    /// # Errors
    /// [`StateError::OtherPeer`] for a record of another identity key, and
    /// the errors of [`open`](Self::open).
    pub fn open_for_peer(
        sealed: &[u8],
        storage_key: &[u8; 32],
        context: &[u8],
        peer: &IdentityKey,
    ) -> Result<Self, Error> {
        let record = Self::open(sealed, storage_key, context)?;
        match record.peer_identity_key() {
            Some(pinned) if pinned != peer => Err(StateError::OtherPeer.into()),
            _ => Ok(record),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::Message;
    use crate::pairwise::ratchet::receive::NEW_CHAIN_TRIALS;

    /// A record with a current session and `archived` archived ones, each
    /// of which has sent since its last ratchet step, so that a plain
    /// message with an unknown ratchet key passes every cheap filter.
    fn record_of_senders(archived: usize) -> (SessionRecord, Message) {
        let mut rng = ChaCha20Rng::from_seed([21; 32]);
        let config = SessionConfig::default();
        let alice = Account::new(&mut rng);
        let mut bob = Account::new(&mut rng);
        let mut record = SessionRecord::new();
        let mut genuine = None;
        for _ in 0..=archived {
            let bundle = bob.bundle(None).unwrap().verify().unwrap();
            record
                .start_new(alice.identity(), &bundle, config, &mut rng)
                .unwrap();
            let AnyMessage::PreKey(first) = record.encrypt(b"hi", &mut rng).unwrap() else {
                panic!("a prekey message")
            };
            let mut theirs = bob.accept(&first, config).unwrap().session;
            let reply = theirs.encrypt(b"reply", &mut rng).unwrap();
            record.decrypt(&mut bob, &reply, config).unwrap();
            record.encrypt(b"sent since", &mut rng).unwrap();
            genuine = Some(theirs.encrypt(b"later", &mut rng).unwrap());
        }
        assert_eq!(record.archived().len(), archived);
        let Some(AnyMessage::Ratchet(RatchetMessage::Plain(m))) = genuine else {
            panic!("a plain message")
        };
        (record, m)
    }

    #[test]
    fn bounded_cost_a_forged_message_starts_at_most_two_new_chains() {
        let (mut record, genuine) = record_of_senders(40);
        let mut account = Account::new(&mut ChaCha20Rng::from_seed([1; 32]));
        // A random ratchet key with PN = N = 1000: a new chain for the
        // current session and for every archived one.
        let mut forged = genuine.as_bytes().to_vec();
        forged[1..33].copy_from_slice(&[0x42; 32]);
        forged[33..37].copy_from_slice(&1000u32.to_be_bytes());
        forged[37..41].copy_from_slice(&1000u32.to_be_bytes());
        let forged = AnyMessage::decode(&forged).unwrap();
        let before = record.to_bytes();
        NEW_CHAIN_TRIALS.with(|n| n.set(0));
        let result = record.decrypt(&mut account, &forged, SessionConfig::default());
        assert_eq!(result.err(), Some(Error::Authentication));
        // The current session, and the newest archived one.
        assert_eq!(NEW_CHAIN_TRIALS.with(core::cell::Cell::get), 2);
        assert_eq!(record.to_bytes(), before);
        // With a small N, the budget covers 16 archived sessions.
        let mut small = genuine.as_bytes().to_vec();
        small[1..33].copy_from_slice(&[0x42; 32]);
        small[33..37].copy_from_slice(&1000u32.to_be_bytes());
        small[37..41].copy_from_slice(&[0; 4]);
        let small = AnyMessage::decode(&small).unwrap();
        NEW_CHAIN_TRIALS.with(|n| n.set(0));
        let result = record.decrypt(&mut account, &small, SessionConfig::default());
        assert_eq!(result.err(), Some(Error::Authentication));
        assert_eq!(NEW_CHAIN_TRIALS.with(core::cell::Cell::get), 1 + 16);
    }
}
