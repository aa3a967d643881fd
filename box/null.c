/* Null: accepts and drops everything (FOAM's NullBox). */
#include "box_internal.h"

static int nl_send(bx_box *self, bx_msg *msg) {
  (void)self;
  bx_msg_unref(msg);
  return 0;
}

static const bx_box_ops nl_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "null",
    .send = nl_send,
};

int bx_null_box_new(bx_ctx *ctx, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL) return BX_EINVAL;
  return bx_box_new(ctx, &nl_ops, 0, out);
}
