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
  bx_msg *msg;      /* the request, owned; a direct call's is rebuilt only when asked for */
  void *direct;     /* a direct call's waiter (a reference), or NULL */
  const bx__direct_waiter *waiter; /* how to answer it */
  const bx_method *m;
  void *args;   /* decoded arguments: borrowing from msg, or a direct call's own copy */
  void *result; /* outputs written by the implementation (owned by it until sent) */
  char *error_text;
  bool owned_args;
  bool done;
};

#define SK_ALIGN(n) (((n) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

static bx_rpc_call *sk_call_new(bx_box *self, bx_msg *msg, const bx_method *m) {
  size_t head = SK_ALIGN(sizeof(bx_rpc_call)), asz = SK_ALIGN(m->args->size);
  size_t rsz = m->result ? m->result->size : 0;
  bx_rpc_call *c = bx__zalloc(head + asz + rsz + 1);
  if (c == NULL) return NULL;
  c->skeleton = bx_box_ref(self);
  c->msg = msg;
  c->m = m;
  c->args = (char *)c + head;
  c->result = (char *)c + head + asz;
  return c;
}

static void sk_call_free(bx_rpc_call *c) {
  bx__struct_release(c->m->args, c->args, !c->owned_args);
  if (c->m->result) bx__struct_release(c->m->result, c->result, false);
  bx_msg_unref(c->msg);
  if (c->direct) c->waiter->unref(c->direct);
  bx_box_unref(c->skeleton);
  bx__free(c->error_text);
  bx__free(c);
}

/* RPCErrorMessage{data:"text"}: application errors travel as plain strings, as FOAM's do. */
static bx_msg *sk_error_text(const char *text) {
  cJSON *o = bx_json_new_object(BX_CLASS_RPC_ERROR);
  if (o == NULL || !cJSON_AddStringToObject(o, "data", text)) {
    cJSON_Delete(o);
    return NULL;
  }
  bx_msg *m = NULL;
  bx_msg_new(o, &m);
  return m;
}

static bx_msg *sk_return(bx_rpc_call *c) {
  bx_msg *reply;
  int rc = bx__rpc_return_typed(c->m, c->result, &reply);
  if (rc == 0) return reply;
  char text[160];
  snprintf(text, sizeof text, "could not encode the result of %.60s: %s", c->m->name,
           bx_strerror(rc));
  bx_log(bx_box_ctx(c->skeleton), BX_LOG_WARN, "skeleton: %s", text);
  bx_msg_new_error(rc, text, &reply);
  return reply;
}

/* The reply message for a call that finished with status. */
static bx_msg *sk_answer(bx_rpc_call *c, int status) {
  if (status == 0) return sk_return(c);
  if (c->error_text) return sk_error_text(c->error_text);
  bx_msg *err = NULL;
  bx_msg_new_error(status, NULL, &err);
  return err;
}

/* Answers a direct call: a copy of the result when it copies, else the reply message. */
static void sk_answer_direct(bx_rpc_call *c, int status) {
  if (status == 0 && c->m->result == NULL) {
    c->waiter->result(c->direct, NULL);
    return;
  }
  if (status == 0) {
    void *copy = bx__zalloc(c->m->result->size + 1);
    int rc = copy ? bx__struct_copy(c->m->result, copy, c->result) : BX_ENOMEM;
    if (rc == 0) {
      c->waiter->result(c->direct, copy);
      return;
    }
    bx__free(copy);
  }
  c->waiter->reply(c->direct, sk_answer(c, status));
}

static void sk_finish(bx_rpc_call *c, int status) {
  c->done = true;
  if (c->direct)
    sk_answer_direct(c, status);
  else if (c->msg && bx_msg_reply_box(c->msg) != NULL)
    bx_reply(c->msg, sk_answer(c, status));
  sk_call_free(c);
}

/* Runs the implementation on decoded arguments and answers unless it went asynchronous. */
static void sk_invoke(bx_rpc_call *c) {
  sk_priv *p = bx_box_priv(c->skeleton);
  int rc = c->m->invoke(p->ops, p->impl, c, c->args, c->result);
  if (rc == BX_RPC_ASYNC) return; /* the implementation completes it later */
  if (rc > 0) rc = BX_EINVAL;
  sk_finish(c, rc);
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
  const char *name = bx__msg_name(msg);
  const bx_method *m = name ? bx_interface_method(p->iface, name) : NULL;
  if (m == NULL) {
    snprintf(text, sizeof text, "%.40s has no method '%.80s'", p->iface->name, name ? name : "");
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
  int rc = bx_args_decode(m, bx__msg_member(msg, "args"), msg, c->args, true, &err);
  if (rc) {
    sk_reply_error(msg, rc, rc == BX_EBADARG ? err.text : NULL);
    sk_call_free(c); /* the decoder released what it had decoded; the rest is zero */
    return;
  }
  sk_invoke(c);
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

/* ---- direct calls (see rpc_internal.h) ---------------------------------------------------- */

/* Our method equal to the caller's m, or NULL. Compared on every call (scalar fields share
 * their descriptors, so this is cheap); a cache keyed by table address could be fooled by a
 * caller's table reused at the same address. */
static const bx_method *sk_match(sk_priv *p, const bx_method *m) {
  const bx_method *mine = bx_interface_method(p->iface, m->name);
  return mine && bx__method_same(mine, m) ? mine : NULL;
}

bx_box *bx__skeleton_for(bx_box *service, const bx_method *m, const bx_method **own) {
  bx_box *b = service;
  if (bx__box_is(b, &bx__sub_box_ops))
    b = bx__registry_target(bx_sub_box_delegate(b), bx_sub_box_name(b));
  if (!bx__box_is(b, &sk_ops)) return NULL;
  *own = sk_match(bx_box_priv(b), m);
  return *own ? b : NULL;
}

static void sk_run_direct(void *a, void *b) {
  (void)b;
  sk_invoke(a);
}

int bx__skeleton_call_direct(bx_box *skeleton, const bx_method *m, const void *args,
                             const bx__direct_waiter *ops, void *waiter) {
  bx_rpc_call *c = sk_call_new(skeleton, NULL, m);
  if (c == NULL) return BX_ENOMEM;
  int rc = bx__struct_copy(m->args, c->args, args);
  c->owned_args = true;
  if (rc == 0) rc = bx__defer(bx_box_ctx(skeleton), sk_run_direct, c, NULL);
  if (rc) {
    sk_call_free(c);
    return rc;
  }
  if (waiter) ops->ref(waiter);
  c->direct = waiter;
  c->waiter = ops;
  return 0;
}

int bx_skeleton_new(bx_ctx *ctx, const bx_interface *iface, const void *ops, void *impl,
                    bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || iface == NULL || ops == NULL) return BX_EINVAL;
  int rc = bx_interface_allow_classes(ctx, iface);
  if (rc) return rc;
  bx_box *b = NULL;
  bx_box_new(ctx, &sk_ops, sizeof(sk_priv), &b);
  if (b == NULL) return BX_ENOMEM;
  sk_priv *p = bx_box_priv(b);
  p->iface = iface;
  p->ops = ops;
  p->impl = impl;
  *out = b;
  return 0;
}

void bx_rpc_set_error(bx_rpc_call *call, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  bx__free(call->error_text);
  call->error_text = bx__strdup(text);
}

int bx_rpc_return(bx_rpc_call *call) {
  if (call == NULL || call->done) return BX_EINVAL;
  sk_finish(call, 0);
  return 0;
}

int bx_rpc_fail(bx_rpc_call *call, const char *text) {
  if (call == NULL || call->done) return BX_EINVAL;
  bx__free(call->error_text);
  call->error_text = bx__strdup(text ? text : "error");
  sk_finish(call, BX_EREMOTE);
  return 0;
}

const bx_msg *bx_rpc_call_msg(const bx_rpc_call *call) {
  if (call->msg == NULL) /* a direct call: rebuilt on demand (a cache, so logically const) */
    bx__rpc_request_typed(call->m, call->args, &((bx_rpc_call *)call)->msg);
  return call->msg;
}
bx_ctx *bx_rpc_call_ctx(const bx_rpc_call *call) {
  return bx_box_ctx(call->skeleton);
}
const bx_method *bx_rpc_call_method(const bx_rpc_call *call) {
  return call->m;
}
