'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { c, config, device, record, connect, send } = require('../testkit.js');

test('two people, three devices: Alice has two, each with its own record to Bob', () => {
  const alicePhone = device('alice-phone');
  const aliceLaptop = device('alice-laptop');
  const bob = device('bob');
  connect(alicePhone, bob);
  connect(aliceLaptop, bob);
  assert.equal(send(alicePhone, bob, 'from the phone'), 'from the phone');
  assert.equal(send(aliceLaptop, bob, 'from the laptop'), 'from the laptop');
  // Bob answers each of Alice's devices on its own session.
  assert.equal(send(bob, alicePhone, 'hi phone'), 'hi phone');
  assert.equal(send(bob, aliceLaptop, 'hi laptop'), 'hi laptop');
  for (let i = 0; i < 5; i++) {
    assert.equal(send(alicePhone, bob, `p${i}`), `p${i}`);
    assert.equal(send(bob, aliceLaptop, `l${i}`), `l${i}`);
  }
  // Both of Alice's records pin Bob's one key; Bob's two records pin two.
  const bobKey = Buffer.from(bob.account.identityKey);
  assert.deepEqual(Buffer.from(record(alicePhone, bob).peerIdentityKey), bobKey);
  assert.deepEqual(Buffer.from(record(aliceLaptop, bob).peerIdentityKey), bobKey);
  assert.notDeepEqual(
    Buffer.from(record(bob, alicePhone).peerIdentityKey),
    Buffer.from(record(bob, aliceLaptop).peerIdentityKey),
  );
});

test('the first message uses up the one-time prekey: the account changed', () => {
  const alice = device('alice');
  const bob = device('bob');
  connect(alice, bob);
  assert.equal(bob.account.oneTimePrekeyCount, 1);
  const wire = record(alice, bob).encrypt(Buffer.from('first'));
  const incoming = c.Incoming.decode(wire);
  assert.equal(incoming.isPreKey, true);
  const got = record(bob, alice).decrypt(bob.account, wire, config);
  assert.equal(got.accountChanged, true);
  assert.equal(bob.account.oneTimePrekeyCount, 0);
  // Later messages need no account.
  const reply = record(bob, alice).encrypt(Buffer.from('reply'));
  assert.equal(Buffer.from(record(alice, bob).decryptRatchet(reply)).toString(), 'reply');
});

test('PQXDH by default, with a one-time KEM prekey if given', () => {
  const alice = device('alice');
  const bob = device('bob');
  const [kem] = bob.account.generateOneTimeKemPrekeys(1);
  assert.equal(bob.account.oneTimeKemPrekeyCount, 1);
  const bundle = c.PreKeyBundle.decode(bob.account.bundle(undefined, kem));
  assert.equal(bundle.isPostQuantum, true);
  const verified = bundle.verify();
  assert.equal(verified.isPostQuantum, true);
  assert.deepEqual(Buffer.from(verified.identityKey), Buffer.from(bob.account.identityKey));
  record(alice, bob).startNew(alice.account, verified, config);
  assert.equal(send(alice, bob, 'post-quantum'), 'post-quantum');
  assert.equal(bob.account.oneTimeKemPrekeyCount, 0);
});

test('header encryption and classic X3DH when configured', () => {
  const alice = device('alice');
  const bob = device('bob');
  const hidden = new c.SessionConfig().withHeaderEncryption(true).withClassicX3dh(true);
  assert.equal(hidden.headerEncryption, true);
  const verified = c.PreKeyBundle.decode(bob.account.classicBundle()).verify();
  assert.equal(verified.isPostQuantum, false);
  record(alice, bob).startNew(alice.account, verified, hidden);
  const wire = record(alice, bob).encrypt(Buffer.from('quiet'));
  const got = record(bob, alice).decrypt(bob.account, wire, hidden);
  assert.equal(Buffer.from(got.plaintext).toString(), 'quiet');
});

test('safety numbers match on both sides and verify scanned codes', () => {
  const alice = new c.Account();
  const bob = new c.Account();
  const mine = new c.SafetyNumber(alice.identityKey, Buffer.from('alice'), bob.identityKey, Buffer.from('bob'));
  const theirs = new c.SafetyNumber(bob.identityKey, Buffer.from('bob'), alice.identityKey, Buffer.from('alice'));
  assert.equal(mine.digits.length, 60);
  assert.equal(mine.digits, theirs.digits);
  assert.equal(mine.toString().split(' ').length, 12);
  mine.verifyScanned(theirs.scannable());
});

test('a device with a new identity is refused until accepted, then verified', () => {
  const alice = device('alice');
  let bob = device('bob');
  connect(alice, bob);
  assert.equal(send(alice, bob, 'before'), 'before');
  // Bob reinstalls: a new account, a new identity key.
  bob = device('bob');
  const verified = c.PreKeyBundle.decode(bob.account.bundle()).verify();
  assert.throws(() => record(alice, bob).startNew(alice.account, verified, config), (e) => {
    assert.equal(e.name, 'identity_changed');
    assert.deepEqual(Buffer.from(e.identityKey), Buffer.from(bob.account.identityKey));
    return true;
  });
  assert.deepEqual(Buffer.from(record(alice, bob).changedIdentity), Buffer.from(bob.account.identityKey));
  assert.throws(() => record(alice, bob).encrypt(Buffer.from('x')), { name: 'identity_changed' });
  record(alice, bob).acceptIdentity(bob.account.identityKey);
  assert.equal(record(alice, bob).changedIdentity, undefined);
  record(alice, bob).startNew(alice.account, verified, config);
  assert.equal(send(alice, bob, 'after'), 'after');
  record(alice, bob).markVerified(bob.account.identityKey);
  assert.equal(record(alice, bob).isVerified, true);
});

test('decryption-failure notices: resend, then abandon', () => {
  const alice = device('alice');
  const bob = device('bob');
  connect(alice, bob);
  // Bob lost his record for Alice: he cannot read her messages (here the
  // application saw `authentication`), and tells her with a signed notice.
  const lostBob = new c.SessionRecord();
  const aliceKey = alice.account.identityKey;
  const notices = ['one', 'two'].map((t) => {
    const wire = record(alice, bob).encrypt(Buffer.from(t));
    const notice = lostBob.decryptionFailure(wire, 'authentication', bob.account, aliceKey);
    assert.ok(notice);
    assert.equal(c.Incoming.decode(notice).kind, 'notice');
    // Errors that never call for a notice give none.
    assert.equal(lostBob.decryptionFailure(wire, 'too_many_skipped', bob.account, aliceKey), undefined);
    return notice;
  });
  const r = record(alice, bob);
  assert.equal(r.onDecryptionFailure(notices[0], alice.account), 'resend_requested');
  assert.equal(r.onDecryptionFailure(notices[0], alice.account), 'ignored:repeated');
  assert.equal(r.onDecryptionFailure(notices[1], alice.account), 'abandoned');
  assert.equal(r.needsNewSession, true);
  assert.throws(() => r.encrypt(Buffer.from('x')), { name: 'no_session' });
  // A notice from a stranger is ignored.
  const stranger = new c.SessionRecord();
  assert.equal(stranger.onDecryptionFailure(notices[0], alice.account), 'ignored:no_session');
  // A ratchet-only decrypt refuses a prekey message.
  const first = new c.SessionRecord();
  const other = device('carol');
  record(other, bob).startNew(other.account, c.PreKeyBundle.decode(bob.account.bundle()).verify(), config);
  const prekeyMessage = record(other, bob).encrypt(Buffer.from('hi'));
  assert.throws(() => first.decryptRatchet(prekeyMessage), { name: 'malformed', detail: 'bad_kind' });
});
