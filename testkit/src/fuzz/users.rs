//! The checks of the SPEC §14 targets (device lists and person records),
//! and the person records their seed corpus starts from.

use cliquet::{
    Account, DecodeError, DeviceList, DeviceListBuilder, Error, ListChange, PersonRecord,
    SessionConfig, UserKeyPair, VerifiedDeviceList,
};

use crate::fuzz::fixtures::{self, ReplayRng, STORAGE_KEY};

/// SPEC §14: a device list that decodes is `106 + 100·n` bytes with
/// 1 ≤ n ≤ 32 and kind 0x1B, keeps its bytes, and its version; a refusal
/// is one of the errors §14 names, agreeing with the length and kind byte.
/// What verifies has ascending ids and distinct keys, is accepted by a new
/// record as all added, then again as unchanged, and survives the record's
/// stored form.
pub fn decode_device_list(data: &[u8]) -> bool {
    let decoded = DeviceList::decode(data);
    let n = data.get(41).map(|n| usize::from(*n));
    match (&decoded, data.first()) {
        (Err(Error::Malformed(DecodeError::BadKind)), Some(kind)) => assert_ne!(*kind, 0x1B),
        (Err(Error::Malformed(DecodeError::Truncated)), _) => {
            let want = n.map_or(usize::MAX, |n| 106 + 100 * n);
            assert!(
                data.len() < 42 || data.len() < want,
                "truncated at {}",
                data.len()
            );
        }
        (Err(Error::Malformed(DecodeError::BadCount)), _) => {
            assert!(n.is_some_and(|n| n == 0 || n > 32));
        }
        (Err(Error::Malformed(DecodeError::Trailing)), _) => {
            assert!(n.is_some_and(|n| data.len() > 106 + 100 * n));
        }
        (Err(Error::Malformed(DecodeError::BadOrder)), _) => {}
        (Err(e), _) => panic!("decode gave {e:?}"),
        (Ok(list), _) => {
            assert_eq!(list.as_bytes(), data);
            let n = n.expect("a count");
            assert!((1..=32).contains(&n) && data.len() == 106 + 100 * n);
            assert_eq!(data.first(), Some(&0x1B));
        }
    }
    let Ok(list) = decoded else {
        return false;
    };
    let verified = match list.verify() {
        Ok(verified) => verified,
        Err(Error::InvalidKey | Error::BadSignature) => return true,
        Err(e) => panic!("verify gave {e:?}"),
    };
    assert_eq!(VerifiedDeviceList::decode(data).as_ref(), Ok(&verified));
    assert_eq!(verified.as_bytes(), data);
    assert_eq!(verified.version(), list.version());
    let ids: Vec<u32> = verified.devices().iter().map(|d| d.device_id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for d in verified.devices() {
        assert_eq!(verified.device_key(d.device_id()), Some(d.identity_key()));
        assert_ne!(d.identity_key(), verified.user_key());
    }
    let mut record = PersonRecord::new();
    let change = record
        .accept_list(&verified)
        .expect("a first list is accepted");
    assert_eq!(
        change,
        ListChange::Accepted {
            added: ids.clone(),
            removed: vec![],
            changed: vec![]
        }
    );
    assert_eq!(record.accept_list(&verified), Ok(ListChange::Unchanged));
    assert_eq!(record.devices_needing_bundle(), ids);
    let stored = record.to_stored();
    let loaded = PersonRecord::from_stored(&stored).expect("a record with this list loads");
    assert_eq!(*loaded.to_stored(), *stored);
    true
}

/// SPEC.md §11: a person record (or a user key) that loads stores to the
/// same bytes, seals and opens to itself, and using it never panics; a
/// failed encrypt changes nothing.
pub fn load_user_record(data: &[u8]) -> bool {
    if let Ok(user) = UserKeyPair::from_stored(data) {
        // An older version stores in today's, with the same seed.
        let stored = user.to_stored();
        assert_eq!(
            stored.get(2..),
            data.get(2..),
            "user key stores differently"
        );
        assert_eq!(stored.first(), data.first());
        return true;
    }
    let Ok(mut record) = PersonRecord::from_stored(data) else {
        return false;
    };
    let stored = record.to_stored();
    if *stored != *data {
        // A nested session record of an older format version is stored in
        // today's: the result must then load and store back to itself.
        let again = PersonRecord::from_stored(&stored).expect("an upgraded record reloads");
        assert_eq!(
            *again.to_stored(),
            *stored,
            "person record: upgrade is not stable"
        );
    }
    let sealed = record
        .seal(&STORAGE_KEY, b"ctx", &mut fixtures::rng(0))
        .expect("sealing works");
    let opened = PersonRecord::open(&sealed, &STORAGE_KEY, b"ctx").expect("a sealed record opens");
    assert_eq!(*opened.to_stored(), *stored);
    let resealed = opened
        .seal(&STORAGE_KEY, b"ctx", &mut ReplayRng::new(&sealed[2..14]))
        .expect("sealing works");
    assert_eq!(resealed, sealed);
    let needing = record.devices_needing_bundle();
    assert!(needing.windows(2).all(|w| w[0] < w[1]));
    let before: Vec<(u32, Vec<u8>)> = record
        .devices()
        .filter_map(|(id, _)| Some((id, record.session(id)?.to_stored().to_vec())))
        .collect();
    match record.encrypt(b"fuzz", &mut fixtures::rng(1)) {
        Ok(fanout) => {
            assert!(!record.needs_newer_list());
            assert!(!fanout.messages.is_empty());
            let sent: Vec<u32> = fanout.messages.iter().map(|m| m.device_id).collect();
            assert!(sent.iter().all(|id| !needing.contains(id)));
            for failure in &fanout.failed {
                assert!(
                    !needing.contains(&failure.device_id) && !sent.contains(&failure.device_id)
                );
                let unchanged = before.iter().find(|(id, _)| *id == failure.device_id);
                let now = record
                    .session(failure.device_id)
                    .map(|s| s.to_stored().to_vec());
                assert_eq!(
                    unchanged.map(|(_, b)| b.clone()),
                    now,
                    "a failed device changed"
                );
            }
        }
        Err(_) => assert_eq!(
            *record.to_stored(),
            *stored,
            "a failed encrypt changed the record"
        ),
    }
    true
}

/// Stored person records for the seed corpus: new, own, with a list and
/// no session, with live sessions both ways, a reported newer version, and
/// a stored user key.
pub fn stored_person_records() -> Vec<Vec<u8>> {
    let mut rng = fixtures::rng(21);
    let config = SessionConfig::default();
    let user = UserKeyPair::generate(&mut rng);
    let uk = *user.public_key();
    let mut devices: Vec<(u32, Account)> = (1..=3).map(|id| (id, Account::new(&mut rng))).collect();
    let mut builder = DeviceListBuilder::new(7);
    for (id, account) in &devices {
        builder = builder.device(
            *id,
            *account.identity_key(),
            account.link_signature(&uk, *id),
        );
    }
    let list = builder.sign(&user).expect("a valid list");
    let alice = Account::new(&mut rng);

    let mut out = vec![
        user.to_stored().to_vec(),
        PersonRecord::new().to_stored().to_vec(),
        PersonRecord::own(2).to_stored().to_vec(),
    ];
    let mut record = PersonRecord::new();
    record.accept_list(&list).expect("first list");
    out.push(record.to_stored().to_vec());
    let mut own = PersonRecord::own(1);
    own.accept_list(&list).expect("first list");
    out.push(own.to_stored().to_vec());

    for id in record.devices_needing_bundle() {
        let account = &devices.iter().find(|(i, _)| *i == id).expect("listed").1;
        let bundle = account
            .bundle(None)
            .expect("bundle")
            .verify()
            .expect("verifies");
        record
            .start_session(id, alice.identity(), &bundle, config, &mut rng)
            .expect("session");
    }
    let sent = record
        .encrypt(b"hello", &mut rng)
        .expect("encrypts")
        .messages;
    out.push(record.to_stored().to_vec());
    // Device 1 answers through its own record of Alice's device.
    let mut on_bob = cliquet::SessionRecord::new();
    let got = on_bob
        .decrypt(&mut devices[0].1, &sent[0].message, config)
        .expect("decrypts");
    assert_eq!(got.plaintext, b"hello");
    let reply = on_bob.encrypt(b"hi", &mut rng).expect("reply");
    let mut alice_account = alice;
    record
        .decrypt(&mut alice_account, 1, &reply, config)
        .expect("reply decrypts");
    out.push(record.to_stored().to_vec());
    record.report_list_version(9);
    record.mark_verified(&uk).expect("pinned key");
    out.push(record.to_stored().to_vec());
    out
}

/// Keys of the `device_list_updates` target: two user keys, eight device
/// keys, and each device's link signature for each user key and id 0..8.
struct UpdateKeys {
    users: [UserKeyPair; 2],
    devices: Vec<cliquet::IdentityKeyPair>,
    /// `links[user][device][id]`.
    links: Vec<Vec<Vec<[u8; 64]>>>,
}

fn update_keys() -> &'static UpdateKeys {
    static KEYS: std::sync::OnceLock<UpdateKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let users = [
            UserKeyPair::from_secret_bytes(&[0xa1; 32]),
            UserKeyPair::from_secret_bytes(&[0xa2; 32]),
        ];
        let devices: Vec<_> = (0..8u8)
            .map(|i| cliquet::IdentityKeyPair::from_secret_bytes(&[0xd0 + i; 32]))
            .collect();
        let links = users
            .iter()
            .map(|u| {
                devices
                    .iter()
                    .map(|d| {
                        (0..8)
                            .map(|id| d.link_signature(u.public_key(), id))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        UpdateKeys {
            users,
            devices,
            links,
        }
    })
}

/// The model's accepted list: version, bytes, and each device id with the
/// index of its device key.
type ModelList = (u64, Vec<u8>, Vec<(u32, usize)>);

/// SPEC §14's judging of lists, against a model: the input is a list of
/// steps; `0 a b c` signs and hands over a list (user key `a & 1`, version
/// `b & 7`, device ids the bits of `c`, device `i` keyed by device key
/// `(i + (a >> 1)) % 8`), `1 a` accepts user key `a & 1`. Every result (the
/// added, removed and changed sets included) must be the model's, and a
/// refused list must leave the record's stored bytes as they were.
pub fn device_list_updates(data: &[u8]) -> bool {
    let keys = update_keys();
    let mut record = PersonRecord::new();
    // The model: pinned user, and the accepted list.
    let mut pinned: Option<usize> = None;
    let mut accepted: Option<ModelList> = None;
    let mut steps = 0;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        if op & 1 == 1 {
            let Some((&a, tail)) = rest.split_first() else {
                break;
            };
            rest = tail;
            let user = usize::from(a & 1);
            record.accept_user_key(keys.users[user].public_key());
            if pinned != Some(user) {
                accepted = None;
            }
            pinned = Some(user);
            steps += 1;
            continue;
        }
        let [a, b, c, ..] = *rest else { break };
        rest = &rest[3..];
        let user = usize::from(a & 1);
        let version = u64::from(b & 7);
        let devices: Vec<(u32, usize)> = (0..8u32)
            .filter(|i| c & (1 << i) != 0)
            .map(|i| (i, (i as usize + usize::from(a >> 1)) % 8))
            .collect();
        let mut builder = DeviceListBuilder::new(version);
        for &(id, device) in &devices {
            builder = builder.device(
                id,
                *keys.devices[device].public_key(),
                keys.links[user][device][id as usize],
            );
        }
        let list = match builder.sign(&keys.users[user]) {
            Ok(list) => list,
            Err(e) => {
                assert!(devices.is_empty(), "a list of distinct keys refused: {e:?}");
                assert_eq!(e, Error::Malformed(DecodeError::BadCount));
                continue;
            }
        };
        let list = VerifiedDeviceList::decode(list.as_bytes()).expect("a signed list verifies");
        let before = record.to_stored();
        let got = record.accept_list(&list);
        // The model's verdict.
        let want = match (&pinned, &accepted) {
            (Some(p), _) if *p != user => Err(Error::IdentityChanged(*list.user_key())),
            (_, Some((v, _, _))) if version < *v => Err(Error::StaleDeviceList),
            (_, Some((v, bytes, _))) if version == *v => {
                if bytes.as_slice() == list.as_bytes() {
                    Ok(ListChange::Unchanged)
                } else {
                    Err(Error::StaleDeviceList)
                }
            }
            (_, old) => {
                let old = old.as_ref().map_or(&[][..], |(_, _, d)| d.as_slice());
                let key_of = |set: &[(u32, usize)], id: u32| {
                    set.iter().find(|(i, _)| *i == id).map(|(_, k)| *k)
                };
                Ok(ListChange::Accepted {
                    added: devices
                        .iter()
                        .filter(|(id, _)| key_of(old, *id).is_none())
                        .map(|(id, _)| *id)
                        .collect(),
                    removed: old
                        .iter()
                        .filter(|(id, _)| key_of(&devices, *id).is_none())
                        .map(|(id, _)| *id)
                        .collect(),
                    changed: old
                        .iter()
                        .filter(|(id, k)| key_of(&devices, *id).is_some_and(|n| n != *k))
                        .map(|(id, _)| *id)
                        .collect(),
                })
            }
        };
        assert_eq!(got, want, "step {steps}");
        match got {
            Ok(ListChange::Accepted { .. }) => {
                pinned = Some(user);
                accepted = Some((version, list.encode(), devices));
            }
            _ => assert_eq!(
                *record.to_stored(),
                *before,
                "a judged list changed nothing"
            ),
        }
        assert_eq!(record.list_version(), accepted.as_ref().map(|(v, _, _)| *v));
        steps += 1;
    }
    steps > 0
}
