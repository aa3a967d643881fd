/* Retry: re-sends a message after retryable failures, with exponential backoff.
 *
 * Design notes
 * - Per message a call record keeps the original message (and so its reply box), counts
 *   attempts and owns one uv timer for the backoffs; it is tracked on the context so closing
 *   the context settles it with BX_ECLOSING.
 * - Each attempt sends bx_msg_copy() of the original with its own guard box as reply box. A
 *   guard only counts while it belongs to the current attempt and that attempt has no outcome
 *   yet; anything else (a reply to an earlier attempt, a second reply) is dropped.
 * - An attempt's outcome is its reply, a synchronous rejection, or its guard being released
 *   unanswered (the delegate dropped the message, so no reply can ever come: the call ends
 *   quietly rather than waiting forever). The first attempt runs inside bx_send(): a final
 *   rejection there is returned to the caller and the reply box hears nothing, as box.h asks.
 * - A message without a reply box is retried only on synchronous rejections.
 * - The record is refcounted: one reference for the timer until its close callback, one per
 *   live guard box, so guards may outlive the call (exports) and the call may outlive them.
 */
#include <stdlib.h>

#include "box_internal.h"

typedef struct rt_state {
  bx_box *delegate; /* owned reference */
  bx_retry_options opts;
} rt_state;

typedef struct rt_call {
  bx__tracked tracked; /* first: on_close gets this pointer */
  uv_timer_t timer;
  bx_ctx *ctx;
  unsigned refs;
  bx_box *retry;     /* owned reference to the Retry box (delegate and options) */
  bx_msg *orig;      /* owned until the call settles, then NULL */
  unsigned attempts; /* attempts started */
  bool answered;     /* the current attempt has had its outcome */
  uint64_t backoff;  /* the wait before the next attempt */
} rt_call;

typedef struct rg_state {
  rt_call *call; /* a counted reference */
  unsigned attempt;
} rg_state;

static bool rt_default_retryable(int err, void *data) {
  (void)data;
  return err == BX_ETIMEDOUT || err == BX_ECONNLOST || err == BX_ENOSERVICE ||
         err == UV_ECONNREFUSED;
}

void bx_retry_options_init(bx_retry_options *opts) {
  if (opts == NULL) return;
  *opts = (bx_retry_options){
      .max_attempts = 3,
      .initial_backoff_ms = 50,
      .max_backoff_ms = 2000,
      .multiplier = 2.0,
      .retryable = rt_default_retryable,
      .retryable_data = NULL,
  };
}

/* ---- the call record ---------------------------------------------------------------------- */

static rt_state *rt_opts(rt_call *call) {
  return bx_box_priv(call->retry);
}

static void rt_call_unref(rt_call *call) {
  if (--call->refs > 0) return;
  bx_box_unref(call->retry);
  free(call);
}

static void rt_timer_closed(uv_handle_t *h) {
  rt_call *call = h->data;
  bx__untrack(call->ctx, &call->tracked);
  rt_call_unref(call);
}

/* Ends the call without delivering anything and starts closing its timer. */
static void rt_finish(rt_call *call) {
  if (call->orig == NULL) return;
  bx_msg_unref(call->orig);
  call->orig = NULL;
  if (!uv_is_closing((uv_handle_t *)&call->timer)) {
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, rt_timer_closed);
  }
}

/* Ends the call with `reply` (taken) as its one outcome at the original reply box. */
static int rt_deliver(rt_call *call, bx_msg *reply) {
  bx_box *rb = bx_box_ref(bx_msg_reply_box(call->orig));
  rt_finish(call);
  if (rb == NULL) {
    bx_msg_unref(reply);
    return 0;
  }
  int rc = bx_send(rb, reply);
  bx_box_unref(rb);
  return rc;
}

static bool rt_should_retry(rt_call *call, int err) {
  rt_state *st = rt_opts(call);
  if (call->attempts >= st->opts.max_attempts || bx_ctx_is_closing(call->ctx)) return false;
  return st->opts.retryable(err, st->opts.retryable_data);
}

static uint64_t rt_grow_backoff(const bx_retry_options *o, uint64_t cur) {
  double next = (double)cur * o->multiplier;
  if (next >= (double)o->max_backoff_ms) return o->max_backoff_ms;
  return (uint64_t)next;
}

static void rt_timer_cb(uv_timer_t *t);

static void rt_schedule(rt_call *call, int err) {
  rt_state *st = rt_opts(call);
  bx_log(call->ctx, BX_LOG_DEBUG, "retry: attempt %u failed (%s), next in %llu ms", call->attempts,
         bx_err_name(err), (unsigned long long)call->backoff);
  uv_timer_start(&call->timer, rt_timer_cb, call->backoff, 0);
  call->backoff = rt_grow_backoff(&st->opts, call->backoff);
}

static void rt_on_close(bx__tracked *t) {
  rt_call *call = (rt_call *)t;
  if (call->orig == NULL) return;
  rt_deliver(call, bx_msg_new_error(BX_ECLOSING, NULL));
}

/* ---- the per-attempt guard box ------------------------------------------------------------ */

/* Is this guard's answer still awaited? */
static bool rg_current(const rg_state *g) {
  const rt_call *call = g->call;
  return call->orig != NULL && g->attempt == call->attempts && !call->answered;
}

static int rg_send(bx_box *self, bx_msg *reply) {
  rg_state *g = bx_box_priv(self);
  rt_call *call = g->call;
  if (!rg_current(g)) {
    bx_log(bx_box_ctx(self), BX_LOG_DEBUG, "retry: dropping a reply to a stale attempt");
    bx_msg_unref(reply);
    return 0;
  }
  call->answered = true;
  int err = bx_msg_error(reply, NULL);
  if (err == 0 || !rt_should_retry(call, err)) return rt_deliver(call, reply);
  bx_msg_unref(reply);
  rt_schedule(call, err);
  return 0;
}

static void rg_destroy(bx_box *self) {
  rg_state *g = bx_box_priv(self);
  if (g->call == NULL) return;
  if (rg_current(g)) {
    bx_log(g->call->ctx, BX_LOG_DEBUG, "retry: the delegate dropped attempt %u unanswered",
           g->attempt);
    rt_finish(g->call);
  }
  rt_call_unref(g->call);
  g->call = NULL;
}

static const bx_box_ops rg_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "retry-guard",
    .send = rg_send,
    .destroy = rg_destroy,
};

/* The message for the current attempt: a copy of the original, with a new guard as its reply
 * box when the original has one. *guard receives an extra reference to that guard (or NULL). */
static bx_msg *rt_attempt_msg(rt_call *call, bx_box **guard) {
  *guard = NULL;
  bx_msg *copy = bx_msg_copy(call->orig);
  if (copy == NULL || bx_msg_reply_box(call->orig) == NULL) return copy;
  bx_box *gb = bx_box_new(call->ctx, &rg_ops, sizeof(rg_state));
  if (gb == NULL) {
    bx_msg_unref(copy);
    return NULL;
  }
  rg_state *g = bx_box_priv(gb);
  g->call = call;
  g->attempt = call->attempts;
  call->refs++;
  bx_msg_set_reply_box(copy, gb);
  *guard = gb;
  return copy;
}

/* Starts the next attempt. Returns 0 when it is under way, answered, or rescheduled, or the
 * error of a synchronous rejection that ends the call (the caller reports it and settles). */
static int rt_attempt(rt_call *call) {
  call->attempts++;
  call->answered = false;
  bx_box *guard;
  bx_msg *copy = rt_attempt_msg(call, &guard);
  int rc = copy ? bx_send(rt_opts(call)->delegate, copy) : BX_ENOMEM;
  if (call->orig == NULL || call->answered) {
    rc = 0; /* settled or answered from inside bx_send */
  } else if (rc == 0) {
    if (guard == NULL) rt_finish(call); /* no reply box: accepted is all there is to know */
  } else {
    call->answered = true;
    if (rt_should_retry(call, rc)) {
      rt_schedule(call, rc);
      rc = 0;
    }
  }
  bx_box_unref(guard); /* the last reference here means the delegate dropped the attempt */
  return rc;
}

static void rt_timer_cb(uv_timer_t *t) {
  rt_call *call = t->data;
  if (call->orig == NULL) return;
  int rc = rt_attempt(call);
  if (rc < 0) rt_deliver(call, bx_msg_new_error(rc, NULL));
}

/* A new tracked call record owning msg, or NULL (msg untouched). */
static rt_call *rt_call_new(bx_box *self, bx_msg *msg) {
  rt_state *st = bx_box_priv(self);
  bx_ctx *ctx = bx_box_ctx(self);
  rt_call *call = bx__zalloc(sizeof *call);
  if (call == NULL) return NULL;
  if (uv_timer_init(bx_ctx_loop(ctx), &call->timer) != 0) {
    free(call);
    return NULL;
  }
  call->timer.data = call;
  call->ctx = ctx;
  call->refs = 1; /* the timer's */
  call->retry = bx_box_ref(self);
  call->orig = msg;
  call->backoff = st->opts.initial_backoff_ms;
  if (call->backoff > st->opts.max_backoff_ms) call->backoff = st->opts.max_backoff_ms;
  call->tracked.on_close = rt_on_close;
  bx__track(ctx, &call->tracked);
  return call;
}

/* ---- the Retry box ------------------------------------------------------------------------ */

static int rt_send(bx_box *self, bx_msg *msg) {
  if (bx_ctx_is_closing(bx_box_ctx(self))) {
    bx_msg_unref(msg);
    return BX_ECLOSING;
  }
  rt_call *call = rt_call_new(self, msg);
  if (call == NULL) {
    bx_msg_unref(msg);
    return BX_ENOMEM;
  }
  int rc = rt_attempt(call);
  if (rc < 0) rt_finish(call); /* rejected outright: the reply box hears nothing */
  return rc;
}

static void rt_destroy(bx_box *self) {
  rt_state *st = bx_box_priv(self);
  bx_box_unref(st->delegate);
  st->delegate = NULL;
}

static const bx_box_ops rt_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "retry",
    .send = rt_send,
    .destroy = rt_destroy,
};

bx_box *bx_retry_box_new(bx_ctx *ctx, bx_box *delegate, const bx_retry_options *opts) {
  bx_retry_options o;
  if (opts)
    o = *opts;
  else
    bx_retry_options_init(&o);
  if (ctx == NULL || delegate == NULL || o.max_attempts == 0 || !(o.multiplier >= 1.0)) return NULL;
  if (o.retryable == NULL) o.retryable = rt_default_retryable;
  bx_box *box = bx_box_new(ctx, &rt_ops, sizeof(rt_state));
  if (box == NULL) return NULL;
  rt_state *st = bx_box_priv(box);
  st->delegate = bx_box_ref(delegate);
  st->opts = o;
  return box;
}
