/* The released msgbox API (include/msgbox.h) on bx's native msgbox API (include/bx/msgbox.h).
 *
 * Design notes
 * - One process-wide bx_ctx on a libuv loop of its own, made on first use; msg_runloop() runs
 *   that loop. Everything is single-threaded, as in the release.
 * - A msg_Conn lives in an mc_conn, which is the native context of its bx_mb_conn (a client, a
 *   listener or a TCP listener's accepted remote). The native conn's context_free drops the
 *   mc_conn's native reference, so the msg_Conn stays valid until its last event's callback has
 *   returned, as the release promises. A UDP listener is one msg_Conn for all its remotes (as
 *   released): each remote is an mc_remote (the remote's native context) holding its address
 *   and the program's conn_context, restored into the shared msg_Conn before each of its events
 *   and saved after. An address the program writes into remote_ip / remote_port picks the
 *   remote that msg_send / msg_get / msg_disconnect go to.
 * - Native events map to released ones in one place (mc_dispatch); errors that a msg_* call
 *   finds itself (a malformed address, a failed send) are queued (mc_later) and delivered from
 *   msg_runloop, since no callback may run inside a call.
 * - A request's reply handle is kept in its mc_conn while the msg_request callback runs: a
 *   msg_send() to that remote then is the reply; the handle is given up when the callback
 *   returns, so any later send is one-way.
 * - Layer: above the library; it includes <bx.h> and the public headers only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bx.h>
#include <msgbox.h>

#define MC_OF(p) ((mc_conn *)(void *)((char *)(p)-offsetof(mc_conn, pub)))
#define MC_TEXT 256

enum { MC_CONN = 1, MC_REMOTE };

typedef struct mc_conn mc_conn;

/* One remote of a UDP listener. */
typedef struct mc_remote {
  int kind;          /* MC_REMOTE (first, as in mc_conn: the native context's tag) */
  mc_conn *listener; /* NULL once the remote has ended */
  bx_mb_conn *native;
  uint32_t ip;   /* network order */
  uint16_t port; /* host order */
  void *conn_context;
  struct mc_remote *next;
} mc_remote;

struct mc_conn {
  int kind; /* MC_CONN */
  msg_Conn pub;
  bx_mb_conn *native; /* NULL when it never opened or the native conn is gone */
  int refs;           /* the native conn's, and one per queued event */
  bool ended;         /* the last event was delivered: nothing more goes to the program */
  bool udp_listener;
  void *own_context;  /* a UDP listener's conn_context on its own events */
  mc_remote *remotes; /* a UDP listener's */
  bx_mb_reply *reply; /* while a msg_request callback runs */
};

/* An event a msg_* call found: delivered from msg_runloop(). */
typedef struct mc_later {
  struct mc_later *next;
  mc_conn *conn; /* referenced */
  char *text;    /* the msg_error's */
  bool last;     /* conn ends with it (a msg_connect / msg_listen that never started) */
} mc_later;

static struct {
  uv_loop_t loop;
  bx_ctx *ctx;
  int init_rc; /* 0, or why the context could not be made */
  bool inited;
  uv_timer_t timer;
  bool timer_fired;
  unsigned long delivered; /* callbacks run so far */
  int open;                /* mc_conns whose last event has not been delivered */
  int in_callback;
  int next_index;
  uint16_t next_reply_id;
  mc_later *head, **tail;
} G;

void *msg_no_context = NULL;
const int msg_udp = SOCK_DGRAM;
const int msg_tcp = SOCK_STREAM;

/* ---- the default context ------------------------------------------------------------------ */

static void mc_on_timer(uv_timer_t *t) {
  (void)t;
  G.timer_fired = true;
}

static int mc_init(void) {
  if (G.inited) return G.init_rc;
  G.inited = true;
  G.tail = &G.head;
  G.init_rc = uv_loop_init(&G.loop);
  if (G.init_rc) return G.init_rc;
  uv_timer_init(&G.loop, &G.timer);
  G.init_rc = bx_ctx_new(&G.loop, NULL, &G.ctx);
  return G.init_rc;
}

/* ---- texts -------------------------------------------------------------------------------- */

/* The errno-style text of a status, so that texts read as the release's "<call>: strerror". */
static const char *mc_strerror(int status) {
  static const struct {
    int bx, sys;
  } map[] = {{BX_EMSGSIZE, EMSGSIZE},   {BX_ETIMEDOUT, ETIMEDOUT}, {BX_ECONNLOST, ECONNRESET},
             {BX_ECANCELED, ECANCELED}, {BX_ECLOSED, ENOTCONN},    {BX_EQUEUEFULL, ENOBUFS},
             {BX_EINVAL, EINVAL},       {BX_ENOMEM, ENOMEM},       {BX_ECLOSING, ESHUTDOWN},
             {BX_EBADMSG, EBADMSG}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (map[i].bx == status) return strerror(map[i].sys);
  if (status <= BX__ERR_MAX && status >= BX__ERR_MIN) return bx_strerror(status);
  if (status <= UV_EAI_ADDRFAMILY && status >= UV_EAI_PROTOCOL) return uv_strerror(status);
  return strerror(-status);
}

static char *mc_text(const char *op, int status) {
  char buf[MC_TEXT];
  snprintf(buf, sizeof buf, "%s: %s", op, mc_strerror(status));
  return strdup(buf);
}

static void mc_format_address(char *buf, size_t len, uint16_t proto, uint32_t ip, uint16_t port) {
  char ip_str[INET_ADDRSTRLEN];
  struct in_addr in = {.s_addr = ip};
  inet_ntop(AF_INET, &in, ip_str, sizeof ip_str);
  snprintf(buf, len, "%s://%s:%u", proto == msg_udp ? "udp" : "tcp", ip_str, (unsigned)port);
}

/* "1.2.3.4:80" (bx_mb_remote's form) into ip and port; an IPv6 address leaves ip 0. */
static void mc_parse_hostport(const char *s, uint32_t *ip, uint16_t *port) {
  const char *colon = strrchr(s, ':');
  if (colon == NULL) return;
  *port = (uint16_t)strtoul(colon + 1, NULL, 10);
  char host[64];
  size_t n = (size_t)(colon - s);
  if (n == 0 || n >= sizeof host) return;
  memcpy(host, s, n);
  host[n] = '\0';
  struct in_addr in;
  *ip = strcmp(host, "*") == 0               ? htonl(INADDR_ANY)
        : inet_pton(AF_INET, host, &in) == 1 ? in.s_addr
                                             : 0;
}

/* ---- conns -------------------------------------------------------------------------------- */

static mc_conn *mc_new(const char *address, msg_Callback cb, void *context, bool listening) {
  mc_conn *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->kind = MC_CONN;
  c->refs = 1; /* the creator's, handed to the native conn or to the error event */
  c->pub.callback = cb;
  c->pub.conn_context = context;
  c->pub.socket = -1;
  c->pub.for_listening = listening;
  c->pub.index = G.next_index++;
  c->pub.protocol_type = (uint16_t)(strncmp(address, "udp://", 6) == 0 ? msg_udp : msg_tcp);
  c->udp_listener = listening && c->pub.protocol_type == msg_udp;
  c->own_context = context;
  mc_parse_hostport(address + (strlen(address) >= 6 ? 6 : 0), &c->pub.remote_ip,
                    &c->pub.remote_port);
  G.open++;
  return c;
}

static void mc_unref(mc_conn *c) {
  if (--c->refs > 0) return;
  if (c->reply) bx_mb_reply_release(c->reply);
  free(c);
}

static void mc_end(mc_conn *c) {
  if (c->ended) return;
  c->ended = true;
  G.open--;
}

/* The native conn's context_free: it has delivered its last event. */
static void mc_native_gone(void *p) {
  mc_conn *c = p;
  c->native = NULL;
  mc_end(c);
  mc_unref(c);
}

static void mc_unlist(mc_remote *r) {
  if (r->listener == NULL) return;
  for (mc_remote **p = &r->listener->remotes; *p; p = &(*p)->next)
    if (*p == r) {
      *p = r->next;
      break;
    }
  r->listener = NULL;
}

static void mc_remote_gone(void *p) {
  mc_unlist(p);
  free(p);
}

static mc_remote *mc_find_remote(mc_conn *c) {
  for (mc_remote *r = c->remotes; r; r = r->next)
    if (r->ip == c->pub.remote_ip && r->port == c->pub.remote_port) return r;
  return NULL;
}

/* ---- delivery ----------------------------------------------------------------------------- */

static void mc_call(mc_conn *c, msg_Event event, msg_Data data) {
  G.delivered++;
  G.in_callback++;
  if (c->pub.callback) c->pub.callback(&c->pub, event, data);
  G.in_callback--;
}

/* Queues a msg_error for c (text owned by the queue; NULL text: out of memory, dropped). */
static void mc_later_error(mc_conn *c, char *text, bool last) {
  mc_later *l = text ? malloc(sizeof *l) : NULL;
  if (l == NULL) {
    free(text);
    if (last) {
      mc_end(c);
      mc_unref(c);
    }
    return;
  }
  *l = (mc_later){.conn = c, .text = text, .last = last};
  if (!last) c->refs++; /* a last event takes over the creator's reference */
  *G.tail = l;
  G.tail = &l->next;
}

static void mc_deliver_later(void) {
  while (G.head) {
    mc_later *l = G.head;
    G.head = l->next;
    if (G.head == NULL) G.tail = &G.head;
    mc_conn *c = l->conn;
    if (!c->ended) {
      msg_Data d = {strlen(l->text) + 1, l->text};
      mc_call(c, msg_error, d);
    }
    if (l->last) mc_end(c);
    mc_unref(c);
    free(l->text);
    free(l);
  }
}

/* Makes the msg_Data of a received payload: a copy with a NUL after it, freed after the
 * callback. */
static msg_Data mc_copy_in(const bx_mb_event *ev) {
  msg_Data d = msg_new_data_space(ev->len);
  if (d.bytes && ev->len) memcpy(d.bytes, ev->data, ev->len);
  return d;
}

static const char *mc_op_name(const char *op) {
  if (op == NULL) return "connect";
  return strcmp(op, "resolve") == 0 ? "getaddrinfo" : op;
}

/* One native event of c (for r, one of a UDP listener's remotes, when r is not NULL) as the
 * released event. */
static void mc_dispatch(mc_conn *c, mc_remote *r, const bx_mb_event *ev) {
  msg_Event event;
  msg_Data data = {0, NULL};
  bool last = false;
  switch (ev->type) {
  case BX_MB_CONNECTION_SETUP:
    mc_parse_hostport(bx_mb_remote(ev->conn), &c->pub.remote_ip, &c->pub.remote_port);
    event = msg_connection_ready;
    break;
  case BX_MB_CONNECTION_READY:
    event = msg_connection_ready;
    break;
  case BX_MB_LISTENING:
    event = msg_listening;
    mc_parse_hostport(bx_mb_url(ev->conn) + 6, &c->pub.remote_ip, &c->pub.remote_port);
    break;
  case BX_MB_CONNECTION_SETUP_ERROR:
  case BX_MB_LISTENING_ERROR:
    event = msg_error;
    data.bytes = mc_text(mc_op_name(ev->op), ev->status);
    data.num_bytes = data.bytes ? strlen(data.bytes) + 1 : 0;
    last = true;
    break;
  case BX_MB_LISTENING_ENDED:
    event = msg_listening_ended;
    last = true;
    break;
  case BX_MB_CONNECTION_CLOSED:
  case BX_MB_CONNECTION_LOST:
    event = ev->type == BX_MB_CONNECTION_CLOSED ? msg_connection_closed : msg_connection_lost;
    last = true;
    break;
  case BX_MB_MESSAGE:
  case BX_MB_REQUEST:
    event = ev->type == BX_MB_MESSAGE ? msg_message : msg_request;
    data = mc_copy_in(ev);
    c->pub.reply_context = NULL;
    c->pub.reply_id = 0;
    if (ev->type == BX_MB_REQUEST) {
      c->reply = ev->reply;
      G.next_reply_id = G.next_reply_id == UINT16_MAX ? 1 : (uint16_t)(G.next_reply_id + 1);
      c->pub.reply_id = G.next_reply_id;
    }
    break;
  case BX_MB_REPLY:
    event = msg_reply;
    data = mc_copy_in(ev);
    c->pub.reply_context = ev->reply_context;
    c->pub.reply_id = 0;
    break;
  case BX_MB_REPLY_MISSING:
    event = msg_error;
    data =
        msg_new_data(c->pub.protocol_type == msg_udp ? "udp get timed out" : "tcp get timed out");
    c->pub.reply_context = ev->reply_context;
    break;
  default:
    return;
  }
  if (r) {
    c->pub.remote_ip = r->ip;
    c->pub.remote_port = r->port;
    c->pub.conn_context = r->conn_context;
  } else if (c->udp_listener) {
    c->pub.conn_context = c->own_context;
  }
  if (!c->ended) mc_call(c, event, data);
  if (r)
    r->conn_context = c->pub.conn_context;
  else if (c->udp_listener)
    c->own_context = c->pub.conn_context;
  if (c->reply) {
    bx_mb_reply_release(c->reply);
    c->reply = NULL;
    c->pub.reply_id = 0;
  }
  msg_delete_data(data);
  if (last && r) mc_unlist(r);
  if (last && !r) mc_end(c);
}

/* A listener's new remote: a msg_Conn of its own (TCP) or an entry of the shared one (UDP). */
static void mc_on_ready(mc_conn *l, const bx_mb_event *ev) {
  uint32_t ip = 0;
  uint16_t port = 0;
  mc_parse_hostport(bx_mb_remote(ev->conn), &ip, &port);
  if (l->udp_listener) {
    mc_remote *r = calloc(1, sizeof *r);
    if (r == NULL) {
      bx_mb_disconnect(ev->conn);
      return;
    }
    *r = (mc_remote){MC_REMOTE, l, ev->conn, ip, port, l->own_context, l->remotes};
    l->remotes = r;
    bx_mb_set_context(ev->conn, r, mc_remote_gone);
    mc_dispatch(l, r, ev);
    return;
  }
  mc_conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    bx_mb_disconnect(ev->conn);
    return;
  }
  c->kind = MC_CONN;
  c->refs = 1;
  c->native = ev->conn;
  c->pub = (msg_Conn){.conn_context = l->pub.conn_context,
                      .callback = l->pub.callback,
                      .remote_ip = ip,
                      .remote_port = port,
                      .protocol_type = l->pub.protocol_type,
                      .socket = -1,
                      .index = G.next_index++};
  G.open++;
  bx_mb_set_context(ev->conn, c, mc_native_gone);
  mc_dispatch(c, NULL, ev);
}

static void mc_on_event(const bx_mb_event *ev) {
  int kind = ev->context ? *(const int *)ev->context : 0;
  if (kind == MC_REMOTE) {
    mc_remote *r = ev->context;
    if (r->listener) mc_dispatch(r->listener, r, ev);
    return;
  }
  mc_conn *c = ev->context;
  if (c == NULL) return;
  if (ev->type == BX_MB_CONNECTION_READY && c->native != ev->conn) {
    mc_on_ready(c, ev);
    return;
  }
  if (c->native == ev->conn) mc_dispatch(c, NULL, ev); /* else a remote never announced */
}

/* ---- the released API --------------------------------------------------------------------- */

static void mc_open(const char *address, msg_Callback cb, void *context, bool listening) {
  mc_conn *c = mc_new(address ? address : "", cb, context, listening);
  if (c == NULL) return;
  const char *call = listening ? "msg_listen" : "msg_connect";
  char buf[MC_TEXT];
  int rc = mc_init();
  if (rc) {
    mc_later_error(c, mc_text(call, rc), true);
    return;
  }
  if (address == NULL ||
      (strncmp(address, "tcp://", 6) != 0 && strncmp(address, "udp://", 6) != 0)) {
    snprintf(buf, sizeof buf, "%s: address '%s' is not tcp://HOST:PORT or udp://HOST:PORT", call,
             address ? address : "(null)");
    mc_later_error(c, strdup(buf), true);
    return;
  }
  rc = listening ? bx_mb_listen(G.ctx, address, NULL, mc_on_event, c, &c->native)
                 : bx_mb_connect(G.ctx, address, NULL, mc_on_event, c, &c->native);
  if (rc == BX_EINVAL) {
    snprintf(buf, sizeof buf, "%s: malformed address '%s'", call, address);
    mc_later_error(c, strdup(buf), true);
    return;
  }
  if (rc) {
    mc_later_error(c, mc_text(call, rc), true);
    return;
  }
  bx_mb_set_context(c->native, c, mc_native_gone); /* the creator's reference is the native's */
}

void msg_listen(const char *address, msg_Callback callback) {
  mc_open(address, callback, msg_no_context, true);
}

void msg_connect(const char *address, msg_Callback callback, void *conn_context) {
  mc_open(address, callback, conn_context, false);
}

/* The native conn that conn's sends go to now, or NULL after queuing the reason. */
static bx_mb_conn *mc_target(mc_conn *c, const char *call) {
  char buf[MC_TEXT];
  if (c->ended || c->native == NULL) {
    mc_later_error(c, mc_text(call, BX_ECLOSED), false);
    return NULL;
  }
  if (!c->udp_listener) return c->native;
  mc_remote *r = mc_find_remote(c);
  if (r) return r->native;
  char where[64];
  mc_format_address(where, sizeof where, c->pub.protocol_type, c->pub.remote_ip,
                    c->pub.remote_port);
  snprintf(buf, sizeof buf, "%s: no known connection with %s", call, where);
  mc_later_error(c, strdup(buf), false);
  return NULL;
}

void msg_unlisten(msg_Conn *conn) {
  if (conn == NULL) return;
  mc_conn *c = MC_OF(conn);
  if (!conn->for_listening) {
    mc_later_error(c, strdup("msg_unlisten: not a listening connection"), false);
    return;
  }
  if (!c->ended && c->native) bx_mb_unlisten(c->native);
}

void msg_disconnect(msg_Conn *conn) {
  if (conn == NULL) return;
  mc_conn *c = MC_OF(conn);
  if (conn->for_listening && !c->udp_listener) {
    mc_later_error(c, strdup("msg_disconnect: a listening connection (see msg_unlisten)"), false);
    return;
  }
  if (c->ended || c->native == NULL) return; /* already ending, as the release's no-op */
  bx_mb_conn *to = mc_target(c, "msg_disconnect");
  if (to) bx_mb_disconnect(to);
}

void msg_send(msg_Conn *conn, msg_Data data) {
  if (conn == NULL) return;
  mc_conn *c = MC_OF(conn);
  const char *call = c->udp_listener ? "sendto" : "send";
  bx_mb_conn *to = mc_target(c, call);
  if (to == NULL) return;
  int rc;
  if (c->reply && conn->reply_id && bx_mb_reply_conn(c->reply) == to) {
    bx_mb_reply *reply = c->reply;
    c->reply = NULL;
    conn->reply_id = 0;
    rc = bx_mb_reply_send(reply, data.bytes, data.num_bytes);
  } else {
    rc = bx_mb_send(to, data.bytes, data.num_bytes);
  }
  if (rc) mc_later_error(c, mc_text(call, rc), false);
}

void msg_get(msg_Conn *conn, msg_Data data, void *reply_context) {
  if (conn == NULL) return;
  mc_conn *c = MC_OF(conn);
  const char *call = c->udp_listener ? "sendto" : "send";
  bx_mb_conn *to = mc_target(c, call);
  if (to == NULL) return;
  int rc = bx_mb_get(to, data.bytes, data.num_bytes, 0, reply_context);
  if (rc) mc_later_error(c, mc_text(call, rc), false);
}

/* One pass of the loop, then the queued events. */
static void mc_pass(uv_run_mode mode) {
  uv_run(&G.loop, mode);
  mc_deliver_later();
}

void msg_runloop(int timeout_in_ms) {
  if (G.in_callback || mc_init()) return;
  unsigned long before = G.delivered;
  mc_deliver_later();
  if (timeout_in_ms == 0) {
    mc_pass(UV_RUN_NOWAIT);
    return;
  }
  if (timeout_in_ms > 0) {
    G.timer_fired = false;
    uv_timer_start(&G.timer, mc_on_timer, (uint64_t)timeout_in_ms, 0);
  }
  while (G.delivered == before && G.open > 0 && !(timeout_in_ms > 0 && G.timer_fired)) {
    if (uv_run(&G.loop, UV_RUN_ONCE) == 0 && G.head == NULL && G.delivered == before) {
      mc_deliver_later();
      break; /* nothing left that could call back */
    }
    mc_deliver_later();
  }
  uv_timer_stop(&G.timer);
}

/* ---- msg_Data and addresses --------------------------------------------------------------- */

char *msg_as_str(msg_Data data) {
  return data.bytes;
}

msg_Data msg_new_data_space(size_t num_bytes) {
  msg_Data data = {num_bytes, malloc(num_bytes + 1)};
  if (data.bytes == NULL)
    data.num_bytes = 0;
  else
    data.bytes[num_bytes] = '\0'; /* msg_as_str() stays safe on any payload */
  return data;
}

msg_Data msg_new_data(const char *str) {
  size_t n = strlen(str) + 1;
  msg_Data data = msg_new_data_space(n);
  if (data.bytes) memcpy(data.bytes, str, n);
  return data;
}

void msg_delete_data(msg_Data data) {
  free(data.bytes);
}

char *msg_ip_str(msg_Conn *conn) {
  static char buf[INET_ADDRSTRLEN];
  struct in_addr in = {.s_addr = conn->remote_ip};
  inet_ntop(AF_INET, &in, buf, sizeof buf);
  return buf;
}

char *msg_address_str(msg_Conn *conn) {
  static char buf[64];
  mc_format_address(buf, sizeof buf, conn->protocol_type, conn->remote_ip, conn->remote_port);
  return buf;
}

char *msg_error_str(msg_Data data) {
  return data.bytes;
}

int net_allocs_for_class(int class_) {
  (void)class_;
  return 0;
}
