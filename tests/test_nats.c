/* The NATS transport: the protocol parser on its own, then contexts attached to a real
 * nats-server (one node, started by tests/nats/cluster.sh on random loopback ports): serving
 * the registry's services, calls, no responders, unregistering, relays, a lost server.
 * Skipped (with a message) when nats-server is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bx/nats.h"
#include "nats_internal.h"
#include "nats/nats_testutil.h"
#include "testutil.h"
#include "transport/calc_service.h"

/* ---- the parser ---------------------------------------------------------------------------- */

static void test_parse_ops(void **state) {
  (void)state;
  const char in[] = "INFO {\"max_payload\":1048576}\r\nPING\r\nPONG\r\n+OK\r\n-ERR 'Stale "
                    "Connection'\r\nMSG a.b 7 _INBOX.x.1 5\r\nhello\r\n"
                    "HMSG _INBOX.x.2 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\nMSG c 1 0\r\n\r\n";
  const int kinds[] = {BXN_OP_INFO, BXN_OP_PING, BXN_OP_PONG, BXN_OP_OK,
                       BXN_OP_ERR,  BXN_OP_MSG,  BXN_OP_MSG,  BXN_OP_MSG};
  size_t off = 0, n = sizeof in - 1;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    bxn_op op;
    size_t used;
    /* every strict prefix of the operation asks for more */
    int r = bxn_parse(in + off, n - off, 4096, 1 << 20, &op, &used);
    assert_int_equal(r, BXN_OK);
    for (size_t k = 0; k < used; k++) {
      bxn_op o2;
      size_t u2;
      assert_int_equal(bxn_parse(in + off, k, 4096, 1 << 20, &o2, &u2), BXN_NEED);
    }
    assert_int_equal(op.kind, kinds[i]);
    if (i == 5) {
      assert_int_equal(op.sid, 7);
      assert_int_equal(op.subject_len, 3);
      assert_memory_equal(op.reply, "_INBOX.x.1", 10);
      assert_int_equal(op.payload_len, 5);
      assert_memory_equal(op.payload, "hello", 5);
    }
    if (i == 6) {
      assert_null(op.reply);
      assert_int_equal(bxn_header_status(op.hdr, op.hdr_len), 503);
      assert_int_equal(op.payload_len, 0);
    }
    if (i == 7) assert_int_equal(op.payload_len, 0);
    off += used;
  }
  assert_int_equal(off, n);
}

static void test_parse_bounds(void **state) {
  (void)state;
  bxn_op op;
  size_t used;
  /* a line without end, longer than the limit */
  char longline[300];
  memset(longline, 'A', sizeof longline);
  assert_int_equal(bxn_parse(longline, sizeof longline, 64, 1024, &op, &used), BXN_BAD);
  /* a payload over max_payload is refused from its control line */
  const char big[] = "MSG a 1 2000\r\n";
  assert_int_equal(bxn_parse(big, sizeof big - 1, 64, 1024, &op, &used), BXN_BAD);
  const char hbad[] = "HMSG a 1 20 10\r\n";
  assert_int_equal(bxn_parse(hbad, sizeof hbad - 1, 64, 1024, &op, &used), BXN_BAD);
  const char nocrlf[] = "MSG a 1 2\r\nhiXX";
  assert_int_equal(bxn_parse(nocrlf, sizeof nocrlf - 1, 64, 1024, &op, &used), BXN_BAD);
  const char unknown[] = "HELLO\r\n";
  assert_int_equal(bxn_parse(unknown, sizeof unknown - 1, 64, 1024, &op, &used), BXN_BAD);
  const char lf[] = "PING\n";
  assert_int_equal(bxn_parse(lf, sizeof lf - 1, 64, 1024, &op, &used), BXN_BAD);
  const char args[] = "MSG a b c d e f g 1\r\n";
  assert_int_equal(bxn_parse(args, sizeof args - 1, 64, 1024, &op, &used), BXN_BAD);
  assert_int_equal(bxn_header_status("NATS/1.0\r\n", 10), 0);
  assert_int_equal(bxn_header_status("HTTP/1.0 503", 12), 0);
}

static void test_urls(void **state) {
  (void)state;
  bx_box *b = NULL;
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx;
  assert_int_equal(bx_ctx_new(&loop, NULL, &ctx), 0);
  bxt_refused(bx_nats_service(ctx, "nats://127.0.0.1:4222", &bxt_none), BX_EINVAL);
  bxt_refused(bx_nats_service(ctx, "nats://127.0.0.1/calc", &bxt_none), BX_EINVAL);
  bxt_refused(bx_nats_service(ctx, "nats://127.0.0.1:1/ca lc", &bxt_none), BX_EINVAL);
  bxt_refused(bx_nats_service(ctx, "nats://127.0.0.1:1/calc?prefix=a*", &bxt_none), BX_EINVAL);
  bxt_refused(bx_connect(ctx, "nats://127.0.0.1:1/calc?what=1", NULL, &bxt_none), BX_EINVAL);
  bx_listener *l = NULL;
  assert_int_equal(bx_nats_attach(ctx, "nats://127.0.0.1:1/calc", NULL, &l), BX_EINVAL);
  assert_int_equal(bx_connect(ctx, "nats://u:p@127.0.0.1:1,[::1]:2/calc?prefix=x", NULL, &b), 0);
  bx_box_unref(b);
  int closed = 0;
  bx_ctx_close(ctx, NULL, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- a real server ------------------------------------------------------------------------- */

static cluster the_cluster;
static bool have_server;

static int setup_server(void **state) {
  (void)state;
  int rc = cluster_start(&the_cluster, 1);
  if (rc == 77) {
    fprintf(stderr, "test_nats: nats-server is not installed: skipping the server tests\n");
    return 0;
  }
  assert_int_equal(rc, 0);
  have_server = true;
  return 0;
}

static int teardown_server(void **state) {
  (void)state;
  if (have_server) cluster_stop(&the_cluster);
  return 0;
}

#define NEED_SERVER()         \
  do {                        \
    if (!have_server) skip(); \
  } while (0)

typedef struct res {
  int calls;
  int status;
  double num;
} res;

static void on_done(bx_call *call, int status, void *result, void *data) {
  (void)call;
  res *r = data;
  r->calls++;
  r->status = status;
  if (status == 0 && cJSON_IsNumber((const cJSON *)result)) r->num = ((cJSON *)result)->valuedouble;
}

static void run_until(uv_loop_t *loop, int *counter, int want) {
  while (*counter < want)
    assert_true(uv_run(loop, UV_RUN_ONCE) || *counter >= want);
}

static void run_until_connected(uv_loop_t *loop, bx_listener *l) {
  while (!bx_nats_connected(l))
    uv_run(loop, UV_RUN_ONCE);
}

static int call_add(uv_loop_t *loop, bx_box *svc, int a, int b, uint64_t timeout_ms, double *sum) {
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateNumber(a));
  cJSON_AddItemToArray(args, cJSON_CreateNumber(b));
  res r = {0};
  bx_call_opts o = {.timeout_ms = timeout_ms};
  assert_int_equal(bx_call_json(svc, "add", args, false, &o, on_done, &r, NULL), 0);
  run_until(loop, &r.calls, 1);
  if (sum) *sum = r.num;
  return r.status;
}

/* Calls add until it answers (the service's subscription reaches the server in its own time). */
static void call_until_served(uv_loop_t *loop, bx_box *svc) {
  for (int i = 0; i < 200; i++) {
    double sum = 0;
    int st = call_add(loop, svc, 2, 3, 2000, &sum);
    if (st == 0) {
      assert_true(sum == 5);
      return;
    }
    assert_int_equal(st, BX_ENOSERVICE);
    usleep(10000);
  }
  fail_msg("the service was never served");
}

typedef struct pair {
  uv_loop_t loop;
  bx_ctx *srv, *cli;
  bxt_calc calc;
  bx_listener *att;
  bx_box *svc;
} pair;

static void pair_open(pair *p, const char *service) {
  memset(p, 0, sizeof *p);
  uv_loop_init(&p->loop);
  bx_ctx_options o;
  memset(&o, 0, sizeof o);
  o.name = "/server";
  assert_int_equal(bx_ctx_new(&p->loop, &o, &p->srv), 0);
  o.name = "/client";
  assert_int_equal(bx_ctx_new(&p->loop, &o, &p->cli), 0);
  assert_int_equal(bxt_calc_register(p->srv, "calc", &p->calc), 0);
  char url[600];
  snprintf(url, sizeof url, "nats://%s", the_cluster.seeds);
  assert_int_equal(bx_nats_attach(p->srv, url, NULL, &p->att), 0);
  run_until_connected(&p->loop, p->att);
  assert_int_equal(bx_nats_services(p->att), 1);
  snprintf(url, sizeof url, "nats://%s/%s", the_cluster.seeds, service);
  assert_int_equal(bx_nats_service(p->cli, url, &p->svc), 0);
}

static void pair_close(pair *p) {
  bx_box_unref(p->svc);
  bxt_calc_release(&p->calc);
  int closed = 0;
  bx_ctx_close(p->cli, NULL, &closed);
  bx_ctx_close(p->srv, NULL, &closed);
  uv_run(&p->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&p->loop), 0);
}

static void test_call(void **state) {
  (void)state;
  NEED_SERVER();
  pair p;
  pair_open(&p, "calc");
  call_until_served(&p.loop, p.svc);
  double sum = 0;
  assert_int_equal(call_add(&p.loop, p.svc, 40, 2, 5000, &sum), 0);
  assert_true(sum == 42);
  /* a burst of pipelined calls, each answered once */
  res r[200];
  memset(r, 0, sizeof r);
  int done = 0;
  for (int i = 0; i < 200; i++) {
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, cJSON_CreateNumber(i));
    cJSON_AddItemToArray(args, cJSON_CreateNumber(1));
    assert_int_equal(bx_call_json(p.svc, "add", args, false, NULL, on_done, &r[i], NULL), 0);
  }
  for (;;) {
    done = 0;
    for (int i = 0; i < 200; i++)
      done += r[i].calls;
    if (done == 200) break;
    uv_run(&p.loop, UV_RUN_ONCE);
  }
  for (int i = 0; i < 200; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].status, 0);
    assert_true(r[i].num == i + 1);
  }
  pair_close(&p);
}

static void test_no_responders(void **state) {
  (void)state;
  NEED_SERVER();
  pair p;
  pair_open(&p, "nosuch");
  /* nobody subscribes bx.svc.nosuch: the server says so at once (no deadline needed) */
  assert_int_equal(call_add(&p.loop, p.svc, 1, 2, 60000, NULL), BX_ENOSERVICE);
  assert_int_equal(call_add(&p.loop, p.svc, 1, 2, 60000, NULL), BX_ENOSERVICE);
  pair_close(&p);
}

static void test_unregister(void **state) {
  (void)state;
  NEED_SERVER();
  pair p;
  pair_open(&p, "calc");
  call_until_served(&p.loop, p.svc);
  assert_int_equal(bx_unregister(bx_ctx_registry(p.srv), "calc"), 0);
  assert_int_equal(bx_nats_services(p.att), 0);
  int st = 0;
  for (int i = 0; i < 200 && st != BX_ENOSERVICE; i++) {
    st = call_add(&p.loop, p.svc, 1, 2, 60000, NULL);
    /* until the UNSUB reaches the server, the instance still answers: NoSuchName */
    assert_true(st == BX_ENOSERVICE || st == BX_ENOSERVICE);
  }
  assert_int_equal(st, BX_ENOSERVICE);
  /* registering again serves again */
  bx_box *out = NULL;
  bxt_calc c2 = {0};
  assert_int_equal(bxt_calc_register(p.srv, "calc", &c2), 0);
  bx_box_unref(out);
  call_until_served(&p.loop, p.svc);
  pair_close(&p);
}

/* A relay: ctx R serves "relay", a box for the cluster's calc; a client calls relay over NATS,
 * R forwards over NATS (exporting the client's reply box as its own), the answer comes back. */
static void test_relay(void **state) {
  (void)state;
  NEED_SERVER();
  pair p;
  pair_open(&p, "relay");
  bx_ctx *rel;
  bx_ctx_options o;
  memset(&o, 0, sizeof o);
  o.name = "/relay";
  assert_int_equal(bx_ctx_new(&p.loop, &o, &rel), 0);
  char url[600];
  snprintf(url, sizeof url, "nats://%s/calc", the_cluster.seeds);
  bx_box *calc = NULL;
  assert_int_equal(bx_nats_service(rel, url, &calc), 0);
  assert_int_equal(bx_register(bx_ctx_registry(rel), "relay", calc, NULL), 0);
  bx_box_unref(calc);
  snprintf(url, sizeof url, "nats://%s", the_cluster.seeds);
  bx_listener *att = NULL;
  assert_int_equal(bx_nats_attach(rel, url, NULL, &att), 0);
  run_until_connected(&p.loop, att);
  call_until_served(&p.loop, p.svc);
  double sum = 0;
  assert_int_equal(call_add(&p.loop, p.svc, 20, 22, 5000, &sum), 0);
  assert_true(sum == 42);
  int closed = 0;
  bx_ctx_close(rel, NULL, &closed);
  pair_close(&p);
}

/* The server goes away: calls in flight fail with BX_ECONNLOST, none is left waiting. */
static void test_server_lost(void **state) {
  (void)state;
  cluster c;
  int rc = cluster_start(&c, 1);
  if (rc == 77) skip();
  assert_int_equal(rc, 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *srv, *cli;
  assert_int_equal(bx_ctx_new(&loop, NULL, &srv), 0);
  assert_int_equal(bx_ctx_new(&loop, NULL, &cli), 0);
  bxt_calc calc = {0};
  assert_int_equal(bxt_calc_register(srv, "calc", &calc), 0);
  char url[600];
  snprintf(url, sizeof url, "nats://%s", c.seeds);
  bx_listener *att;
  assert_int_equal(bx_nats_attach(srv, url, NULL, &att), 0);
  run_until_connected(&loop, att);
  snprintf(url, sizeof url, "nats://%s/calc", c.seeds);
  bx_box *svc;
  assert_int_equal(bx_nats_service(cli, url, &svc), 0);
  call_until_served(&loop, svc);
  res r[8];
  memset(r, 0, sizeof r);
  for (int i = 0; i < 8; i++)
    assert_int_equal(
        bx_call_json(svc, "hang", cJSON_CreateArray(), false, NULL, on_done, &r[i], NULL), 0);
  while (calc.nhung < 8)
    uv_run(&loop, UV_RUN_ONCE);
  cluster_kill(&c, 0);
  for (int i = 0; i < 8; i++) {
    run_until(&loop, &r[i].calls, 1);
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].status, BX_ECONNLOST);
  }
  /* a new call while no server is there fails once the round of servers failed */
  assert_int_equal(call_add(&loop, svc, 1, 1, 60000, NULL) != 0, 1);
  bx_box_unref(svc);
  bxt_calc_release(&calc);
  int closed = 0;
  bx_ctx_close(cli, NULL, &closed);
  bx_ctx_close(srv, NULL, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  cluster_stop(&c);
}

int main(void) {
  const struct CMUnitTest pure[] = {
      cmocka_unit_test(test_parse_ops),
      cmocka_unit_test(test_parse_bounds),
      cmocka_unit_test(test_urls),
  };
  const struct CMUnitTest server[] = {
      cmocka_unit_test(test_call),        cmocka_unit_test(test_no_responders),
      cmocka_unit_test(test_unregister),  cmocka_unit_test(test_relay),
      cmocka_unit_test(test_server_lost),
  };
  int failed = cmocka_run_group_tests_name("nats_parse", pure, NULL, NULL);
  failed += cmocka_run_group_tests_name("nats_server", server, setup_server, teardown_server);
  return failed;
}
