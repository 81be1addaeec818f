"""People with several devices (SPEC §14): Bob's two devices listed under his
user key, Alice's person record of Bob, fan-out, and what is refused."""

import pytest

import cliquet as c
from conftest import CONFIG

KEY = bytes([7] * 32)


class Bob:
    """A user key and two devices (ids 1 and 2), listed as version 1."""

    def __init__(self):
        self.user_key = c.UserKeyPair.generate()
        self.phone, self.laptop = c.Account(), c.Account()
        uk = self.user_key.public_key
        self.list = (
            c.DeviceListBuilder(1)
            .device(1, self.phone.identity_key, self.phone.link_signature(uk, 1))
            .device(2, self.laptop.identity_key, self.laptop.link_signature(uk, 2))
            .sign(self.user_key)
        )


def alice_knows(bob: Bob):
    """Alice's record of Bob, from the list as published, with both sessions."""
    alice, record = c.Account(), c.PersonRecord()
    change = record.accept_list(c.VerifiedDeviceList.decode(bob.list.encode()))
    assert (change.kind, change.added) == ("accepted", [1, 2])
    assert record.devices_needing_bundle() == [1, 2]
    record.start_session(1, alice, bob.phone.bundle(), CONFIG)
    record.start_session(2, alice, bob.laptop.bundle())
    assert record.devices_needing_bundle() == []
    return alice, record


def test_a_list_of_two_devices():
    bob = Bob()
    listed = c.VerifiedDeviceList.decode(bob.list.encode())
    assert listed.version == 1
    assert listed.user_key == bob.user_key.public_key
    assert [d.device_id for d in listed.devices] == [1, 2]
    assert listed.devices[1].identity_key == bob.laptop.identity_key
    record = c.PersonRecord()
    record.accept_list(listed)
    assert record.accept_list(listed).kind == "unchanged"
    assert record.list_version == 1
    assert record.user_key == bob.user_key.public_key


def test_fan_out_to_both_devices():
    bob = Bob()
    alice, record = alice_knows(bob)
    fanout = record.encrypt(b"hi Bob")
    assert fanout.failed == []
    assert [m.device_id for m in fanout.messages] == [1, 2]
    # Each of Bob's devices keeps a record of Alice, a person of one device.
    alice_user = c.UserKeyPair.generate()
    alice_list = (
        c.DeviceListBuilder(1)
        .device(9, alice.identity_key, alice.link_signature(alice_user.public_key, 9))
        .sign(alice_user)
    )
    replies = []
    for account, message in zip([bob.phone, bob.laptop], fanout.messages):
        of_alice = c.PersonRecord()
        of_alice.accept_list(alice_list)
        got = of_alice.decrypt(account, 9, message.bytes, CONFIG)
        assert got.plaintext == b"hi Bob"
        replies.append(of_alice.encrypt(b"hi Alice").messages[0].bytes)
    assert record.decrypt(alice, 1, replies[0]).plaintext == b"hi Alice"
    # A message from device 2 that is not a prekey message, as device 1's.
    with pytest.raises(c.CliquetError):
        record.decrypt(alice, 1, replies[1])


def test_an_unlisted_devices_bundle_is_refused():
    bob = Bob()
    alice, record = c.Account(), c.PersonRecord()
    record.accept_list(bob.list)
    server = c.Account()
    for device_id in (1, 3):
        with pytest.raises(c.UnknownDeviceError) as e:
            record.start_session(device_id, alice, server.bundle())
        assert e.value.name == "unknown_device"
    assert record.devices_needing_bundle() == [1, 2]


def test_a_stale_list_is_refused():
    bob = Bob()
    _, record = alice_knows(bob)
    v2 = c.DeviceListBuilder.next(bob.list).remove(2).sign(bob.user_key)
    assert record.accept_list(v2).removed == [2]
    with pytest.raises(c.StaleDeviceListError):
        record.accept_list(bob.list)
    assert [m.device_id for m in record.encrypt(b"x").messages] == [1]
    # The phone says its list is at version 3: Alice stops until she has it.
    version, plaintext = c.split_list_version(c.encode_with_list_version(3, b"hello"))
    assert (version, plaintext) == (3, b"hello")
    record.report_list_version(version)
    assert record.needs_newer_list
    with pytest.raises(c.StaleDeviceListError):
        record.encrypt(b"x")
    with pytest.raises(c.MalformedError):
        c.split_list_version(bytes(7))


def test_a_list_under_another_user_key_is_an_identity_change():
    bob = Bob()
    _, record = alice_knows(bob)
    new_user = c.UserKeyPair.generate()
    fresh = (
        c.DeviceListBuilder(1)
        .device(1, bob.phone.identity_key, bob.phone.link_signature(new_user.public_key, 1))
        .sign(new_user)
    )
    with pytest.raises(c.IdentityChangedError) as e:
        record.accept_list(fresh)
    assert e.value.identity_key == new_user.public_key
    record.accept_user_key(new_user.public_key)
    assert record.accept_list(fresh).kind == "accepted"
    assert record.devices_needing_bundle() == [1]
    wrong = c.DeviceListBuilder(1).device(
        2, bob.laptop.identity_key, bob.laptop.link_signature(bob.user_key.public_key, 2)
    )
    with pytest.raises(c.BadSignatureError):
        wrong.sign(new_user)


def test_one_safety_number_for_user_keys():
    alice, bob = c.UserKeyPair.generate(), Bob()
    on_alice = c.SafetyNumber.for_user_keys(alice.public_key, b"alice", bob.user_key.public_key, b"bob")
    on_bob = c.SafetyNumber.for_user_keys(bob.user_key.public_key, b"bob", alice.public_key, b"alice")
    assert on_alice.digits == on_bob.digits
    on_alice.verify_scanned(on_bob.scannable())


def test_the_person_record_survives_seal_and_open():
    bob = Bob()
    _, record = alice_knows(bob)
    sealed = record.seal(KEY, b"people/bob")
    del record
    with pytest.raises(c.StateError):
        c.PersonRecord.open(sealed, KEY, b"people/carol")
    reopened = c.PersonRecord.open(sealed, KEY, b"people/bob")
    assert reopened.list_version == 1
    assert reopened.devices_needing_bundle() == []
    assert [m.device_id for m in reopened.encrypt(b"after restart").messages] == [1, 2]
    assert c.PersonRecord.from_bytes(reopened.to_bytes()).user_key == bob.user_key.public_key
    user_key = c.UserKeyPair.open(bob.user_key.seal(KEY, b"user-key"), KEY, b"user-key")
    assert user_key.public_key == bob.user_key.public_key
    v2 = c.DeviceListBuilder.next(bob.list).sign(user_key)
    assert reopened.accept_list(v2).kind == "accepted"
