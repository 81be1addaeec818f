//! The relay protocol shared by `chat_relay` and `chat_client`.
//!
//! Every frame on the TCP stream is `u32be(len) || payload`, at most
//! [`MAX_FRAME`] bytes. A client sends one [`Request`] per frame and reads one
//! [`Response`]. Fields are encoded as: strings `u16be(len) || utf8`, byte
//! strings `u32be(len) || bytes`, lists `u32be(count) || items`.
//!
//! Nothing here is secret: the relay handles bundles (public keys), one-time
//! public prekeys, and envelopes whose payload is a cliquet message.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 1 << 20;

/// The id a sender gives a message; the receiver records it so that a
/// message the relay delivers again is not processed twice.
pub type MessageId = [u8; 16];

/// A message in a mailbox: who sent it (as the relay was told: the
/// cryptography, not this field, says who really wrote it), its id, and the
/// encoded cliquet message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The sender, as the relay was told.
    pub from: String,
    /// The sender's id for the message.
    pub id: MessageId,
    /// The encoded cliquet message.
    pub payload: Vec<u8>,
}

/// What a client asks the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Create or update `user` with a `cliquet::Publication` (its wire
    /// bytes): the signed part, the last-resort KEM prekey and one-time
    /// keys of both kinds, which the relay hands out once each.
    Publish {
        /// The user's name.
        user: String,
        /// `Publication::to_bytes`.
        publication: Vec<u8>,
    },
    /// `user`'s bundle, with one of their one-time prekeys and one-time KEM
    /// prekeys if any is left (the relay hands each out once).
    FetchBundle {
        /// The name of the user whose bundle is asked for.
        user: String,
    },
    /// Put an envelope in `to`'s mailbox.
    Send {
        /// The recipient's name.
        to: String,
        /// The message.
        envelope: Envelope,
    },
    /// Put one envelope in the mailbox of each of `to` (a group message:
    /// uploaded once, fanned out by the relay).
    SendMany {
        /// The recipients' names.
        to: Vec<String>,
        /// The message.
        envelope: Envelope,
    },
    /// The messages waiting in `user`'s mailbox (they stay until acknowledged).
    Fetch {
        /// The mailbox owner's name.
        user: String,
    },
    /// Remove these messages from `user`'s mailbox.
    Ack {
        /// The mailbox owner's name.
        user: String,
        /// The ids of the messages to remove.
        ids: Vec<MessageId>,
    },
    /// Store `user`'s device list (`VerifiedDeviceList::encode`), signed by
    /// their user key. The relay keeps the latest upload per user and checks
    /// nothing: it is untrusted, and every reader verifies the list.
    PublishDeviceList {
        /// The person's name (without a device id).
        user: String,
        /// The list's wire bytes.
        list: Vec<u8>,
    },
    /// The device list last stored for `user`.
    FetchDeviceList {
        /// The person's name (without a device id).
        user: String,
    },
}

/// What the relay answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// Done.
    Ok,
    /// The bundle asked for: its wire bytes.
    Bundle(Vec<u8>),
    /// The messages waiting in the mailbox.
    Mail(Vec<Envelope>),
    /// The request was refused, and why.
    Refused(String),
    /// The device list asked for: its wire bytes.
    DeviceList(Vec<u8>),
}

impl Request {
    /// The frame payload of this request.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::new();
        match self {
            Self::Publish { user, publication } => {
                w.push(1);
                put_str(&mut w, user);
                put_bytes(&mut w, publication);
            }
            Self::FetchBundle { user } => {
                w.push(3);
                put_str(&mut w, user);
            }
            Self::Send { to, envelope } => {
                w.push(4);
                put_str(&mut w, to);
                put_envelope(&mut w, envelope);
            }
            Self::Fetch { user } => {
                w.push(5);
                put_str(&mut w, user);
            }
            Self::Ack { user, ids } => {
                w.push(6);
                put_str(&mut w, user);
                put_len(&mut w, ids.len());
                ids.iter().for_each(|id| w.extend_from_slice(id));
            }
            Self::SendMany { to, envelope } => {
                w.push(7);
                put_len(&mut w, to.len());
                to.iter().for_each(|user| put_str(&mut w, user));
                put_envelope(&mut w, envelope);
            }
            Self::PublishDeviceList { user, list } => {
                w.push(8);
                put_str(&mut w, user);
                put_bytes(&mut w, list);
            }
            Self::FetchDeviceList { user } => {
                w.push(9);
                put_str(&mut w, user);
            }
        }
        w
    }

    /// A request from its frame payload; an error if it is not exactly one.
    pub fn decode(bytes: &[u8]) -> io::Result<Self> {
        let mut r = Reader(bytes);
        let request = match r.u8()? {
            1 => Self::Publish {
                user: r.string()?,
                publication: r.bytes()?,
            },
            3 => Self::FetchBundle { user: r.string()? },
            4 => Self::Send {
                to: r.string()?,
                envelope: r.envelope()?,
            },
            5 => Self::Fetch { user: r.string()? },
            6 => {
                let user = r.string()?;
                let ids = r.list(Reader::array)?;
                Self::Ack { user, ids }
            }
            7 => Self::SendMany {
                to: r.list(Reader::string)?,
                envelope: r.envelope()?,
            },
            8 => Self::PublishDeviceList {
                user: r.string()?,
                list: r.bytes()?,
            },
            9 => Self::FetchDeviceList { user: r.string()? },
            _ => return Err(invalid("unknown request")),
        };
        r.finish()?;
        Ok(request)
    }
}

impl Response {
    /// The frame payload of this response.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::new();
        match self {
            Self::Ok => w.push(0),
            Self::Bundle(bundle) => {
                w.push(1);
                put_bytes(&mut w, bundle);
            }
            Self::Mail(envelopes) => {
                w.push(2);
                put_len(&mut w, envelopes.len());
                envelopes.iter().for_each(|e| put_envelope(&mut w, e));
            }
            Self::Refused(reason) => {
                w.push(3);
                put_str(&mut w, reason);
            }
            Self::DeviceList(list) => {
                w.push(4);
                put_bytes(&mut w, list);
            }
        }
        w
    }

    /// A response from its frame payload; an error if it is not exactly one.
    pub fn decode(bytes: &[u8]) -> io::Result<Self> {
        let mut r = Reader(bytes);
        let response = match r.u8()? {
            0 => Self::Ok,
            1 => Self::Bundle(r.bytes()?),
            2 => Self::Mail(r.list(Reader::envelope)?),
            3 => Self::Refused(r.string()?),
            4 => Self::DeviceList(r.bytes()?),
            _ => return Err(invalid("unknown response")),
        };
        r.finish()?;
        Ok(response)
    }
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|_| payload.len() <= MAX_FRAME)
        .ok_or_else(|| invalid("frame too large"))?;
    // One write per frame: a header written on its own would wait for the
    // peer's delayed ACK (Nagle's algorithm).
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)?;
    w.flush()
}

/// Reads one frame from a stream that has a read timeout set. Each time the
/// stream times out, `keep_waiting` decides whether to go on waiting; `Ok(None)`
/// means the peer closed the stream cleanly between frames.
pub fn read_frame(
    r: &mut impl Read,
    keep_waiting: &mut dyn FnMut() -> bool,
) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0; 4];
    if !fill(r, &mut len, true, keep_waiting)? {
        return Ok(None);
    }
    let len = usize::try_from(u32::from_be_bytes(len)).map_err(|_| invalid("frame length"))?;
    if len > MAX_FRAME {
        return Err(invalid("frame too large"));
    }
    let mut payload = vec![0; len];
    fill(r, &mut payload, false, keep_waiting)?;
    Ok(Some(payload))
}

/// A `keep_waiting` for [`read_frame`] that gives up at `deadline`.
pub fn until(deadline: Instant) -> impl FnMut() -> bool {
    move || Instant::now() < deadline
}

/// How long a client waits for any one answer of the relay.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Fills `buf`, tolerating read timeouts (a plain `read_exact` would lose the
/// bytes it had read when the timeout hits). Returns `false` if the stream
/// ended before the first byte and `eof_ok`.
fn fill(
    r: &mut impl Read,
    buf: &mut [u8],
    eof_ok: bool,
    keep_waiting: &mut dyn FnMut() -> bool,
) -> io::Result<bool> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|rest| !rest.is_empty()) {
        match r.read(rest) {
            Ok(0) if done == 0 && eof_ok => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if !keep_waiting() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn put_len(w: &mut Vec<u8>, len: usize) {
    // Lengths are bounded by MAX_FRAME when the frame is written.
    w.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_bytes(w: &mut Vec<u8>, bytes: &[u8]) {
    put_len(w, bytes.len());
    w.extend_from_slice(bytes);
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    // Names and reasons are short; a longer one is cut at a char boundary.
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = s.get(..end).unwrap_or_default();
    w.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
    w.extend_from_slice(s.as_bytes());
}

fn put_envelope(w: &mut Vec<u8>, e: &Envelope) {
    put_str(w, &e.from);
    w.extend_from_slice(&e.id);
    put_bytes(w, &e.payload);
}

/// A bounds-checked cursor over untrusted bytes.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        if n > self.0.len() {
            return Err(invalid("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| invalid("truncated"))
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.u32()?).map_err(|_| invalid("length"))?;
        Ok(self.take(len)?.to_vec())
    }

    fn string(&mut self) -> io::Result<String> {
        let len = u16::from_be_bytes(self.array()?);
        let bytes = self.take(usize::from(len))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| invalid("not UTF-8"))
    }

    fn envelope(&mut self) -> io::Result<Envelope> {
        Ok(Envelope {
            from: self.string()?,
            id: self.array()?,
            payload: self.bytes()?,
        })
    }

    /// A counted list; the count cannot make us allocate more than the
    /// input could hold, since each item reads at least one byte.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> io::Result<T>) -> io::Result<Vec<T>> {
        let count = usize::try_from(self.u32()?).map_err(|_| invalid("length"))?;
        let mut items = Vec::with_capacity(count.min(self.0.len()));
        for _ in 0..count {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn finish(&self) -> io::Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(invalid("trailing bytes"))
        }
    }
}
