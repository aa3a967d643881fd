/* The skeleton box: serves an interface described by generated tables (FOAM's SkeletonBox).
 *
 * Each RPCMessage is handled from the run queue (implementations never run inside the bx_send
 * that delivered the request): look the method up, decode the arguments (borrowing strings
 * from the request), call the implementation, and answer RPCReturnMessage / RPCErrorMessage —
 * at once, or later when the implementation returned BX_RPC_ASYNC and completes the call.
 *
 * Deadlines and cancellation: a request's deadline (its message's, or a direct call's) is
 * checked before the implementation starts (a passed one is answered BX_ETIMEDOUT). Requests
 * with a "callId" attribute are kept on the skeleton's active list while served; a cancel (a
 * HelloMessage whose "cancel" attribute names one) sets that call's flag and runs its cancel
 * callback, from the run queue like every dispatch. The implementation still completes it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

typedef struct sk_priv {
  const bx_interface *iface;
  const void *ops;
  void *impl;
  bx_rpc_call *active; /* calls with a callId, being served (a cancel may name one) */
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
  uint64_t due;             /* the caller's deadline in loop time (0: none) */
  char *call_id;            /* the request's callId (owned), or NULL */
  bx_rpc_call *prev, *next; /* in sk_priv.active while it has a callId */
  void (*on_cancel)(bx_rpc_call *call, void *data);
  void *cancel_data;
  bool canceled;
  int runtime_error; /* an error of the runtime's, not the implementation's (a passed deadline) */
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
  c->due = msg ? bx__msg_due(msg) : 0;
  c->m = m;
  c->args = (char *)c + head;
  c->result = (char *)c + head + asz;
  return c;
}

static void sk_active_remove(bx_rpc_call *c) {
  if (c->call_id == NULL) return;
  sk_priv *p = bx_box_priv(c->skeleton);
  if (c->prev)
    c->prev->next = c->next;
  else
    p->active = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  bx__free(c->call_id);
  c->call_id = NULL;
}

/* Names the request's call by its callId, so that a cancel can find it. */
static void sk_active_add(bx_rpc_call *c) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(bx_msg_attrs(c->msg), BX__ATTR_CALL_ID);
  if (!cJSON_IsString(id) || (c->call_id = bx__strdup(id->valuestring)) == NULL) return;
  sk_priv *p = bx_box_priv(c->skeleton);
  c->next = p->active;
  if (p->active) p->active->prev = c;
  p->active = c;
}

static void sk_call_free(bx_rpc_call *c) {
  sk_active_remove(c);
  if (c->direct && c->waiter->served) c->waiter->served(c->direct, NULL);
  bx__struct_release(c->m->args, c->args, !c->owned_args);
  if (c->m->result) bx__struct_release(c->m->result, c->result, false);
  bx_msg_unref(c->msg);
  if (c->direct) c->waiter->unref(c->direct);
  bx_box_unref(c->skeleton);
  bx__free(c->error_text);
  bx__free(c);
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

/* The reply message for a call that finished with status: its outputs, or the
 * implementation's error as an application error (RPCErrorMessage{data:"text", code}, see
 * messages.c), its text from bx_rpc_set_error() or else naming the code. */
static bx_msg *sk_answer(bx_rpc_call *c, int status) {
  if (status == 0) return sk_return(c);
  if ((status == BX_ENOMETHOD && c->error_text == NULL) || /* a generated skeleton's NULL op */
      status == c->runtime_error) {
    bx_msg *err = NULL;
    bx_msg_new_error(status, c->error_text, &err);
    return err;
  }
  return bx__rpc_error_new(status, c->error_text);
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

/* Sends c's answer. A result its way back refuses (a value the connection cannot encode, such
 * as a box inside a JSON result) is answered with that error instead: the caller must not wait
 * for its deadline. */
static void sk_reply(bx_rpc_call *c, int status) {
  int rc = bx_reply(c->msg, sk_answer(c, status));
  if (rc == 0 || rc == BX_ENOREPLY || status != 0) return;
  char text[200];
  snprintf(text, sizeof text, "%.60s: the result could not be sent back: %s", c->m->name,
           bx_strerror(rc));
  bx_log(bx_box_ctx(c->skeleton), BX_LOG_WARN, "skeleton: %s", text);
  bx_reply_error(c->msg, rc, text);
}

static void sk_finish(bx_rpc_call *c, int status) {
  c->done = true;
  if (c->direct)
    sk_answer_direct(c, status);
  else if (c->msg && bx_msg_reply_box(c->msg) != NULL)
    sk_reply(c, status);
  sk_call_free(c);
}

static uint64_t sk_now(const bx_rpc_call *c) {
  return uv_now(bx_ctx_loop(bx_box_ctx(c->skeleton)));
}

/* Runs the implementation on decoded arguments and answers unless it went asynchronous. A
 * request whose deadline has passed is not started: the caller has given up on it. */
static void sk_invoke(bx_rpc_call *c) {
  sk_priv *p = bx_box_priv(c->skeleton);
  if (c->due != 0 && c->due <= sk_now(c)) {
    c->runtime_error = BX_ETIMEDOUT;
    c->error_text = bx__strdup("the deadline passed before the call started");
    sk_finish(c, BX_ETIMEDOUT);
    return;
  }
  int rc = c->m->invoke(p->ops, p->impl, c, c->args, c->result);
  if (rc == BX_RPC_ASYNC) return; /* the implementation completes it later */
  if (rc > 0) rc = BX_EINVAL;
  sk_finish(c, rc);
}

static void sk_reply_error(const bx_msg *msg, int code, const char *text) {
  if (bx_msg_reply_box(msg) != NULL) bx_reply_error(msg, code, text);
}

void bx__skeleton_cancel(bx_rpc_call *c) {
  if (c->canceled || c->done) return;
  c->canceled = true;
  if (c->on_cancel) c->on_cancel(c, c->cancel_data);
}

/* A cancel: the call it names (if it is still being served here) learns it. */
static void sk_cancel(bx_box *self, const char *id) {
  sk_priv *p = bx_box_priv(self);
  for (bx_rpc_call *c = p->active; c != NULL; c = c->next) {
    if (strcmp(c->call_id, id) != 0) continue;
    bx__skeleton_cancel(c);
    return;
  }
}

static void sk_dispatch(bx_box *self, bx_msg *msg) {
  sk_priv *p = bx_box_priv(self);
  bx_ctx *ctx = bx_box_ctx(self);
  char text[200];
  const cJSON *cancel = cJSON_GetObjectItemCaseSensitive(bx_msg_attrs(msg), BX__ATTR_CANCEL);
  if (cJSON_IsString(cancel) && bx_msg_is(msg, BX_CLASS_HELLO)) {
    sk_cancel(self, cancel->valuestring);
    bx_msg_unref(msg);
    return;
  }
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
  if (m == NULL && name && strcmp(name, "describe") == 0) { /* the interface's descriptor */
    cJSON *d = bx_msg_reply_box(msg) ? bx__describe(p->iface) : NULL;
    cJSON *ret = d ? bx_json_new_object(BX_CLASS_RPC_RETURN) : NULL;
    if (ret && cJSON_AddItemToObject(ret, "data", d))
      bx_reply_json(msg, ret);
    else if (bx_msg_reply_box(msg))
      cJSON_Delete(d), cJSON_Delete(ret), sk_reply_error(msg, BX_ENOMEM, NULL);
    bx_msg_unref(msg);
    return;
  }
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
  if (bx_msg_reply_box(msg) != NULL) sk_active_add(c);
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
                             const bx__direct_waiter *ops, void *waiter, uint64_t due) {
  bx_rpc_call *c = sk_call_new(skeleton, NULL, m);
  if (c == NULL) return BX_ENOMEM;
  c->due = due;
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
  if (waiter && ops->served) ops->served(waiter, c);
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
  return bx_rpc_fail_code(call, BX_EREMOTE, text ? text : "error");
}

int bx_rpc_fail_code(bx_rpc_call *call, int code, const char *text) {
  if (call == NULL || call->done || code >= 0) return BX_EINVAL;
  if (text) {
    bx__free(call->error_text);
    call->error_text = bx__strdup(text);
  }
  sk_finish(call, code);
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

int64_t bx_rpc_call_deadline(const bx_rpc_call *call) {
  if (call->due == 0) return -1;
  uint64_t now = sk_now(call);
  return call->due > now ? (int64_t)(call->due - now) : 0;
}

bool bx_rpc_call_wanted(const bx_rpc_call *call) {
  return !call->done && !call->canceled && (call->due == 0 || call->due > sk_now(call));
}

bool bx_rpc_call_canceled(const bx_rpc_call *call) {
  return call->canceled;
}

void bx_rpc_call_on_cancel(bx_rpc_call *call, void (*cb)(bx_rpc_call *call, void *data),
                           void *data) {
  call->on_cancel = cb;
  call->cancel_data = data;
}
