/* Retry: re-sends a message after retryable failures, with exponential backoff.
 *
 * Design notes
 * - Per message a call record keeps the original message (and so its reply box), counts
 *   attempts, and settles once through its settle record (settle.c): that record's deadline,
 *   on the context's deadline service, is the backoff before the next attempt, and its
 *   tracking makes closing the context settle the call with BX_ECLOSING (delivered from the
 *   run queue).
 * - Each attempt sends bx_msg_copy() of the original with its own guard box as reply box. A
 *   guard only counts while it belongs to the current attempt and that attempt has no outcome
 *   yet; anything else (a reply to an earlier attempt, a second reply) is dropped.
 * - An attempt's outcome is its reply, a synchronous rejection, or its guard being released
 *   unanswered (the delegate dropped the message, so no reply can ever come: the call ends
 *   quietly rather than waiting forever). The first attempt runs inside bx_send(): a final
 *   rejection there is returned to the caller and the reply box hears nothing, as box.h asks.
 * - A message without a reply box is retried only on synchronous rejections.
 * - The record is refcounted: one reference while it is unsettled, one per live guard box, so
 *   guards may outlive the call (exports) and the call may outlive them; whoever works on the
 *   call from outside a guard (bx_send, the backoff's end) holds one meanwhile. With no handle
 *   to close, the record is freed as soon as it has settled and no guard is left.
 */
#include <stdlib.h>

#include "box_internal.h"

typedef struct rt_state {
  bx_box *delegate; /* owned reference */
  bx_retry_options opts;
} rt_state;

typedef struct rt_call {
  bx__settle_rec settle; /* first: expire gets this pointer */
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
  bx__free(call);
}

/* Settles the call: returns the original reply box (a new reference the caller owns), or NULL
 * when the message has none or the call had settled already. The record may be freed here
 * unless the caller holds a reference to it. */
static bx_box *rt_settle(rt_call *call) {
  if (!bx__settle(&call->settle)) return NULL;
  bx_box *rb = bx_box_ref(bx_msg_reply_box(call->orig));
  bx_msg_unref(call->orig);
  call->orig = NULL;
  rt_call_unref(call); /* the unsettled record's reference */
  return rb;
}

/* Ends the call without delivering anything. */
static void rt_finish(rt_call *call) {
  bx_box_unref(rt_settle(call));
}

/* Ends the call with `reply` (taken) as its one outcome at the original reply box. */
static int rt_deliver(rt_call *call, bx_msg *reply) {
  bx_box *rb = rt_settle(call);
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

/* After a failed attempt: schedules the next one when err is retryable and attempts are left.
 * Returns false when the call must end with err instead. */
static bool rt_retry_later(rt_call *call, int err) {
  rt_state *st = rt_opts(call);
  if (!rt_should_retry(call, err)) return false;
  if (bx__settle_after(&call->settle, call->backoff) != 0) return false; /* out of memory */
  bx_log(call->ctx, BX_LOG_DEBUG, "retry: attempt %u failed (%s), next in %llu ms", call->attempts,
         bx_err_name(err), (unsigned long long)call->backoff);
  call->backoff = rt_grow_backoff(&st->opts, call->backoff);
  return true;
}

/* ---- the per-attempt guard box ------------------------------------------------------------ */

/* Is this guard's answer still awaited? */
static bool rg_current(const rg_state *g) {
  const rt_call *call = g->call;
  return !bx__settled(&call->settle) && g->attempt == call->attempts && !call->answered;
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
  if (err == 0 || !rt_retry_later(call, err)) return rt_deliver(call, reply);
  bx_msg_unref(reply);
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
  bx_msg *copy = NULL;
  bx_msg_copy(call->orig, &copy);
  if (copy == NULL || bx_msg_reply_box(call->orig) == NULL) return copy;
  bx_box *gb = NULL;
  bx_box_new(call->ctx, &rg_ops, sizeof(rg_state), &gb);
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

/* Starts the next attempt (the caller holds a reference to call). Returns 0 when it is under
 * way, answered, or rescheduled, or the error of a synchronous rejection that ends the call
 * (the caller reports it and settles). */
static int rt_attempt(rt_call *call) {
  call->attempts++;
  call->answered = false;
  bx_box *guard;
  bx_msg *copy = rt_attempt_msg(call, &guard);
  int rc = copy ? bx_send(rt_opts(call)->delegate, copy) : BX_ENOMEM;
  if (bx__settled(&call->settle) || call->answered) {
    rc = 0; /* settled or answered from inside bx_send */
  } else if (rc == 0) {
    if (guard == NULL) rt_finish(call); /* no reply box: accepted is all there is to know */
  } else {
    call->answered = true;
    if (rt_retry_later(call, rc)) rc = 0;
  }
  bx_box_unref(guard); /* the last reference here means the delegate dropped the attempt */
  return rc;
}

/* The backoff is over (BX_ETIMEDOUT): the next attempt; or the context is closing. */
static void rt_expire(bx__settle_rec *s, int code) {
  rt_call *call = (rt_call *)s;
  if (code == BX_ECLOSING) {
    bx_box *rb = rt_settle(call);
    if (rb) bx__send_error_later(rb, code);
    return;
  }
  call->refs++;
  int rc = rt_attempt(call);
  bx_msg *err = NULL;
  if (rc < 0) bx_msg_new_error(rc, NULL, &err);
  if (rc < 0) rt_deliver(call, err);
  rt_call_unref(call);
}

/* A new watched call record owning msg, or NULL (msg untouched). The caller gets one
 * reference; the unsettled record holds another. */
static rt_call *rt_call_new(bx_box *self, bx_msg *msg) {
  rt_state *st = bx_box_priv(self);
  bx_ctx *ctx = bx_box_ctx(self);
  rt_call *call = bx__zalloc(sizeof *call);
  if (call == NULL) return NULL;
  call->ctx = ctx;
  call->refs = 2;
  call->retry = bx_box_ref(self);
  call->orig = msg;
  call->backoff = st->opts.initial_backoff_ms;
  if (call->backoff > st->opts.max_backoff_ms) call->backoff = st->opts.max_backoff_ms;
  bx__settle_init(&call->settle, ctx, rt_expire);
  bx__settle_watch(&call->settle);
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
  rt_call_unref(call);
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

int bx_retry_box_new(bx_ctx *ctx, bx_box *delegate, const bx_retry_options *opts, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  bx_retry_options o;
  if (opts)
    o = *opts;
  else
    bx_retry_options_init(&o);
  if (ctx == NULL || delegate == NULL || o.max_attempts == 0 || !(o.multiplier >= 1.0))
    return BX_EINVAL;
  if (o.retryable == NULL) o.retryable = rt_default_retryable;
  bx_box *box = NULL;
  bx_box_new(ctx, &rt_ops, sizeof(rt_state), &box);
  if (box == NULL) return BX_ENOMEM;
  rt_state *st = bx_box_priv(box);
  st->delegate = bx_box_ref(delegate);
  st->opts = o;
  *out = box;
  return 0;
}
