import cliquet as c
from conftest import CONFIG, Device, connect, send
import pytest


def test_group_of_three():
    people = [Device(n) for n in ("alice", "bob", "carol")]
    group_id = bytes([7] * 16)
    groups = [c.GroupSession(group_id, CONFIG) for _ in people]
    for i, a in enumerate(people):
        for b in people[i + 1:]:
            connect(a, b)
            send(a, b, "hello")
            send(b, a, "hello")
    for i, p in enumerate(people):
        distribution = groups[i].rotate()
        for j, q in enumerate(people):
            if i != j:
                got = q.record(p).decrypt_ratchet(p.record(q).encrypt(distribution))
                groups[j].receive_distribution(p.account.identity_key, got)
    message = groups[0].encrypt(b"to everyone")
    assert c.Incoming.decode(message).kind == "group"
    for j in (1, 2):
        assert groups[j].decrypt(people[0].account.identity_key, message) == b"to everyone"
        assert groups[j].chains_from(people[0].account.identity_key) == 1
    assert groups[0].remove_sender(people[2].account.identity_key)
    groups[1].receive_distribution(people[0].account.identity_key, groups[0].rotate())
    after = groups[0].encrypt(b"without carol")
    assert groups[1].decrypt(people[0].account.identity_key, after) == b"without carol"
    with pytest.raises(c.UnknownChainError):
        groups[2].decrypt(people[0].account.identity_key, after)
    assert groups[0].group_id == group_id
