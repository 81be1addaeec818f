//! Known-answer vectors (tests/vectors/, from an independent implementation).
//!
//! Drives the public API with a scripted RNG that checks the size of every
//! draw, checks every step byte for byte (errors included, and that a failed
//! decrypt changes no stored state), and that both RNG queues end empty.
//! The format is `tests/vectors/README.md` (and its newer copy in
//! `../shared/vectors/`), to the letter: a `decrypt` step whose message does
//! not decode is that step's result (`malformed`, and its `detail` where
//! given); `session` defaults to 0; `bundle` steps compare Bob's bundle
//! (its KEM prekey chosen by the README's rule, which a `Directory`
//! follows: `bob_bundle`); `bob.kem_prekeys` are added in the order listed (a second
//! `last_resort` one rotates the first to "previous");
//! `config.allow_classic_x3dh` (absent: true) and a step's
//! `allow_classic_x3dh` (for that initiation only) set
//! `SessionConfig::with_classic_x3dh` for initiating; a responder's
//! decrypts allow classic X3DH, since the format says a responder accepts
//! 0x12 and 0x17 either way (cliquet's responder refuses 0x12 unless
//! its configuration allows it, SPEC §3b).
//!
//! `x3dh` (and its `ss`) is informative and not compared: the library
//! exposes no handshake secret. Every one of them is checked indirectly,
//! since each message of the session depends on `SK`, `HKA`, `NHKB`, `AD`
//! and, for PQXDH, `SS`.
//!
//! Device-list files (SPEC §14) are replayed by `harness/devices.rs`.
//!
//! `CLIQUET_VECTORS=<dir>` reads every `*.json` in another directory instead.

use std::path::{Path, PathBuf};

use cliquet::{
    Account, AnyMessage, Directory, EncryptedHeaderMessage, Error, IdentityKeyPair, KemPreKey,
    KemPreKeyKind, Message, OneTimePreKey, PreKeyBundle, PreKeyMessage, Session, SessionConfig,
    SignedPreKey,
};
use cliquet_testkit::rng::{Scripted, Zero};
use serde_json::Value;

mod devices;
mod group;
mod safety;

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn hex32(v: &Value) -> [u8; 32] {
    hex(v).try_into().expect("32 bytes")
}

fn u32_of(v: &Value) -> u32 {
    u32::try_from(v.as_u64().expect("number")).expect("u32")
}

/// The vectors' name for an error kind: the library's own (SPEC §8).
fn kind(e: &Error) -> &'static str {
    e.name()
}

/// The `malformed` detail, by its SPEC §8 name.
fn detail(e: &Error) -> Option<&'static str> {
    match e {
        Error::Malformed(d) => Some(d.name()),
        _ => None,
    }
}

/// Runs one decoder case; returns a description of the failure, if any.
fn decoder_case(case: &Value) -> Result<(), String> {
    let bytes = hex(&case["bytes"]);
    let result: Result<Vec<u8>, Error> = match case["type"].as_str().expect("type") {
        "bundle" => PreKeyBundle::decode(&bytes).and_then(|b| b.verify().map(|_| b.encode())),
        "message" => Message::decode(&bytes).map(|m| m.as_bytes().to_vec()),
        "prekey_message" => PreKeyMessage::decode(&bytes).map(|m| m.encode()),
        "pq_bundle" => {
            PreKeyBundle::decode_post_quantum(&bytes).and_then(|b| b.verify().map(|_| b.encode()))
        }
        "pq_prekey_message" => PreKeyMessage::decode_post_quantum(&bytes).map(|m| m.encode()),
        "encrypted_header_message" => {
            EncryptedHeaderMessage::decode(&bytes).map(|m| m.as_bytes().to_vec())
        }
        other => {
            return group::decoder_case(case)
                .unwrap_or_else(|| Err(format!("unknown decoder type {other}")));
        }
    };
    match (&case["error"], result) {
        (Value::Null, Ok(encoded)) if encoded == bytes => Ok(()),
        (Value::Null, Ok(_)) => Err("re-encoding differs".into()),
        (Value::Null, Err(e)) => Err(format!("rejected valid input: {e:?}")),
        (want, Ok(_)) => Err(format!("accepted, expected {want}")),
        (want, Err(e)) => {
            // `detail` is compared where the case gives one.
            let want_detail = case.get("detail").and_then(Value::as_str);
            if want.as_str() == Some(kind(&e)) && want_detail.is_none_or(|d| Some(d) == detail(&e))
            {
                Ok(())
            } else {
                Err(format!("got {e:?}, expected {want} {want_detail:?}"))
            }
        }
    }
}

struct Party {
    rng: Scripted,
    sessions: Vec<Option<Session>>,
}

/// `allow_classic_x3dh` of `v` (the config or a step), if present.
fn allow_classic(v: &Value) -> Option<bool> {
    v.get("allow_classic_x3dh")
        .map(|x| x.as_bool().expect("allow_classic_x3dh: bool"))
}

/// Bob's KEM prekey from its `bob.kem_prekeys` entry.
fn kem_prekey(v: &Value) -> KemPreKey {
    let kind = match v["kind"].as_str().expect("kind") {
        "last_resort" => KemPreKeyKind::LastResort,
        "one_time" => KemPreKeyKind::OneTime,
        other => panic!("unknown KEM prekey kind {other}"),
    };
    let seed: [u8; 64] = hex(&v["seed"]).try_into().expect("64-byte seed");
    KemPreKey::from_secret_bytes(u32_of(&v["id"]), kind, &seed)
}

/// Bob's bundle by the README's rule: the oldest one-time KEM prekey left,
/// else the last-resort one (what a `Directory` hands out first; an
/// account's own bundle carries the last-resort one only), with the
/// one-time prekey `opk`.
fn bob_bundle(account: &Account, opk: Option<u32>) -> PreKeyBundle {
    let mut directory = Directory::new();
    directory
        .upload(&account.full_publication())
        .expect("own keys verify");
    let served = directory.take_bundle().expect("uploaded");
    let bundle = account.classic_bundle(opk).expect("bundle");
    match served.kem_prekey() {
        Some(kem) => bundle.with_kem_prekey(kem.clone()),
        None => bundle,
    }
}

/// Runs one scenario file; returns the number of steps checked.
fn scenario(v: &Value) -> usize {
    let name = v["name"].as_str().expect("name");
    let cfg = &v["config"];
    // Absent means true (README), unlike the library's default.
    let config = SessionConfig::new(u32_of(&cfg["max_skip"]), u32_of(&cfg["max_skipped_keys"]))
        .expect("config")
        .with_header_encryption(cfg["header_encryption"].as_bool().expect("bool"))
        .with_classic_x3dh(allow_classic(cfg).unwrap_or(true));
    let rng = |p: &Value, who| {
        Scripted::new(p["random"].as_array().expect("random").iter().map(hex), who)
    };

    // Bob: the account with exactly the given keys and ids; its bundle matches.
    let b = &v["bob"];
    let spk = &b["signed_prekey"];
    let mut bob_account = Account::from_keys(
        IdentityKeyPair::from_secret_bytes(&hex32(&b["identity_seed"])),
        SignedPreKey::from_secret_bytes(u32_of(&spk["id"]), &hex32(&spk["secret"])),
    );
    let opk_id = match &b["one_time_prekey"] {
        Value::Null => None,
        opk => {
            let id = u32_of(&opk["id"]);
            bob_account
                .add_one_time_prekey(OneTimePreKey::from_secret_bytes(id, &hex32(&opk["secret"])))
                .expect("add");
            Some(id)
        }
    };
    // Oldest first: a `last_resort` key listed after another one is the
    // current one, the other the previous one.
    for key in b
        .get("kem_prekeys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        bob_account
            .add_kem_prekey(kem_prekey(key))
            .expect("add KEM prekey");
    }
    let bundle_bytes = hex(&v["bundle"]);
    assert_eq!(
        bob_bundle(&bob_account, opk_id).encode(),
        bundle_bytes,
        "{name}: bundle"
    );
    let mut bob = Party {
        rng: rng(b, "bob"),
        sessions: Vec::new(),
    };

    // Alice: session 0 from the bundle.
    let alice_identity = IdentityKeyPair::from_secret_bytes(&hex32(&v["alice"]["identity_seed"]));
    let mut alice = Party {
        rng: rng(&v["alice"], "alice"),
        sessions: Vec::new(),
    };
    let bundle = PreKeyBundle::decode(&bundle_bytes)
        .and_then(|b| b.verify())
        .expect("bundle verifies");
    alice.sessions.push(Some(
        Session::initiate(&alice_identity, &bundle, config, &mut alice.rng).expect("initiate"),
    ));

    let steps = v["steps"].as_array().expect("steps");
    for (i, step) in steps.iter().enumerate() {
        let at = format!(
            "{name} step {i} ({})",
            step.get("note").and_then(Value::as_str).unwrap_or("")
        );
        let index = step
            .get("session")
            .and_then(Value::as_u64)
            .map(|n| usize::try_from(n).expect("index"));
        let party_name = step["party"].as_str().expect("party");
        let party = if party_name == "alice" {
            &mut alice
        } else {
            &mut bob
        };
        match step["op"].as_str().expect("op") {
            "encrypt" => {
                let session = party.sessions[index.unwrap_or(0)]
                    .as_mut()
                    .expect("session exists");
                let out = session
                    .encrypt(&hex(&step["plaintext"]), &mut party.rng)
                    .expect("encrypt");
                assert_eq!(
                    hex::encode(out.encode()),
                    step["message"].as_str().expect("message"),
                    "{at}"
                );
            }
            "decrypt" => {
                let bytes = hex(&step["message"]);
                let before_rng = party.rng.left();
                // A message that does not decode is this step's result
                // (`malformed`), and nothing is called with it.
                let (result, routed) = match AnyMessage::decode(&bytes) {
                    Ok(message) => {
                        assert_eq!(message.encode(), bytes, "{at}: re-encoding");
                        // The format's `allow_classic_x3dh` is the initiator's
                        // policy: "a responder accepts 0x12 and 0x17 either way".
                        let config = config.with_classic_x3dh(true);
                        decrypt(party, party_name, &mut bob_account, &message, index, config)
                    }
                    Err(e) => (Err(e), None),
                };
                match (step.get("plaintext"), step.get("error")) {
                    (Some(pt), None) => {
                        let got = result.unwrap_or_else(|e| panic!("{at}: {e:?}"));
                        assert_eq!(hex::encode(got), pt.as_str().expect("hex"), "{at}");
                        // `session` defaults to 0, for Bob's prekey messages too.
                        assert_eq!(routed, Some(index.unwrap_or(0)), "{at}: routed to");
                    }
                    (None, Some(err)) => {
                        let e = result.expect_err(&at);
                        assert_eq!(Some(kind(&e)), err.as_str(), "{at}: {e:?}");
                        if let Some(want) = step.get("detail") {
                            assert_eq!(detail(&e), want.as_str(), "{at}: {e:?}");
                        }
                    }
                    _ => panic!("{at}: step has neither plaintext nor error"),
                }
                assert_eq!(
                    party.rng.left(),
                    before_rng,
                    "{at}: decrypt drew randomness"
                );
            }
            "initiate" => {
                assert_eq!(party_name, "alice", "{at}");
                let bundle = step.get("bundle").map_or_else(|| bundle_bytes.clone(), hex);
                // The step's override, for this initiation only.
                let config =
                    allow_classic(step).map_or(config, |allow| config.with_classic_x3dh(allow));
                match step.get("error") {
                    Some(err) => {
                        let r = PreKeyBundle::decode(&bundle)
                            .and_then(|b| b.verify())
                            .and_then(|b| {
                                Session::initiate(&alice_identity, &b, config, &mut Zero)
                            });
                        let e = r.expect_err(&at);
                        assert_eq!(Some(kind(&e)), err.as_str(), "{at}");
                    }
                    None => {
                        let n = index.expect("session index");
                        let b = PreKeyBundle::decode(&bundle)
                            .and_then(|b| b.verify())
                            .expect("bundle");
                        let s = Session::initiate(&alice_identity, &b, config, &mut alice.rng)
                            .expect("initiate");
                        if alice.sessions.len() <= n {
                            alice.sessions.resize_with(n + 1, || None);
                        }
                        alice.sessions[n] = Some(s);
                    }
                }
            }
            "bundle" => {
                assert_eq!(party_name, "bob", "{at}");
                // The current signed prekey, the first one-time prekey left
                // (the vectors give Bob at most one) and the KEM prekey the
                // README's rule chooses (Account::bundle's choice).
                let left = (bob_account.one_time_prekey_count() > 0)
                    .then_some(opk_id)
                    .flatten();
                assert_eq!(
                    hex::encode(bob_bundle(&bob_account, left).encode()),
                    step["bundle"].as_str().expect("bundle"),
                    "{at}"
                );
            }
            op => panic!("{at}: unknown op {op}"),
        }
    }
    assert_eq!(alice.rng.left(), 0, "{name}: alice's RNG has entries left");
    assert_eq!(bob.rng.left(), 0, "{name}: bob's RNG has entries left");
    steps.len()
}

/// Decrypts as the vectors say: Bob routes prekey messages by their session
/// id, or accepts them into a new session. On error, checks that no stored
/// state changed. Returns the result and the session index used.
fn decrypt(
    party: &mut Party,
    party_name: &str,
    account: &mut Account,
    message: &AnyMessage,
    index: Option<usize>,
    config: SessionConfig,
) -> (Result<Vec<u8>, Error>, Option<usize>) {
    let routed = match (message, party_name) {
        (AnyMessage::PreKey(m), "bob") => party
            .sessions
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.session_id() == m.session_id())),
        _ => Some(index.unwrap_or(0)),
    };
    if let Some(i) = routed {
        let session = party.sessions[i].as_mut().expect("session exists");
        return (cliquet_testkit::decrypt_checked(session, message), Some(i));
    }
    let AnyMessage::PreKey(m) = message else {
        unreachable!("only prekey messages are unrouted")
    };
    let before = account.to_stored();
    match account.accept(m, config) {
        Ok(accepted) => {
            party.sessions.push(Some(accepted.session));
            (Ok(accepted.plaintext), Some(party.sessions.len() - 1))
        }
        Err(e) => {
            assert_eq!(
                account.to_stored(),
                before,
                "failed accept changed the account"
            );
            (Err(e), None)
        }
    }
}

fn vector_files() -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::var_os("CLIQUET_VECTORS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors"),
        PathBuf::from,
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    (dir, files)
}

#[test]
fn known_answer_vectors() {
    let (dir, files) = vector_files();
    assert!(!files.is_empty(), "no *.json vector in {}", dir.display());
    let (mut vectors, mut steps) = (0, 0);
    for path in &files {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        if safety::is_safety_file(&v) {
            steps += safety::replay(&v);
        } else if devices::is_device_list_file(&v) {
            steps += devices::replay(&v);
        } else if let Some(cases) = v.get("cases").and_then(Value::as_array) {
            let failures: Vec<String> = cases
                .iter()
                .filter_map(|c| decoder_case(c).err().map(|e| format!("{}: {e}", c["note"])))
                .collect();
            assert!(
                failures.is_empty(),
                "{}:\n{}",
                path.display(),
                failures.join("\n")
            );
            steps += cases.len();
        } else if group::is_group_file(&v) {
            steps += group::replay(&v);
        } else if v.get("steps").is_some() {
            steps += scenario(&v);
        } else {
            panic!("{}: neither a scenario nor a decoder file", path.display());
        }
        vectors += 1;
    }
    println!(
        "checked {vectors} vectors, {steps} steps, from {}",
        dir.display()
    );
}

/// A scenario file of the suite, parsed.
fn committed(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

/// Runs `v` as a scenario; `Err` if the harness rejected it.
fn run(v: &Value) -> Result<usize, ()> {
    let v = v.clone();
    std::panic::catch_unwind(move || scenario(&v)).map_err(|_| ())
}

/// A `decrypt` step whose message does not decode is that step's result:
/// its `error` kind and `detail` are checked (a wrong one fails the file),
/// nothing is called with it, and the file goes on.
#[test]
fn synthetic_decrypt_steps_with_messages_that_do_not_decode() {
    let base = committed("basic_with_opk.json");
    let short_ciphertext = format!("11{}", "00".repeat(40 + 31));
    let cases = [
        ("bob", String::new(), "truncated"),
        ("bob", "14".to_owned(), "bad_kind"),
        ("alice", short_ciphertext, "short_ciphertext"),
        ("bob", format!("12{}", "00".repeat(20)), "truncated"),
    ];
    let mut v = base.clone();
    let steps = v["steps"].as_array_mut().expect("steps");
    let count = steps.len();
    for (i, (party, message, detail)) in cases.iter().enumerate() {
        let step = serde_json::json!({
            "op": "decrypt", "party": party, "message": message,
            "error": "malformed", "detail": detail, "note": "synthetic",
        });
        // Before the first step and in the middle of the conversation.
        steps.insert(if i % 2 == 0 { 0 } else { count / 2 }, step);
    }
    assert_eq!(run(&v), Ok(count + cases.len()));

    // The expectation is checked: another kind or detail fails the file.
    for (field, wrong) in [("error", "authentication"), ("detail", "bad_flag")] {
        let mut v = v.clone();
        v["steps"][0][field] = Value::from(wrong);
        assert_eq!(run(&v), Err(()), "{field}: {wrong}");
    }
    // Without a `detail` only the kind is checked.
    let mut v = v.clone();
    v["steps"][0]
        .as_object_mut()
        .expect("step")
        .remove("detail");
    assert_eq!(run(&v), Ok(count + cases.len()));
}

/// A `bundle` step shows which prekeys Bob has left.
#[test]
fn synthetic_bundle_steps() {
    let base = committed("basic_with_opk.json");
    let bundle = hex(&base["bundle"]);
    assert_eq!(bundle.len(), 170, "with a one-time prekey");
    // Without it: the same fields up to the flag, which is 0.
    let mut without = bundle[..133].to_vec();
    without.push(0);
    let mut v = base;
    let steps = v["steps"].as_array_mut().expect("steps");
    let count = steps.len();
    steps.insert(
        0,
        serde_json::json!({"op": "bundle", "party": "bob", "bundle": hex::encode(&bundle)}),
    );
    steps
        .push(serde_json::json!({"op": "bundle", "party": "bob", "bundle": hex::encode(&without)}));
    assert_eq!(run(&v), Ok(count + 2));
    let mut stale = v;
    stale["steps"][count + 1]["bundle"] = Value::from(hex::encode(&bundle));
    assert_eq!(run(&stale), Err(()), "the one-time prekey was consumed");
}

/// `allow_classic_x3dh`: absent or true runs a classic file as before;
/// false refuses its 0x14 bundle; a step's value overrides the config's
/// for that initiation only.
#[test]
fn synthetic_allow_classic_x3dh() {
    let base = committed("two_sessions.json");
    assert!(run(&base).is_ok(), "absent: allowed");
    let mut allowed = base.clone();
    allowed["config"]["allow_classic_x3dh"] = Value::Bool(true);
    assert!(run(&allowed).is_ok(), "true: allowed");
    let mut refused = base.clone();
    refused["config"]["allow_classic_x3dh"] = Value::Bool(false);
    assert_eq!(run(&refused), Err(()), "false: session 0 is refused");

    // In pq_downgrade.json the override is what lets session 1 start.
    let pq = committed("pq_downgrade.json");
    assert!(run(&pq).is_ok());
    let mut no_override = pq;
    let steps = no_override["steps"].as_array_mut().expect("steps");
    let step = steps
        .iter_mut()
        .find(|s| s.get("allow_classic_x3dh").is_some())
        .expect("a step with an override");
    step.as_object_mut()
        .expect("step")
        .remove("allow_classic_x3dh");
    assert_eq!(run(&no_override), Err(()));
}
