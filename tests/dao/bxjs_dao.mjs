// bx.js's DAO client (conn.dao()) against a live todo_server over WebSocket, two connections:
//   node --experimental-websocket tests/dao/bxjs_dao.mjs path/to/todo_server
// select with where/orderBy/skip/limit, Count, find, remove, removeAll, an error from the
// service, and a listener on one connection notified of the other's changes.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import readline from 'node:readline';

import { connect, M, BxError } from '../../clients/js/bx.js';

const server = spawn(process.argv[2], ['--listen', 'ws://127.0.0.1:0/'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  const rl = readline.createInterface({ input: server.stdout });
  rl.on('line', (line) => {
    const m = /^listening on (ws:\/\/\S+)/.exec(line);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`todo_server exited ${code}`)));
});

let failed = false;
try {
  const a = connect(url, { timeout: 5000 });
  const b = connect(url, { timeout: 5000 });
  const todosA = a.dao('todos', { of: 'test.Todo' });
  const todosB = b.dao('todos');

  const events = [];
  let wake;
  const listener = await todosB.listen({
    put: (o) => (events.push(`put ${o.id}`), wake?.()),
    remove: (o) => (events.push(`remove ${o.id}`), wake?.()),
  });
  const until = (n) =>
    new Promise((resolve) => {
      wake = () => events.length >= n && resolve();
      wake();
    });

  const stored = await todosA.put({ class: 'test.Todo', id: 1, title: 'Buy milk', priority: 2, tags: ['home'] });
  assert.equal(stored.title, 'Buy milk');
  await todosA.put({ class: 'test.Todo', id: 2, title: 'Write spec', done: true, priority: 5, due: new Date(1700000000000) });
  await todosA.put({ class: 'test.Todo', id: 3, title: 'call Bob', priority: 1 });
  await until(3);
  assert.deepEqual(events, ['put 1', 'put 2', 'put 3']);

  const ids = (rows) => rows.map((o) => o.id).join(',');
  assert.equal(ids(await todosB.select()), '1,2,3');
  assert.equal(ids(await todosB.select({ where: M.gt('priority', 1), orderBy: '-priority' })), '2,1');
  assert.equal(ids(await todosB.select({ orderBy: ['done', '-title'], limit: 2 })), '3,1');
  assert.equal(ids(await todosB.select({ skip: 1, limit: 1 })), '2');
  assert.equal(ids(await todosB.select({ where: M.or(M.containsIC('title', 'BOB'), M.has('due')) })), '2,3');
  assert.equal(ids(await todosB.select({ where: M.lt('due', new Date(1800000000000)) })), '2');
  assert.equal((await todosB.select({ sink: M.count(), where: M.eq('done', false) })).value, 2);
  assert.equal((await todosB.find(2)).due, 1700000000000);
  assert.equal(await todosB.find(9), null);
  await assert.rejects(
    todosB.select({ where: { class: 'foam.mlang.predicate.Func', fn: 'function(o){return true}' } }),
    (e) => e instanceof BxError && /unsupported mLang class foam.mlang.predicate.Func/.test(e.message),
  );

  assert.equal((await todosA.remove(1)).title, 'Buy milk');
  assert.equal(await todosA.remove(1), null);
  await until(4);
  assert.equal(events[3], 'remove 1');
  await todosA.removeAll({ where: M.eq('done', true) });
  await until(5);
  assert.equal(events[4], 'remove 2');
  assert.equal(ids(await todosA.select()), '3');

  listener.detach();
  a.close();
  b.close();
  console.log('ok: bx.js DAO client against todo_server');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  server.kill('SIGTERM');
}
process.exitCode = failed ? 1 : 0;
