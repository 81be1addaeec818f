import cliquet as c
from conftest import CONFIG, Device, connect, send

KEY = bytes([9] * 32)


def test_seal_and_open_survive_a_restart():
    alice, bob = Device("alice"), Device("bob")
    connect(alice, bob)
    send(alice, bob, "one")
    send(bob, alice, "two")
    sealed_account = bob.account.seal(KEY, b"accounts/bob")
    sealed_record = bob.record(alice).seal(KEY, b"records/bob/alice")
    group = c.GroupSession(bytes(16), CONFIG)
    distribution = group.rotate()
    sealed_group = group.seal(KEY, b"groups/g")
    bob_key = bob.account.identity_key
    del bob.account, bob.records["alice"], group
    bob.account = c.Account.open(sealed_account, KEY, b"accounts/bob")
    bob.records["alice"] = c.SessionRecord.open_for_peer(
        sealed_record, KEY, b"records/bob/alice", alice.account.identity_key
    )
    assert bob.account.identity_key == bob_key
    assert send(alice, bob, "three") == "three"
    assert send(bob, alice, "four") == "four"
    reopened = c.GroupSession.open(sealed_group, KEY, b"groups/g")
    assert reopened.distribution() == distribution
    assert c.SessionRecord.from_bytes(alice.record(bob).to_bytes()).peer_identity_key == bob_key
    assert c.Account.from_bytes(bob.account.to_bytes()).identity_key == bob_key
    assert c.GroupSession.from_bytes(reopened.to_bytes()).group_id == bytes(16)
