//! Setup shared by the bench targets (`cliquet`, `paired`, `memory`):
//! the session [`Pair`] of the test kit (`testkit/src/pair.rs`), the
//! benches' fixtures, and the floor: [`Cost`], how often an operation must
//! call each primitive by SPEC, and [`Floor`], those raw primitive calls.
#![allow(dead_code, reason = "each bench target uses a different part")]

use core::hint::black_box;
use libcrux_ml_kem::mlkem1024;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use cliquet::rand_core::Rng;
use cliquet::{Account, AnyMessage, Session, SessionConfig};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::Sha256;

pub(crate) use cliquet_testkit::pair::Pair;

/// Plaintext sizes of the steady-chain benches.
pub(crate) const SIZES: [usize; 5] = [0, 100, 1024, 16 * 1024, 1 << 20];
/// The payload of every bench that is not about size.
pub(crate) const PAYLOAD_LEN: usize = 100;
/// `AD` (64) plus the 41 header bytes of a Message (§4).
pub(crate) const AAD_PLAIN: usize = 64 + 41;
/// `AD` (64) plus the 69 header bytes of an EncryptedHeaderMessage (§6).
pub(crate) const AAD_HE: usize = 64 + 69;

pub(crate) fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

pub(crate) fn config(header_encryption: bool) -> SessionConfig {
    SessionConfig::default().with_header_encryption(header_encryption)
}

/// Alice's first (prekey) message of a new session from `verified`.
pub(crate) fn first_prekey_message(
    alice: &Account,
    verified: &cliquet::VerifiedBundle,
    rng: &mut ChaCha20Rng,
) -> cliquet::PreKeyMessage {
    // X3DH from a classic bundle (allowed here), PQXDH from a post-quantum one.
    let config = SessionConfig::default().with_classic_x3dh(true);
    let mut session = Session::initiate(alice.identity(), verified, config, rng).expect("initiate");
    match session.encrypt(&[0x5a; PAYLOAD_LEN], rng).expect("encrypt") {
        AnyMessage::PreKey(first) => first,
        _ => panic!("the first message is a prekey message"),
    }
}

/// `HKDF-SHA256(salt, ikm, info, N)`, the raw crate call.
pub(crate) fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut okm = [0u8; N];
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .expect("length within bounds");
    okm
}

/// `KDF_CK`: two HMAC-SHA256 under one key schedule.
pub(crate) fn kdf_ck(chain_key: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let keyed = Hmac::<Sha256>::new_from_slice(chain_key).expect("any key length");
    let mut first = keyed.clone();
    first.update(&[0x01]);
    let mut second = keyed;
    second.update(&[0x02]);
    (
        first.finalize().into_bytes().into(),
        second.finalize().into_bytes().into(),
    )
}

/// AES-256-GCM with its key schedule (each message has its own key), in
/// place on a buffer the caller owns: the cheapest possible call.
pub(crate) fn aes_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Tag {
    Aes256Gcm::new(key.into())
        .encrypt_inout_detached(&Nonce::<U12>::from(*nonce), aad, buf.into())
        .expect("seal")
}

/// AES-256-GCM decryption from `sealed` into a buffer the caller owns (no
/// copy of the input first).
pub(crate) fn aes_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
    out: &mut [u8],
    tag: &Tag,
) -> bool {
    let buf = InOutBuf::new(sealed, out).expect("equal lengths");
    Aes256Gcm::new(key.into())
        .decrypt_inout_detached(&Nonce::<U12>::from(*nonce), aad, buf, tag)
        .is_ok()
}

/// How many times an operation must call each primitive (SPEC §3-§6); the
/// body seal and open are at the fixture's size and associated-data length.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cost {
    pub(crate) rng16: u32,
    pub(crate) rng32: u32,
    pub(crate) keygen: u32,
    pub(crate) dh: u32,
    pub(crate) kdf_ck: u32,
    pub(crate) hkdf44: u32,
    pub(crate) kdf_rk: u32,
    pub(crate) kdf_rk_he: u32,
    pub(crate) x3dh_kdf: u32,
    pub(crate) header_seal: u32,
    pub(crate) header_open: u32,
    pub(crate) header_open_fail: u32,
    pub(crate) seal: u32,
    pub(crate) open: u32,
    pub(crate) ed_sign: u32,
    pub(crate) ed_decode: u32,
    pub(crate) ed_montgomery: u32,
    pub(crate) ed_verify: u32,
    pub(crate) ed_keygen: u32,
    /// The PQXDH KDF: HKDF over `0xFF*32 || DH1..DH4 || SS` (192 bytes).
    pub(crate) pqxdh_kdf: u32,
    /// Ed25519 sign / strict verify over a KEM prekey's signed message
    /// (1594 bytes: label, kind, id, encapsulation key).
    pub(crate) ed_sign_kem: u32,
    pub(crate) ed_verify_kem: u32,
    /// ML-KEM-1024: key expansion from the 64-byte seed, encapsulation,
    /// decapsulation (with an expanded key), the modulus check.
    pub(crate) kem_keygen: u32,
    pub(crate) kem_encaps: u32,
    pub(crate) kem_decaps: u32,
    pub(crate) kem_check: u32,
}

impl Cost {
    /// Steady encrypt: `KDF_CK`, the message KDF, the salt, the body.
    pub(crate) const ENCRYPT: Self = Self {
        kdf_ck: 1,
        hkdf44: 1,
        rng16: 1,
        seal: 1,
        ..Self::NONE
    };
    /// Steady decrypt.
    pub(crate) const DECRYPT: Self = Self {
        kdf_ck: 1,
        hkdf44: 1,
        open: 1,
        ..Self::NONE
    };
    pub(crate) const NONE: Self = Self {
        rng16: 0,
        rng32: 0,
        keygen: 0,
        dh: 0,
        kdf_ck: 0,
        hkdf44: 0,
        kdf_rk: 0,
        kdf_rk_he: 0,
        x3dh_kdf: 0,
        header_seal: 0,
        header_open: 0,
        header_open_fail: 0,
        seal: 0,
        open: 0,
        ed_sign: 0,
        ed_decode: 0,
        ed_montgomery: 0,
        ed_verify: 0,
        ed_keygen: 0,
        pqxdh_kdf: 0,
        ed_sign_kem: 0,
        ed_verify_kem: 0,
        kem_keygen: 0,
        kem_encaps: 0,
        kem_decaps: 0,
        kem_check: 0,
    };

    /// Steady encrypt with header encryption: also the header nonce (charged
    /// as a 16-byte draw) and the header seal.
    pub(crate) const fn encrypt(header_encryption: bool) -> Self {
        if header_encryption {
            Self {
                rng16: 2,
                header_seal: 1,
                ..Self::ENCRYPT
            }
        } else {
            Self::ENCRYPT
        }
    }

    /// Decrypt in the current chain, after `failed` header keys that do not
    /// open the header (with header encryption).
    pub(crate) const fn decrypt(header_encryption: bool, failed: u32) -> Self {
        if header_encryption {
            Self {
                header_open: 1,
                header_open_fail: failed,
                ..Self::DECRYPT
            }
        } else {
            Self::DECRYPT
        }
    }

    /// One message each way, each a DH ratchet step: the sender draws and
    /// generates a ratchet key, one DH and `KDF_RK`, then encrypts; the
    /// receiver does one DH and `KDF_RK`, then decrypts (with header
    /// encryption after `HKr` failed and `NHKr` opened).
    pub(crate) const fn ping_pong(header_encryption: bool) -> Self {
        let he = header_encryption as u32;
        Self {
            rng32: 2,
            keygen: 2,
            dh: 4,
            kdf_rk: 4 * (1 - he),
            kdf_rk_he: 4 * he,
            kdf_ck: 4,
            hkdf44: 4,
            rng16: 2 + 2 * he,
            header_seal: 2 * he,
            header_open: 2 * he,
            header_open_fail: 2 * he,
            seal: 2,
            open: 2,
            ..Self::NONE
        }
    }

    /// Decrypt with a key from the store (no chain step), after `failed`
    /// header keys.
    pub(crate) const fn from_store(header_encryption: bool, failed: u32) -> Self {
        Self {
            kdf_ck: 0,
            ..Self::decrypt(header_encryption, failed)
        }
    }

    /// The first message of a new chain: one DH and `KDF_RK`, then decrypt.
    pub(crate) const fn new_chain(header_encryption: bool, failed: u32) -> Self {
        let he = header_encryption as u32;
        Self {
            dh: 1,
            kdf_rk: 1 - he,
            kdf_rk_he: he,
            ..Self::decrypt(header_encryption, failed)
        }
    }

    /// A gap of `skip` in the current chain: `skip` more chain steps.
    pub(crate) const fn jump(header_encryption: bool, skip: u32) -> Self {
        Self {
            kdf_ck: 1 + skip,
            ..Self::decrypt(header_encryption, 0)
        }
    }
}

/// Inputs of the raw primitive calls, for one body size and mode.
pub(crate) struct Floor {
    rng: ChaCha20Rng,
    secret32: [u8; 32],
    salt: [u8; 16],
    x3dh_ikm: [u8; 160],
    key: [u8; 32],
    wrong_key: [u8; 32],
    nonce: [u8; 12],
    ad: [u8; 64],
    aad: Vec<u8>,
    body: Vec<u8>,
    sealed: Vec<u8>,
    tag: Tag,
    opened: Vec<u8>,
    header: [u8; 40],
    sealed_header: [u8; 40],
    header_tag: Tag,
    x25519_secret: x25519_dalek::StaticSecret,
    x25519_public: x25519_dalek::PublicKey,
    signing: SigningKey,
    message: Vec<u8>,
    public_bytes: [u8; 32],
    verifying: VerifyingKey,
    signature: Signature,
    pqxdh_ikm: [u8; 192],
    kem_message: Vec<u8>,
    kem_signature: Signature,
    kem_seed: [u8; 64],
    kem_public: mlkem1024::MlKem1024PublicKey,
    kem_private: mlkem1024::MlKem1024PrivateKey,
    kem_ciphertext: mlkem1024::MlKem1024Ciphertext,
}

impl Floor {
    pub(crate) fn new(len: usize, header_encryption: bool) -> Self {
        let (key, nonce, ad) = ([4u8; 32], [5u8; 12], [6u8; 64]);
        let aad = vec![6u8; if header_encryption { AAD_HE } else { AAD_PLAIN }];
        let mut sealed = vec![0x5a; len];
        let tag = aes_seal(&key, &nonce, &aad, &mut sealed);
        let mut sealed_header = [0x11u8; 40];
        let header_tag = aes_seal(&key, &nonce, &ad, &mut sealed_header);
        let signing = SigningKey::from_bytes(&[10u8; 32]);
        let mut message = b"cliquet/v1/signed-prekey".to_vec();
        message.extend_from_slice(&[12u8; 32]);
        let signature = signing.sign(&message);
        let kem_seed = [13u8; 64];
        let (kem_private, kem_public) = mlkem1024::generate_key_pair(kem_seed).into_parts();
        let (kem_ciphertext, _) = mlkem1024::encapsulate(&kem_public, [14u8; 32]);
        let mut kem_message = b"cliquet/v1/kem-prekey".to_vec();
        kem_message.extend_from_slice(&[0, 0, 0, 0, 1]);
        kem_message.extend_from_slice(kem_public.as_slice());
        let kem_signature = signing.sign(&kem_message);
        Self {
            pqxdh_ikm: [0xffu8; 192],
            kem_message,
            kem_signature,
            kem_seed,
            kem_public,
            kem_private,
            kem_ciphertext,
            rng: rng(50),
            secret32: [1u8; 32],
            salt: [2u8; 16],
            x3dh_ikm: [0xffu8; 160],
            key,
            wrong_key: [8u8; 32],
            nonce,
            ad,
            aad,
            body: vec![0x5a; len],
            sealed,
            tag,
            opened: vec![0u8; len],
            header: [0x11u8; 40],
            sealed_header,
            header_tag,
            x25519_secret: x25519_dalek::StaticSecret::from([9u8; 32]),
            x25519_public: x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(
                [3u8; 32],
            )),
            public_bytes: signing.verifying_key().to_bytes(),
            verifying: signing.verifying_key(),
            signing,
            message,
            signature,
        }
    }

    /// Calls each primitive as often as `cost` says.
    pub(crate) fn run(&mut self, cost: &Cost) {
        let k = &self.secret32;
        for _ in 0..cost.rng16 {
            let mut buf = [0u8; 16];
            self.rng.fill_bytes(&mut buf);
            black_box(buf);
        }
        for _ in 0..cost.rng32 {
            let mut buf = [0u8; 32];
            self.rng.fill_bytes(&mut buf);
            black_box(buf);
        }
        for _ in 0..cost.keygen {
            let secret = x25519_dalek::StaticSecret::from(*black_box(k));
            black_box(x25519_dalek::PublicKey::from(&secret));
        }
        for _ in 0..cost.dh {
            let shared = self
                .x25519_secret
                .diffie_hellman(black_box(&self.x25519_public));
            assert!(shared.was_contributory());
            black_box(shared.to_bytes());
        }
        for _ in 0..cost.kdf_ck {
            black_box(kdf_ck(black_box(k)));
        }
        for _ in 0..cost.hkdf44 {
            black_box(hkdf::<44>(black_box(&self.salt), k, b"cliquet/v1/message"));
        }
        for _ in 0..cost.kdf_rk {
            black_box(hkdf::<64>(black_box(k), k, b"cliquet/v1/root"));
        }
        for _ in 0..cost.kdf_rk_he {
            black_box(hkdf::<96>(black_box(k), k, b"cliquet/v1/root-he"));
        }
        for _ in 0..cost.x3dh_kdf {
            black_box(hkdf::<96>(
                black_box(&[0u8; 32]),
                &self.x3dh_ikm,
                b"cliquet/v1/x3dh",
            ));
        }
        for _ in 0..cost.header_seal {
            black_box(aes_seal(
                &self.key,
                &self.nonce,
                black_box(&self.ad),
                &mut self.header,
            ));
        }
        for _ in 0..cost.header_open {
            let mut out = [0u8; 40];
            let ok = aes_open(
                &self.key,
                &self.nonce,
                black_box(&self.ad),
                &self.sealed_header,
                &mut out,
                &self.header_tag,
            );
            assert!(ok);
            black_box(out);
        }
        for _ in 0..cost.header_open_fail {
            let mut out = [0u8; 40];
            let ok = aes_open(
                &self.wrong_key,
                &self.nonce,
                black_box(&self.ad),
                &self.sealed_header,
                &mut out,
                &self.header_tag,
            );
            assert!(!ok);
            black_box(out);
        }
        for _ in 0..cost.seal {
            black_box(aes_seal(
                &self.key,
                &self.nonce,
                black_box(&self.aad),
                &mut self.body,
            ));
        }
        for _ in 0..cost.open {
            let ok = aes_open(
                &self.key,
                &self.nonce,
                black_box(&self.aad),
                &self.sealed,
                &mut self.opened,
                &self.tag,
            );
            assert!(ok);
            black_box(&self.opened);
        }
        for _ in 0..cost.ed_sign {
            black_box(self.signing.sign(black_box(&self.message)));
        }
        for _ in 0..cost.ed_decode {
            black_box(VerifyingKey::from_bytes(black_box(&self.public_bytes)).expect("decodes"));
        }
        for _ in 0..cost.ed_montgomery {
            black_box(black_box(&self.verifying).to_montgomery());
        }
        for _ in 0..cost.ed_keygen {
            black_box(SigningKey::from_bytes(black_box(k)));
        }
        for _ in 0..cost.ed_verify {
            self.verifying
                .verify_strict(black_box(&self.message), &self.signature)
                .expect("verifies");
        }
        for _ in 0..cost.pqxdh_kdf {
            black_box(hkdf::<96>(
                black_box(&[0u8; 32]),
                &self.pqxdh_ikm,
                b"cliquet/v1/pqxdh",
            ));
        }
        for _ in 0..cost.ed_sign_kem {
            black_box(self.signing.sign(black_box(&self.kem_message)));
        }
        for _ in 0..cost.ed_verify_kem {
            self.verifying
                .verify_strict(black_box(&self.kem_message), &self.kem_signature)
                .expect("verifies");
        }
        for _ in 0..cost.kem_keygen {
            black_box(mlkem1024::generate_key_pair(*black_box(&self.kem_seed)));
        }
        for _ in 0..cost.kem_encaps {
            black_box(mlkem1024::encapsulate(
                black_box(&self.kem_public),
                *black_box(k),
            ));
        }
        for _ in 0..cost.kem_decaps {
            black_box(mlkem1024::decapsulate(
                black_box(&self.kem_private),
                &self.kem_ciphertext,
            ));
        }
        for _ in 0..cost.kem_check {
            assert!(mlkem1024::validate_public_key(black_box(&self.kem_public)));
        }
    }
}
