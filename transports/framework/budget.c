/* A peer's budget of requests being served: the reply box every request from a peer is
 * dispatched with, counting the request as pending until it is answered.
 *
 * Design notes
 * - Fairness under a flood (docs/transports.md, Limits): a peer may have at most
 *   limits.max_pending requests in service at once, here or relayed to another peer. The count
 *   lives in the peer (peer.c: bx__conn_budget_take / bx__conn_budget_give); at the limit the
 *   peer's input is paused until half are answered. So a peer that floods calls, and worse one
 *   that never reads the replies, fills at most its own budget of the services' queues and of
 *   their exports, and the other peers' calls keep flowing beside it.
 * - The box stands in for the request's reply box: its first message (the answer, or the error
 *   a refusal or a lost connection sends) is forwarded and gives the request back; a box
 *   released unanswered (a one-way answer path dropped, a context closing) gives it back too,
 *   exactly once either way.
 * - It has no wire form: relayed, it is exported like any local reply box, and the answer comes
 *   back through it. It holds the peer's box, so the peer it counts for outlives it.
 */
#include "framework.h"

typedef struct bg_state {
  bx_box *inner; /* the request's own reply box (owned) */
  bx_box *conn;  /* the peer the request came from (owned) */
  bool given;    /* the request was given back */
} bg_state;

static void bg_give(bg_state *st) {
  if (st->given) return;
  st->given = true;
  bx__conn_budget_give(bx__conn_of(st->conn));
}

static int bg_send(bx_box *self, bx_msg *msg) {
  bg_state *st = bx_box_priv(self);
  bg_give(st);
  return bx_send(st->inner, msg);
}

static void bg_destroy(bx_box *self) {
  bg_state *st = bx_box_priv(self);
  bg_give(st);
  bx_box_unref(st->inner);
  bx_box_unref(st->conn);
}

static const bx_box_ops bg_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "pending",
    .send = bg_send,
    .destroy = bg_destroy,
};

bx_box *bx__budget_reply_box(bx__conn *c, bx_box *reply) {
  bx_box *b = NULL;
  bx_box_new(bx__conn_ctx(c), &bg_ops, sizeof(bg_state), &b);
  if (b == NULL) return NULL;
  bg_state *st = bx_box_priv(b);
  st->inner = bx_box_ref(reply);
  st->conn = bx_box_ref(bx__conn_box(c));
  bx__conn_budget_take(c);
  return b;
}
