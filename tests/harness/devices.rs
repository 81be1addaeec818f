//! Replay of the device-list files (SPEC §14; `tests/vectors/README.md`,
//! "Device-list files"): every `device_lists` case decoded and verified
//! (and, with `signing`, signed again byte for byte from its seeds), and
//! every `updates` sequence judged by one `PersonRecord`, a refused list
//! leaving its stored bytes as they were.

use cliquet::{
    DeviceListBuilder, Error, IdentityKey, IdentityKeyPair, ListChange, PersonRecord, UserKeyPair,
    VerifiedDeviceList,
};
use serde_json::Value;

use super::{detail, hex, hex32, kind, u32_of};

/// A device-list file: it has the format's top-level `device_lists`.
pub(crate) fn is_device_list_file(v: &Value) -> bool {
    v.get("device_lists").is_some()
}

/// Replays a device-list file; returns the number of checks.
///
/// # Panics
/// On anything the harness cannot interpret, or with every failed check
/// listed.
pub(crate) fn replay(v: &Value) -> usize {
    let cases = v["device_lists"]
        .as_array()
        .expect("`device_lists` is an array");
    let updates = v["updates"].as_array().expect("`updates` is an array");
    let mut failures = Vec::new();
    let mut checks = 0;
    for (i, case) in cases.iter().enumerate() {
        checks += 1;
        if let Err(e) = decoding_case(case) {
            failures.push(format!("device_lists[{i}] ({}): {e}", case["note"]));
        }
    }
    for (i, sequence) in updates.iter().enumerate() {
        let steps = sequence["steps"].as_array().expect("`steps` is an array");
        checks += steps.len();
        if let Err(e) = update_sequence(steps) {
            failures.push(format!("updates[{i}] ({}): {e}", sequence["note"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    checks
}

fn expect_error(e: &Error, want: &str, want_detail: Option<&str>) -> Result<(), String> {
    if kind(e) == want && want_detail.is_none_or(|d| Some(d) == detail(e)) {
        Ok(())
    } else {
        Err(format!("got {e:?}, expected {want} {want_detail:?}"))
    }
}

fn decoding_case(case: &Value) -> Result<(), String> {
    let bytes = hex(&case["bytes"]);
    let result = VerifiedDeviceList::decode(&bytes);
    let want = case["expect"].as_str().expect("`expect` is a string");
    let want_detail = case
        .get("detail")
        .map(|d| d.as_str().expect("`detail` is a string"));
    let list = match (want, result) {
        ("ok", Ok(list)) => list,
        ("ok", Err(e)) => return Err(format!("rejected valid list: {e:?}")),
        (_, Ok(_)) => return Err(format!("accepted, expected {want}")),
        (_, Err(e)) => return expect_error(&e, want, want_detail),
    };
    if list.as_bytes() != bytes.as_slice() {
        return Err("encoding differs".into());
    }
    if list.user_key().as_bytes() != &hex32(&case["user_key"]) {
        return Err("user key differs".into());
    }
    if list.version() != case["version"].as_u64().expect("`version` is a u64") {
        return Err("version differs".into());
    }
    let devices = case["devices"].as_array().expect("`devices` is an array");
    let listed: Vec<(u32, [u8; 32])> = list
        .devices()
        .iter()
        .map(|d| (d.device_id(), d.identity_key().to_bytes()))
        .collect();
    let wanted: Vec<(u32, [u8; 32])> = devices
        .iter()
        .map(|d| (u32_of(&d["device_id"]), hex32(&d["identity_key"])))
        .collect();
    if listed != wanted {
        return Err(format!("devices differ: {listed:?}"));
    }
    if let Some(signing) = case.get("signing") {
        signing_case(signing, &bytes)?;
    }
    Ok(())
}

/// Signs the list again from the seeds and compares it byte for byte.
fn signing_case(signing: &Value, bytes: &[u8]) -> Result<(), String> {
    let user = UserKeyPair::from_secret_bytes(&hex32(&signing["user_seed"]));
    let version = signing["version"].as_u64().expect("`version` is a u64");
    let mut builder = DeviceListBuilder::new(version);
    for d in signing["devices"]
        .as_array()
        .expect("`devices` is an array")
    {
        let device = IdentityKeyPair::from_secret_bytes(&hex32(&d["identity_seed"]));
        let id = u32_of(&d["device_id"]);
        let link = device.link_signature(user.public_key(), id);
        if link.as_slice() != hex(&d["link_signature"]) {
            return Err(format!("link signature of device {id} differs"));
        }
        builder = builder.device(id, *device.public_key(), link);
    }
    let signed = builder
        .sign(&user)
        .map_err(|e| format!("signing failed: {e:?}"))?;
    if signed.as_bytes() != bytes {
        return Err("re-signed list differs".into());
    }
    Ok(())
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("ids are an array")
        .iter()
        .map(u32_of)
        .collect()
}

fn update_sequence(steps: &[Value]) -> Result<(), String> {
    let mut holder = PersonRecord::new();
    for (i, step) in steps.iter().enumerate() {
        let at = |e: String| format!("step {i}: {e}");
        if let Some(key) = step.get("accept_user_key") {
            let key = IdentityKey::from_bytes(&hex32(key)).map_err(|e| at(format!("{e:?}")))?;
            holder.accept_user_key(&key);
            continue;
        }
        let bytes = hex(step
            .get("list")
            .ok_or_else(|| at("neither list nor accept_user_key".into()))?);
        let expect = &step["expect"];
        let want = expect["result"].as_str().expect("`result` is a string");
        let before = holder.to_stored();
        let result = VerifiedDeviceList::decode(&bytes).and_then(|l| holder.accept_list(&l));
        match (want, result) {
            (
                "accepted",
                Ok(ListChange::Accepted {
                    added,
                    removed,
                    changed,
                }),
            ) => {
                let got = (added, removed, changed);
                let wanted = (
                    ids(&expect["added"]),
                    ids(&expect["removed"]),
                    ids(&expect["changed"]),
                );
                if got != wanted {
                    return Err(at(format!("got {got:?}, expected {wanted:?}")));
                }
            }
            ("unchanged", Ok(ListChange::Unchanged)) => {
                if *holder.to_stored() != *before {
                    return Err(at("an unchanged list changed the record".into()));
                }
            }
            (_, Ok(change)) => return Err(at(format!("got {change:?}, expected {want}"))),
            (_, Err(e)) => {
                let want_detail = expect.get("detail").and_then(Value::as_str);
                expect_error(&e, want, want_detail).map_err(at)?;
                if *holder.to_stored() != *before {
                    return Err(at("a refused list changed the record".into()));
                }
            }
        }
    }
    Ok(())
}
