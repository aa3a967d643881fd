/* Function: hands each message to a C callback, always from the context's run queue so the
 * callback never runs inside the bx_send() that delivered the message. */
#include "box_internal.h"

typedef struct fn_state {
  bx_box_fn fn;
  void *data;
  void (*data_free)(void *data);
} fn_state;

/* Run-queue task: a = the box (a reference held for us), b = the message (owned). */
static void fn_run(void *a, void *b) {
  bx_box *self = a;
  bx_msg *msg = b;
  fn_state *st = bx_box_priv(self);
  st->fn(self, msg, st->data);
  bx_msg_unref(msg);
  bx_box_unref(self);
}

static int fn_send(bx_box *self, bx_msg *msg) {
  /* The box must outlive the queued task even if every other holder lets go meanwhile. */
  bx_box_ref(self);
  int rc = bx__defer(bx_box_ctx(self), fn_run, self, msg);
  if (rc) {
    bx_msg_unref(msg);
    bx_box_unref(self);
  }
  return rc;
}

static void fn_destroy(bx_box *self) {
  fn_state *st = bx_box_priv(self);
  if (st->data_free) st->data_free(st->data);
}

static const bx_box_ops fn_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "function",
    .send = fn_send,
    .destroy = fn_destroy,
};

int bx_function_box_new(bx_ctx *ctx, bx_box_fn fn, void *data, void (*data_free)(void *data),
                        bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || fn == NULL) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &fn_ops, sizeof(fn_state), &box);
  if (box == NULL) return BX_ENOMEM;
  fn_state *st = bx_box_priv(box);
  st->fn = fn;
  st->data = data;
  st->data_free = data_free;
  *out = box;
  return 0;
}
