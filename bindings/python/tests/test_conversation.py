import pytest

import cliquet as c
from conftest import CONFIG, Device, connect, send


def test_two_people_three_devices():
    phone, laptop, bob = Device("alice-phone"), Device("alice-laptop"), Device("bob")
    connect(phone, bob)
    connect(laptop, bob)
    assert send(phone, bob, "from the phone") == "from the phone"
    assert send(laptop, bob, "from the laptop") == "from the laptop"
    assert send(bob, phone, "hi phone") == "hi phone"
    assert send(bob, laptop, "hi laptop") == "hi laptop"
    for i in range(5):
        assert send(phone, bob, f"p{i}") == f"p{i}"
        assert send(bob, laptop, f"l{i}") == f"l{i}"
    assert phone.record(bob).peer_identity_key == bob.account.identity_key
    assert laptop.record(bob).peer_identity_key == bob.account.identity_key
    assert bob.record(phone).peer_identity_key != bob.record(laptop).peer_identity_key


def test_first_message_changes_the_account():
    alice, bob = Device("alice"), Device("bob")
    connect(alice, bob)
    assert bob.account.one_time_prekey_count == 1
    wire = alice.record(bob).encrypt(b"first")
    assert c.Incoming.decode(wire).is_prekey
    got = bob.record(alice).decrypt(bob.account, wire)
    assert got.account_changed and got.plaintext == b"first"
    assert bob.account.one_time_prekey_count == 0
    reply = bob.record(alice).encrypt(b"reply")
    assert alice.record(bob).decrypt_ratchet(reply) == b"reply"


def test_pqxdh_with_one_time_kem_prekey():
    alice, bob = Device("alice"), Device("bob")
    [kem] = bob.account.generate_one_time_kem_prekeys(1)
    bundle = c.PreKeyBundle.decode(bob.account.bundle(one_time_kem_prekey=kem))
    assert bundle.is_post_quantum
    verified = bundle.verify()
    assert verified.identity_key == bob.account.identity_key
    alice.record(bob).start_new(alice.account, verified)
    assert send(alice, bob, "post-quantum") == "post-quantum"
    assert bob.account.one_time_kem_prekey_count == 0


def test_header_encryption_and_classic():
    alice, bob = Device("alice"), Device("bob")
    hidden = c.SessionConfig().with_header_encryption(True).with_classic_x3dh(True)
    verified = c.PreKeyBundle.decode(bob.account.classic_bundle()).verify()
    assert not verified.is_post_quantum
    alice.record(bob).start_new(alice.account, verified, hidden)
    wire = alice.record(bob).encrypt(b"quiet")
    assert bob.record(alice).decrypt(bob.account, wire, hidden).plaintext == b"quiet"


def test_safety_numbers():
    a, b = c.Account(), c.Account()
    mine = c.SafetyNumber(a.identity_key, b"alice", b.identity_key, b"bob")
    theirs = c.SafetyNumber(b.identity_key, b"bob", a.identity_key, b"alice")
    assert len(mine.digits) == 60 and mine.digits == theirs.digits
    assert len(str(mine).split(" ")) == 12
    mine.verify_scanned(theirs.scannable())


def test_identity_change_blocks_until_accepted():
    alice, bob = Device("alice"), Device("bob")
    connect(alice, bob)
    assert send(alice, bob, "before") == "before"
    bob = Device("bob")
    verified = c.PreKeyBundle.decode(bob.account.bundle()).verify()
    with pytest.raises(c.IdentityChangedError) as e:
        alice.record(bob).start_new(alice.account, verified, CONFIG)
    assert e.value.name == "identity_changed"
    assert e.value.identity_key == bob.account.identity_key
    assert alice.record(bob).changed_identity == bob.account.identity_key
    with pytest.raises(c.IdentityChangedError):
        alice.record(bob).encrypt(b"x")
    alice.record(bob).accept_identity(bob.account.identity_key)
    assert alice.record(bob).changed_identity is None
    alice.record(bob).start_new(alice.account, verified)
    assert send(alice, bob, "after") == "after"
    alice.record(bob).mark_verified(bob.account.identity_key)
    assert alice.record(bob).is_verified


def test_decryption_failure_notices():
    alice, bob = Device("alice"), Device("bob")
    connect(alice, bob)
    lost = c.SessionRecord()
    notices = []
    for text in (b"one", b"two"):
        wire = alice.record(bob).encrypt(text)
        notice = lost.decryption_failure(wire, "authentication", bob.account, alice.account.identity_key)
        assert notice is not None and c.Incoming.decode(notice).kind == "notice"
        assert lost.decryption_failure(wire, "too_many_skipped", bob.account, alice.account.identity_key) is None
        notices.append(notice)
    r = alice.record(bob)
    assert r.on_decryption_failure(notices[0], alice.account) == "resend_requested"
    assert r.on_decryption_failure(notices[0], alice.account) == "ignored:repeated"
    assert r.on_decryption_failure(notices[1], alice.account) == "abandoned"
    assert r.needs_new_session
    with pytest.raises(c.NoSessionError):
        r.encrypt(b"x")
    assert c.SessionRecord().on_decryption_failure(notices[0], alice.account) == "ignored:no_session"


def test_decryption_failure_takes_the_exception():
    alice, bob = Device("alice"), Device("bob")
    connect(alice, bob)
    wire = bytearray(alice.record(bob).encrypt(b"x"))
    wire[-1] ^= 1
    with pytest.raises(c.CliquetError) as e:
        c.SessionRecord().decrypt(c.Account(), bytes(wire))
    notice = c.SessionRecord().decryption_failure(bytes(wire), e.value, bob.account, alice.account.identity_key)
    assert (notice is not None) == (e.value.name in ("authentication", "unknown_prekey", "invalid_key"))
