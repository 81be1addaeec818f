//! The bounds-checked cursor: the only code that slices untrusted bytes.

use crate::DecodeError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
