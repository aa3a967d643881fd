// Live interop of bx's telehash transport with the JavaScript reference (telehash-js 0.4.18 on
// e3x 0.2.3), on 127.0.0.1 only.
//   node interop.js TH_PEER
// For each transport (udp4, tcp4) and each role (bx dials: th_peer gets the mesh's JSON; node
// dials: the mesh gets th_peer's JSON) a fresh telehash-js mesh and a fresh th_peer link, and
// each side opens a reliable "bxtest" channel to the other and must get its echo back:
//   bx -> node "hello from bx", node answers "node-echo:hello from bx"
//   node -> bx "hello from node", bx answers "bx-echo:hello from node"
// Every packet the mesh receives from th_peer must come over the transport under test, and
// th_peer must drop none of the mesh's packets (its counters, printed when it stops). The mesh
// accepts links from unknown hashnames (mesh.accept = mesh.link), as telehash-js's own tools do.
// Prints one line per case and "N passed, M failed"; exits 1 when any case failed.
'use strict';
const { spawn } = require('child_process');
const readline = require('readline');
const path = require('path');

const thPeer = process.argv[2];
if (!thPeer) {
  console.error('usage: node interop.js TH_PEER');
  process.exit(2);
}
const nm = path.join(__dirname, 'node_modules');
const telehash = require(path.join(nm, 'telehash'));
const quiet = () => {};
telehash.log({ debug: quiet, info: quiet, warn: quiet });
const verbose = !!process.env.BX_THJS_VERBOSE;

const CASE_MS = 20000;

// The "bxtest" extension: answers every packet of an incoming bxtest channel with
// "node-echo:BODY", and opens one bxtest channel to every link that comes up.
function bxtestExt(state) {
  return {
    name: 'bxtest',
    mesh(mesh, cbExt) {
      const ext = { open: {} };
      ext.open.bxtest = function (args, open, cbOpen) {
        const link = this;
        state.openPipe = args.pipe && args.pipe.type;
        const chan = link.x.channel(open);
        chan.receiving = (err, packet, cb) => {
          if (packet && packet.body && packet.body.length) {
            const body = packet.body.toString();
            state.gotOpen = body;
            chan.send({ json: {}, body: Buffer.from('node-echo:' + body) });
          }
          cb();
        };
        chan.receive(open);
      };
      ext.link = function (link, cbLink) {
        link.on('status', (err) => {
          if (err || state.opened) return;
          state.opened = true;
          const open = { json: { type: 'bxtest', seq: 1 }, body: Buffer.from('hello from node') };
          const chan = link.x.channel(open);
          chan.receiving = (err2, packet, cb) => {
            if (packet && packet.body && packet.body.length) state.reply = packet.body.toString();
            cb();
          };
          chan.send(open);
        });
        cbLink();
      };
      cbExt(undefined, ext);
    },
  };
}

function makeMesh(state) {
  return new Promise((resolve, reject) => {
    telehash.generate((err, id) => {
      if (err) return reject(err);
      const extensions = {
        udp4: require(path.join(nm, 'telehash-udp4')),
        tcp4: require(path.join(nm, 'telehash-tcp4')),
        path: telehash.extensions.path,
        bxtest: bxtestExt(state),
      };
      telehash.mesh({ id, ip: '127.0.0.1', port: 0, extensions }, (err2, mesh) => {
        if (err2 || !mesh) return reject(err2 || new Error('no mesh'));
        // accept links from unknown peers (telehash-js ignores their handshakes otherwise)
        mesh.accept = mesh.link;
        // count what arrives by pipe type
        const receive = mesh.receive.bind(mesh);
        mesh.receive = (packet, pipe) => {
          state.pipes[pipe.type] = (state.pipes[pipe.type] || 0) + 1;
          return receive(packet, pipe);
        };
        resolve(mesh);
      });
    });
  });
}

// The mesh's JSON with only the 127.0.0.1 path of one transport.
function meshJson(mesh, type) {
  const p = mesh.paths().find((x) => x.type === type);
  return { hashname: mesh.hashname, keys: mesh.keys, paths: [{ type, ip: '127.0.0.1', port: p.port }] };
}

function runCase(type, bxDials) {
  const name = `${type} ${bxDials ? 'bx dials ' : 'node dials'}`;
  const state = { pipes: {}, opened: false };
  return makeMesh(state).then(
    (mesh) =>
      new Promise((resolve) => {
        const bind = `${type === 'udp4' ? 'udp' : 'tcp'}://127.0.0.1:0`;
        const args = ['--bind', bind, '--open', 'bxtest', '--timeout', '40'];
        if (bxDials) args.push('--peer', JSON.stringify(meshJson(mesh, type)));
        const child = spawn(thPeer, args, { stdio: ['ignore', 'pipe', 'inherit'] });
        const bx = { lines: [] };
        let finished = false;
        const finish = (why) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          // give the acknowledgements of the last packets a moment before stopping th_peer
          setTimeout(() => child.kill('SIGTERM'), 300);
          const other = Object.keys(state.pipes).filter((t) => t !== type);
          const problems = [];
          if (!bx.up) problems.push('bx saw no link up');
          if (bx.reply !== 'node-echo:hello from bx') problems.push(`bx got reply ${bx.reply}`);
          if (state.gotOpen !== 'hello from bx') problems.push(`node got open ${state.gotOpen}`);
          if (state.openPipe !== type) problems.push(`bx's open came over ${state.openPipe}`);
          if (state.reply !== 'bx-echo:hello from node') problems.push(`node got reply ${state.reply}`);
          if (bx.echoed !== 'hello from node') problems.push(`bx saw node's open: ${bx.echoed}`);
          if (other.length) problems.push(`packets over ${other.join(',')}: ${JSON.stringify(state.pipes)}`);
          if (why) problems.push(why);
          child.once('close', (code) => {
            if (code !== 0 && code !== null) problems.push(`th_peer exited ${code}`);
            if (!/ dropped 0 /.test(bx.stats || '')) problems.push(`bx dropped packets: ${bx.stats}`);
            if (verbose) console.log(bx.lines.join('\n'));
            const ok = problems.length === 0;
            console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ': ' + problems.join('; ')}`);
            resolve(ok);
          });
        };
        const done = () =>
          bx.up && bx.reply && bx.echoed && state.gotOpen && state.reply && finish();
        const timer = setTimeout(() => finish('timed out'), CASE_MS);
        readline.createInterface({ input: child.stdout }).on('line', (line) => {
          bx.lines.push(line);
          const sp = line.indexOf(' ');
          const word = line.slice(0, sp), rest = line.slice(sp + 1);
          if (word === 'json' && !bxDials) {
            const j = JSON.parse(rest);
            mesh.link({ hashname: j.hashname, keys: j.keys, paths: j.paths });
          } else if (word === 'up') bx.up = rest;
          else if (word === 'reply') bx.reply = rest;
          else if (word === 'stats') bx.stats = line;
          else if (word === 'open') bx.echoed = rest.slice(rest.indexOf(' ') + 1);
          done();
        });
        const poll = setInterval(() => {
          if (finished) return clearInterval(poll);
          done();
        }, 50);
        child.on('error', (e) => finish(`spawn: ${e.message}`));
      })
  );
}

(async () => {
  let passed = 0, failed = 0;
  for (const type of ['udp4', 'tcp4'])
    for (const bxDials of [true, false]) {
      const ok = await runCase(type, bxDials).catch((e) => {
        console.log(`FAIL ${type}: ${e && e.stack}`);
        return false;
      });
      if (ok) passed++;
      else failed++;
    }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
