/* OneTime: forwards the first message to its delegate, then refuses everything else. */
#include "box_internal.h"

typedef struct ot_state {
  bx_box *delegate; /* owned reference; NULL once used */
} ot_state;

static int ot_send(bx_box *self, bx_msg *msg) {
  ot_state *st = bx_box_priv(self);
  if (st->delegate == NULL) {
    bx_msg_unref(msg);
    return BX_ECLOSED;
  }
  /* Detach before sending so a re-entrant second send is already refused. */
  bx_box *d = st->delegate;
  st->delegate = NULL;
  int rc = bx_send(d, msg);
  bx_box_unref(d);
  return rc;
}

static void ot_destroy(bx_box *self) {
  ot_state *st = bx_box_priv(self);
  bx_box_unref(st->delegate);
  st->delegate = NULL;
}

static const bx_box_ops ot_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "onetime",
    .send = ot_send,
    .destroy = ot_destroy,
};

int bx_onetime_box_new(bx_ctx *ctx, bx_box *delegate, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || delegate == NULL) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &ot_ops, sizeof(ot_state), &box);
  if (box == NULL) return BX_ENOMEM;
  ot_state *st = bx_box_priv(box);
  st->delegate = bx_box_ref(delegate);
  *out = box;
  return 0;
}
