/* Sub: FOAM's SubBox. Wraps each payload in SubBoxMessage{name, object} for its delegate (a
 * registry, or a connection that ends in one), which unwraps it and delivers to `name`. */
#include <stdlib.h>
#include <string.h>

#include "box_internal.h"

typedef struct sb_state {
  bx_box *delegate; /* owned reference */
  char name[];      /* in the box's own allocation */
} sb_state;

static int sb_send(bx_box *self, bx_msg *msg) {
  sb_state *st = bx_box_priv(self);
  if (bx__msg_lazy_wrap(msg, self)) return bx_send(st->delegate, msg); /* written on encode */
  bx_msg *w = bx_msg_writable(msg); /* the message may be shared (Broadcast) */
  if (w == NULL) {
    bx_msg_unref(msg);
    return BX_ENOMEM;
  }
  if (bx__msg_settle(w) != 0) { /* lazy, but no room left for another layer */
    bx_msg_unref(w);
    return BX_ENOMEM;
  }
  cJSON *wrapped = bx__wire_sub_message(st->name, bx_msg_take_object(w));
  if (wrapped == NULL) {
    bx_msg_unref(w);
    return BX_ENOMEM;
  }
  bx_msg_set_object(w, wrapped);
  return bx_send(st->delegate, w);
}

/* Records an allocation failure so the encoder fails instead of exporting as a fallback. */
static cJSON *sb_nomem(bx_export *ex) {
  if (ex->err == 0) ex->err = BX_ENOMEM;
  return NULL;
}

static cJSON *sb_to_wire(bx_box *self, bx_export *ex) {
  sb_state *st = bx_box_priv(self);
  cJSON *d;
  /* A name in our own root registry reads, from the peer's side, as "back where this came". */
  if (st->delegate == bx_ctx_registry(bx_box_ctx(self))) {
    d = bx__wire_return_box();
    if (d == NULL) return sb_nomem(ex);
  } else {
    d = bx_export_wire(ex, st->delegate);
    if (d == NULL) return NULL; /* no portable form: the encoder exports this box instead */
  }
  cJSON *w = bx__wire_sub_box(st->name, d);
  return w ? w : sb_nomem(ex);
}

static void sb_destroy(bx_box *self) {
  sb_state *st = bx_box_priv(self);
  bx_box_unref(st->delegate);
  st->delegate = NULL;
}

const bx_box_ops bx__sub_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "sub",
    .send = sb_send,
    .to_wire = sb_to_wire,
    .destroy = sb_destroy,
};

int bx_sub_box_new(bx_ctx *ctx, const char *name, bx_box *delegate, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || name == NULL || delegate == NULL) return BX_EINVAL;
  size_t n = strlen(name) + 1;
  bx_box *box = NULL;
  bx_box_new(ctx, &bx__sub_box_ops, sizeof(sb_state) + n, &box);
  if (box == NULL) return BX_ENOMEM;
  sb_state *st = bx_box_priv(box);
  memcpy(st->name, name, n);
  st->delegate = bx_box_ref(delegate);
  *out = box;
  return 0;
}

const char *bx_sub_box_name(bx_box *sub) {
  if (!bx__box_is(sub, &bx__sub_box_ops)) return NULL;
  sb_state *st = bx_box_priv(sub);
  return st->name;
}

bx_box *bx_sub_box_delegate(bx_box *sub) {
  if (!bx__box_is(sub, &bx__sub_box_ops)) return NULL;
  sb_state *st = bx_box_priv(sub);
  return st->delegate;
}

cJSON *bx__wire_sub_box(const char *name, cJSON *delegate) {
  if (delegate == NULL) return NULL;
  cJSON *obj = bx__json_object_const(BX_CLASS_SUB_BOX);
  if (obj == NULL || name == NULL || !bx__json_add(obj, "name", cJSON_CreateString(name))) {
    cJSON_Delete(obj);
    cJSON_Delete(delegate);
    return NULL;
  }
  if (!bx__json_add(obj, "delegate", delegate)) {
    cJSON_Delete(obj);
    cJSON_Delete(delegate);
    return NULL;
  }
  return obj;
}

cJSON *bx__wire_sub_message(const char *name, cJSON *payload) {
  cJSON *obj = bx__json_object_const(BX_CLASS_SUB_BOX_MESSAGE);
  if (payload == NULL) payload = cJSON_CreateNull();
  if (obj == NULL || payload == NULL || !bx__json_add(obj, "name", cJSON_CreateString(name))) {
    cJSON_Delete(obj);
    cJSON_Delete(payload);
    return NULL;
  }
  if (!bx__json_add(obj, "object", payload)) {
    cJSON_Delete(obj);
    cJSON_Delete(payload);
    return NULL;
  }
  return obj;
}
