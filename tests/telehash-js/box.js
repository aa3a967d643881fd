// Box channels against the JavaScript reference (telehash-js 0.4.18 on e3x 0.2.3), on
// 127.0.0.1 only.
//   node box.js BXD BXCTL
// bxd hosts boxes over UDP and TCP. A bx client (bxctl th send) stores a message for bob over
// each; then a telehash-js mesh, which has no box channel of its own, links to the host and
// opens box channels by hand: for bob's box (with its own key, and without a key), with a key
// that is not its link's, for its own box, and in pick mode. It must get responses, key info
// and errs, and never one of bob's messages; bob then collects both (nothing was taken).
// Prints one line per check and "N passed, M failed"; exits 1 when any failed.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [bxd, bxctl] = process.argv.slice(2);
if (!bxd || !bxctl) {
  console.error('usage: node box.js BXD BXCTL');
  process.exit(2);
}
const nm = path.join(__dirname, 'node_modules');
const telehash = require(path.join(nm, 'telehash'));
const quiet = () => {};
telehash.log({ debug: quiet, info: quiet, warn: quiet });

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
}

function b32decode(s) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0, acc = 0;
  const out = [];
  for (const ch of s.toLowerCase()) {
    acc = (acc << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((acc >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bx-thjs-box-'));
const file = (n) => path.join(work, n);
const children = [];
function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}

function bxctlRun(args) {
  const r = spawnSync(bxctl, args, { encoding: 'utf8', timeout: 20000 });
  return { code: r.status, out: (r.stdout || '').trim(), err: (r.stderr || '').trim() };
}

function waitFile(p, ms) {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const poll = setInterval(() => {
      if (fs.existsSync(p)) {
        clearInterval(poll);
        resolve(fs.readFileSync(p, 'utf8'));
      } else if (Date.now() > end) {
        clearInterval(poll);
        reject(new Error(`${p} did not appear`));
      }
    }, 50);
  });
}

function makeMesh() {
  return new Promise((resolve, reject) => {
    telehash.generate((err, id) => {
      if (err) return reject(err);
      const extensions = {
        udp4: require(path.join(nm, 'telehash-udp4')),
        tcp4: require(path.join(nm, 'telehash-tcp4')),
        path: telehash.extensions.path,
      };
      telehash.mesh({ id, ip: '127.0.0.1', port: 0, extensions }, (err2, mesh) => {
        if (err2 || !mesh) return reject(err2 || new Error('no mesh'));
        resolve({ mesh, id });
      });
    });
  });
}

// Opens a box channel on link with json (+ body); resolves with what came back.
function boxOpen(link, json, body) {
  return new Promise((resolve) => {
    const got = { packets: [], messages: 0, err: null };
    const open = { json: Object.assign({ type: 'box', seq: 1 }, json), body: body || Buffer.alloc(0) };
    const chan = link.x.channel(open);
    const timer = setTimeout(() => resolve(got), 3000);
    chan.receiving = (err, packet, cb) => {
      if (err) {
        got.err = String(err.message || err);
        clearTimeout(timer);
        resolve(got);
        return cb();
      }
      if (packet) {
        got.packets.push(packet);
        const first = got.packets.length === 1;
        if (!first && packet.body && packet.body.length && !packet.json.csid) got.messages++;
        if (first) {
          setTimeout(() => {
            clearTimeout(timer);
            resolve(got);
          }, 500); // anything else it would send comes right after the response
        }
      }
      cb();
    };
    chan.send(open);
  });
}

(async () => {
  for (const who of ['host', 'alice', 'bob'])
    check(bxctlRun(['th', 'keygen', file(`${who}.json`)]).code === 0, `keygen ${who}`);
  const bob = JSON.parse(fs.readFileSync(file('bob.json'), 'utf8')).hashname;
  const alice = JSON.parse(fs.readFileSync(file('alice.json'), 'utf8'));
  const host = spawn(bxd, ['--telehash', 'udp://127.0.0.1:0', '--telehash', 'tcp://127.0.0.1:0',
    '--th-id', file('host.json'), '--th-ready-file', file('ready.json')], { stdio: 'ignore' });
  children.push(host);
  const hostJson = JSON.parse(await waitFile(file('ready.json'), 5000));
  for (const type of ['udp4', 'tcp4']) {
    const only = Object.assign({}, hostJson, { paths: hostJson.paths.filter((p) => p.type === type) });
    fs.writeFileSync(file(`host-${type}.json`), JSON.stringify(only));
    const r = bxctlRun(['th', 'send', '--th-id', file('alice.json'), '--host', file(`host-${type}.json`),
      '--to-id', file('bob.json'), '--text', `over ${type}`]);
    check(r.code === 0 && /^stored [0-9a-f]{64} for /.test(r.out), `a bx client stores over ${type} (${r.err})`);
  }

  const { mesh, id } = await makeMesh();
  const link = mesh.link(hostJson);
  await new Promise((resolve) => link.on('status', (err) => !err && resolve()));
  check(true, 'a telehash-js mesh links to the bx host');
  const myKey = b32decode(id.keys['3a']);
  const results = [];

  let g = await boxOpen(link, { box: bob, csid: '3a' }, myKey);
  results.push(g);
  const r0 = g.packets[0] && g.packets[0].json;
  check(r0 && r0.cap === 10 && r0.waiting === 0, `bob's box opened by node: no message waits for node (${JSON.stringify(r0)})`);

  g = await boxOpen(link, { box: bob }, null);
  results.push(g);
  let k = g.packets[0];
  check(k && k.json.waiting === 0 && k.json.csid === undefined,
    "without csid for bob (never linked to the host): no key info, nothing else");
  g = await boxOpen(link, { box: alice.hashname }, null);
  results.push(g);
  k = g.packets[0];
  check(k && k.json.waiting === 0 && k.json.csid === '3a' && k.body.equals(b32decode(alice.keys['3a'])),
    "without csid for alice (she linked to store): her key info, nothing else");

  g = await boxOpen(link, { box: bob, csid: '3a' }, b32decode(alice.keys['3a']));
  results.push(g);
  check(g.err === 'client key does not match the link', `someone else's key: err (${g.err})`);

  g = await boxOpen(link, { box: mesh.hashname, csid: '3a' }, myKey);
  results.push(g);
  check(g.packets[0] && g.packets[0].json.waiting === 0, "node's own box: empty");

  g = await boxOpen(link, { csid: '3a' }, myKey);
  results.push(g);
  const p = g.packets[0] && g.packets[0].json;
  check(p && p.cap === 0 && p.waiting === 0 && p.box === undefined, 'pick mode: no box for node');

  g = await boxOpen(link, { box: 'not a hashname', csid: '3a' }, myKey);
  results.push(g);
  check(g.err === 'invalid box', `a malformed box: err (${g.err})`);

  const messages = results.reduce((n, x) => n + x.messages, 0);
  check(messages === 0, `node got no message packets (${messages})`);

  const r = bxctlRun(['--json', 'th', 'recv', '--th-id', file('bob.json'), '--host', file('ready.json')]);
  const lines = r.out.split('\n').filter((l) => l).map((l) => JSON.parse(l));
  check(r.code === 0 && lines.length === 2 && lines.every((m) => m.verified && m.from === alice.hashname) &&
    lines[0].text === 'over udp4' && lines[1].text === 'over tcp4', `bob collects both (${r.out} ${r.err})`);

  console.log(`${passed} passed, ${failed} failed`);
  cleanup();
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL ${e && e.stack}`);
  cleanup();
  process.exit(1);
});
