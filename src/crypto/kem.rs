//! ML-KEM-1024 (FIPS 203) over plain byte arrays, for PQXDH ([SPEC §1](crate::spec), §3b):
//! the only module that names the KEM crate (`libcrux-ml-kem`, formally
//! verified, the one libsignal uses). Key generation from the 64-byte seed
//! `d || z`, encapsulation with a caller-drawn `m`, decapsulation, and the
//! modulus check of an encapsulation key. What the bytes mean is decided
//! above.
//!
//! Zeroization: the seed and the shared secrets this module returns are
//! zeroized when dropped, but libcrux keeps copies of key material (the
//! expanded decapsulation key, intermediate polynomials) on the stack while
//! it works and does not wipe them. No heap block holds them.

use alloc::boxed::Box;

use libcrux_ml_kem::mlkem1024;
use zeroize::Zeroizing;

/// Length of a KEM prekey's stored secret, the seed `d || z`.
pub(crate) const SEED_LEN: usize = 64;
/// Length of an ML-KEM-1024 encapsulation key.
pub(crate) const ENCAPSULATION_KEY_LEN: usize = 1568;
/// Length of an ML-KEM-1024 ciphertext.
pub(crate) const CIPHERTEXT_LEN: usize = 1568;
/// Length of the shared secret.
pub(crate) const SHARED_SECRET_LEN: usize = 32;

/// An ML-KEM-1024 ciphertext.
pub(crate) type Ciphertext = [u8; CIPHERTEXT_LEN];
/// An ML-KEM-1024 encapsulation key.
pub(crate) type EncapsulationKey = [u8; ENCAPSULATION_KEY_LEN];

/// `ML-KEM.KeyGen_internal(d, z)`, keeping only the encapsulation key; the
/// expanded decapsulation key is zeroized.
pub(crate) fn encapsulation_key(seed: &[u8; SEED_LEN]) -> Box<EncapsulationKey> {
    let (private, public) = mlkem1024::generate_key_pair(*seed).into_parts();
    drop(Zeroizing::new(<[u8; 3168]>::from(private)));
    Box::new(public.into())
}

/// `ML-KEM.Encaps_internal(ek, m)`: the ciphertext and the shared secret.
/// `ek` must have passed [`modulus_check`].
pub(crate) fn encapsulate(
    ek: &EncapsulationKey,
    m: &[u8; 32],
) -> (Box<Ciphertext>, Zeroizing<[u8; SHARED_SECRET_LEN]>) {
    let (ct, ss) = mlkem1024::encapsulate(&ek.into(), *m);
    (Box::new(ct.into()), Zeroizing::new(ss))
}

/// `ML-KEM.Decaps_internal` with the decapsulation key expanded from
/// `seed`: never fails (implicit rejection, a wrong ciphertext gives a
/// pseudorandom secret that depends on `z`).
pub(crate) fn decapsulate(
    seed: &[u8; SEED_LEN],
    ct: &Ciphertext,
) -> Zeroizing<[u8; SHARED_SECRET_LEN]> {
    let (private, _) = mlkem1024::generate_key_pair(*seed).into_parts();
    let ss = Zeroizing::new(mlkem1024::decapsulate(&private, &ct.into()));
    drop(Zeroizing::new(<[u8; 3168]>::from(private)));
    ss
}

/// FIPS 203's modulus check (§7.2): every 12-bit coefficient of the first
/// 1536 bytes is below q = 3329.
pub(crate) fn modulus_check(ek: &EncapsulationKey) -> bool {
    mlkem1024::validate_public_key(&ek.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_round_trip_and_implicit_rejection_depends_on_z() {
        let seed = [7u8; SEED_LEN];
        let ek = encapsulation_key(&seed);
        assert!(modulus_check(&ek));
        let (ct, ss) = encapsulate(&ek, &[9; 32]);
        assert_eq!(*decapsulate(&seed, &ct), *ss);
        // A wrong ciphertext: a secret that depends on z (the second half).
        let mut wrong = *ct;
        wrong[0] ^= 1;
        let mut other_z = seed;
        other_z[63] ^= 1;
        assert_eq!(encapsulation_key(&other_z), ek, "z does not change ek");
        assert_ne!(*decapsulate(&seed, &wrong), *ss);
        assert_ne!(*decapsulate(&seed, &wrong), *decapsulate(&other_z, &wrong));
        // A coefficient equal to q fails the modulus check.
        let mut bad = *ek;
        bad[0] = 0x01;
        bad[1] = 0x0d; // 0xd01 = 3329
        assert!(!modulus_check(&bad));
    }
}
