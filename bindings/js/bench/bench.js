'use strict';
// Encrypt + decrypt of 100 bytes through the JS binding (Node), one
// direction (symmetric ratchet steps) and ping-pong (a DH ratchet step per
// message). Prints microseconds per encrypt+decrypt.
const c = require(process.env.CLIQUET_PKG || '../pkg/node/cliquet_js.js');

const config = new c.SessionConfig();
const alice = new c.Account();
const bob = new c.Account();
const toBob = new c.SessionRecord();
const toAlice = new c.SessionRecord();
toBob.startNew(alice, c.PreKeyBundle.decode(bob.bundle()).verify(), config);
toAlice.decrypt(bob, toBob.encrypt(new Uint8Array(1)), config);
toBob.decryptRatchet(toAlice.encrypt(new Uint8Array(1)));
const payload = new Uint8Array(100).fill(0x61);

function time(label, n, f) {
  for (let i = 0; i < Math.min(n, 200); i++) f(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`${label}: ${us.toFixed(1)} µs`);
}
time('js one-direction encrypt+decrypt 100 B', 5000, () => toAlice.decryptRatchet(toBob.encrypt(payload)));
time('js ping-pong encrypt+decrypt 100 B', 1000, (i) => {
  if (i % 2) toBob.decryptRatchet(toAlice.encrypt(payload));
  else toAlice.decryptRatchet(toBob.encrypt(payload));
});
