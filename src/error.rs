//! The one error type of the crate ([SPEC §8](crate::spec)).

use core::fmt;

use crate::keys::public::IdentityKey;

/// Everything that can go wrong in `cliquet`.
///
/// Each variant is one failure a caller can act on. Whenever a call returns an
/// error, the state it was called on (session, account) is exactly what it
/// was before the call: the caller may drop the offending input and go on.
///
/// Cryptographic failures carry no detail, so that they cannot become an
/// oracle for an attacker.
///
/// ```
/// use cliquet::{AnyMessage, DecodeError, Error};
///
/// let err = AnyMessage::decode(&[0x11, 0x00]).unwrap_err();
/// assert_eq!(err, Error::Malformed(DecodeError::Truncated));
/// assert!(err.to_string().contains("truncated"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed encoding of what was asked for.
    Malformed(DecodeError),
    /// The message did not authenticate: it was tampered with, is not for this
    /// session, or no header key opens its encrypted header.
    Authentication,
    /// The message was already decrypted (or its key was evicted from the
    /// skipped-key store): a message key is used at most once.
    Duplicate,
    /// Decrypting the message would derive more than `max_skip` skipped keys in
    /// one chain ([`SessionConfig::max_skip`](crate::SessionConfig::max_skip)).
    TooManySkipped,
    /// A prekey message names a signed prekey the account does not hold, a
    /// one-time prekey that is unknown or already used, or a KEM prekey that
    /// is unknown or (a one-time one) already used.
    UnknownPreKey,
    /// A bundle's signed-prekey or KEM-prekey signature failed strict Ed25519
    /// verification.
    BadSignature,
    /// A public key was rejected: an identity key that does not decompress, is
    /// not canonically encoded or has small order, or a Diffie-Hellman
    /// exchange whose output is all zeros, or a KEM prekey (ML-KEM
    /// encapsulation key) that fails FIPS 203's modulus check.
    InvalidKey,
    /// The sending chain reached its last message number (2^32 − 1); the
    /// session cannot send any more and must be replaced by a new one.
    ChainExhausted,
    /// The configuration was refused; the detail names the limit broken
    /// (see [`SessionConfig::new`](crate::SessionConfig::new) and
    /// [`SessionRecord::with_limits`](crate::SessionRecord::with_limits)).
    InvalidConfig(ConfigError),
    /// A one-time prekey id is already held by the account.
    PreKeyIdInUse,
    /// The plaintext exceeds what AES-256-GCM can encrypt under one key (64 GiB).
    TooLarge,
    /// A [`SessionRecord`](crate::SessionRecord) has no current session to
    /// encrypt with: start one from the peer's bundle.
    NoSession,
    /// Stored state could not be loaded or opened ([SPEC §7](crate::spec)).
    State(StateError),
    /// The peer's identity key is not the one the record pinned: a prekey
    /// message, or a bundle for
    /// [`SessionRecord::start_new`](crate::SessionRecord::start_new), of
    /// another identity. It carries that new key. Not a tampered message:
    /// the peer reinstalled, or someone claims to be them. Show the user the
    /// new safety number ([`SafetyNumber`](crate::SafetyNumber)), then
    /// [`accept_identity`](crate::SessionRecord::accept_identity) or refuse.
    /// For a [`PersonRecord`](crate::PersonRecord), a device list signed by
    /// another user key than the pinned one ([SPEC §14](crate::spec)); it carries that
    /// user key: [`accept_user_key`](crate::PersonRecord::accept_user_key)
    /// or refuse.
    IdentityChanged(IdentityKey),
    /// A scanned safety-number code is well formed but does not match this
    /// device's [`SafetyNumber`](crate::SafetyNumber) ([SPEC §9](crate::spec)): one of the two
    /// devices holds an identity key (or identifier) the other does not have.
    Mismatch,
    /// An identifier for a [`SafetyNumber`](crate::SafetyNumber) is empty or
    /// longer than 255 bytes ([SPEC §9](crate::spec)).
    InvalidIdentifier,
    /// A prekey message starts a session in the other header-encryption
    /// mode than this responder's configuration requires
    /// ([`SessionConfig::with_required_mode`](crate::SessionConfig::with_required_mode)).
    ModeRefused,
    /// No sender chain for this group message ([SPEC §10](crate::spec)): its sender's
    /// distribution for that chain was never received here, or was dropped
    /// (at most five chains are kept per sender and group), or it belongs to
    /// another group. Also: this member has no sender chain of its own yet.
    UnknownChain,
    /// A session was to start from a classic bundle (0x14, no KEM prekey)
    /// while the configuration requires PQXDH ([SPEC §3b](crate::spec)): the default, since
    /// anyone on the path can strip a post-quantum bundle down to a classic
    /// one. Also a responder's refusal of a classic prekey message (0x12)
    /// that would start a session ([SPEC §3b](crate::spec)). See
    /// [`SessionConfig::with_classic_x3dh`](crate::SessionConfig::with_classic_x3dh).
    PostQuantumRequired,
    /// A sender-key distribution ([SPEC §10](crate::spec)) carries a signing key that this
    /// group state already holds for another sender, or for its own chain:
    /// one member re-sending another's chain as its own. Refused so that a
    /// chain is filed under one sender only; see
    /// [`GroupSession::receive_distribution`](crate::GroupSession::receive_distribution).
    SigningKeyInUse,
    /// A device list ([SPEC §14](crate::spec)) is older than the one accepted for this
    /// person, or a second, different list for the accepted version; or a
    /// device of the person reported a newer list than the accepted one
    /// ([`PersonRecord::report_list_version`](crate::PersonRecord::report_list_version))
    /// and nothing is encrypted to the person until a list at least that
    /// new is accepted. Fetch the person's current list from the directory.
    StaleDeviceList,
    /// A device is not in the person's accepted device list ([SPEC §14](crate::spec)): a
    /// bundle or a prekey message whose identity key the list does not name
    /// for that device id, or any message for a device id the list does not
    /// hold (never listed, or removed). Fetch the current list; if the
    /// device is still not listed, drop the message or bundle.
    UnknownDevice,
    /// A prekey message without a one-time prekey would start a session,
    /// but the signed prekey it names already remembers as many such
    /// sessions as the account's replay memory holds
    /// ([`Account::replay_memory_limit`](crate::Account::replay_memory_limit)).
    /// Refused rather than forgetting one, which would let that session's
    /// first message be accepted again. Rotate the signed prekey
    /// ([`Account::rotate_signed_prekey`](crate::Account::rotate_signed_prekey))
    /// and publish the new bundle: a new signed prekey starts with an
    /// empty memory.
    ReplayMemoryFull,
}

/// Which limit a refused configuration broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_skip` is above `max_skipped_keys`: the keys one message skips
    /// would be evicted by that same message.
    MaxSkipAboveMaxSkippedKeys,
    /// `max_skipped_keys` is above
    /// [`SessionConfig::LIMIT_MAX_SKIPPED_KEYS`](crate::SessionConfig::LIMIT_MAX_SKIPPED_KEYS).
    MaxSkippedKeysAboveLimit,
    /// `max_archived` is above
    /// [`SessionRecord::LIMIT_MAX_ARCHIVED`](crate::SessionRecord::LIMIT_MAX_ARCHIVED).
    MaxArchivedAboveLimit,
    /// `max_archived_skipped_keys` is above
    /// [`SessionConfig::LIMIT_MAX_SKIPPED_KEYS`](crate::SessionConfig::LIMIT_MAX_SKIPPED_KEYS).
    MaxArchivedSkippedKeysAboveLimit,
    /// An account's replay-memory limit is 0 or above
    /// [`Account::MAX_REPLAY_MEMORY`](crate::Account::MAX_REPLAY_MEMORY).
    ReplayMemoryOutOfRange,
}

/// Why bytes failed to decode (the `malformed` details of [SPEC §8](crate::spec)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// The kind byte is not the one expected (or not a known kind).
    BadKind,
    /// A flag byte is neither `0x00` nor `0x01`.
    BadFlag,
    /// The input ends before the last field.
    Truncated,
    /// Bytes follow the last field.
    Trailing,
    /// The ciphertext is shorter than a salt (16 bytes) and a tag (16 bytes).
    ShortCiphertext,
    /// A version byte names a format this library does not know (the version
    /// byte of a scanned safety-number code, [SPEC §9](crate::spec), must be `0x00`).
    UnsupportedVersion,
    /// A character is not a hexadecimal digit (parsing an
    /// [`IdentityKey`](crate::IdentityKey) from its hex form).
    InvalidHex,
    /// A device list ([SPEC §14](crate::spec)) names no device or more than 32.
    BadCount,
    /// A device list's device ids are not strictly increasing ([SPEC §14](crate::spec)).
    BadOrder,
}

/// Why stored state could not be loaded ([SPEC §7](crate::spec)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateError {
    /// The input is not stored state of the expected kind.
    WrongKind,
    /// The format version is newer than this library understands.
    UnsupportedVersion(u8),
    /// The input ends early.
    Truncated,
    /// Bytes follow the stored state.
    Trailing,
    /// A field holds a value that the state could never have reached.
    Inconsistent,
    /// A sealed state did not open: wrong storage key, another context, or
    /// corrupted bytes.
    Sealed,
    /// A record belongs to another peer identity than the one it was opened
    /// for ([`SessionRecord::open_for_peer`](crate::SessionRecord::open_for_peer)).
    OtherPeer,
}

impl Error {
    /// The stable name of the error kind: [SPEC §8](crate::spec)'s name (`malformed`,
    /// `authentication`, `unknown_chain`, ...) where SPEC names it, and a
    /// name of the same style for the library's own kinds. Use it to match
    /// errors across languages (the bindings do) and in logs; the `Display`
    /// text is for people and may change.
    ///
    /// ```
    /// use cliquet::{AnyMessage, Error};
    ///
    /// let err = AnyMessage::decode(&[0x11]).unwrap_err();
    /// assert_eq!((err.name(), err.detail()), ("malformed", Some("truncated")));
    /// assert_eq!(Error::UnknownChain.name(), "unknown_chain");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Authentication => "authentication",
            Self::Duplicate => "duplicate",
            Self::TooManySkipped => "too_many_skipped",
            Self::UnknownPreKey => "unknown_prekey",
            Self::BadSignature => "bad_signature",
            Self::InvalidKey => "invalid_key",
            Self::ChainExhausted => "chain_exhausted",
            Self::InvalidConfig(_) => "invalid_config",
            Self::PreKeyIdInUse => "prekey_id_in_use",
            Self::TooLarge => "too_large",
            Self::NoSession => "no_session",
            Self::State(_) => "state",
            Self::IdentityChanged(_) => "identity_changed",
            Self::Mismatch => "mismatch",
            Self::InvalidIdentifier => "invalid_identifier",
            Self::ModeRefused => "mode_refused",
            Self::UnknownChain => "unknown_chain",
            Self::PostQuantumRequired => "post_quantum_required",
            Self::SigningKeyInUse => "signing_key_in_use",
            Self::StaleDeviceList => "stale_device_list",
            Self::UnknownDevice => "unknown_device",
            Self::ReplayMemoryFull => "replay_memory_full",
        }
    }

    /// The stable name of the detail, for the kinds that carry one: the
    /// `malformed` details of [SPEC §8](crate::spec) (`bad_kind`, `truncated`, ...), which
    /// limit a refused configuration broke, and why stored state was
    /// refused. `None` for every other kind.
    pub const fn detail(&self) -> Option<&'static str> {
        match self {
            Self::Malformed(e) => Some(e.name()),
            Self::InvalidConfig(e) => Some(e.name()),
            Self::State(e) => Some(e.name()),
            _ => None,
        }
    }
}

impl DecodeError {
    /// [SPEC §8](crate::spec)'s name of this `malformed` detail (`bad_kind`, `bad_flag`,
    /// `truncated`, `trailing`, `short_ciphertext`), or a name of the same
    /// style for the library's own details.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::BadKind => "bad_kind",
            Self::BadFlag => "bad_flag",
            Self::Truncated => "truncated",
            Self::Trailing => "trailing",
            Self::ShortCiphertext => "short_ciphertext",
            Self::UnsupportedVersion => "unsupported_version",
            Self::InvalidHex => "invalid_hex",
            Self::BadCount => "bad_count",
            Self::BadOrder => "bad_order",
        }
    }
}

impl ConfigError {
    /// The stable name of the broken limit.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::MaxSkipAboveMaxSkippedKeys => "max_skip_above_max_skipped_keys",
            Self::MaxSkippedKeysAboveLimit => "max_skipped_keys_above_limit",
            Self::MaxArchivedAboveLimit => "max_archived_above_limit",
            Self::MaxArchivedSkippedKeysAboveLimit => "max_archived_skipped_keys_above_limit",
            Self::ReplayMemoryOutOfRange => "replay_memory_out_of_range",
        }
    }
}

impl StateError {
    /// The stable name of why stored state was refused.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::WrongKind => "wrong_kind",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Truncated => "truncated",
            Self::Trailing => "trailing",
            Self::Inconsistent => "inconsistent",
            Self::Sealed => "sealed",
            Self::OtherPeer => "other_peer",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(detail) => write!(f, "malformed input: {detail}; drop it"),
            Self::Authentication => f.write_str(
                "message failed to authenticate (tampered, or not for this session); drop it, the session is unchanged",
            ),
            Self::Duplicate => f.write_str(
                "already received: this message was decrypted before or its key was evicted (for a group distribution: that chain is already held); drop it, nothing changed",
            ),
            Self::TooManySkipped => f.write_str(
                "message is too far ahead of its chain (more than max_skip skipped keys); drop it, or raise max_skip",
            ),
            Self::UnknownPreKey => f.write_str(
                "prekey message names a signed prekey, one-time prekey or KEM prekey (one-time or last-resort) this account does not hold: unknown, rotated away or already used; the sender needs a fresh bundle",
            ),
            Self::BadSignature => f.write_str(
                "a signature failed strict Ed25519 verification (of a bundle's prekey, a notice, a group message or distribution, or a device list); do not use this input",
            ),
            Self::InvalidKey => f.write_str(
                "invalid public key in the input (an identity key badly encoded or of small order, a KEM key failing its modulus check, or an all-zero Diffie-Hellman output); do not use this bundle or message",
            ),
            Self::ChainExhausted => f.write_str(
                "sending chain exhausted (2^32 - 1 messages); start a new session",
            ),
            Self::InvalidConfig(detail) => write!(f, "configuration refused: {detail}"),
            Self::PreKeyIdInUse => f.write_str("one-time prekey id is already in use in this account; add the key under another id"),
            Self::TooLarge => f.write_str("plaintext too large for one message (64 GiB); split it"),
            Self::NoSession => f.write_str(
                "no current session with this peer; fetch its bundle and start one (SessionRecord::start_new)",
            ),
            Self::State(detail) => write!(f, "stored state rejected: {detail}"),
            Self::IdentityChanged(key) => write!(
                f,
                "the peer's identity key (or user key) changed to {key}; verify it (safety number) before accepting it"
            ),
            Self::Mismatch => f.write_str(
                "safety numbers do not match: an identity key differs; do not trust this peer until you compare again",
            ),
            Self::InvalidIdentifier => {
                f.write_str("safety-number identifier must be 1 to 255 bytes long; pass the user's stable identifier (a phone number, a user id)")
            }
            Self::ModeRefused => f.write_str(
                "prekey message refused: its session's header-encryption mode is not the one this configuration requires; the sender must start a session in that mode",
            ),
            Self::UnknownChain => f.write_str(
                "no sender chain for this group message. Its distribution may not have arrived yet: keep the message and retry after the next distribution from that sender. Or the chain was dropped (five are kept per sender), or the message is of another group. To encrypt: this member has no chain of its own yet (GroupSession::rotate)",
            ),
            Self::PostQuantumRequired => f.write_str(
                "classic X3DH refused (a 0x14 bundle to start from, or a 0x12 prekey message to accept): PQXDH is required (SessionConfig::with_classic_x3dh allows classic X3DH)",
            ),
            Self::SigningKeyInUse => f.write_str(
                "sender-key distribution refused: its signing key is already held for another sender in this group (a member re-sending another's chain); drop it, keep the chain you hold",
            ),
            Self::StaleDeviceList => f.write_str(
                "device list is older than the accepted one (or a second list for its version), or the person reported a newer list: fetch the person's current device list",
            ),
            Self::UnknownDevice => f.write_str(
                "device is not in the person's accepted device list (never listed, removed, or another device key): fetch the current list, else drop the message or bundle",
            ),
            Self::ReplayMemoryFull => f.write_str(
                "new session refused: the replay memory of its signed prekey is full; rotate the signed prekey (Account::rotate_signed_prekey) and publish the new bundle",
            ),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadKind => "unknown or unexpected kind byte",
            Self::BadFlag => "flag byte is neither 0 nor 1",
            Self::Truncated => "truncated",
            Self::Trailing => "trailing bytes after the last field",
            Self::ShortCiphertext => "ciphertext shorter than salt and tag (32 bytes)",
            Self::UnsupportedVersion => "unsupported version byte",
            Self::InvalidHex => "not a hexadecimal digit",
            Self::BadCount => "device list names no device or more than 32",
            Self::BadOrder => "device ids of a device list are not strictly increasing",
        })
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MaxSkipAboveMaxSkippedKeys => "max_skip must not exceed max_skipped_keys",
            Self::MaxSkippedKeysAboveLimit => "max_skipped_keys must not exceed 65536",
            Self::MaxArchivedAboveLimit => "max_archived must not exceed 1024",
            Self::MaxArchivedSkippedKeysAboveLimit => {
                "max_archived_skipped_keys must not exceed 65536"
            }
            Self::ReplayMemoryOutOfRange => "the replay memory must hold 1 to 65536 sessions",
        })
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongKind => f.write_str("not stored state of the expected kind"),
            Self::UnsupportedVersion(v) => {
                write!(
                    f,
                    "format version {v} is newer than this library; upgrade cliquet"
                )
            }
            Self::Truncated => f.write_str("truncated"),
            Self::Trailing => f.write_str("trailing bytes"),
            Self::Inconsistent => f.write_str("a field holds a value the state could never reach"),
            Self::Sealed => f.write_str(
                "sealed state did not open (wrong storage key, another context, or corrupted)",
            ),
            Self::OtherPeer => f.write_str("the record belongs to another peer identity"),
        }
    }
}

impl core::error::Error for Error {}
impl core::error::Error for DecodeError {}
impl core::error::Error for StateError {}
impl core::error::Error for ConfigError {}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Malformed(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::InvalidConfig(e)
    }
}

impl From<DecodeError> for StateError {
    /// A stored field that does not decode: the kind and the length faults
    /// keep their meaning, anything else is a value no state could hold.
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::BadKind => Self::WrongKind,
            DecodeError::Trailing => Self::Trailing,
            DecodeError::Truncated => Self::Truncated,
            DecodeError::BadFlag
            | DecodeError::ShortCiphertext
            | DecodeError::UnsupportedVersion
            | DecodeError::InvalidHex
            | DecodeError::BadCount
            | DecodeError::BadOrder => Self::Inconsistent,
        }
    }
}

impl From<StateError> for Error {
    fn from(e: StateError) -> Self {
        Self::State(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKeyPair;

    /// [SPEC §8](crate::spec)'s names, and the library's own, are distinct snake_case
    /// words: the bindings and the vector harness match on them.
    #[test]
    fn s8_every_error_has_a_distinct_stable_name() {
        let identity = *IdentityKeyPair::from_secret_bytes(&[1; 32]).public_key();
        let all = [
            Error::Malformed(DecodeError::Truncated),
            Error::Authentication,
            Error::Duplicate,
            Error::TooManySkipped,
            Error::UnknownPreKey,
            Error::BadSignature,
            Error::InvalidKey,
            Error::ChainExhausted,
            Error::InvalidConfig(ConfigError::MaxArchivedAboveLimit),
            Error::PreKeyIdInUse,
            Error::TooLarge,
            Error::NoSession,
            Error::State(StateError::Sealed),
            Error::IdentityChanged(identity),
            Error::Mismatch,
            Error::InvalidIdentifier,
            Error::ModeRefused,
            Error::UnknownChain,
            Error::PostQuantumRequired,
            Error::SigningKeyInUse,
            Error::StaleDeviceList,
            Error::UnknownDevice,
            Error::ReplayMemoryFull,
        ];
        let names: alloc::collections::BTreeSet<_> = all.iter().map(Error::name).collect();
        assert_eq!(names.len(), all.len(), "names are distinct");
        for name in &names {
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
        // The names SPEC §8 fixes.
        let spec = [
            (
                Error::Malformed(DecodeError::BadKind),
                "malformed",
                Some("bad_kind"),
            ),
            (
                Error::Malformed(DecodeError::BadFlag),
                "malformed",
                Some("bad_flag"),
            ),
            (
                Error::Malformed(DecodeError::Trailing),
                "malformed",
                Some("trailing"),
            ),
            (
                Error::Malformed(DecodeError::ShortCiphertext),
                "malformed",
                Some("short_ciphertext"),
            ),
            (Error::Authentication, "authentication", None),
            (Error::Duplicate, "duplicate", None),
            (Error::TooManySkipped, "too_many_skipped", None),
            (Error::UnknownPreKey, "unknown_prekey", None),
            (Error::BadSignature, "bad_signature", None),
            (Error::InvalidKey, "invalid_key", None),
            (Error::PostQuantumRequired, "post_quantum_required", None),
            (Error::Mismatch, "mismatch", None),
            (Error::UnknownChain, "unknown_chain", None),
            (Error::IdentityChanged(identity), "identity_changed", None),
            (Error::StaleDeviceList, "stale_device_list", None),
            (Error::UnknownDevice, "unknown_device", None),
            (
                Error::Malformed(DecodeError::BadCount),
                "malformed",
                Some("bad_count"),
            ),
            (
                Error::Malformed(DecodeError::BadOrder),
                "malformed",
                Some("bad_order"),
            ),
        ];
        for (error, name, detail) in spec {
            assert_eq!((error.name(), error.detail()), (name, detail), "{error:?}");
        }
        assert_eq!(
            Error::State(StateError::OtherPeer).detail(),
            Some("other_peer")
        );
        assert_eq!(
            Error::InvalidConfig(ConfigError::MaxSkipAboveMaxSkippedKeys).detail(),
            Some("max_skip_above_max_skipped_keys")
        );
    }
}
