/* Broadcast: sends every message to all its delegates. They share the one message (each gets
 * its own reference); a delegate that rewrites it copies first (bx_msg_writable). */
#include <stdlib.h>

#include "box_internal.h"

typedef struct bc_state {
  bx_box **delegates; /* n owned references */
  size_t n;
} bc_state;

static int bc_send(bx_box *self, bx_msg *msg) {
  bc_state *st = bx_box_priv(self);
  int first_err = 0;
  size_t accepted = 0;
  if (st->n == 0) { /* nobody to tell: like a Null box */
    bx_msg_unref(msg);
    return 0;
  }
  /* Hand out one reference per delegate up front so an early delegate dropping its reference
   * cannot free the message before the later ones get it. */
  for (size_t i = 1; i < st->n; i++)
    bx_msg_ref(msg);
  for (size_t i = 0; i < st->n; i++) {
    int rc = bx_send(st->delegates[i], msg);
    if (rc == 0) {
      accepted++;
      continue;
    }
    if (first_err == 0) first_err = rc;
    bx_log(bx_box_ctx(self), BX_LOG_DEBUG, "broadcast: delegate %zu (%s) rejected: %s", i,
           bx_box_type(st->delegates[i]), bx_strerror(rc));
  }
  /* Any acceptance means someone may still answer the reply box, so the send counts as
   * accepted; only a unanimous rejection is reported to the caller. */
  return accepted > 0 ? 0 : first_err;
}

static void bc_destroy(bx_box *self) {
  bc_state *st = bx_box_priv(self);
  bx__boxes_free(st->delegates, st->n);
  st->delegates = NULL;
  st->n = 0;
}

static const bx_box_ops bc_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "broadcast",
    .send = bc_send,
    .destroy = bc_destroy,
};

int bx_broadcast_box_new(bx_ctx *ctx, bx_box *const *delegates, size_t n, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || (delegates == NULL && n > 0)) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &bc_ops, sizeof(bc_state), &box);
  if (box == NULL) return BX_ENOMEM;
  bc_state *st = bx_box_priv(box);
  st->delegates = bx__boxes_copy(delegates, n);
  if (st->delegates == NULL) {
    bx_box_unref(box);
    return BX_ENOMEM;
  }
  st->n = n;
  *out = box;
  return 0;
}
