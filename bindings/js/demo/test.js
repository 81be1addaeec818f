'use strict';
// Drives the demo in headless Chromium: serves bindings/js/ on 127.0.0.1,
// lets the page run its scenario (it writes its result into the DOM),
// reads the DOM with --dump-dom, and keeps a screenshot
// (target/bindings-demo.png, or $DEMO_SCREENSHOT, and -blocked.png of the
// moment a changed identity key blocks sending).
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const screenshot = process.env.DEMO_SCREENSHOT || path.resolve(root, '../../target/bindings-demo.png');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

function chromium() {
  for (const name of [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome']) {
    if (!name) continue;
    try { execFileSync('which', [name], { stdio: 'ignore' }); return name; } catch { /* next */ }
  }
  throw new Error('no chromium found (apt-get install -y chromium)');
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const file = path.join(root, path.normalize(decodeURIComponent(url.pathname)));
  if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});

server.listen(0, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${server.address().port}/demo/index.html`;
  const browser = chromium();
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--no-first-run', '--virtual-time-budget=30000', '--window-size=1280,800'];
  const run = (extra, url = base) => new Promise((resolve, reject) => {
    require('node:child_process').execFile(browser, [...flags, ...extra, url],
      { maxBuffer: 16 << 20, timeout: 120000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`)); else resolve(stdout);
      });
  });
  let failed = false;
  try {
    const dom = await run(['--dump-dom']);
    const m = dom.match(/<pre id="result">([^<]*)<\/pre>/);
    if (!m || !m[1]) throw new Error(`the page wrote no result:\n${dom.slice(0, 2000)}`);
    const result = JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
    for (const s of result.steps) console.log(`${s.ok ? 'ok' : 'FAILED'} - ${s.name}`);
    if (!result.ok) throw new Error(`scenario failed: ${result.error}`);
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await run([`--screenshot=${screenshot}`]);
    console.log(`screenshot: ${screenshot} (${fs.statSync(screenshot).size} bytes)`);
    // The same scenario stopped while sending is blocked on the new key.
    const blocked = screenshot.replace(/\.png$/, '-blocked.png');
    await run([`--screenshot=${blocked}`], `${base}?until=blocked`);
    console.log(`screenshot: ${blocked} (${fs.statSync(blocked).size} bytes)`);
  } catch (e) {
    console.error(e.message);
    failed = true;
  } finally {
    server.close();
  }
  process.exit(failed ? 1 : 0);
});
