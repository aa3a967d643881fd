/* Registration that lasts, and client connection states, over real Unix sockets in one
 * process: a service context keeps a name registered in a hub context; the hub's listener goes
 * away (its connections close, the hub forgets the name) and comes back; the name is registered
 * again and calls reach the service again. A hub that refuses registration stops the attempts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

typedef struct events {
  int n;
  bx_reg_event ev[64];
  int status[64];
  int states, state[64], reason[64];
} events;

static void on_reg(bx_registration *reg, bx_reg_event ev, int status, uint64_t retry_ms,
                   void *data) {
  (void)reg, (void)retry_ms;
  events *e = data;
  if (e->n < 64) {
    e->ev[e->n] = ev;
    e->status[e->n] = status;
  }
  e->n++;
}

static void on_state(bx_box *conn, bx_conn_state state, int reason, void *data) {
  (void)conn;
  events *e = data;
  if (e->states < 64) {
    e->state[e->states] = (int)state;
    e->reason[e->states] = reason;
  }
  e->states++;
}

static int count(const events *e, bx_reg_event ev) {
  int k = 0;
  for (int i = 0; i < e->n && i < 64; i++)
    k += e->ev[i] == ev;
  return k;
}

/* The service: answers every call with 7. */
static void answer_seven(bx_box *self, bx_msg *msg, void *data) {
  (void)self, (void)data;
  cJSON *ret = bx_json_new_object(BX_CLASS_RPC_RETURN);
  cJSON_AddNumberToObject(ret, "data", 7);
  bx_reply_json(msg, ret);
}

typedef struct outcome {
  bool done;
  int status;
} outcome;

static void on_call(bx_call *call, int status, void *result, void *data) {
  (void)call, (void)result;
  outcome *o = data;
  o->done = true;
  o->status = status;
}

/* Runs the loop until *flag or until n loop turns have passed without it (then fails). */
#define RUN_UNTIL(loop, cond)                                  \
  do {                                                         \
    for (int turns_ = 0; !(cond) && turns_ < 100000; turns_++) \
      uv_run((loop), UV_RUN_ONCE);                             \
    assert_true(cond);                                         \
  } while (0)

static int call_svc(uv_loop_t *loop, bx_ctx *hub) {
  bx_box *svc = NULL;
  assert_int_equal(bx_sub_box_new(hub, "svc", bx_ctx_registry(hub), &svc), 0);
  outcome o = {0};
  bx_call_opts opts = {.timeout_ms = 5000};
  assert_int_equal(bx_call_json(svc, "get", NULL, false, &opts, on_call, &o, NULL), 0);
  RUN_UNTIL(loop, o.done);
  bx_box_unref(svc);
  return o.status;
}

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

static void closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  (*(int *)data)++;
}

static void test_registered_again_after_the_hub_comes_back(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  char url[128];
  snprintf(url, sizeof url, "unix:///tmp/bxt-reg-%ld.sock", (long)getpid());
  bx_ctx *hub = new_ctx(&loop, "/hub", true), *svc = new_ctx(&loop, "/svc", false);
  bx_listener *l = NULL;
  assert_int_equal(bx_listen(hub, url, NULL, &l), 0);

  bx_box *conn = NULL, *service = NULL;
  assert_int_equal(bx_connect(svc, url, NULL, &conn), 0);
  assert_int_equal(bx_connection_state(conn, NULL), BX_CONN_IDLE);
  events e = {0};
  assert_int_equal(bx_connection_on_state(conn, on_state, &e), 0);
  assert_int_equal(bx_function_box_new(svc, answer_seven, NULL, NULL, &service), 0);
  bx_keep_opts ko = {.min_retry_ms = 10, .max_retry_ms = 40, .timeout_ms = 2000};
  bx_registration *reg = NULL;
  assert_int_equal(bx_register_remote_keep(service, "svc", service, &ko, on_reg, &e, &reg),
                   BX_EINVAL); /* not a client box */
  assert_int_equal(bx_register_remote_keep(conn, "svc", service, &ko, on_reg, &e, &reg), 0);
  assert_int_equal(e.n, 0); /* nothing inside the call */
  RUN_UNTIL(&loop, e.n >= 1);
  assert_int_equal(e.ev[0], BX_REG_REGISTERED);
  assert_true(bx_registration_active(reg));
  assert_int_equal(e.state[0], BX_CONN_CONNECTING);
  assert_int_equal(e.state[1], BX_CONN_UP);
  assert_int_equal(bx_connection_state(conn, NULL), BX_CONN_UP);
  assert_int_equal(call_svc(&loop, hub), 0);

  /* The hub goes away: the connection drops, the name is lost, attempts back off. */
  assert_int_equal(bx_listener_close(l, NULL, NULL), 0);
  RUN_UNTIL(&loop, count(&e, BX_REG_RETRYING) >= 2);
  assert_int_equal(count(&e, BX_REG_LOST), 1);
  assert_int_equal(e.ev[1], BX_REG_LOST);
  assert_false(bx_registration_active(reg));
  int reason = 0;
  assert_int_equal(bx_connection_state(conn, &reason), BX_CONN_DOWN);
  assert_true(reason == UV_ENOENT || reason == UV_ECONNREFUSED);
  assert_int_equal(e.state[2], BX_CONN_DOWN);
  assert_int_equal(call_svc(&loop, hub), BX_ENOSERVICE);

  /* It comes back on the same socket: registered again, calls reach the service again. */
  assert_int_equal(bx_listen(hub, url, NULL, &l), 0);
  RUN_UNTIL(&loop, count(&e, BX_REG_REREGISTERED) == 1);
  assert_true(bx_registration_active(reg));
  assert_int_equal(call_svc(&loop, hub), 0);
  assert_int_equal(count(&e, BX_REG_REGISTERED), 1);
  assert_int_equal(count(&e, BX_REG_REFUSED), 0);

  bx_registration_stop(reg);
  int n = e.n;
  assert_int_equal(bx_connection_off_state(conn, on_state, &e), 0);
  assert_int_equal(bx_connection_off_state(conn, on_state, &e), BX_EINVAL);
  bx_box_unref(conn);
  bx_box_unref(service);
  int done = 0;
  bx_ctx_close(svc, closed, &done);
  bx_ctx_close(hub, closed, &done);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(done, 2);
  assert_int_equal(e.n, n); /* nothing after stop */
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A hub that does not let peers register: REFUSED with BX_EPERM, and no more attempts. The
 * context closing stops a registration nobody stopped. */
static void test_refused_stops(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  char url[128];
  snprintf(url, sizeof url, "unix:///tmp/bxt-reg-no-%ld.sock", (long)getpid());
  bx_ctx *hub = new_ctx(&loop, "/hub", false), *svc = new_ctx(&loop, "/svc", false);
  bx_listener *l = NULL;
  assert_int_equal(bx_listen(hub, url, NULL, &l), 0);
  bx_box *conn = NULL, *service = NULL;
  assert_int_equal(bx_connect(svc, url, NULL, &conn), 0);
  assert_int_equal(bx_function_box_new(svc, answer_seven, NULL, NULL, &service), 0);
  events e = {0};
  bx_keep_opts ko = {.min_retry_ms = 10, .max_retry_ms = 20};
  bx_registration *reg = NULL;
  assert_int_equal(bx_register_remote_keep(conn, "svc", service, &ko, on_reg, &e, &reg), 0);
  RUN_UNTIL(&loop, e.n >= 1);
  assert_int_equal(e.ev[0], BX_REG_REFUSED);
  assert_int_equal(e.status[0], BX_EPERM);
  /* Nothing further is pending: the loop only has the connection and the listener. */
  for (int i = 0; i < 20; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(e.n, 1);
  bx_box_unref(conn);
  bx_box_unref(service);
  int done = 0;
  bx_ctx_close(svc, closed, &done); /* stops and frees reg */
  bx_ctx_close(hub, closed, &done);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(done, 2);
  assert_int_equal(e.n, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registered_again_after_the_hub_comes_back),
      cmocka_unit_test(test_refused_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
