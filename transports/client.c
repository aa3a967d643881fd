/* Client boxes: what bx_connect() returns. One per URL and context, standing for the peer
 * context's root registry.
 *
 * Design notes
 * - The box dials lazily: the first send creates a connection (which queues the
 *   RegisterSelfMessage handshake and then the message, encoded, while it connects). Later
 *   sends go to the same connection until it closes; the next send after that dials again.
 * - A connection that cannot be established fails what was queued on it through the registry,
 *   like a lost one: each queued call's reply export is answered with the dial error (for
 *   example UV_ECONNREFUSED), exactly once. Nothing hangs.
 * - The box holds a reference to its current connection box; the connection holds a weak
 *   pointer back and tells the box when it closes (bx__client_conn_gone()).
 * - The context's transport state holds one reference to every client box until the context
 *   closes (as FOAM's multitons), then shuts them: later sends fail with BX_ECLOSING.
 */
#include <stdlib.h>
#include <string.h>

#include "transport.h"

typedef struct cb_priv {
  bx__tstate *ts; /* NULL once shut */
  const bx__tran *tran;
  char *url;
  const char *addr; /* into url */
  bx_transport_limits limits;
  bx_box *conn; /* current connection box (owned reference), or NULL */
} cb_priv;

static cb_priv *cb(bx_box *b) {
  return bx_box_priv(b);
}

static int cb_send(bx_box *self, bx_msg *msg) {
  cb_priv *p = cb(self);
  if (p->ts == NULL) {
    bx_msg_unref(msg);
    return BX_ECLOSING;
  }
  if (p->conn == NULL) {
    int err = 0;
    p->conn = bx__conn_dial(p->ts, p->tran, p->addr, &p->limits, self, &err);
    if (p->conn == NULL) {
      bx_log(bx_box_ctx(self), BX_LOG_INFO, "%s: cannot connect: %s", p->url, bx_strerror(err));
      bx_msg_unref(msg);
      return err;
    }
  }
  return bx_send(p->conn, msg);
}

static void cb_destroy(bx_box *self) {
  cb_priv *p = cb(self);
  if (p->conn != NULL) {
    bx__conn *c = bx__conn_of(p->conn);
    if (c != NULL) bx__conn_forget_client(c);
    bx_box_unref(p->conn);
  }
  free(p->url);
}

static const bx_box_ops cb_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "client",
    .send = cb_send,
    .destroy = cb_destroy,
};

bx_box *bx__client_new(bx__tstate *ts, const bx__tran *tran, const char *url,
                       const bx_transport_limits *limits) {
  bx_ctx *ctx = bx__tstate_ctx(ts);
  bx_box *b = bx_box_new(ctx, &cb_ops, sizeof(cb_priv));
  if (b == NULL) return NULL;
  cb_priv *p = cb(b);
  p->ts = ts;
  p->tran = tran;
  p->url = bx__strdup(url);
  if (p->url == NULL || bx__tran_find(p->url, &p->addr) != tran) {
    bx_box_unref(b);
    return NULL;
  }
  bx__limits_resolve(ctx, limits, &p->limits);
  return b;
}

void bx__client_conn_gone(bx_box *client, bx_box *conn_box) {
  cb_priv *p = cb(client);
  if (p->conn != conn_box) return;
  p->conn = NULL;
  bx_box_unref(conn_box);
}

void bx__client_shutdown(bx_box *client) {
  cb_priv *p = cb(client);
  p->ts = NULL;
  bx_box *conn = p->conn;
  if (conn == NULL) return;
  bx_box_ref(conn);
  bx__conn_close(bx__conn_of(conn), BX_ECLOSING); /* calls bx__client_conn_gone() */
  bx_box_unref(conn);
}
