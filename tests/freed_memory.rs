//! No heap block freed by the library holds a root,
//! chain or message key. A spying allocator scans every block before it is
//! freed (or moved by a reallocation) for the secrets it is told to watch.
//!
//! The library itself forbids `unsafe`; this test needs it to implement
//! `GlobalAlloc`, and is a test binary of its own so that the allocator
//! watches nothing else.
#![allow(unsafe_code, reason = "a spying allocator implements `GlobalAlloc`")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cliquet::{Account, AnyMessage, Session, SessionConfig};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// At most this many secrets are watched.
const MAX_WATCHED: usize = 64;

struct Watched {
    secrets: [[u8; 32]; MAX_WATCHED],
    len: usize,
}

static WATCHED: Mutex<Watched> = Mutex::new(Watched {
    secrets: [[0; 32]; MAX_WATCHED],
    len: 0,
});
static WATCHING: AtomicBool = AtomicBool::new(false);
static HITS: AtomicUsize = AtomicUsize::new(0);

struct Spy;

impl Spy {
    /// Counts the watched secrets that `block` still holds.
    fn scan(block: &[u8]) {
        if !WATCHING.load(Ordering::SeqCst) || block.len() < 32 {
            return;
        }
        let Ok(watched) = WATCHED.try_lock() else {
            return;
        };
        let secrets = &watched.secrets[..watched.len];
        let found = block
            .windows(32)
            .filter(|window| secrets.iter().any(|s| s == *window))
            .count();
        HITS.fetch_add(found, Ordering::SeqCst);
    }
}

// SAFETY: every call is forwarded to the system allocator with the same
// arguments; before a block is freed or moved, it is only read, within its
// own layout.
unsafe impl GlobalAlloc for Spy {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation may move the block and free the old one.
        Self::scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Spy = Spy;

/// The root, chain and skipped message keys of a stored plain session
/// (SPEC.md §11, format version 3).
fn secrets_of(stored: &[u8], out: &mut Vec<[u8; 32]>) {
    let take = |at: &mut usize, n: usize| {
        let s = &stored[*at..*at + n];
        *at += n;
        s
    };
    let key = |s: &[u8]| <[u8; 32]>::try_from(s).expect("32 bytes");
    let mut at = 2;
    let flags = take(&mut at, 1)[0];
    assert_eq!(flags & 0x04, 0, "a plain session");
    take(&mut at, 8 + 64 + 32 + 4);
    if flags & 0x20 != 0 {
        take(&mut at, 4);
    }
    // kem (1) [|| kpk_id [|| CT while an initiator sends prekey messages]]
    if take(&mut at, 1)[0] == 1 {
        take(&mut at, 4);
        if flags & 0x03 == 0x01 {
            take(&mut at, 1568);
        }
    }
    out.push(key(take(&mut at, 32))); // RK
    if flags & 0x08 != 0 {
        out.push(key(take(&mut at, 32))); // DHs
        out.push(key(take(&mut at, 32))); // CKs
        take(&mut at, 4);
    }
    if flags & 0x10 != 0 {
        take(&mut at, 32);
        out.push(key(take(&mut at, 32))); // CKr
        take(&mut at, 4);
    }
    take(&mut at, 4);
    let chains = u32::from_be_bytes(take(&mut at, 4).try_into().expect("u32"));
    for _ in 0..chains {
        take(&mut at, 32);
        let n = u32::from_be_bytes(take(&mut at, 4).try_into().expect("u32"));
        for _ in 0..n {
            take(&mut at, 4);
            out.push(key(take(&mut at, 32))); // MK
        }
    }
    assert_eq!(at, stored.len());
}

#[test]
fn s7_no_freed_block_holds_a_root_chain_or_message_key() {
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    let config = SessionConfig::default();
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let bundle = bob
        .bundle(None)
        .expect("bundle")
        .verify()
        .expect("verifies");
    let mut a = Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
    let AnyMessage::PreKey(first) = a.encrypt(b"first", &mut rng).expect("encrypt") else {
        panic!("a prekey message")
    };
    let mut b = bob.accept(&first, config).expect("accept").session;
    let reply = b.encrypt(b"reply", &mut rng).expect("encrypt");
    a.decrypt(&reply).expect("decrypt");
    // Bob will skip two messages of Alice's next chain and an old one.
    let _lost = b.encrypt(b"old chain", &mut rng).expect("encrypt");
    let skipped: Vec<AnyMessage> = (0..3)
        .map(|_| a.encrypt(b"skipped", &mut rng).expect("encrypt"))
        .collect();
    let late = a.encrypt(b"late", &mut rng).expect("encrypt");

    // What Bob's session holds before and after the decrypt (decrypt draws
    // nothing, so a copy computes the same keys).
    let mut secrets = Vec::new();
    let before = b.to_bytes();
    secrets_of(&before, &mut secrets);
    let mut probe = Session::from_bytes(&before).expect("loads");
    probe.decrypt(&late).expect("decrypts");
    secrets_of(&probe.to_bytes(), &mut secrets);
    drop(probe);
    drop(before);
    assert!(secrets.len() >= 6 && secrets.len() <= MAX_WATCHED);
    {
        let mut watched = WATCHED.lock().expect("lock");
        watched.secrets[..secrets.len()].copy_from_slice(&secrets);
        watched.len = secrets.len();
    }

    WATCHING.store(true, Ordering::SeqCst);
    let stored = b.to_bytes();
    drop(stored);
    let sealed = b.seal(&[7; 32], b"bob", &mut rng).expect("seal");
    drop(sealed);
    let plaintext = b.decrypt(&late).expect("decrypt stores skipped keys");
    let stored = b.to_bytes();
    drop(stored);
    let opened = b.decrypt(&skipped[0]).expect("a skipped key is used");
    WATCHING.store(false, Ordering::SeqCst);

    assert_eq!(
        (plaintext.as_slice(), opened.as_slice()),
        (&b"late"[..], &b"skipped"[..])
    );
    assert_eq!(b.skipped_keys(), 2);
    assert_eq!(
        HITS.load(Ordering::SeqCst),
        0,
        "a freed heap block held a root, chain or message key"
    );
}
