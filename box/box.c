/* bx_box: allocation, references, send and reply, and the to_wire hook. */
#include <stdlib.h>

#include "box_internal.h"

int bx_box_new(bx_ctx *ctx, const bx_box_ops *ops, size_t priv_size, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || ops == NULL || ops->send == NULL) return BX_EINVAL;
  bx_box *b = bx__zalloc(sizeof *b + priv_size);
  if (b == NULL) return BX_ENOMEM;
  b->ops = ops;
  b->ctx = ctx;
  b->refs = 1;
  *out = b;
  return 0;
}

void *bx_box_priv(bx_box *box) {
  return box->priv;
}
const bx_box_ops *bx_box_get_ops(const bx_box *box) {
  return box->ops;
}
bx_ctx *bx_box_ctx(const bx_box *box) {
  return box->ctx;
}
const char *bx_box_type(const bx_box *box) {
  return box->ops->type ? box->ops->type : "box";
}

bx_box *bx_box_ref(bx_box *box) {
  if (box) box->refs++;
  return box;
}

void bx_box_unref(bx_box *box) {
  if (box == NULL || --box->refs > 0) return;
  if (box->ops->destroy) box->ops->destroy(box);
  bx__free(box);
}

int bx_send(bx_box *box, bx_msg *msg) {
  if (msg == NULL) return BX_EINVAL;
  if (box == NULL) {
    bx_msg_unref(msg);
    return BX_EINVAL;
  }
  return box->ops->send(box, msg);
}

int bx_reply(const bx_msg *msg, bx_msg *reply) {
  if (reply == NULL) return BX_ENOMEM;
  if (msg == NULL || msg->reply_box == NULL) {
    bx_msg_unref(reply);
    return BX_ENOREPLY;
  }
  return bx_send(msg->reply_box, reply);
}

int bx_reply_error(const bx_msg *msg, int code, const char *text) {
  if (msg == NULL || msg->reply_box == NULL) return BX_ENOREPLY;
  return bx_send_error(msg->reply_box, code, text);
}

int bx_send_json(bx_box *box, cJSON *payload) {
  bx_msg *m;
  int rc = bx_msg_new(payload, &m);
  return rc ? rc : bx_send(box, m);
}

int bx_reply_json(const bx_msg *msg, cJSON *payload) {
  bx_msg *m;
  int rc = bx_msg_new(payload, &m);
  return rc ? rc : bx_reply(msg, m);
}

int bx_send_error(bx_box *box, int code, const char *text) {
  bx_msg *m;
  int rc = bx_msg_new_error(code, text, &m);
  return rc ? rc : bx_send(box, m);
}

bx_box **bx__boxes_copy(bx_box *const *boxes, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (boxes[i] == NULL) return NULL;
  bx_box **copy = bx__calloc(n ? n : 1, sizeof *copy);
  if (copy == NULL) return NULL;
  for (size_t i = 0; i < n; i++)
    copy[i] = bx_box_ref(boxes[i]);
  return copy;
}

void bx__boxes_free(bx_box **boxes, size_t n) {
  for (size_t i = 0; boxes && i < n; i++)
    bx_box_unref(boxes[i]);
  bx__free(boxes);
}

bx_box *bx_export_target(const bx_export *ex) {
  return ex->target;
}

cJSON *bx_export_wire(bx_export *ex, bx_box *box) {
  if (box == NULL || box->ops->to_wire == NULL) return NULL;
  return box->ops->to_wire(box, ex);
}
