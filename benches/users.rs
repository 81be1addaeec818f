//! People with several devices (SPEC §14):
//!
//! - `users/verify_list/32_devices` vs `users/floor_verify/33_strict`: decoding
//!   and verifying a 32-device list (33 key decompressions, one list
//!   signature and 32 link signatures, all strict) against 33 bare
//!   `verify_strict` calls on already decompressed keys;
//! - `users/encrypt_person/5_devices/1KiB` vs `users/floor_encrypt/5_sessions/1KiB`:
//!   encrypting 1 KiB for a person with 5 devices against 5 `Session::encrypt`
//!   calls on established sessions;
//! - the stored size of a person record with 5 devices (printed to stderr
//!   before the run; sessions after one round trip each).
//!
//! ```text
//! cargo bench --bench users -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark setup: a failure is a broken benchmark"
)]

use core::hint::black_box;

use cliquet::{
    Account, DeviceListBuilder, PersonRecord, Session, SessionConfig, SessionRecord, UserKeyPair,
    VerifiedDeviceList,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn list_of(n: u32, rng: &mut ChaCha20Rng) -> (UserKeyPair, Vec<Account>, VerifiedDeviceList) {
    let user = UserKeyPair::generate(rng);
    let uk = *user.public_key();
    let accounts: Vec<Account> = (0..n).map(|_| Account::new(rng)).collect();
    let mut builder = DeviceListBuilder::new(1);
    for (id, account) in (1..).zip(&accounts) {
        builder = builder.device(id, *account.identity_key(), account.link_signature(&uk, id));
    }
    let list = builder.sign(&user).expect("a valid list");
    (user, accounts, list)
}

fn verify(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::from_seed([31; 32]);
    let (_, _, list) = list_of(32, &mut rng);
    let bytes = list.encode();
    let mut g = c.benchmark_group("users");
    g.bench_function("verify_list/32_devices", |b| {
        b.iter(|| VerifiedDeviceList::decode(black_box(&bytes)).expect("verifies"))
    });
    let keys: Vec<SigningKey> = (0..33u8)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let message = [7u8; 100];
    let signed: Vec<_> = keys
        .iter()
        .map(|k| (k.verifying_key(), k.sign(&message)))
        .collect();
    g.bench_function("floor_verify/33_strict", |b| {
        b.iter(|| {
            for (key, signature) in &signed {
                key.verify_strict(black_box(&message), signature)
                    .expect("verifies");
            }
        })
    });
    g.finish();
}

/// Alice's record of a person with five devices, each session after one
/// round trip and one more message (so that the next encrypt is a chain
/// step, not a ratchet step); and five bare sessions in the same state.
fn person_with_five(rng: &mut ChaCha20Rng) -> (PersonRecord, Vec<Session>) {
    let config = SessionConfig::default();
    let mut alice = Account::new(rng);
    let (_, mut accounts, list) = list_of(5, rng);
    let mut record = PersonRecord::new();
    record.accept_list(&list).expect("first list");
    for (id, account) in (1..).zip(&accounts) {
        let bundle = account.bundle(None).expect("bundle").verify().expect("ok");
        record
            .start_session(id, alice.identity(), &bundle, config, rng)
            .expect("session");
    }
    let sent = record.encrypt(b"hello", rng).expect("encrypts").messages;
    for (m, account) in sent.iter().zip(&mut accounts) {
        let mut on_device = SessionRecord::new();
        on_device
            .decrypt(account, &m.message, config)
            .expect("decrypts");
        let reply = on_device.encrypt(b"hi", rng).expect("reply");
        record
            .decrypt(&mut alice, m.device_id, &reply, config)
            .expect("reply decrypts");
    }
    record.encrypt(b"again", rng).expect("encrypts");
    let sessions = accounts
        .iter_mut()
        .map(|account| {
            let bundle = account.bundle(None).expect("bundle").verify().expect("ok");
            let mut session =
                Session::initiate(alice.identity(), &bundle, config, rng).expect("session");
            let first = session.encrypt(b"hello", rng).expect("encrypts");
            let mut on_device = SessionRecord::new();
            on_device
                .decrypt(account, &first, config)
                .expect("decrypts");
            let reply = on_device.encrypt(b"hi", rng).expect("reply");
            session.decrypt(&reply).expect("reply decrypts");
            session.encrypt(b"again", rng).expect("encrypts");
            session
        })
        .collect();
    (record, sessions)
}

fn encrypt(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::from_seed([32; 32]);
    let (record, mut sessions) = person_with_five(&mut rng);
    let stored = record.to_stored();
    eprintln!(
        "users: stored person record with 5 devices: {} bytes (sealed: {} bytes)",
        stored.len(),
        stored.len() + 2 + 12 + 16
    );
    let plaintext = [0u8; 1024];
    let mut g = c.benchmark_group("users");
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("encrypt_person/5_devices/1KiB", |b| {
        b.iter_batched(
            || PersonRecord::from_stored(&stored).expect("loads"),
            |mut record| {
                record
                    .encrypt(black_box(&plaintext), &mut rng)
                    .expect("encrypts")
            },
            BatchSize::SmallInput,
        )
    });
    let mut floor_rng = ChaCha20Rng::from_seed([33; 32]);
    g.bench_function("floor_encrypt/5_sessions/1KiB", |b| {
        b.iter(|| {
            for session in &mut sessions {
                black_box(
                    session
                        .encrypt(black_box(&plaintext), &mut floor_rng)
                        .expect("ok"),
                );
            }
        })
    });
    g.finish();
}

criterion_group!(benches, verify, encrypt);
criterion_main!(benches);
