//! Keys and their encodings ([SPEC §1](crate::spec)): one type per secret role.

mod identity;
mod kem;
mod prekeys;
pub(crate) mod public;

pub use identity::IdentityKeyPair;
pub(crate) use identity::Verifier;
pub use kem::{KemPreKey, KemPreKeyKind, KemPublicKey};
pub(crate) use prekeys::KeyPair;
pub use prekeys::{OneTimePreKey, SignedPreKey};
pub(crate) use public::Hex;
pub use public::{IdentityKey, PublicKey};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn s1_identity_x25519_view_matches_both_sides() {
        // DH between identity secrets and the peer's Montgomery view agrees.
        let a = IdentityKeyPair::from_secret_bytes(&[1; 32]);
        let b = IdentityKeyPair::from_secret_bytes(&[2; 32]);
        let ab = a.diffie_hellman(b.public_key().montgomery()).ok();
        let ba = b.diffie_hellman(a.public_key().montgomery()).ok();
        assert!(ab.is_some());
        assert_eq!(ab.as_deref(), ba.as_deref());
    }

    #[test]
    fn s1_non_canonical_identity_key_is_rejected() {
        // y = p + 1 ≡ 1 encodes the identity point non-canonically; y = p + 3 a
        // non-canonical encoding of a regular point (where it decompresses).
        let p_plus = |k: u8| {
            let mut b = [0xff; 32];
            b[0] = 0xed_u8.wrapping_add(k);
            b[31] = 0x7f;
            b
        };
        for k in 0..18 {
            assert_eq!(
                IdentityKey::from_bytes(&p_plus(k)).err(),
                Some(Error::InvalidKey),
                "y = p + {k}"
            );
        }
        // A valid key re-encodes to itself and is accepted.
        let ok = IdentityKeyPair::from_secret_bytes(&[5; 32])
            .public_key()
            .to_bytes();
        assert!(IdentityKey::from_bytes(&ok).is_ok());
        // Setting the sign bit of a valid key gives another point (accepted) or fails;
        // on x = 0 with the sign bit set it must fail.
        let mut x0 = [0u8; 32];
        x0[0] = 1;
        x0[31] = 0x80;
        assert_eq!(IdentityKey::from_bytes(&x0).err(), Some(Error::InvalidKey));
    }

    #[test]
    fn s1_zero_dh_output_is_rejected() {
        let pair = KeyPair::from_secret_bytes(&[4; 32]);
        assert_eq!(
            pair.diffie_hellman(&PublicKey::from_bytes([0; 32])).err(),
            Some(Error::InvalidKey)
        );
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(
            pair.diffie_hellman(&PublicKey::from_bytes(one)).err(),
            Some(Error::InvalidKey)
        );
    }

    #[test]
    fn s5_debug_never_shows_secrets() {
        let secret = [0xab; 32];
        let shown = format!(
            "{:?} {:?} {:?} {:?}",
            IdentityKeyPair::from_secret_bytes(&secret),
            SignedPreKey::from_secret_bytes(1, &secret),
            OneTimePreKey::from_secret_bytes(2, &secret),
            KeyPair::from_secret_bytes(&secret)
        );
        assert!(!shown.contains("abab"), "{shown}");
        assert!(!shown.contains("171, 171"), "{shown}");
    }
}
