#define _GNU_SOURCE /* struct ucred */
/* Boxes over msgbox: msgbox+tcp://HOST:PORT, msgbox+udp://HOST:PORT, msgbox+unix:///path.
 * Each FOAM frame is one msgbox one-way message, so boxes get UDP and msgbox's heartbeats.
 *
 * Design notes
 * - Built on the native msgbox API (include/bx/msgbox.h): every bx_mb_conn, a client's or a
 *   listener's remote, is one solo link carrying one peer; the framer is bx__framer_whole
 *   (the msgbox header is the framing). A UDP listener's remotes are one link each too: msgbox
 *   already keeps a conn per remote address with its own queue, heartbeat timers and end
 *   event, so a link per remote maps those 1:1, and a remote whose queue is full holds up only
 *   its own writes (the framework writes one buffer at a time per link).
 * - A link's bx_mb_conn is valid until its last event (SETUP_ERROR, CLOSED, LOST) has been
 *   delivered; from then on the link holds NULL. The link reports bx__link_closed() only after
 *   both happened: the framework called link_close() and the conn's last event came. Both
 *   orders occur (our close, or the remote's, a heartbeat's or a closing context's end).
 * - Writes: bx_mb_send() copies, so a frame it takes is BX__WRITTEN. One it refuses with
 *   BX_EQUEUEFULL is held (the framework keeps the buffer until write_done) and sent again
 *   from the native layer's "drained" hook; nothing is dropped. The native queue is bounded
 *   by the limits' max_queued_bytes plus one frame, so an empty queue always takes a frame.
 * - UDP dial: the socket is ready at once and may talk to nobody, so a dial sends one msgbox
 *   request (the probe; the listener answers it with an empty reply) and is connected on its
 *   reply: nothing listening is an ICMP refusal (UV_ECONNREFUSED), silence a timeout after
 *   MBX_PROBE_TRIES tries. Later loss is the calls' deadlines' business (or heartbeats').
 * - Frame caps: the framework's max_frame (UDP: BX_MB_MAX_UDP_MESSAGE). Streams also give
 *   msgbox max_message = max_frame, so a too-long header loses the connection before anything
 *   is allocated; over UDP a datagram is bounded anyway, so the framework judges it.
 * - Heartbeats: bx_listen_opts.msgbox for listeners, "?heartbeat=MS" in the URL for both ends
 *   (a listener with heartbeats announces its URL with the query, so its clients match it).
 * - msgbox+unix listeners take bx_listen_opts.unix_mode as unix:// ones do (default 0600); who
 *   may do what is the application's (bxd checks the peer's uid, SO_PEERCRED via the conn's fd).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mb_internal.h"

#define MBX_PROBE_MS 1000u /* one try of a UDP dial's probe */
#define MBX_PROBE_TRIES 3
#define MBX_MAX_HEARTBEAT 86400000ul /* a day */

typedef struct mbx_listener {
  bx_mb_conn *mb; /* NULL once LISTENING_ENDED came */
  bool closing;   /* listen_close() was called */
  uint32_t heartbeat_ms;
} mbx_listener;

typedef struct mbx_link {
  bx__link *k;
  bx__conn *peer;
  bx_mb_conn *mb;   /* NULL once its last event came */
  bool closing;     /* link_close() was called */
  bool probing;     /* a UDP dial waits for its probe's reply */
  int tries;        /* probes sent */
  const char *held; /* a frame the native queue refused, sent when it drains */
  size_t held_len;
} mbx_link;

static void mbx_client_cb(const bx_mb_event *ev);
static void mbx_listener_cb(const bx_mb_event *ev);

/* ---- URLs ----------------------------------------------------------------------------------- */

/* "tcp", "udp" or "unix": the native scheme of tran ("msgbox+tcp" ...). */
static const char *mbx_native(const bx__tran *tran) {
  return strchr(tran->scheme, '+') + 1;
}

static bool mbx_is_udp(const bx__tran *tran) {
  return strcmp(mbx_native(tran), "udp") == 0;
}

/* Splits addr ("HOST:PORT" or "/path", with an optional "?heartbeat=MS") into the native URL
 * and the heartbeat (0: none). 0 or BX_EINVAL. */
static int mbx_split(const bx__tran *tran, const char *addr, char *url, size_t len,
                     uint32_t *heartbeat) {
  const char *q = strchr(addr, '?');
  size_t n = q ? (size_t)(q - addr) : strlen(addr);
  *heartbeat = 0;
  if (n == 0 || (size_t)snprintf(url, len, "%s://%.*s", mbx_native(tran), (int)n, addr) >= len)
    return BX_EINVAL;
  if (q == NULL) return 0;
  if (strncmp(q, "?heartbeat=", 11) != 0) return BX_EINVAL;
  const char *v = q + 11;
  char *end;
  errno = 0;
  unsigned long ms = strtoul(v, &end, 10);
  if (*v < '0' || *v > '9' || *end || errno || ms == 0 || ms > MBX_MAX_HEARTBEAT) return BX_EINVAL;
  *heartbeat = (uint32_t)ms;
  return 0;
}

static int mbx_check_as(const bx__tran *tran, const char *addr) {
  char url[512];
  uint32_t hb;
  bx__mb_addr a;
  if (mbx_split(tran, addr, url, sizeof url, &hb)) return BX_EINVAL;
  return bx__mb_parse(url, true, &a);
}

/* ---- links ---------------------------------------------------------------------------------- */

static mbx_link *mbx_of(bx__link *k) {
  return bx__link_priv(k);
}

static void mbx_closed_task(void *a, void *b) {
  (void)b;
  bx__link_closed(a);
}

/* Both ends of a link's life have come: the framework hears of it from a later callback. */
static void mbx_report_closed(bx__link *k) {
  if (bx__defer(bx__link_ctx(k), mbx_closed_task, k, NULL) != 0) bx__link_closed(k);
}

static void mbx_fill_peer(mbx_link *s) {
  bx_peer_info *info = bx__conn_peer(s->peer);
  uv_os_fd_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (bx_mb_protocol_of(s->mb) != BX_MB_UNIX) {
    snprintf(info->address, sizeof info->address, "%s", bx_mb_remote(s->mb));
    return;
  }
  if (bx__mb_fileno(s->mb, &fd) != 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
    return;
  info->has_cred = true;
  info->uid = cred.uid;
  info->gid = cred.gid;
  info->pid = cred.pid;
}

/* The native opts of a link: frames up to max_frame, a queue of the limits plus one frame. */
static void mbx_opts(const bx__tran *tran, const bx_transport_limits *lim, uint32_t heartbeat,
                     uint32_t heartbeat_timeout, bx_mb_opts *o) {
  bx_mb_opts_init(o);
  o->max_message = mbx_is_udp(tran) ? BX_MB_MAX_UDP_MESSAGE : lim->max_frame;
  o->max_queued = lim->max_queued_bytes + lim->max_frame + 8;
  o->heartbeat_ms = heartbeat;
  o->heartbeat_timeout_ms = heartbeat_timeout;
}

static void mbx_drained(bx_mb_conn *mb) {
  bx__link *k = bx_mb_context(mb);
  mbx_link *s = k ? mbx_of(k) : NULL;
  if (s == NULL || s->held == NULL || s->closing) return;
  int rc = bx_mb_send(mb, s->held, s->held_len);
  if (rc == BX_EQUEUEFULL) return; /* the hook runs again as the queue drains further */
  s->held = NULL;
  bx__link_write_done(k, rc);
}

/* Makes mb the link's conn. */
static void mbx_bind(mbx_link *s, bx_mb_conn *mb) {
  s->mb = mb;
  bx_mb_set_context(mb, s->k, NULL);
  bx__mb_set_drained(mb, mbx_drained);
}

static int mbx_probe(mbx_link *s) {
  s->probing = true;
  s->tries++;
  return bx_mb_get(s->mb, NULL, 0, MBX_PROBE_MS, NULL);
}

/* The conn's last event: the link goes (or, when the framework closed it, is done). */
static void mbx_ended(bx__link *k, const bx_mb_event *ev) {
  mbx_link *s = mbx_of(k);
  s->mb = NULL;
  s->held = NULL; /* the framework ends the write that was in flight */
  if (s->closing) {
    mbx_report_closed(k);
    return;
  }
  int code = ev->status == BX_ECLOSING ? BX_ECLOSING : BX_ECONNLOST;
  if (ev->type == BX_MB_CONNECTION_SETUP_ERROR) {
    bx__conn_connected(s->peer, ev->status ? ev->status : BX_ECONNLOST);
    return;
  }
  if (ev->type == BX_MB_CONNECTION_LOST && ev->status == BX_EMSGSIZE)
    bx_log(bx__link_ctx(k), BX_LOG_WARN, "%s: a frame over the limit: connection closed",
           k->tran->scheme);
  bx__link_close(k, code);
}

/* What a link's conn says (a client's or a listener's remote). */
static void mbx_link_event(bx__link *k, const bx_mb_event *ev) {
  mbx_link *s = mbx_of(k);
  switch (ev->type) {
  case BX_MB_CONNECTION_SETUP:
    if (s->closing) break;
    mbx_fill_peer(s);
    if (bx_mb_protocol_of(ev->conn) != BX_MB_UDP) {
      bx__conn_connected(s->peer, 0);
      break;
    }
    int rc = mbx_probe(s);
    if (rc) bx__conn_connected(s->peer, rc);
    break;
  case BX_MB_MESSAGE:
    if (bx__conn_is_open(s->peer)) bx__conn_message(s->peer, ev->data, ev->len);
    break;
  case BX_MB_REQUEST: /* a dial's probe (or a plain msgbox peer): an empty answer */
    bx_mb_reply_send(ev->reply, NULL, 0);
    break;
  case BX_MB_REPLY:
    if (!s->probing || s->closing) break;
    s->probing = false;
    bx__conn_connected(s->peer, 0);
    break;
  case BX_MB_REPLY_MISSING:
    if (!s->probing || s->closing) break;
    if (ev->status == BX_ETIMEDOUT && s->tries < MBX_PROBE_TRIES && mbx_probe(s) == 0) break;
    s->probing = false;
    bx__conn_connected(s->peer, ev->status == BX_ETIMEDOUT ? UV_ETIMEDOUT : ev->status);
    break;
  case BX_MB_CONNECTION_SETUP_ERROR:
  case BX_MB_CONNECTION_CLOSED:
  case BX_MB_CONNECTION_LOST:
    mbx_ended(k, ev);
    break;
  default:
    break;
  }
}

static void mbx_client_cb(const bx_mb_event *ev) {
  if (ev->context) mbx_link_event(ev->context, ev);
}

/* ---- the transport's slots ------------------------------------------------------------------ */

static int mbx_dial(bx__conn *c, const char *addr) {
  bx__link *k = bx__link_for(c);
  if (k == NULL) return BX_ENOMEM;
  const bx__tran *tran = k->tran;
  char url[512];
  uint32_t hb;
  if (mbx_split(tran, addr, url, sizeof url, &hb)) return BX_EINVAL;
  bx_ctx *ctx = bx__conn_ctx(c);
  bx_mb_opts o;
  mbx_opts(tran, bx__conn_limits(c), hb, 0, &o);
  mbx_link *s = mbx_of(k);
  s->k = k;
  s->peer = c;
  bx_mb_conn *mb;
  int rc = bx_mb_connect(ctx, url, &o, mbx_client_cb, k, &mb);
  if (rc) return rc;
  mbx_bind(s, mb);
  return 0;
}

static int mbx_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  (void)c;
  mbx_link *s = mbx_of(k);
  if (s->mb == NULL) return BX_ECONNLOST;
  int rc = bx_mb_send(s->mb, buf, len);
  if (rc == 0) return BX__WRITTEN; /* copied */
  if (rc != BX_EQUEUEFULL) return rc;
  s->held = buf;
  s->held_len = len;
  return 0;
}

static void mbx_link_close(bx__link *k) {
  mbx_link *s = mbx_of(k);
  s->closing = true;
  if (s->mb == NULL) {
    mbx_report_closed(k);
    return;
  }
  bx_mb_disconnect(s->mb); /* its last event reports; BX_ECLOSED: it is on its way already */
}

/* ---- listening ------------------------------------------------------------------------------ */

static void mbx_listener_closed_task(void *a, void *b) {
  (void)b;
  bx__listener_closed(a);
}

static void mbx_listener_report(bx_listener *l) {
  if (bx__defer(l->ctx, mbx_listener_closed_task, l, NULL) != 0) bx__listener_closed(l);
}

/* A new remote of listener l: a solo link and a peer. */
static void mbx_accept(bx_listener *l, bx_mb_conn *mb) {
  bx_mb_set_context(mb, NULL, NULL); /* not ours until it has a link */
  mbx_listener *ml = bx__listener_priv(l);
  bx__link *k = ml->closing ? NULL : bx__link_new(l->ts, l->tran, l, true);
  bx__conn *c = k ? bx__conn_accept(k) : NULL;
  if (c == NULL) {
    bx_log(l->ctx, BX_LOG_WARN, "%s: remote %s refused: %s", l->url, bx_mb_remote(mb),
           ml->closing ? "closing" : "out of memory");
    bx_mb_disconnect(mb);
    if (k) bx__link_close(k, BX_ENOMEM);
    return;
  }
  mbx_link *s = mbx_of(k);
  s->k = k;
  s->peer = c;
  mbx_bind(s, mb);
  mbx_fill_peer(s);
  bx__conn_opened(c); /* a refused peer closes, and so its link and conn */
}

static void mbx_listener_cb(const bx_mb_event *ev) {
  if (!bx_mb_is_listener(ev->conn)) {
    if (ev->type == BX_MB_CONNECTION_READY && ev->context)
      mbx_accept(ev->context, ev->conn);
    else if (ev->context)
      mbx_link_event(ev->context, ev);
    return;
  }
  bx_listener *l = ev->context;
  if (l == NULL || ev->type != BX_MB_LISTENING_ENDED) return; /* NULL: bx_listen() failed */
  mbx_listener *ml = bx__listener_priv(l);
  ml->mb = NULL;
  if (ml->closing) bx__listener_closed(l); /* from the run queue: a later callback */
}

static int mbx_listen(bx_listener *l, const char *addr, const bx_listen_opts *opts) {
  char url[512];
  uint32_t hb;
  if (mbx_split(l->tran, addr, url, sizeof url, &hb)) return BX_EINVAL;
  const bx_msgbox_listen_opts *mo = opts ? opts->msgbox : NULL;
  uint32_t hb_timeout = 0;
  if (mo && mo->heartbeat_ms) {
    hb = mo->heartbeat_ms;
    hb_timeout = mo->heartbeat_timeout_ms;
  }
  bx_mb_opts o;
  mbx_opts(l->tran, &l->limits, hb, hb_timeout, &o);
  o.unix_mode = opts ? opts->unix_mode : 0; /* msgbox+unix: as unix:// (0: 0600) */
  mbx_listener *ml = bx__listener_priv(l);
  ml->heartbeat_ms = hb;
  int rc = bx_mb_listen(l->ctx, url, &o, mbx_listener_cb, l, &ml->mb);
  if (rc == 0 && (rc = bx__mb_listen_status(ml->mb)) == 0) {
    char actual[600];
    int n = snprintf(actual, sizeof actual, "msgbox+%s", bx_mb_url(ml->mb));
    if (hb) snprintf(actual + n, sizeof actual - (size_t)n, "?heartbeat=%u", (unsigned)hb);
    rc = bx__listener_set_url(l, actual);
    if (rc) bx_mb_unlisten(ml->mb);
  }
  if (rc && ml->mb) bx_mb_set_context(ml->mb, NULL, NULL); /* its last event finds no one */
  return rc;
}

static void mbx_listen_close(bx_listener *l) {
  mbx_listener *ml = bx__listener_priv(l);
  ml->closing = true;
  if (ml->mb == NULL) {
    mbx_listener_report(l);
    return;
  }
  bx_mb_unlisten(ml->mb); /* LISTENING_ENDED reports; BX_ECLOSED: it is on its way already */
}

/* ---- the transports ------------------------------------------------------------------------- */

static int mbx_check_tcp(const char *addr) {
  return mbx_check_as(&bx__mb_tcp_tran, addr);
}
static int mbx_check_udp(const char *addr) {
  return mbx_check_as(&bx__mb_udp_tran, addr);
}
static int mbx_check_unix(const char *addr) {
  return mbx_check_as(&bx__mb_unix_tran, addr);
}

const bx__tran bx__mb_tcp_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "msgbox+tcp",
    .framer = &bx__framer_whole,
    .listener_size = sizeof(mbx_listener),
    .link_size = sizeof(mbx_link),
    .check = mbx_check_tcp,
    .listen = mbx_listen,
    .listen_close = mbx_listen_close,
    .dial = mbx_dial,
    .write = mbx_write,
    .link_close = mbx_link_close,
};

const bx__tran bx__mb_udp_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "msgbox+udp",
    .framer = &bx__framer_whole,
    .max_frame = BX_MB_MAX_UDP_MESSAGE, /* one datagram */
    .listener_size = sizeof(mbx_listener),
    .link_size = sizeof(mbx_link),
    .check = mbx_check_udp,
    .listen = mbx_listen,
    .listen_close = mbx_listen_close,
    .dial = mbx_dial,
    .write = mbx_write,
    .link_close = mbx_link_close,
};

const bx__tran bx__mb_unix_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "msgbox+unix",
    .framer = &bx__framer_whole,
    .listener_size = sizeof(mbx_listener),
    .link_size = sizeof(mbx_link),
    .check = mbx_check_unix,
    .listen = mbx_listen,
    .listen_close = mbx_listen_close,
    .dial = mbx_dial,
    .write = mbx_write,
    .link_close = mbx_link_close,
};
