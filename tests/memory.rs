//! STYLE habit 5: no `Debug` output shows a secret, for every public type
//! that holds a secret or is derived from one.
//!
//! The secrets searched for are the known secret inputs (the identity seed,
//! the prekey secrets, a plaintext) and the whole stored state of every
//! account, session and record involved (`to_bytes()`: root, chain, header
//! and skipped message keys, ratchet and prekey secrets), every 8 bytes in a
//! row of them; see `cliquet_testkit::debug` for the forms and what is exempt.

use cliquet::rand_core::Rng;
use cliquet::{
    Account, AnyMessage, DecryptionFailure, IdentityKeyPair, OneTimePreKey, RatchetMessage,
    SessionConfig, SignedPreKey,
};
use cliquet_testkit::debug::{Secrets, WINDOW, assert_no_secret};
use cliquet_testkit::devices::Devices;
use cliquet_testkit::initiated;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// What Alice says first: Bob's `Accepted` holds it.
const PLAINTEXT: &[u8] = b"7 owls fly at midnight over Zanzibar";

/// Debug outputs, the secrets they must not show and the public values
/// they may.
#[derive(Default)]
struct Shown {
    outputs: Vec<(String, String)>,
    secrets: Vec<Vec<u8>>,
    public: Vec<Vec<u8>>,
}

impl Shown {
    /// `value` in both `Debug` forms.
    fn debug(&mut self, what: &str, value: &impl std::fmt::Debug) {
        self.outputs.push((what.to_owned(), format!("{value:?}")));
        self.outputs
            .push((format!("{what} (pretty)"), format!("{value:#?}")));
    }

    fn secret(&mut self, bytes: &[u8]) {
        self.secrets.push(bytes.to_vec());
    }

    fn public(&mut self, bytes: impl AsRef<[u8]>) {
        self.public.push(bytes.as_ref().to_vec());
    }

    /// A message, and the public keys it shows.
    fn message(&mut self, what: &str, m: &AnyMessage) {
        self.debug(what, m);
        if let AnyMessage::PreKey(p) = m {
            self.public(p.identity_key_bytes());
            self.public(p.base_key().to_bytes());
            self.public(p.session_id().to_bytes());
            self.debug(&format!("{what}: PreKeyMessage"), p);
        }
        let ratchet = m.ratchet_message();
        self.debug(&format!("{what}: RatchetMessage"), ratchet);
        match ratchet {
            RatchetMessage::Plain(plain) => {
                self.public(plain.ratchet_key().to_bytes());
                self.debug(&format!("{what}: Message"), plain);
            }
            RatchetMessage::EncryptedHeader(he) => {
                self.debug(&format!("{what}: EncryptedHeaderMessage"), he);
            }
            other => panic!("a kind this test does not know: {other:?}"),
        }
        let signer = IdentityKeyPair::from_secret_bytes(&[0x3c; 32]);
        let notice = DecryptionFailure::for_message(m, &signer, signer.public_key());
        self.debug(&format!("{what}: DecryptionFailure"), &notice);
    }

    fn check(&self) -> usize {
        let secrets: Vec<&[u8]> = self.secrets.iter().map(Vec::as_slice).collect();
        let secrets = Secrets::new(&secrets);
        let public: Vec<&[u8]> = self.public.iter().map(Vec::as_slice).collect();
        for (what, output) in &self.outputs {
            assert_no_secret(what, output, &secrets, &public);
        }
        self.outputs.len()
    }
}

fn secret32(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    bytes
}

#[test]
fn s7_no_debug_output_shows_a_secret() {
    let mut shown = Shown::default();
    let mut rng = ChaCha20Rng::from_seed([61; 32]);

    // Keys from known secrets.
    let (seed, spk_secret, opk_secret) =
        (secret32(&mut rng), secret32(&mut rng), secret32(&mut rng));
    let identity = IdentityKeyPair::from_secret_bytes(&seed);
    let signed = SignedPreKey::from_secret_bytes(7, &spk_secret);
    let one_time = OneTimePreKey::from_secret_bytes(9, &opk_secret);
    for secret in [&seed, &spk_secret, &opk_secret] {
        shown.secret(secret);
    }
    shown.public(identity.public_key().to_bytes());
    shown.public(signed.public_key().to_bytes());
    shown.public(one_time.public_key().to_bytes());
    shown.debug("IdentityKeyPair", &identity);
    shown.debug("SignedPreKey", &signed);
    shown.debug("OneTimePreKey", &one_time);

    // A KEM prekey from a known seed: each half is a secret.
    let (kem_d, kem_z) = (secret32(&mut rng), secret32(&mut rng));
    let mut kem_seed = [0u8; 64];
    kem_seed[..32].copy_from_slice(&kem_d);
    kem_seed[32..].copy_from_slice(&kem_z);
    shown.secret(&kem_d);
    shown.secret(&kem_z);
    let kem =
        cliquet::KemPreKey::from_secret_bytes(3, cliquet::KemPreKeyKind::LastResort, &kem_seed);
    shown.debug("KemPreKey", &kem);
    shown.debug("KemPublicKey", kem.public_key());

    let mut bob = Account::from_keys(identity, signed);
    bob.add_one_time_prekey(one_time).expect("add");
    bob.add_kem_prekey(kem).expect("add KEM prekey");
    let alice = Account::new(&mut rng);
    shown.public(alice.identity_key().to_bytes());
    // A stored account (format 4) holds its KEM prekeys' public parts,
    // which Debug shows the first 8 bytes of.
    for account in [&alice, &bob] {
        let kem = account.last_resort_kem_prekey().expect("a KEM prekey");
        shown.public(&kem.public_key().as_bytes()[..8]);
    }
    shown.debug("IdentityKeyPair (generated)", alice.identity());
    let stored_bob = bob.to_stored();
    assert!(
        stored_bob.windows(32).any(|w| w == seed)
            && stored_bob.windows(32).any(|w| w == opk_secret),
        "the stored account holds the secrets it was made from"
    );

    for header_encryption in [false, true] {
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let mode = if header_encryption {
            "header encryption"
        } else {
            "plain"
        };
        let opk = if header_encryption {
            let (id, key) = bob.generate_one_time_prekeys(1, &mut rng)[0];
            shown.public(key.to_bytes());
            id
        } else {
            9
        };
        shown.secret(&alice.to_stored());
        shown.secret(&bob.to_stored());
        shown.debug(&format!("Account ({mode})"), &bob);
        shown.debug(&format!("Account, Alice ({mode})"), &alice);

        let bundle = bob.bundle(Some(opk)).expect("bundle");
        let verified = bundle.verify().expect("verifies");
        shown.debug(&format!("PreKeyBundle ({mode})"), &bundle);
        shown.debug(&format!("VerifiedBundle ({mode})"), &verified);

        let mut a = cliquet::Session::initiate(alice.identity(), &verified, config, &mut rng)
            .expect("initiate");
        shown.public(a.session_id().to_bytes());
        let first = a.encrypt(PLAINTEXT, &mut rng).expect("encrypt");
        shown.message(&format!("prekey message ({mode})"), &first);
        shown.secret(&a.to_stored());
        shown.debug(&format!("Session, initiator, unacknowledged ({mode})"), &a);

        let AnyMessage::PreKey(first) = first else {
            panic!("a prekey message")
        };
        let accepted = bob.accept(&first, config).expect("accept");
        shown.secret(PLAINTEXT);
        shown.secret(&accepted.session.to_stored());
        shown.secret(&bob.to_stored());
        shown.debug(&format!("Accepted ({mode})"), &accepted);
        let mut b = accepted.session;

        // Messages both ways, some held back so both sides store skipped keys.
        let reply = b.encrypt(b"reply", &mut rng).expect("encrypt");
        shown.message(&format!("reply ({mode})"), &reply);
        a.decrypt(&reply).expect("reply");
        let held_by_alice = a.encrypt(b"held", &mut rng).expect("encrypt");
        let to_bob = a.encrypt(b"to bob", &mut rng).expect("encrypt");
        b.decrypt(&to_bob).expect("to bob");
        let held_by_bob = b.encrypt(b"held", &mut rng).expect("encrypt");
        let to_alice = b.encrypt(b"to alice", &mut rng).expect("encrypt");
        a.decrypt(&to_alice).expect("to alice");
        assert_eq!((a.skipped_keys(), b.skipped_keys()), (1, 1));
        for (what, m) in [
            ("held by Alice", &held_by_alice),
            ("to Bob", &to_bob),
            ("held by Bob", &held_by_bob),
            ("to Alice", &to_alice),
        ] {
            shown.message(&format!("{what} ({mode})"), m);
        }
        for (role, session) in [("initiator", &a), ("responder", &b)] {
            shown.secret(&session.to_stored());
            shown.debug(&format!("Session, {role} ({mode})"), session);
        }
    }

    // A record with a current and archived sessions, on both sides.
    for header_encryption in [false, true] {
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let mut d = Devices::with_config(62, config);
        d.start(true);
        let m = d.send(true, PLAINTEXT);
        d.deliver(true, &m).expect("first");
        d.round_trip();
        let held = d.send(true, b"held");
        d.start(false);
        let m = d.send(false, b"a new session");
        d.deliver(false, &m).expect("new session");
        d.round_trip();
        shown.message("record message", &held);
        for device in [&d.alice, &d.bob] {
            shown.public(device.account.identity_key().to_bytes());
            for session in device
                .record
                .current()
                .into_iter()
                .chain(device.record.archived())
            {
                shown.public(session.session_id().to_bytes());
                shown.secret(&session.to_stored());
            }
            assert_ne!(device.record.archived().len(), 0);
            shown.secret(&device.record.to_stored());
            shown.secret(&device.account.to_stored());
            shown.debug("SessionRecord", &device.record);
            let debug = format!("{:?}", device.record);
            assert!(debug.contains("SessionRecord") && debug.contains("session_id"));
        }
    }

    // SPEC §14: a user key from a known seed, a device list, and a person
    // record with live sessions.
    let user_seed = secret32(&mut rng);
    shown.secret(&user_seed);
    let user = cliquet::UserKeyPair::from_secret_bytes(&user_seed);
    shown.secret(&user.to_stored());
    shown.public(user.public_key().to_bytes());
    shown.debug("UserKeyPair", &user);
    let mut d = Devices::with_config(64, SessionConfig::default());
    let uk = *user.public_key();
    let list = cliquet::DeviceListBuilder::new(1)
        .device(
            1,
            *d.bob.account.identity_key(),
            d.bob.account.link_signature(&uk, 1),
        )
        .sign(&user)
        .expect("a valid list");
    shown.public(list.as_bytes());
    shown.public(d.bob.account.identity_key().to_bytes());
    shown.debug("VerifiedDeviceList", &list);
    shown.debug(
        "DeviceList",
        &cliquet::DeviceList::decode(list.as_bytes()).expect("decodes"),
    );
    let mut person = cliquet::PersonRecord::new();
    let change = person.accept_list(&list).expect("first list");
    shown.debug("ListChange", &change);
    let bundle = d
        .bob
        .account
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    person
        .start_session(
            1,
            d.alice.account.identity(),
            &bundle,
            SessionConfig::default(),
            &mut rng,
        )
        .expect("session");
    let sent = person
        .encrypt(PLAINTEXT, &mut rng)
        .expect("encrypts")
        .messages;
    shown.message("person message", &sent[0].message);
    shown.debug("DeviceMessage", &sent[0]);
    d.bob
        .record
        .decrypt(
            &mut d.bob.account,
            &sent[0].message,
            SessionConfig::default(),
        )
        .expect("decrypts");
    let reply = d.bob.record.encrypt(b"reply", &mut rng).expect("reply");
    shown.message("person reply", &reply);
    person
        .decrypt(&mut d.alice.account, 1, &reply, SessionConfig::default())
        .expect("reply decrypts");
    if let Some(session) = person.session(1).and_then(cliquet::SessionRecord::current) {
        shown.public(session.session_id().to_bytes());
        shown.secret(&session.to_stored());
    }
    shown.secret(&person.to_stored());
    shown.debug("PersonRecord", &person);

    let checked = shown.check();
    assert!(checked >= 60, "{checked} outputs checked");
}

/// The check itself finds a secret in every form `Debug` prints bytes in,
/// also when only 8 bytes of it are shown, and ignores declared public values.
#[test]
fn the_leak_check_finds_a_secret_in_every_form() {
    let mut rng = ChaCha20Rng::from_seed([63; 32]);
    let secret = secret32(&mut rng);
    let public = secret32(&mut rng);
    let part = &secret[10..10 + WINDOW];
    let leaks = [
        format!("Key({})", hex::encode(secret)),
        format!("Key({})", hex::encode_upper(part)),
        format!("Key({secret:?})"),
        format!("Key({secret:#?})"),
        format!("Key({part:?})"),
        format!(
            "{:?}",
            String::from_utf8_lossy(b"say the secret word please")
        ),
    ];
    let text_secret: &[u8] = b"the secret word";
    let secrets = Secrets::new(&[&secret, text_secret]);
    for shown in &leaks {
        assert!(secrets.leak(shown, &[]).is_some(), "missed in {shown}");
    }
    assert!(secrets.leak("Key(secret)", &[]).is_none());
    let public_only = Secrets::new(&[&public]);
    let with_public = format!("Pair({}, {public:?})", hex::encode(public));
    assert!(public_only.leak(&with_public, &[&public]).is_none());
    assert!(public_only.leak(&with_public, &[]).is_some());
}

#[test]
fn s7_accepted_does_not_show_the_plaintext() {
    let (_, _, mut bob, _, first) = initiated(SessionConfig::default(), 10);
    let accepted = bob
        .accept(&first, SessionConfig::default())
        .expect("accept");
    let shown = format!("{accepted:?}");
    assert!(
        !shown.contains("first") && !shown.contains("102, 105"),
        "{shown}"
    );
    assert!(shown.contains("plaintext_len: 5"), "{shown}");
}
