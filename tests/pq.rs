//! SPEC §1, §2b, §3b, §5: KEM prekeys, post-quantum bundles, PQXDH, the
//! downgrade rule and the consumption of one-time KEM prekeys, one test per
//! rule, through the public API.

use cliquet::{
    Account, AnyMessage, Directory, Error, KemPreKey, KemPreKeyKind, PreKeyBundle, Publication,
    Session, SessionConfig, SessionRecord,
};
use cliquet_testkit::rng::Recording;
use cliquet_testkit::{decrypt_checked, prekey};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Where `CT` starts in a PqPreKeyMessage, and where its flag is.
const CT_AT: usize = 73;
const FLAG_AT: usize = 1641;

fn accounts(seed: u8) -> (ChaCha20Rng, Account, Account) {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let alice = Account::new(&mut rng);
    let bob = Account::new(&mut rng);
    (rng, alice, bob)
}

#[test]
fn s3b_a_classic_bundle_is_refused_by_default_before_anything_is_drawn() {
    let (mut rng, alice, bob) = accounts(1);
    let pq = bob.bundle(None).expect("bundle");
    assert!(pq.is_post_quantum());
    // Dropping the KEM part leaves a bundle whose signature still verifies.
    let stripped = PreKeyBundle::decode(&pq.clone().without_kem_prekey().encode())
        .expect("decodes")
        .verify()
        .expect("the downgrade verifies");
    assert_eq!(
        bob.classic_bundle(None).expect("bundle").verify(),
        Ok(stripped.clone())
    );
    let mut recording = Recording::new(3);
    assert_eq!(
        Session::initiate(
            alice.identity(),
            &stripped,
            SessionConfig::default(),
            &mut recording
        )
        .err(),
        Some(Error::PostQuantumRequired)
    );
    assert!(recording.take().is_empty(), "a refused initiation draws");
    // The record refuses it the same way and stays empty.
    let mut record = SessionRecord::new();
    let before = record.to_stored();
    assert_eq!(
        record
            .start_new(
                alice.identity(),
                &stripped,
                SessionConfig::default(),
                &mut rng
            )
            .err(),
        Some(Error::PostQuantumRequired)
    );
    assert_eq!(record.to_stored(), before);
    // Explicitly allowed: classic X3DH (EK_A, then DHs: no `m`).
    let allowed = SessionConfig::default().with_classic_x3dh(true);
    let mut recording = Recording::new(3);
    let s =
        Session::initiate(alice.identity(), &stripped, allowed, &mut recording).expect("allowed");
    assert_eq!(recording.take(), [32, 32]);
    assert!(!s.is_post_quantum());
    // A post-quantum bundle: EK_A, m, DHs.
    let mut recording = Recording::new(3);
    let verified = pq.verify().expect("verifies");
    let s = Session::initiate(
        alice.identity(),
        &verified,
        SessionConfig::default(),
        &mut recording,
    )
    .expect("PQXDH");
    assert_eq!(recording.take(), [32, 32, 32]);
    assert!(s.is_post_quantum());
}

/// Issue 20: a responder could not require PQXDH. It now refuses a classic
/// prekey message (0x12) that would start a session unless its
/// configuration allows classic X3DH, as an initiator refuses a classic
/// bundle: anyone can send one, and the session would lack the
/// post-quantum share.
#[test]
fn s3b_a_responder_refuses_classic_x3dh_unless_allowed() {
    let (mut rng, alice, mut bob) = accounts(2);
    let allowed = SessionConfig::default().with_classic_x3dh(true);
    let pq = bob.bundle(None).unwrap().verify().unwrap();
    let classic = bob.classic_bundle(None).unwrap().verify().unwrap();
    let mut a = Session::initiate(alice.identity(), &classic, allowed, &mut rng).unwrap();
    let first = a.encrypt(b"hi", &mut rng).unwrap();
    assert_eq!(first.kind(), 0x12);
    // Refused by default, by the account and by a record, changing nothing.
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&prekey(first.clone()), SessionConfig::default())
            .err(),
        Some(Error::PostQuantumRequired)
    );
    assert_eq!(bob.to_stored(), before);
    let mut record = SessionRecord::new();
    let empty = record.to_stored();
    assert_eq!(
        record
            .decrypt(&mut bob, &first, SessionConfig::default())
            .err(),
        Some(Error::PostQuantumRequired)
    );
    assert_eq!((bob.to_stored(), record.to_stored()), (before, empty));
    // Allowed, classic X3DH runs; PQXDH runs whatever the configuration.
    let mut a_pq =
        Session::initiate(alice.identity(), &pq, SessionConfig::default(), &mut rng).unwrap();
    let first_pq = a_pq.encrypt(b"hi", &mut rng).unwrap();
    for (config, kind, a, first) in [
        (allowed, 0x12, &mut a, first),
        (SessionConfig::default(), 0x17, &mut a_pq, first_pq),
    ] {
        assert_eq!(first.kind(), kind);
        let accepted = bob.accept(&prekey(first), config).expect("accepted");
        assert_eq!(accepted.plaintext, b"hi");
        assert_eq!(accepted.session.is_post_quantum(), kind == 0x17);
        let mut b = accepted.session;
        let reply = b.encrypt(b"hello", &mut rng).unwrap();
        assert_eq!(a.decrypt(&reply).unwrap(), b"hello");
    }
}

#[test]
fn s3b_a_one_time_kem_prekey_is_consumed_only_when_its_first_message_decrypts() {
    let (mut rng, alice, mut bob) = accounts(3);
    let published = bob.generate_one_time_kem_prekeys(1, &mut rng);
    let id = published[0].id();
    assert_eq!(published[0].kind(), KemPreKeyKind::OneTime);
    // As a directory serves it (SPEC §2c): the signed part and the key.
    let bundle = bob
        .classic_bundle(None)
        .unwrap()
        .with_kem_prekey(published[0].clone());
    assert_eq!(bundle.kem_prekey().map(|k| k.id()), Some(id));
    let verified = bundle.verify().unwrap();
    let config = SessionConfig::default();
    let mut a = Session::initiate(alice.identity(), &verified, config, &mut rng).unwrap();
    let mut a2 = Session::initiate(alice.identity(), &verified, config, &mut rng).unwrap();
    let first = a.encrypt(b"first", &mut rng).unwrap();
    let other = a2.encrypt(b"other", &mut rng).unwrap();

    // A wrong CT decapsulates to another secret (implicit rejection): the
    // message fails to authenticate and nothing is consumed.
    let mut wrong_ct = first.encode();
    wrong_ct[CT_AT + 100] ^= 1;
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&prekey(AnyMessage::decode(&wrong_ct).unwrap()), config)
            .err(),
        Some(Error::Authentication)
    );
    assert_eq!(bob.to_stored(), before);
    assert_eq!(bob.one_time_kem_prekey_count(), 1);

    // The genuine one consumes it; the bundle falls back to the last resort.
    let mut b = bob
        .accept(&prekey(first), config)
        .expect("accepted")
        .session;
    assert_eq!(bob.one_time_kem_prekey_count(), 0);
    let fallback = bob.bundle(None).unwrap();
    assert_eq!(fallback.kem_prekey().map(|k| k.id()), bob.kem_prekey_id());
    assert_eq!(
        fallback.kem_prekey().map(|k| k.kind()),
        Some(KemPreKeyKind::LastResort)
    );
    // A second session from the same bundle: unknown_prekey, nothing changes.
    let before = bob.to_stored();
    assert_eq!(
        bob.accept(&prekey(other), config).err(),
        Some(Error::UnknownPreKey)
    );
    assert_eq!(bob.to_stored(), before);
    // The session goes on.
    let reply = b.encrypt(b"reply", &mut rng).unwrap();
    assert_eq!(a.decrypt(&reply).unwrap(), b"reply");

    // The last-resort one is not consumed: two sessions share it.
    let last_resort = fallback.verify().unwrap();
    for _ in 0..2 {
        let mut s = Session::initiate(alice.identity(), &last_resort, config, &mut rng).unwrap();
        let m = s.encrypt(b"m", &mut rng).unwrap();
        assert!(bob.accept(&prekey(m), config).is_ok());
    }
}

#[test]
fn s5_a_routed_pq_prekey_message_must_carry_the_sessions_kpk_id_but_not_its_ct() {
    let (mut rng, alice, mut bob) = accounts(4);
    let bundle = bob.bundle(None).unwrap().verify().unwrap();
    let config = SessionConfig::default();
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).unwrap();
    let first = a.encrypt(b"1", &mut rng).unwrap();
    let second = a.encrypt(b"2", &mut rng).unwrap();
    let third = a.encrypt(b"3", &mut rng).unwrap();
    let mut b = bob.accept(&prekey(first), config).unwrap().session;

    // Another kpk_id: authentication, not unknown_prekey (routed first).
    let mut other_kpk = second.encode();
    other_kpk[72] ^= 1;
    let other_kpk = AnyMessage::decode(&other_kpk).unwrap();
    assert_eq!(
        decrypt_checked(&mut b, &other_kpk).err(),
        Some(Error::Authentication)
    );
    // The same message as a 0x12 (kpk_id and CT dropped): authentication.
    let bytes = second.encode();
    let mut classic = vec![0x12];
    classic.extend(&bytes[1..69]);
    classic.extend(&bytes[FLAG_AT..]);
    let classic = AnyMessage::decode(&classic).expect("a well-formed 0x12");
    assert_eq!(classic.kind(), 0x12);
    assert_eq!(
        decrypt_checked(&mut b, &classic).err(),
        Some(Error::Authentication)
    );
    // Another CT is not compared: the copy decrypts like the genuine one,
    // which is then a duplicate.
    let mut other_ct = second.encode();
    other_ct[CT_AT] ^= 0xff;
    let other_ct = AnyMessage::decode(&other_ct).unwrap();
    assert_eq!(decrypt_checked(&mut b, &other_ct).unwrap(), b"2");
    assert_eq!(
        decrypt_checked(&mut b, &second).err(),
        Some(Error::Duplicate)
    );
    assert_eq!(decrypt_checked(&mut b, &third).unwrap(), b"3");

    // A 0x17 routed to a classic X3DH session: authentication.
    let allowed = SessionConfig::default().with_classic_x3dh(true);
    let classic_bundle = bob.classic_bundle(None).unwrap().verify().unwrap();
    let mut c = Session::initiate(alice.identity(), &classic_bundle, allowed, &mut rng).unwrap();
    let c1 = c.encrypt(b"c1", &mut rng).unwrap();
    let c2 = c.encrypt(b"c2", &mut rng).unwrap();
    let mut d = bob.accept(&prekey(c1), allowed).unwrap().session;
    let c2 = c2.encode();
    let mut pq = vec![0x17];
    pq.extend(&c2[1..69]);
    pq.extend(bob.kem_prekey_id().unwrap().to_be_bytes());
    pq.extend([0u8; 1568]);
    pq.extend(&c2[69..]);
    let pq = AnyMessage::decode(&pq).expect("a well-formed 0x17");
    assert_eq!(
        decrypt_checked(&mut d, &pq).err(),
        Some(Error::Authentication)
    );
}

#[test]
fn s3b_rotated_kem_prekeys_stay_usable_until_forgotten_and_ids_are_shared() {
    let (mut rng, alice, mut bob) = accounts(5);
    assert_eq!(bob.kem_prekey_id(), Some(1));
    let one_time: Vec<u32> = bob
        .generate_one_time_kem_prekeys(2, &mut rng)
        .iter()
        .map(|k| k.id())
        .collect();
    assert_eq!(one_time, [2, 3], "one sequence for both kinds");
    assert_eq!(bob.rotate_kem_prekey(&mut rng), 4);
    assert_eq!(
        bob.add_kem_prekey(KemPreKey::from_secret_bytes(
            3,
            KemPreKeyKind::OneTime,
            &[1; 64]
        )),
        Err(Error::PreKeyIdInUse)
    );
    // A session from the old last-resort key (a bundle fetched before the
    // rotation) is still accepted, until it is forgotten.
    let old = PreKeyBundle::decode(&bob.classic_bundle(None).unwrap().encode())
        .unwrap()
        .with_kem_prekey(bob_old_last_resort(&bob));
    let old = old.verify().unwrap();
    let config = SessionConfig::default();
    let mut a = Session::initiate(alice.identity(), &old, config, &mut rng).unwrap();
    let m1 = a.encrypt(b"1", &mut rng).unwrap();
    let mut a2 = Session::initiate(alice.identity(), &old, config, &mut rng).unwrap();
    let m2 = a2.encrypt(b"2", &mut rng).unwrap();
    assert!(bob.accept(&prekey(m1), config).is_ok());
    bob.forget_previous_kem_prekey();
    assert_eq!(
        bob.accept(&prekey(m2), config).err(),
        Some(Error::UnknownPreKey)
    );
}

/// The last-resort KEM prekey 1 of the account of `accounts(5)`, signed:
/// rebuilt from a fresh copy of the same account.
fn bob_old_last_resort(_: &Account) -> cliquet::SignedKemPreKey {
    let (_, _, bob) = accounts(5);
    bob.last_resort_kem_prekey().expect("one")
}

#[test]
fn s7_a_pq_initiator_keeps_ct_while_it_sends_prekey_messages() {
    let (mut rng, alice, mut bob) = accounts(6);
    let bundle = bob.bundle(None).unwrap().verify().unwrap();
    let config = SessionConfig::default();
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).unwrap();
    let first = a.encrypt(b"1", &mut rng).unwrap();
    let stored = a.to_stored();
    let mut a = Session::from_stored(&stored).unwrap();
    assert_eq!(a.to_stored(), stored);
    let second = a.encrypt(b"2", &mut rng).unwrap();
    assert_eq!(
        first.encode()[..FLAG_AT],
        second.encode()[..FLAG_AT],
        "the same handshake and CT after a reload"
    );
    let mut b = bob.accept(&prekey(first), config).unwrap().session;
    assert_eq!(decrypt_checked(&mut b, &second).unwrap(), b"2");
    let reply = b.encrypt(b"r", &mut rng).unwrap();
    a.decrypt(&reply).unwrap();
    // Acknowledged: CT is dropped.
    assert!(a.to_stored().len() + 1500 < stored.len());
    let reloaded = Session::from_stored(&a.to_stored()).unwrap();
    assert!(reloaded.is_post_quantum() && reloaded.is_acknowledged());
    let stored_b = b.to_stored();
    assert!(Session::from_stored(&stored_b).unwrap().is_post_quantum());
}

#[test]
fn s2b_bundle_sizes_and_message_overhead() {
    let (mut rng, alice, mut bob) = accounts(7);
    let (opk, _) = bob.generate_one_time_prekeys(1, &mut rng)[0];
    assert_eq!(bob.bundle(Some(opk)).unwrap().encode().len(), 1807);
    assert_eq!(bob.bundle(None).unwrap().encode().len(), 1771);
    let allowed = SessionConfig::default().with_classic_x3dh(true);
    let mut sizes = Vec::new();
    for bundle in [bob.bundle(None).unwrap(), bob.classic_bundle(None).unwrap()] {
        let bundle = bundle.verify().unwrap();
        let mut a = Session::initiate(alice.identity(), &bundle, allowed, &mut rng).unwrap();
        sizes.push(a.encrypt(b"", &mut rng).unwrap().encode().len());
    }
    assert_eq!(sizes[0] - sizes[1], 4 + 1568, "kpk_id and CT");
}

/// Issue 22 friction 1: an application that builds one bundle per one-time
/// prekey used to hand out the same one-time KEM prekey in each (the bundle
/// took the oldest one every time). A bundle of the account now carries the
/// last-resort KEM prekey only.
#[test]
fn s2c_bundles_of_the_account_never_repeat_a_one_time_kem_prekey() {
    let (mut rng, _alice, mut bob) = accounts(9);
    let ids: Vec<u32> = bob
        .generate_one_time_prekeys(3, &mut rng)
        .iter()
        .map(|k| k.0)
        .collect();
    bob.generate_one_time_kem_prekeys(2, &mut rng);
    let one_time_kem: Vec<u32> = ids
        .iter()
        .filter_map(|id| {
            let bundle = bob.bundle(Some(*id)).expect("bundle");
            let kem = bundle.kem_prekey().expect("post-quantum");
            (kem.kind() == KemPreKeyKind::OneTime).then(|| kem.id())
        })
        .collect();
    let distinct: std::collections::BTreeSet<_> = one_time_kem.iter().collect();
    assert_eq!(
        distinct.len(),
        one_time_kem.len(),
        "a one-time KEM prekey in two bundles: {one_time_kem:?}"
    );
}

/// SPEC §2c: a directory checks what it is given, hands out each one-time
/// prekey and one-time KEM prekey once, lowest id first, then falls back to
/// the last-resort KEM prekey; uploading again never brings a taken key
/// back; every bundle it hands out starts a session the account accepts.
#[test]
fn s2c_a_directory_hands_out_each_one_time_key_once() {
    let (mut rng, alice, mut bob) = accounts(10);
    bob.generate_one_time_prekeys(3, &mut rng);
    bob.generate_one_time_kem_prekeys(2, &mut rng);
    let bytes = bob.publication().encode();
    assert_eq!(bytes[0], 0x1C);
    assert_eq!(bytes.len(), 1 + 134 + 1 + 1637 + 4 + 3 * 36 + 4 + 2 * 1637);
    let publication = Publication::decode(&bytes).expect("decodes");
    assert_eq!(publication.encode(), bytes);
    assert!(
        bob.publication().one_time_prekeys().is_empty(),
        "marked published"
    );
    // A tampered signature is refused, and nothing is taken.
    let mut directory = Directory::new();
    let mut forged = bytes.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let forged = Publication::decode(&forged).expect("well formed");
    assert_eq!(directory.upload(&forged), Err(Error::BadSignature));
    assert!(directory.take_bundle().is_none());
    directory.upload(&publication).expect("verifies");
    directory.upload(&bob.full_publication()).expect("again");
    let bundles: Vec<_> = (0..4)
        .map(|_| directory.take_bundle().expect("one"))
        .collect();
    let taken: Vec<_> = bundles
        .iter()
        .map(|b| {
            (
                b.one_time_prekey().map(|(id, _)| id),
                b.kem_prekey().map(|k| (k.id(), k.kind())),
            )
        })
        .collect();
    use KemPreKeyKind::{LastResort, OneTime};
    assert_eq!(
        taken,
        [
            (Some(1), Some((2, OneTime))),
            (Some(2), Some((3, OneTime))),
            (Some(3), Some((1, LastResort))),
            (None, Some((1, LastResort))),
        ]
    );
    // Uploading everything again brings no taken key back; new keys come.
    directory.upload(&bob.full_publication()).expect("again");
    assert_eq!(directory.one_time_prekey_count(), 0);
    bob.generate_one_time_prekeys(1, &mut rng);
    directory.upload(&bob.publication()).expect("new keys");
    assert_eq!(directory.one_time_prekey_count(), 1);
    // Each bundle starts a session Bob accepts.
    for bundle in bundles {
        let verified = bundle.verify().expect("verifies");
        let config = SessionConfig::default();
        let mut a = Session::initiate(alice.identity(), &verified, config, &mut rng).unwrap();
        let first = prekey(a.encrypt(b"hi", &mut rng).unwrap());
        assert_eq!(
            bob.accept(&first, config).expect("accepted").plaintext,
            b"hi"
        );
    }
    // Malformed: a one-time KEM prekey in the last-resort place.
    let mut wrong_kind = bytes;
    wrong_kind[1 + 134 + 1 + 4] = 0x01;
    assert_eq!(
        Publication::decode(&wrong_kind).err(),
        Some(Error::Malformed(cliquet::DecodeError::BadFlag))
    );
}

/// SPEC §2c: a publication decodes exactly; each fault has its detail.
#[test]
fn s2c_publication_decoder_reports_each_fault() {
    use cliquet::DecodeError::{BadFlag, BadKind, Trailing, Truncated};
    let (mut rng, _alice, mut bob) = accounts(11);
    bob.generate_one_time_prekeys(1, &mut rng);
    let bytes = bob.publication().encode();
    for cut in 0..bytes.len() {
        assert!(
            matches!(Publication::decode(&bytes[..cut]), Err(Error::Malformed(_))),
            "cut at {cut}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(Publication::decode(&long), Err(Error::Malformed(Trailing)));
    let mut other_kind = bytes.clone();
    other_kind[0] = 0x16;
    assert_eq!(
        Publication::decode(&other_kind),
        Err(Error::Malformed(BadKind))
    );
    // The signed part carries no one-time prekey.
    let mut with_opk = bytes.clone();
    with_opk[134] = 0x01;
    assert_eq!(
        Publication::decode(&with_opk),
        Err(Error::Malformed(BadFlag))
    );
    // A count the rest cannot hold.
    let at = 1 + 134 + 1 + 1637;
    let mut huge = bytes;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(Publication::decode(&huge), Err(Error::Malformed(Truncated)));
}
