//! The relay: a prekey directory and per-user mailboxes, in memory.
//!
//! Mailboxes and directories are keyed by name: a person's name, or
//! `name/device` for each device of a person with several (`alice/2`). For
//! those, the relay also keeps the person's latest device list, signed by
//! their user key, without checking it (see [`crate::people`]).
//!
//! It keeps one `cliquet::Directory` per user: what clients publish (a
//! `Publication`: the signed part, the last-resort KEM prekey, one-time
//! prekeys of both kinds), checked on upload; it hands out bundles that
//! carry each one-time key once (`Directory::take_bundle`), and keeps envelopes
//! until their recipient acknowledges them. It never holds a secret key and
//! never sees a plaintext: it could not decrypt if it wanted to.
//!
//! What this example leaves out, and a real server needs: authenticating
//! users (here anyone may register any free name, read anyone's mailbox or
//! drain their one-time prekeys), TLS, rate limits, and persistence.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use cliquet::{Directory, Publication};

use crate::proto::{Envelope, Request, Response, read_frame, write_frame};

/// At most this many one-time prekeys (of each kind) per user, and
/// envelopes per mailbox.
const MAX_PREKEYS: usize = 1000;
const MAX_MAILBOX: usize = 10_000;
/// At most this many envelopes per `Fetch` answer.
const MAX_FETCH: usize = 100;
/// The largest device list the relay stores.
const MAX_LIST: usize = 64 * 1024;
/// How often idle threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// A running relay; dropping it stops it.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    directory: Mutex<HashMap<String, User>>,
    /// The latest device list uploaded per person (by name, without a
    /// device id), unchecked.
    lists: Mutex<HashMap<String, Vec<u8>>>,
    /// Every frame received and sent, when recording is on (for tests).
    recorded: Option<Mutex<Vec<Vec<u8>>>>,
}

#[derive(Debug, Default)]
struct User {
    /// The user's keys: each one-time key is handed out once.
    keys: Directory,
    mailbox: Vec<Envelope>,
}

impl Relay {
    /// Serves on `listener` from a background thread, one thread per
    /// connection. With `record`, keeps a copy of every frame.
    pub fn start(listener: TcpListener, record: bool) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            recorded: record.then(Mutex::default),
            ..Shared::default()
        });
        let thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("relay-accept".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(Self {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every frame received or sent so far (empty unless recording).
    pub fn recorded_frames(&self) -> Vec<Vec<u8>> {
        self.shared
            .recorded
            .as_ref()
            .map(|frames| lock(frames).clone())
            .unwrap_or_default()
    }

    /// How many envelopes wait in `user`'s mailbox.
    pub fn pending(&self, user: &str) -> usize {
        lock(&self.shared.directory)
            .get(user)
            .map_or(0, |u| u.mailbox.len())
    }

    /// Stops accepting, closes every connection and waits for the threads
    /// (each notices within [`POLL`]).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // A thread that panicked has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data stays consistent even if a connection thread panicked.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut connections = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let shared = Arc::clone(shared);
                let spawned =
                    thread::Builder::new()
                        .name(format!("relay-{peer}"))
                        .spawn(move || {
                            if let Err(e) = serve(stream, &shared) {
                                eprintln!("relay: connection from {peer} ended: {e}");
                            }
                        });
                match spawned {
                    Ok(handle) => connections.push(handle),
                    Err(e) => eprintln!("relay: cannot start a thread: {e}"),
                }
                connections.retain(|c: &JoinHandle<()>| !c.is_finished());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(e) => {
                eprintln!("relay: accept failed: {e}");
                thread::sleep(POLL);
            }
        }
    }
    for connection in connections {
        let _ = connection.join();
    }
}

/// Answers requests on one connection until the client leaves or the relay
/// stops.
fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.set_nodelay(true)?;
    let mut keep_waiting = || !shared.stop.load(Ordering::Relaxed);
    while let Some(frame) = read_frame(&mut stream, &mut keep_waiting)? {
        record(shared, &frame);
        let response = match Request::decode(&frame) {
            Ok(request) => handle(shared, request),
            Err(e) => Response::Refused(format!("bad request: {e}")),
        };
        let frame = response.encode();
        record(shared, &frame);
        write_frame(&mut stream, &frame)?;
    }
    Ok(())
}

fn record(shared: &Shared, frame: &[u8]) {
    if let Some(frames) = &shared.recorded {
        lock(frames).push(frame.to_vec());
    }
}

fn handle(shared: &Shared, request: Request) -> Response {
    let mut directory = lock(&shared.directory);
    match request {
        Request::PublishDeviceList { user, list } => {
            if !valid_person(&user) {
                return Response::Refused("a name is 1 to 32 of a-z, 0-9, - and _".into());
            }
            if list.len() > MAX_LIST {
                return Response::Refused("the device list is too large".into());
            }
            // Untrusted as it is, the relay stores whatever it is given:
            // readers verify the list against the user key they pinned.
            lock(&shared.lists).insert(user, list);
            Response::Ok
        }
        Request::FetchDeviceList { user } => match lock(&shared.lists).get(&user) {
            Some(list) => Response::DeviceList(list.clone()),
            None => Response::Refused(format!("no device list for {user:?}")),
        },
        Request::Publish { user, publication } => {
            if !valid_name(&user) {
                return Response::Refused(
                    "a name is 1 to 32 of a-z, 0-9, - and _, or NAME/N for device N of NAME".into(),
                );
            }
            let Ok(publication) = Publication::decode(&publication) else {
                return Response::Refused("not a publication".into());
            };
            // A name is taken only by a publication that verifies.
            let mut fresh = Directory::new();
            let keys = match directory.get_mut(&user) {
                Some(entry) => &mut entry.keys,
                None => &mut fresh,
            };
            let too_many = |held: usize, new: usize| held + new > MAX_PREKEYS;
            if too_many(
                keys.one_time_prekey_count(),
                publication.one_time_prekeys().len(),
            ) || too_many(
                keys.one_time_kem_prekey_count(),
                publication.one_time_kem_prekeys().len(),
            ) {
                return Response::Refused("too many one-time prekeys".into());
            }
            // The relay checks every signature too, so it never hands out a
            // bundle a client would refuse; clients still verify themselves.
            // A new identity under this name replaces the old keys.
            if keys.upload(&publication).is_err() {
                return Response::Refused("the publication does not verify".into());
            }
            directory.entry(user).or_insert_with(|| User {
                keys: fresh,
                mailbox: Vec::new(),
            });
            Response::Ok
        }
        Request::FetchBundle { user } => {
            let bundle = directory
                .get_mut(&user)
                .and_then(|entry| entry.keys.take_bundle());
            match bundle {
                Some(bundle) => Response::Bundle(bundle.encode()),
                None => Response::Refused(format!("no user {user:?}")),
            }
        }
        Request::Send { to, envelope } => deliver(&mut directory, &to, envelope),
        Request::SendMany { to, envelope } => {
            // Every recipient must exist before any copy is stored.
            if let Some(unknown) = to.iter().find(|user| !directory.contains_key(*user)) {
                return Response::Refused(format!("no user {unknown:?}"));
            }
            for user in &to {
                if let refused @ Response::Refused(_) =
                    deliver(&mut directory, user, envelope.clone())
                {
                    return refused;
                }
            }
            Response::Ok
        }
        Request::Fetch { user } => match directory.get(&user) {
            Some(entry) => Response::Mail(entry.mailbox.iter().take(MAX_FETCH).cloned().collect()),
            None => Response::Refused(format!("no user {user:?}")),
        },
        Request::Ack { user, ids } => match directory.get_mut(&user) {
            Some(entry) => {
                entry.mailbox.retain(|e| !ids.contains(&e.id));
                Response::Ok
            }
            None => Response::Refused(format!("no user {user:?}")),
        },
    }
}

/// Stores `envelope` in `to`'s mailbox.
fn deliver(directory: &mut HashMap<String, User>, to: &str, envelope: Envelope) -> Response {
    match directory.get_mut(to) {
        Some(entry) if entry.mailbox.len() < MAX_MAILBOX => {
            // A retried send (same sender and id) is stored once.
            let known = entry
                .mailbox
                .iter()
                .any(|e| e.from == envelope.from && e.id == envelope.id);
            if !known {
                entry.mailbox.push(envelope);
            }
            Response::Ok
        }
        Some(_) => Response::Refused(format!("mailbox of {to:?} is full")),
        None => Response::Refused(format!("no user {to:?}")),
    }
}

/// A mailbox name: a person's name, or `name/device` for one device of
/// a person with several (`alice/2`).
fn valid_name(name: &str) -> bool {
    match name.split_once('/') {
        None => valid_person(name),
        Some((person, device)) => {
            valid_person(person)
                && !device.starts_with('0')
                && device.parse::<u32>().is_ok_and(|id| id > 0)
                && device.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

fn valid_person(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
