"""Two people in one process: Alice starts a session from Bob's bundle,
they talk, compare safety numbers, and store their state sealed."""

import os

import cliquet as c

alice, bob = c.Account(), c.Account()
[one_time] = bob.generate_one_time_prekeys(1)
published = bob.bundle(one_time)  # uploaded to your directory

alice_to_bob, bob_to_alice = c.SessionRecord(), c.SessionRecord()
alice_to_bob.start_new(alice, c.PreKeyBundle.decode(published).verify())
wire = alice_to_bob.encrypt(b"Hello Bob")
first = bob_to_alice.decrypt(bob, wire)
print("Bob reads:", first.plaintext.decode(), "| store Bob's account too:", first.account_changed)
print("Alice reads:", alice_to_bob.decrypt_ratchet(bob_to_alice.encrypt(b"Hi Alice")).decode())

number = c.SafetyNumber(alice.identity_key, b"alice", bob.identity_key, b"bob")
print("Safety number:", number)

storage_key = os.urandom(32)  # keep it in the OS keystore
sealed = alice_to_bob.seal(storage_key, b"records/bob")
restored = c.SessionRecord.open(sealed, storage_key, b"records/bob")
assert restored.peer_identity_key == bob.identity_key
try:
    c.SessionRecord.open(sealed, storage_key, b"records/carol")
except c.StateError as e:
    print("Another row's context does not open it:", e.name, e.detail)
