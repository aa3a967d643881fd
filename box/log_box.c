/* Log: writes each message to the context's log (payload as FOAM JSON and the reply box's
 * type), then forwards it unchanged. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct lg_state {
  char *prefix;
  int level;
  bx_box *delegate; /* owned reference or NULL */
} lg_state;

/* The payload as text in a buffer the caller frees with bx_buf_free(). Falls back to cJSON's
 * printer when the FOAM writer refuses (a payload holding live-box placeholders). */
static const char *lg_payload_text(const bx_msg *msg, bx_buf *buf) {
  const cJSON *obj = bx_msg_object(msg);
  if (obj == NULL) return "null";
  if (bx_json_write(buf, obj) == 0 && bx_buf_append(buf, "", 1) == 0) return buf->base;
  buf->len = 0;
  char *text = cJSON_PrintUnformatted(obj);
  if (text == NULL) return "<unprintable>";
  int rc = bx_buf_append(buf, text, strlen(text) + 1);
  cJSON_free(text);
  return rc == 0 ? buf->base : "<unprintable>";
}

static int lg_send(bx_box *self, bx_msg *msg) {
  lg_state *st = bx_box_priv(self);
  bx_box *reply = bx_msg_reply_box(msg);
  bx_buf buf = {0};
  bx_log(bx_box_ctx(self), st->level, "%s%s%s replyBox=%s", st->prefix, *st->prefix ? " " : "",
         lg_payload_text(msg, &buf), reply ? bx_box_type(reply) : "none");
  bx_buf_free(&buf);
  if (st->delegate == NULL) {
    bx_msg_unref(msg);
    return 0;
  }
  return bx_send(st->delegate, msg);
}

static void lg_destroy(bx_box *self) {
  lg_state *st = bx_box_priv(self);
  bx_box_unref(st->delegate);
  free(st->prefix);
  st->delegate = NULL;
  st->prefix = NULL;
}

static const bx_box_ops lg_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "log",
    .send = lg_send,
    .destroy = lg_destroy,
};

bx_box *bx_log_box_new(bx_ctx *ctx, const char *prefix, int level, bx_box *delegate) {
  if (ctx == NULL || level < BX_LOG_ERROR || level > BX_LOG_DEBUG) return NULL;
  bx_box *box = bx_box_new(ctx, &lg_ops, sizeof(lg_state));
  if (box == NULL) return NULL;
  lg_state *st = bx_box_priv(box);
  st->prefix = bx__strdup(prefix ? prefix : "");
  if (st->prefix == NULL) {
    bx_box_unref(box);
    return NULL;
  }
  st->level = level;
  st->delegate = bx_box_ref(delegate);
  return box;
}
