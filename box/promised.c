/* Promised: FOAM's PromisedBox. Accepts messages at once and queues them until the promise
 * settles: resolved, the queue goes to the delegate in order followed by every later message;
 * rejected, each queued and later message gets the error at its reply box.
 *
 * Design notes
 * - A queued message was accepted (send returned 0), so it is owed exactly one outcome. If the
 *   delegate rejects it outright during the flush, the error goes to its reply box instead.
 * - Sends that arrive while the queue is being flushed (a delegate sending back to us) join
 *   the end of the queue, so delivery order stays the order of acceptance.
 */
#include <stdint.h>
#include <stdlib.h>

#include "box_internal.h"

#define PM_DEFAULT_MAX 1024

enum { PM_PENDING, PM_RESOLVED, PM_REJECTED };

typedef struct pm_state {
  int state;
  bool flushing;
  bx_box *delegate; /* owned reference once resolved */
  int err;          /* once rejected */
  char *text;       /* once rejected; NULL: bx_strerror(err) */
  bx_msg **queue;   /* ring buffer of owned references */
  size_t head, count, cap, max;
} pm_state;

static int pm_push(pm_state *st, bx_msg *msg) {
  if (st->count >= st->max) return BX_EQUEUEFULL;
  if (st->count == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 8;
    if (cap > st->max) cap = st->max;
    if (cap > SIZE_MAX / sizeof(bx_msg *)) return BX_ENOMEM;
    bx_msg **q = bx__malloc(cap * sizeof *q);
    if (q == NULL) return BX_ENOMEM;
    for (size_t i = 0; i < st->count; i++)
      q[i] = st->queue[(st->head + i) % st->cap];
    bx__free(st->queue);
    st->queue = q;
    st->cap = cap;
    st->head = 0;
  }
  st->queue[(st->head + st->count) % st->cap] = msg;
  st->count++;
  return 0;
}

static bx_msg *pm_pop(pm_state *st) {
  if (st->count == 0) return NULL;
  bx_msg *m = st->queue[st->head];
  st->head = (st->head + 1) % st->cap;
  st->count--;
  return m;
}

/* Fails an accepted message: the error goes to its reply box, or it is dropped. */
static void pm_fail_accepted(bx_msg *msg, int err, const char *text) {
  bx_reply_error(msg, err, text);
  bx_msg_unref(msg);
}

/* Forwards an accepted message; an outright rejection becomes an error reply. */
static void pm_forward_accepted(pm_state *st, bx_msg *msg) {
  bx_box *reply = bx_box_ref(bx_msg_reply_box(msg));
  int rc = bx_send(st->delegate, msg);
  if (rc < 0 && reply) bx_send_error(reply, rc, NULL);
  bx_box_unref(reply);
}

static int pm_send(bx_box *self, bx_msg *msg) {
  pm_state *st = bx_box_priv(self);
  if (st->state == PM_PENDING || st->flushing) {
    int rc = pm_push(st, msg);
    if (rc) bx_msg_unref(msg);
    return rc;
  }
  if (st->state == PM_RESOLVED) return bx_send(st->delegate, msg);
  if (bx_msg_reply_box(msg) == NULL) {
    bx_msg_unref(msg);
    return st->err; /* nobody to tell: the caller learns it here */
  }
  pm_fail_accepted(msg, st->err, st->text);
  return 0;
}

/* Delivers the queue (and whatever joins it meanwhile) according to the settled state. */
static void pm_flush(bx_box *self) {
  pm_state *st = bx_box_priv(self);
  bx_box_ref(self); /* a delegate may drop the last other reference to us */
  st->flushing = true;
  bx_msg *m;
  while ((m = pm_pop(st)) != NULL) {
    if (st->state == PM_RESOLVED)
      pm_forward_accepted(st, m);
    else
      pm_fail_accepted(m, st->err, st->text);
  }
  st->flushing = false;
  bx__free(st->queue);
  st->queue = NULL;
  st->cap = st->head = 0;
  bx_box_unref(self);
}

static void pm_destroy(bx_box *self) {
  pm_state *st = bx_box_priv(self);
  bx_msg *m;
  /* Never settled: the queue can only be dropped (destroy must not reach the context). */
  while ((m = pm_pop(st)) != NULL)
    bx_msg_unref(m);
  bx__free(st->queue);
  bx__free(st->text);
  bx_box_unref(st->delegate);
  st->queue = NULL;
  st->text = NULL;
  st->delegate = NULL;
}

static const bx_box_ops pm_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "promised",
    .send = pm_send,
    .destroy = pm_destroy,
};

int bx_promised_box_new(bx_ctx *ctx, size_t max_queue, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &pm_ops, sizeof(pm_state), &box);
  if (box == NULL) return BX_ENOMEM;
  pm_state *st = bx_box_priv(box);
  st->state = PM_PENDING;
  st->max = max_queue ? max_queue : PM_DEFAULT_MAX;
  *out = box;
  return 0;
}

int bx_promised_resolve(bx_box *promised, bx_box *delegate) {
  if (!bx__box_is(promised, &pm_ops) || delegate == NULL) return BX_EINVAL;
  pm_state *st = bx_box_priv(promised);
  if (st->state != PM_PENDING) return BX_EINVAL;
  st->state = PM_RESOLVED;
  st->delegate = bx_box_ref(delegate);
  pm_flush(promised);
  return 0;
}

int bx_promised_reject(bx_box *promised, int err, const char *text) {
  if (!bx__box_is(promised, &pm_ops) || err >= 0) return BX_EINVAL;
  pm_state *st = bx_box_priv(promised);
  if (st->state != PM_PENDING) return BX_EINVAL;
  char *copy = NULL;
  if (text && (copy = bx__strdup(text)) == NULL) return BX_ENOMEM;
  st->state = PM_REJECTED;
  st->err = err;
  st->text = copy;
  pm_flush(promised);
  return 0;
}

size_t bx_promised_queued(bx_box *promised) {
  if (!bx__box_is(promised, &pm_ops)) return 0;
  pm_state *st = bx_box_priv(promised);
  return st->count;
}
