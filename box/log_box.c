/* Log: writes each message to the context's log (payload as JSON and the reply box's
 * type), then forwards it unchanged. */
#include <stdlib.h>
#include <string.h>

#include "box_internal.h"

typedef struct lg_state {
  char *prefix;
  int level;
  bx_box *delegate; /* owned reference or NULL */
} lg_state;

/* The payload as JSON text (cJSON's printer: the FOAM writer is the codec's, a layer up),
 * freed by the caller with cJSON_free(); NULL when it could not be printed. */
static char *lg_payload_text(const bx_msg *msg) {
  const cJSON *obj = bx_msg_object(msg);
  return obj ? cJSON_PrintUnformatted(obj) : NULL;
}

static int lg_send(bx_box *self, bx_msg *msg) {
  lg_state *st = bx_box_priv(self);
  bx_box *reply = bx_msg_reply_box(msg);
  char *text = lg_payload_text(msg);
  bx_log(bx_box_ctx(self), st->level, "%s%s%s replyBox=%s", st->prefix, *st->prefix ? " " : "",
         text                 ? text
         : bx_msg_object(msg) ? "<unprintable>"
                              : "null",
         reply ? bx_box_type(reply) : "none");
  cJSON_free(text);
  if (st->delegate == NULL) {
    bx_msg_unref(msg);
    return 0;
  }
  return bx_send(st->delegate, msg);
}

static void lg_destroy(bx_box *self) {
  lg_state *st = bx_box_priv(self);
  bx_box_unref(st->delegate);
  bx__free(st->prefix);
  st->delegate = NULL;
  st->prefix = NULL;
}

static const bx_box_ops lg_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "log",
    .send = lg_send,
    .destroy = lg_destroy,
};

int bx_log_box_new(bx_ctx *ctx, const char *prefix, int level, bx_box *delegate, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || level < BX_LOG_ERROR || level > BX_LOG_DEBUG) return BX_EINVAL;
  bx_box *box = NULL;
  bx_box_new(ctx, &lg_ops, sizeof(lg_state), &box);
  if (box == NULL) return BX_ENOMEM;
  lg_state *st = bx_box_priv(box);
  st->prefix = bx__strdup(prefix ? prefix : "");
  if (st->prefix == NULL) {
    bx_box_unref(box);
    return BX_ENOMEM;
  }
  st->level = level;
  st->delegate = bx_box_ref(delegate);
  *out = box;
  return 0;
}
