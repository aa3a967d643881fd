// bxd's live status page: served by bxd on its WebSocket port, it calls the hub's own registry
// extensions list() and stats() over bx every second and shows services, connections and
// message rates (the difference between two stats() answers).
import { connect } from './bx.js';

const $ = (id) => document.getElementById(id);
const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
$('url').textContent = url;
const conn = connect(url, { timeout: 3000 });
let last = null;

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function showServices(list) {
  const body = $('services').tBodies[0];
  body.replaceChildren(
    ...list.map(({ name, owner }) => {
      const tr = document.createElement('tr');
      tr.append(cell(name), cell(owner));
      return tr;
    }),
  );
  if (list.length === 0) body.append(Object.assign(document.createElement('tr'), {
    innerHTML: '<td colspan="2">(no services registered)</td>',
  }));
}

function showTraffic(s) {
  const dt = last ? (s.uptimeMs - last.uptimeMs) / 1000 : 0;
  const rate = (k) => (last && dt > 0 ? ((s[k] - last[k]) / dt).toFixed(1) + '/s' : '');
  const rows = [
    ['connections open', s.connections, ''],
    ['connections since start', s.connectionsTotal, ''],
    ['registered names', s.names, ''],
    ['messages in', s.messagesIn, rate('messagesIn')],
    ['messages out', s.messagesOut, rate('messagesOut')],
    ['calls', s.calls, rate('calls')],
    ['bytes in', s.bytesIn, rate('bytesIn')],
    ['bytes out', s.bytesOut, rate('bytesOut')],
    ['errors', s.errors, rate('errors')],
    ['uptime', `${Math.round(s.uptimeMs / 1000)} s`, ''],
  ];
  if (s.thStored !== undefined) { // a telehash box host (bxd --telehash)
    rows.push(
      ['boxes', s.thBoxes, ''],
      ['box messages stored', s.thStored, ''],
      ['box messages evicted', s.thEvicted, rate('thEvicted')],
      ['box messages expired', s.thExpired, rate('thExpired')],
      ['box messages delivered', s.thDelivered, rate('thDelivered')],
    );
  }
  $('traffic').tBodies[0].replaceChildren(
    ...rows.map(([k, v, r]) => {
      const tr = document.createElement('tr');
      tr.id = 'stat-' + k.replace(/ /g, '-');
      tr.append(cell(k), cell(String(v), 'num'), cell(r, 'num'));
      return tr;
    }),
  );
  last = s;
}

async function refresh() {
  try {
    const [list, stats] = await Promise.all([conn.root.call('list'), conn.root.call('stats')]);
    $('status').dataset.state = 'connected';
    $('status').textContent = 'connected';
    showServices(list);
    showTraffic(stats);
  } catch (e) {
    $('status').dataset.state = 'disconnected';
    $('status').textContent = `disconnected (${e.code || e.message})`;
  }
  setTimeout(refresh, 1000);
}
refresh();
