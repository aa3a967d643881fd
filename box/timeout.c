/* Timeout: forwards each message with a guard box as its reply box, under a deadline.
 *
 * Design notes
 * - Per message a guard box holds the original reply box and a settle record (settle.c): a
 *   deadline on the context's deadline service, and tracking on the context. Exactly one of
 *   three things settles it, and whichever comes first takes the original reply box so the
 *   others find nothing to deliver: the delegate's reply (forwarded), the deadline
 *   (BX_ETIMEDOUT) or the context closing (BX_ECLOSING, delivered from the run queue). A reply
 *   after that is dropped.
 * - The guard box is what the delegate sees as the reply box; it may be dropped long before the
 *   deadline (the delegate lost the message) or kept long after it (an export in a registry).
 *   So while unsettled the record holds a reference to its own box, dropped when it settles:
 *   the box lives until it has settled and nobody references it, and no handle delays that.
 */
#include <stdlib.h>

#include "box_internal.h"

typedef struct to_state {
  bx_box *delegate; /* owned reference */
  uint64_t timeout_ms;
} to_state;

typedef struct tg_state {
  bx__settle_rec settle; /* first: expire gets this pointer */
  bx_box *self;          /* the guard box: a reference of its own until the record settles */
  bx_box *reply;         /* the original reply box (owned) until the record settles, then NULL */
} tg_state;

/* Settles the guard: returns the original reply box (the caller owns it; NULL when already
 * settled). The guard box may be freed here unless the caller holds a reference to it. */
static bx_box *to_settle(tg_state *g) {
  if (!bx__settle(&g->settle)) return NULL;
  bx_box *reply = g->reply;
  g->reply = NULL;
  bx_box_unref(g->self); /* the unsettled record's own reference */
  return reply;
}

/* The deadline passed (BX_ETIMEDOUT) or the context is closing (BX_ECLOSING). */
static void to_expire(bx__settle_rec *s, int code) {
  tg_state *g = (tg_state *)s;
  bx_ctx *ctx = s->ctx;
  bx_box *reply = to_settle(g);
  if (reply == NULL) return;
  if (code == BX_ECLOSING) {
    bx__send_error_later(reply, code);
    return;
  }
  bx_log(ctx, BX_LOG_DEBUG, "timeout: no reply in time");
  bx_send_error(reply, code, NULL);
  bx_box_unref(reply);
}

/* ---- the guard box ------------------------------------------------------------------------ */

static int tg_send(bx_box *self, bx_msg *reply) {
  bx_box *orig = to_settle(bx_box_priv(self));
  if (orig == NULL) {
    bx_log(bx_box_ctx(self), BX_LOG_DEBUG, "timeout: dropping a reply that came too late");
    bx_msg_unref(reply);
    return 0;
  }
  int rc = bx_send(orig, reply);
  bx_box_unref(orig);
  return rc;
}

static void tg_destroy(bx_box *self) {
  tg_state *g = bx_box_priv(self);
  bx_box_unref(g->reply); /* NULL unless construction failed half way */
  g->reply = NULL;
}

static const bx_box_ops tg_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "timeout-guard",
    .send = tg_send,
    .destroy = tg_destroy,
};

/* A new guard box (watched, deadline running) or NULL on failure. The caller gets one
 * reference; the unsettled record holds another. */
static bx_box *to_guard_new(bx_box *self) {
  to_state *st = bx_box_priv(self);
  bx_ctx *ctx = bx_box_ctx(self);
  bx_box *gbox = NULL;
  bx_box_new(ctx, &tg_ops, sizeof(tg_state), &gbox);
  if (gbox == NULL) return NULL;
  tg_state *g = bx_box_priv(gbox);
  bx__settle_init(&g->settle, ctx, to_expire);
  if (bx__settle_after(&g->settle, st->timeout_ms) != 0) {
    bx__settle(&g->settle);
    bx_box_unref(gbox);
    return NULL;
  }
  bx__settle_watch(&g->settle);
  g->self = bx_box_ref(gbox);
  return gbox;
}

static int to_send(bx_box *self, bx_msg *msg) {
  to_state *st = bx_box_priv(self);
  if (bx_msg_reply_box(msg) == NULL) return bx_send(st->delegate, msg); /* nothing to guard */
  if (bx_ctx_is_closing(bx_box_ctx(self))) {
    bx_msg_unref(msg);
    return BX_ECLOSING;
  }
  bx_msg *w = bx_msg_writable(msg);
  bx_box *gbox = w ? to_guard_new(self) : NULL;
  if (gbox == NULL) {
    bx_msg_unref(w ? w : msg);
    return BX_ENOMEM;
  }
  ((tg_state *)bx_box_priv(gbox))->reply = bx_msg_take_reply_box(w);
  bx_msg_set_reply_box(w, gbox);
  int rc = bx_send(st->delegate, w); /* our reference keeps the guard box while we look */
  if (rc < 0) {
    /* Rejected outright: the original reply box must hear nothing, unless the delegate
     * already answered (then the reply was delivered and the send counts as accepted). */
    bx_box *orig = to_settle(bx_box_priv(gbox));
    if (orig == NULL) rc = 0;
    bx_box_unref(orig);
  }
  bx_box_unref(gbox);
  return rc;
}

static void to_destroy(bx_box *self) {
  to_state *st = bx_box_priv(self);
  bx_box_unref(st->delegate);
  st->delegate = NULL;
}

static const bx_box_ops to_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "timeout",
    .send = to_send,
    .destroy = to_destroy,
};

int bx_timeout_box_new(bx_ctx *ctx, bx_box *delegate, uint64_t timeout_ms, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || delegate == NULL) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &to_ops, sizeof(to_state), &box);
  if (box == NULL) return BX_ENOMEM;
  to_state *st = bx_box_priv(box);
  st->delegate = bx_box_ref(delegate);
  st->timeout_ms = timeout_ms;
  *out = box;
  return 0;
}
