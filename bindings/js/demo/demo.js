// Two people in two panes, everything in this page: Bob's devices publish
// bundles to a pretend directory, messages go through a pretend server
// (plain function calls), and every byte is encrypted by cliquet's wasm.
import init, * as c from '../pkg/web/cliquet_js.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const steps = [];

function pane(id) {
  const root = document.getElementById(id);
  return {
    root,
    log: root.querySelector('.log'),
    safety: root.querySelector('.safety'),
    devices: root.querySelector('.devices'),
    blocked: root.querySelector('.blocked'),
    input: root.querySelector('form input'),
    form: root.querySelector('form'),
  };
}
function show(p, text, cls) {
  const div = document.createElement('div');
  div.className = `msg ${cls}`;
  div.textContent = text;
  p.log.appendChild(div);
  p.log.scrollTop = p.log.scrollHeight;
}

async function main() {
  await init();
  const config = new c.SessionConfig();
  const A = pane('alice');
  const B = pane('bob');

  // Alice has one device; Bob starts with his phone.
  const alice = { name: 'Alice', account: new c.Account(), records: new Map() };
  const bob = { devices: new Map() };
  const addBobDevice = (name) => {
    const device = { name, account: new c.Account(), record: new c.SessionRecord() };
    bob.devices.set(name, device);
    return device;
  };
  addBobDevice('phone');

  // Alice sends to every device of Bob's: one record per device.
  function sessionTo(name) {
    const device = bob.devices.get(name);
    let record = alice.records.get(name);
    if (!record) { record = new c.SessionRecord(); alice.records.set(name, record); }
    if (record.needsNewSession || record.peerIdentityKey === undefined ||
        !sameKey(record.peerIdentityKey, device.account.identityKey)) {
      const [id] = device.account.generateOneTimePrekeys(1);
      const bundle = c.PreKeyBundle.decode(device.account.bundle(id)).verify();
      record.startNew(alice.account, bundle, config); // may throw identity_changed
    }
    return record;
  }
  function aliceSend(text) {
    let sent = 0;
    for (const [name, device] of bob.devices) {
      let wire;
      try {
        wire = sessionTo(name).encrypt(enc.encode(text));
      } catch (e) {
        if (e.code === 'identity_changed') { blockAlice(name); continue; }
        throw e;
      }
      const got = device.record.decrypt(device.account, wire, config);
      show(B, `Alice → ${name}: ${dec.decode(got.plaintext)}`, 'in');
      sent++;
    }
    if (sent) show(A, `${text}  (to ${sent} device${sent > 1 ? 's' : ''})`, 'out');
    return sent;
  }
  function bobSend(text, from = 'phone') {
    const device = bob.devices.get(from);
    const wire = device.record.encrypt(enc.encode(text));
    const plain = alice.records.get(from).decryptRatchet(wire);
    show(A, `Bob (${from}): ${dec.decode(plain)}`, 'in');
    show(B, `${text}  (from ${from})`, 'out');
  }

  let blockedDevice = null;
  function blockAlice(name) {
    blockedDevice = name;
    A.blocked.classList.remove('hidden');
    A.form.querySelector('button').disabled = true;
    show(A, `Bob's ${name} has a new identity key: sending is blocked until you accept it.`, 'sys');
  }
  function acceptChange() {
    const record = alice.records.get(blockedDevice);
    record.acceptIdentity(record.changedIdentity);
    show(A, `Accepted Bob's new key for his ${blockedDevice}.`, 'sys');
    blockedDevice = null;
    A.blocked.classList.add('hidden');
    A.form.querySelector('button').disabled = false;
    refresh();
  }
  function refresh() {
    const phone = bob.devices.get('phone');
    const sn = new c.SafetyNumber(alice.account.identityKey, enc.encode('alice@example'),
      phone.account.identityKey, enc.encode('bob@example'));
    const theirs = new c.SafetyNumber(phone.account.identityKey, enc.encode('bob@example'),
      alice.account.identityKey, enc.encode('alice@example'));
    A.safety.textContent = `Safety number with Bob's phone: ${sn}`;
    B.safety.textContent = `Safety number with Alice: ${theirs}`;
    A.devices.textContent = 'Devices: laptop';
    B.devices.textContent = `Devices: ${[...bob.devices.keys()].join(', ')}`;
    const same = sn.digits === theirs.digits;
    sn.free(); theirs.free();
    return same;
  }
  function sameKey(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }

  A.form.addEventListener('submit', (e) => { e.preventDefault(); if (A.input.value) aliceSend(A.input.value); A.input.value = ''; });
  B.form.addEventListener('submit', (e) => { e.preventDefault(); if (B.input.value) bobSend(B.input.value); B.input.value = ''; });
  A.blocked.querySelector('.accept').addEventListener('click', acceptChange);
  document.getElementById('add-device').addEventListener('click', () => { addDevice(); });
  document.getElementById('reinstall').addEventListener('click', () => { reinstall(); });

  function addDevice() {
    addBobDevice('tablet');
    show(B, 'Added a tablet: it publishes its own bundle.', 'sys');
    refresh();
  }
  function reinstall() {
    const phone = bob.devices.get('phone');
    phone.account.free(); phone.record.free();
    addBobDevice('phone');
    show(B, 'Phone reinstalled: a new identity key.', 'sys');
    refresh();
  }

  // The scenario, run on load (the browser test reads its result).
  const check = (name, ok) => { steps.push({ name, ok: !!ok }); if (!ok) throw new Error(`step failed: ${name}`); };
  check('safety numbers agree', refresh());
  check('alice to bob', aliceSend('Hi Bob!') === 1);
  bobSend('Hi Alice, PQXDH here.');
  check('bob to alice', A.log.textContent.includes('PQXDH here'));
  addDevice();
  check('device added: both of Bob\'s devices read Alice', aliceSend('Both your devices get this.') === 2);
  bobSend('Tablet here.', 'tablet');
  reinstall();
  check('identity change blocks sending', aliceSend('Are you still you?') === 1 && blockedDevice === 'phone'
    && A.form.querySelector('button').disabled);
  check('safety number changed and still agrees', refresh());
  // ?until=blocked stops here, for a screenshot of the blocked state.
  if (new URLSearchParams(location.search).get('until') === 'blocked') return ' (stopped while sending is blocked)';
  acceptChange();
  check('after accepting, sending works again', aliceSend('Welcome back.') === 2);
  bobSend('Thanks!');
}

main().then(
  (stop) => { document.getElementById('status').textContent = `scenario passed${stop || ''}`; finish(true); },
  (e) => { document.getElementById('status').textContent = `FAILED: ${e.name}: ${e.message}`; finish(false, e); },
);
function finish(ok, e) {
  document.getElementById('result').textContent = JSON.stringify({ ok, steps, error: e ? `${e.name}: ${e.message}` : undefined });
  document.title = ok ? 'cliquet demo: PASS' : 'cliquet demo: FAIL';
}
