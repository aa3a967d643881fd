/* The Thread box (DESIGN.md section 6): the one thread-safe entry point into a context.
 *
 * Design notes
 * - send() runs on any thread: it appends the message to a mutex-protected queue and wakes
 *   the target loop with uv_async_send(). The loop's async callback takes the whole queue
 *   under the lock and delivers each message, in order, to the delegate. uv_async coalesces
 *   wake-ups; draining the whole queue makes that harmless. Messages from one thread are
 *   delivered in the order that thread sent them.
 * - uv_async_send() is called with the lock held, and closing sets `closed` under the same
 *   lock before uv_close(): a sender never touches a handle that is closing.
 * - The shared part (handle, lock, queue) lives apart from the box: the box may be released
 *   before the handle has closed, and the handle may close (context close) while the box is
 *   still referenced. Whichever of the two goes last frees it.
 * - After the context closed, sends are refused with BX_ECLOSING (the message is released on
 *   the sending thread, so it must not hold boxes then; see include/bx/transport.h).
 */
#include <pthread.h>
#include <stdlib.h>

#include "box_internal.h"

typedef struct th_shared {
  bx__tracked tracked; /* first: on_close receives this pointer */
  bx_ctx *ctx;
  uv_async_t async;
  pthread_mutex_t lock;
  bx_msg **queue; /* guarded by lock */
  size_t n, cap;  /* guarded by lock */
  bool closed;    /* guarded by lock: no more sends */
  bool closing;   /* loop thread only: uv_close() was called */
  bool handle_closed;
  bool box_gone;
  bx_box *delegate; /* owned reference until closing */
} th_shared;

typedef struct th_priv {
  th_shared *sh;
} th_priv;

static void th_free(th_shared *sh) {
  pthread_mutex_destroy(&sh->lock);
  bx__free(sh->queue);
  bx__free(sh);
}

/* Takes the queue (the caller frees the array and owns the messages). */
static bx_msg **th_take(th_shared *sh, size_t *n) {
  pthread_mutex_lock(&sh->lock);
  bx_msg **q = sh->queue;
  *n = sh->n;
  sh->queue = NULL;
  sh->n = sh->cap = 0;
  pthread_mutex_unlock(&sh->lock);
  return q;
}

static void th_async_cb(uv_async_t *a) {
  th_shared *sh = a->data;
  size_t n;
  bx_msg **q = th_take(sh, &n);
  for (size_t i = 0; i < n; i++) {
    if (sh->delegate != NULL)
      bx_send(sh->delegate, q[i]);
    else
      bx_msg_unref(q[i]);
  }
  bx__free(q);
}

static void th_closed_cb(uv_handle_t *h) {
  th_shared *sh = h->data;
  sh->handle_closed = true;
  bx__untrack(sh->ctx, &sh->tracked);
  if (sh->box_gone) th_free(sh);
}

/* Stops accepting, drops what was not delivered, and closes the handle (loop thread). */
static void th_shutdown(th_shared *sh) {
  if (sh->closing) return;
  sh->closing = true;
  pthread_mutex_lock(&sh->lock);
  sh->closed = true;
  pthread_mutex_unlock(&sh->lock);
  size_t n;
  bx_msg **q = th_take(sh, &n);
  for (size_t i = 0; i < n; i++)
    bx_msg_unref(q[i]); /* their reply boxes, if any, see the request dropped */
  bx__free(q);
  bx_box *d = sh->delegate;
  sh->delegate = NULL;
  bx_box_unref(d);
  uv_close((uv_handle_t *)&sh->async, th_closed_cb);
}

static void th_on_close(bx__tracked *t) {
  th_shutdown((th_shared *)t);
}

static int th_push(th_shared *sh, bx_msg *msg) {
  if (sh->n == sh->cap) {
    size_t cap = sh->cap ? sh->cap * 2 : 64;
    bx_msg **q = bx__realloc(sh->queue, cap * sizeof *q);
    if (q == NULL) return BX_ENOMEM;
    sh->queue = q;
    sh->cap = cap;
  }
  sh->queue[sh->n++] = msg;
  return 0;
}

static int th_send(bx_box *self, bx_msg *msg) {
  th_shared *sh = ((th_priv *)bx_box_priv(self))->sh;
  pthread_mutex_lock(&sh->lock);
  int rc = sh->closed ? BX_ECLOSING : th_push(sh, msg);
  if (rc == 0) uv_async_send(&sh->async);
  pthread_mutex_unlock(&sh->lock);
  if (rc) bx_msg_unref(msg);
  return rc;
}

static void th_destroy(bx_box *self) {
  th_shared *sh = ((th_priv *)bx_box_priv(self))->sh;
  sh->box_gone = true;
  if (!sh->closing) {
    sh->tracked.on_close = NULL; /* the context must not shut it again */
    th_shutdown(sh);
    return;
  }
  if (sh->handle_closed) th_free(sh);
}

static const bx_box_ops th_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "thread",
    .send = th_send,
    .destroy = th_destroy,
};

int bx_thread_box_new(bx_ctx *target, bx_box *delegate, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (target == NULL || delegate == NULL) return BX_EINVAL;
  if (bx_ctx_is_closing(target)) return BX_ECLOSING;
  th_shared *sh = bx__calloc(1, sizeof *sh);
  if (sh == NULL) return BX_ENOMEM;
  bx_box *box = NULL;
  if (bx_box_new(target, &th_ops, sizeof(th_priv), &box) != 0 ||
      pthread_mutex_init(&sh->lock, NULL) != 0) {
    bx__free(box);
    bx__free(sh);
    return BX_ENOMEM;
  }
  if (uv_async_init(bx_ctx_loop(target), &sh->async, th_async_cb) != 0) {
    pthread_mutex_destroy(&sh->lock);
    bx__free(box);
    bx__free(sh);
    return BX_ENOMEM;
  }
  sh->async.data = sh;
  sh->ctx = target;
  sh->delegate = bx_box_ref(delegate);
  sh->tracked.on_close = th_on_close;
  bx__track(target, &sh->tracked);
  ((th_priv *)bx_box_priv(box))->sh = sh;
  *out = box;
  return 0;
}
