//! X3DH (SPEC §3) as pure functions returning zeroizing secrets.

use zeroize::Zeroizing;

use crate::Error;
use crate::bundle::VerifiedBundle;
use crate::crypto::{LABEL_X3DH, hkdf};
use crate::keys::{IdentityKey, IdentityKeyPair, KeyPair, PublicKey};
use crate::ratchet::{HeaderKey, RootKey};

/// What X3DH yields: `SK` as the first root key, the two header keys of §6,
/// and the associated data `AD = IK_A_pub || IK_B_pub`.
pub(crate) struct SharedSecrets {
    pub(crate) root_key: RootKey,
    pub(crate) header_key_alice: HeaderKey,
    pub(crate) next_header_key_bob: HeaderKey,
    pub(crate) associated_data: [u8; 64],
}

/// The initiator's side: `DH1 = X25519(IK_A, SPK_B)` is computed first, so an
/// unusable signed prekey fails before the ephemeral key is drawn.
pub(crate) fn dh1_initiator(
    identity: &IdentityKeyPair,
    bundle: &VerifiedBundle,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    identity.diffie_hellman(bundle.signed_prekey().1)
}

/// The rest of the initiator's side, with the drawn `EK_A`.
pub(crate) fn initiator(
    identity: &IdentityKeyPair,
    dh1: &[u8; 32],
    bundle: &VerifiedBundle,
    ephemeral: &KeyPair,
) -> Result<SharedSecrets, Error> {
    let dh2 = ephemeral.diffie_hellman(bundle.identity_key().montgomery())?;
    let dh3 = ephemeral.diffie_hellman(bundle.signed_prekey().1)?;
    let dh4 = bundle
        .one_time_prekey()
        .map(|(_, key)| ephemeral.diffie_hellman(&key))
        .transpose()?;
    Ok(derive(
        &[dh1, &dh2, &dh3],
        dh4.as_deref(),
        identity.public_key(),
        bundle.identity_key(),
    ))
}

/// The responder's side.
pub(crate) fn responder(
    identity: &IdentityKeyPair,
    signed_prekey: &KeyPair,
    one_time_prekey: Option<&KeyPair>,
    their_identity: &IdentityKey,
    their_ephemeral: &PublicKey,
) -> Result<SharedSecrets, Error> {
    let dh1 = signed_prekey.diffie_hellman(their_identity.montgomery())?;
    let dh2 = identity.diffie_hellman(their_ephemeral)?;
    let dh3 = signed_prekey.diffie_hellman(their_ephemeral)?;
    let dh4 = one_time_prekey
        .map(|k| k.diffie_hellman(their_ephemeral))
        .transpose()?;
    Ok(derive(
        &[&dh1, &dh2, &dh3],
        dh4.as_deref(),
        their_identity,
        identity.public_key(),
    ))
}

/// `HKDF(zeros(32), 0xFF*32 || DH1 || DH2 || DH3 [|| DH4], "cliquet/v1/x3dh", 96)`.
fn derive(
    dh: &[&[u8; 32]; 3],
    dh4: Option<&[u8; 32]>,
    initiator: &IdentityKey,
    responder: &IdentityKey,
) -> SharedSecrets {
    let mut ikm = Zeroizing::new([0xffu8; 160]);
    let parts = dh.iter().copied().chain(dh4);
    let mut len = 32;
    for (chunk, part) in ikm.chunks_exact_mut(32).skip(1).zip(parts) {
        chunk.copy_from_slice(part);
        len += 32;
    }
    let out = hkdf::<96>(&[0; 32], ikm.get(..len).unwrap_or_default(), LABEL_X3DH);
    let [sk, hka, nhkb] = split3(&out);
    let mut associated_data = [0u8; 64];
    associated_data[..32].copy_from_slice(initiator.as_bytes());
    associated_data[32..].copy_from_slice(responder.as_bytes());
    SharedSecrets {
        root_key: RootKey::from_bytes(sk),
        header_key_alice: HeaderKey::from_bytes(hka),
        next_header_key_bob: HeaderKey::from_bytes(nhkb),
        associated_data,
    }
}

/// Splits 96 bytes into three 32-byte keys.
pub(crate) fn split3(out: &[u8; 96]) -> [Zeroizing<[u8; 32]>; 3] {
    let mut keys = [
        Zeroizing::new([0u8; 32]),
        Zeroizing::new([0u8; 32]),
        Zeroizing::new([0u8; 32]),
    ];
    for (key, chunk) in keys.iter_mut().zip(out.chunks_exact(32)) {
        key.copy_from_slice(chunk);
    }
    keys
}
