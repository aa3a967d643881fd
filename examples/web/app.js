// The bx calculator page: calls examples/calculator's "calc" service from the browser.
// The server that serves this page also speaks bx over WebSocket on the same port, so the
// page connects back to where it came from (or to ?ws=ws://host:port/).
import { connect } from './bx.js';

const $ = (id) => document.getElementById(id);
const url =
  new URLSearchParams(location.search).get('ws') ??
  `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
$('url').textContent = url;

const conn = connect(url, { timeout: 5000 });
const calc = conn.service('calc');
window.bxConn = conn; // for the browser console (and the end-to-end test)

// ---- the status line: the page keeps the connection open and shows its state --------------
function status(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}
function keepOpen() {
  if (conn.state === 'open' || conn.state === 'closed') return;
  status('connecting', 'connecting…');
  conn.open().then(
    () => status('connected', 'connected'),
    () => {
      status('disconnected', 'disconnected');
      setTimeout(keepOpen, 1000);
    },
  );
}
conn.addEventListener('open', () => status('connected', 'connected'));
conn.addEventListener('close', () => {
  status('disconnected', 'disconnected');
  setTimeout(keepOpen, 500);
});
keepOpen();

// ---- the calls -------------------------------------------------------------------------------
/** Runs fn, shows its text (or the error) in #id-result; resolves when done. */
async function show(id, fn) {
  const out = $(`${id}-result`);
  out.dataset.state = 'pending';
  out.textContent = '…';
  try {
    out.textContent = await fn();
    out.dataset.state = 'ok';
  } catch (e) {
    out.textContent = e.message;
    out.title = e.code ?? '';
    out.dataset.state = 'error';
  }
}
const num = (id) => Number($(id).value);

const actions = {
  add: () => show('add', async () => String(await calc.add(num('add-a'), num('add-b')))),
  echo: () => show('echo', () => calc.echo($('echo-input').value)),
  fail: () => show('fail', () => calc.fail()),
  throw: () => show('throw', () => calc.throwSync()),
  notify: () =>
    show('notify', async () => {
      conn.notify('calc', 'notify', [$('notify-input').value]);
      return 'sent';
    }),
  scale: () =>
    show('scale', async () => {
      const point = { class: 'calc.Point', x: num('scale-x'), y: num('scale-y'), label: $('scale-label').value };
      const p = await calc.scale(point, num('scale-k'));
      return `x=${p.x} y=${p.y} label=${p.label}`;
    }),
  countdown: () =>
    show('countdown', async () => {
      const list = $('countdown-ticks');
      list.replaceChildren();
      // A local object the server calls back: each tick arrives as an RPCMessage.
      const listener = conn.export({
        tick(n) {
          const li = document.createElement('li');
          li.textContent = String(n);
          list.append(li);
        },
      });
      try {
        const count = await calc.countdown(listener, num('countdown-n'));
        return `${count} ticks`;
      } finally {
        listener.close();
      }
    }),
  nosuch: () => show('nosuch', () => conn.call('nosuch', 'add', [1, 1])),
};

for (const [name, run] of Object.entries(actions)) $(`${name}-btn`).addEventListener('click', run);
$('all-btn').addEventListener('click', () =>
  show('all', async () => {
    for (const run of Object.values(actions)) await run();
    return 'done';
  }),
);
