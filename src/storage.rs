//! What is stored ([SPEC §7](crate::spec)): the framing every stored state shares, written
//! once. Each type encodes and loads its own body next to its definition
//! (`Account`, `Session` and its ratchet, `SessionRecord`); this module
//! gives them the kind and version header, the bounded counts, and the
//! sealed form.
//!
//! Layout: `kind (1) || version (1) || body`. Sealed:
//! `kind (1) || version (1) || nonce (12) || AES-256-GCM(storage key, body) || tag (16)`
//! with associated data `"cliquet/v1/state" || kind || version`. The kinds
//! differ between accounts, sessions and records (plain and sealed), so one
//! can never be loaded as another.

use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer, kind};
use crate::crypto::{self, NONCE_LEN, TAG_LEN};
use crate::error::{Error, StateError};

/// Associated data label of sealed state (§7).
const LABEL_STATE: &[u8] = b"cliquet/v1/state";

/// The format versions written today, one per kind; every earlier one keeps
/// loading ([SPEC §11](crate::spec)):
///
/// - 1: the first format.
/// - 2: a session keeps its ratchet secret only with a sending chain; an
///   account remembers the base keys of sessions it accepted without a
///   one-time prekey; a record stores its peer's identity key; sealed state
///   binds the application's context.
/// - 3: post-quantum keys: an account stores its KEM prekeys, a session
///   whether it came from PQXDH (its `kpk_id`, and `CT` while it is due).
/// - 4, group state: a sender keeps only its highest dropped chain id;
///   person record: its nested session records are of version 4 (the user
///   key follows it, with the same layout);
///   record: it stores the first decryption-failure notice that named its
///   current session ([SPEC §13](crate::spec): one notice asks for a resend, a second one
///   about another message abandons the session).
/// - 4, account: each signed prekey remembers the sessions it accepted
///   without a one-time key as sorted 8-byte tags that are never evicted,
///   under a stored limit; each KEM prekey is stored with its signed public
///   part, so that loading derives and signs nothing.
pub(crate) const VERSION: u8 = 3;

/// The format version an account is written in (see [`VERSION`]).
pub(crate) const ACCOUNT_VERSION: u8 = 4;

/// The format version a group state is written in (see [`VERSION`]).
pub(crate) const GROUP_VERSION: u8 = 4;

/// The format version a record is written in (see [`VERSION`]).
pub(crate) const RECORD_VERSION: u8 = 4;

/// What is stored: its kind bytes (plain and sealed, from the one table,
/// [`kind`](crate::codec::kind)) and the format version written today for
/// that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kind {
    pub(crate) plain: u8,
    pub(crate) sealed: u8,
    pub(crate) version: u8,
}

impl Kind {
    const fn of(stored: kind::Stored, version: u8) -> Self {
        Self {
            plain: stored.plain,
            sealed: stored.sealed,
            version,
        }
    }
}

/// An [`Account`](crate::Account).
pub(crate) const ACCOUNT: Kind = Kind::of(kind::ACCOUNT, ACCOUNT_VERSION);
/// A [`Session`](crate::Session).
pub(crate) const SESSION: Kind = Kind::of(kind::SESSION, VERSION);
/// A [`SessionRecord`](crate::SessionRecord).
pub(crate) const RECORD: Kind = Kind::of(kind::RECORD, RECORD_VERSION);
/// A [`GroupSession`](crate::GroupSession).
pub(crate) const GROUP: Kind = Kind::of(kind::GROUP, GROUP_VERSION);
/// A [`UserKeyPair`](crate::UserKeyPair) (from version 3 on; its layout
/// is the same in 3 and 4).
pub(crate) const USER_KEY: Kind = Kind::of(kind::USER_KEY, RECORD_VERSION);
/// A [`PersonRecord`](crate::PersonRecord) (from version 3 on): it nests
/// session records, so it is written in their version.
pub(crate) const PERSON: Kind = Kind::of(kind::PERSON, RECORD_VERSION);

/// A buffer for secret bytes, zeroized when dropped.
pub(crate) type Secret = Zeroizing<Vec<u8>>;

/// Starts a stored state of `kind`: a buffer of exactly `len` bytes (so it
/// never reallocates and leaves a copy of a secret behind), holding
/// `kind || version`.
pub(crate) fn start(kind: Kind, len: usize) -> Secret {
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.put(&[kind.plain, kind.version]);
    out
}

/// A stored format version, and what it holds ([SPEC §11](crate::spec)). This is the one
/// place that knows how the versions differ: each type's loader (in its
/// folder's `storage.rs`) asks it by name rather than comparing version
/// numbers, so reading an older version is one reader with named gaps, not
/// branches on numbers scattered through the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format(u8);

impl Format {
    /// Version 1 stored a session's ratchet secret `DHs` right after `RK`,
    /// also while a DH step was pending; later versions store it with the
    /// sending chain only (a pending step's `DHs` is dropped on load).
    pub(crate) const fn ratchet_secret_after_root_key(self) -> bool {
        self.0 == 1
    }

    /// From version 2 an account remembers, per signed prekey, the base
    /// keys of the sessions it accepted without a one-time prekey.
    pub(crate) const fn has_replay_memory(self) -> bool {
        self.0 >= 2
    }

    /// From version 2 a record stores its peer's identity (pinned, verified,
    /// changed); a version 1 record pins the identity of its newest session.
    pub(crate) const fn has_peer_identity(self) -> bool {
        self.0 >= 2
    }

    /// From version 2 sealed state binds the application's context.
    const fn binds_context(self) -> bool {
        self.0 >= 2
    }

    /// User keys and person records exist from version 3 on: an older
    /// version of those kinds was never written.
    pub(crate) const fn has_user_kinds(self) -> bool {
        self.0 >= 3
    }

    /// From version 4 a record stores the first notice that named its
    /// current session.
    pub(crate) const fn has_notice_warning(self) -> bool {
        self.0 >= 4
    }

    /// From version 4 a group state keeps, per sender, only the highest
    /// dropped chain id (versions 1 to 3 listed every one).
    pub(crate) const fn keeps_highest_dropped_id(self) -> bool {
        self.0 >= 4
    }

    /// From version 4 an account stores, per signed prekey, 8-byte tags
    /// (sorted, never evicted) in place of base keys (at most 2,048, oldest
    /// first), and its replay-memory limit.
    pub(crate) const fn has_replay_tags(self) -> bool {
        self.0 >= 4
    }

    /// From version 4 an account stores each KEM prekey's signed public
    /// part after its seed (versions 3 stored the seed only, and a loader
    /// derived and signed the rest again).
    pub(crate) const fn has_signed_kem_prekeys(self) -> bool {
        self.0 >= 4
    }

    /// From version 3 an account stores its KEM prekeys and a session its
    /// PQXDH fields (`kpk_id`, and `CT` while it is due).
    pub(crate) const fn has_post_quantum(self) -> bool {
        self.0 >= 3
    }
}

/// Reads `kind || version`, refusing versions newer than this library
/// writes for that kind.
pub(crate) fn header(r: &mut Reader<'_>, kind: Kind) -> Result<Format, StateError> {
    r.kind(kind.plain)?;
    read_version(r, kind)
}

fn read_version(r: &mut Reader<'_>, kind: Kind) -> Result<Format, StateError> {
    match r.u8()? {
        v if (1..=kind.version).contains(&v) => Ok(Format(v)),
        v => Err(StateError::UnsupportedVersion(v)),
    }
}

/// A stored 32-byte secret.
pub(crate) fn secret(r: &mut Reader<'_>) -> Result<Zeroizing<[u8; 32]>, StateError> {
    Ok(Zeroizing::new(r.array()?))
}

/// A count of items of at least `item_len` bytes each, refused if the rest
/// of the input cannot hold them (so no allocation exceeds the input).
pub(crate) fn count(r: &mut Reader<'_>, item_len: usize) -> Result<usize, StateError> {
    let n = usize::try_from(r.u32_be()?).map_err(|_| StateError::Truncated)?;
    if n.checked_mul(item_len)
        .is_none_or(|len| len > r.remaining())
    {
        return Err(StateError::Truncated);
    }
    Ok(n)
}

/// `u32be(len) || bytes`: a nested state, such as a session in a record.
pub(crate) fn nested<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], StateError> {
    let len = usize::try_from(r.u32_be()?).map_err(|_| StateError::Truncated)?;
    Ok(r.take(len)?)
}

/// `"cliquet/v1/state" || kind || version || context`: the context (where
/// the application stores the state) is bound from format version 2 on.
fn sealed_aad(kind: u8, format: Format, context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(LABEL_STATE.len() + 2 + context.len());
    aad.put(LABEL_STATE);
    aad.put(&[kind, format.0]);
    if format.binds_context() {
        aad.put(context);
    }
    aad
}

/// `kind || version || nonce || AEAD(body) || tag` (one 12-byte draw).
pub(crate) fn seal(
    kind: Kind,
    body: &[u8],
    storage_key: &[u8; 32],
    context: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(2 + NONCE_LEN + body.len() + TAG_LEN);
    out.put(&[kind.sealed, kind.version]);
    out.put(&nonce);
    let aad = sealed_aad(kind.sealed, Format(kind.version), context);
    crypto::seal_append(storage_key, &nonce, &aad, body, &mut out)?;
    Ok(out)
}

/// The plain stored state inside a sealed one, sealed under `context`.
pub(crate) fn open(
    kind: Kind,
    sealed: &[u8],
    storage_key: &[u8; 32],
    context: &[u8],
) -> Result<Secret, Error> {
    let mut r = Reader::new(sealed);
    r.kind(kind.sealed).map_err(StateError::from)?;
    let format = read_version(&mut r, kind)?;
    let nonce = r.array::<NONCE_LEN>().map_err(StateError::from)?;
    let aad = sealed_aad(kind.sealed, format, context);
    let body =
        crypto::open_to_vec(storage_key, &nonce, &aad, r.rest()).map_err(|_| StateError::Sealed)?;
    Ok(Zeroizing::new(body))
}

/// `seal` and `open` for a stored type with `to_stored` and `from_stored`,
/// documented once.
macro_rules! sealed_storage {
    ($ty:ty, $kind:expr, $name:literal) => {
        impl $ty {
            #[doc = concat!("The ", $name, "'s stored state (see [`to_stored`](Self::to_stored))")]
            /// encrypted under a 32-byte storage key: AES-256-GCM with a 12-byte
            /// nonce drawn from `rng`, with the kind, the format version and
            /// `context` bound as associated data ([SPEC §7](crate::spec), [SPEC §11](crate::spec)).
            ///
            /// `context` says where the application keeps this state: the
            /// peer's address or the row's key, say. Sealed state then opens
            /// only under the same context, so two records sealed under one
            /// storage key cannot be swapped, nor a sealed state moved to
            /// another row. It cannot stop a rollback of the same row to an
            /// older copy sealed under the same context: keep a version
            /// counter in the context if that matters (an account restored
            /// from an old copy brings consumed one-time prekeys back).
            ///
            /// Every stored type seals the same way; with an account:
            ///
            /// ```
            /// use cliquet::Account;
            /// # use rand_chacha::rand_core::SeedableRng;
            /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
            /// let account = Account::new(&mut rng);
            /// let storage_key = [9; 32]; // from the platform's keystore
            /// let sealed = account.seal(&storage_key, b"accounts/alice", &mut rng)?;
            /// let loaded = Account::open(&sealed, &storage_key, b"accounts/alice")?;
            /// assert_eq!(loaded.identity_key(), account.identity_key());
            /// // Another row's context, or another key, does not open it.
            /// assert!(Account::open(&sealed, &storage_key, b"accounts/bob").is_err());
            /// assert!(Account::open(&sealed, &[8; 32], b"accounts/alice").is_err());
            /// # Ok::<(), cliquet::Error>(())
            /// ```
            ///
            /// Against a rollback of the row to an older copy, put a version
            /// counter that the application keeps elsewhere (a monotonic
            /// counter of the platform, or a row that is never restored) in
            /// the context, and raise it at every store: an older copy then
            /// no longer opens.
            ///
            /// ```
            /// use cliquet::{Account, Error, StateError};
            /// # use rand_chacha::rand_core::SeedableRng;
            /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([6; 32]);
            /// let storage_key = [9; 32];
            /// let context = |version: u64| [b"accounts/alice#".as_slice(), &version.to_be_bytes()].concat();
            /// let mut account = Account::new(&mut rng);
            /// let old = account.seal(&storage_key, &context(1), &mut rng)?;
            /// account.generate_one_time_prekeys(1, &mut rng);
            /// let current = account.seal(&storage_key, &context(2), &mut rng)?;
            /// // The application's counter says 2: only the current copy opens.
            /// assert!(Account::open(&current, &storage_key, &context(2)).is_ok());
            /// assert_eq!(
            ///     Account::open(&old, &storage_key, &context(2)).unwrap_err(),
            ///     Error::State(StateError::Sealed)
            /// );
            /// # Ok::<(), cliquet::Error>(())
            /// ```
            ///
            /// # Errors
            /// None in practice ([`Error::TooLarge`](crate::Error::TooLarge) past 64 GiB).
            pub fn seal(
                &self,
                storage_key: &[u8; 32],
                context: &[u8],
                rng: &mut (impl rand_core::CryptoRng + ?Sized),
            ) -> Result<alloc::vec::Vec<u8>, $crate::Error> {
                $crate::storage::seal($kind, &self.to_stored(), storage_key, context, rng)
            }

            #[doc = concat!("Opens and loads a sealed ", $name, ", sealed under `context`.")]
            ///
            /// Sealed state of format version 1 bound no context and opens
            /// under any; seal it again to bind one.
            ///
            /// # Errors
            /// [`StateError::Sealed`](crate::StateError::Sealed) for a wrong key, another
            /// context or corrupted bytes, [`StateError::WrongKind`](crate::StateError::WrongKind)
            /// for another kind of sealed state, and the errors of
            /// [`from_stored`](Self::from_stored).
            pub fn open(
                sealed: &[u8],
                storage_key: &[u8; 32],
                context: &[u8],
            ) -> Result<Self, $crate::Error> {
                Self::from_stored(&$crate::storage::open($kind, sealed, storage_key, context)?)
            }
        }
    };
}

pub(crate) use sealed_storage;
