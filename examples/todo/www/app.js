// The todo page: lists, adds, completes and filters test.Todo objects in the "todos" DAO of the
// server that served this page, and stays live: a change by any client re-selects.
import { connect, M } from './bx.js';

const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
const conn = connect(url, { timeout: 5000 });
const todos = conn.dao('todos', { of: 'test.Todo' });
const $ = (id) => document.getElementById(id);

function query() {
  const where = [];
  const text = $('filter').value.trim();
  if (text) where.push(M.containsIC('title', text));
  if ($('hide-done').checked) where.push(M.eq('done', false));
  return { where: where.length ? M.and(...where) : null, orderBy: ['done', '-priority', 'id'] };
}

function render(rows) {
  const list = $('list');
  list.replaceChildren(
    ...rows.map((t) => {
      const li = document.createElement('li');
      li.dataset.id = t.id;
      li.className = t.done ? 'done' : '';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = !!t.done;
      box.className = 'toggle';
      box.addEventListener('change', () => todos.put({ ...t, done: box.checked }).catch(show));
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = t.title;
      const prio = document.createElement('span');
      prio.className = 'prio';
      prio.textContent = `p${t.priority ?? 0}`;
      li.append(box, title, prio);
      return li;
    }),
  );
  $('count').textContent = String(rows.length);
}

function show(e) {
  $('error').textContent = e ? String(e.message ?? e) : '';
}

let pending = null;
async function refresh() {
  const mine = (pending = {});
  try {
    const rows = await todos.select(query());
    if (mine === pending) render(rows);
    show(null);
  } catch (e) {
    show(e);
  }
}

async function nextId() {
  const rows = await todos.select({ orderBy: '-id', limit: 1 });
  return rows.length ? rows[0].id + 1 : 1;
}

$('add').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const title = $('title').value;
    const priority = Number($('priority').value) || 0;
    await todos.put({ class: 'test.Todo', id: await nextId(), title, priority, done: false });
    $('title').value = '';
  } catch (e) {
    show(e);
  }
});
$('filter').addEventListener('input', refresh);
$('hide-done').addEventListener('change', refresh);

async function start() {
  await todos.listen({ put: refresh, remove: refresh, reset: refresh });
  $('status').textContent = 'connected';
  $('status').dataset.state = 'connected';
  await refresh();
}
conn.addEventListener('close', () => {
  $('status').textContent = 'disconnected';
  $('status').dataset.state = 'disconnected';
});
start().catch(show);
