"""Every error the API exposes, by its SPEC §8 name."""

import pytest

import cliquet as c
from conftest import CONFIG, Device, pair, send

KEY = bytes([1] * 32)


def raises(cls, name, detail=None):
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(cls)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            err = self.info.value
            assert isinstance(err, c.CliquetError)
            assert err.name == name
            if detail is not None:
                assert err.detail == detail
            return handled

    return Check()


def test_classes_carry_their_names():
    assert c.UnknownChainError.name == "unknown_chain"
    assert issubclass(c.UnknownChainError, c.CliquetError)
    assert issubclass(c.CliquetError, Exception)


def test_malformed():
    with raises(c.MalformedError, "malformed", "truncated"):
        c.Incoming.decode(b"")
    with raises(c.MalformedError, "malformed", "bad_kind"):
        c.Incoming.decode(b"\x14")
    bundle = c.Account().bundle()
    with raises(c.MalformedError, "malformed", "trailing"):
        c.PreKeyBundle.decode(bundle + b"\x00")
    with raises(c.MalformedError, "malformed", "truncated"):
        c.Account().seal(bytes(31), b"x")
    with raises(c.MalformedError, "malformed", "trailing"):
        c.GroupSession(bytes(17))
    alice, bob = pair()
    with raises(c.MalformedError, "malformed"):
        alice.record(bob).decrypt_ratchet(b"\x11\x01\x02")


def test_authentication_leaves_the_record_unchanged():
    alice, bob = pair()
    wire = alice.record(bob).encrypt(b"secret")
    before = bob.record(alice).to_bytes()
    bad = bytearray(wire)
    bad[-1] ^= 1
    with raises(c.AuthenticationError, "authentication"):
        bob.record(alice).decrypt_ratchet(bytes(bad))
    assert bob.record(alice).to_bytes() == before
    assert bob.record(alice).decrypt_ratchet(wire) == b"secret"


def test_duplicate_and_too_many_skipped():
    alice, bob = pair()
    wire = alice.record(bob).encrypt(b"once")
    bob.record(alice).decrypt_ratchet(wire)
    with raises(c.DuplicateError, "duplicate"):
        bob.record(alice).decrypt_ratchet(wire)
    tight = c.SessionConfig(2, 4)
    a, b = Device("a"), Device("b")
    a.record(b).start_new(a.account, c.PreKeyBundle.decode(b.account.bundle()).verify(), tight)
    for _ in range(3):
        a.record(b).encrypt(b"lost")
    far = a.record(b).encrypt(b"far")
    with raises(c.TooManySkippedError, "too_many_skipped"):
        b.record(a).decrypt(b.account, far, tight)


def test_bundles():
    bob = c.Account()
    bundle = bob.bundle()
    names = set()
    for i in range(40, 140):
        bad = bytearray(bundle)
        bad[i] ^= 1
        try:
            c.PreKeyBundle.decode(bytes(bad)).verify()
        except c.CliquetError as e:
            names.add(e.name)
    assert "bad_signature" in names
    with raises(c.InvalidKeyError, "invalid_key"):
        c.SafetyNumber(bytes([0xFF] * 32), b"a", bob.identity_key, b"b")
    alice = c.Account()
    classic = c.PreKeyBundle.decode(bob.classic_bundle()).verify()
    with raises(c.PostQuantumRequiredError, "post_quantum_required"):
        c.SessionRecord().start_new(alice, classic)
    [one_time] = bob.generate_one_time_prekeys(1)
    verified = c.PreKeyBundle.decode(bob.bundle(one_time)).verify()
    bob.remove_one_time_prekey(one_time)
    r = c.SessionRecord()
    r.start_new(alice, verified)
    with raises(c.UnknownPrekeyError, "unknown_prekey"):
        c.SessionRecord().decrypt(bob, r.encrypt(b"hi"))
    with raises(c.UnknownPrekeyError, "unknown_prekey"):
        bob.bundle(12345)


def test_mode_refused():
    alice, bob = Device("alice"), Device("bob")
    strict = c.SessionConfig().with_header_encryption(True).with_required_mode(True)
    alice.record(bob).start_new(alice.account, c.PreKeyBundle.decode(bob.account.bundle()).verify())
    plain = alice.record(bob).encrypt(b"plain header")
    with raises(c.ModeRefusedError, "mode_refused"):
        bob.record(alice).decrypt(bob.account, plain, strict)


def test_no_session_identity_changed_mismatch():
    with raises(c.NoSessionError, "no_session"):
        c.SessionRecord().encrypt(b"x")
    alice, bob = pair()
    # Verifying another key than the pinned one: a number for another key.
    with raises(c.IdentityChangedError, "identity_changed"):
        alice.record(bob).mark_verified(c.Account().identity_key)
    new_bob = c.Account()
    bundle = c.PreKeyBundle.decode(new_bob.bundle()).verify()
    with raises(c.IdentityChangedError, "identity_changed"):
        alice.record(bob).start_new(alice.account, bundle)
    with raises(c.IdentityChangedError, "identity_changed"):
        alice.record(bob).encrypt(b"x")
    alice.record(bob).refuse_identity_change()
    assert send(alice, bob, "still the old Bob") == "still the old Bob"
    sn = c.SafetyNumber(alice.account.identity_key, b"a", bob.account.identity_key, b"b")
    other = c.SafetyNumber(alice.account.identity_key, b"a", new_bob.identity_key, b"b")
    with raises(c.MismatchError, "mismatch"):
        sn.verify_scanned(other.scannable())


def test_invalid_config_and_identifier():
    with raises(c.InvalidConfigError, "invalid_config", "max_skip_above_max_skipped_keys"):
        c.SessionConfig(10, 5)
    a = c.Account()
    with raises(c.InvalidIdentifierError, "invalid_identifier"):
        c.SafetyNumber(a.identity_key, b"", a.identity_key, b"b")


def test_state():
    alice, bob = pair()
    sealed = alice.record(bob).seal(KEY, b"r")
    with raises(c.StateError, "state", "sealed"):
        c.SessionRecord.open(sealed, bytes(32), b"r")
    with raises(c.StateError, "state", "sealed"):
        c.SessionRecord.open(sealed, KEY, b"other row")
    with raises(c.StateError, "state", "wrong_kind"):
        c.Account.open(sealed, KEY, b"r")
    with raises(c.StateError, "state", "other_peer"):
        c.SessionRecord.open_for_peer(sealed, KEY, b"r", c.Account().identity_key)
    with raises(c.StateError, "state"):
        c.SessionRecord.from_bytes(b"\x01\x02\x03")
    with raises(c.StateError, "state", "truncated"):
        c.GroupSession.from_bytes(b"")


def test_groups():
    alice, bob, carol = c.Account(), c.Account(), c.Account()
    g = c.GroupSession(bytes([1] * 16))
    with raises(c.UnknownChainError, "unknown_chain"):
        g.encrypt(b"x")
    distribution = g.rotate()
    theirs = c.GroupSession(bytes([1] * 16))
    theirs.receive_distribution(alice.identity_key, distribution)
    with raises(c.DuplicateError, "duplicate"):
        theirs.receive_distribution(alice.identity_key, distribution)
    with raises(c.SigningKeyInUseError, "signing_key_in_use"):
        theirs.receive_distribution(carol.identity_key, distribution)
    with raises(c.UnknownChainError, "unknown_chain"):
        c.GroupSession(bytes([2] * 16)).receive_distribution(alice.identity_key, distribution)
    m = g.encrypt(b"x")
    with raises(c.UnknownChainError, "unknown_chain"):
        theirs.decrypt(bob.identity_key, m)
    bad = bytearray(m)
    bad[-1] ^= 1
    with raises(c.BadSignatureError, "bad_signature"):
        theirs.decrypt(alice.identity_key, bytes(bad))
    with raises(c.ChainExhaustedError, "chain_exhausted"):
        g.rotate_above(0xFFFFFFFF)
