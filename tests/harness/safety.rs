//! Replay of the safety-number files (SPEC §9; `tests/vectors/README.md`,
//! "Safety-number files"): fingerprints, the 60 digits from both sides, both
//! scannable codes and their acceptance, and the `comparisons`.
//!
//! Identity keys are parsed with `IdentityKey`'s `FromStr`, and must print
//! back as the same hex.

use cliquet::{Error, IdentityKey, SafetyNumber};
use serde_json::Value;

/// A safety-number file: it has the format's top-level `numbers` or
/// `comparisons` (scenario files have `steps`, decoder files `cases`).
pub(crate) fn is_safety_file(v: &Value) -> bool {
    v.get("numbers").is_some() || v.get("comparisons").is_some()
}

/// Replays every entry of a safety-number file; returns the number of checks.
///
/// # Panics
/// On a malformed file, or with every failed check listed.
pub(crate) fn replay(v: &Value) -> usize {
    let numbers = v["numbers"].as_array().expect("`numbers` is an array");
    let comparisons = v["comparisons"]
        .as_array()
        .expect("`comparisons` is an array");
    let mut checks = Checks::default();
    for (i, entry) in numbers.iter().enumerate() {
        checks.context = format!("numbers[{i}] ({})", entry["note"]);
        number(entry, &mut checks);
    }
    for (i, entry) in comparisons.iter().enumerate() {
        checks.context = format!("comparisons[{i}] ({})", entry["note"]);
        comparison(entry, &mut checks);
    }
    assert!(
        checks.failures.is_empty(),
        "{} of {} safety-number checks failed:\n{}",
        checks.failures.len(),
        checks.done,
        checks.failures.join("\n")
    );
    checks.done
}

/// Counts checks and collects the failed ones.
#[derive(Default)]
struct Checks {
    context: String,
    done: usize,
    failures: Vec<String>,
}

impl Checks {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        self.done += 1;
        if got != want {
            self.failures.push(format!(
                "{}: {what}: got {got:?}, want {want:?}",
                self.context
            ));
        }
    }
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is a string"))
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(text(v, field)).unwrap_or_else(|e| panic!("`{field}`: {e}"))
}

/// An identity key from its hex, through `FromStr`; `Display` gives it back.
fn key(v: &Value, field: &str, checks: &mut Checks) -> IdentityKey {
    let hex = text(v, field);
    let key: IdentityKey = hex.parse().unwrap_or_else(|e| panic!("`{field}`: {e:?}"));
    checks.eq(&format!("{field} displayed"), key.to_string().as_str(), hex);
    key
}

/// An identifier: 1 to 255 bytes in every file entry.
fn id(v: &Value, field: &str) -> Vec<u8> {
    let id = bytes(v, field);
    assert!(
        (1..=255).contains(&id.len()),
        "`{field}` has {} bytes",
        id.len()
    );
    id
}

/// The 60 digits as `Display` shows them: 12 groups of 5, single spaces.
fn grouped(digits: &str) -> String {
    let groups: Vec<&str> = (0..digits.len())
        .step_by(5)
        .map(|i| &digits[i..(i + 5).min(digits.len())])
        .collect();
    groups.join(" ")
}

fn number(v: &Value, checks: &mut Checks) {
    let (ik_a, ik_b) = (key(v, "ik_a", checks), key(v, "ik_b", checks));
    let (id_a, id_b) = (id(v, "id_a"), id(v, "id_b"));
    let a = SafetyNumber::new(&ik_a, &id_a, &ik_b, &id_b).expect("A's number");
    let b = SafetyNumber::new(&ik_b, &id_b, &ik_a, &id_a).expect("B's number");

    let (fp_a, fp_b) = (bytes(v, "fingerprint_a"), bytes(v, "fingerprint_b"));
    checks.eq("A: own fingerprint", &a.own_fingerprint()[..], &fp_a);
    checks.eq("A: peer fingerprint", &a.peer_fingerprint()[..], &fp_b);
    checks.eq("B: own fingerprint", &b.own_fingerprint()[..], &fp_b);
    checks.eq("B: peer fingerprint", &b.peer_fingerprint()[..], &fp_a);

    let (digits_a, digits_b) = (text(v, "digits_a"), text(v, "digits_b"));
    checks.eq("A: own digits", a.own_digits(), digits_a);
    checks.eq("A: peer digits", a.peer_digits(), digits_b);
    checks.eq("B: own digits", b.own_digits(), digits_b);
    checks.eq("B: peer digits", b.peer_digits(), digits_a);

    let displayable = text(v, "displayable");
    checks.eq("A: displayable", a.digits(), displayable);
    checks.eq("B: displayable", b.digits(), displayable);
    let shown = grouped(displayable);
    checks.eq("A: Display", a.to_string(), shown.clone());
    checks.eq("B: Display", b.to_string(), shown);

    let (code_a, code_b) = (bytes(v, "scannable_a"), bytes(v, "scannable_b"));
    checks.eq("A: scannable", &a.scannable()[..], &code_a);
    checks.eq("B: scannable", &b.scannable()[..], &code_b);
    checks.eq("A scans B's code", a.verify_scanned(&code_b), Ok(()));
    checks.eq("B scans A's code", b.verify_scanned(&code_a), Ok(()));
}

fn comparison(v: &Value, checks: &mut Checks) {
    let own_ik = key(v, "own_ik", checks);
    let peer_ik = key(v, "peer_ik", checks);
    let (own_id, peer_id) = (id(v, "own_id"), id(v, "peer_id"));
    let own = SafetyNumber::new(&own_ik, &own_id, &peer_ik, &peer_id).expect("own number");
    let got = match own.verify_scanned(&bytes(v, "scanned")) {
        Ok(()) => "ok".to_owned(),
        Err(Error::Mismatch) => "mismatch".to_owned(),
        Err(Error::Malformed(_)) => "malformed".to_owned(),
        Err(other) => format!("{other:?}"),
    };
    checks.eq("scanned", got.as_str(), text(v, "result"));
}
