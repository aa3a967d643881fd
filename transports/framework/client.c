/* Client boxes: what bx_connect() returns. One per URL and context, standing for the peer
 * context's root registry.
 *
 * Design notes
 * - The box dials lazily: the first send creates a peer (which queues the
 *   RegisterSelfMessage handshake and then the message, encoded, while it connects). Later
 *   sends go to the same peer until it closes; the next send after that dials again.
 * - A peer that cannot be reached fails what was queued on it through the registry, like a
 *   lost one: each queued call's reply export is answered with the dial error (for example
 *   UV_ECONNREFUSED), exactly once. Nothing hangs.
 * - The box holds a reference to its current connection box; the peer tells the box when it
 *   closes (cb_conn_gone, given to bx__conn_dial), so the two never call each other by name
 *   the other way.
 * - Connection states (bx_connection_on_state): the box reports CONNECTING when it dials, UP
 *   when the peer's dial completed (the peer's up hook), DOWN with the reason when the dial
 *   failed or the peer closed (the peer's close code, or the dial's error). Each change is
 *   delivered to every watcher from the run queue (an event holds a reference to the box),
 *   never inside the send that caused it. A watcher removed during a delivery is only marked,
 *   and swept once no delivery runs.
 * - The context's transport state holds one reference to every client box until the context
 *   closes (as FOAM's multitons); the box is a member of that state, so closing the context
 *   shuts it: its peer closes and later sends fail with BX_ECLOSING.
 */
#include <stdlib.h>
#include <string.h>

#include "framework.h"

typedef struct cb_watch {
  struct cb_watch *next;
  bx_conn_state_cb cb;
  void *data;
  bool dead; /* removed during a delivery */
} cb_watch;

typedef struct cb_priv {
  bx__tmember member; /* first: in the context state until shut */
  bx__tstate *ts;     /* NULL once shut */
  bx_box *self;       /* weak */
  const bx__tran *tran;
  char *url;
  const char *addr; /* into url */
  bx_transport_limits limits;
  bx_box *conn; /* current connection box (owned reference), or NULL */
  cb_watch *watchers;
  unsigned delivering; /* deliveries running (watchers are swept when 0) */
  bx_conn_state state;
  int reason; /* of the last DOWN */
} cb_priv;

static cb_priv *cb(bx_box *b) {
  return bx_box_priv(b);
}

/* ---- connection states -------------------------------------------------------------------- */

typedef struct cb_event {
  bx_box *box; /* a reference */
  bx_conn_state state;
  int reason;
} cb_event;

static void cb_sweep(cb_priv *p) {
  cb_watch **w = &p->watchers;
  while (*w != NULL) {
    cb_watch *x = *w;
    if (x->dead) {
      *w = x->next;
      bx__free(x);
    } else {
      w = &x->next;
    }
  }
}

static void cb_event_task(void *a, void *b) {
  cb_event *ev = a;
  (void)b;
  cb_priv *p = cb(ev->box);
  p->delivering++;
  for (cb_watch *w = p->watchers; w != NULL; w = w->next)
    if (!w->dead) w->cb(ev->box, ev->state, ev->reason, w->data);
  if (--p->delivering == 0) cb_sweep(p);
  bx_box_unref(ev->box);
  bx__free(ev);
}

/* Records the state and queues its delivery to the watchers. */
static void cb_report(cb_priv *p, bx_conn_state state, int reason) {
  p->state = state;
  if (state == BX_CONN_DOWN) p->reason = reason;
  if (p->watchers == NULL) return;
  cb_event *ev = bx__malloc(sizeof *ev);
  if (ev == NULL) {
    bx_log(bx_box_ctx(p->self), BX_LOG_WARN, "%s: no memory to report a connection state", p->url);
    return;
  }
  ev->box = bx_box_ref(p->self);
  ev->state = state;
  ev->reason = reason;
  if (bx__defer(bx_box_ctx(p->self), cb_event_task, ev, NULL) != 0) {
    bx_box_unref(ev->box);
    bx__free(ev);
  }
}

static void cb_conn_up(void *data, bx_box *conn_box) {
  cb_priv *p = data;
  if (p->conn == conn_box) cb_report(p, BX_CONN_UP, 0);
}

static void cb_conn_gone(void *data, bx_box *conn_box) {
  cb_priv *p = data;
  if (p->conn != conn_box) return;
  bx__conn *c = bx__conn_of(conn_box);
  int code = c ? bx__conn_close_code(c) : BX_ECONNLOST;
  p->conn = NULL;
  bx_box_unref(conn_box);
  cb_report(p, BX_CONN_DOWN, code ? code : BX_ECONNLOST);
}

static cb_priv *cb_client(bx_box *conn) {
  return conn != NULL && bx__box_is(conn, &bx__client_box_ops) ? cb(conn) : NULL;
}

int bx_connection_on_state(bx_box *conn, bx_conn_state_cb fn, void *data) {
  cb_priv *p = cb_client(conn);
  if (p == NULL || fn == NULL) return BX_EINVAL;
  cb_watch *w = bx__calloc(1, sizeof *w);
  if (w == NULL) return BX_ENOMEM;
  w->cb = fn;
  w->data = data;
  cb_watch **end = &p->watchers;
  while (*end != NULL)
    end = &(*end)->next;
  *end = w;
  return 0;
}

int bx_connection_off_state(bx_box *conn, bx_conn_state_cb fn, void *data) {
  cb_priv *p = cb_client(conn);
  if (p == NULL) return BX_EINVAL;
  for (cb_watch *w = p->watchers; w != NULL; w = w->next) {
    if (w->dead || w->cb != fn || w->data != data) continue;
    w->dead = true;
    if (p->delivering == 0) cb_sweep(p);
    return 0;
  }
  return BX_EINVAL;
}

bx_conn_state bx_connection_state(bx_box *conn, int *reason) {
  cb_priv *p = cb_client(conn);
  if (reason) *reason = p ? p->reason : BX_EINVAL;
  return p ? p->state : BX_CONN_IDLE;
}

static int cb_send(bx_box *self, bx_msg *msg) {
  cb_priv *p = cb(self);
  if (p->ts == NULL) {
    bx_msg_unref(msg);
    return BX_ECLOSING;
  }
  if (p->conn == NULL) {
    int err = 0;
    cb_report(p, BX_CONN_CONNECTING, 0);
    p->conn = bx__conn_dial(p->ts, p->tran, p->addr, &p->limits, cb_conn_gone, p, &err);
    if (p->conn == NULL) {
      bx_log(bx_box_ctx(self), BX_LOG_INFO, "%s: cannot connect: %s", p->url, bx_strerror(err));
      cb_report(p, BX_CONN_DOWN, err);
      bx_msg_unref(msg);
      return err;
    }
    bx__conn *c = bx__conn_of(p->conn);
    bx__conn_set_up(c, cb_conn_up);
    if (bx__conn_is_open(c)) cb_report(p, BX_CONN_UP, 0); /* a dial that completed at once */
  }
  return bx_send(p->conn, msg);
}

/* Context closing: the box closes its peer and rejects every later send. */
static void cb_shutdown(bx__tmember *m) {
  cb_priv *p = (cb_priv *)m;
  bx__tstate *ts = p->ts;
  p->ts = NULL;
  bx_box *conn = p->conn;
  if (conn != NULL) {
    bx_box_ref(conn);
    bx__conn_close(bx__conn_of(conn), BX_ECLOSING); /* calls cb_conn_gone() */
    bx_box_unref(conn);
  }
  if (ts != NULL) bx__tstate_leave(ts, &p->member);
}

static void cb_destroy(bx_box *self) {
  cb_priv *p = cb(self);
  if (p->ts != NULL) bx__tstate_leave(p->ts, &p->member);
  if (p->conn != NULL) {
    bx__conn *c = bx__conn_of(p->conn);
    if (c != NULL) bx__conn_forget_client(c);
    bx_box_unref(p->conn);
  }
  for (cb_watch *w = p->watchers, *next; w != NULL; w = next) {
    next = w->next;
    bx__free(w);
  }
  bx__free(p->url);
}

const bx_box_ops bx__client_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "client",
    .send = cb_send,
    .destroy = cb_destroy,
};

static bx_box *cb_new(bx__tstate *ts, const bx__tran *tran, const char *url,
                      const bx_transport_limits *limits) {
  bx_ctx *ctx = bx__tstate_ctx(ts);
  bx_box *b = NULL;
  bx_box_new(ctx, &bx__client_box_ops, sizeof(cb_priv), &b);
  if (b == NULL) return NULL;
  cb_priv *p = cb(b);
  p->self = b;
  p->tran = tran;
  p->url = bx__strdup(url);
  if (p->url == NULL || bx__tran_find(p->url, &p->addr) != tran) {
    bx_box_unref(b);
    return NULL;
  }
  bx__limits_resolve(ctx, tran, limits, &p->limits);
  p->ts = ts;
  p->member.kind = BX__TM_CLIENT;
  p->member.close = cb_shutdown;
  bx__tstate_join(ts, &p->member);
  return b;
}

int bx__client_get(bx_ctx *ctx, const char *url, const bx_transport_limits *limits, bx_box **out) {
  const char *addr;
  const bx__tran *tran = bx__tran_find(url, &addr);
  if (tran == NULL) return BX_EINVAL;
  bx__tstate *ts = bx__tstate_get(ctx);
  bx__map *clients = ts ? bx__tstate_clients(ts) : NULL;
  if (clients == NULL) return bx_ctx_is_closing(ctx) ? BX_ECLOSING : BX_ENOMEM;
  bx_box *b = bx__map_get(clients, url);
  if (b != NULL) {
    *out = bx_box_ref(b);
    return 0;
  }
  b = cb_new(ts, tran, url, limits);
  if (b == NULL) return BX_ENOMEM;
  if (bx__map_put(clients, url, b, NULL) != 0) {
    cb_shutdown(&cb(b)->member);
    bx_box_unref(b);
    return BX_ENOMEM;
  }
  *out = bx_box_ref(b);
  return 0;
}

int bx_connect(bx_ctx *ctx, const char *url, const bx_transport_limits *limits, bx_box **out) {
  if (out) *out = NULL;
  if (ctx == NULL || out == NULL || bx__tran_find(url, NULL) == NULL) return BX_EINVAL;
  return bx__client_get(ctx, url, limits, out);
}
