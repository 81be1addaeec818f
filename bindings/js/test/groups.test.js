'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { c, config, device, connect, send, record } = require('../testkit.js');

test('a group of three: distributions over pairwise sessions, messages once for all', () => {
  const people = ['alice', 'bob', 'carol'].map(device);
  const groupId = new Uint8Array(16).fill(7);
  const groups = people.map(() => new c.GroupSession(groupId, config));
  // Pairwise sessions between everyone.
  for (const a of people) for (const b of people) {
    if (a !== b && !a.records.has(b.name) && !b.records.has(a.name)) {
      connect(a, b);
      send(a, b, 'hello');
      send(b, a, 'hello');
    }
  }
  // Each member rotates and sends its distribution inside each pairwise session.
  people.forEach((p, i) => {
    const distribution = groups[i].rotate();
    people.forEach((q, j) => {
      if (i === j) return;
      const wire = record(p, q).encrypt(distribution);
      const got = record(q, p).decryptRatchet(wire);
      groups[j].receiveDistribution(p.account.identityKey, got);
    });
  });
  const message = groups[0].encrypt(Buffer.from('to everyone'));
  assert.equal(c.Incoming.decode(message).kind, 'group');
  for (const j of [1, 2]) {
    const text = Buffer.from(groups[j].decrypt(people[0].account.identityKey, message)).toString();
    assert.equal(text, 'to everyone');
    assert.equal(groups[j].chainsFrom(people[0].account.identityKey), 1);
  }
  // Carol leaves: the others drop her and rotate.
  assert.equal(groups[0].removeSender(people[2].account.identityKey), true);
  const next = groups[0].rotate();
  groups[1].receiveDistribution(people[0].account.identityKey, next);
  const after = groups[0].encrypt(Buffer.from('without carol'));
  assert.equal(Buffer.from(groups[1].decrypt(people[0].account.identityKey, after)).toString(), 'without carol');
  assert.throws(() => groups[2].decrypt(people[0].account.identityKey, after), { name: 'unknown_chain' });
  assert.deepEqual(Buffer.from(groups[0].groupId), Buffer.from(groupId));
  assert.ok(groups[0].distribution());
  groups.forEach((g) => g.free());
});
