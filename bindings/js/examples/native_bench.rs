//! The same calls as `bench/bench.js` and the Python bench, in Rust
//! without a binding: `cargo run --release -p cliquet-js --example native_bench`.

use cliquet::rand_core::UnwrapErr;
use cliquet::{Account, AnyMessage, PreKeyBundle, SessionConfig, SessionRecord};
use std::time::Instant;

fn ratchet(wire: &[u8]) -> cliquet::RatchetMessage {
    match AnyMessage::decode(wire).expect("a message") {
        AnyMessage::Ratchet(m) => m,
        _ => panic!("a ratchet message"),
    }
}

fn main() -> Result<(), cliquet::Error> {
    let mut rng = UnwrapErr(getrandom::SysRng);
    let config = SessionConfig::default();
    let alice = Account::new(&mut rng);
    let mut bob = Account::new(&mut rng);
    let (mut to_bob, mut to_alice) = (SessionRecord::new(), SessionRecord::new());
    let bundle = PreKeyBundle::decode(&bob.bundle(None)?.encode())?.verify()?;
    to_bob.start_new(alice.identity(), &bundle, config, &mut rng)?;
    let first = to_bob.encrypt(&[0], &mut rng)?.into_bytes();
    to_alice.decrypt(&mut bob, &AnyMessage::decode(&first)?, config)?;
    let reply = to_alice.encrypt(&[0], &mut rng)?.into_bytes();
    to_bob.decrypt_ratchet(&ratchet(&reply))?;
    let payload = [0x61u8; 100];

    // As the bindings do: bytes out of encrypt, decoded again to decrypt.
    let mut one_way = |_: u32| -> Result<(), cliquet::Error> {
        let wire = to_bob.encrypt(&payload, &mut rng)?.into_bytes();
        to_alice.decrypt_ratchet(&ratchet(&wire))?;
        Ok(())
    };
    let n = 5000;
    for i in 0..200 {
        one_way(i)?;
    }
    let t = Instant::now();
    for i in 0..n {
        one_way(i)?;
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("rust one-direction encrypt+decrypt 100 B: {us:.1} µs");

    let n = 1000;
    let t = Instant::now();
    for i in 0..n {
        let (from, to) = if i % 2 == 1 {
            (&mut to_alice, &mut to_bob)
        } else {
            (&mut to_bob, &mut to_alice)
        };
        let wire = from.encrypt(&payload, &mut rng)?.into_bytes();
        to.decrypt_ratchet(&ratchet(&wire))?;
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("rust ping-pong encrypt+decrypt 100 B: {us:.1} µs");
    Ok(())
}
