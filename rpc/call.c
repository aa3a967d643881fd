/* Client calls: a request completed exactly once.
 *
 * Design notes
 * - A call sends RPCMessage{name,args} with a private reply box. Whichever comes first settles
 *   it: the reply, the deadline, bx_call_cancel(), the reply box being dropped unanswered (the
 *   message was lost: a connection closed, a box dropped it), or the context closing. The
 *   call's settle record (box/settle.c) decides which: cl_settle() is the one settle point, and
 *   later events find the call settled and do nothing.
 * - Settling never calls the user: the callback runs from the run queue, so no callback runs
 *   inside bx_call_start(), bx_call_cancel() or the bx_send() that delivered the reply.
 * - Deadlines are the context's deadline service (one timer per context); a call's deadline
 *   and its tracking (closing the context settles it with BX_ECLOSING) live in its settle
 *   record, so a call costs no handle and no allocation beyond itself.
 * - Cancellation reaches the server: a message-path request carries a "callId" attribute, and
 *   bx_call_cancel() sends a one-way cancel naming it to the same service (through any relay);
 *   a direct call's skeleton call is told from the loop. The caller's own completion is still
 *   the one settle point: BX_ECANCELED, once, unless the answer came first.
 * - The call holds a weak pointer to its reply box (the box holds the call): when a call
 *   expires, its reply box's one-shot export is removed so the registry does not grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_internal.h"

struct bx_call {
  bx__settle_rec s; /* first: expire gets this pointer */
  unsigned refs;
  bx_ctx *ctx;
  const bx_method *m; /* NULL for untyped (JSON) calls */
  bx_call_cb cb;
  void *data;
  bx_fn user_fn;
  bx_box *reply_box;   /* weak */
  bx_box *service;     /* where a message-path request went (a reference): its cancel goes there */
  bx_rpc_call *served; /* a direct call's skeleton call while it lives (borrowed) */
  char id[40];         /* the request's callId (message path) */
  bool suppress;       /* the start failed: never call back */
  bool owned_result;   /* decode copies (blocking calls move them out) */
  bool result_moved;
  bool direct; /* served by a skeleton in this context without messages (rpc_internal.h) */
  int status;
  int app_code; /* BX_EREMOTE: the application's code (bx__rpc_error_code) */
  bx_msg *reply;
  char *text;   /* error text (owned) */
  void *result; /* the decoded outputs: owned, in `small` or on the heap */
  union {
    max_align_t align;
    char bytes[64];
  } small; /* a small result's room, saving an allocation per call */
};

/* ---- settling and delivery ---------------------------------------------------------------- */

static void cl_unref(bx_call *c) {
  if (--c->refs > 0) return;
  if (c->result) {
    if (c->m && !c->result_moved) bx__struct_release(c->m->result, c->result, !c->owned_result);
    if (c->result != c->small.bytes) bx__free(c->result);
  }
  bx_msg_unref(c->reply);
  bx_box_unref(c->service);
  bx__free(c->text);
  bx__free(c);
}

static void cl_deliver(void *a, void *b) {
  bx_call *c = a;
  (void)b;
  if (!c->suppress) {
    void *result = c->result;
    if (c->m == NULL && c->status == 0 && c->reply) /* untyped: the reply's data */
      result = (void *)bx__msg_member(c->reply, "data");
    c->cb(c, c->status, c->status == 0 ? result : NULL, c->data);
  }
  cl_unref(c);
}

/* Decodes a successful typed reply into c->result; returns the final status. */
static int cl_decode_result(bx_call *c) {
  if (c->m == NULL || c->m->result == NULL) return 0;
  size_t size = c->m->result->size + 1;
  c->result = size <= sizeof c->small ? memset(c->small.bytes, 0, size) : bx__zalloc(size);
  if (c->result == NULL) return BX_ENOMEM;
  bx_value_error err;
  const cJSON *data = bx__msg_member(c->reply, "data");
  int rc = bx_result_decode(c->m, data, c->reply, c->result, !c->owned_result, &err);
  if (rc) c->text = bx__strdup(err.text);
  return rc ? BX_EBADMSG : 0;
}

/* Settles the call once with status and reply (owned, may be NULL); queues the callback. */
static void cl_settle(bx_call *c, int status, bx_msg *reply, const char *text) {
  if (!bx__settle(&c->s)) {
    bx_msg_unref(reply);
    return;
  }
  c->reply = reply;
  c->status = status;
  if (status == 0 && reply) c->status = cl_decode_result(c);
  if (c->status == BX_EREMOTE) c->app_code = reply ? bx__rpc_error_code(reply) : BX_EREMOTE;
  if (c->status != 0 && c->text == NULL && text) c->text = bx__strdup(text);
  c->refs++; /* the queued delivery's, first: unexporting may free the reply box, and its ref */
  if (c->status != 0 && c->reply_box) bx__unexport(c->ctx, c->reply_box);
  if (bx__defer(c->ctx, cl_deliver, c, NULL) == 0) return;
  cl_unref(c);
}

/* The deadline passed (BX_ETIMEDOUT) or the context is closing (BX_ECLOSING). */
static void cl_expire(bx__settle_rec *s, int code) {
  cl_settle((bx_call *)s, code, NULL, NULL);
}

/* ---- the reply box ------------------------------------------------------------------------ */

typedef struct rb_priv {
  bx_call *call; /* owned reference until the reply */
} rb_priv;

static int rb_classify(const bx_msg *reply, const char **text) {
  int err = bx_msg_error(reply, text);
  if (err) return err;
  if (bx_msg_is(reply, BX_CLASS_RPC_RETURN)) return 0;
  *text = "the reply is not an RPCReturnMessage";
  return BX_EBADMSG;
}

/* Settles c with a reply message (owned). */
static void cl_on_reply(bx_call *c, bx_msg *reply) {
  if (c == NULL || bx__settled(&c->s)) {
    bx_msg_unref(reply); /* late or duplicate */
    return;
  }
  const char *text = NULL;
  int status = rb_classify(reply, &text);
  cl_settle(c, status, reply, text);
}

static int rb_send(bx_box *self, bx_msg *reply) {
  cl_on_reply(((rb_priv *)bx_box_priv(self))->call, reply);
  return 0;
}

static void rb_destroy(bx_box *self) {
  rb_priv *p = bx_box_priv(self);
  bx_call *c = p->call;
  if (c == NULL) return;
  c->reply_box = NULL;
  if (!bx__settled(&c->s))
    cl_settle(c, BX_ENOREPLY, NULL, "the request was dropped without a reply");
  cl_unref(c);
}

static const bx_box_ops rb_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "call-reply",
    .send = rb_send,
    .destroy = rb_destroy,
};

/* ---- starting calls ----------------------------------------------------------------------- */

/* A name for c's request, unique enough among the calls a service serves at once: this
 * process's seed (time and pid) and a counter. */
static void cl_name(bx_call *c) {
  static uint64_t seed, counter;
  if (seed == 0) seed = (uv_hrtime() ^ ((uint64_t)getpid() << 32)) | 1;
  size_t n = bx__u64_text(c->id, seed, 16); /* "<seed>.<counter>" in hex */
  c->id[n++] = '.';
  bx__u64_text(c->id + n, ++counter, 16);
}

/* Tells the service that c's caller gave up: a one-way HelloMessage (which FOAM2 accepts and
 * ignores) whose "cancel" attribute names the request. Best effort: nothing waits for it. */
static void cl_send_cancel(bx_call *c) {
  bx_msg *m = NULL;
  bx_msg_new(bx_json_new_object(BX_CLASS_HELLO), &m);
  if (m == NULL || bx_msg_set_attr(m, BX__ATTR_CANCEL, cJSON_CreateString(c->id)) != 0) {
    bx_msg_unref(m);
    return;
  }
  bx_send(c->service, m);
}

static void cl_cancel_direct(void *a, void *b) {
  bx_call *c = a;
  (void)b;
  if (c->served) bx__skeleton_cancel(c->served);
  cl_unref(c);
}

/* The loop time a call started now with timeout (0: the default) is due at. */
static uint64_t cl_due(bx_ctx *ctx, uint64_t timeout) {
  return uv_now(bx_ctx_loop(ctx)) + (timeout ? timeout : BX_DEFAULT_CALL_TIMEOUT_MS);
}

/* Puts c under its deadline and watches it. On failure c is settled and will never call
 * back. */
static int cl_arm(bx_call *c, uint64_t timeout) {
  if (bx__settle_after(&c->s, timeout ? timeout : BX_DEFAULT_CALL_TIMEOUT_MS) != 0) {
    bx__settle(&c->s);
    c->suppress = true;
    return BX_ENOMEM;
  }
  bx__settle_watch(&c->s);
  return 0;
}

/* Sends req (owned) to service as call c; see bx_call_start for the contract. */
static int cl_launch(bx_call *c, bx_box *service, bx_msg *req, bool oneway, uint64_t timeout) {
  if (oneway) {
    int rc = bx_send(service, req);
    if (rc == 0) cl_settle(c, 0, NULL, NULL); /* done once sent */
    return rc;
  }
  bx_box *rb = NULL;
  bx_box_new(c->ctx, &rb_ops, sizeof(rb_priv), &rb);
  if (rb == NULL) {
    bx_msg_unref(req);
    return BX_ENOMEM;
  }
  ((rb_priv *)bx_box_priv(rb))->call = c;
  c->refs++; /* the reply box's */
  c->reply_box = rb;
  if (cl_arm(c, timeout) != 0) {
    bx_box_unref(rb);
    bx_msg_unref(req);
    return BX_ENOMEM;
  }
  bx_msg_set_reply_box(req, rb);
  bx_box_unref(rb);                              /* the request holds it now */
  bx__msg_set_due(req, cl_due(c->ctx, timeout)); /* the deadline travels with the request */
  cl_name(c);
  if (bx_msg_set_attr(req, BX__ATTR_CALL_ID, cJSON_CreateString(c->id)) == 0)
    c->service = bx_box_ref(service);
  int rc = bx_send(service, req);
  if (rc < 0) c->suppress = true; /* rejected outright: the caller hears the error, not cb */
  if (rc < 0) cl_settle(c, rc, NULL, NULL); /* unless the reply came first */
  return rc;
}

static const bx__direct_waiter cl_waiter; /* how a skeleton answers a direct call, below */

/* Queues skeleton to serve c directly. Returns 1 when the message path must serve c instead
 * (nothing was queued), else what bx_call_start returns. */
static int cl_launch_direct(bx_call *c, bx_box *skeleton, const bx_method *own, const void *args,
                            bool oneway, uint64_t timeout) {
  uint64_t due = oneway ? 0 : cl_due(c->ctx, timeout);
  if (bx__skeleton_call_direct(skeleton, own, args, &cl_waiter, oneway ? NULL : c, due) != 0)
    return 1;
  c->direct = true;
  if (!oneway) return cl_arm(c, timeout);
  cl_settle(c, 0, NULL, NULL); /* done once queued, as a one-way message once sent */
  return 0;
}

static void cl_waiter_ref(void *call) {
  ((bx_call *)call)->refs++;
}

static void cl_waiter_unref(void *call) {
  cl_unref(call);
}

static void cl_direct_result(void *call, void *result) {
  bx_call *c = call;
  if (bx__settled(&c->s)) {
    if (result) {
      bx__struct_release(c->m->result, result, false);
      bx__free(result);
    }
    return;
  }
  c->result = result;
  c->owned_result = true; /* a copy: released as owned unless moved out */
  cl_settle(c, 0, NULL, NULL);
}

static void cl_direct_reply(void *call, bx_msg *reply) {
  bx_call *c = call;
  if (reply == NULL) {
    if (!bx__settled(&c->s)) cl_settle(c, BX_ENOMEM, NULL, NULL);
    return;
  }
  cl_on_reply(c, reply);
}

static void cl_direct_served(void *call, bx_rpc_call *served) {
  ((bx_call *)call)->served = served;
}

static const bx__direct_waiter cl_waiter = {
    .ref = cl_waiter_ref,
    .unref = cl_waiter_unref,
    .result = cl_direct_result,
    .reply = cl_direct_reply,
    .served = cl_direct_served,
};

static bx_call *cl_new(bx_ctx *ctx, const bx_method *m, bx_call_cb cb, void *data,
                       const bx_call_opts *opts) {
  bx_call *c = bx__zalloc(sizeof *c);
  if (c == NULL) return NULL;
  c->refs = 1; /* the caller's, until bx_call_* returns */
  c->ctx = ctx;
  c->m = m;
  c->cb = cb;
  c->data = data;
  c->user_fn = opts ? opts->user_fn : NULL;
  bx__settle_init(&c->s, ctx, cl_expire);
  return c;
}

/* Common tail of the start functions: launches and hands out the handle. */
/* Copies opts->attributes into the request. */
static int cl_attributes(bx_msg *req, const bx_call_opts *opts) {
  const cJSON *a;
  if (opts == NULL || opts->attributes == NULL) return 0;
  cJSON_ArrayForEach(a, opts->attributes) {
    int rc = bx_msg_set_attr(req, a->string, cJSON_Duplicate(a, true));
    if (rc) return rc;
  }
  return 0;
}

static int cl_start(bx_call *c, bx_box *service, bx_msg *req, const bx_call_opts *opts, bool oneway,
                    uint64_t timeout, bx_call **out) {
  int rc = cl_attributes(req, opts);
  if (rc) {
    bx_msg_unref(req);
    cl_unref(c);
    return rc;
  }
  rc = cl_launch(c, service, req, oneway, timeout);
  if (rc == 0 && out) *out = c;
  cl_unref(c);
  return rc;
}

/* bx_call_start; owned: decode outputs as copies (blocking calls move them to the caller). */
static int cl_call_start(const bx_stub *stub, const bx_method *m, const void *args,
                         const bx_call_opts *opts, bx_call_cb cb, void *data, bx_call **out,
                         bool owned) {
  if (out) *out = NULL;
  if (stub == NULL || stub->service == NULL || m == NULL || cb == NULL) return BX_EINVAL;
  bx_ctx *ctx = bx_box_ctx(stub->service);
  if (bx_ctx_is_closing(ctx)) return BX_ECLOSING;
  bx_call *c = cl_new(ctx, m, cb, data, opts);
  if (c == NULL) return BX_ENOMEM;
  c->owned_result = owned;
  uint64_t timeout = opts && opts->timeout_ms ? opts->timeout_ms : stub->timeout_ms;
  bool oneway = (m->flags & BX_METHOD_ONEWAY) != 0;
  const bx_method *own = NULL;
  bx_box *skeleton = opts && opts->attributes ? NULL : bx__skeleton_for(stub->service, m, &own);
  int rc = skeleton ? cl_launch_direct(c, skeleton, own, args, oneway, timeout) : 1;
  if (rc <= 0) {
    if (rc == 0 && out) *out = c;
    cl_unref(c);
    return rc;
  }
  bx_msg *req;
  rc = bx__rpc_request_typed(m, args, &req);
  if (rc) {
    cl_unref(c);
    return rc;
  }
  return cl_start(c, stub->service, req, opts, oneway, timeout, out);
}

int bx_call_start(const bx_stub *stub, const bx_method *m, const void *args,
                  const bx_call_opts *opts, bx_call_cb cb, void *data, bx_call **out) {
  return cl_call_start(stub, m, args, opts, cb, data, out, false);
}

int bx_call_json(bx_box *service, const char *method, cJSON *args, bool oneway,
                 const bx_call_opts *opts, bx_call_cb cb, void *data, bx_call **out) {
  if (out) *out = NULL;
  if (service == NULL || method == NULL || cb == NULL || (args && !cJSON_IsArray(args))) {
    cJSON_Delete(args);
    return BX_EINVAL;
  }
  bx_ctx *ctx = bx_box_ctx(service);
  if (bx_ctx_is_closing(ctx)) {
    cJSON_Delete(args);
    return BX_ECLOSING;
  }
  bx_msg *req = bx__rpc_request_new(method, args ? args : cJSON_CreateArray());
  bx_call *c = req ? cl_new(ctx, NULL, cb, data, opts) : NULL;
  if (c == NULL) {
    bx_msg_unref(req);
    return BX_ENOMEM;
  }
  return cl_start(c, service, req, opts, oneway, opts ? opts->timeout_ms : 0, out);
}

int bx_call_cancel(bx_call *call) {
  if (call == NULL || bx__settled(&call->s)) return BX_EINVAL;
  if (call->service) cl_send_cancel(call);
  if (call->served) { /* the skeleton learns it from the loop, not inside this call */
    call->refs++;
    if (bx__defer(call->ctx, cl_cancel_direct, call, NULL) != 0) call->refs--;
  }
  cl_settle(call, BX_ECANCELED, NULL, NULL);
  return 0;
}

const char *bx_call_error_text(const bx_call *call) {
  if (call->status == 0) return NULL;
  return call->text ? call->text : bx_strerror(call->status);
}

int bx_call_error_code(const bx_call *call) {
  return call->status == BX_EREMOTE ? call->app_code : call->status;
}

const bx_msg *bx_call_reply(const bx_call *call) {
  if (call->reply == NULL && call->direct && bx__settled(&call->s) && call->status == 0 && call->m)
    bx__rpc_return_typed(call->m, call->result, &((bx_call *)call)->reply); /* a cache */
  return call->reply;
}
bx_fn bx_call_user_fn(const bx_call *call) {
  return call->user_fn;
}

/* ---- stubs and blocking calls ------------------------------------------------------------- */

int bx_stub_init(bx_stub *stub, bx_box *service, const bx_interface *iface) {
  if (stub == NULL || service == NULL) return BX_EINVAL;
  memset(stub, 0, sizeof *stub);
  stub->service = service;
  return iface ? bx_interface_allow_classes(bx_box_ctx(service), iface) : 0;
}

void bx_stub_reset(bx_stub *stub) {
  bx__free(stub->last_error);
  stub->last_error = NULL;
  stub->last_code = 0;
}

typedef struct cl_sync {
  bool done;
  int status;
  void *out;
  bx_stub *stub;
} cl_sync;

static void cl_sync_cb(bx_call *call, int status, void *result, void *data) {
  cl_sync *s = data;
  s->done = true;
  s->status = status;
  if (status == 0 && result && s->out && call->m->result) {
    memcpy(s->out, result, call->m->result->size);
    call->result_moved = true; /* the caller owns the outputs now */
  } else if (status != 0) {
    s->stub->last_error = bx__strdup(bx_call_error_text(call));
    s->stub->last_code = bx_call_error_code(call);
  }
}

int bx_call_sync(bx_stub *stub, const bx_method *m, const void *args, const bx_call_opts *opts,
                 void *result) {
  if (stub == NULL) return BX_EINVAL;
  bx_stub_reset(stub);
  cl_sync s = {.out = result, .stub = stub};
  int rc = cl_call_start(stub, m, args, opts, cl_sync_cb, &s, NULL, true);
  if (rc) {
    stub->last_error = bx__strdup(bx_strerror(rc));
    stub->last_code = rc;
    return rc;
  }
  uv_loop_t *loop = bx_ctx_loop(bx_box_ctx(stub->service));
  while (!s.done)
    uv_run(loop, UV_RUN_ONCE);
  return s.status;
}
