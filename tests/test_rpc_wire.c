/* The RPC contract across real connections and a relay: a caller's deadline reaches a service
 * registered in a hub (what is left of it), a request whose deadline passed while the hub held
 * it is answered by the hub and never reaches the service, and bx_call_cancel() reaches the
 * service through the hub. Three contexts on one loop: hub, service, caller; Unix sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "rpc_internal.h"
#include "testutil.h"

/* ---- the service: probe() -> deadline left; hold() answers only when released ---------- */

typedef struct probe_result {
  double left;
} probe_result;
typedef struct no_args {
  char unused;
} no_args;
static const bx_field probe_f[] = {
    {"left", &bx_type_double, offsetof(probe_result, left), NULL, 0}};
static const bx_type probe_t = {.kind = BX_KIND_STRUCT,
                                .name = "probe_result",
                                .size = sizeof(probe_result),
                                .fields = probe_f,
                                .nfields = 1};
static const bx_type none_t = {.kind = BX_KIND_STRUCT, .name = "void", .size = sizeof(no_args)};

typedef struct svc {
  int probes, holds;
  bx_rpc_call *held;
  int canceled;       /* cancel callbacks seen */
  bx_rpc_call *asked; /* ask() waiting for its callback */
  double *ask_out;
} svc;

static int inv_probe(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  (void)ops, (void)a;
  ((svc *)im)->probes++;
  ((probe_result *)r)->left = (double)bx_rpc_call_deadline(call);
  return 0;
}

static int inv_hold(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  (void)ops, (void)a, (void)r;
  svc *s = im;
  s->holds++;
  s->held = call;
  return BX_RPC_ASYNC;
}

/* ask(cb) -> cb.value() + 1: the service calls the caller's box back and answers only when
 * that callback has answered. */
typedef struct ask_args {
  bx_box *cb;
} ask_args;
static const bx_field ask_f[] = {{"cb", &bx_type_box, offsetof(ask_args, cb), NULL, 0}};
static const bx_type ask_t = {.kind = BX_KIND_STRUCT,
                              .name = "ask_args",
                              .size = sizeof(ask_args),
                              .fields = ask_f,
                              .nfields = 1};

static void ask_answered(bx_call *call, int status, void *result, void *data) {
  (void)call;
  svc *s = data;
  const cJSON *v = result;
  if (status != 0 || !cJSON_IsNumber(v)) {
    bx_rpc_fail(s->asked, "the callback failed");
    return;
  }
  *s->ask_out = v->valuedouble + 1;
  bx_rpc_return(s->asked);
}

static int inv_ask(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  (void)ops;
  svc *s = im;
  s->asked = call;
  s->ask_out = &((probe_result *)r)->left;
  int rc = bx_call_json(((ask_args *)a)->cb, "value", NULL, false, NULL, ask_answered, s, NULL);
  return rc ? rc : BX_RPC_ASYNC;
}

static const bx_method w_methods[] = {
    {"probe", &none_t, &probe_t, 0, inv_probe},
    {"hold", &none_t, &none_t, 0, inv_hold},
    {"ask", &ask_t, &probe_t, 0, inv_ask},
};
static const bx_interface w_iface = {"w", w_methods, 3, NULL, 0, 0};

/* ---- three contexts --------------------------------------------------------------------- */

typedef struct world {
  uv_loop_t loop;
  bx_ctx *hub, *svc_ctx, *caller;
  bx_box *skel, *svc_conn, *caller_conn, *remote; /* remote: "w" in the hub, from the caller */
  svc impl;
  bx_stub stub;
  char url[128];
} world;

static bx_ctx *new_ctx(uv_loop_t *loop, const char *name, bool allow_register) {
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.name = name;
  opts.allow_remote_register = allow_register;
  opts.log_level = BX_LOG_ERROR;
  bx_ctx *ctx = NULL;
  assert_int_equal(bx_ctx_new(loop, &opts, &ctx), 0);
  return ctx;
}

#define RUN_UNTIL(loop, cond)                                  \
  do {                                                         \
    for (int turns_ = 0; !(cond) && turns_ < 100000; turns_++) \
      uv_run((loop), UV_RUN_ONCE);                             \
    assert_true(cond);                                         \
  } while (0)

typedef struct outcome {
  int calls, status;
  double left;
  char text[160];
} outcome;

static void on_done(bx_call *call, int status, void *result, void *data) {
  outcome *o = data;
  o->calls++;
  o->status = status;
  if (status == 0 && result) o->left = ((probe_result *)result)->left;
  const char *t = bx_call_error_text(call);
  snprintf(o->text, sizeof o->text, "%s", t ? t : "");
}

static world *world_new(void) {
  world *w = calloc(1, sizeof *w);
  assert_int_equal(uv_loop_init(&w->loop), 0);
  snprintf(w->url, sizeof w->url, "unix:///tmp/bxt-wire-%ld.sock", (long)getpid());
  w->hub = new_ctx(&w->loop, "/hub", true);
  w->svc_ctx = new_ctx(&w->loop, "/svc", false);
  w->caller = new_ctx(&w->loop, "/caller", false);
  bx_listener *l;
  assert_int_equal(bx_listen(w->hub, w->url, NULL, &l), 0);
  assert_int_equal(bx_skeleton_new(w->svc_ctx, &w_iface, &w_iface, &w->impl, &w->skel), 0);
  assert_int_equal(bx_connect(w->svc_ctx, w->url, NULL, &w->svc_conn), 0);
  outcome o = {0};
  assert_int_equal(bx_register_remote(w->svc_conn, "w", w->skel, NULL, on_done, &o, NULL), 0);
  RUN_UNTIL(&w->loop, o.calls == 1);
  assert_int_equal(o.status, 0);
  assert_int_equal(bx_connect(w->caller, w->url, NULL, &w->caller_conn), 0);
  assert_int_equal(bx_sub_box_new(w->caller, "w", w->caller_conn, &w->remote), 0);
  assert_int_equal(bx_stub_init(&w->stub, w->remote, &w_iface), 0);
  return w;
}

static void closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  (*(int *)data)++;
}

static void world_free(world *w) {
  bx_stub_reset(&w->stub);
  bx_box_unref(w->remote);
  bx_box_unref(w->caller_conn);
  bx_box_unref(w->svc_conn);
  bx_box_unref(w->skel);
  int done = 0;
  bx_ctx_close(w->caller, closed, &done);
  bx_ctx_close(w->svc_ctx, closed, &done);
  bx_ctx_close(w->hub, closed, &done);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  assert_int_equal(done, 3);
  assert_int_equal(uv_loop_close(&w->loop), 0);
  free(w);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_deadline_through_the_hub(void **state) {
  (void)state;
  world *w = world_new();
  outcome o = {0};
  no_args none = {0};
  bx_call_opts opts = {.timeout_ms = 4000};
  assert_int_equal(bx_call_start(&w->stub, &w_methods[0], &none, &opts, on_done, &o, NULL), 0);
  RUN_UNTIL(&w->loop, o.calls == 1);
  assert_int_equal(o.status, 0);
  assert_true(o.left > 0 && o.left <= 4000); /* what was left of it at the service */
  assert_int_equal(w->impl.probes, 1);
  world_free(w);
}

static void on_cancel(bx_rpc_call *call, void *data) {
  svc *s = data;
  assert_ptr_equal(call, s->held);
  assert_true(bx_rpc_call_canceled(call));
  s->canceled++;
}

/* bx_call_cancel() on a call in flight: the caller completes once with BX_ECANCELED, and the
 * service's call, reached through the hub, learns it (flag and callback). */
static void test_cancel_through_the_hub(void **state) {
  (void)state;
  world *w = world_new();
  outcome o = {0};
  no_args none = {0};
  bx_call *call = NULL;
  assert_int_equal(bx_call_start(&w->stub, &w_methods[1], &none, NULL, on_done, &o, &call), 0);
  RUN_UNTIL(&w->loop, w->impl.held != NULL);
  bx_rpc_call_on_cancel(w->impl.held, on_cancel, &w->impl);
  assert_false(bx_rpc_call_canceled(w->impl.held));
  assert_true(bx_rpc_call_wanted(w->impl.held));
  assert_int_equal(bx_call_cancel(call), 0);
  assert_int_equal(o.calls, 0); /* never inside bx_call_cancel */
  RUN_UNTIL(&w->loop, o.calls == 1 && w->impl.canceled == 1);
  assert_int_equal(o.status, BX_ECANCELED);
  assert_true(bx_rpc_call_canceled(w->impl.held));
  assert_false(bx_rpc_call_wanted(w->impl.held));
  /* The service still completes it; its answer finds nobody: one completion, one cancel. */
  assert_int_equal(bx_rpc_return(w->impl.held), 0);
  outcome p = {0};
  assert_int_equal(bx_call_start(&w->stub, &w_methods[0], &none, NULL, on_done, &p, NULL), 0);
  RUN_UNTIL(&w->loop, p.calls == 1); /* a later call goes through: the answer has come back */
  assert_int_equal(o.calls, 1);
  assert_int_equal(w->impl.canceled, 1);
  world_free(w);
}

/* The caller's callback box: value() -> 41. */
static void answer_41(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  (*(int *)data)++;
  cJSON *ret = bx_json_new_object(BX_CLASS_RPC_RETURN);
  cJSON_AddNumberToObject(ret, "data", 41);
  bx_reply_json(msg, ret);
}

/* A blocking call keeps serving while it waits: the service calls the caller's box back
 * (through the hub) and answers only once that callback has answered, so the call could not
 * complete if the caller's loop stood still. */
static void test_sync_serves_callbacks(void **state) {
  (void)state;
  world *w = world_new();
  int served = 0;
  bx_box *cb = NULL;
  assert_int_equal(bx_function_box_new(w->caller, answer_41, &served, NULL, &cb), 0);
  ask_args a = {.cb = cb};
  probe_result r = {0};
  assert_int_equal(bx_call_sync(&w->stub, &w_methods[2], &a, NULL, &r), 0);
  assert_int_equal(served, 1);
  assert_true(r.left == 42);
  bx_box_unref(cb);
  world_free(w);
}

/* A request that reaches the hub with its deadline passed: the hub answers it; the service
 * never sees it. */
static void test_expired_answered_by_the_hub(void **state) {
  (void)state;
  world *w = world_new();
  bxt_sink sink;
  bxt_sink_init(&sink, w->caller);
  bx_msg *req = bx__rpc_request_new("probe", cJSON_CreateArray());
  bx_msg_set_reply_box(req, sink.box);
  /* As a peer would write it: deadlineMs 0 on the wire (set as a plain attribute, the caller's
   * own connection does not look at it; the hub decodes it as a deadline that has passed). */
  assert_int_equal(bx_msg_set_attr(req, "deadlineMs", cJSON_CreateNumber(0)), 0);
  assert_int_equal(bx_send(w->remote, req), 0);
  RUN_UNTIL(&w->loop, sink.n == 1);
  const char *text = NULL;
  assert_int_equal(bx_msg_error(sink.msgs[0], &text), BX_ETIMEDOUT);
  assert_string_equal(text, "the deadline passed before the request could be forwarded");
  assert_int_equal(w->impl.probes, 0);
  bxt_sink_free(&sink);
  world_free(w);
}

/* deadlineMs on the wire: decoded into the message's deadline on both of the decoder's roads
 * (the envelope reader and the general one) and written back as what is left of it (the loop
 * time does not move within one turn, so exactly what came in). */
static void test_deadline_attribute_round_trip(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  static const char rb[] = "\"replyBox\":{\"class\":\"foam.box.SubBox\",\"name\":\"7\","
                           "\"delegate\":{\"class\":\"foam.box.NamedBox\",\"name\":\"/x\"}}";
  static const char obj[] = "\"object\":{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"w\","
                            "\"object\":{\"class\":\"foam.box.RPCMessage\",\"name\":\"probe\","
                            "\"args\":[]}}}";
  char in[2][600], want[2][600];
  snprintf(in[0], sizeof in[0],
           "{\"class\":\"foam.box.Message\",\"attributes\":{%s,\"deadlineMs\":250},%s", rb, obj);
  snprintf(
      in[1], sizeof in[1],
      "{\"class\":\"foam.box.Message\",\"attributes\":{%s,\"token\":\"t\",\"deadlineMs\":250},%s",
      rb, obj);
  snprintf(want[0], sizeof want[0], "%s", in[0]);
  snprintf(
      want[1], sizeof want[1],
      "{\"class\":\"foam.box.Message\",\"attributes\":{%s,\"deadlineMs\":250,\"token\":\"t\"},%s",
      rb, obj);
  for (int i = 0; i < 2; i++) {
    bx_msg *m = NULL;
    assert_int_equal(bx_decode(e->ctx, in[i], strlen(in[i]), NULL, &m, NULL), 0);
    assert_int_equal(bx__msg_due(m), uv_now(&e->loop) + 250);
    bx_buf out = {0};
    assert_int_equal(bx_encode(e->ctx, m, NULL, &out), 0);
    assert_int_equal(out.len, strlen(want[i]));
    assert_memory_equal(out.base, want[i], out.len);
    bx_buf_free(&out);
    bx_msg_unref(m);
  }
  bxt_env_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deadline_through_the_hub),
      cmocka_unit_test(test_expired_answered_by_the_hub),
      cmocka_unit_test(test_deadline_attribute_round_trip),
      cmocka_unit_test(test_cancel_through_the_hub),
      cmocka_unit_test(test_sync_serves_callbacks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
