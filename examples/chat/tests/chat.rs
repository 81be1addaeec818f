//! End to end: the chat relay and two chat clients of `examples/` on
//! loopback, messages both ways, one client restarted twice at the worst
//! moments, every message delivered exactly once and in clear only at the
//! ends.
//!
//! The example's library (`src/lib.rs`, which the binaries run too) is
//! driven in-process, not spawned as the built example binaries: Cargo tells
//! integration tests where bin targets are (`CARGO_BIN_EXE_*`) but not
//! examples, and guessing their place under `target/` breaks with
//! `CARGO_TARGET_DIR`, `--target` or another profile. In-process, the test
//! owns every thread and socket, stops them all (the relay joins its
//! threads; every socket read has a timeout), and "kills" a client by
//! dropping it: the client keeps nothing in memory that its SQLite file does
//! not hold, so a drop leaves exactly what a kill would. The relay records
//! every frame it receives and sends, which is how the test sees that no
//! plaintext crossed it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cliquet_chat::client::{self, Client, Received, Result};
use cliquet_chat::proto;
use cliquet_chat::relay::Relay;

/// How long the test waits for any expected message.
const PATIENCE: Duration = Duration::from_secs(5);

#[test]
fn chat_over_relay_survives_restarts_and_relay_sees_only_ciphertext() -> Result<()> {
    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, true)?;
    let addr = relay.local_addr();
    let dir = TempDir::new()?;
    let (alice_db, bob_db) = (dir.path().join("alice.db"), dir.path().join("bob.db"));
    let to_bob: Vec<String> = (0..5).map(|i| secret("alice", "bob", i)).collect();
    let to_alice: Vec<String> = (0..4).map(|i| secret("bob", "alice", i)).collect();
    let (mut at_alice, mut at_bob) = (Vec::new(), Vec::new());

    let mut alice = Client::open(&alice_db, "alice", addr)?;
    let mut bob = Client::open(&bob_db, "bob", addr)?;
    let bob_identity = bob.fingerprint();

    // Alice starts the session from Bob's bundle: two prekey messages.
    alice.send("bob", &to_bob[0])?;
    alice.send("bob", &to_bob[1])?;
    at_bob.extend(receive(&mut bob, 2)?);
    bob.send("alice", &to_alice[0])?;
    at_alice.extend(receive(&mut alice, 1)?);

    // Bob dies after storing a message but before acknowledging it: the
    // relay delivers it again, and the restarted Bob skips it.
    alice.send("bob", &to_bob[2])?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let batch = bob.process_mail()?;
        assert!(batch.dropped.is_empty(), "{:?}", batch.dropped);
        if !batch.received.is_empty() {
            at_bob.extend(batch.received);
            break;
        }
        assert!(Instant::now() < deadline, "message 2 never reached Bob");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(relay.pending("bob"), 1, "not acknowledged yet");
    drop(bob);
    let mut bob = Client::open(&bob_db, "bob", addr)?;
    assert_eq!(
        bob.fingerprint(),
        bob_identity,
        "same identity after a restart"
    );
    let batch = bob.poll()?;
    assert!(batch.received.is_empty() && batch.dropped.is_empty());
    assert_eq!(
        batch.to_ack.len(),
        1,
        "the redelivered message was acknowledged"
    );
    assert_eq!(relay.pending("bob"), 0);

    // Bob dies after storing a message for Alice but before it left: the
    // restarted Bob sends it from his outbox.
    bob.queue("alice", &to_alice[1])?;
    drop(bob);
    assert_eq!(relay.pending("alice"), 0, "nothing left before the restart");
    let mut bob = Client::open(&bob_db, "bob", addr)?;
    at_alice.extend(receive(&mut alice, 1)?);

    // The restarted Bob goes on with the same session, both ways, through
    // more ratchet steps.
    bob.send("alice", &to_alice[2])?;
    alice.send("bob", &to_bob[3])?;
    alice.send("bob", &to_bob[4])?;
    at_alice.extend(receive(&mut alice, 1)?);
    at_bob.extend(receive(&mut bob, 2)?);
    bob.send("alice", &to_alice[3])?;
    at_alice.extend(receive(&mut alice, 1)?);

    // Everything arrived once, in order, from the right sender; nothing waits.
    assert_eq!(at_bob, from("alice", &to_bob));
    assert_eq!(at_alice, from("bob", &to_alice));
    for client in [&mut alice, &mut bob] {
        let batch = client.poll()?;
        assert!(batch.received.is_empty() && batch.to_ack.is_empty());
    }
    assert_eq!((relay.pending("alice"), relay.pending("bob")), (0, 0));
    let bob_got: Vec<_> = bob
        .history()?
        .into_iter()
        .filter(|line| !line.outgoing)
        .map(|line| line.text)
        .collect();
    assert_eq!(
        bob_got, to_bob,
        "Bob's stored history holds each message once"
    );

    // The relay carried every message, yet no plaintext.
    let frames = relay.recorded_frames();
    assert!(frames.len() > 2 * (to_bob.len() + to_alice.len()));
    for text in to_bob.iter().chain(&to_alice) {
        for frame in &frames {
            assert!(
                !frame.windows(text.len()).any(|w| w == text.as_bytes()),
                "the relay saw {text:?} in clear"
            );
        }
    }
    // The first messages were post-quantum (PQXDH, kind 0x17), never
    // classic X3DH prekey messages (0x12).
    let first_kinds: Vec<u8> = frames
        .iter()
        .filter_map(|f| match proto::Request::decode(f) {
            Ok(proto::Request::Send { envelope, .. }) => envelope.payload.first().copied(),
            _ => None,
        })
        .collect();
    assert!(first_kinds.contains(&0x17), "{first_kinds:x?}");
    assert!(!first_kinds.contains(&0x12), "{first_kinds:x?}");

    drop((alice, bob));
    relay.stop();
    Ok(())
}

#[test]
fn a_client_refuses_a_database_of_someone_else_or_without_its_key() -> Result<()> {
    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, false)?;
    let dir = TempDir::new()?;
    let db = dir.path().join("alice.db");
    drop(Client::open(&db, "alice", relay.local_addr())?);
    let err = Client::open(&db, "mallory", relay.local_addr())
        .err()
        .ok_or("opened another user's database")?;
    assert!(err.to_string().contains("belongs to"), "{err}");

    // Without its storage key, or with another one, the state does not open.
    let key = dir.path().join("alice.db.key");
    std::fs::remove_file(&key)?;
    let err = Client::open(&db, "alice", relay.local_addr())
        .err()
        .ok_or("opened without the storage key")?;
    assert!(err.to_string().contains("storage key"), "{err}");
    std::fs::write(&key, [0x55; 32])?;
    let err = Client::open(&db, "alice", relay.local_addr())
        .err()
        .ok_or("opened with a wrong storage key")?;
    assert!(err.to_string().contains("sealed"), "{err}");
    relay.stop();
    Ok(())
}

#[test]
fn simultaneous_first_messages_both_arrive_and_the_chat_goes_on() -> Result<()> {
    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, false)?;
    let dir = TempDir::new()?;
    let mut alice = Client::open(&dir.path().join("alice.db"), "alice", relay.local_addr())?;
    let mut bob = Client::open(&dir.path().join("bob.db"), "bob", relay.local_addr())?;

    // Each starts a session from the other's bundle before reading any mail:
    // two sessions, one started by each.
    alice.send("bob", "alice first")?;
    bob.send("alice", "bob first")?;
    assert_eq!(
        receive(&mut bob, 1)?,
        from("alice", &["alice first".into()])
    );
    assert_eq!(receive(&mut alice, 1)?, from("bob", &["bob first".into()]));

    // Each now sends on the session it used last; the other finds it.
    for round in 0..3 {
        let (a, b) = (format!("alice {round}"), format!("bob {round}"));
        alice.send("bob", &a)?;
        bob.send("alice", &b)?;
        assert_eq!(receive(&mut bob, 1)?, from("alice", &[a]));
        assert_eq!(receive(&mut alice, 1)?, from("bob", &[b]));
    }
    relay.stop();
    Ok(())
}

#[test]
fn replayed_messages_and_borrowed_identity_keys_are_refused() -> Result<()> {
    use proto::{ANSWER_TIMEOUT, Envelope, Request, Response, read_frame, until, write_frame};

    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, true)?;
    let dir = TempDir::new()?;
    let mut alice = Client::open(&dir.path().join("alice.db"), "alice", relay.local_addr())?;
    let mut bob = Client::open(&dir.path().join("bob.db"), "bob", relay.local_addr())?;
    let mut stream = std::net::TcpStream::connect_timeout(&relay.local_addr(), ANSWER_TIMEOUT)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut call = |request: Request| -> Result<Response> {
        write_frame(&mut stream, &request.encode())?;
        let reply = read_frame(&mut stream, &mut until(Instant::now() + ANSWER_TIMEOUT))?;
        Ok(Response::decode(&reply.ok_or("relay closed")?)?)
    };

    // Someone drains Bob's one-time prekeys, so that Alice's first message
    // uses none: then only the client's checks stop a replay of it.
    for _ in 0..100 {
        let bundle = call(Request::FetchBundle { user: "bob".into() })?;
        let Response::Bundle(bytes) = bundle else {
            panic!("no bundle: {bundle:?}");
        };
        if cliquet::PreKeyBundle::decode(&bytes)?
            .one_time_prekey()
            .is_none()
        {
            break;
        }
    }
    alice.send("bob", "only once")?;
    assert_eq!(receive(&mut bob, 1)?, from("alice", &["only once".into()]));

    // Whoever controls the relay takes Alice's prekey message from the
    // record and delivers it again, under new ids, as Alice and as Mallory.
    let payload = relay
        .recorded_frames()
        .iter()
        .find_map(|frame| match Request::decode(frame) {
            Ok(Request::Send { envelope, .. }) => Some(envelope.payload),
            _ => None,
        })
        .ok_or("the relay recorded no message")?;
    for (sender, id) in [("alice", [1; 16]), ("mallory", [2; 16])] {
        let envelope = Envelope {
            from: sender.into(),
            id,
            payload: payload.clone(),
        };
        let request = Request::Send {
            to: "bob".into(),
            envelope,
        };
        assert_eq!(call(request)?, Response::Ok);
    }
    let batch = bob.poll()?;
    assert!(batch.received.is_empty(), "{:?}", batch.received);
    assert_eq!(batch.dropped.len(), 2, "{:?}", batch.dropped);

    // The session is intact both ways.
    alice.send("bob", "still fine")?;
    assert_eq!(receive(&mut bob, 1)?, from("alice", &["still fine".into()]));
    bob.send("alice", "yes")?;
    assert_eq!(receive(&mut alice, 1)?, from("bob", &["yes".into()]));

    // Mallory registers "carol" with Alice's public signed part (from a
    // bundle of hers, as a publication of no one-time key): Bob, who knows
    // that key as Alice's, refuses to start a session with "carol".
    let Response::Bundle(alice_bundle) = call(Request::FetchBundle {
        user: "alice".into(),
    })?
    else {
        panic!("no bundle for alice");
    };
    let signed = cliquet::PreKeyBundle::decode(&alice_bundle)?
        .without_one_time_prekey()
        .without_kem_prekey()
        .encode();
    let mut publication = vec![0x1C];
    publication.extend(signed);
    publication.extend([0; 1 + 4 + 4]);
    cliquet::Publication::decode(&publication)?;
    let register = Request::Publish {
        user: "carol".into(),
        publication,
    };
    assert_eq!(call(register)?, Response::Ok);
    let err = bob
        .send("carol", "for carol")
        .err()
        .ok_or("sent to a name that uses Alice's key")?;
    assert!(
        err.to_string().contains("identity key of \"alice\""),
        "{err}"
    );
    relay.stop();
    Ok(())
}

#[test]
fn a_client_restored_from_a_backup_gets_a_new_session() -> Result<()> {
    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, false)?;
    let dir = TempDir::new()?;
    let (alice_db, bob_db) = (dir.path().join("alice.db"), dir.path().join("bob.db"));
    let mut alice = Client::open(&alice_db, "alice", relay.local_addr())?;
    let mut bob = Client::open(&bob_db, "bob", relay.local_addr())?;
    alice.send("bob", "before the backup")?;
    receive(&mut bob, 1)?;
    bob.send("alice", "ack")?;
    receive(&mut alice, 1)?;

    // Bob backs up his database and key, chats on, then restores the backup.
    drop(bob);
    let backup = dir.path().join("backup");
    std::fs::create_dir(&backup)?;
    for file in ["bob.db", "bob.db.key"] {
        std::fs::copy(dir.path().join(file), backup.join(file))?;
    }
    let mut bob = Client::open(&bob_db, "bob", relay.local_addr())?;
    alice.send("bob", "after the backup")?;
    receive(&mut bob, 1)?;
    bob.send("alice", "after the backup too")?;
    receive(&mut alice, 1)?;
    drop(bob);
    for file in ["bob.db", "bob.db.key"] {
        std::fs::copy(backup.join(file), dir.path().join(file))?;
    }
    let mut bob = Client::open(&bob_db, "bob", relay.local_addr())?;

    // The restored Bob cannot read Alice's next message and tells her so.
    // One notice asks Alice to send it again (one altered message must not
    // end a session); Bob cannot read the copy either, and his second
    // notice makes her next message start a new session that he reads.
    alice.send("bob", "lost")?;
    let batch = poll_until(&mut bob, |b| !b.dropped.is_empty())?;
    assert!(batch.received.is_empty(), "{:?}", batch.received);
    let batch = poll_until(&mut alice, |b| !b.resent.is_empty())?;
    assert_eq!(
        (batch.resent, batch.resets),
        (vec!["bob".to_owned()], vec![])
    );
    let batch = poll_until(&mut bob, |b| !b.dropped.is_empty())?;
    assert!(batch.received.is_empty(), "{:?}", batch.received);
    let batch = poll_until(&mut alice, |b| !b.resets.is_empty())?;
    assert_eq!(batch.resets, ["bob"]);
    alice.send("bob", "new session")?;
    assert_eq!(
        receive(&mut bob, 1)?,
        from("alice", &["new session".into()])
    );
    bob.send("alice", "back")?;
    assert_eq!(receive(&mut alice, 1)?, from("bob", &["back".into()]));
    relay.stop();
    Ok(())
}

#[test]
fn the_relay_refuses_garbage_and_keeps_serving() -> Result<()> {
    use std::net::TcpStream;

    use proto::{ANSWER_TIMEOUT, MAX_FRAME, Request, Response, read_frame, until, write_frame};

    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, false)?;
    let mut stream = TcpStream::connect_timeout(&relay.local_addr(), ANSWER_TIMEOUT)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let answer = |stream: &mut TcpStream, frame: &[u8]| -> Result<Response> {
        write_frame(stream, frame)?;
        let mut wait = until(Instant::now() + ANSWER_TIMEOUT);
        let reply = read_frame(stream, &mut wait)?.ok_or("relay closed")?;
        Ok(Response::decode(&reply)?)
    };

    let garbage: [&[u8]; 5] = [
        &[],
        &[0xff],
        &[1, 0, 5, b'a'],
        &[5, 0, 1, b'a', 0],
        &[3; 300],
    ];
    for frame in garbage {
        assert!(matches!(answer(&mut stream, frame)?, Response::Refused(_)));
    }
    // A publication that does not verify is refused; a well-formed request
    // to an unknown user is refused by name.
    let mut publication = vec![0x1C, 0x14];
    publication.extend([0x14; 133]);
    publication.extend([0; 1 + 4 + 4]);
    let register = Request::Publish {
        user: "eve".into(),
        publication,
    };
    assert!(matches!(
        answer(&mut stream, &register.encode())?,
        Response::Refused(_)
    ));
    let fetch = Request::FetchBundle {
        user: "nobody".into(),
    };
    let Response::Refused(why) = answer(&mut stream, &fetch.encode())? else {
        panic!("fetched a bundle of nobody");
    };
    assert!(why.contains("nobody"), "{why}");
    // Device mailboxes are `name/device`, with a device id from 1; a
    // device list belongs to a person, named without a device.
    for user in [
        "alice/0",
        "alice/01",
        "alice/+1",
        "alice/x",
        "alice/1/2",
        "/1",
    ] {
        let register = Request::Publish {
            user: user.into(),
            publication: Vec::new(),
        };
        let Response::Refused(why) = answer(&mut stream, &register.encode())? else {
            panic!("{user} registered");
        };
        assert!(why.starts_with("a name is"), "{user}: {why}");
    }
    let list = Request::PublishDeviceList {
        user: "alice/2".into(),
        list: vec![1; 10],
    };
    assert!(matches!(
        answer(&mut stream, &list.encode())?,
        Response::Refused(_)
    ));
    let fetch = Request::FetchDeviceList {
        user: "nobody".into(),
    };
    let Response::Refused(why) = answer(&mut stream, &fetch.encode())? else {
        panic!("fetched a list of nobody");
    };
    assert!(why.contains("nobody"), "{why}");

    // The framing itself refuses an oversized frame on both sides.
    assert!(write_frame(&mut Vec::new(), &vec![0; MAX_FRAME + 1]).is_err());
    let mut oversized = &u32::try_from(MAX_FRAME + 1)?.to_be_bytes()[..];
    assert!(read_frame(&mut oversized, &mut || false).is_err());
    relay.stop();
    Ok(())
}

#[test]
fn protocol_messages_round_trip_and_truncations_are_errors() {
    use proto::{Envelope, Request, Response};

    let envelope = Envelope {
        from: "alice".into(),
        id: [7; 16],
        payload: vec![0x13; 90],
    };
    let requests = [
        Request::Publish {
            user: "bob".into(),
            publication: vec![1, 2, 3],
        },
        Request::FetchBundle { user: "bob".into() },
        Request::Send {
            to: "bob".into(),
            envelope: envelope.clone(),
        },
        Request::Fetch { user: "bob".into() },
        Request::Ack {
            user: "bob".into(),
            ids: vec![[1; 16], [2; 16]],
        },
        Request::PublishDeviceList {
            user: "bob".into(),
            list: vec![5; 40],
        },
        Request::FetchDeviceList { user: "bob".into() },
    ];
    for request in requests {
        let bytes = request.encode();
        assert_eq!(Request::decode(&bytes).ok(), Some(request));
        for cut in 0..bytes.len() {
            assert!(Request::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Request::decode(&longer).is_err(), "trailing byte");
    }
    let responses = [
        Response::Ok,
        Response::Bundle(vec![4; 170]),
        Response::Mail(vec![envelope.clone(), envelope]),
        Response::Refused("no".into()),
        Response::DeviceList(vec![6; 120]),
    ];
    for response in responses {
        let bytes = response.encode();
        assert_eq!(Response::decode(&bytes).ok(), Some(response));
        for cut in 0..bytes.len() {
            assert!(Response::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}

/// A message text that cannot occur in a frame by chance.
#[test]
fn a_peer_that_reinstalls_with_a_new_identity_waits_for_trust() -> Result<()> {
    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, true)?;
    let addr = relay.local_addr();
    let dir = TempDir::new()?;
    let mut alice = Client::open(&dir.path().join("alice.db"), "alice", addr)?;
    let bob_db = dir.path().join("bob.db");
    let mut bob = Client::open(&bob_db, "bob", addr)?;
    alice.send("bob", "hello")?;
    assert_eq!(receive(&mut bob, 1)?, from("alice", &["hello".into()]));
    bob.send("alice", "hi")?;
    assert_eq!(receive(&mut alice, 1)?, from("bob", &["hi".into()]));
    let numbers = alice.safety_numbers("bob")?;
    assert_eq!(numbers.len(), 1);
    let held = numbers[0].1.to_string();

    // Bob reinstalls: a new database, a new identity key, the same name.
    drop(bob);
    std::fs::remove_file(&bob_db)?;
    let key = bob_db.with_extension("db.key");
    let _ = std::fs::remove_file(&key);
    let mut bob = Client::open(&bob_db, "bob", addr)?;
    bob.send("alice", "new phone, same bob")?;
    // Alice is told, and the message waits for her decision.
    let batch = poll_until(&mut alice, |b| !b.identity_changes.is_empty())?;
    assert_eq!(batch.identity_changes, ["bob"]);
    assert!(batch.received.is_empty());
    assert!(client::identity_changed("bob").contains("/verify bob"));
    // Nothing leaves for Bob, old key or new, until she decides.
    let refused = alice.send("bob", "are you bob?").err().ok_or("sent")?;
    assert!(
        refused.to_string().contains("identity key changed"),
        "{refused}"
    );
    // She compares the new safety number with Bob (out of band) and trusts it.
    let numbers = alice.safety_numbers("bob")?;
    assert_eq!(numbers.len(), 2, "held key and the new one");
    assert_eq!(numbers[0].1.to_string(), held);
    assert_ne!(numbers[1].1.to_string(), held);
    alice.trust("bob")?;
    assert_eq!(alice.safety_numbers("bob")?.len(), 1);
    // From now on they talk with Bob's new key, both ways.
    alice.send("bob", "welcome back")?;
    assert_eq!(
        receive(&mut bob, 1)?,
        from("alice", &["welcome back".into()])
    );
    bob.send("alice", "thanks")?;
    assert_eq!(receive(&mut alice, 1)?, from("bob", &["thanks".into()]));
    relay.stop();
    Ok(())
}

#[test]
fn a_group_message_is_uploaded_once_and_read_by_every_member() -> Result<()> {
    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, true)?;
    let addr = relay.local_addr();
    let dir = TempDir::new()?;
    let open = |name: &str| Client::open(&dir.path().join(format!("{name}.db")), name, addr);
    let (mut alice, mut bob, mut carol) = (open("alice")?, open("bob")?, open("carol")?);

    // Alice creates the group and adds Bob, then Carol.
    alice.create_group("team")?;
    alice.add_to_group("team", "bob")?;
    let joined = poll_until(&mut bob, |b| !b.joined.is_empty())?;
    assert_eq!(joined.joined, ["team"]);
    alice.add_to_group("team", "carol")?;
    poll_until(&mut carol, |b| !b.joined.is_empty())?;
    // The new members send their sender chains around (pairwise).
    for _ in 0..4 {
        for client in [&mut alice, &mut bob, &mut carol] {
            client.poll()?;
            thread::sleep(Duration::from_millis(10));
        }
    }

    // Each message is encrypted once and uploaded once; each other member
    // reads it.
    let uploads = |relay: &Relay| {
        relay
            .recorded_frames()
            .iter()
            .filter(|f| {
                matches!(
                    proto::Request::decode(f),
                    Ok(proto::Request::SendMany { .. })
                )
            })
            .count()
    };
    let before = uploads(&relay);
    alice.send_group("team", "standup in five")?;
    bob.send_group("team", "on my way")?;
    carol.send_group("team", "same")?;
    assert_eq!(uploads(&relay), before + 3, "one upload per group message");
    let mut read = std::collections::BTreeMap::<String, Vec<String>>::new();
    let deadline = Instant::now() + PATIENCE;
    while read.values().map(Vec::len).sum::<usize>() < 6 {
        assert!(
            Instant::now() < deadline,
            "group messages missing: {read:?}"
        );
        for (name, client) in [
            ("alice", &mut alice),
            ("bob", &mut bob),
            ("carol", &mut carol),
        ] {
            let batch = client.poll()?;
            assert!(batch.dropped.is_empty(), "{name}: {:?}", batch.dropped);
            for m in batch.group_received {
                assert_eq!(m.group, "team");
                read.entry(name.to_owned())
                    .or_default()
                    .push(format!("{}: {}", m.from, m.text));
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(read["alice"], ["bob: on my way", "carol: same"]);
    assert_eq!(read["bob"], ["alice: standup in five", "carol: same"]);
    assert_eq!(read["carol"], ["alice: standup in five", "bob: on my way"]);
    // The relay saw no plaintext.
    for frame in relay.recorded_frames() {
        let shown = String::from_utf8_lossy(&frame);
        assert!(!shown.contains("standup") && !shown.contains("on my way"));
    }
    relay.stop();
    Ok(())
}

#[test]
fn a_person_with_two_devices_is_reached_on_both_and_a_slipped_in_device_is_refused() -> Result<()> {
    use cliquet::rand_core::UnwrapErr;
    use cliquet::{Account, DeviceListBuilder, Error, PreKeyBundle, SessionConfig, UserKeyPair};
    use cliquet::{SessionRecord, VerifiedDeviceList};
    use cliquet_chat::people::{Delivery, Device};
    use proto::{ANSWER_TIMEOUT, Envelope, Request, Response, read_frame, until, write_frame};

    fn texts(deliveries: &[Delivery]) -> Vec<(&str, u32, Option<&str>)> {
        deliveries
            .iter()
            .map(|d| (d.from.as_str(), d.device_id, d.text.as_deref().ok()))
            .collect()
    }
    fn cliquet_error(e: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<Error> {
        e.downcast_ref::<Error>().copied()
    }

    let relay = Relay::start(TcpListener::bind("127.0.0.1:0")?, false)?;
    let addr = relay.local_addr();
    let dir = TempDir::new()?;
    let db = |file: &str| dir.path().join(file);
    let mut alice1 = Device::open(&db("alice1.db"), addr, "alice", 1, None)?;
    let mut bob = Device::open(&db("bob.db"), addr, "bob", 1, None)?;
    let number = bob.safety_number("alice")?;

    // Alice links a second device: it signs its link, device 1 signs list 2.
    let user_key = *alice1.user_key();
    let mut alice2 = Device::open(&db("alice2.db"), addr, "alice", 2, Some(&user_key))?;
    let (id, key, link) = alice2.link_request();
    // A garbled code, or the code of a device that agreed to another
    // person's user key (here Bob's), is refused; nothing is published.
    assert!(alice1.link_with_code("0000").is_err());
    let bob_key = *bob.user_key();
    let stray = Device::open(&db("stray.db"), addr, "alice", 5, Some(&bob_key))?;
    let refused = alice1
        .link_with_code(&stray.link_code())
        .expect_err("Bob's key");
    assert_eq!(cliquet_error(&*refused), Some(Error::BadSignature));
    assert_eq!(bob.refresh("alice")?, cliquet::ListChange::Unchanged);
    assert_eq!(alice1.link_with_code(&alice2.link_code())?, 2);
    alice1.link_device(id, key, link)?; // the same device again: list 3

    // One send from Bob reaches both of Alice's devices.
    assert_eq!(bob.send("alice", "hi Alice")?, vec![1, 2]);
    for alice in [&mut alice1, &mut alice2] {
        let got = alice.receive()?;
        assert_eq!(texts(&got), vec![("bob", 1, Some("hi Alice"))]);
    }
    // Both answer; Bob reads each, from the device it came from.
    assert_eq!(alice1.send("bob", "from the phone")?, vec![1]);
    assert_eq!(alice2.send("bob", "from the laptop")?, vec![1]);
    let got = bob.receive()?;
    assert_eq!(
        texts(&got),
        vec![
            ("alice", 1, Some("from the phone")),
            ("alice", 2, Some("from the laptop")),
        ]
    );
    // Every device restarts from its database.
    drop((alice1, alice2, bob));
    let mut alice1 = Device::open(&db("alice1.db"), addr, "alice", 1, None)?;
    let mut alice2 = Device::open(&db("alice2.db"), addr, "alice", 2, None)?;
    let mut bob = Device::open(&db("bob.db"), addr, "bob", 1, None)?;
    assert!(Device::open(&db("alice2.db"), addr, "alice", 3, None).is_err());
    assert_eq!(bob.send("alice", "still you?")?, vec![1, 2]);
    assert_eq!(alice2.send("bob", "yes")?, vec![1]);
    assert_eq!(texts(&bob.receive()?), vec![("alice", 2, Some("yes"))]);
    assert_eq!(
        texts(&alice1.receive()?),
        vec![("bob", 1, Some("still you?"))]
    );
    assert_eq!(
        texts(&alice2.receive()?),
        vec![("bob", 1, Some("still you?"))]
    );

    // Alice's devices reach each other the same way (her own person's record).
    assert_eq!(alice1.send("alice", "note to self")?, vec![2]);
    assert_eq!(
        texts(&alice2.receive()?),
        vec![("alice", 1, Some("note to self"))]
    );

    // One safety number for Alice, whatever device she talks from: that of
    // the user keys, the same before and after the link, on every side.
    assert_eq!(bob.safety_number("alice")?.digits(), number.digits());
    assert_eq!(alice1.safety_number("bob")?.digits(), number.digits());
    assert_eq!(alice2.safety_number("bob")?.digits(), number.digits());

    // A raw connection to the relay, which checks nothing: it may serve
    // any list or bundle, as a malicious relay would.
    let mut rng = UnwrapErr(getrandom::SysRng);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, ANSWER_TIMEOUT)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut call = |request: Request| -> Result<Response> {
        write_frame(&mut stream, &request.encode())?;
        let reply = read_frame(&mut stream, &mut until(Instant::now() + ANSWER_TIMEOUT))?;
        Ok(Response::decode(&reply.ok_or("relay closed")?)?)
    };
    let publish = |list: Vec<u8>| Request::PublishDeviceList {
        user: "alice".into(),
        list,
    };
    let fetch_list = |call: &mut dyn FnMut(Request) -> Result<Response>| -> Result<Vec<u8>> {
        match call(Request::FetchDeviceList {
            user: "alice".into(),
        })? {
            Response::DeviceList(list) => Ok(list),
            other => Err(format!("no list for alice: {other:?}").into()),
        }
    };

    // Alice removes device 2, but the relay keeps serving the old list:
    // Bob's next message still reaches device 2...
    let before = fetch_list(&mut call)?;
    alice1.remove_device(2)?;
    let removal = fetch_list(&mut call)?;
    assert_eq!(call(publish(before))?, Response::Ok);
    assert_eq!(bob.send("alice", "both still")?, vec![1, 2]);
    assert_eq!(alice2.receive()?.len(), 1);
    // ...until Alice's phone writes: its messages carry its list's
    // version, and Bob stops sending until the relay serves that list.
    assert_eq!(
        texts(&alice1.receive()?),
        vec![("bob", 1, Some("both still"))]
    );
    assert_eq!(alice1.send("bob", "I lost my laptop")?, vec![1]);
    assert_eq!(
        texts(&bob.receive()?),
        vec![("alice", 1, Some("I lost my laptop"))]
    );
    let refused = bob.send("alice", "to the laptop?").expect_err("withheld");
    assert_eq!(cliquet_error(&*refused), Some(Error::StaleDeviceList));
    assert_eq!(call(publish(removal))?, Response::Ok);
    // With the new list, Bob's next message reaches device 1 only.
    assert_eq!(bob.send("alice", "just the phone")?, vec![1]);
    assert_eq!(bob.devices_of("alice"), vec![1]);
    assert_eq!(
        texts(&alice1.receive()?),
        vec![("bob", 1, Some("just the phone"))]
    );
    assert!(alice2.receive()?.is_empty());

    // Now the relay slips in a device.
    let Response::DeviceList(genuine) = call(Request::FetchDeviceList {
        user: "alice".into(),
    })?
    else {
        panic!("no list for alice");
    };
    let mallory = Account::new(&mut rng);

    // 1. A message from "alice/3", a device her list does not name.
    let Response::Bundle(bob_bundle) = call(Request::FetchBundle {
        user: "bob/1".into(),
    })?
    else {
        panic!("no bundle for bob/1");
    };
    let bob_bundle = PreKeyBundle::decode(&bob_bundle)?.verify()?;
    let mut session = SessionRecord::new();
    let config = SessionConfig::default().with_header_encryption(true);
    session.start_new(mallory.identity(), &bob_bundle, config, &mut rng)?;
    let forged = session.encrypt(b"it's me, Alice, on a new phone", &mut rng)?;
    let slipped = Request::Send {
        to: "bob/1".into(),
        envelope: Envelope {
            from: "alice/3".into(),
            id: [3; 16],
            payload: forged.as_bytes().to_vec(),
        },
    };
    assert_eq!(call(slipped)?, Response::Ok);
    let got = bob.receive()?;
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].from.as_str(), got[0].device_id), ("alice", 3));
    assert_eq!(got[0].text.as_ref().err(), Some(&Error::UnknownDevice));

    // 2. A list naming device 3, signed by another user key than Alice's.
    let other = UserKeyPair::generate(&mut rng);
    let link = mallory.link_signature(other.public_key(), 3);
    let list = DeviceListBuilder::new(9)
        .device(3, *mallory.identity_key(), link)
        .sign(&other)?;
    assert_eq!(call(publish(list.encode()))?, Response::Ok);
    let refused = bob.send("alice", "to whom?").expect_err("a foreign list");
    assert_eq!(
        cliquet_error(&*refused),
        Some(Error::IdentityChanged(*other.public_key()))
    );

    // 3. Alice's genuine list with a byte changed: it does not verify.
    let mut tampered = genuine.clone();
    *tampered.last_mut().expect("a list") ^= 1;
    assert_eq!(call(publish(tampered))?, Response::Ok);
    let refused = bob.send("alice", "to whom?").expect_err("a tampered list");
    assert!(cliquet_error(&*refused).is_some(), "{refused}");
    assert!(VerifiedDeviceList::decode(&genuine).is_ok());

    // 4. With the genuine list back, a bundle under "alice/1" that is not
    // the listed device's: someone new to Alice refuses it.
    assert_eq!(call(publish(genuine))?, Response::Ok);
    let mut carol = Device::open(&db("carol.db"), addr, "carol", 1, None)?;
    let publication = Account::new(&mut rng).full_publication().encode();
    let swap = Request::Publish {
        user: "alice/1".into(),
        publication,
    };
    assert_eq!(call(swap)?, Response::Ok);
    let refused = carol.send("alice", "hello?").expect_err("a foreign bundle");
    assert_eq!(cliquet_error(&*refused), Some(Error::UnknownDevice));
    // Bob, whose session with Alice's phone stands, still reaches it.
    assert_eq!(bob.send("alice", "still here")?, vec![1]);
    assert_eq!(
        texts(&alice1.receive()?),
        vec![("bob", 1, Some("still here"))]
    );
    Ok(())
}

fn secret(from: &str, to: &str, i: usize) -> String {
    format!("{from} to {to}, message {i}: the owl flies at midnight")
}

fn from(sender: &str, texts: &[String]) -> Vec<Received> {
    texts
        .iter()
        .map(|text| Received {
            from: sender.to_owned(),
            text: text.clone(),
        })
        .collect()
}

/// Polls until `n` messages arrived (none dropped), at most [`PATIENCE`].
fn receive(client: &mut Client, n: usize) -> Result<Vec<Received>> {
    let deadline = Instant::now() + PATIENCE;
    let mut received = Vec::new();
    while received.len() < n {
        if Instant::now() >= deadline {
            return Err(format!("{}: {} of {n} messages", client.name(), received.len()).into());
        }
        let batch = client.poll()?;
        assert!(batch.dropped.is_empty(), "{:?}", batch.dropped);
        assert_eq!(batch.unsent, None);
        received.extend(batch.received);
        thread::sleep(Duration::from_millis(10));
    }
    Ok(received)
}

/// Polls until a batch satisfies `done`, at most [`PATIENCE`].
fn poll_until(client: &mut Client, done: impl Fn(&client::Batch) -> bool) -> Result<client::Batch> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let batch = client.poll()?;
        if done(&batch) {
            return Ok(batch);
        }
        if Instant::now() >= deadline {
            return Err(format!("{}: gave up waiting: {batch:?}", client.name()).into());
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let thread = format!("{:?}", thread::current().id());
        let name: String = format!("cliquet-chat-{}-{nanos}-{thread}", std::process::id())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is not worth failing a test.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
