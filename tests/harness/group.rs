//! The group vector files (SPEC §10, `group_*.json`) and the group decoder
//! cases of `decoders_group.json`, replayed as tests/vectors/README.md
//! says: one `GroupSession` per member and group, one scripted RNG per
//! member that checks every draw's size and must end empty, errors compared
//! by kind (and detail, for decoders), and every failure checked to change
//! nothing by comparing the stored state before and after.
//!
//! A module of the `vectors` test (`main.rs`), which hands it the files it
//! recognises.

use std::collections::BTreeMap;

use cliquet::{
    Error, GroupMessage, GroupSession, IdentityKey, IdentityKeyPair, SenderKeyDistribution,
    SessionConfig,
};
use serde_json::Value;

use super::{detail, hex, kind};
use cliquet_testkit::rng::Scripted;

/// Whether `v` is a group scenario file: exactly the top-level keys of the
/// README's group format (`members` and `steps`, no `alice` / `bob`).
pub(crate) fn is_group_file(v: &Value) -> bool {
    let Some(keys) = v.as_object() else {
        return false;
    };
    const ALLOWED: [&str; 5] = ["name", "description", "config", "members", "steps"];
    keys.get("members").is_some_and(Value::is_object)
        && keys.get("steps").is_some_and(Value::is_array)
        && keys.keys().all(|k| ALLOWED.contains(&k.as_str()))
}

/// Runs one group decoder case (`distribution`, `group_message`); `None`
/// for any other type.
pub(crate) fn decoder_case(case: &Value) -> Option<Result<(), String>> {
    let bytes = hex(&case["bytes"]);
    let result: Result<Vec<u8>, Error> = match case["type"].as_str()? {
        "distribution" => SenderKeyDistribution::decode(&bytes).map(|d| d.encode().to_vec()),
        "group_message" => GroupMessage::decode(&bytes).map(GroupMessage::into_bytes),
        _ => return None,
    };
    Some(match (&case["error"], result) {
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
    })
}

/// Runs one group scenario file; returns the number of steps checked.
pub(crate) fn replay(v: &Value) -> usize {
    let name = v["name"].as_str().expect("name");
    let config = SessionConfig::new(
        u32_of(&v["config"]["max_skip"]),
        u32_of(&v["config"]["max_skipped_keys"]),
    )
    .expect("config");
    let mut members: BTreeMap<String, Member> = v["members"]
        .as_object()
        .expect("members")
        .iter()
        .map(|(who, m)| {
            let queue = m["random"].as_array().expect("random").iter().map(hex);
            let rng = Scripted::new(queue, who.as_str());
            let groups = BTreeMap::new();
            (who.clone(), Member { rng, groups })
        })
        .collect();
    let steps = v["steps"].as_array().expect("steps");
    for (i, step) in steps.iter().enumerate() {
        let at = format!(
            "{name} step {i} ({} {}: {})",
            step["op"].as_str().unwrap_or("?"),
            step["party"].as_str().unwrap_or("?"),
            step.get("note").and_then(Value::as_str).unwrap_or("")
        );
        let party = step["party"].as_str().expect("party");
        let member = members
            .get_mut(party)
            .unwrap_or_else(|| panic!("{at}: who?"));
        let draws_before = member.rng.left();
        match step["op"].as_str().expect("op") {
            "create_chain" => {
                let group_id = hex16(&step["group_id"]);
                let group = member
                    .groups
                    .entry(group_id)
                    .or_insert_with(|| GroupSession::new(group_id, config));
                let d = group.rotate(&mut member.rng).expect(&at);
                let chain_id = u32_of(&step["chain_id"]);
                assert_eq!((d.chain_id(), d.iteration()), (chain_id, 0), "{at}");
                assert_eq!(group.sender_chain(), Some((chain_id, 0)), "{at}");
            }
            "distribution" => {
                let group = &member.groups[&hex16(&step["group_id"])];
                let d = group.distribution().expect(&at);
                assert_eq!(
                    hex::encode(d.encode()),
                    step["bytes"].as_str().expect("bytes"),
                    "{at}"
                );
            }
            "encrypt" => {
                let group = member.groups.get_mut(&hex16(&step["group_id"])).expect(&at);
                let m = group
                    .encrypt(&hex(&step["plaintext"]), &mut member.rng)
                    .expect(&at);
                let want = step["message"].as_str().expect("message");
                assert_eq!(hex::encode(m.as_bytes()), want, "{at}");
                assert_eq!(GroupMessage::decode(m.as_bytes()), Ok(m), "{at}: decodes");
            }
            "receive_distribution" => {
                let sender = identity(step["sender"].as_str().expect("sender"));
                let result = receive(member, &sender, &hex(&step["bytes"]), config);
                expect(&at, result.map(|()| Vec::new()), step, None);
            }
            "decrypt" => {
                let sender = identity(step["sender"].as_str().expect("sender"));
                let result = decrypt(member, &sender, &hex(&step["message"]));
                expect(&at, result, step, step.get("plaintext"));
            }
            op => panic!("{at}: unknown op {op}"),
        }
        if !matches!(step["op"].as_str(), Some("create_chain" | "encrypt")) {
            assert_eq!(member.rng.left(), draws_before, "{at}: drew randomness");
        }
    }
    for (who, member) in &members {
        assert!(
            member.rng.left() == 0,
            "{name}: {who}'s RNG has {} entries left",
            member.rng.left()
        );
    }
    steps.len()
}

/// One member: a scripted RNG and one state per group.
struct Member {
    rng: Scripted,
    groups: BTreeMap<[u8; 16], GroupSession>,
}

/// Takes a distribution as `sender`'s; a refused one leaves no trace (not
/// even a new, empty group state).
fn receive(
    member: &mut Member,
    sender: &IdentityKey,
    bytes: &[u8],
    config: SessionConfig,
) -> Result<(), Error> {
    let d = SenderKeyDistribution::decode(bytes)?;
    let group_id = *d.group_id();
    let Some(group) = member.groups.get_mut(&group_id) else {
        let mut group = GroupSession::new(group_id, config);
        group.receive_distribution(sender, &d)?;
        member.groups.insert(group_id, group);
        return Ok(());
    };
    let before = group.to_stored();
    let result = group.receive_distribution(sender, &d);
    if result.is_err() {
        assert_eq!(
            group.to_stored(),
            before,
            "a refused distribution changed the state"
        );
    }
    result
}

/// Decrypts as `sender`'s, with the group state picked by the message's
/// group id; a failure must leave the stored state unchanged.
fn decrypt(member: &mut Member, sender: &IdentityKey, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let message = GroupMessage::decode(bytes)?;
    assert_eq!(message.as_bytes(), bytes, "re-encoding");
    let group = member
        .groups
        .get_mut(message.group_id())
        .ok_or(Error::UnknownChain)?;
    let before = group.to_stored();
    let result = group.decrypt(sender, &message);
    if result.is_err() {
        assert_eq!(
            group.to_stored(),
            before,
            "a failed decrypt ({result:?}) changed the state"
        );
    }
    result
}

/// Checks a step's outcome: the plaintext, or the error kind.
fn expect(at: &str, result: Result<Vec<u8>, Error>, step: &Value, plaintext: Option<&Value>) {
    match (step.get("error"), result) {
        (None, Ok(got)) => {
            if let Some(want) = plaintext {
                assert_eq!(hex::encode(got), want.as_str().expect("hex"), "{at}");
            }
        }
        (None, Err(e)) => panic!("{at}: {e:?}"),
        (Some(want), Ok(_)) => panic!("{at}: succeeded, expected {want}"),
        (Some(want), Err(e)) => assert_eq!(Some(kind(&e)), want.as_str(), "{at}: {e:?}"),
    }
}

/// The stand-in for a member's identity key: the vectors name senders, an
/// application passes the identity key of the pairwise session that
/// delivered the distribution.
fn identity(name: &str) -> IdentityKey {
    let mut seed = [0u8; 32];
    seed.iter_mut().zip(name.bytes()).for_each(|(d, s)| *d = s);
    *IdentityKeyPair::from_secret_bytes(&seed).public_key()
}

fn hex16(v: &Value) -> [u8; 16] {
    hex(v).try_into().expect("16 bytes")
}

fn u32_of(v: &Value) -> u32 {
    u32::try_from(v.as_u64().expect("number")).expect("u32")
}
