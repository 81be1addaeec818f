//! No heap block freed by the library holds a root, chain or message key,
//! pairwise or group, nor a one-time prekey or KEM prekey secret of an
//! account. A spying allocator scans every block before it is freed (or moved
//! by a reallocation) for the secrets it is told to watch.
//!
//! The library itself forbids `unsafe`; this test needs it to implement
//! `GlobalAlloc`, and is a test binary of its own so that the allocator
//! watches nothing else.
#![allow(unsafe_code, reason = "a spying allocator implements `GlobalAlloc`")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cliquet::{
    Account, AnyMessage, Directory, GroupSession, IdentityKeyPair, KemPreKey, KemPreKeyKind,
    OneTimePreKey, Session, SessionConfig,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::Rng;
use rand_chacha::rand_core::SeedableRng;

/// At most this many secrets are watched.
const MAX_WATCHED: usize = 512;

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
static FIRST: AtomicUsize = AtomicUsize::new(0);
/// The tests share the watch list and the hit count: one runs at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Watches `secrets` from now on, with the hit count reset.
fn watch(secrets: &[[u8; 32]]) {
    assert!(secrets.len() <= MAX_WATCHED);
    let mut watched = WATCHED.lock().expect("lock");
    watched.secrets[..secrets.len()].copy_from_slice(secrets);
    watched.len = secrets.len();
    HITS.store(0, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
}

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
        if found > 0 {
            for w in block.windows(32) {
                if let Some(i) = secrets.iter().position(|s| s == w) {
                    FIRST.store(i, Ordering::SeqCst);
                }
            }
        }
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

/// The root, chain and skipped message keys of a stored session, and with
/// header encryption its header keys (SPEC.md §11, format version 3).
fn secrets_of(stored: &[u8], out: &mut Vec<[u8; 32]>) {
    let take = |at: &mut usize, n: usize| {
        let s = &stored[*at..*at + n];
        *at += n;
        s
    };
    let key = |s: &[u8]| <[u8; 32]>::try_from(s).expect("32 bytes");
    let mut at = 2;
    let flags = take(&mut at, 1)[0];
    let header_encryption = flags & 0x04 != 0;
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
    if header_encryption {
        // HKs, [HKr,] NHKs, NHKr.
        let keys = 3 + usize::from(flags & 0x80 != 0);
        for _ in 0..keys {
            out.push(key(take(&mut at, 32)));
        }
    }
    let chains = u32::from_be_bytes(take(&mut at, 4).try_into().expect("u32"));
    for _ in 0..chains {
        take(&mut at, 32);
        if header_encryption {
            out.push(key(take(&mut at, 32))); // the chain's header key
        }
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
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    let before = b.to_stored();
    secrets_of(&before, &mut secrets);
    let mut probe = Session::from_stored(&before).expect("loads");
    probe.decrypt(&late).expect("decrypts");
    secrets_of(&probe.to_stored(), &mut secrets);
    drop(probe);
    drop(before);
    assert!(secrets.len() >= 6);

    watch(&secrets);
    let stored = b.to_stored();
    drop(stored);
    let sealed = b.seal(&[7; 32], b"bob", &mut rng).expect("seal");
    drop(sealed);
    let plaintext = b.decrypt(&late).expect("decrypt stores skipped keys");
    let stored = b.to_stored();
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

/// With header encryption, the skipped-key store keeps a header key per
/// chain. Fourteen chains with a skipped key each, then used up one by one:
/// the store's map grows and shrinks its nodes, and no freed block may
/// hold a header key (nor a message key).
#[test]
fn s6_no_freed_block_holds_a_header_key() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let config = SessionConfig::default().with_header_encryption(true);
    let cliquet_testkit::Pair {
        mut rng,
        mut a,
        mut b,
        ..
    } = cliquet_testkit::established(config, 9);
    let mut held = Vec::new();
    // Reserved up front: a growing list of secrets would leave copies of
    // them in the blocks it frees, which the allocator may hand to the
    // library later.
    let mut secrets = Vec::with_capacity(4096);
    for _ in 0..14 {
        let reply = b.encrypt(b"reply", &mut rng).expect("encrypt");
        a.decrypt(&reply).expect("decrypt");
        held.push(a.encrypt(b"held", &mut rng).expect("encrypt"));
        let sent = a.encrypt(b"sent", &mut rng).expect("encrypt");
        b.decrypt(&sent).expect("decrypt");
        secrets_of(&b.to_stored(), &mut secrets);
    }
    assert_eq!(b.skipped_keys(), 14);
    secrets.sort_unstable();
    secrets.dedup();
    secrets.truncate(MAX_WATCHED);
    let stored = b.to_stored();
    for (i, s) in secrets.iter().enumerate() {
        if let Some(p) = stored.windows(32).position(|w| w == s) {
            eprintln!("secret {i} at offset {p} of {}", stored.len());
        } else {
            eprintln!("secret {i} not in final");
        }
    }
    drop(stored);

    watch(&secrets);
    for m in &held {
        assert_eq!(b.decrypt(m).expect("a skipped key"), b"held");
    }
    drop(b);
    WATCHING.store(false, Ordering::SeqCst);
    assert_eq!(
        HITS.load(Ordering::SeqCst),
        0,
        "a freed heap block held a header or message key {}",
        FIRST.load(Ordering::SeqCst)
    );
}

/// Reads a big-endian `u32` at `*at` and moves past it.
fn u32_at(stored: &[u8], at: &mut usize) -> u32 {
    let v = u32::from_be_bytes(stored[*at..*at + 4].try_into().expect("u32"));
    *at += 4;
    v
}

/// The chain keys and skipped message keys of a stored group state
/// (SPEC.md §11, format version 4): the own chain's `CK`, each received chain's `CK` and
/// its skipped `MK`s.
fn group_secrets_of(stored: &[u8], out: &mut Vec<[u8; 32]>) {
    let key = |at: &mut usize| {
        let k = <[u8; 32]>::try_from(&stored[*at..*at + 32]).expect("32 bytes");
        *at += 32;
        k
    };
    let mut at = 2 + 16 + 8;
    at += 1;
    if stored[at - 1] == 1 {
        at += 8;
        out.push(key(&mut at)); // own CK
        at += 32;
    }
    for _ in 0..u32_at(stored, &mut at) {
        // IK, then (format version 4) the flag of the highest dropped id.
        at += 33;
        if stored[at - 1] == 1 {
            at += 4;
        }
        for _ in 0..u32_at(stored, &mut at) {
            at += 8;
            out.push(key(&mut at)); // CK
            at += 32;
            for _ in 0..u32_at(stored, &mut at) {
                at += 4;
                out.push(key(&mut at)); // MK
            }
        }
    }
    assert_eq!(at, stored.len());
}

/// `stored` with its `max_skipped_keys` raised, so that a copy loaded from
/// it keeps every key the original evicts.
fn keeping_every_key(stored: &[u8]) -> Vec<u8> {
    let mut copy = stored.to_vec();
    copy[2 + 16 + 4..2 + 16 + 8].copy_from_slice(&1000u32.to_be_bytes());
    copy
}

#[test]
fn s10_no_freed_block_holds_a_group_chain_or_message_key() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let group_id = [5; 16];
    let sender = *IdentityKeyPair::generate(&mut rng).public_key();
    let config = SessionConfig::new(4, 4).expect("config");
    let mut me = GroupSession::new(group_id, config);
    me.rotate(&mut rng).expect("own chain");
    let mut them = GroupSession::new(group_id, SessionConfig::default());
    // Six chains from one sender: the fifth grows the chain list, the sixth
    // drops the first.
    let distributions: Vec<_> = (0..6)
        .map(|_| them.rotate(&mut rng).expect("rotate"))
        .collect();
    let messages: Vec<_> = (0..9)
        .map(|_| them.encrypt(b"to the group", &mut rng).expect("encrypt"))
        .collect();

    // Every key the state will hold: each chain's first CK, then, from a
    // copy that evicts nothing, the keys after the decrypts below (decrypt
    // draws nothing, so the copy computes the same keys).
    let mut secrets = Vec::new();
    for d in &distributions {
        secrets.push(<[u8; 32]>::try_from(&d.encode()[25..57]).expect("CK"));
    }
    let mut probe = GroupSession::new(group_id, config);
    for d in &distributions {
        probe.receive_distribution(&sender, d).expect("receive");
    }
    let probe_bytes = keeping_every_key(&probe.to_stored());
    let mut probe = GroupSession::from_stored(&probe_bytes).expect("loads");
    probe.decrypt(&sender, &messages[3]).expect("skips three");
    group_secrets_of(&probe.to_stored(), &mut secrets);
    probe
        .decrypt(&sender, &messages[8])
        .expect("skips four more");
    group_secrets_of(&probe.to_stored(), &mut secrets);
    group_secrets_of(&me.to_stored(), &mut secrets);
    drop(probe);
    drop(probe_bytes);
    assert!(secrets.len() >= 6 + 7 + 2);

    watch(&secrets);
    for d in &distributions {
        me.receive_distribution(&sender, d).expect("receive");
    }
    drop(me.to_stored());
    let skipping = me
        .decrypt(&sender, &messages[3])
        .expect("stores skipped keys");
    let next = me.decrypt(&sender, &messages[8]).expect("evicts three");
    let used = me
        .decrypt(&sender, &messages[6])
        .expect("a skipped key is used");
    let evicted = me.decrypt(&sender, &messages[0]);
    drop(me.to_stored());
    let sealed = me.seal(&[7; 32], b"group", &mut rng).expect("seal");
    let mut loaded = GroupSession::open(&sealed, &[7; 32], b"group").expect("opens");
    let again = loaded.decrypt(&sender, &messages[5]).expect("a stored key");
    drop(loaded);
    drop(me);
    WATCHING.store(false, Ordering::SeqCst);

    assert_eq!(
        [skipping, next, used, again],
        [&b"to the group"[..]; 4].map(<[u8]>::to_vec)
    );
    assert_eq!(evicted, Err(cliquet::Error::Duplicate));
    assert_eq!(
        HITS.load(Ordering::SeqCst),
        0,
        "a freed heap block held a group chain or message key"
    );
}

/// An account's one-time prekey secrets and KEM prekey seeds (both halves,
/// `d` and `z`) never stay behind in a freed block: not when a session's
/// first message consumes them, not when they are removed, not when the
/// account's maps grow, shrink or are stored.
#[test]
fn s7_no_freed_block_holds_a_consumed_or_removed_prekey_secret() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut rng = ChaCha20Rng::from_seed([10; 32]);
    let config = SessionConfig::default();
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let mut secrets: Vec<[u8; 32]> = Vec::with_capacity(MAX_WATCHED);
    let one_time: Vec<[u8; 32]> = (0..32)
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        })
        .collect();
    let kem_seeds: Vec<[u8; 64]> = (0..8)
        .map(|_| {
            let mut s = [0u8; 64];
            rng.fill_bytes(&mut s);
            s
        })
        .collect();
    secrets.extend_from_slice(&one_time);
    for seed in &kem_seeds {
        secrets.push(seed[..32].try_into().expect("d"));
        secrets.push(seed[32..].try_into().expect("z"));
    }

    watch(&secrets);
    // Enough keys for the maps to split nodes as they grow.
    for (id, secret) in (1..).zip(&one_time) {
        let key = OneTimePreKey::from_secret_bytes(id, secret);
        bob.add_one_time_prekey(key).expect("new id");
    }
    for (id, seed) in (10..).zip(&kem_seeds) {
        let key = KemPreKey::from_secret_bytes(id, KemPreKeyKind::OneTime, seed);
        bob.add_kem_prekey(key).expect("new id");
    }
    drop(bob.to_stored());
    let mut directory = Directory::new();
    directory.upload(&bob.publication()).expect("verifies");
    // Sessions consume a one-time prekey and a one-time KEM prekey each.
    for _ in 0..5 {
        let bundle = directory
            .take_bundle()
            .expect("uploaded")
            .verify()
            .expect("verifies");
        let mut a =
            Session::initiate(alice.identity(), &bundle, config, &mut rng).expect("initiate");
        let AnyMessage::PreKey(first) = a.encrypt(b"hi", &mut rng).expect("encrypt") else {
            panic!("a prekey message")
        };
        bob.accept(&first, config).expect("accept");
    }
    assert_eq!(bob.one_time_kem_prekey_count(), 3);
    for id in (6..32).step_by(4) {
        assert!(bob.remove_one_time_prekey(id));
    }
    drop(bob.to_stored());
    let sealed = bob.seal(&[7; 32], b"bob", &mut rng).expect("seal");
    drop(Account::open(&sealed, &[7; 32], b"bob").expect("opens"));
    drop(bob);
    WATCHING.store(false, Ordering::SeqCst);

    assert_eq!(
        HITS.load(Ordering::SeqCst),
        0,
        "a freed heap block held a one-time prekey or KEM prekey secret"
    );
    drop(secrets);
}
