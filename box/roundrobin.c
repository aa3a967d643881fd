/* RoundRobin: spreads messages over n delegates in turn (FOAM's RoundRobinBox). A broadcast
 * registry returns one over the boxes each of its registries returned. */
#include <stdlib.h>

#include "box_internal.h"

typedef struct rr_state {
  bx_box **delegates; /* n owned references */
  size_t n;
  size_t next;
} rr_state;

static int rr_send(bx_box *self, bx_msg *msg) {
  rr_state *st = bx_box_priv(self);
  bx_box *d = st->delegates[st->next];
  st->next = (st->next + 1) % st->n;
  return bx_send(d, msg);
}

static void rr_destroy(bx_box *self) {
  rr_state *st = bx_box_priv(self);
  bx__boxes_free(st->delegates, st->n);
  st->delegates = NULL;
  st->n = 0;
}

const bx_box_ops bx__round_robin_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "roundrobin",
    .send = rr_send,
    .destroy = rr_destroy,
};

int bx_round_robin_box_new(bx_ctx *ctx, bx_box *const *delegates, size_t n, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || delegates == NULL || n == 0) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &bx__round_robin_box_ops, sizeof(rr_state), &box);
  if (box == NULL) return BX_ENOMEM;
  rr_state *st = bx_box_priv(box);
  st->delegates = bx__boxes_copy(delegates, n);
  if (st->delegates == NULL) {
    bx_box_unref(box);
    return BX_ENOMEM;
  }
  st->n = n;
  *out = box;
  return 0;
}
