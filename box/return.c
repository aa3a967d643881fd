/* Return: FOAM's ReturnBox, "back over the connection this message came from".
 *
 * A Return box holds the origin box of a connection and forwards to it. Its wire form is the
 * bare {"class":"foam.box.ReturnBox"} only when encoding for no connection (codec tests): over
 * a real connection a ReturnBox would mean the *receiver's* side of that connection, so the
 * encoder must export it instead. */
#include "box_internal.h"

typedef struct rb_state {
  bx_box *origin; /* owned reference or NULL */
} rb_state;

static int rb_send(bx_box *self, bx_msg *msg) {
  rb_state *st = bx_box_priv(self);
  if (st->origin == NULL) {
    bx_msg_unref(msg);
    return BX_ENOROUTE;
  }
  return bx_send(st->origin, msg);
}

static cJSON *rb_to_wire(bx_box *self, bx_export *ex) {
  (void)self;
  if (bx_export_target(ex) != NULL) return NULL;
  cJSON *w = bx__wire_return_box();
  if (w == NULL && ex->err == 0) ex->err = BX_ENOMEM;
  return w;
}

static void rb_destroy(bx_box *self) {
  rb_state *st = bx_box_priv(self);
  bx_box_unref(st->origin);
  st->origin = NULL;
}

const bx_box_ops bx__return_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "return",
    .send = rb_send,
    .to_wire = rb_to_wire,
    .destroy = rb_destroy,
};

int bx_return_box_new(bx_ctx *ctx, bx_box *origin, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &bx__return_box_ops, sizeof(rb_state), &box);
  if (box == NULL) return BX_ENOMEM;
  rb_state *st = bx_box_priv(box);
  st->origin = bx_box_ref(origin);
  *out = box;
  return 0;
}

bx_box *bx__return_box_origin(bx_box *ret) {
  if (!bx__box_is(ret, &bx__return_box_ops)) return NULL;
  rb_state *st = bx_box_priv(ret);
  return st->origin;
}

cJSON *bx__wire_return_box(void) {
  return bx__json_object_const(BX_CLASS_RETURN_BOX);
}
