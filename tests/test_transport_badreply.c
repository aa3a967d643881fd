/* A reply that reaches the caller but cannot be decoded (here: a class the caller's context
 * does not accept) completes its call at once with BX_EBADMSG and the decoder's reason,
 * instead of leaving it to its deadline; the reply export does not linger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "testutil.h"

/* The service answers {"class":"x.Thing"} whatever it is asked. */
static void odd_service(bx_box *self, bx_msg *msg, void *data) {
  (void)self, (void)data;
  cJSON *ret = bx_json_new_object(BX_CLASS_RPC_RETURN);
  cJSON_AddItemToObject(ret, "data", bx_json_new_object("x.Thing"));
  bx_reply_json(msg, ret);
}

typedef struct outcome {
  int calls, status;
  char text[200];
} outcome;

static void on_done(bx_call *call, int status, void *result, void *data) {
  (void)result;
  outcome *o = data;
  o->calls++;
  o->status = status;
  snprintf(o->text, sizeof o->text, "%s", bx_call_error_text(call) ? bx_call_error_text(call) : "");
}

static void quiet(void *data, int level, const char *line) {
  (void)data, (void)level, (void)line;
}

static void check_url(const char *listen_url) {
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.log = quiet;
  bx_ctx *server, *client;
  o.name = "/server";
  assert_int_equal(bx_ctx_new(&loop, &o, &server), 0);
  o.name = "/client";
  assert_int_equal(bx_ctx_new(&loop, &o, &client), 0);
  assert_int_equal(bx_ctx_allow_class(server, "x.*"), 0); /* the server may say it ... */
  bx_box *svc = NULL;
  bx_function_box_new(server, odd_service, NULL, NULL, &svc);
  assert_int_equal(bx_register(bx_ctx_registry(server), "odd", svc, NULL), 0);
  bx_listener *l;
  assert_int_equal(bx_listen(server, listen_url, NULL, &l), 0);
  bx_box *conn, *odd;
  assert_int_equal(bx_connect(client, bx_listener_url(l), NULL, &conn), 0);
  bx_sub_box_new(client, "odd", conn, &odd);
  outcome out = {0};
  bx_call_opts opts = {.timeout_ms = 30000};
  uint64_t start = uv_now(&loop);
  assert_int_equal(bx_call_json(odd, "anything", NULL, false, &opts, on_done, &out, NULL), 0);
  while (out.calls == 0)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(out.calls, 1);
  assert_int_equal(out.status, BX_EBADMSG); /* ... but the client does not accept it */
  assert_non_null(strstr(out.text, "x.Thing"));
  assert_true(uv_now(&loop) - start < 10000); /* not the deadline */
  assert_int_equal(bx_registry_size(bx_ctx_registry(client)), 0);
  bx_box_unref(odd);
  bx_box_unref(conn);
  bx_box_unref(svc);
  bx_ctx_close(client, NULL, NULL);
  bx_ctx_close(server, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_inproc(void **state) {
  (void)state;
  check_url("inproc://badreply");
}

static void test_tcp(void **state) {
  (void)state;
  check_url("tcp://127.0.0.1:0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inproc),
      cmocka_unit_test(test_tcp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
