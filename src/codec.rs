//! The one wire seam. Bytes in and out: the bounds-checked [`Reader`] (the
//! only code that slices untrusted bytes), the [`Writer`] (the only code
//! that assembles encodings), the [`Codec`] trait every wire type
//! implements (one exact decode: the whole input, no trailing bytes), and
//! [`kind`], the one table of kind bytes.

use alloc::vec::Vec;

use crate::error::{DecodeError, Error};

/// Every kind byte, in one table: the first byte of each encoding says what
/// it is ([SPEC §2](crate::spec), §2c, §3b, §5, §6, §9, §10, §13, §14; stored state §11). A new
/// kind is added here, and nowhere else.
pub(crate) mod kind {
    /// `Message`, a Double Ratchet message with a plain header (§5).
    pub(crate) const MESSAGE: u8 = 0x11;
    /// `PreKeyMessage`, the first messages of an X3DH session (§5).
    pub(crate) const PREKEY_MESSAGE: u8 = 0x12;
    /// `EncryptedHeaderMessage` (§6).
    pub(crate) const ENCRYPTED_HEADER_MESSAGE: u8 = 0x13;
    /// A classic key bundle (§2).
    pub(crate) const BUNDLE: u8 = 0x14;
    /// `DecryptionFailure`, the recovery notice (§13).
    pub(crate) const DECRYPTION_FAILURE: u8 = 0x15;
    /// A PQXDH key bundle (§3b).
    pub(crate) const PQ_BUNDLE: u8 = 0x16;
    /// `PqPreKeyMessage`, the first messages of a PQXDH session (§3b, §5).
    pub(crate) const PQ_PREKEY_MESSAGE: u8 = 0x17;
    /// A scanned safety-number code (§9).
    pub(crate) const SAFETY_CODE: u8 = 0x18;
    /// `SenderKeyDistribution` (§10).
    pub(crate) const DISTRIBUTION: u8 = 0x19;
    /// `GroupMessage` (§10).
    pub(crate) const GROUP_MESSAGE: u8 = 0x1A;
    /// A signed device list (§14).
    pub(crate) const DEVICE_LIST: u8 = 0x1B;
    /// `Publication`: what a device uploads to its directory (§2c).
    pub(crate) const PUBLICATION: u8 = 0x1C;

    /// Stored state (§11): a plain kind and its sealed kind (plain + 0x10).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Stored {
        pub(crate) plain: u8,
        pub(crate) sealed: u8,
    }

    /// An `Account`.
    pub(crate) const ACCOUNT: Stored = Stored {
        plain: 0x20,
        sealed: 0x30,
    };
    /// A `Session`.
    pub(crate) const SESSION: Stored = Stored {
        plain: 0x21,
        sealed: 0x31,
    };
    /// A `SessionRecord`.
    pub(crate) const RECORD: Stored = Stored {
        plain: 0x22,
        sealed: 0x32,
    };
    /// A `GroupSession`.
    pub(crate) const GROUP: Stored = Stored {
        plain: 0x23,
        sealed: 0x33,
    };
    /// A `UserKeyPair`.
    pub(crate) const USER_KEY: Stored = Stored {
        plain: 0x24,
        sealed: 0x34,
    };
    /// A `PersonRecord`.
    pub(crate) const PERSON: Stored = Stored {
        plain: 0x25,
        sealed: 0x35,
    };
}

/// A wire type: how it is read from and written to a cursor. Its public
/// `decode` is [`Codec::decode_exact`], so every wire type refuses trailing
/// bytes the same way, and encodes with [`Codec::write`].
pub(crate) trait Codec: Sized {
    /// Reads one value from the front of `r` (the rest is the caller's).
    /// Structure faults are [`Error::Malformed`]; a type that validates a
    /// key as it reads may refuse it with its own error.
    fn read(r: &mut Reader<'_>) -> Result<Self, Error>;

    /// Appends the encoding.
    fn write(&self, w: &mut impl Writer);

    /// The one exact decode: `bytes` is one value, with nothing after it.
    fn decode_exact(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let value = Self::read(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

/// Reads fields front to back; every read checks the length first.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, rest) = self.buf.split_at_checked(n).ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u32_be(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A flag byte: `0x00` is false, `0x01` true, anything else [`DecodeError::BadFlag`].
    pub(crate) fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::BadFlag),
        }
    }

    /// A kind byte that must equal `kind`.
    pub(crate) fn kind(&mut self, kind: u8) -> Result<(), DecodeError> {
        if self.u8()? == kind {
            Ok(())
        } else {
            Err(DecodeError::BadKind)
        }
    }

    /// The bytes not read yet.
    pub(crate) const fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Succeeds only if every byte was read.
    pub(crate) const fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing)
        }
    }
}

/// Appends fields to an encoding, front to back.
///
/// Implemented for `Vec<u8>` (growable, for wire messages and stored state)
/// and for [`ArrayBuf`] (a fixed buffer on the stack, for associated data and
/// other short encodings on hot paths).
pub(crate) trait Writer {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);

    /// Appends one byte.
    fn put_u8(&mut self, byte: u8) {
        self.put(&[byte]);
    }

    /// Appends `u32be(v)`.
    fn put_u32_be(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    /// Appends a flag byte: `0x01` for true, `0x00` for false.
    fn put_flag(&mut self, on: bool) {
        self.put_u8(u8::from(on));
    }

    /// Appends a count or length as `u32be` (saturating: nothing this crate
    /// encodes comes near 2^32 items, and the decoders bound every count by
    /// the input's length).
    fn put_len(&mut self, len: usize) {
        self.put_u32_be(u32::try_from(len).unwrap_or(u32::MAX));
    }
}

impl Writer for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Stored state, which holds secrets.
impl Writer for zeroize::Zeroizing<Vec<u8>> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A fixed-capacity encoding on the stack. Its users size `N` for the
/// longest encoding they write; a write past the end is cut short (and
/// caught by tests), never a panic.
#[derive(Clone, Copy)]
pub(crate) struct ArrayBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> ArrayBuf<N> {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// What was written.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The whole buffer, for encodings that fill it exactly.
    pub(crate) const fn into_array(self) -> [u8; N] {
        self.buf
    }
}

impl<const N: usize> Writer for ArrayBuf<N> {
    fn put(&mut self, bytes: &[u8]) {
        let rest = self.buf.get_mut(self.len..).unwrap_or_default();
        let n = bytes.len().min(rest.len());
        if let (Some(dst), Some(src)) = (rest.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.len += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_bytes_are_distinct_and_stored_kinds_pair_up() {
        let wire = [
            kind::MESSAGE,
            kind::PREKEY_MESSAGE,
            kind::ENCRYPTED_HEADER_MESSAGE,
            kind::BUNDLE,
            kind::DECRYPTION_FAILURE,
            kind::PQ_BUNDLE,
            kind::PQ_PREKEY_MESSAGE,
            kind::SAFETY_CODE,
            kind::DISTRIBUTION,
            kind::GROUP_MESSAGE,
            kind::DEVICE_LIST,
        ];
        assert_eq!(
            wire,
            [
                0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B
            ]
        );
        let stored = [
            kind::ACCOUNT,
            kind::SESSION,
            kind::RECORD,
            kind::GROUP,
            kind::USER_KEY,
            kind::PERSON,
        ];
        for (i, s) in stored.iter().enumerate() {
            assert_eq!(usize::from(s.plain), 0x20 + i);
            assert_eq!(s.sealed, s.plain + 0x10);
        }
    }

    #[test]
    fn reader_checks_every_length() {
        let mut r = Reader::new(&[1, 0, 0, 0, 2, 9]);
        assert_eq!(r.flag(), Ok(true));
        assert_eq!(r.u32_be(), Ok(2));
        assert_eq!(r.u32_be(), Err(DecodeError::Truncated));
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.flag(), Err(DecodeError::BadFlag));
        assert_eq!(r.take(1), Err(DecodeError::Truncated));
        assert_eq!(r.finish(), Ok(()));
        let mut r = Reader::new(&[5, 6]);
        assert_eq!(r.kind(4), Err(DecodeError::BadKind));
        assert_eq!(r.finish(), Err(DecodeError::Trailing));
    }

    #[test]
    fn writers_agree_and_never_overrun() {
        let mut v = Vec::new();
        let mut a = ArrayBuf::<16>::new();
        for w in [&mut v as &mut dyn Writer, &mut a] {
            w.put_u8(7);
            w.put_flag(true);
            w.put_u32_be(0x0102_0304);
            w.put_len(2);
            w.put(&[9, 9]);
        }
        assert_eq!(v, [7, 1, 1, 2, 3, 4, 0, 0, 0, 2, 9, 9]);
        assert_eq!(a.as_slice(), &v[..]);
        let mut small = ArrayBuf::<3>::new();
        small.put(&[1, 2]);
        small.put(&[3, 4]);
        assert_eq!(small.into_array(), [1, 2, 3]);
    }
}
