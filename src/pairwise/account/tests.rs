//! Unit tests of the account's stored KEM prekeys.

use super::*;
use crate::keys::KemPreKeyKind;

/// A KEM prekey's 64-byte seed round-trips through storage with both
/// halves: `d` shows in the encapsulation key, `z` only in implicit
/// rejection (a wrong ciphertext's secret), which no vector observes.
#[test]
fn s7_kem_prekey_seed_round_trips_with_both_halves() {
    let mut seed = [0u8; 64];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap_or(0).wrapping_mul(7);
    }
    let identity = IdentityKeyPair::from_secret_bytes(&[1; 32]);
    let mut account = Account::from_keys(identity, SignedPreKey::from_secret_bytes(1, &[2; 32]));
    for (id, kind) in [(1, KemPreKeyKind::LastResort), (2, KemPreKeyKind::OneTime)] {
        let key = KemPreKey::from_secret_bytes(id, kind, &seed);
        assert_eq!(account.add_kem_prekey(key), Ok(()));
    }
    let loaded = Account::from_stored(&account.to_stored()).unwrap();
    assert_eq!(loaded.to_stored(), account.to_stored());
    let wrong_ct = [0x33; crate::crypto::kem::CIPHERTEXT_LEN];
    let mut other_z = seed;
    other_z[63] ^= 1;
    let other_z = KemPreKey::from_secret_bytes(9, KemPreKeyKind::OneTime, &other_z);
    for id in [1, 2] {
        let (before, after) = (
            account.kem_entry(id).unwrap(),
            loaded.kem_entry(id).unwrap(),
        );
        assert_eq!(after.key.seed(), &seed);
        assert_eq!(after.key.kind(), before.key.kind());
        assert_eq!(after.signed, before.signed);
        assert_eq!(
            *after.key.decapsulate(&wrong_ct),
            *before.key.decapsulate(&wrong_ct)
        );
        // The same d with another z: the same public key, another
        // implicit-rejection secret.
        assert_eq!(other_z.public_key(), after.key.public_key());
        assert_ne!(
            *other_z.decapsulate(&wrong_ct),
            *after.key.decapsulate(&wrong_ct)
        );
    }
}

/// Formats 2 and 3 stored the base keys themselves (at most 2,048); they
/// load as the tags of format 4, so their replays stay refused.
#[test]
fn s11_a_version_3_replay_memory_loads_as_tags() {
    let identity = IdentityKeyPair::from_secret_bytes(&[1; 32]);
    let mut account = Account::from_keys(identity, SignedPreKey::from_secret_bytes(1, &[2; 32]));
    let base_key = crate::keys::PublicKey::from_bytes([9; 32]);
    account
        .signed_prekey
        .accepted
        .insert(super::replay::tag(&base_key));
    let v4 = account.to_stored();
    // Version 3: no limit, and the base key in place of its tag.
    let mut v3 = alloc::vec![0x20, 3];
    v3.extend_from_slice(&v4[2..34]);
    v3.extend_from_slice(&v4[38..78]);
    v3.extend_from_slice(base_key.as_bytes());
    v3.extend_from_slice(&v4[86..]);
    let loaded = Account::from_stored(&v3).unwrap();
    assert_eq!(loaded.to_stored(), v4);
    assert_eq!(loaded.replay_memory_len(), 1);
}
