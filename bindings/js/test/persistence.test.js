'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { c, config, device, connect, send, record } = require('../testkit.js');

const key = new Uint8Array(32).fill(9);
const ctx = (s) => Buffer.from(s);

test('seal and open: account, record and group survive a restart', () => {
  const alice = device('alice');
  const bob = device('bob');
  connect(alice, bob);
  send(alice, bob, 'one');
  send(bob, alice, 'two');
  // Bob stores everything sealed, frees it, and loads it again.
  const sealedAccount = bob.account.seal(key, ctx('accounts/bob'));
  const sealedRecord = record(bob, alice).seal(key, ctx('records/bob/alice'));
  const group = new c.GroupSession(new Uint8Array(16), config);
  const distribution = group.rotate();
  const sealedGroup = group.seal(key, ctx('groups/g'));
  const bobKey = Buffer.from(bob.account.identityKey);
  bob.account.free();
  record(bob, alice).free();
  bob.account = c.Account.open(sealedAccount, key, ctx('accounts/bob'));
  bob.records.set('alice', c.SessionRecord.openForPeer(sealedRecord, key, ctx('records/bob/alice'), alice.account.identityKey));
  assert.deepEqual(Buffer.from(bob.account.identityKey), bobKey);
  assert.equal(send(alice, bob, 'three'), 'three');
  assert.equal(send(bob, alice, 'four'), 'four');
  const reopened = c.GroupSession.open(sealedGroup, key, ctx('groups/g'));
  assert.deepEqual(Buffer.from(reopened.distribution()), Buffer.from(distribution));
  // The unsealed forms round-trip too (when the caller asks for them).
  const copy = c.SessionRecord.fromBytes(record(alice, bob).toBytes());
  assert.deepEqual(Buffer.from(copy.peerIdentityKey), bobKey);
  assert.deepEqual(Buffer.from(c.Account.fromBytes(bob.account.toBytes()).identityKey), bobKey);
  assert.deepEqual(Buffer.from(c.GroupSession.fromBytes(reopened.toBytes()).groupId), Buffer.alloc(16));
});

test('free() drops the value: using it afterwards throws', () => {
  const account = new c.Account();
  account.free();
  assert.throws(() => account.identityKey);
});
