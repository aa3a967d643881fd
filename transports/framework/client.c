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
 * - The context's transport state holds one reference to every client box until the context
 *   closes (as FOAM's multitons); the box is a member of that state, so closing the context
 *   shuts it: its peer closes and later sends fail with BX_ECLOSING.
 */
#include <stdlib.h>
#include <string.h>

#include "framework.h"

typedef struct cb_priv {
  bx__tmember member; /* first: in the context state until shut */
  bx__tstate *ts;     /* NULL once shut */
  bx_box *self;       /* weak */
  const bx__tran *tran;
  char *url;
  const char *addr; /* into url */
  bx_transport_limits limits;
  bx_box *conn; /* current connection box (owned reference), or NULL */
} cb_priv;

static cb_priv *cb(bx_box *b) {
  return bx_box_priv(b);
}

static void cb_conn_gone(void *data, bx_box *conn_box) {
  cb_priv *p = data;
  if (p->conn != conn_box) return;
  p->conn = NULL;
  bx_box_unref(conn_box);
}

static int cb_send(bx_box *self, bx_msg *msg) {
  cb_priv *p = cb(self);
  if (p->ts == NULL) {
    bx_msg_unref(msg);
    return BX_ECLOSING;
  }
  if (p->conn == NULL) {
    int err = 0;
    p->conn = bx__conn_dial(p->ts, p->tran, p->addr, &p->limits, cb_conn_gone, p, &err);
    if (p->conn == NULL) {
      bx_log(bx_box_ctx(self), BX_LOG_INFO, "%s: cannot connect: %s", p->url, bx_strerror(err));
      bx_msg_unref(msg);
      return err;
    }
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
  bx__free(p->url);
}

static const bx_box_ops cb_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "client",
    .send = cb_send,
    .destroy = cb_destroy,
};

static bx_box *cb_new(bx__tstate *ts, const bx__tran *tran, const char *url,
                      const bx_transport_limits *limits) {
  bx_ctx *ctx = bx__tstate_ctx(ts);
  bx_box *b = NULL;
  bx_box_new(ctx, &cb_ops, sizeof(cb_priv), &b);
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
