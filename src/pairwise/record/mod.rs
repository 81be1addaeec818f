//! `SessionRecord`: everything one device keeps about one peer device (the
//! current session and the archived ones), SPEC §12.
//!
//! Here: the record, its limits, starting a session and encrypting. Beside
//! it: `receive` (routing a message to a session, at a bounded cost),
//! `promotion` (which session is current), `identity` (the pinned peer),
//! `recovery` (the notices of SPEC §13) and `storage` (SPEC §11).

mod identity;
mod promotion;
mod receive;
pub(crate) mod recovery;

mod storage;
#[cfg(test)]
mod tests;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::config::SessionConfig;
use crate::error::{ConfigError, Error};
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::pairwise::bundle::VerifiedBundle;
use crate::pairwise::session::Session;
use crate::pairwise::wire::{AnyMessage, SessionId};

/// Everything one device keeps about one peer device: the current session
/// and up to [`max_archived`](Self::max_archived) archived ones, newest
/// first (libsignal's session record, without I/O).
///
/// # Receiving
/// [`decrypt`](Self::decrypt) routes a [`PreKeyMessage`](crate::PreKeyMessage) to the session
/// with its session id (current or archived) or, if there is none, creates
/// the session through [`Account::accept`](crate::Account::accept); the previous current session is
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
///    or reported broken by a [`DecryptionFailure`](crate::DecryptionFailure)) still decrypt delayed
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
///    a replayed message); if so it gets a [`DecryptionFailure`](crate::DecryptionFailure), and the
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
/// use cliquet::{Account, DecryptionFailure, NoticeOutcome, SessionConfig, SessionRecord};
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
/// // Bob's application sends the notice back; Alice's hands it to her
/// // record. A first notice asks for a resend on the same session.
/// let notice = DecryptionFailure::decode(&notice.to_bytes())?;
/// let outcome = alice_to_bob.on_decryption_failure(&notice, alice.identity_key());
/// assert_eq!(outcome, NoticeOutcome::ResendRequested);
/// let resent = alice_to_bob.encrypt(b"are you there?", &mut rng)?;
/// let error = bob_to_alice.decrypt(&mut bob, &resent, config).unwrap_err();
/// let notice = bob_to_alice
///     .decryption_failure(&resent, &error, bob.identity(), alice.identity_key())
///     .expect("no session could read it");
/// // A second message Bob could not read: the session is abandoned.
/// let outcome = alice_to_bob.on_decryption_failure(&notice, alice.identity_key());
/// assert_eq!(outcome, NoticeOutcome::Abandoned);
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
    /// The first notice that named the current session (SPEC §13): its
    /// session and its tag. A second notice, about another message of that
    /// session, abandons it; one tampered message cannot.
    warning: Option<(SessionId, [u8; 16])>,
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
            warning: None,
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

    /// Whether there is no current session: the record is new, or a
    /// [`DecryptionFailure`](crate::DecryptionFailure) abandoned the current one. Fetch the peer's
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

    /// Every session, current first, then the archived ones newest first.
    pub(super) fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.current.as_deref().into_iter().chain(self.archived())
    }
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

/// An initiated session the peer has not answered yet.
pub(super) fn awaiting_answer(session: &Session) -> bool {
    session.is_initiator() && !session.is_acknowledged()
}
