//! X3DH ([SPEC §3](crate::spec)) and PQXDH (§3b) as pure functions: the Diffie-Hellmans
//! of each side and the ML-KEM shared secret, fed to the key schedule's
//! X3DH or PQXDH KDF.

use alloc::boxed::Box;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::draw_secret;
use crate::crypto::kdf::{self, SharedSecrets};
use crate::crypto::kem::{self, Ciphertext};
use crate::error::Error;
use crate::keys::{IdentityKey, IdentityKeyPair, KemPreKey, KeyPair, PublicKey};
use crate::pairwise::bundle::VerifiedBundle;

/// The initiator's encapsulation (§3b step 2): draws `m` and encapsulates
/// to the bundle's KEM prekey; `None` for a classic bundle (nothing drawn).
pub(crate) fn encapsulate(
    bundle: &VerifiedBundle,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Option<(Box<Ciphertext>, Zeroizing<[u8; 32]>)> {
    let (_, key) = bundle.kem_prekey()?;
    let m = draw_secret(rng);
    Some(kem::encapsulate(key.as_bytes(), &m))
}

/// The initiator's side before anything is drawn: `DH1 = X25519(IK_A,
/// SPK_B)`, and a check that the one-time prekey does not have small
/// order, so that an unusable bundle fails before the ephemeral key is
/// drawn.
pub(crate) fn dh1_initiator(
    identity: &IdentityKeyPair,
    bundle: &VerifiedBundle,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let dh1 = identity.diffie_hellman(bundle.signed_prekey().1)?;
    if let Some((_, key)) = bundle.one_time_prekey()
        && crate::crypto::x25519_small_order(key.as_bytes())
    {
        return Err(Error::InvalidKey);
    }
    Ok(dh1)
}

/// The rest of the initiator's side, with the drawn `EK_A` and, for PQXDH,
/// the encapsulated secret `SS`.
pub(crate) fn initiator(
    identity: &IdentityKeyPair,
    dh1: &[u8; 32],
    bundle: &VerifiedBundle,
    ephemeral: &KeyPair,
    kem_secret: Option<&[u8; 32]>,
) -> Result<SharedSecrets, Error> {
    let dh2 = ephemeral.diffie_hellman(bundle.identity_key().montgomery())?;
    let dh3 = ephemeral.diffie_hellman(bundle.signed_prekey().1)?;
    let dh4 = bundle
        .one_time_prekey()
        .map(|(_, key)| ephemeral.diffie_hellman(&key))
        .transpose()?;
    Ok(kdf::x3dh(
        [dh1, &dh2, &dh3],
        dh4.as_deref(),
        kem_secret,
        identity.public_key().as_bytes(),
        bundle.identity_key().as_bytes(),
    ))
}

/// The responder's side; for PQXDH, with the KEM prekey and the
/// ciphertext `CT` to decapsulate.
pub(crate) fn responder(
    identity: &IdentityKeyPair,
    signed_prekey: &KeyPair,
    one_time_prekey: Option<&KeyPair>,
    kem: Option<(&KemPreKey, &Ciphertext)>,
    their_identity: &IdentityKey,
    their_ephemeral: &PublicKey,
) -> Result<SharedSecrets, Error> {
    let dh1 = signed_prekey.diffie_hellman(their_identity.montgomery())?;
    let dh2 = identity.diffie_hellman(their_ephemeral)?;
    let dh3 = signed_prekey.diffie_hellman(their_ephemeral)?;
    let dh4 = one_time_prekey
        .map(|k| k.diffie_hellman(their_ephemeral))
        .transpose()?;
    let kem_secret = kem.map(|(key, ct)| key.decapsulate(ct));
    Ok(kdf::x3dh(
        [&dh1, &dh2, &dh3],
        dh4.as_deref(),
        kem_secret.as_deref(),
        their_identity.as_bytes(),
        identity.public_key().as_bytes(),
    ))
}
