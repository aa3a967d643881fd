/* Transport limits: connections per listener, bytes queued per connection, exports per
 * connection. Each refusal is a clear error, never a crash, a hang or a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <cmocka.h>

#include "conformance/conformance.h"
#include "transport/raw_client.h"

static int counter;
static void unix_url(char *buf, size_t len) {
  snprintf(buf, len, "unix:///tmp/bxt-limits-%ld-%d.sock", (long)getpid(), ++counter);
}
static void inproc_url(char *buf, size_t len) {
  snprintf(buf, len, "inproc://limits-%d", ++counter);
}
static const bxc_tran unix_tran = {"unix", "unix", unix_url, false, NULL, 0, 0};
static const bxc_tran inproc_tran = {"inproc", "inproc", inproc_url, false, NULL, 0, 0};

/* A listener that takes one connection accepts the second and closes it at once. */
static void test_max_connections(void **state) {
  (void)state;
  bxc_env *e = bxc_env_new(&unix_tran, 0, 0);
  bxc_close_listener(e);
  bx_listen_opts o;
  memset(&o, 0, sizeof o);
  bx_transport_limits_init(&o.limits);
  o.limits.max_connections = 1;
  bxc_listen(e, NULL, &o);
  bxt_raw a, b;
  bxt_raw_open(&a, &e->loop, e->url);
  while (bx_listener_connections(e->l) < 1)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bxt_raw_open(&b, &e->loop, e->url);
  bxt_raw_wait(&e->loop, &b.eof);
  assert_int_equal(bx_listener_connections(e->l), 1);
  assert_non_null(strstr(e->slog.last, "too many connections"));
  bxt_raw_close(&b, &e->loop, false);
  /* The first connection still works, and the refused one left nothing behind. */
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r;
  bxt_raw_close(&a, &e->loop, false);
  while (bx_listener_connections(e->l) > 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 2), &r), 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* Bytes waiting on a connection (here: queued while it connects) are capped. */
static void test_max_queued_bytes(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_transport_limits lim;
  bx_transport_limits_init(&lim);
  lim.max_queued_bytes = 64 * 1024;
  bx_box *conn;
  assert_int_equal(bx_connect(e->client, e->url, &lim, &conn), 0);
  bx_box *calc = NULL;
  bx_sub_box_new(e->client, "calc", conn, &calc);
  bxc_res r[3];
  memset(r, 0, sizeof r);
  assert_int_equal(bxc_start(calc, "echo", bxc_args_str(40 * 1024, 'q'), &r[0]), 0);
  assert_int_equal(bxc_start(calc, "echo", bxc_args_str(40 * 1024, 'q'), &r[1]), 0);
  assert_int_equal(bxc_start(calc, "echo", bxc_args_str(40 * 1024, 'q'), &r[2]), BX_EQUEUEFULL);
  bxc_wait_for(&e->loop, &r[0].calls, 1);
  bxc_wait_for(&e->loop, &r[1].calls, 1);
  bxc_spin(&e->loop);
  assert_int_equal(r[0].status, 0);
  assert_int_equal(r[1].status, 0);
  assert_int_equal(r[2].calls, 0);
  /* Once written, there is room again. */
  assert_int_equal(bxc_call(&e->loop, calc, "echo", bxc_args_str(40 * 1024, 'q'), &r[2]), 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  bx_box_unref(calc);
  bx_box_unref(conn);
  bxc_env_free(e);
}

/* Exports made for one connection are capped; messages that export nothing still pass. */
static void test_max_exports(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_transport_limits lim;
  bx_transport_limits_init(&lim);
  lim.max_exports = 2;
  bx_box *conn;
  assert_int_equal(bx_connect(e->client, e->url, &lim, &conn), 0);
  bx_box *calc = NULL;
  bx_sub_box_new(e->client, "calc", conn, &calc);
  bxc_res r[4];
  memset(r, 0, sizeof r);
  assert_int_equal(bxc_start(calc, "hang", NULL, &r[0]), 0);
  assert_int_equal(bxc_start(calc, "hang", NULL, &r[1]), 0);
  assert_int_equal(bxc_start(calc, "add", bxc_args2(1, 1), &r[2]), BX_EQUEUEFULL);
  bx_call_opts o = {0};
  assert_int_equal(bx_call_json(calc, "add", bxc_args2(1, 1), true, &o, bxc_done, &r[3], NULL),
                   0); /* one-way: no reply box, nothing to export */
  while (e->calc.nhung < 2)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bxt_calc_release(&e->calc); /* both answer: their exports are consumed */
  bxc_wait_for(&e->loop, &r[0].calls, 1);
  bxc_wait_for(&e->loop, &r[1].calls, 1);
  assert_int_equal(r[0].status, BX_EREMOTE);
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(2, 2), &r[2]), 0);
  assert_true(r[2].num == 4);
  bx_box_unref(calc);
  bx_box_unref(conn);
  bxc_env_free(e);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_max_connections),
      cmocka_unit_test_prestate(test_max_queued_bytes, (void *)&unix_tran),
      cmocka_unit_test_prestate(test_max_queued_bytes, (void *)&inproc_tran),
      cmocka_unit_test_prestate(test_max_exports, (void *)&unix_tran),
      cmocka_unit_test_prestate(test_max_exports, (void *)&inproc_tran),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
