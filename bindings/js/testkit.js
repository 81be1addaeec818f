'use strict';
// Shared by test/*.test.js (outside test/, where Node would run it as a test file): the Node build of the package, and a few people.
const c = require('./pkg/node/cliquet_js.js');

const config = new c.SessionConfig();

/** A device: its account, and its records by peer device name. */
function device(name) {
  return { name, account: new c.Account(), records: new Map() };
}

/** The record `from` keeps for `to`, created on first use. */
function record(from, to) {
  if (!from.records.has(to.name)) from.records.set(to.name, new c.SessionRecord());
  return from.records.get(to.name);
}

/** `from` starts a session with `to` from `to`'s published bundle. */
function connect(from, to) {
  const [oneTime] = to.account.generateOneTimePrekeys(1);
  const published = to.account.bundle(oneTime);
  const bundle = c.PreKeyBundle.decode(published).verify();
  record(from, to).startNew(from.account, bundle, config);
  bundle.free();
}

/** Sends `text` from `from` to `to`; returns what `to` read. */
function send(from, to, text) {
  const wire = record(from, to).encrypt(Buffer.from(text));
  const incoming = c.Incoming.decode(wire);
  const kind = incoming.kind;
  incoming.free();
  if (kind !== 'message') throw new Error(`unexpected ${kind}`);
  const got = record(to, from).decrypt(to.account, wire, config);
  return Buffer.from(got.plaintext).toString();
}

/** Asserts that `f` throws a cliquet error named `name` (and `detail`). */
function throwsNamed(assert, f, name, detail) {
  assert.throws(f, (e) => {
    assert.ok(e instanceof Error, 'a JS Error');
    assert.equal(e.name, name);
    assert.equal(e.code, name);
    if (detail !== undefined) assert.equal(e.detail, detail);
    return true;
  });
}

module.exports = { c, config, device, record, connect, send, throwsNamed };
