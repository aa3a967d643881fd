// End-to-end test of the browser side: headless Chromium loads examples/web from a bx server
// (which also serves the calculator over WebSocket on the same port), clicks through the page
// and checks what it shows; then runs bx.js inside the page against the same server.
//
//   node tests/web/e2e.mjs http://127.0.0.1:PORT/
//
// Chromium: $BX_CHROMIUM or /usr/bin/chromium (Debian's package; never a downloaded browser).
// Prints "ok: NAME" or "FAILED: NAME" per check, then "N passed, M failed"; exits 1 on failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

// Optional: --server-pid PID -- COMMAND...: the test kills that server and starts COMMAND (the
// same server on the same port) to check that the page survives a server restart.
const [pageUrl, ...rest] = process.argv.slice(2);
const dashdash = rest.indexOf('--');
const serverPid = rest[0] === '--server-pid' ? Number(rest[1]) : 0;
const serverCmd = dashdash >= 0 ? rest.slice(dashdash + 1) : [];
if (!pageUrl || (serverPid && !serverCmd.length)) {
  console.error('usage: node e2e.mjs http://127.0.0.1:PORT/ [--server-pid PID -- SERVER_COMMAND...]');
  process.exit(2);
}
let restarted = null; // the server this test started, if any

/** Starts the server again; resolves once it prints "ready". */
function startServer(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => reject(new Error(`restarted server not ready: ${out}`)), 10000);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`restarted server exited (${code}): ${out}`)));
    child.output = () => out;
    child.stdout.on('data', (d) => {
      out += d;
      if (/^ready$/m.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}
const executablePath = process.env.BX_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  console.error(`e2e: no Chromium at ${executablePath} (apt-get install chromium, or set BX_CHROMIUM)`);
  process.exit(2);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bx-e2e-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
} catch (e) {
  console.log(`FAILED: Chromium starts\n  ${e.message}`);
  fs.rmSync(profile, { recursive: true, force: true });
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(10000);
const problems = []; // page errors and console errors: none expected
let offline = false; // ... except failed WebSocket connections while the server is down
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  if (offline && /^WebSocket connection to .* failed/.test(m.text())) return;
  problems.push(`console error: ${m.text()}`);
});

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok: ${name}`);
  } catch (e) {
    failed++;
    const text = String(e.message ?? e).replace(/\x1b\[[0-9;]*m/g, ''); // no terminal colours
    console.log(`FAILED: ${name}\n  ${text.trimEnd().split('\n').join('\n  ')}`);
  }
}
function expect(what, got, want) {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, wanted ${JSON.stringify(want)}`);
}

/** Clicks #ID-btn and waits for #ID-result to settle; returns {state, text, title}. */
async function press(id) {
  await page.click(`#${id}-btn`);
  const out = page.locator(`#${id}-result`);
  await page.waitForSelector(`#${id}-result[data-state="ok"], #${id}-result[data-state="error"]`);
  return { state: await out.getAttribute('data-state'), text: await out.textContent(), title: await out.getAttribute('title') };
}

await check('the page loads and connects (status: connected)', async () => {
  const res = await page.goto(pageUrl);
  expect('HTTP status', res.status(), 200);
  await page.waitForSelector('#status[data-state="connected"]');
  expect('status text', await page.textContent('#status'), 'connected');
});

if (failed) {
  // Nothing else can work without the page.
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}

await check('add(1, 2) shows 3', async () => {
  const r = await press('add');
  expect('state', r.state, 'ok');
  expect('add', r.text, '3');
});

await check('echo shows the text it sent (non-ASCII, quotes, markup)', async () => {
  const text = 'héllo "q" € ✓ <b>not html</b>';
  await page.fill('#echo-input', text);
  const r = await press('echo');
  expect('state', r.state, 'ok');
  expect('echo', r.text, text);
});

await check('fail() is shown as the error "Error: boom" (BX_EREMOTE)', async () => {
  const r = await press('fail');
  expect('state', r.state, 'error');
  expect('text', r.text, 'Error: boom');
  expect('code', r.title, 'BX_EREMOTE');
});

await check('throwSync() is shown as the error "sync boom"', async () => {
  const r = await press('throw');
  expect('state', r.state, 'error');
  expect('text', r.text, 'sync boom');
});

await check('notify() is sent one-way', async () => {
  const r = await press('notify');
  expect('notify', [r.state, r.text].join(' '), 'ok sent');
});

await check('scale({1.5, -2, "p"}, 2) shows the scaled point', async () => {
  const r = await press('scale');
  expect('state', r.state, 'ok');
  expect('scale', r.text, 'x=3 y=-4 label=p*2');
});

await check('countdown(listener, 3): the server calls the page back with ticks 3, 2, 1', async () => {
  const r = await press('countdown');
  expect('state', r.state, 'ok');
  expect('result', r.text, '3 ticks');
  expect('ticks', (await page.locator('#countdown-ticks li').allTextContents()).join(' '), '3 2 1');
});

await check('a call to a service that does not exist fails with BX_ENOSERVICE', async () => {
  const r = await press('nosuch');
  expect('state', r.state, 'error');
  expect('code', r.title, 'BX_ENOSERVICE');
  expect('text', r.text, 'no such service: nosuch');
});

await check('"run all" runs every call again', async () => {
  await page.fill('#countdown-n', '5');
  const r = await press('all');
  expect('all', [r.state, r.text].join(' '), 'ok done');
  expect('add', await page.textContent('#add-result'), '3');
  expect('fail', await page.textContent('#fail-result'), 'Error: boom');
  expect('ticks', (await page.locator('#countdown-ticks li').allTextContents()).join(' '), '5 4 3 2 1');
});

// bx.js itself, in the page, against the real server.
const inPage = (fn, arg) =>
  page.evaluate(
    async ([src, a]) => {
      const bx = await import('./bx.js');
      const conn = bx.connect(`ws://${location.host}/`, { timeout: 5000 });
      try {
        // eslint-disable-next-line no-new-func
        return await new Function('bx', 'conn', 'arg', `return (${src})(bx, conn, arg);`)(bx, conn, a);
      } finally {
        conn.close();
      }
    },
    [fn.toString(), arg],
  );

await check('bx.js in the page: JSON values and Dates round trip through echo', async () => {
  const got = await inPage(async (bx, conn) => {
    const values = [null, true, 1.5, 0, -7, 9007199254740992, 'str', [1, 'a', null],
      { plain: { nested: [1, 2] }, k: 'v' }, 'tab\tnl\nquote"back\\', '\u0001\u001f', 'emoji 😀'];
    const out = [];
    for (const v of values) out.push(JSON.stringify(await conn.call('calc', 'echo', [v])) === JSON.stringify(v));
    const d = await conn.call('calc', 'echo', [new Date(1700000000000)]);
    out.push(d instanceof Date && d.getTime() === 1700000000000);
    return out;
  });
  expect('all equal', got.every(Boolean), true);
});

await check('bx.js in the page: 200 concurrent calls, answered and matched', async () => {
  const sums = await inPage(async (bx, conn) => {
    const calls = [];
    for (let i = 0; i < 200; i++) calls.push(conn.call('calc', 'add', [i, 1]));
    return Promise.all(calls);
  });
  expect('sums', sums.every((s, i) => s === i + 1), true);
});

await check('bx.js in the page: a 300 kB string round trip', async () => {
  const ok = await inPage(async (bx, conn) => {
    const big = 'x€'.repeat(150000);
    return (await conn.call('calc', 'echo', [big])) === big;
  });
  expect('equal', ok, true);
});

await check('bx.js in the page: errors carry codes (remote, no service, bad argument)', async () => {
  const codes = await inPage(async (bx, conn) => {
    const code = (p) => p.then(() => 'resolved', (e) => `${e instanceof bx.BxError}:${e.code}`);
    return [
      await code(conn.call('calc', 'fail')),
      await code(conn.call('nosuch', 'add', [1, 1])),
      await code(conn.call('calc', 'countdown', [null, 2000])),
      await code(conn.call('calc', 'nosuchmethod', [])),
    ];
  });
  expect('codes', codes.slice(0, 2).join(' '), 'true:BX_EREMOTE true:BX_ENOSERVICE');
  expect('bad countdown', codes[2].startsWith('true:'), true);
  expect('no such method', codes[3].startsWith('true:'), true);
});

await check('a dropped connection: the call in flight fails with BX_ECONNLOST, the page reconnects', async () => {
  const code = await page.evaluate(async () => {
    const p = window.bxConn.call('calc', 'fail').then(() => 'resolved', (e) => e.code);
    window.bxConn.disconnect();
    return p;
  });
  expect('in flight', code, 'BX_ECONNLOST');
  await page.waitForSelector('#status[data-state="disconnected"]');
  await page.waitForSelector('#status[data-state="connected"]');
  const r = await press('add');
  expect('add after reconnecting', [r.state, r.text].join(' '), 'ok 3');
});

if (serverPid) {
  await check('the server dies and comes back: calls fail meanwhile, the page reconnects by itself', async () => {
    offline = true;
    process.kill(serverPid, 'SIGKILL');
    await page.waitForSelector('#status[data-state="disconnected"]');
    const down = await press('add');
    expect('add while the server is down', [down.state, down.title].join(' '), 'error BX_ECONNLOST');
    restarted = await startServer(serverCmd);
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 20000 });
    offline = false;
    const up = await press('add');
    expect('add after the restart', [up.state, up.text].join(' '), 'ok 3');
    const r = await press('countdown');
    expect('countdown after the restart', [r.state, r.text].join(' '), 'ok 5 ticks');
  });
}

/** In page p: opens a WebSocket to url; resolves 'open' or 'refused'. */
function tryWebSocket(p, url) {
  return p.evaluate((u) => new Promise((resolve) => {
    const ws = new WebSocket(u);
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('refused');
    setTimeout(() => resolve('no answer'), 5000);
  }), url);
}

await check('a page of another origin cannot open a WebSocket to the server; its own page can', async () => {
  const http = await import('node:http');
  const wsUrl = `ws://${new URL(pageUrl).host}/`;
  const other = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>another site</title>');
  });
  await new Promise((resolve) => other.listen(0, '127.0.0.1', resolve));
  const otherPage = await context.newPage(); // its console errors are expected: not watched
  try {
    await otherPage.goto(`http://127.0.0.1:${other.address().port}/`);
    expect('a WebSocket from another origin', await tryWebSocket(otherPage, wsUrl), 'refused');
    expect('a WebSocket from the served page', await tryWebSocket(page, wsUrl), 'open');
  } finally {
    await otherPage.close();
    other.close();
  }
});

await check('no page errors and no console errors', async () => {
  if (problems.length) throw new Error(problems.join('\n'));
});

if (restarted) {
  await check('the restarted server shuts down cleanly on SIGTERM (exit 0)', async () => {
    const child = restarted;
    restarted = null;
    const code = await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.on('exit', (c, sig) => (clearTimeout(timer), resolve(c ?? sig)));
      child.kill('SIGTERM');
    });
    if (code !== 0) throw new Error(`exit ${code}\n${child.output()}`);
  });
}

if (failed) {
  const shot = path.join(os.tmpdir(), `bx-e2e-${process.pid}.png`);
  await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
  console.log(`screenshot of the page: ${shot}`);
}
await context.close();
fs.rmSync(profile, { recursive: true, force: true });
restarted?.kill('SIGTERM');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
