//! The checks of the decoder, loader and decrypt targets: each function takes
//! one input and panics if cliquet breaks a promise on it (a panic inside
//! cliquet is a failure too).

use cliquet::{
    Account, AnyMessage, DecodeError, DecryptionFailure, Directory, EncryptedHeaderMessage, Error,
    Message, PreKeyBundle, PreKeyMessage, Publication, Session, SessionRecord,
};

use crate::fuzz::fixtures::{self, ReplayRng, STORAGE_KEY};

/// A target's check: panics on a broken promise; returns whether the input
/// got past parsing (decoded, loaded, decrypted).
pub type Check = fn(&[u8]) -> bool;

/// Every target by name (its seed corpus is `fuzz/seeds/<name>/`), with its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("decode_bundle", decode_bundle),
    ("decode_pq_bundle", decode_pq_bundle),
    ("decode_message", decode_message),
    ("decode_prekey_message", decode_prekey_message),
    ("decode_pq_prekey_message", decode_pq_prekey_message),
    (
        "decode_encrypted_header_message",
        decode_encrypted_header_message,
    ),
    ("decode_any_message", decode_any_message),
    ("load_account", load_account),
    ("load_session", load_session),
    ("open_sealed", open_sealed),
    ("load_record", load_record),
    ("decode_decryption_failure", decode_decryption_failure),
    ("decrypt_plain", decrypt_plain),
    ("decrypt_header", decrypt_header),
    ("protocol", crate::fuzz::protocol::run),
    (
        "decode_distribution",
        crate::fuzz::group::decode_distribution,
    ),
    (
        "decode_group_message",
        crate::fuzz::group::decode_group_message,
    ),
    ("group_decrypt", crate::fuzz::group::group_decrypt),
    ("decode_device_list", crate::fuzz::users::decode_device_list),
    ("load_user_record", crate::fuzz::users::load_user_record),
    (
        "device_list_updates",
        crate::fuzz::users::device_list_updates,
    ),
    ("decode_publication", decode_publication),
];

/// SPEC §2, §2b: a bundle of either kind that decodes re-encodes to the
/// same bytes; verifying it never panics and keeps its fields.
pub fn decode_bundle(data: &[u8]) -> bool {
    let Ok(bundle) = PreKeyBundle::decode(data) else {
        return false;
    };
    check_bundle(data, &bundle);
    true
}

/// SPEC §2b: the post-quantum decoder accepts exactly the 0x16 bundles
/// that the general one accepts, as the same value; verifying it checks
/// both signatures and the KEM key, and never panics.
pub fn decode_pq_bundle(data: &[u8]) -> bool {
    let decoded = PreKeyBundle::decode_post_quantum(data);
    if data.first() == Some(&0x16) {
        assert_eq!(decoded, PreKeyBundle::decode(data));
    } else {
        assert!(decoded.is_err(), "another kind accepted");
    }
    let Ok(bundle) = decoded else {
        return false;
    };
    assert!(bundle.is_post_quantum());
    check_bundle(data, &bundle);
    // Without its KEM prekey: the classic bundle, whose signature holds
    // whenever the post-quantum one verifies (the downgrade of SPEC §3b).
    let classic = bundle.clone().without_kem_prekey();
    if bundle.verify().is_ok() {
        assert!(classic.verify().is_ok(), "classic part did not verify");
    }
    true
}

fn check_bundle(data: &[u8], bundle: &PreKeyBundle) {
    assert_eq!(bundle.encode(), data, "bundle re-encodes differently");
    let lengths = if bundle.is_post_quantum() {
        [
            PreKeyBundle::PQ_LEN_WITHOUT_ONE_TIME_PREKEY,
            PreKeyBundle::PQ_LEN_WITH_ONE_TIME_PREKEY,
        ]
    } else {
        [
            PreKeyBundle::LEN_WITHOUT_ONE_TIME_PREKEY,
            PreKeyBundle::LEN_WITH_ONE_TIME_PREKEY,
        ]
    };
    assert!(
        lengths.contains(&data.len()),
        "bundle of {} bytes accepted",
        data.len()
    );
    if let Ok(verified) = bundle.verify() {
        assert_eq!(
            verified.identity_key().as_bytes(),
            bundle.identity_key_bytes()
        );
        assert_eq!(verified.one_time_prekey(), bundle.one_time_prekey());
        assert_eq!(verified.signed_prekey().0, bundle.signed_prekey_id());
        assert_eq!(
            verified.kem_prekey().map(|(id, key)| (id, key.clone())),
            bundle
                .kem_prekey()
                .map(|k| (k.id(), k.public_key().clone()))
        );
    }
}

/// SPEC §5: a `Message` that decodes re-encodes to the same bytes, its
/// fields are the header's bytes, and `AnyMessage` agrees.
pub fn decode_message(data: &[u8]) -> bool {
    let decoded = Message::decode(data);
    if data.first() == Some(&0x11) {
        assert_eq!(
            AnyMessage::decode(data),
            decoded.clone().map(AnyMessage::from)
        );
    }
    let Ok(m) = decoded else {
        return false;
    };
    assert_eq!(m.as_bytes(), data, "message re-encodes differently");
    assert!(data.len() >= 1 + 32 + 8 + 32, "short message accepted");
    assert_eq!(data.get(1..33), Some(&m.ratchet_key().as_bytes()[..]));
    assert_eq!(
        data.get(33..37),
        Some(&m.previous_chain_length().to_be_bytes()[..])
    );
    assert_eq!(data.get(37..41), Some(&m.index().to_be_bytes()[..]));
    assert_eq!(m.into_bytes(), data);
    true
}

/// SPEC §5: a `PreKeyMessage` that decodes re-encodes to the same bytes,
/// its inner message is its tail, and `AnyMessage` agrees.
pub fn decode_prekey_message(data: &[u8]) -> bool {
    let decoded = PreKeyMessage::decode(data);
    if matches!(data.first(), Some(&(0x12 | 0x17))) {
        assert_eq!(
            AnyMessage::decode(data),
            decoded.clone().map(AnyMessage::PreKey)
        );
    }
    let Ok(m) = decoded else {
        return false;
    };
    assert_eq!(m.encode(), data, "prekey message re-encodes differently");
    assert!(
        data.ends_with(m.message().as_bytes()),
        "inner message is not the tail"
    );
    let prefix = if m.one_time_prekey_id().is_some() {
        74
    } else {
        70
    };
    let kem = if m.is_post_quantum() { 4 + 1568 } else { 0 };
    assert_eq!(data.len(), prefix + kem + m.message().as_bytes().len());
    assert_eq!(data.first(), Some(&m.kind()));
    assert_eq!(
        m.kem_ciphertext().map(|ct| &ct[..]),
        m.is_post_quantum()
            .then(|| data.get(73..73 + 1568))
            .flatten()
    );
    assert_eq!(data.get(1..33), Some(&m.identity_key_bytes()[..]));
    assert_eq!(data.get(33..65), Some(&m.base_key().as_bytes()[..]));
    assert_eq!(
        AnyMessage::PreKey(m.clone()).into_bytes(),
        data,
        "into_bytes differs"
    );
    true
}

/// SPEC §5: the PqPreKeyMessage decoder accepts exactly the 0x17 messages
/// that the general one accepts, as the same value, and they pass the
/// prekey message checks.
pub fn decode_pq_prekey_message(data: &[u8]) -> bool {
    let decoded = PreKeyMessage::decode_post_quantum(data);
    if data.first() == Some(&0x17) {
        assert_eq!(decoded, PreKeyMessage::decode(data));
    } else {
        assert!(decoded.is_err(), "another kind accepted");
    }
    let Ok(m) = decoded else {
        return false;
    };
    assert!(m.is_post_quantum() && m.kem_prekey_id().is_some());
    assert!(decode_prekey_message(data));
    true
}

/// SPEC §6: an `EncryptedHeaderMessage` that decodes re-encodes to the same
/// bytes, and `AnyMessage` agrees.
pub fn decode_encrypted_header_message(data: &[u8]) -> bool {
    let decoded = EncryptedHeaderMessage::decode(data);
    if data.first() == Some(&0x13) {
        assert_eq!(
            AnyMessage::decode(data),
            decoded.clone().map(AnyMessage::from)
        );
    }
    let Ok(m) = decoded else {
        return false;
    };
    assert_eq!(m.as_bytes(), data, "message re-encodes differently");
    assert!(data.len() >= 1 + 68 + 32, "short message accepted");
    assert_eq!(m.into_bytes(), data);
    true
}

/// SPEC §5: `AnyMessage` dispatches on the kind byte exactly like the
/// message decoders, and what decodes re-encodes to the same bytes.
pub fn decode_any_message(data: &[u8]) -> bool {
    let any = AnyMessage::decode(data);
    let expected = match data.first() {
        None => Err(Error::Malformed(DecodeError::Truncated)),
        Some(0x11) => Message::decode(data).map(AnyMessage::from),
        Some(0x12) => PreKeyMessage::decode(data).map(AnyMessage::PreKey),
        Some(0x17) => PreKeyMessage::decode_post_quantum(data).map(AnyMessage::PreKey),
        Some(0x13) => EncryptedHeaderMessage::decode(data).map(AnyMessage::from),
        Some(_) => Err(Error::Malformed(DecodeError::BadKind)),
    };
    assert_eq!(any, expected, "AnyMessage disagrees with the typed decoder");
    let Ok(m) = any else {
        return false;
    };
    assert_eq!(m.encode(), data, "message re-encodes differently");
    assert_eq!(Some(&m.kind()), data.first());
    assert_eq!(m.into_bytes(), data);
    true
}

/// SPEC §7: state that loaded stores back to the same bytes if it was in
/// today's format version; state of an older version is stored in today's,
/// which loads and stores back to itself.
fn assert_stores_back(data: &[u8], stored: &[u8], reload: impl Fn(&[u8]) -> Vec<u8>, what: &str) {
    if stored.get(1) == data.get(1) {
        assert_eq!(stored, data, "{what} stores differently");
    } else {
        assert!(
            stored.get(1) > data.get(1),
            "{what} stored in an older version"
        );
        assert_eq!(
            reload(stored),
            stored,
            "{what}: upgraded state is not stable"
        );
    }
}

/// What every stored type owes (SPEC §7): `$value`, loaded from `$data`,
/// stores back as read (an older version: stably, in today's), and sealing
/// then opening gives the same bytes. Evaluates to the stored bytes.
macro_rules! stores_back_and_seals {
    ($ty:ident, $value:expr, $data:expr, $what:literal) => {{
        let stored = $value.to_stored();
        let reload = |b: &[u8]| $ty::from_stored(b).expect("reloads").to_stored().to_vec();
        assert_stores_back($data, &stored, reload, $what);
        let sealed = $value
            .seal(&STORAGE_KEY, b"ctx", &mut fixtures::rng(0))
            .expect("sealing works");
        let opened =
            $ty::open(&sealed, &STORAGE_KEY, b"ctx").expect(concat!("a sealed ", $what, " opens"));
        assert_eq!(opened.to_stored(), stored);
        stored
    }};
}

/// SPEC §7: an account that loads stores to the same bytes, seals and opens
/// to the same account, and its bundle verifies.
pub fn load_account(data: &[u8]) -> bool {
    let Ok(account) = Account::from_stored(data) else {
        return false;
    };
    stores_back_and_seals!(Account, account, data, "account");
    // The signed prekey is signed again on load: the classic part always
    // verifies. From format 4 the KEM prekeys' signed public parts are
    // stored and trusted (SPEC §11): altered ones fail safe, refused when
    // verified, never a panic.
    let classic = account
        .classic_bundle(None)
        .expect("the current bundle exists");
    let verified = classic
        .verify()
        .expect("an account's own signed part verifies");
    assert_eq!(verified.identity_key(), account.identity_key());
    let bundle = account.bundle(None).expect("the current bundle exists");
    let fails_safe = |r: Result<(), Error>| {
        assert!(
            matches!(r, Ok(()) | Err(Error::BadSignature | Error::InvalidKey)),
            "{r:?}"
        );
    };
    fails_safe(bundle.verify().map(|_| ()));
    for (id, key) in account.unpublished_one_time_prekeys() {
        let with = account.bundle(Some(id)).expect("a held one-time prekey");
        assert_eq!(with.one_time_prekey(), Some((id, key)));
    }
    // Its publication round-trips, and a directory takes it or refuses it
    // whole.
    let publication = account.full_publication();
    let bytes = publication.encode();
    assert_eq!(Publication::decode(&bytes).as_ref(), Ok(&publication));
    let mut directory = Directory::new();
    fails_safe(directory.upload(&publication));
    true
}

/// SPEC §2c: a publication that decodes re-encodes to the same bytes; a
/// directory takes it or refuses it whole, and every bundle it then hands
/// out verifies, each one-time key in one bundle only.
pub fn decode_publication(data: &[u8]) -> bool {
    let Ok(publication) = Publication::decode(data) else {
        return false;
    };
    assert_eq!(publication.encode(), data, "re-encoding");
    let mut directory = Directory::new();
    if directory.upload(&publication).is_err() {
        assert_eq!(directory, Directory::new(), "a refused upload changed it");
        return true;
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(bundle) = directory.take_bundle() {
        bundle
            .verify()
            .expect("a bundle of an uploaded publication verifies");
        let one_time = bundle.one_time_prekey().map(|(id, _)| id);
        let kem = bundle
            .kem_prekey()
            .filter(|k| k.kind() == cliquet::KemPreKeyKind::OneTime)
            .map(cliquet::SignedKemPreKey::id);
        if one_time.is_none() && kem.is_none() {
            break;
        }
        assert!(
            one_time.is_none_or(|id| seen.insert((0, id))),
            "handed out twice"
        );
        assert!(
            kem.is_none_or(|id| seen.insert((1, id))),
            "handed out twice"
        );
    }
    true
}

/// SPEC §7: a session that loads stores to the same bytes and seals and
/// opens to the same session; using it never panics, and a failed encrypt
/// leaves it unchanged.
pub fn load_session(data: &[u8]) -> bool {
    let Ok(mut session) = Session::from_stored(data) else {
        return false;
    };
    let stored = stores_back_and_seals!(Session, session, data, "session");
    match session.encrypt(b"from a loaded session", &mut fixtures::rng(1)) {
        Ok(m) => {
            let bytes = m.encode();
            assert_eq!(AnyMessage::decode(&bytes), Ok(m), "own message decodes");
            assert_eq!(
                matches!(AnyMessage::decode(&bytes), Ok(AnyMessage::PreKey(_))),
                !session.is_acknowledged()
            );
            let reloaded = Session::from_stored(&session.to_stored());
            assert!(
                reloaded.is_ok(),
                "a session that encrypted stores: {reloaded:?}"
            );
        }
        Err(_) => assert_eq!(session.to_stored(), stored, "failed encrypt changed state"),
    }
    true
}

/// A session record that loads stores to the same bytes and seals and opens
/// to the same record.
pub fn load_record(data: &[u8]) -> bool {
    let Ok(record) = SessionRecord::from_stored(data) else {
        return false;
    };
    stores_back_and_seals!(SessionRecord, record, data, "record");
    true
}

/// A decryption-failure notice that decodes re-encodes to the same bytes.
pub fn decode_decryption_failure(data: &[u8]) -> bool {
    let Ok(notice) = DecryptionFailure::decode(data) else {
        return false;
    };
    assert_eq!(notice.encode(), data, "notice re-encodes differently");
    true
}

/// SPEC §7: whatever opens under the storage key seals back, with the same
/// nonce, to the same bytes (in today's format version; an older sealed
/// state seals back in today's, which opens to the same state).
pub fn open_sealed(data: &[u8]) -> bool {
    let nonce = data.get(2..14).unwrap_or_default();
    let mut opened = false;
    if let Ok(account) = Account::open(data, &STORAGE_KEY, b"ctx") {
        let resealed = account
            .seal(&STORAGE_KEY, b"ctx", &mut ReplayRng::new(nonce))
            .expect("sealing works");
        let reopen = |b: &[u8]| {
            let opened = Account::open(b, &STORAGE_KEY, b"ctx").expect("reopens");
            assert_eq!(opened.to_stored(), account.to_stored());
            b.to_vec()
        };
        assert_stores_back(data, &resealed, reopen, "sealed account");
        opened = true;
    }
    if let Ok(session) = Session::open(data, &STORAGE_KEY, b"ctx") {
        let resealed = session
            .seal(&STORAGE_KEY, b"ctx", &mut ReplayRng::new(nonce))
            .expect("sealing works");
        let reopen = |b: &[u8]| {
            let opened = Session::open(b, &STORAGE_KEY, b"ctx").expect("reopens");
            assert_eq!(opened.to_stored(), session.to_stored());
            b.to_vec()
        };
        assert_stores_back(data, &resealed, reopen, "sealed session");
        opened = true;
    }
    opened
}

/// Decrypt of arbitrary bytes into the live plain-header sessions.
pub fn decrypt_plain(data: &[u8]) -> bool {
    decrypt(data, false)
}

/// Decrypt of arbitrary bytes into the live header-encrypted sessions.
pub fn decrypt_header(data: &[u8]) -> bool {
    decrypt(data, true)
}

/// SPEC §4 "decrypt is all or nothing": into both stored sessions of the
/// fixture, the input either carries a held-back genuine message for that
/// side and decrypts to its plaintext, or fails and the session is
/// unchanged. A message counts by the ratchet message it carries: the
/// session takes a pending prekey message's inner message on its own, and a
/// later message in a prekey envelope with the session's own fields (SPEC
/// §5), but any envelope of it only once. A prekey message never creates a
/// second session from Bob's account (its one-time prekey is used), and the
/// account is unchanged.
fn decrypt(data: &[u8], header_encryption: bool) -> bool {
    let fixture = fixtures::fixture(header_encryption);
    let Ok(message) = AnyMessage::decode(data) else {
        return false;
    };
    let carried = match &message {
        AnyMessage::PreKey(m) => m.message().as_bytes(),
        _ => data,
    };
    let mut decrypted = false;
    for (to_bob, stored) in [(false, &fixture.alice), (true, &fixture.bob)] {
        let mut session = Session::from_stored(stored).expect("the fixture loads");
        match session.decrypt(&message) {
            Err(_) => assert_eq!(
                session.to_stored().as_slice(),
                stored.as_slice(),
                "a failed decrypt changed the session"
            ),
            Ok(plaintext) => {
                let genuine = fixture
                    .messages
                    .iter()
                    .find(|g| g.ratchet == carried)
                    .expect("only a genuine message decrypts");
                assert!(genuine.pending, "a message decrypted twice");
                assert_eq!(genuine.to_bob, to_bob, "decrypted by the wrong side");
                assert_eq!(genuine.plaintext, plaintext, "wrong plaintext");
                if matches!(message, AnyMessage::PreKey(_)) {
                    let envelope = data.strip_suffix(carried);
                    assert!(
                        fixture.messages.iter().any(|g| g.bytes != g.ratchet
                            && g.bytes.strip_suffix(g.ratchet.as_slice()) == envelope),
                        "a prekey envelope with other fields than the session's decrypted"
                    );
                }
                let after = session.to_stored();
                for again in [data, genuine.bytes.as_slice(), genuine.ratchet.as_slice()] {
                    let again = AnyMessage::decode(again).expect("a genuine message decodes");
                    assert!(session.decrypt(&again).is_err(), "decrypted twice");
                    assert_eq!(session.to_stored(), after, "a failed decrypt changed state");
                }
                decrypted = true;
            }
        }
    }
    if let AnyMessage::PreKey(m) = &message {
        let mut account = Account::from_stored(&fixture.bob_account).expect("the fixture loads");
        let config = fixtures::decrypt_config(header_encryption);
        let result = account.accept(m, config);
        assert!(result.is_err(), "a used or forged prekey message accepted");
        assert_eq!(
            account.to_stored().as_slice(),
            fixture.bob_account.as_slice(),
            "a failed accept changed the account"
        );
    }
    decrypted
}
