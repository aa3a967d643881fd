/* The skeleton box: serves an interface described by generated tables (FOAM's SkeletonBox).
 *
 * Each RPCMessage is handled from the run queue (implementations never run inside the bx_send
 * that delivered the request): look the method up, decode the arguments (borrowing strings
 * from the request), call the implementation, and answer RPCReturnMessage / RPCErrorMessage —
 * at once, or later when the implementation returned BX_RPC_ASYNC and completes the call. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

typedef struct sk_priv {
  const bx_interface *iface;
  const void *ops;
  void *impl;
} sk_priv;

struct bx_rpc_call {
  bx_box *skeleton; /* owned */
  bx_msg *msg;      /* the request, owned */
  const bx_method *m;
  void *args;   /* decoded arguments (borrowing from msg) */
  void *result; /* outputs written by the implementation (owned by it until sent) */
  char *error_text;
  bool done;
};

#define SK_ALIGN(n) (((n) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

static bx_rpc_call *sk_call_new(bx_box *self, bx_msg *msg, const bx_method *m) {
  size_t head = SK_ALIGN(sizeof(bx_rpc_call)), asz = SK_ALIGN(m->args->size);
  size_t rsz = m->result ? m->result->size : 0;
  bx_rpc_call *c = calloc(1, head + asz + rsz + 1);
  if (c == NULL) return NULL;
  c->skeleton = bx_box_ref(self);
  c->msg = msg;
  c->m = m;
  c->args = (char *)c + head;
  c->result = (char *)c + head + asz;
  return c;
}

static void sk_call_free(bx_rpc_call *c) {
  bx__struct_release(c->m->args, c->args, true);
  if (c->m->result) bx__struct_release(c->m->result, c->result, false);
  bx_msg_unref(c->msg);
  bx_box_unref(c->skeleton);
  free(c->error_text);
  free(c);
}

/* RPCErrorMessage{data:"text"}: application errors travel as plain strings, as FOAM's do. */
static bx_msg *sk_error_text(const char *text) {
  cJSON *o = bx_json_new_object(BX_CLASS_RPC_ERROR);
  if (o == NULL || !cJSON_AddStringToObject(o, "data", text)) {
    cJSON_Delete(o);
    return NULL;
  }
  return bx_msg_new(o);
}

static bx_msg *sk_return(bx_rpc_call *c) {
  bx_msg *reply = bx_msg_new(bx__json_object_const(BX_CLASS_RPC_RETURN));
  if (reply == NULL || bx_msg_object(reply) == NULL) {
    bx_msg_unref(reply);
    return NULL;
  }
  cJSON *data = NULL;
  int rc = bx_result_encode(c->m, c->result, reply, &data);
  if (rc) {
    bx_msg_unref(reply);
    char text[160];
    snprintf(text, sizeof text, "could not encode the result of %.60s: %s", c->m->name,
             bx_strerror(rc));
    bx_log(bx_box_ctx(c->skeleton), BX_LOG_WARN, "skeleton: %s", text);
    return bx_msg_new_error(rc, text);
  }
  if (data) bx__json_add(bx_msg_object(reply), "data", data);
  return reply;
}

static void sk_finish(bx_rpc_call *c, int status) {
  c->done = true;
  if (bx_msg_reply_box(c->msg) != NULL) {
    bx_msg *reply;
    if (status == 0)
      reply = sk_return(c);
    else if (c->error_text)
      reply = sk_error_text(c->error_text);
    else
      reply = bx_msg_new_error(status, NULL);
    bx_reply(c->msg, reply);
  }
  sk_call_free(c);
}

static void sk_reply_error(const bx_msg *msg, int code, const char *text) {
  if (bx_msg_reply_box(msg) != NULL) bx_reply_error(msg, code, text);
}

static void sk_dispatch(bx_box *self, bx_msg *msg) {
  sk_priv *p = bx_box_priv(self);
  bx_ctx *ctx = bx_box_ctx(self);
  char text[200];
  if (!bx_msg_is(msg, BX_CLASS_RPC_MESSAGE)) {
    const char *cls = bx_msg_class(msg);
    snprintf(text, sizeof text, "%.40s accepts RPCMessage, not %.80s", p->iface->name,
             cls ? cls : "a payload without a class");
    bx_log(ctx, BX_LOG_INFO, "skeleton: %s", text);
    sk_reply_error(msg, BX_EBADMSG, text);
    bx_msg_unref(msg);
    return;
  }
  const cJSON *obj = bx_msg_object(msg);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
  const bx_method *m =
      cJSON_IsString(name) ? bx_interface_method(p->iface, name->valuestring) : NULL;
  if (m == NULL) {
    snprintf(text, sizeof text, "%.40s has no method '%.80s'", p->iface->name,
             cJSON_IsString(name) ? name->valuestring : "");
    sk_reply_error(msg, BX_ENOMETHOD, text);
    bx_msg_unref(msg);
    return;
  }
  bx_rpc_call *c = sk_call_new(self, msg, m);
  if (c == NULL) {
    sk_reply_error(msg, BX_ENOMEM, NULL);
    bx_msg_unref(msg);
    return;
  }
  bx_value_error err;
  int rc =
      bx_args_decode(m, cJSON_GetObjectItemCaseSensitive(obj, "args"), msg, c->args, true, &err);
  if (rc) {
    sk_reply_error(msg, rc, rc == BX_EBADARG ? err.text : NULL);
    sk_call_free(c); /* the decoder released what it had decoded; the rest is zero */
    return;
  }
  rc = m->invoke(p->ops, p->impl, c, c->args, c->result);
  if (rc == BX_RPC_ASYNC) return; /* the implementation completes it later */
  if (rc > 0) rc = BX_EINVAL;
  sk_finish(c, rc);
}

static void sk_run(void *a, void *b) {
  bx_box *self = a;
  sk_dispatch(self, b);
  bx_box_unref(self);
}

static int sk_send(bx_box *self, bx_msg *msg) {
  bx_box_ref(self);
  int rc = bx__defer(bx_box_ctx(self), sk_run, self, msg);
  if (rc) {
    bx_msg_unref(msg);
    bx_box_unref(self);
  }
  return rc;
}

static const bx_box_ops sk_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "skeleton",
    .send = sk_send,
};

bx_box *bx_skeleton_new(bx_ctx *ctx, const bx_interface *iface, const void *ops, void *impl) {
  if (ctx == NULL || iface == NULL || ops == NULL) return NULL;
  if (bx_interface_allow_classes(ctx, iface)) return NULL;
  bx_box *b = bx_box_new(ctx, &sk_ops, sizeof(sk_priv));
  if (b == NULL) return NULL;
  sk_priv *p = bx_box_priv(b);
  p->iface = iface;
  p->ops = ops;
  p->impl = impl;
  return b;
}

void bx_rpc_set_error(bx_rpc_call *call, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  free(call->error_text);
  call->error_text = bx__strdup(text);
}

int bx_rpc_return(bx_rpc_call *call) {
  if (call == NULL || call->done) return BX_EINVAL;
  sk_finish(call, 0);
  return 0;
}

int bx_rpc_fail(bx_rpc_call *call, const char *text) {
  if (call == NULL || call->done) return BX_EINVAL;
  free(call->error_text);
  call->error_text = bx__strdup(text ? text : "error");
  sk_finish(call, BX_EREMOTE);
  return 0;
}

const bx_msg *bx_rpc_call_msg(const bx_rpc_call *call) {
  return call->msg;
}
bx_ctx *bx_rpc_call_ctx(const bx_rpc_call *call) {
  return bx_box_ctx(call->skeleton);
}
const bx_method *bx_rpc_call_method(const bx_rpc_call *call) {
  return call->m;
}
