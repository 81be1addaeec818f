'use strict';
// Every error the API exposes, by its SPEC §8 name.
const test = require('node:test');
const assert = require('node:assert/strict');
const { c, config, device, connect, send, record, throwsNamed } = require('../testkit.js');

const key = new Uint8Array(32).fill(1);

function pair() {
  const alice = device('alice');
  const bob = device('bob');
  connect(alice, bob);
  send(alice, bob, 'hello');
  send(bob, alice, 'hello');
  return { alice, bob };
}

test('malformed: truncated, trailing, bad kind; wrong-length arguments', () => {
  throwsNamed(assert, () => c.Incoming.decode(new Uint8Array(0)), 'malformed', 'truncated');
  throwsNamed(assert, () => c.Incoming.decode(Uint8Array.of(0x14)), 'malformed', 'bad_kind');
  const bundle = new c.Account().bundle();
  throwsNamed(assert, () => c.PreKeyBundle.decode(Buffer.concat([bundle, Buffer.of(0)])), 'malformed', 'trailing');
  throwsNamed(assert, () => c.PreKeyBundle.decode(bundle.subarray(0, 10)), 'malformed', 'truncated');
  throwsNamed(assert, () => new c.Account().seal(new Uint8Array(31), Buffer.from('x')), 'malformed', 'truncated');
  throwsNamed(assert, () => new c.GroupSession(new Uint8Array(17), config), 'malformed', 'trailing');
  const { alice, bob } = pair();
  throwsNamed(assert, () => record(alice, bob).decryptRatchet(Uint8Array.of(0x11, 1, 2)), 'malformed');
});

test('authentication: a tampered message, the record unchanged', () => {
  const { alice, bob } = pair();
  const wire = record(alice, bob).encrypt(Buffer.from('secret'));
  const before = Buffer.from(record(bob, alice).toBytes());
  const bad = Buffer.from(wire);
  bad[bad.length - 1] ^= 1;
  throwsNamed(assert, () => record(bob, alice).decryptRatchet(bad), 'authentication');
  assert.deepEqual(Buffer.from(record(bob, alice).toBytes()), before);
  assert.equal(Buffer.from(record(bob, alice).decryptRatchet(wire)).toString(), 'secret');
});

test('duplicate and too_many_skipped', () => {
  const { alice, bob } = pair();
  const wire = record(alice, bob).encrypt(Buffer.from('once'));
  record(bob, alice).decryptRatchet(wire);
  throwsNamed(assert, () => record(bob, alice).decryptRatchet(wire), 'duplicate');
  const tight = new c.SessionConfig(2, 4);
  const a = device('a');
  const b = device('b');
  record(a, b).startNew(a.account, c.PreKeyBundle.decode(b.account.bundle()).verify(), tight);
  for (let i = 0; i < 3; i++) record(a, b).encrypt(Buffer.from('lost'));
  const far = record(a, b).encrypt(Buffer.from('far'));
  throwsNamed(assert, () => record(b, a).decrypt(b.account, far, tight), 'too_many_skipped');
});

test('bundles: bad_signature, invalid_key, post_quantum_required, unknown_prekey', () => {
  const bob = new c.Account();
  const bundle = Buffer.from(bob.bundle());
  // The signed prekey's signature is somewhere after the identity key:
  // flip bytes until verification (not decoding) fails.
  let sawSignature = false;
  for (let i = 40; i < 140 && !sawSignature; i++) {
    const bad = Buffer.from(bundle);
    bad[i] ^= 0x01;
    try { c.PreKeyBundle.decode(bad).verify(); } catch (e) { sawSignature ||= e.name === 'bad_signature'; }
  }
  assert.ok(sawSignature, 'bad_signature');
  throwsNamed(assert, () => new c.SafetyNumber(new Uint8Array(32).fill(0xff), Buffer.from('a'), bob.identityKey, Buffer.from('b')), 'invalid_key');
  const alice = new c.Account();
  const classic = c.PreKeyBundle.decode(bob.classicBundle()).verify();
  throwsNamed(assert, () => new c.SessionRecord().startNew(alice, classic, config), 'post_quantum_required');
  // A bundle with a one-time prekey the account no longer has.
  const [id] = bob.generateOneTimePrekeys(1);
  const withOneTime = c.PreKeyBundle.decode(bob.bundle(id)).verify();
  bob.removeOneTimePrekey(id);
  const r = new c.SessionRecord();
  r.startNew(alice, withOneTime, config);
  const first = r.encrypt(Buffer.from('hi'));
  throwsNamed(assert, () => new c.SessionRecord().decrypt(bob, first, config), 'unknown_prekey');
  throwsNamed(assert, () => bob.bundle(12345), 'unknown_prekey');
});

test('mode_refused: a required header mode', () => {
  const alice = device('alice');
  const bob = device('bob');
  const strict = new c.SessionConfig().withHeaderEncryption(true).withRequiredMode(true);
  record(alice, bob).startNew(alice.account, c.PreKeyBundle.decode(bob.account.bundle()).verify(), config);
  const plain = record(alice, bob).encrypt(Buffer.from('plain header'));
  throwsNamed(assert, () => record(bob, alice).decrypt(bob.account, plain, strict), 'mode_refused');
});

test('no_session, identity_changed, mismatch', () => {
  throwsNamed(assert, () => new c.SessionRecord().encrypt(Buffer.from('x')), 'no_session');
  const { alice, bob } = pair();
  // Verifying another key than the pinned one: a number for another key.
  throwsNamed(assert, () => record(alice, bob).markVerified(new c.Account().identityKey), 'identity_changed');
  const newBob = new c.Account();
  const bundle = c.PreKeyBundle.decode(newBob.bundle()).verify();
  throwsNamed(assert, () => record(alice, bob).startNew(alice.account, bundle, config), 'identity_changed');
  throwsNamed(assert, () => record(alice, bob).encrypt(Buffer.from('x')), 'identity_changed');
  record(alice, bob).refuseIdentityChange();
  assert.equal(send(alice, bob, 'still the old Bob'), 'still the old Bob');
  const sn = new c.SafetyNumber(alice.account.identityKey, Buffer.from('a'), bob.account.identityKey, Buffer.from('b'));
  const other = new c.SafetyNumber(alice.account.identityKey, Buffer.from('a'), newBob.identityKey, Buffer.from('b'));
  throwsNamed(assert, () => sn.verifyScanned(other.scannable()), 'mismatch');
});

test('invalid_config and invalid_identifier', () => {
  throwsNamed(assert, () => new c.SessionConfig(10, 5), 'invalid_config', 'max_skip_above_max_skipped_keys');
  const a = new c.Account();
  throwsNamed(assert, () => new c.SafetyNumber(a.identityKey, new Uint8Array(0), a.identityKey, Buffer.from('b')), 'invalid_identifier');
});

test('state: wrong key or context, wrong kind, other peer, garbage', () => {
  const { alice, bob } = pair();
  const sealed = record(alice, bob).seal(key, Buffer.from('r'));
  throwsNamed(assert, () => c.SessionRecord.open(sealed, new Uint8Array(32), Buffer.from('r')), 'state', 'sealed');
  throwsNamed(assert, () => c.SessionRecord.open(sealed, key, Buffer.from('other row')), 'state', 'sealed');
  throwsNamed(assert, () => c.Account.open(sealed, key, Buffer.from('r')), 'state', 'wrong_kind');
  throwsNamed(assert, () => c.SessionRecord.openForPeer(sealed, key, Buffer.from('r'), new c.Account().identityKey), 'state', 'other_peer');
  throwsNamed(assert, () => c.SessionRecord.fromBytes(Uint8Array.of(1, 2, 3)), 'state');
  throwsNamed(assert, () => c.GroupSession.fromBytes(new Uint8Array(0)), 'state', 'truncated');
});

test('groups: unknown_chain, duplicate, signing_key_in_use, chain_exhausted', () => {
  const alice = new c.Account();
  const bob = new c.Account();
  const carol = new c.Account();
  const g = new c.GroupSession(new Uint8Array(16).fill(1), config);
  throwsNamed(assert, () => g.encrypt(Buffer.from('x')), 'unknown_chain');
  const distribution = g.rotate();
  const theirs = new c.GroupSession(new Uint8Array(16).fill(1), config);
  theirs.receiveDistribution(alice.identityKey, distribution);
  throwsNamed(assert, () => theirs.receiveDistribution(alice.identityKey, distribution), 'duplicate');
  throwsNamed(assert, () => theirs.receiveDistribution(carol.identityKey, distribution), 'signing_key_in_use');
  const elsewhere = new c.GroupSession(new Uint8Array(16).fill(2), config);
  throwsNamed(assert, () => elsewhere.receiveDistribution(alice.identityKey, distribution), 'unknown_chain');
  const m = g.encrypt(Buffer.from('x'));
  throwsNamed(assert, () => theirs.decrypt(bob.identityKey, m), 'unknown_chain');
  const bad = Buffer.from(m);
  bad[bad.length - 1] ^= 1;
  throwsNamed(assert, () => theirs.decrypt(alice.identityKey, bad), 'bad_signature');
  throwsNamed(assert, () => g.rotateAbove(0xffffffff), 'chain_exhausted');
});

test('every error is a JS Error with name, code, detail and a message', () => {
  try {
    c.Incoming.decode(new Uint8Array(0));
    assert.fail('threw');
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);
    assert.ok(e.stack);
  }
});
