//! The one error type of the crate (SPEC §8).

use core::fmt;

use crate::public::IdentityKey;

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
    /// Stored state could not be loaded or opened (SPEC §7).
    State(StateError),
    /// The peer's identity key is not the one the record pinned: a prekey
    /// message, or a bundle for
    /// [`SessionRecord::start_new`](crate::SessionRecord::start_new), of
    /// another identity. It carries that new key. Not a tampered message:
    /// the peer reinstalled, or someone claims to be them. Show the user the
    /// new safety number ([`SafetyNumber`](crate::SafetyNumber)), then
    /// [`accept_identity`](crate::SessionRecord::accept_identity) or refuse.
    /// For a [`PersonRecord`](crate::PersonRecord), a device list signed by
    /// another user key than the pinned one (SPEC §14); it carries that
    /// user key: [`accept_user_key`](crate::PersonRecord::accept_user_key)
    /// or refuse.
    IdentityChanged(IdentityKey),
    /// A scanned safety-number code is well formed but does not match this
    /// device's [`SafetyNumber`](crate::SafetyNumber) (SPEC §9): one of the two
    /// devices holds an identity key (or identifier) the other does not have.
    Mismatch,
    /// An identifier for a [`SafetyNumber`](crate::SafetyNumber) is empty or
    /// longer than 255 bytes (SPEC §9).
    InvalidIdentifier,
    /// A prekey message starts a session in the other header-encryption
    /// mode than this responder's configuration requires
    /// ([`SessionConfig::with_required_mode`](crate::SessionConfig::with_required_mode)).
    ModeRefused,
    /// No sender chain for this group message (SPEC §10): its sender's
    /// distribution for that chain was never received here, or was dropped
    /// (at most five chains are kept per sender and group), or it belongs to
    /// another group. Also: this member has no sender chain of its own yet.
    UnknownChain,
    /// A session was to start from a classic bundle (0x14, no KEM prekey)
    /// while the configuration requires PQXDH (SPEC §3b): the default, since
    /// anyone on the path can strip a post-quantum bundle down to a classic
    /// one. See [`SessionConfig::with_classic_x3dh`](crate::SessionConfig::with_classic_x3dh).
    PostQuantumRequired,
    /// A device list (SPEC §14) is older than the one accepted for this
    /// person, or a second, different list for the accepted version; or a
    /// device of the person reported a newer list than the accepted one
    /// ([`PersonRecord::report_list_version`](crate::PersonRecord::report_list_version))
    /// and nothing is encrypted to the person until a list at least that
    /// new is accepted. Fetch the person's current list from the directory.
    StaleDeviceList,
    /// A device is not in the person's accepted device list (SPEC §14): a
    /// bundle or a prekey message whose identity key the list does not name
    /// for that device id, or any message for a device id the list does not
    /// hold (never listed, or removed). Fetch the current list; if the
    /// device is still not listed, drop the message or bundle.
    UnknownDevice,
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
}

/// Why bytes failed to decode (the `malformed` details of SPEC §8).
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
    /// byte of a scanned safety-number code, SPEC §9, must be `0x00`).
    UnsupportedVersion,
    /// A character is not a hexadecimal digit (parsing an
    /// [`IdentityKey`](crate::IdentityKey) from its hex form).
    InvalidHex,
    /// A device list (SPEC §14) names no device or more than 32.
    BadCount,
    /// A device list's device ids are not strictly increasing (SPEC §14).
    BadOrder,
}

/// Why stored state could not be loaded (SPEC §7).
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(detail) => write!(f, "malformed input: {detail}; drop it"),
            Self::Authentication => f.write_str(
                "message failed to authenticate (tampered, or not for this session); drop it, the session is unchanged",
            ),
            Self::Duplicate => f.write_str(
                "message already decrypted, or its key was evicted; drop it, the session is unchanged",
            ),
            Self::TooManySkipped => f.write_str(
                "message is too far ahead of its chain (more than max_skip skipped keys); drop it, or raise max_skip",
            ),
            Self::UnknownPreKey => f.write_str(
                "prekey message names a signed or one-time prekey this account does not hold (unknown or already used)",
            ),
            Self::BadSignature => {
                f.write_str("bundle signature is invalid; do not use this bundle")
            }
            Self::InvalidKey => f.write_str(
                "invalid public key (bad identity key encoding, small order, or all-zero Diffie-Hellman output)",
            ),
            Self::ChainExhausted => f.write_str(
                "sending chain exhausted (2^32 - 1 messages); start a new session",
            ),
            Self::InvalidConfig(detail) => write!(f, "configuration refused: {detail}"),
            Self::PreKeyIdInUse => f.write_str("one-time prekey id is already in use in this account"),
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
                f.write_str("safety-number identifier must be 1 to 255 bytes long")
            }
            Self::ModeRefused => f.write_str(
                "session refused: its header-encryption mode is not the one this configuration requires",
            ),
            Self::UnknownChain => f.write_str(
                "no sender chain: the group message's distribution was not received here or was dropped (or it is of another group), or, to encrypt, this member has not started its own chain (GroupSession::rotate)",
            ),
            Self::PostQuantumRequired => f.write_str(
                "classic (0x14) bundle refused: PQXDH is required (SessionConfig::with_classic_x3dh allows classic X3DH)",
            ),
            Self::StaleDeviceList => f.write_str(
                "device list is older than the accepted one (or a second list for its version), or the person reported a newer list: fetch the person's current device list",
            ),
            Self::UnknownDevice => f.write_str(
                "device is not in the person's accepted device list (never listed, removed, or another device key): fetch the current list, else drop the message or bundle",
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
