"""Encrypt + decrypt of 100 bytes through the Python binding, as
bindings/js/bench/bench.js does. Prints microseconds per pair."""

import time

import cliquet as c

alice, bob = c.Account(), c.Account()
to_bob, to_alice = c.SessionRecord(), c.SessionRecord()
to_bob.start_new(alice, c.PreKeyBundle.decode(bob.bundle()).verify())
to_alice.decrypt(bob, to_bob.encrypt(b"\0"))
to_bob.decrypt_ratchet(to_alice.encrypt(b"\0"))
payload = b"a" * 100


def bench(label, n, f):
    for i in range(min(n, 200)):
        f(i)
    t0 = time.perf_counter()
    for i in range(n):
        f(i)
    print(f"{label}: {(time.perf_counter() - t0) / n * 1e6:.1f} µs")


bench("python one-direction encrypt+decrypt 100 B", 5000,
      lambda i: to_alice.decrypt_ratchet(to_bob.encrypt(payload)))


def ping_pong(i):
    if i % 2:
        to_bob.decrypt_ratchet(to_alice.encrypt(payload))
    else:
        to_alice.decrypt_ratchet(to_bob.encrypt(payload))


bench("python ping-pong encrypt+decrypt 100 B", 1000, ping_pong)
