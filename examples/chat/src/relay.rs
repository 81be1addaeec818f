//! The relay: a prekey directory and per-user mailboxes, in memory.
//!
//! It stores what clients publish (signed bundles, one-time public prekeys),
//! hands out a bundle with one one-time prekey attached, and keeps envelopes
//! until their recipient acknowledges them. It never holds a secret key and
//! never sees a plaintext: it could not decrypt if it wanted to.
//!
//! What this example leaves out, and a real server needs: authenticating
//! users (here anyone may register any free name, read anyone's mailbox or
//! drain their one-time prekeys), TLS, rate limits, and persistence.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use cliquet::{PreKeyBundle, PublicKey, SignedKemPreKey};

use crate::proto::{Envelope, Request, Response, read_frame, write_frame};

/// At most this many one-time prekeys per user, and envelopes per mailbox.
const MAX_PREKEYS: usize = 1000;
const MAX_MAILBOX: usize = 10_000;
/// At most this many envelopes per `Fetch` answer.
const MAX_FETCH: usize = 100;
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
    /// Every frame received and sent, when recording is on (for tests).
    recorded: Option<Mutex<Vec<Vec<u8>>>>,
}

#[derive(Debug, Default)]
struct User {
    bundle: Vec<u8>,
    identity: [u8; 32],
    prekeys: VecDeque<(u32, [u8; 32])>,
    /// Signed one-time KEM prekeys, each handed out once; the registered
    /// bundle carries the last-resort one.
    kem_prekeys: VecDeque<Vec<u8>>,
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
        Request::Register { user, bundle } => {
            if !valid_name(&user) {
                return Response::Refused("a name is 1 to 32 of a-z, 0-9, - and _".into());
            }
            // The relay checks the signature too, so it never hands out a
            // bundle a client would refuse; clients still verify themselves.
            let verified = PreKeyBundle::decode(&bundle).and_then(|b| b.verify());
            let Ok(verified) = verified else {
                return Response::Refused("the bundle does not verify".into());
            };
            let identity = verified.identity_key().to_bytes();
            let entry = directory.entry(user).or_default();
            if entry.identity != identity {
                // A new identity under this name: its old prekeys are useless.
                entry.prekeys.clear();
                entry.kem_prekeys.clear();
                entry.identity = identity;
            }
            entry.bundle = bundle;
            Response::Ok
        }
        Request::PublishPreKeys { user, keys } => match directory.get_mut(&user) {
            Some(entry) if entry.prekeys.len() + keys.len() <= MAX_PREKEYS => {
                // A client that died before recording an upload sends the
                // same keys again: keep one copy of each id.
                for (id, key) in keys {
                    if !entry.prekeys.iter().any(|(held, _)| *held == id) {
                        entry.prekeys.push_back((id, key));
                    }
                }
                Response::Ok
            }
            Some(_) => Response::Refused("too many one-time prekeys".into()),
            None => Response::Refused(format!("no user {user:?}")),
        },
        Request::FetchBundle { user } => {
            let Some(entry) = directory.get_mut(&user) else {
                return Response::Refused(format!("no user {user:?}"));
            };
            let Ok(bundle) = PreKeyBundle::decode(&entry.bundle) else {
                return Response::Refused("stored bundle unreadable".into());
            };
            // Each one-time prekey, and each one-time KEM prekey, goes to one
            // fetcher only; without one, the bundle keeps its last-resort
            // KEM prekey.
            let bundle = match entry.prekeys.pop_front() {
                Some((id, key)) => bundle.with_one_time_prekey(id, PublicKey::from_bytes(key)),
                None => bundle,
            };
            let one_time_kem = entry
                .kem_prekeys
                .pop_front()
                .and_then(|bytes| SignedKemPreKey::decode(&bytes).ok());
            let bundle = match one_time_kem {
                Some(key) => bundle.with_kem_prekey(key),
                None => bundle,
            };
            Response::Bundle(bundle.encode())
        }
        Request::PublishKemPreKeys { user, keys } => match directory.get_mut(&user) {
            Some(entry) if entry.kem_prekeys.len() + keys.len() <= MAX_PREKEYS => {
                for key in keys {
                    // Only what a bundle can carry, and each key once.
                    if SignedKemPreKey::decode(&key).is_ok() && !entry.kem_prekeys.contains(&key) {
                        entry.kem_prekeys.push_back(key);
                    }
                }
                Response::Ok
            }
            Some(_) => Response::Refused("too many one-time KEM prekeys".into()),
            None => Response::Refused(format!("no user {user:?}")),
        },
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

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
