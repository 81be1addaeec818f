//! The lengths of the Double Ratchet's wire layout ([SPEC §4](crate::spec), §5, §6), named
//! once for the decoders, the ratchet and the session.

use crate::codec::Reader;
use crate::crypto::kdf::SALT_LEN;
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
