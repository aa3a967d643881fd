/* Proxy: forwards every message to a replaceable delegate (FOAM's ProxyBox). */
#include "box_internal.h"

typedef struct px_state {
  bx_box *delegate; /* owned reference or NULL */
} px_state;

static int px_send(bx_box *self, bx_msg *msg) {
  px_state *st = bx_box_priv(self);
  if (st->delegate == NULL) {
    bx_msg_unref(msg);
    return BX_ENOROUTE;
  }
  /* The delegate may swap itself out of this proxy while handling the message. */
  bx_box *d = bx_box_ref(st->delegate);
  int rc = bx_send(d, msg);
  bx_box_unref(d);
  return rc;
}

static void px_destroy(bx_box *self) {
  px_state *st = bx_box_priv(self);
  bx_box_unref(st->delegate);
  st->delegate = NULL;
}

static const bx_box_ops px_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "proxy",
    .send = px_send,
    .destroy = px_destroy,
};

int bx_proxy_box_new(bx_ctx *ctx, bx_box *delegate, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &px_ops, sizeof(px_state), &box);
  if (box == NULL) return BX_ENOMEM;
  px_state *st = bx_box_priv(box);
  st->delegate = bx_box_ref(delegate);
  *out = box;
  return 0;
}

void bx_proxy_box_set_delegate(bx_box *proxy, bx_box *delegate) {
  if (!bx__box_is(proxy, &px_ops)) return;
  px_state *st = bx_box_priv(proxy);
  bx_box *old = st->delegate;
  st->delegate = bx_box_ref(delegate); /* ref first: delegate may be the old one */
  bx_box_unref(old);
}

bx_box *bx_proxy_box_delegate(bx_box *proxy) {
  if (!bx__box_is(proxy, &px_ops)) return NULL;
  px_state *st = bx_box_priv(proxy);
  return st->delegate;
}
