//! The lengths of the Double Ratchet's wire layout ([SPEC §4](crate::spec), §5, §6), named
//! once for the decoders, the ratchet and the session.

use crate::codec::{ArrayBuf, Reader, Writer};
use crate::crypto::kdf::{AD_LEN, SALT_LEN};
use crate::crypto::{NONCE_LEN, TAG_LEN};
use crate::error::DecodeError;

/// Length of a header plaintext: ratchet key, PN, N (§4, §6).
pub(crate) const HEADER_LEN: usize = 32 + 4 + 4;
/// Length of an encrypted header: nonce, header, tag (§6).
pub(crate) const ENC_HEADER_LEN: usize = NONCE_LEN + HEADER_LEN + TAG_LEN;

/// Length of a `Message`'s `header_bytes`: kind and header (§4).
pub(crate) const MESSAGE_HEADER_LEN: usize = 1 + HEADER_LEN;
/// Length of an `EncryptedHeaderMessage`'s `header_bytes`: kind and
/// encrypted header (§6).
pub(crate) const EH_MESSAGE_HEADER_LEN: usize = 1 + ENC_HEADER_LEN;
/// The shortest ciphertext: salt and tag.
pub(crate) const MIN_CIPHERTEXT_LEN: usize = SALT_LEN + TAG_LEN;

/// Checks that what follows a header is long enough to be a ciphertext.
pub(crate) fn ciphertext(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    if r.remaining() < MIN_CIPHERTEXT_LEN {
        return Err(DecodeError::ShortCiphertext);
    }
    r.rest();
    Ok(())
}

/// `AD || header_bytes`, the associated data of a message body (§4): on
/// the stack, sized for the longest header (an encrypted one and its kind
/// byte).
#[inline]
pub(crate) fn body_aad(
    ad: &[u8; AD_LEN],
    header_bytes: &[u8],
) -> ArrayBuf<{ AD_LEN + EH_MESSAGE_HEADER_LEN }> {
    let mut aad = ArrayBuf::new();
    aad.put(ad);
    aad.put(header_bytes);
    aad
}
