/* Timeout: forwards each message with a guard as its reply box and a timer beside it.
 *
 * Design notes
 * - Per message a guard record holds the original reply box and a uv timer, and is tracked on
 *   the context. Exactly one of three things settles it, and whichever comes first takes the
 *   original reply box so the others find nothing to deliver: the delegate's reply (forwarded),
 *   the timer (BX_ETIMEDOUT) or the context closing (BX_ECLOSING). A reply after that is
 *   dropped.
 * - The guard *box* is what the delegate sees as the reply box; it may live much longer (an
 *   export in a registry) or much shorter than the timer. So the record is separate and
 *   refcounted: one reference for the guard box, one for the timer until its close callback.
 */
#include <stdlib.h>

#include "box_internal.h"

typedef struct to_guard {
  bx__tracked tracked; /* first: on_close gets this pointer */
  uv_timer_t timer;
  bx_ctx *ctx;
  bx_box *reply; /* the original reply box (owned) until the guard settles, then NULL */
  unsigned refs;
} to_guard;

typedef struct to_state {
  bx_box *delegate; /* owned reference */
  uint64_t timeout_ms;
} to_state;

typedef struct tg_state {
  to_guard *g; /* a counted reference */
} tg_state;

static void to_guard_unref(to_guard *g) {
  if (--g->refs == 0) free(g);
}

static void to_timer_closed(uv_handle_t *h) {
  to_guard *g = h->data;
  bx__untrack(g->ctx, &g->tracked);
  to_guard_unref(g);
}

/* Settles the guard: returns the original reply box (the caller owns it; NULL when already
 * settled) and starts closing the timer. */
static bx_box *to_settle(to_guard *g) {
  bx_box *reply = g->reply;
  g->reply = NULL;
  if (!uv_is_closing((uv_handle_t *)&g->timer)) {
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, to_timer_closed);
  }
  return reply;
}

/* Settles the guard with an error reply, if it was not settled yet. */
static void to_settle_error(to_guard *g, int code) {
  bx_box *reply = to_settle(g);
  if (reply == NULL) return;
  bx_send(reply, bx_msg_new_error(code, NULL));
  bx_box_unref(reply);
}

static void to_timer_cb(uv_timer_t *t) {
  to_guard *g = t->data;
  bx_log(g->ctx, BX_LOG_DEBUG, "timeout: no reply in time");
  to_settle_error(g, BX_ETIMEDOUT);
}

static void to_on_close(bx__tracked *t) {
  to_settle_error((to_guard *)t, BX_ECLOSING);
}

/* ---- the guard box ------------------------------------------------------------------------ */

static int tg_send(bx_box *self, bx_msg *reply) {
  tg_state *st = bx_box_priv(self);
  bx_box *orig = to_settle(st->g);
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
  tg_state *st = bx_box_priv(self);
  if (st->g) to_guard_unref(st->g); /* NULL when construction failed half way */
  st->g = NULL;
}

static const bx_box_ops tg_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "timeout-guard",
    .send = tg_send,
    .destroy = tg_destroy,
};

/* A new guard record (tracked, timer running) and its box, or NULL on failure. */
static bx_box *to_guard_new(bx_box *self, to_guard **out) {
  to_state *st = bx_box_priv(self);
  bx_ctx *ctx = bx_box_ctx(self);
  to_guard *g = bx__zalloc(sizeof *g);
  bx_box *gbox = bx_box_new(ctx, &tg_ops, sizeof(tg_state));
  if (g == NULL || gbox == NULL || uv_timer_init(bx_ctx_loop(ctx), &g->timer) != 0) {
    free(g);
    bx_box_unref(gbox);
    return NULL;
  }
  g->ctx = ctx;
  g->refs = 2; /* the guard box and the timer */
  g->timer.data = g;
  g->tracked.on_close = to_on_close;
  ((tg_state *)bx_box_priv(gbox))->g = g;
  bx__track(ctx, &g->tracked);
  uv_timer_start(&g->timer, to_timer_cb, st->timeout_ms, 0);
  *out = g;
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
  to_guard *g = NULL;
  bx_box *gbox = w ? to_guard_new(self, &g) : NULL;
  if (gbox == NULL) {
    bx_msg_unref(w ? w : msg);
    return BX_ENOMEM;
  }
  g->reply = bx_msg_take_reply_box(w);
  bx_msg_set_reply_box(w, gbox);
  bx_box_unref(gbox); /* the message holds it now */
  g->refs++;          /* keep the record while we look at the outcome */
  int rc = bx_send(st->delegate, w);
  if (rc < 0) {
    /* Rejected outright: the original reply box must hear nothing, unless the delegate
     * already answered (then the reply was delivered and the send counts as accepted). */
    bx_box *orig = to_settle(g);
    if (orig == NULL) rc = 0;
    bx_box_unref(orig);
  }
  to_guard_unref(g);
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

bx_box *bx_timeout_box_new(bx_ctx *ctx, bx_box *delegate, uint64_t timeout_ms) {
  if (ctx == NULL || delegate == NULL) return NULL;
  bx_box *box = bx_box_new(ctx, &to_ops, sizeof(to_state));
  if (box == NULL) return NULL;
  to_state *st = bx_box_priv(box);
  st->delegate = bx_box_ref(delegate);
  st->timeout_ms = timeout_ms;
  return box;
}
