//! Writes the seed corpora `fuzz/seeds/<target>/`: the byte strings of the
//! known-answer vectors (`tests/vectors/*.json`), stored and sealed states of
//! real sessions and accounts, the golden session record, decryption-failure
//! notices of every shape, the decrypt fixtures' messages (and the inner
//! messages of their prekey messages), and a few protocol schedules.
//! Deterministic: running it again gives the same files.
//!
//! ```text
//! cd fuzz && cargo run --example make_corpus
//! ```

use std::fs;
use std::path::Path;

use cliquet::{Account, Session};
use cliquet_fuzz::checks::TARGETS;
use cliquet_fuzz::fixtures::{self, STORAGE_KEY};
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds");
    let mut out: Vec<(&str, String, Vec<u8>)> = Vec::new();

    // Known-answer vectors: every hex string that is a bundle or a message.
    let mut files: Vec<_> = fs::read_dir(root.join("../tests/vectors"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("vector")
            .to_owned();
        let json: Value = serde_json::from_str(&fs::read_to_string(&file)?)?;
        let mut found = Vec::new();
        collect(&json, None, &mut found);
        for (i, (kind, bytes)) in found.into_iter().enumerate() {
            let name = format!("vec-{stem}-{i:03}");
            let kind = kind.or_else(|| match bytes.first() {
                Some(0x11) => Some("message"),
                Some(0x12) => Some("prekey_message"),
                Some(0x13) => Some("encrypted_header_message"),
                Some(0x14) => Some("bundle"),
                Some(0x16) => Some("pq_bundle"),
                Some(0x17) => Some("pq_prekey_message"),
                Some(0x19) => Some("distribution"),
                Some(0x1a) => Some("group_message"),
                Some(0x1b) => Some("device_list"),
                _ => None,
            });
            let target = match kind {
                Some("bundle") => "decode_bundle",
                Some("pq_bundle") => {
                    out.push(("decode_bundle", name.clone(), bytes.clone()));
                    "decode_pq_bundle"
                }
                Some("pq_prekey_message") => {
                    out.push(("decode_prekey_message", name.clone(), bytes.clone()));
                    out.push(("decode_any_message", name.clone(), bytes.clone()));
                    "decode_pq_prekey_message"
                }
                Some("message") => "decode_message",
                Some("prekey_message") => "decode_prekey_message",
                Some("encrypted_header_message") => "decode_encrypted_header_message",
                Some("distribution") => "decode_distribution",
                Some("device_list") => "decode_device_list",
                Some("group_message") => {
                    out.push(("group_decrypt", name.clone(), [&[0][..], &bytes].concat()));
                    "decode_group_message"
                }
                _ => continue,
            };
            if matches!(
                target,
                "decode_message" | "decode_prekey_message" | "decode_encrypted_header_message"
            ) {
                out.push(("decode_any_message", name.clone(), bytes.clone()));
            }
            out.push((target, name, bytes));
        }
    }

    // Stored and sealed states.
    let (accounts, sessions) = fixtures::stored_states();
    let mut rng = fixtures::rng(9);
    for (i, bytes) in accounts.iter().enumerate() {
        out.push(("load_account", format!("account-{i:02}"), bytes.clone()));
        let sealed = Account::from_stored(bytes)?.seal(&STORAGE_KEY, b"ctx", &mut rng)?;
        out.push(("open_sealed", format!("account-{i:02}"), sealed));
    }
    for (i, bytes) in sessions.iter().enumerate() {
        out.push(("load_session", format!("session-{i:02}"), bytes.clone()));
        let sealed = Session::from_stored(bytes)?.seal(&STORAGE_KEY, b"ctx", &mut rng)?;
        out.push(("open_sealed", format!("session-{i:02}"), sealed));
    }

    // Publications (kind 0x1C): the signed part alone, one-time keys of
    // both kinds, a classic account's, and one with a bad signature.
    {
        let mut rng = fixtures::rng(12);
        let mut bob = Account::new(&mut rng);
        out.push((
            "decode_publication",
            "signed-and-last-resort".to_owned(),
            bob.publication().encode(),
        ));
        bob.generate_one_time_prekeys(2, &mut rng);
        bob.generate_one_time_kem_prekeys(1, &mut rng);
        out.push((
            "decode_publication",
            "one-time-keys".to_owned(),
            bob.publication().encode(),
        ));
        let classic = Account::from_keys(
            cliquet::IdentityKeyPair::from_secret_bytes(&[3; 32]),
            cliquet::SignedPreKey::from_secret_bytes(1, &[4; 32]),
        );
        out.push((
            "decode_publication",
            "classic".to_owned(),
            classic.full_publication().encode(),
        ));
        let mut forged = bob.full_publication().encode();
        if let Some(last) = forged.last_mut() {
            *last ^= 1;
        }
        out.push(("decode_publication", "bad-signature".to_owned(), forged));
    }

    // Session records and decryption-failure notices (kinds 0x22 and 0x15).
    let record = fs::read(root.join("../tests/golden/record_v1.bin"))?;
    out.push(("load_record", "golden-record_v1".to_owned(), record));
    let mut ratchet_key = vec![0x15, 0x00, 0x01];
    ratchet_key.extend(0..32u8);
    let mut session_and_header = vec![0x15, 0x01];
    session_and_header.extend([0x07; 32]);
    session_and_header.push(0x02);
    session_and_header.extend([0x09; 68]);
    for (name, mut notice) in [
        ("nothing", vec![0x15, 0x00, 0x00]),
        ("ratchet-key", ratchet_key),
        ("session-and-header", session_and_header),
    ] {
        // The signature (not checked by the decoder).
        notice.extend([0x5a; 64]);
        out.push(("decode_decryption_failure", name.to_owned(), notice));
    }

    // The decrypt fixtures: their messages, and their stored states.
    for (target, header_encryption) in [("decrypt_plain", false), ("decrypt_header", true)] {
        let fixture = fixtures::fixture(header_encryption);
        for (i, m) in fixture.messages.iter().enumerate() {
            let state = if m.pending { "pending" } else { "delivered" };
            out.push((target, format!("fixture-{i:02}-{state}"), m.bytes.clone()));
            if m.ratchet != m.bytes {
                // A prekey message's inner message, on its own.
                let name = format!("fixture-{i:02}-{state}-inner");
                out.push((target, name, m.ratchet.clone()));
            }
        }
        let mode = if header_encryption { "he" } else { "plain" };
        for (who, bytes) in [("alice", &fixture.alice), ("bob", &fixture.bob)] {
            out.push((
                "load_session",
                format!("fixture-{mode}-{who}"),
                bytes.clone(),
            ));
        }
        out.push((
            "load_account",
            format!("fixture-{mode}-bob"),
            fixture.bob_account.clone(),
        ));
    }

    // The group decrypt fixture: each message named as its sender's, and a
    // held-back one as another sender's.
    let group = cliquet_fuzz::group::group_fixture();
    for (i, m) in group.messages.iter().enumerate() {
        let state = if m.pending { "pending" } else { "delivered" };
        let named = u8::try_from(m.sender).unwrap_or(0);
        let input = [&[named][..], &m.bytes].concat();
        out.push(("group_decrypt", format!("fixture-{i:02}-{state}"), input));
        out.push((
            "decode_group_message",
            format!("fixture-{i:02}"),
            m.bytes.clone(),
        ));
    }

    // Person records and a user key (SPEC §14, kinds 0x25 and 0x24).
    for (i, bytes) in cliquet_fuzz::users::stored_person_records()
        .into_iter()
        .enumerate()
    {
        out.push(("load_user_record", format!("person-{i:02}"), bytes));
    }
    // Update sequences (see `device_list_updates`): growth, a reinstall,
    // a replay, a second list for one version, another user key accepted.
    for (name, script) in [
        (
            "grow-shrink",
            &[0, 0, 1, 0b11, 0, 0, 2, 0b111, 0, 0, 3, 0b101][..],
        ),
        ("reinstall", &[0, 0, 1, 0b11, 0, 2, 2, 0b11][..]),
        (
            "replay-and-equivocate",
            &[0, 0, 3, 0b1, 0, 0, 3, 0b1, 0, 0, 2, 0b11, 0, 0, 3, 0b11][..],
        ),
        (
            "new-user-key",
            &[
                0, 0, 5, 0b11, 0, 1, 1, 0b11, 1, 1, 0, 1, 1, 0b11, 0, 0, 6, 0b1,
            ][..],
        ),
        ("empty-list", &[0, 0, 1, 0][..]),
    ] {
        out.push(("device_list_updates", name.to_owned(), script.to_vec()));
    }

    // Protocol schedules (see src/protocol.rs for the encoding).
    for (name, script) in protocol_scripts() {
        out.push(("protocol", name.to_owned(), script));
    }

    // Replace what this program wrote before; keep the inputs that fuzzing
    // campaigns added (`campaign-*`).
    for (target, _) in TARGETS {
        let dir = seeds.join(target);
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let generated = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with("campaign-"));
            if generated {
                fs::remove_file(path)?;
            }
        }
    }
    for (target, name, bytes) in &out {
        fs::write(seeds.join(target).join(name), bytes)?;
    }
    println!("wrote {} seed files under {}", out.len(), seeds.display());
    Ok(())
}

/// Every hex string under a `bundle`, `message` or `bytes` key, with the
/// decoder case's `type` where there is one.
fn collect(v: &Value, kind: Option<&str>, out: &mut Vec<(Option<&'static str>, Vec<u8>)>) {
    match v {
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str).or(kind);
            for (key, value) in map {
                if let (true, Some(s)) = (
                    matches!(key.as_str(), "bundle" | "message" | "bytes"),
                    value.as_str(),
                ) && let Ok(bytes) = hex::decode(s)
                {
                    let kind = match kind {
                        Some("bundle") => Some("bundle"),
                        Some("message") => Some("message"),
                        Some("prekey_message") => Some("prekey_message"),
                        Some("pq_bundle") => Some("pq_bundle"),
                        Some("pq_prekey_message") => Some("pq_prekey_message"),
                        Some("encrypted_header_message") => Some("encrypted_header_message"),
                        Some("distribution") => Some("distribution"),
                        Some("group_message") => Some("group_message"),
                        _ => None,
                    };
                    // Outside decoders.json the key says what it is.
                    let pq = bytes.first() == Some(&0x16);
                    let kind = kind.or((key == "bundle").then_some(if pq {
                        "pq_bundle"
                    } else {
                        "bundle"
                    }));
                    out.push((kind, bytes));
                } else {
                    collect(value, kind, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, kind, out)),
        _ => {}
    }
}

/// Hand-written schedules: config bytes, then opcodes (0 encrypt, 1 deliver,
/// 2 drop, 3 duplicate, 4 to back, 5 tamper, 6 reload, 7 snapshot,
/// 8 restore, 9 exchange).
fn protocol_scripts() -> Vec<(&'static str, Vec<u8>)> {
    let ping_pong = [0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 9, 9, 9];
    let out_of_order = [0, 0, 0, 0, 2, 0, 4, 4, 0, 1, 0, 1, 0, 1, 0, 9];
    let duplicate = [
        0, 0, 0, 3, 0, 3, 0, 1, 0, 1, 0, 9, 1, 0, 3, 0, 1, 0, 1, 0, 9,
    ];
    let tamper = [0, 0, 0, 5, 0, 0, 40, 1, 1, 0, 0, 5, 0, 3, 1, 1, 0, 9];
    let reload = [0, 6, 0, 0, 6, 2, 1, 0, 6, 3, 1, 0, 0, 6, 1, 9, 0, 0, 1, 0];
    let restore = [0, 0, 1, 7, 0, 9, 9, 8, 0, 0, 0, 1, 0, 9, 7, 1, 9, 8, 1, 9];
    let lossy = [
        0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 9, 1, 0, 9,
    ];
    let evict = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 6, 1, 0, 1, 0, 1, 0, 1, 0, 9,
    ];
    let mut scripts = Vec::new();
    for (name, ops, skip, extra) in [
        ("ping-pong", &ping_pong[..], 4, 4),
        ("out-of-order", &out_of_order[..], 4, 4),
        ("duplicate", &duplicate[..], 4, 4),
        ("tamper", &tamper[..], 4, 4),
        ("reload", &reload[..], 4, 4),
        ("restore", &restore[..], 4, 4),
        ("lossy", &lossy[..], 2, 0),
        ("evict", &evict[..], 3, 0),
    ] {
        for mode in 0..4u8 {
            let mut script = vec![mode, skip, extra];
            script.extend_from_slice(ops);
            let name: &'static str = Box::leak(format!("{name}-m{mode}").into_boxed_str());
            scripts.push((name, script));
        }
    }
    scripts
}
