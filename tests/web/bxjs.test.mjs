// Unit tests of clients/js/bx.js under Node, with a fake WebSocket (no server needed):
//   node --test tests/web/bxjs.test.mjs
// The frames bx.js writes are checked against FOAM2's captured frames byte for byte, and the
// captured replies are fed back to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { connect, BxError, RemoteBox, LocalBox, foamStringify, appError } from '../../clients/js/bx.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const captures = path.join(here, '..', 'data', 'spec', 'foam', 'captures');
const readCapture = (name) =>
  fs.readFileSync(path.join(captures, name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** A fresh fake WebSocket class per test: the test plays the server. */
function fakeWebSocket() {
  class FakeWebSocket {
    static sockets = [];
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      this.closedWith = null;
      FakeWebSocket.sockets.push(this);
    }
    send(text) {
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.sent.push(text);
    }
    close(code) {
      this.closedWith = code;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code }), 0);
    }
    // the server's side
    accept() {
      this.readyState = 1;
      this.onopen?.({});
    }
    refuse() {
      this.readyState = 3;
      this.onerror?.({});
      this.onclose?.({ code: 1006 });
    }
    drop() {
      this.readyState = 3;
      this.onclose?.({ code: 1006 });
    }
    deliver(data) {
      this.onmessage?.({ data: typeof data === 'string' ? data : data });
    }
    frames() {
      return this.sent.map((t) => JSON.parse(t));
    }
  }
  return FakeWebSocket;
}

/** A logger that records warnings instead of printing them. */
function quietLogger() {
  const warnings = [];
  return { warnings, warn: (m) => warnings.push(m) };
}

/** A connection over a fake socket that is already open. */
async function openConn(opts = {}) {
  const WS = fakeWebSocket();
  const logger = quietLogger();
  const conn = connect('ws://test/', { WebSocket: WS, logger, timeout: 2000, ...opts });
  const opened = conn.open();
  WS.sockets[0].accept();
  await opened;
  return { conn, WS, ws: WS.sockets[0], logger };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const replyName = (frame) => frame.attributes.replyBox.name;
const replyFrame = (name, object) =>
  JSON.stringify({ class: 'foam.box.Message', attributes: {}, object: { class: 'foam.box.SubBoxMessage', name, object } });

/** Rebuilds the JS arguments a FOAM2 client passed (timestamps as Dates, boxes as exports). */
function jsArgs(conn, args) {
  return (args ?? []).map(function js(v) {
    if (Array.isArray(v)) return v.map(js);
    if (v && typeof v === 'object') {
      if (v.class === '__Timestamp__') return new Date(v.value);
      if (v.class === 'foam.box.SubBox') return conn.export({}, { name: v.name });
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, js(x)]));
    }
    return v;
  });
}

/**
 * Replays a capture: each c2s frame is produced through bx.js's API and compared with the
 * captured one (exactly, or after normalising FOAM2-2018's extra attributes); each s2c reply is
 * delivered (renamed to bx.js's reply box) and the call's outcome checked against it.
 */
async function replay(file, exact) {
  const { conn, ws } = await openConn();
  const lines = readCapture(file);
  const names = new Map(); // capture's reply box name -> ours
  const outcomes = new Map(); // capture's reply box name -> promise of {ok, value|error}
  const normalise = (o) => {
    if (Array.isArray(o)) return o.map(normalise);
    if (!o || typeof o !== 'object') return o;
    const out = {};
    for (const [k, v] of Object.entries(o)) if (!(k === 'attributes' && o.class !== 'foam.box.Message')) out[k] = normalise(v);
    if (out.class === 'foam.box.RPCMessage' && !out.args) out.args = [];
    return out;
  };
  for (const line of lines) {
    const frame = JSON.parse(line.payload);
    if (line.dir === 'c2s') {
      const before = ws.sent.length;
      const obj = frame.object;
      let promise = null;
      if (obj.class === 'foam.box.SubBoxMessage') {
        promise = conn.call(obj.name, obj.object.name, jsArgs(conn, obj.object.args));
      } else if (obj.class === 'foam.box.RPCMessage') {
        promise = conn.root.call(obj.name, jsArgs(conn, obj.args));
      } else {
        conn.root.send(obj);
      }
      assert.equal(ws.sent.length, before + 1, 'one frame per call');
      let ours = ws.sent.at(-1);
      const theirName = frame.attributes.replyBox?.name;
      if (theirName) {
        const ourName = JSON.parse(ours).attributes.replyBox.name;
        names.set(theirName, ourName);
        ours = ours.replace(`"name":"${ourName}"`, `"name":"${theirName}"`);
        outcomes.set(
          theirName,
          promise.then((value) => ({ ok: true, value }), (error) => ({ ok: false, error })),
        );
      }
      if (exact) assert.equal(ours, line.payload);
      else assert.deepEqual(normalise(JSON.parse(ours)), normalise(frame));
    } else {
      const theirName = frame.object.name;
      const reply = frame.object.object;
      ws.deliver(line.payload.replace(`"name":"${theirName}"`, `"name":"${names.get(theirName)}"`));
      const got = await outcomes.get(theirName);
      if (reply.class === 'foam.box.RPCReturnMessage') {
        assert.ok(got.ok, `${theirName} resolves`);
        const data = reply.data;
        if (!('data' in reply)) assert.equal(got.value, undefined);
        else if (data && data.class === '__Timestamp__') assert.deepEqual(got.value, new Date(data.value));
        else if (data && data.class === 'foam.box.SubBox') {
          assert.ok(got.value instanceof RemoteBox);
          assert.deepEqual(got.value.ref, data);
        } else assert.deepEqual(got.value, data);
      } else if (reply.class === 'foam.box.RPCErrorMessage') {
        assert.ok(!got.ok && got.error instanceof BxError);
        assert.equal(got.error.code, 'BX_EREMOTE');
        assert.equal(got.error.message, reply.data);
      } else if (reply.class === 'foam.box.NoSuchNameException') {
        assert.equal(got.error.code, 'BX_ENOSERVICE');
        assert.match(got.error.message, /nosuch/);
      }
    }
  }
  assert.equal(ws.sent.length, lines.filter((l) => l.dir === 'c2s').length);
  // Every one-shot reply box is gone once answered; the one FOAM2 left unanswered stays.
  const unanswered = [...outcomes.keys()].filter((n) => !lines.some((l) => l.dir === 's2c' && JSON.parse(l.payload).object.name === n));
  assert.equal(conn._calls.size, unanswered.length);
  conn.close();
}

test('FOAM2 HEAD capture: frames byte for byte, replies accepted', () => replay('ws-foam2-head.jsonl', true));
test('FOAM2 HEAD capture of JSON types: frames byte for byte, values round trip', () =>
  replay('ws-foam2-head-types.jsonl', true));
test('FOAM2 2018 capture: same messages, and its replies (with nested attributes) accepted', () =>
  replay('ws-foam2-2018.jsonl', false));

test('a call: SubBoxMessage{service, RPCMessage} with a fresh one-shot reply box', async () => {
  const { conn, ws } = await openConn();
  const p1 = conn.call('calc', 'add', [1, 2]);
  const p2 = conn.service('calc').add(3, 4);
  const [f1, f2] = ws.frames();
  assert.deepEqual(f1, {
    class: 'foam.box.Message',
    attributes: { replyBox: { class: 'foam.box.SubBox', name: replyName(f1), delegate: { class: 'foam.box.ReturnBox' } } },
    object: { class: 'foam.box.SubBoxMessage', name: 'calc', object: { class: 'foam.box.RPCMessage', name: 'add', args: [1, 2] } },
  });
  assert.notEqual(replyName(f1), replyName(f2));
  // replies in any order, matched by name only
  ws.deliver(replyFrame(replyName(f2), { class: 'foam.box.RPCReturnMessage', data: 7 }));
  ws.deliver(replyFrame(replyName(f1), { class: 'foam.box.RPCReturnMessage', data: 3 }));
  assert.equal(await p1, 3);
  assert.equal(await p2, 7);
  // one-shot: a second reply to the same name is answered NoSuchName when it has a reply box
  ws.deliver(JSON.stringify({
    class: 'foam.box.Message',
    attributes: { replyBox: { class: 'foam.box.SubBox', name: '9', delegate: { class: 'foam.box.ReturnBox' } } },
    object: { class: 'foam.box.SubBoxMessage', name: replyName(f1), object: { class: 'foam.box.RPCReturnMessage', data: 3 } },
  }));
  assert.equal(ws.sent.at(-1), replyFrame('9', { class: 'foam.box.NoSuchNameException', name: replyName(f1) }));
  assert.equal(conn._boxes.size, 0);
  conn.close();
});

test('a stub is not thenable and rejects bad names', async () => {
  const { conn } = await openConn();
  const calc = conn.service('calc');
  assert.equal(calc.then, undefined);
  await assert.rejects(conn.call('', 'add', []), { code: 'BX_EINVAL' });
  await assert.rejects(conn.call('calc', '', []), { code: 'BX_EINVAL' });
  await assert.rejects(conn.call('calc', 'add', 'notarray'), { code: 'BX_EINVAL' });
  conn.close();
});

test('notify is one-way: no reply box, attributes {}', async () => {
  const { conn, ws } = await openConn();
  conn.notify('calc', 'notify', ['fire-and-forget']);
  assert.equal(
    ws.sent[0],
    '{"class":"foam.box.Message","attributes":{},"object":{"class":"foam.box.SubBoxMessage","name":"calc","object":{"class":"foam.box.RPCMessage","name":"notify","args":["fire-and-forget"]}}}',
  );
  assert.equal(conn._boxes.size, 0);
  conn.close();
});

test('errors: string data, RemoteException, NoSuchName, unexpected reply', async () => {
  const { conn, ws } = await openConn();
  const calls = [0, 1, 2, 3, 4].map(() => conn.call('calc', 'fail'));
  const names = ws.frames().map(replyName);
  ws.deliver(replyFrame(names[0], { class: 'foam.box.RPCErrorMessage', data: 'Error: boom' }));
  ws.deliver(replyFrame(names[1], {
    class: 'foam.box.RPCErrorMessage',
    data: { class: 'foam.box.RemoteException', id: 'E_DENIED', message: 'denied' },
  }));
  ws.deliver(replyFrame(names[2], { class: 'foam.box.NoSuchNameException', name: 'calc' }));
  ws.deliver(replyFrame(names[3], { class: 'foam.box.HelloMessage' }));
  ws.deliver(replyFrame(names[4], { class: 'foam.box.RPCErrorMessage', data: { message: 'plain object' } }));
  const errs = await Promise.all(calls.map((p) => p.catch((e) => e)));
  assert.ok(errs.every((e) => e instanceof BxError && e instanceof Error));
  assert.deepEqual(errs.map((e) => [e.code, e.message]), [
    ['BX_EREMOTE', 'Error: boom'],
    ['E_DENIED', 'denied'],
    ['BX_ENOSERVICE', 'no such service: calc'],
    ['BX_EBADMSG', 'calc.fail: unexpected reply foam.box.HelloMessage'],
    ['BX_EREMOTE', 'plain object'],
  ]);
  assert.equal(errs[0].data, 'Error: boom');
  assert.equal(errs[1].data.id, 'E_DENIED');
  conn.close();
});

test('application errors: code and text together, both ways; data stays the string FOAM2 reads', async () => {
  const { conn, ws } = await openConn();
  const calls = [0, 1, 2].map(() => conn.call('calc', 'recall', ['x']));
  const names = ws.frames().map(replyName);
  ws.deliver(replyFrame(names[0], { class: 'foam.box.RPCErrorMessage', data: 'no such item: x', code: 'UV_ENOENT' }));
  ws.deliver(replyFrame(names[1], { class: 'foam.box.RPCErrorMessage', data: 'out of stock', code: -100007 }));
  ws.deliver(replyFrame(names[2], { class: 'foam.box.RPCErrorMessage', data: 'Error: boom' }));
  const errs = await Promise.all(calls.map((p) => p.catch((e) => e)));
  assert.deepEqual(errs.map((e) => [e.code, e.appCode, e.message]), [
    ['BX_EREMOTE', 'UV_ENOENT', 'no such item: x'],
    ['BX_EREMOTE', -100007, 'out of stock'],
    ['BX_EREMOTE', undefined, 'Error: boom'],
  ]);
  // an export throwing appError() answers with the code beside the text
  const svc = conn.export({
    find(k) { throw appError('UV_ENOENT', `no such item: ${k}`); },
    async later() { throw appError(-100007, 'out of stock'); },
  });
  const n = ws.sent.length;
  for (const [box, method] of [['a1', 'find'], ['a2', 'later']])
    ws.deliver(JSON.stringify({
      class: 'foam.box.Message',
      attributes: { replyBox: { class: 'foam.box.SubBox', name: box, delegate: { class: 'foam.box.ReturnBox' } } },
      object: { class: 'foam.box.SubBoxMessage', name: svc.name, object: { class: 'foam.box.RPCMessage', name: method, args: ['k'] } },
    }));
  await sleep(10);
  assert.deepEqual(ws.frames().slice(n - ws.sent.length).map((f) => f.object), [
    { class: 'foam.box.SubBoxMessage', name: 'a1', object: { class: 'foam.box.RPCErrorMessage', data: 'no such item: k', code: 'UV_ENOENT' } },
    { class: 'foam.box.SubBoxMessage', name: 'a2', object: { class: 'foam.box.RPCErrorMessage', data: 'out of stock', code: -100007 } },
  ]);
  conn.close();
});

test('AbortSignal: BX_ECANCELED once, a cancel naming the request goes to the service', async () => {
  const { conn, ws } = await openConn();
  const ac = new AbortController();
  const p = conn.call('calc', 'slow', [1], { signal: ac.signal });
  const [req] = ws.frames();
  const id = req.attributes.callId;
  assert.match(id, /^js\./);
  assert.deepEqual(Object.keys(req.attributes), ['replyBox', 'callId']);
  ac.abort();
  await assert.rejects(p, { code: 'BX_ECANCELED', message: 'calc.slow: canceled' });
  assert.deepEqual(ws.frames()[1], {
    class: 'foam.box.Message',
    attributes: { cancel: id },
    object: { class: 'foam.box.SubBoxMessage', name: 'calc', object: { class: 'foam.box.HelloMessage' } },
  });
  // the late answer is ignored; the reply box is gone
  ws.deliver(replyFrame(replyName(req), { class: 'foam.box.RPCReturnMessage', data: 1 }));
  assert.equal(conn._boxes.size, 0);
  // already aborted: nothing is sent; without a signal, no callId (FOAM2's frames unchanged)
  const n = ws.sent.length;
  await assert.rejects(conn.call('calc', 'add', [1, 2], { signal: ac.signal }), { code: 'BX_ECANCELED' });
  assert.equal(ws.sent.length, n);
  const q = conn.call('calc', 'add', [1, 2]);
  assert.deepEqual(Object.keys(ws.frames().at(-1).attributes), ['replyBox']);
  ws.deliver(replyFrame(replyName(ws.frames().at(-1)), { class: 'foam.box.RPCReturnMessage', data: 3 }));
  assert.equal(await q, 3);
  conn.close();
});

test('__Timestamp__ golden vectors: the ISO-8601 string form and the number form both give the Date', async () => {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '../data/codec/timestamp-vectors.jsonl');
  const vectors = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(vectors.length >= 10);
  const { conn } = await openConn();
  for (const v of vectors) {
    const frame = JSON.parse(v.frame);
    let value = frame.object.object;
    value = value.class === 'foam.box.RPCReturnMessage' ? value.data : value.args[0];
    const d = conn._fromWire(value);
    assert.ok(d instanceof Date, v.name);
    assert.equal(d.getTime(), v.ms, v.name);
    assert.deepEqual(conn._toWire(d), JSON.parse(v.encodes_as).object.object.data ?? JSON.parse(v.encodes_as).object.object.args[0], v.name);
  }
  conn.close();
});

test('an exported object: in args as SubBox{name, ReturnBox}; the server calls it back', async () => {
  const { conn, ws } = await openConn();
  const ticks = [];
  const listener = conn.export({
    tick(n) { ticks.push(n); },
    async slow(x) { await tick(); return { got: x, at: new Date(5) }; },
    bad() { throw new Error('nope'); },
    async badLater() { throw 'later nope'; },
  });
  assert.ok(listener instanceof LocalBox);
  const done = conn.call('calc', 'countdown', [listener, 3]);
  const call = ws.frames()[0];
  assert.deepEqual(call.object.object.args, [
    { class: 'foam.box.SubBox', name: listener.name, delegate: { class: 'foam.box.ReturnBox' } },
    3,
  ]);
  // what bx's calc_server sends: one-way ticks, then the answer
  for (const n of [3, 2, 1]) ws.deliver(replyFrame(listener.name, { class: 'foam.box.RPCMessage', name: 'tick', args: [n] }));
  ws.deliver(replyFrame(replyName(call), { class: 'foam.box.RPCReturnMessage', data: 3 }));
  assert.equal(await done, 3);
  assert.deepEqual(ticks, [3, 2, 1]);
  assert.equal(ws.sent.length, 1, 'one-way ticks are not answered');

  // calls with a reply box are answered to it (SubBoxMessage{its name, reply})
  const ask = (name, method, args) =>
    ws.deliver(JSON.stringify({
      class: 'foam.box.Message',
      attributes: { replyBox: { class: 'foam.box.SubBox', name, delegate: { class: 'foam.box.ReturnBox' } } },
      object: { class: 'foam.box.SubBoxMessage', name: listener.name, object: { class: 'foam.box.RPCMessage', name: method, args } },
    }));
  ask('s1', 'tick', [0]);
  ask('s2', 'slow', ['x']);
  ask('s3', 'bad', []);
  ask('s4', 'badLater', []);
  ask('s5', 'missing', []);
  ask('s6', 'constructor', []);
  await sleep(10);
  const answers = Object.fromEntries(ws.frames().slice(1).map((f) => [f.object.name, f.object.object]));
  assert.deepEqual(answers, {
    s1: { class: 'foam.box.RPCReturnMessage' },
    s2: { class: 'foam.box.RPCReturnMessage', data: { got: 'x', at: { class: '__Timestamp__', value: 5 } } },
    s3: { class: 'foam.box.RPCErrorMessage', data: 'Error: nope' },
    s4: { class: 'foam.box.RPCErrorMessage', data: 'later nope' },
    s5: { class: 'foam.box.RPCErrorMessage', data: 'no such method: missing' },
    s6: { class: 'foam.box.RPCErrorMessage', data: 'no such method: constructor' },
  });
  // an unknown name with a reply box: NoSuchNameException; without one: nothing
  const n = ws.sent.length;
  ws.deliver(replyFrame('nobody', { class: 'foam.box.RPCMessage', name: 'tick', args: [1] }));
  assert.equal(ws.sent.length, n);
  ws.deliver(JSON.stringify({
    class: 'foam.box.Message',
    attributes: { replyBox: { class: 'foam.box.SubBox', name: 's7', delegate: { class: 'foam.box.ReturnBox' } } },
    object: { class: 'foam.box.SubBoxMessage', name: 'nobody', object: { class: 'foam.box.RPCMessage', name: 'tick', args: [1] } },
  }));
  assert.equal(ws.sent.at(-1), replyFrame('s7', { class: 'foam.box.NoSuchNameException', name: 'nobody' }));
  // the peer's doLookup on our root finds exports
  ws.deliver(JSON.stringify({
    class: 'foam.box.Message',
    attributes: { replyBox: { class: 'foam.box.SubBox', name: 's8', delegate: { class: 'foam.box.ReturnBox' } } },
    object: { class: 'foam.box.RPCMessage', name: 'doLookup', args: [listener.name] },
  }));
  assert.deepEqual(ws.frames().at(-1).object, {
    class: 'foam.box.SubBoxMessage', name: 's8',
    object: { class: 'foam.box.RPCReturnMessage', data: { class: 'foam.box.SubBox', name: listener.name, delegate: { class: 'foam.box.ReturnBox' } } },
  });
  // unexported: no longer reachable, and no longer passable
  listener.close();
  await assert.rejects(conn.call('calc', 'countdown', [listener, 1]), { code: 'BX_EINVAL' });
  conn.export({}, { name: 'fixed' });
  assert.throws(() => conn.export({}, { name: 'fixed' }), { code: 'BX_EEXIST' });
  assert.throws(() => conn.export(42), { code: 'BX_EINVAL' });
  conn.close();
});

test('box references in data are callable, nested SubBoxes included; they cannot be passed back', async () => {
  const { conn, ws } = await openConn();
  const p = conn.call('reg', 'lookup', []);
  ws.deliver(replyFrame(replyName(ws.frames()[0]), {
    class: 'foam.box.RPCReturnMessage',
    data: [
      { class: 'foam.box.SubBox', name: 'svc', delegate: { class: 'foam.box.ReturnBox' } },
      { class: 'foam.box.SubBox', name: 'inner', delegate: { class: 'foam.box.SubBox', name: 'outer', delegate: { class: 'foam.box.ReturnBox' } } },
      { class: 'foam.box.NamedBox', name: '/a/b' },
    ],
  }));
  const [svc, nested, named] = await p;
  assert.ok(svc instanceof RemoteBox && nested instanceof RemoteBox && named instanceof RemoteBox);
  assert.equal(svc.name, 'svc');
  const r = svc.call('ping', [1]);
  nested.notify('ping', [2]);
  const [, f1, f2] = ws.frames();
  assert.deepEqual(f1.object, { class: 'foam.box.SubBoxMessage', name: 'svc', object: { class: 'foam.box.RPCMessage', name: 'ping', args: [1] } });
  assert.deepEqual(f2, {
    class: 'foam.box.Message', attributes: {},
    object: { class: 'foam.box.SubBoxMessage', name: 'outer', object: { class: 'foam.box.SubBoxMessage', name: 'inner', object: { class: 'foam.box.RPCMessage', name: 'ping', args: [2] } } },
  });
  ws.deliver(replyFrame(replyName(f1), { class: 'foam.box.RPCReturnMessage', data: 'pong' }));
  assert.equal(await r, 'pong');
  // a ReturnBox-relative reference means "the sender", so it cannot travel back; a NamedBox can
  await assert.rejects(conn.call('calc', 'echo', [svc]), { code: 'BX_EINVAL' });
  conn.call('calc', 'echo', [named]).catch(() => {});
  assert.deepEqual(ws.frames().at(-1).object.object.args, [{ class: 'foam.box.NamedBox', name: '/a/b' }]);
  assert.throws(() => named.notify('x'), { code: 'BX_EINVAL' });
  conn.close();
});

test('values: Dates, bigints, class first, undefined, cycles, __proto__, control characters', async () => {
  const { conn, ws } = await openConn();
  const cyclic = {};
  cyclic.self = cyclic;
  await assert.rejects(conn.call('calc', 'echo', [cyclic]), { code: 'BX_EINVAL' });
  conn.call('calc', 'echo', [{
    x: 1, class: 'calc.Point', skip: undefined, fn() {}, when: new Date(1700000000000),
    big: 2n ** 63n, small: 5n, list: [undefined, NaN, 'a\nb\t\u0001\\n'],
  }]).catch(() => {});
  const text = ws.sent.at(-1);
  assert.ok(text.includes(
    '"args":[{"class":"calc.Point","x":1,"when":{"class":"__Timestamp__","value":1700000000000},"big":"9223372036854775808","small":5,"list":[null,null,"a\\u000ab\\u0009\\u0001\\\\n"]}]',
  ), text);
  assert.equal(foamStringify('\b\f\r'), '"\\u0008\\u000c\\u000d"');
  // inbound: __proto__ stays an own property, timestamps become Dates
  const p = conn.call('calc', 'echo', [1]);
  ws.deliver(replyFrame(replyName(ws.frames().at(-1)), {
    class: 'foam.box.RPCReturnMessage',
    data: JSON.parse('{"__proto__":{"polluted":1},"t":{"class":"__Timestamp__","value":7}}'),
  }));
  const v = await p;
  assert.equal({}.polluted, undefined);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(v.t, new Date(7));
  conn.close();
});

test('garbage frames are ignored with a warning, never a crash', async () => {
  const { conn, ws, logger } = await openConn();
  const p = conn.call('calc', 'add', [1, 2]);
  for (const junk of [
    'not json', '[]', '"str"', '{"class":"foam.box.RPCMessage"}', '{"class":"foam.box.Message"}',
    '{"class":"foam.box.Message","attributes":{},"object":{"class":"foam.box.Unknown"}}',
    '{"class":"foam.box.Message","attributes":{},"object":{"class":"foam.box.SubBoxMessage","name":"zz","object":7}}',
    '{"class":"foam.box.Message","attributes":null,"object":{"class":"foam.box.SubBoxMessage","name":5}}',
    new Uint8Array([0xff, 0xfe]).buffer,
  ]) ws.deliver(junk);
  ws.deliver('{"class":"foam.box.Message","attributes":{},"object":{"class":"foam.box.HelloMessage"}}');
  ws.deliver(replyFrame(replyName(ws.frames()[0]), { class: 'foam.box.RPCReturnMessage', data: 'not a number' }));
  assert.equal(await p, 'not a number');
  assert.ok(logger.warnings.length >= 8, logger.warnings.join('\n'));
  // a reply box that answers junk, then a binary frame holding a good reply
  const q = conn.call('calc', 'add', [1, 2]);
  const name = replyName(ws.frames().at(-1));
  ws.deliver(new TextEncoder().encode(replyFrame(name, { class: 'foam.box.RPCReturnMessage', data: 3 })).buffer);
  assert.equal(await q, 3);
  const r = conn.call('calc', 'add', [1, 2]);
  ws.deliver(replyFrame(replyName(ws.frames().at(-1)), 'junk'));
  await assert.rejects(r, { code: 'BX_EBADMSG' });
  conn.close();
});

test('lazy: no socket until the first call; frames queued until open, sent in order', async () => {
  const WS = fakeWebSocket();
  const conn = connect('ws://test/', { WebSocket: WS, logger: quietLogger() });
  assert.equal(WS.sockets.length, 0);
  assert.equal(conn.state, 'idle');
  const p = conn.call('calc', 'add', [1, 2]);
  conn.notify('calc', 'notify', ['n']);
  assert.equal(WS.sockets.length, 1);
  assert.equal(conn.state, 'connecting');
  const ws = WS.sockets[0];
  assert.equal(ws.url, 'ws://test/');
  let opened = 0;
  conn.addEventListener('open', () => opened++);
  ws.accept();
  assert.equal(opened, 1);
  assert.equal(conn.state, 'open');
  const [call, note] = ws.frames();
  assert.equal(call.object.object.name, 'add');
  assert.equal(note.object.object.name, 'notify');
  ws.deliver(replyFrame(replyName(call), { class: 'foam.box.RPCReturnMessage', data: 3 }));
  assert.equal(await p, 3);
  conn.close();
});

test('timeout: BX_ETIMEDOUT, the reply box is removed and a late reply is ignored', async () => {
  const { conn, ws, logger } = await openConn({ timeout: 30 });
  const started = Date.now();
  const p = conn.call('calc', 'add', [1, 2]);
  const q = conn.call('calc', 'add', [1, 2], { timeout: 0 }); // no timeout for this one
  await assert.rejects(p, (e) => e instanceof BxError && e.code === 'BX_ETIMEDOUT' && /calc\.add/.test(e.message));
  assert.ok(Date.now() - started >= 25);
  assert.equal(conn._calls.size, 1);
  const [late, other] = ws.frames().map(replyName);
  ws.deliver(replyFrame(late, { class: 'foam.box.RPCReturnMessage', data: 3 }));
  assert.equal(ws.sent.length, 2);
  ws.deliver(replyFrame(other, { class: 'foam.box.RPCReturnMessage', data: 4 }));
  assert.equal(await q, 4);
  assert.equal(logger.warnings.length, 0);
  conn.close();
});

test('connection lost: every call in flight fails with BX_ECONNLOST; the next call reconnects', async () => {
  const { conn, WS, ws } = await openConn();
  let closes = 0;
  conn.addEventListener('close', () => closes++);
  const inflight = [conn.call('calc', 'add', [1, 2]), conn.call('calc', 'countdown', [conn.export({}), 3]), conn.open()];
  ws.drop();
  const errs = await Promise.all(inflight.slice(0, 2).map((p) => p.catch((e) => e)));
  assert.deepEqual(errs.map((e) => e.code), ['BX_ECONNLOST', 'BX_ECONNLOST']);
  await inflight[2]; // open() on an open connection had already resolved
  assert.equal(closes, 1);
  assert.equal(conn.state, 'idle');
  assert.equal(conn._calls.size, 0);
  // next call: a new socket, at once (a drop is not a failed attempt)
  const p = conn.call('calc', 'add', [2, 2]);
  assert.equal(WS.sockets.length, 2);
  const ws2 = WS.sockets[1];
  ws2.accept();
  ws2.deliver(replyFrame(replyName(ws2.frames()[0]), { class: 'foam.box.RPCReturnMessage', data: 4 }));
  assert.equal(await p, 4);
  // a frame arriving on the old socket is ignored
  ws.deliver(replyFrame('r1', { class: 'foam.box.RPCReturnMessage', data: 1 }));
  conn.close();
});

test('reconnect: failed attempts back off exponentially, success resets', async () => {
  const WS = fakeWebSocket();
  const conn = connect('ws://test/', { WebSocket: WS, logger: quietLogger(), backoff: { min: 40, max: 100 } });
  const a = conn.call('calc', 'add', [1, 2]);
  WS.sockets[0].refuse();
  await assert.rejects(a, { code: 'BX_ECONNLOST', message: 'cannot connect to ws://test/' });
  const b = conn.call('calc', 'add', [1, 2]);
  assert.equal(conn.state, 'waiting');
  assert.equal(WS.sockets.length, 1, 'no new socket during the backoff (40 ms)');
  await sleep(60);
  assert.equal(WS.sockets.length, 2);
  WS.sockets[1].refuse();
  await assert.rejects(b, { code: 'BX_ECONNLOST' });
  const t0 = Date.now();
  const c = conn.call('calc', 'add', [1, 2]);
  while (WS.sockets.length < 3) await sleep(5);
  assert.ok(Date.now() - t0 >= 70, 'second failure: 80 ms');
  WS.sockets[2].accept();
  const ws = WS.sockets[2];
  ws.deliver(replyFrame(replyName(ws.frames()[0]), { class: 'foam.box.RPCReturnMessage', data: 3 }));
  assert.equal(await c, 3);
  assert.equal(conn._failures, 0);
  conn.close();
});

test('reconnect: false: after a drop, calls fail at once', async () => {
  const { conn, WS, ws } = await openConn({ reconnect: false });
  ws.drop();
  await assert.rejects(conn.call('calc', 'add', [1, 2]), { code: 'BX_ECONNLOST' });
  assert.throws(() => conn.notify('calc', 'notify', ['x']), { code: 'BX_ECONNLOST' });
  assert.equal(WS.sockets.length, 1);
});

test('close(): calls in flight fail with BX_ECLOSED, and so does everything after', async () => {
  const { conn, ws } = await openConn();
  const p = conn.call('calc', 'add', [1, 2]);
  conn.close();
  await assert.rejects(p, { code: 'BX_ECLOSED' });
  assert.equal(ws.closedWith, 1000);
  assert.equal(conn.state, 'closed');
  await assert.rejects(conn.call('calc', 'add', [1, 2]), { code: 'BX_ECLOSED' });
  await assert.rejects(conn.open(), { code: 'BX_ECLOSED' });
  await tick();
});

test('a WebSocket constructor that throws, or none at all', async () => {
  const logger = quietLogger();
  class Throws { constructor() { throw new SyntaxError('bad url'); } }
  const conn = connect('nonsense', { WebSocket: Throws, logger });
  await assert.rejects(conn.call('calc', 'add', [1, 2]), { code: 'BX_ECONNLOST', message: /bad url/ });
  assert.equal(conn._queue.length, 0);
  conn.close();
  const none = connect('ws://test/', { WebSocket: null, logger });
  none._WebSocket = undefined;
  await assert.rejects(none.call('calc', 'add', [1, 2]), { code: 'BX_ENOWEBSOCKET' });
  none.close();
});

test('disconnect(): calls in flight fail with BX_ECONNLOST at once; the connection stays usable', async () => {
  const { conn, WS, ws } = await openConn();
  const box = conn.export({ tick() {} });
  let closes = 0;
  conn.addEventListener('close', () => closes++);
  const p = conn.call('calc', 'fail');
  conn.disconnect();
  await assert.rejects(p, { code: 'BX_ECONNLOST', message: 'disconnected' });
  assert.equal(closes, 1);
  assert.equal(ws.closedWith, 1000);
  assert.equal(conn.state, 'idle');
  conn.disconnect(); // nothing to drop: no-op
  const q = conn.call('calc', 'countdown', [box, 1]);
  assert.equal(WS.sockets.length, 2, 'reconnects at once: a disconnect is not a failed attempt');
  WS.sockets[1].accept();
  const f = WS.sockets[1].frames()[0];
  assert.equal(f.object.object.args[0].name, box.name, 'exports survive');
  WS.sockets[1].deliver(replyFrame(replyName(f), { class: 'foam.box.RPCReturnMessage', data: 1 }));
  assert.equal(await q, 1);
  await tick(); // the old socket's own close event comes later and is ignored
  assert.equal(closes, 1);
  conn.close();
});
