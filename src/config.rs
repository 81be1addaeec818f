//! Session limits and options ([SPEC §4](crate::spec) "Limits and failure rules", §6).

use crate::codec::{Reader, Writer};
use crate::error::{ConfigError, DecodeError, Error};

/// Limits and options of a [`Session`](crate::Session).
///
/// - `max_skip` (default 1000): the largest number of message keys one
///   decrypt may derive and store for a single chain. A larger gap is refused
///   with [`Error::TooManySkipped`] before any authentication work. Raising it
///   tolerates more loss and reordering; lowering it bounds the work an
///   attacker who can inject messages may cause.
/// - `max_skipped_keys` (default 2000): how many skipped message keys a
///   session keeps. Beyond it the oldest-inserted keys are evicted (after a
///   successful decrypt); their messages then fail with [`Error::Duplicate`].
///   It bounds memory and stored size (about 36 bytes a key).
/// - classic X3DH (default refused, [SPEC §3b](crate::spec)): whether an initiator may
///   start a session from a classic bundle without a KEM prekey, and a
///   responder accept a classic prekey message
///   ([`with_classic_x3dh`](Self::with_classic_x3dh)).
/// - header encryption (default off, [SPEC §6](crate::spec)): chosen by the initiator; a
///   responder follows the mode of the first message it receives, unless
///   [`with_required_mode`](Self::with_required_mode) makes it refuse the
///   other mode.
///
/// `max_skip` may not exceed `max_skipped_keys`. One message may still
/// store up to `2 × max_skip` keys (the rest of the sender's previous chain
/// and the start of its new one): when that is more than
/// `max_skipped_keys`, the oldest are evicted at once, possibly some that
/// this message stored. Choose `max_skipped_keys >= 2 × max_skip` (the
/// defaults do) to keep every key one message skips.
///
/// ```
/// use cliquet::{ConfigError, Error, SessionConfig};
///
/// let config = SessionConfig::new(100, 500)?.with_header_encryption(true);
/// assert_eq!(config.max_skip(), 100);
/// assert!(config.header_encryption());
/// assert_eq!(
///     SessionConfig::new(501, 500),
///     Err(Error::InvalidConfig(ConfigError::MaxSkipAboveMaxSkippedKeys))
/// );
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionConfig {
    max_skip: u32,
    max_skipped_keys: u32,
    header_encryption: bool,
    requires_mode: bool,
    allows_classic_x3dh: bool,
}

impl SessionConfig {
    /// SPEC default for `max_skip`.
    pub const DEFAULT_MAX_SKIP: u32 = 1000;
    /// SPEC default for `max_skipped_keys`.
    pub const DEFAULT_MAX_SKIPPED_KEYS: u32 = 2000;
    /// The largest `max_skipped_keys` accepted: it keeps a stored session
    /// under about 2.4 MB, whatever the configuration.
    pub const LIMIT_MAX_SKIPPED_KEYS: u32 = 65_536;

    /// A configuration with these limits, header encryption off.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the broken limit:
    /// `max_skipped_keys > LIMIT_MAX_SKIPPED_KEYS`, or `max_skip > max_skipped_keys`.
    pub const fn new(max_skip: u32, max_skipped_keys: u32) -> Result<Self, Error> {
        if max_skipped_keys > Self::LIMIT_MAX_SKIPPED_KEYS {
            return Err(Error::InvalidConfig(ConfigError::MaxSkippedKeysAboveLimit));
        }
        if max_skip > max_skipped_keys {
            return Err(Error::InvalidConfig(
                ConfigError::MaxSkipAboveMaxSkippedKeys,
            ));
        }
        Ok(Self {
            max_skip,
            max_skipped_keys,
            header_encryption: false,
            requires_mode: false,
            allows_classic_x3dh: false,
        })
    }

    /// The same limits, with header encryption on or off (used by
    /// [`Session::initiate`](crate::Session::initiate); a responder follows the initiator).
    #[must_use]
    pub const fn with_header_encryption(mut self, on: bool) -> Self {
        self.header_encryption = on;
        self
    }

    /// The same configuration, with the responder's policy: `true` refuses
    /// a prekey message whose session is in the other header-encryption
    /// mode than [`header_encryption`](Self::header_encryption)
    /// ([`Error::ModeRefused`]), so that a responder can require encrypted
    /// headers; `false` (the default) follows the initiator.
    #[must_use]
    pub const fn with_required_mode(mut self, on: bool) -> Self {
        self.requires_mode = on;
        self
    }

    /// The same configuration, with the policy on classic X3DH ([SPEC §3b](crate::spec)
    /// "Downgrade"), for both sides. `false` (the default) makes
    /// [`Session::initiate`](crate::Session::initiate) and
    /// [`SessionRecord::start_new`](crate::SessionRecord::start_new) refuse a
    /// classic (0x14) bundle, and [`Account::accept`](crate::Account::accept)
    /// and [`SessionRecord::decrypt`](crate::SessionRecord::decrypt) refuse
    /// a classic prekey message (0x12) that would start a session, each
    /// with [`Error::PostQuantumRequired`] and nothing changed; `true` runs
    /// classic X3DH. A classic message of a session that already exists
    /// is routed to it whatever this says.
    ///
    /// Anyone on the path between a directory and the initiator can turn a
    /// post-quantum bundle into a classic one that still verifies (drop the
    /// KEM part): allow classic X3DH only for peers known to have no KEM
    /// prekey, and accept that their sessions are not protected against a
    /// future quantum computer. A responder that allows it also accepts
    /// classic sessions from anyone who chooses to start one.
    ///
    /// ```
    /// use cliquet::{Account, Error, Session, SessionConfig};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
    /// let alice = Account::new(&mut rng);
    /// let bob = Account::new(&mut rng);
    /// let classic = bob.bundle(None)?.without_kem_prekey().verify()?;
    /// let refused = Session::initiate(alice.identity(), &classic, SessionConfig::default(), &mut rng);
    /// assert_eq!(refused.err(), Some(Error::PostQuantumRequired));
    /// let allowed = SessionConfig::default().with_classic_x3dh(true);
    /// assert!(Session::initiate(alice.identity(), &classic, allowed, &mut rng).is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub const fn with_classic_x3dh(mut self, allow: bool) -> Self {
        self.allows_classic_x3dh = allow;
        self
    }

    /// Whether an initiator runs classic X3DH from a 0x14 bundle, and a
    /// responder from a 0x12 prekey message.
    pub const fn allows_classic_x3dh(&self) -> bool {
        self.allows_classic_x3dh
    }

    /// Whether a responder refuses sessions in the other mode.
    pub const fn requires_mode(&self) -> bool {
        self.requires_mode
    }

    /// Most skipped keys one chain may require in one decrypt.
    pub const fn max_skip(&self) -> u32 {
        self.max_skip
    }

    /// Most skipped keys a session stores.
    pub const fn max_skipped_keys(&self) -> u32 {
        self.max_skipped_keys
    }

    /// Whether sessions initiated with this configuration encrypt headers.
    pub const fn header_encryption(&self) -> bool {
        self.header_encryption
    }
}

impl SessionConfig {
    /// The stored limits: `u32be(max_skip) || u32be(max_skipped_keys)`.
    pub(crate) fn write(&self, w: &mut impl Writer) {
        w.put_u32_be(self.max_skip);
        w.put_u32_be(self.max_skipped_keys);
    }

    /// Stored limits, checked as [`new`](Self::new) checks them (`None`:
    /// refused).
    pub(crate) fn read(
        r: &mut Reader<'_>,
        header_encryption: bool,
    ) -> Result<Option<Self>, DecodeError> {
        let (max_skip, max_skipped_keys) = (r.u32_be()?, r.u32_be()?);
        Ok(Self::new(max_skip, max_skipped_keys)
            .ok()
            .map(|c| c.with_header_encryption(header_encryption)))
    }

    /// `max_skipped_keys` as a count.
    pub(crate) fn max_skipped_keys_usize(&self) -> usize {
        usize::try_from(self.max_skipped_keys).unwrap_or(usize::MAX)
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_skip: Self::DEFAULT_MAX_SKIP,
            max_skipped_keys: Self::DEFAULT_MAX_SKIPPED_KEYS,
            header_encryption: false,
            requires_mode: false,
            allows_classic_x3dh: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn s4_defaults_are_the_spec_defaults() {
        let c = SessionConfig::default();
        assert_eq!(
            (c.max_skip(), c.max_skipped_keys(), c.header_encryption()),
            (1000, 2000, false)
        );
    }

    #[test]
    fn s4_max_skip_above_max_skipped_keys_is_refused() {
        assert_eq!(
            SessionConfig::new(11, 10),
            Err(Error::InvalidConfig(
                ConfigError::MaxSkipAboveMaxSkippedKeys
            ))
        );
        assert!(SessionConfig::new(10, 10).is_ok());
        assert!(SessionConfig::new(0, 0).is_ok());
        assert!(SessionConfig::new(65_536, 65_536).is_ok());
        // Both limits broken: the detail names the hard limit first.
        for max_skip in [1, 100_000] {
            let refused = SessionConfig::new(max_skip, SessionConfig::LIMIT_MAX_SKIPPED_KEYS + 1);
            assert_eq!(
                refused,
                Err(Error::InvalidConfig(ConfigError::MaxSkippedKeysAboveLimit))
            );
        }
        let text = SessionConfig::new(10, 100_000).unwrap_err().to_string();
        assert!(
            text.contains("max_skipped_keys must not exceed 65536"),
            "{text}"
        );
        let text = SessionConfig::new(11, 10).unwrap_err().to_string();
        assert!(
            text.contains("max_skip must not exceed max_skipped_keys"),
            "{text}"
        );
    }
}
