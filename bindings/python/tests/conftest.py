"""Shared by the tests: people and devices, as in the JS tests."""

import pytest

import cliquet as c

CONFIG = c.SessionConfig()


class Device:
    """An account and its records by peer device name."""

    def __init__(self, name: str):
        self.name = name
        self.account = c.Account()
        self.records: dict[str, c.SessionRecord] = {}

    def record(self, other: "Device") -> c.SessionRecord:
        return self.records.setdefault(other.name, c.SessionRecord())


def connect(a: Device, b: Device) -> None:
    """`a` starts a session with `b` from `b`'s published bundle."""
    [one_time] = b.account.generate_one_time_prekeys(1)
    bundle = c.PreKeyBundle.decode(b.account.bundle(one_time)).verify()
    a.record(b).start_new(a.account, bundle, CONFIG)


def send(a: Device, b: Device, text: str) -> str:
    wire = a.record(b).encrypt(text.encode())
    assert c.Incoming.decode(wire).kind == "message"
    return b.record(a).decrypt(b.account, wire, CONFIG).plaintext.decode()


def pair():
    alice, bob = Device("alice"), Device("bob")
    connect(alice, bob)
    send(alice, bob, "hello")
    send(bob, alice, "hello")
    return alice, bob


@pytest.fixture
def people():
    return pair()
