'use strict';
// People with several devices (SPEC §14): Bob's two devices listed under his
// user key, Alice's person record of Bob, fan-out, and what is refused.
const test = require('node:test');
const assert = require('node:assert/strict');
const { c, config, throwsNamed } = require('../testkit.js');

const key = new Uint8Array(32).fill(7);
const ctx = (s) => Buffer.from(s);

/** Bob: a user key and two devices (ids 1 and 2), listed as version 1. */
function bob() {
  const userKey = c.UserKeyPair.generate();
  const phone = new c.Account();
  const laptop = new c.Account();
  const uk = userKey.publicKey;
  const list = new c.DeviceListBuilder(1n)
    .device(1, phone.identityKey, phone.linkSignature(uk, 1))
    .device(2, laptop.identityKey, laptop.linkSignature(uk, 2))
    .sign(userKey);
  return { userKey, phone, laptop, list };
}

/** Alice's record of Bob, from the list as published, with both sessions. */
function aliceKnowsBob(b) {
  const alice = new c.Account();
  const record = new c.PersonRecord();
  const change = record.acceptList(c.VerifiedDeviceList.decode(b.list.encode()));
  assert.equal(change.kind, 'accepted');
  assert.deepEqual([...change.added], [1, 2]);
  assert.deepEqual([...record.devicesNeedingBundle()], [1, 2]);
  record.startSession(1, alice, b.phone.bundle(), config);
  record.startSession(2, alice, b.laptop.bundle(), config);
  assert.deepEqual([...record.devicesNeedingBundle()], []);
  return { alice, record };
}

test('a list of two devices: fields, and the same list again is unchanged', () => {
  const b = bob();
  const list = c.VerifiedDeviceList.decode(b.list.encode());
  assert.equal(list.version, 1n);
  assert.deepEqual(Buffer.from(list.userKey), Buffer.from(b.userKey.publicKey));
  assert.deepEqual(list.devices.map((d) => d.deviceId), [1, 2]);
  assert.deepEqual(Buffer.from(list.devices[0].identityKey), Buffer.from(b.phone.identityKey));
  const record = new c.PersonRecord();
  record.acceptList(list);
  assert.equal(record.acceptList(list).kind, 'unchanged');
  assert.equal(record.listVersion, 1n);
  assert.deepEqual(Buffer.from(record.userKey), Buffer.from(b.userKey.publicKey));
});

test('fan-out: one message per device, both decrypt, and a reply comes back', () => {
  const b = bob();
  const { alice, record } = aliceKnowsBob(b);
  const fanout = record.encrypt(Buffer.from('hi Bob'));
  assert.equal(fanout.failed.length, 0);
  assert.deepEqual(fanout.messages.map((m) => m.deviceId), [1, 2]);
  // Each of Bob's devices keeps its own record of Alice, a person of one device.
  const aliceUser = c.UserKeyPair.generate();
  const aliceList = new c.DeviceListBuilder(1n)
    .device(9, alice.identityKey, alice.linkSignature(aliceUser.publicKey, 9))
    .sign(aliceUser);
  const replies = [];
  for (const [account, message] of [[b.phone, fanout.messages[0]], [b.laptop, fanout.messages[1]]]) {
    const ofAlice = new c.PersonRecord();
    ofAlice.acceptList(aliceList);
    const got = ofAlice.decrypt(account, 9, message.bytes, config);
    assert.equal(Buffer.from(got.plaintext).toString(), 'hi Bob');
    replies.push(ofAlice.encrypt(Buffer.from('hi Alice')).messages[0].bytes);
  }
  const got = record.decrypt(alice, 2, replies[1], config);
  assert.equal(Buffer.from(got.plaintext).toString(), 'hi Alice');
  // A message from device 2 claimed as device 1's: the session is not device 1's.
  assert.throws(() => record.decrypt(alice, 1, replies[1], config));
});

test("an unlisted device's bundle is refused (unknown_device)", () => {
  const b = bob();
  const alice = new c.Account();
  const record = new c.PersonRecord();
  record.acceptList(b.list);
  const server = new c.Account();
  throwsNamed(assert, () => record.startSession(1, alice, server.bundle(), config), 'unknown_device');
  throwsNamed(assert, () => record.startSession(3, alice, server.bundle(), config), 'unknown_device');
  assert.deepEqual([...record.devicesNeedingBundle()], [1, 2]);
});

test('a stale list is refused, and a reported newer list stops sending (stale_device_list)', () => {
  const b = bob();
  const { record } = aliceKnowsBob(b);
  // Bob loses his laptop: version 2 drops it.
  const v2 = c.DeviceListBuilder.next(b.list).remove(2).sign(b.userKey);
  const change = record.acceptList(v2);
  assert.deepEqual([...change.removed], [2]);
  throwsNamed(assert, () => record.acceptList(b.list), 'stale_device_list');
  assert.deepEqual(record.encrypt(Buffer.from('x')).messages.map((m) => m.deviceId), [1]);
  // The phone says its list is at version 3: Alice stops until she has it.
  const sent = c.encodeWithListVersion(3n, Buffer.from('hello'));
  const split = c.splitListVersion(sent);
  assert.equal(split.version, 3n);
  assert.equal(Buffer.from(split.plaintext).toString(), 'hello');
  record.reportListVersion(split.version);
  assert.equal(record.needsNewerList, true);
  throwsNamed(assert, () => record.encrypt(Buffer.from('x')), 'stale_device_list');
  throwsNamed(assert, () => c.splitListVersion(new Uint8Array(7)), 'malformed', 'truncated');
});

test('a list under another user key is an identity change (identity_changed)', () => {
  const b = bob();
  const { record } = aliceKnowsBob(b);
  const newUser = c.UserKeyPair.generate();
  const fresh = new c.DeviceListBuilder(1n)
    .device(1, b.phone.identityKey, b.phone.linkSignature(newUser.publicKey, 1))
    .sign(newUser);
  assert.throws(() => record.acceptList(fresh), (e) => {
    assert.equal(e.name, 'identity_changed');
    assert.deepEqual(Buffer.from(e.identityKey), Buffer.from(newUser.publicKey));
    return true;
  });
  // After the user compared the new safety number:
  record.acceptUserKey(newUser.publicKey);
  assert.equal(record.acceptList(fresh).kind, 'accepted');
  assert.deepEqual([...record.devicesNeedingBundle()], [1]);
  // A link signature made for another user key does not sign.
  const wrong = new c.DeviceListBuilder(1n).device(2, b.laptop.identityKey, b.laptop.linkSignature(b.userKey.publicKey, 2));
  throwsNamed(assert, () => wrong.sign(newUser), 'bad_signature');
});

test('one safety number for user keys, the same on both sides', () => {
  const alice = c.UserKeyPair.generate();
  const b = bob();
  const onAlice = c.SafetyNumber.forUserKeys(alice.publicKey, ctx('alice'), b.userKey.publicKey, ctx('bob'));
  const onBob = c.SafetyNumber.forUserKeys(b.userKey.publicKey, ctx('bob'), alice.publicKey, ctx('alice'));
  assert.equal(onAlice.digits, onBob.digits);
  assert.equal(onAlice.digits.length, 60);
  onAlice.verifyScanned(onBob.scannable());
});

test('the person record and the user key survive seal and open', () => {
  const b = bob();
  const { alice, record } = aliceKnowsBob(b);
  const sealed = record.seal(key, ctx('people/bob'));
  record.free();
  throwsNamed(assert, () => c.PersonRecord.open(sealed, key, ctx('people/carol')), 'state', 'sealed');
  const reopened = c.PersonRecord.open(sealed, key, ctx('people/bob'));
  assert.equal(reopened.listVersion, 1n);
  assert.deepEqual([...reopened.devicesNeedingBundle()], []);
  const fanout = reopened.encrypt(Buffer.from('after restart'));
  assert.deepEqual(fanout.messages.map((m) => m.deviceId), [1, 2]);
  const copy = c.PersonRecord.fromBytes(reopened.toBytes());
  assert.deepEqual(Buffer.from(copy.userKey), Buffer.from(b.userKey.publicKey));
  // The user key, sealed, still signs the next list.
  const userKey = c.UserKeyPair.open(b.userKey.seal(key, ctx('user-key')), key, ctx('user-key'));
  assert.deepEqual(Buffer.from(userKey.publicKey), Buffer.from(b.userKey.publicKey));
  const v2 = c.DeviceListBuilder.next(b.list).sign(userKey);
  assert.equal(reopened.acceptList(v2).kind, 'accepted');
  alice.free();
});
