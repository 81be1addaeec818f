//! Safety numbers ([SPEC §9](crate::spec)): what two people compare, read aloud or scanned,
//! to check that each holds the other's real identity key, so that no server
//! can slip in a key of its own.
//!
//! Each side's fingerprint `F` is 30 bytes of 5,201 chained SHA-512
//! computations over the identity key and the application's stable
//! identifier for the person (a user name, an account id: 1 to 255 bytes):
//!
//! ```text
//! h_0 = SHA-512("cliquet/v1/safety-number" || u8(len(id)) || id || IK_pub)
//! h_i = SHA-512(h_(i-1) || IK_pub)                for i = 1 .. 5200
//! F(IK_pub, id) = h_5200[0..30]
//! ```
//!
//! Both devices show the same 60 digits; each can also show a 62-byte code
//! for the other to scan.
//!
//! ```
//! use cliquet::{Error, IdentityKeyPair, SafetyNumber};
//! # use rand_chacha::rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let bob = IdentityKeyPair::generate(&mut rng);
//!
//! // Each device computes the number from its own identity key and the key
//! // it holds for its peer (as received in the peer's bundle or message).
//! let on_alices_phone = SafetyNumber::new(
//!     alice.public_key(), b"alice@example.org",
//!     bob.public_key(), b"bob@example.org",
//! )?;
//! let on_bobs_phone = SafetyNumber::new(
//!     bob.public_key(), b"bob@example.org",
//!     alice.public_key(), b"alice@example.org",
//! )?;
//!
//! // Read aloud: the same 60 digits on both screens, shown as 12 groups of 5.
//! assert_eq!(on_alices_phone.digits(), on_bobs_phone.digits());
//! assert_eq!(on_alices_phone.to_string(), on_bobs_phone.to_string());
//! assert_eq!(on_alices_phone.to_string().split(' ').count(), 12);
//!
//! // Scanned: Alice's phone reads the code on Bob's screen and accepts it.
//! let code = on_bobs_phone.scannable();
//! on_alices_phone.verify_scanned(&code)?;
//!
//! // A device that holds another key for Bob shows another number,
//! // and refuses Bob's code.
//! let mallory = IdentityKeyPair::generate(&mut rng);
//! let fooled = SafetyNumber::new(
//!     alice.public_key(), b"alice@example.org",
//!     mallory.public_key(), b"bob@example.org",
//! )?;
//! assert_ne!(fooled.digits(), on_bobs_phone.digits());
//! assert_eq!(fooled.verify_scanned(&code), Err(Error::Mismatch));
//! # Ok::<(), Error>(())
//! ```

use core::fmt;

use crate::codec::Reader;
use crate::codec::kind;
use crate::keys::IdentityKey;
use crate::{DecodeError, Error, crypto};

/// Prefix of `h_0` (§9).
const LABEL: &[u8] = b"cliquet/v1/safety-number";
/// SHA-512 computations after `h_0` (§9): 5,201 in all.
const ITERATIONS: u32 = 5200;
/// Bytes of one fingerprint `F`.
const FINGERPRINT_LEN: usize = 30;
/// Digits shown for one fingerprint: six 5-digit groups.
const DIGITS_PER_SIDE: usize = 30;
/// Digits in a group of the displayable number.
const GROUP: usize = 5;
/// Version byte of the scannable code.
const VERSION: u8 = 0x00;
/// Length of the scannable code: kind, version and both fingerprints.
const SCANNABLE_LEN: usize = 2 + 2 * FINGERPRINT_LEN;

/// The safety number of a pair of identities, as one device computes it
/// ([SPEC §9](crate::spec)).
///
/// Built from this device's identity key and the key it holds for its peer,
/// each with the application's stable identifier of its person. Two devices
/// that hold each other's real keys show the same [`digits`](Self::digits);
/// each can show its [`scannable`](Self::scannable) code for the other to
/// [`verify_scanned`](Self::verify_scanned).
///
/// Nothing in it is secret: it is made from public keys and identifiers, and
/// `Debug` shows the digits.
///
/// ```
/// use cliquet::{IdentityKeyPair, SafetyNumber};
///
/// let me = IdentityKeyPair::from_secret_bytes(&[1; 32]);
/// let peer = IdentityKeyPair::from_secret_bytes(&[2; 32]);
/// let number = SafetyNumber::new(me.public_key(), b"me", peer.public_key(), b"peer")?;
///
/// let shown = number.to_string(); // "01234 56789 ..." (12 groups)
/// assert_eq!(shown.len(), 12 * 5 + 11);
/// assert_eq!(shown.replace(' ', ""), number.digits());
/// assert_eq!(number.scannable().len(), 62);
/// # Ok::<(), cliquet::Error>(())
/// ```
#[derive(Clone)]
pub struct SafetyNumber {
    own: [u8; FINGERPRINT_LEN],
    peer: [u8; FINGERPRINT_LEN],
    /// ASCII digits, the smaller 30-digit half first.
    digits: [u8; 2 * DIGITS_PER_SIDE],
    /// Whether this device's half comes first in `digits`.
    own_first: bool,
}

impl SafetyNumber {
    /// The safety number of this device (`own_key`, known to the application
    /// as `own_id`) and its peer (`peer_key`, the identity key this device
    /// holds for the peer, known as `peer_id`).
    ///
    /// Costs 2 × 5,201 SHA-512 computations ([SPEC §9](crate::spec)): compute it when the
    /// user opens the verification screen, not per message.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] if `own_id` or `peer_id` is empty or longer
    /// than 255 bytes.
    ///
    /// ```
    /// use cliquet::{Error, IdentityKeyPair, SafetyNumber};
    ///
    /// let me = IdentityKeyPair::from_secret_bytes(&[1; 32]);
    /// let peer = IdentityKeyPair::from_secret_bytes(&[2; 32]);
    /// let refused = SafetyNumber::new(me.public_key(), b"", peer.public_key(), b"peer");
    /// assert_eq!(refused.err(), Some(Error::InvalidIdentifier));
    /// ```
    pub fn new(
        own_key: &IdentityKey,
        own_id: &[u8],
        peer_key: &IdentityKey,
        peer_id: &[u8],
    ) -> Result<Self, Error> {
        // Both identifiers are checked before any hashing.
        let own_len = id_len(own_id)?;
        let peer_len = id_len(peer_id)?;
        let own = fingerprint(own_key, own_id, own_len);
        let peer = fingerprint(peer_key, peer_id, peer_len);
        let own_digits = digits_of(&own);
        let peer_digits = digits_of(&peer);
        // Equal-length ASCII digit strings: byte order is string order.
        let own_first = own_digits <= peer_digits;
        let (first, second) = if own_first {
            (&own_digits, &peer_digits)
        } else {
            (&peer_digits, &own_digits)
        };
        let mut digits = [0u8; 2 * DIGITS_PER_SIDE];
        for (out, digit) in digits.iter_mut().zip(first.iter().chain(second)) {
            *out = *digit;
        }
        Ok(Self {
            own,
            peer,
            digits,
            own_first,
        })
    }

    /// The displayable number: 60 decimal digits, no spaces, the same on both
    /// devices (the smaller 30-digit half first). `Display` shows them as 12
    /// groups of 5 separated by spaces.
    pub fn digits(&self) -> &str {
        // Always ASCII digits; the fallback is unreachable.
        core::str::from_utf8(&self.digits).unwrap_or_default()
    }

    /// The 30 digits of this device's own fingerprint (one half of
    /// [`digits`](Self::digits)).
    pub fn own_digits(&self) -> &str {
        let (first, second) = self.halves();
        if self.own_first { first } else { second }
    }

    /// The 30 digits of the peer's fingerprint (the other half of
    /// [`digits`](Self::digits)).
    pub fn peer_digits(&self) -> &str {
        let (first, second) = self.halves();
        if self.own_first { second } else { first }
    }

    /// `F(own_key, own_id)`: the 30-byte fingerprint of this device's side.
    pub const fn own_fingerprint(&self) -> &[u8; 30] {
        &self.own
    }

    /// `F(peer_key, peer_id)`: the 30-byte fingerprint of the peer's side.
    pub const fn peer_fingerprint(&self) -> &[u8; 30] {
        &self.peer
    }

    /// The code this device shows for its peer to scan ([SPEC §9](crate::spec)), 62 bytes:
    ///
    /// ```text
    /// 0x18 || 0x00 (version) || F(own) (30) || F(peer) (30)
    /// ```
    ///
    /// The peer's device checks it with [`verify_scanned`](Self::verify_scanned).
    pub fn scannable(&self) -> [u8; 62] {
        let mut code = [0u8; SCANNABLE_LEN];
        let header = [kind::SAFETY_CODE, VERSION];
        let fields = header.iter().chain(&self.own).chain(&self.peer);
        for (out, byte) in code.iter_mut().zip(fields) {
            *out = *byte;
        }
        code
    }

    /// Checks a code scanned from the peer's screen (its
    /// [`scannable`](Self::scannable)): accepted iff its first fingerprint is
    /// this device's `F(peer)` and its second this device's `F(own)`.
    ///
    /// The comparison is not constant-time: both sides are public.
    ///
    /// # Errors
    /// - [`Error::Mismatch`]: a well-formed code that does not match (the peer
    ///   or this device holds another key, or the code is this device's own);
    /// - [`Error::Malformed`] for anything that is not a code:
    ///   [`DecodeError::BadKind`] (first byte not `0x18`),
    ///   [`DecodeError::UnsupportedVersion`] (second byte not `0x00`),
    ///   [`DecodeError::Truncated`] (under 62 bytes, kind and version read
    ///   first), [`DecodeError::Trailing`] (over 62 bytes).
    ///
    /// ```
    /// use cliquet::{DecodeError, Error, IdentityKeyPair, SafetyNumber};
    ///
    /// let me = IdentityKeyPair::from_secret_bytes(&[1; 32]);
    /// let peer = IdentityKeyPair::from_secret_bytes(&[2; 32]);
    /// let mine = SafetyNumber::new(me.public_key(), b"me", peer.public_key(), b"peer")?;
    /// let theirs = SafetyNumber::new(peer.public_key(), b"peer", me.public_key(), b"me")?;
    ///
    /// assert_eq!(mine.verify_scanned(&theirs.scannable()), Ok(()));
    /// assert_eq!(mine.verify_scanned(&mine.scannable()), Err(Error::Mismatch));
    /// assert_eq!(
    ///     mine.verify_scanned(&theirs.scannable()[..61]),
    ///     Err(Error::Malformed(DecodeError::Truncated))
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn verify_scanned(&self, scanned: &[u8]) -> Result<(), Error> {
        let mut reader = Reader::new(scanned);
        reader.kind(kind::SAFETY_CODE)?;
        if reader.u8()? != VERSION {
            return Err(DecodeError::UnsupportedVersion.into());
        }
        let their_own: [u8; FINGERPRINT_LEN] = reader.array()?;
        let their_peer: [u8; FINGERPRINT_LEN] = reader.array()?;
        reader.finish()?;
        if their_own == self.peer && their_peer == self.own {
            Ok(())
        } else {
            Err(Error::Mismatch)
        }
    }

    /// The two 30-digit halves of `digits`, in display order.
    fn halves(&self) -> (&str, &str) {
        self.digits()
            .split_at_checked(DIGITS_PER_SIDE)
            .unwrap_or_default()
    }
}

/// 12 groups of 5 digits separated by single spaces.
impl fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.digits.chunks(GROUP).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(core::str::from_utf8(group).unwrap_or_default())?;
        }
        Ok(())
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafetyNumber")
            .field("digits", &self.digits())
            .finish_non_exhaustive()
    }
}

/// `u8(len(id))`: an identifier has 1 to 255 bytes.
fn id_len(id: &[u8]) -> Result<u8, Error> {
    u8::try_from(id.len())
        .ok()
        .filter(|len| *len != 0)
        .ok_or(Error::InvalidIdentifier)
}

/// `F(IK_pub, id)`, the first 30 bytes of `h_5200`.
fn fingerprint(key: &IdentityKey, id: &[u8], id_len: u8) -> [u8; FINGERPRINT_LEN] {
    let ik = key.as_bytes();
    let h = crypto::sha512_iterated(&[LABEL, &[id_len], id, ik], ik, ITERATIONS);
    let mut f = [0u8; FINGERPRINT_LEN];
    for (out, byte) in f.iter_mut().zip(&h) {
        *out = *byte;
    }
    f
}

/// Each 5-byte chunk of `F`, big-endian, modulo 100000, as 5 decimal digits
/// (leading zeros kept).
fn digits_of(f: &[u8; FINGERPRINT_LEN]) -> [u8; DIGITS_PER_SIDE] {
    let mut digits = [b'0'; DIGITS_PER_SIDE];
    for (chunk, group) in f.chunks_exact(5).zip(digits.chunks_exact_mut(GROUP)) {
        let mut value = chunk
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte))
            % 100_000;
        for digit in group.iter_mut().rev() {
            *digit = b'0' + u8::try_from(value % 10).unwrap_or_default();
            value /= 10;
        }
    }
    digits
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec::Vec;

    use super::*;
    use crate::IdentityKeyPair;

    fn key(seed: u8) -> IdentityKey {
        *IdentityKeyPair::from_secret_bytes(&[seed; 32]).public_key()
    }

    fn number(own: u8, own_id: &[u8], peer: u8, peer_id: &[u8]) -> SafetyNumber {
        SafetyNumber::new(&key(own), own_id, &key(peer), peer_id).unwrap()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn s9_fingerprint_known_answer() {
        // The first entry of tests/vectors/safety_numbers.json: pins the
        // label, the length prefix and the 5,200 iterations after h_0.
        let ik: IdentityKey = "eafd04e809261df12b1af8d9ac0cb802efc4c2b68c3ac5faf12bf4d9c549f0a9"
            .parse()
            .unwrap();
        let f = fingerprint(&ik, b"alice@example.org", 17);
        assert_eq!(
            f.to_vec(),
            unhex("889188ecb1b3629fb516d7bc882e27ad635fa240e67af03ec178047b67f7")
        );
        assert_eq!(
            &digits_of(&f),
            b"220657973409959540484313771927",
            "each 5-byte chunk mod 100000"
        );
    }

    #[test]
    fn s9_digits_are_chunks_mod_100000_with_leading_zeros() {
        let mut f = [0u8; 30];
        f[..5].copy_from_slice(&[0xff; 5]); // 1099511627775 mod 100000 = 27775
        f[5..10].copy_from_slice(&[0, 0, 0, 0, 7]); // 7
        f[10..15].copy_from_slice(&[0, 0, 0x01, 0x86, 0xa0]); // 100000
        f[15..20].copy_from_slice(&[0, 0, 0x01, 0x86, 0x9f]); // 99999
        f[20..25].copy_from_slice(&[0x01, 0, 0, 0, 0]); // 2^32 = 4294967296
        assert_eq!(&digits_of(&f), b"277750000700000999996729600000");
    }

    #[test]
    fn s9_number_is_the_same_on_both_sides() {
        let a = number(1, b"alice", 2, b"bob");
        let b = number(2, b"bob", 1, b"alice");
        assert_eq!(a.digits(), b.digits());
        assert_eq!(a.digits().len(), 60);
        assert!(a.digits().bytes().all(|d| d.is_ascii_digit()));
        assert_eq!(a.to_string(), b.to_string());
        assert_eq!(a.own_fingerprint(), b.peer_fingerprint());
        assert_eq!(a.peer_fingerprint(), b.own_fingerprint());
        assert_ne!(a.own_fingerprint(), a.peer_fingerprint());
        assert_eq!(a.own_digits(), b.peer_digits());
        assert_eq!(a.peer_digits(), b.own_digits());
        // The smaller half first, whichever side computes it.
        let (low, high) = if a.own_digits() < a.peer_digits() {
            (a.own_digits(), a.peer_digits())
        } else {
            (a.peer_digits(), a.own_digits())
        };
        assert_eq!(a.digits(), format!("{low}{high}"));
        // The codes differ: each shows its own fingerprint first.
        assert_ne!(a.scannable(), b.scannable());
    }

    #[test]
    fn s9_display_is_12_groups_of_5() {
        let a = number(1, b"alice", 2, b"bob");
        let shown = a.to_string();
        let groups: Vec<&str> = shown.split(' ').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 5));
        assert_eq!(groups.concat(), a.digits());
        assert_eq!(
            format!("{a:?}"),
            format!("SafetyNumber {{ digits: {:?}, .. }}", a.digits())
        );
    }

    #[test]
    fn s9_identifier_is_1_to_255_bytes() {
        let (me, peer) = (key(1), key(2));
        let long = [b'x'; 256];
        for bad in [&long[..0], &long[..]] {
            assert_eq!(
                SafetyNumber::new(&me, bad, &peer, b"bob").err(),
                Some(Error::InvalidIdentifier)
            );
            assert_eq!(
                SafetyNumber::new(&me, b"alice", &peer, bad).err(),
                Some(Error::InvalidIdentifier)
            );
        }
        for good in [&long[..1], &long[..255]] {
            assert!(SafetyNumber::new(&me, good, &peer, good).is_ok());
        }
    }

    #[test]
    fn s9_changed_key_changes_the_number() {
        let genuine = number(1, b"alice", 2, b"bob");
        let other_peer = number(1, b"alice", 3, b"bob");
        let other_own = number(4, b"alice", 2, b"bob");
        for changed in [&other_peer, &other_own] {
            assert_ne!(changed.digits(), genuine.digits());
            assert_ne!(changed.scannable(), genuine.scannable());
        }
        assert_eq!(other_peer.own_fingerprint(), genuine.own_fingerprint());
        assert_ne!(other_peer.peer_fingerprint(), genuine.peer_fingerprint());
    }

    #[test]
    fn s9_changed_identifier_changes_the_number() {
        let genuine = number(1, b"alice", 2, b"bob");
        // One byte changed, one byte added (the length prefix counts).
        for peer_id in [&b"bop"[..], b"bob\0", b"bo"] {
            let changed = number(1, b"alice", 2, peer_id);
            assert_ne!(changed.digits(), genuine.digits(), "{peer_id:?}");
            assert_ne!(changed.peer_fingerprint(), genuine.peer_fingerprint());
        }
        let changed = number(1, b"alicf", 2, b"bob");
        assert_ne!(changed.own_fingerprint(), genuine.own_fingerprint());
        // Swapping identifiers between the keys is another number too.
        assert_ne!(number(1, b"bob", 2, b"alice").digits(), genuine.digits());
    }

    #[test]
    fn s9_scanned_code_of_the_peer_is_accepted() {
        let a = number(1, b"alice", 2, b"bob");
        let b = number(2, b"bob", 1, b"alice");
        assert_eq!(a.verify_scanned(&b.scannable()), Ok(()));
        assert_eq!(b.verify_scanned(&a.scannable()), Ok(()));
        let code = a.scannable();
        assert_eq!(code[..2], [0x18, 0x00]);
        assert_eq!(&code[2..32], a.own_fingerprint());
        assert_eq!(&code[32..], a.peer_fingerprint());
    }

    #[test]
    fn s9_scanned_code_that_differs_is_a_mismatch() {
        let a = number(1, b"alice", 2, b"bob");
        let b = number(2, b"bob", 1, b"alice");
        // Own code: the halves swapped.
        assert_eq!(a.verify_scanned(&a.scannable()), Err(Error::Mismatch));
        // Any single flipped bit in either fingerprint.
        let genuine = b.scannable();
        for i in 2..genuine.len() {
            for bit in [0x01, 0x80] {
                let mut code = genuine;
                code[i] ^= bit;
                assert_eq!(a.verify_scanned(&code), Err(Error::Mismatch), "byte {i}");
            }
        }
        // The peer holds another key for us; we hold another key for the peer.
        let fooled_peer = number(2, b"bob", 3, b"alice");
        assert_eq!(
            a.verify_scanned(&fooled_peer.scannable()),
            Err(Error::Mismatch)
        );
        let fooled_self = number(1, b"alice", 3, b"bob");
        assert_eq!(fooled_self.verify_scanned(&genuine), Err(Error::Mismatch));
    }

    #[test]
    fn s9_scanned_code_of_another_format_is_malformed() {
        let a = number(1, b"alice", 2, b"bob");
        let genuine = number(2, b"bob", 1, b"alice").scannable();
        let malformed = |e| Err(Error::Malformed(e));

        let mut kind = genuine;
        kind[0] = 0x17;
        assert_eq!(a.verify_scanned(&kind), malformed(DecodeError::BadKind));
        let mut version = genuine;
        version[1] = 0x01;
        assert_eq!(
            a.verify_scanned(&version),
            malformed(DecodeError::UnsupportedVersion)
        );
        assert_eq!(
            a.verify_scanned(&genuine[..61]),
            malformed(DecodeError::Truncated)
        );
        let mut longer = genuine.to_vec();
        longer.push(0);
        assert_eq!(a.verify_scanned(&longer), malformed(DecodeError::Trailing));
        assert_eq!(a.verify_scanned(&[]), malformed(DecodeError::Truncated));
        assert_eq!(a.verify_scanned(&[0x18]), malformed(DecodeError::Truncated));
    }
}
