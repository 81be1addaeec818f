//! Known-answer vectors (tests/vectors/, from an independent implementation).
//!
//! Drives the public API with a scripted RNG that checks the size of every
//! draw, checks every step byte for byte (errors included, and that a failed
//! decrypt changes no stored state), and that both RNG queues end empty.
//!
//! `CLIQUET_VECTORS=<dir>` reads every `*.json` in another directory instead.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "a test harness: a failed expectation is a failed test"
)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::{Path, PathBuf};

use cliquet::rand_core::{TryCryptoRng, TryRng};
use cliquet::{
    Account, AnyMessage, DecodeError, EncryptedHeaderMessage, Error, IdentityKeyPair, Message,
    OneTimePreKey, PreKeyBundle, PreKeyMessage, Session, SessionConfig, SignedPreKey,
};
use serde_json::Value;

mod common;
#[path = "harness/group.rs"]
mod group;
#[path = "harness/safety.rs"]
mod safety;

/// Yields the scripted entries in order; every draw must ask for exactly
/// the next entry's length.
struct ScriptedRng {
    queue: VecDeque<Vec<u8>>,
    who: &'static str,
}

impl TryRng for ScriptedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        panic!("{}: next_u32 is not a draw the spec allows", self.who)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        panic!("{}: next_u64 is not a draw the spec allows", self.who)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let next = self
            .queue
            .pop_front()
            .unwrap_or_else(|| panic!("{}: RNG queue exhausted", self.who));
        assert_eq!(
            dst.len(),
            next.len(),
            "{}: draw of {} bytes, script has {}",
            self.who,
            dst.len(),
            next.len()
        );
        dst.copy_from_slice(&next);
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng {}

/// For initiations expected to fail: whether they draw is unspecified.
struct ZeroRng;

impl TryRng for ZeroRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(0);
        Ok(())
    }
}

impl TryCryptoRng for ZeroRng {}

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn hex32(v: &Value) -> [u8; 32] {
    hex(v).try_into().expect("32 bytes")
}

fn u32_of(v: &Value) -> u32 {
    u32::try_from(v.as_u64().expect("number")).expect("u32")
}

/// The vectors' name for an error kind.
fn kind(e: &Error) -> &'static str {
    match e {
        Error::Malformed(_) => "malformed",
        Error::Authentication => "authentication",
        Error::Duplicate => "duplicate",
        Error::TooManySkipped => "too_many_skipped",
        Error::UnknownPreKey => "unknown_prekey",
        Error::BadSignature => "bad_signature",
        Error::InvalidKey => "invalid_key",
        _ => "other",
    }
}

fn detail(e: &Error) -> Option<&'static str> {
    match e {
        Error::Malformed(DecodeError::BadKind) => Some("bad_kind"),
        Error::Malformed(DecodeError::BadFlag) => Some("bad_flag"),
        Error::Malformed(DecodeError::Truncated) => Some("truncated"),
        Error::Malformed(DecodeError::Trailing) => Some("trailing"),
        Error::Malformed(DecodeError::ShortCiphertext) => Some("short_ciphertext"),
        _ => None,
    }
}

/// Runs one decoder case; returns a description of the failure, if any.
fn decoder_case(case: &Value) -> Result<(), String> {
    let bytes = hex(&case["bytes"]);
    let result: Result<Vec<u8>, Error> = match case["type"].as_str().expect("type") {
        "bundle" => PreKeyBundle::decode(&bytes).and_then(|b| b.verify().map(|_| b.to_bytes())),
        "message" => Message::decode(&bytes).map(|m| m.as_bytes().to_vec()),
        "prekey_message" => PreKeyMessage::decode(&bytes).map(|m| m.to_bytes()),
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
            let want_detail = case.get("detail").and_then(Value::as_str);
            if want.as_str() == Some(kind(&e)) && want_detail == detail(&e) {
                Ok(())
            } else {
                Err(format!("got {e:?}, expected {want} {want_detail:?}"))
            }
        }
    }
}

struct Party {
    rng: ScriptedRng,
    sessions: Vec<Option<Session>>,
}

/// Runs one scenario file; returns the number of steps checked.
fn scenario(v: &Value) -> usize {
    let name = v["name"].as_str().expect("name");
    let cfg = &v["config"];
    let config = SessionConfig::new(u32_of(&cfg["max_skip"]), u32_of(&cfg["max_skipped_keys"]))
        .expect("config")
        .with_header_encryption(cfg["header_encryption"].as_bool().expect("bool"));
    let rng = |p: &Value, who| ScriptedRng {
        queue: p["random"]
            .as_array()
            .expect("random")
            .iter()
            .map(hex)
            .collect(),
        who,
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
    let bundle_bytes = hex(&v["bundle"]);
    assert_eq!(
        bob_account.bundle(opk_id).expect("bundle").to_bytes(),
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
                    hex::encode(out.to_bytes()),
                    step["message"].as_str().expect("message"),
                    "{at}"
                );
            }
            "decrypt" => {
                let bytes = hex(&step["message"]);
                let message =
                    AnyMessage::decode(&bytes).unwrap_or_else(|e| panic!("{at}: decode {e:?}"));
                assert_eq!(message.to_bytes(), bytes, "{at}: re-encoding");
                let before_rng = party.rng.queue.len();
                let (result, routed) =
                    decrypt(party, party_name, &mut bob_account, &message, index, config);
                match (step.get("plaintext"), step.get("error")) {
                    (Some(pt), None) => {
                        let got = result.unwrap_or_else(|e| panic!("{at}: {e:?}"));
                        assert_eq!(hex::encode(got), pt.as_str().expect("hex"), "{at}");
                        if let Some(want) = index {
                            assert_eq!(routed, Some(want), "{at}: routed to");
                        }
                    }
                    (None, Some(err)) => {
                        let e = result.expect_err(&at);
                        assert_eq!(Some(kind(&e)), err.as_str(), "{at}: {e:?}");
                    }
                    _ => panic!("{at}: step has neither plaintext nor error"),
                }
                assert_eq!(
                    party.rng.queue.len(),
                    before_rng,
                    "{at}: decrypt drew randomness"
                );
            }
            "initiate" => {
                assert_eq!(party_name, "alice", "{at}");
                let bundle = step.get("bundle").map_or_else(|| bundle_bytes.clone(), hex);
                match step.get("error") {
                    Some(err) => {
                        let r = PreKeyBundle::decode(&bundle)
                            .and_then(|b| b.verify())
                            .and_then(|b| {
                                Session::initiate(&alice_identity, &b, config, &mut ZeroRng)
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
            op => panic!("{at}: unknown op {op}"),
        }
    }
    assert!(
        alice.rng.queue.is_empty(),
        "{name}: alice's RNG has {} entries left",
        alice.rng.queue.len()
    );
    assert!(
        bob.rng.queue.is_empty(),
        "{name}: bob's RNG has {} entries left",
        bob.rng.queue.len()
    );
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
        return (common::decrypt_checked(session, message), Some(i));
    }
    let AnyMessage::PreKey(m) = message else {
        unreachable!("only prekey messages are unrouted")
    };
    let before = account.to_bytes();
    match account.accept(m, config) {
        Ok(accepted) => {
            party.sessions.push(Some(accepted.session));
            (Ok(accepted.plaintext), Some(party.sessions.len() - 1))
        }
        Err(e) => {
            assert_eq!(
                account.to_bytes(),
                before,
                "failed accept changed the account"
            );
            (Err(e), None)
        }
    }
}

fn vector_files() -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::var_os("CLIQUET_VECTORS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
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
