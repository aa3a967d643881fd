/* The transport conformance suite: the same test bodies for every transport, instantiated per
 * URL scheme (as nng's NUTS_DECLARE_TRAN_TESTS). A transport provides a bxc_tran (its scheme
 * and a factory of fresh listen URLs) and adds BXC_TESTS(&tran) to a cmocka group:
 *
 *   static const bxc_tran unix_tran = {"unix", "unix", unix_url, false, NULL, 0, 0};
 *   const struct CMUnitTest tests[] = {BXC_TESTS(&unix_tran)};
 *
 * Each test runs contexts on one loop (a server with a `calc` service and a listener, a
 * client, and for the relay a middle one), drives the loop until the awaited callbacks have
 * run (never sleeping), checks that every call completed exactly once and that no export
 * leaked, and ends with uv_loop_close() == 0.
 *
 * Include after <cmocka.h>. */
#ifndef BXC_CONFORMANCE_H
#define BXC_CONFORMANCE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry_internal.h"
#include "testutil.h"
#include "transport/calc_service.h"

/* Every helper and test is unused in some includer. */
#define BXC_FN static __attribute__((unused))

typedef struct bxc_tran {
  const char *name;   /* test group label, e.g. "tcp6" */
  const char *scheme; /* what bx_peer_info.scheme reports */
  /* Writes a fresh URL to listen on (tcp may use port 0). */
  void (*listen_url)(char *buf, size_t len);
  bool no_handshake; /* no RegisterSelfMessage (WebSocket): the server never learns the
                        client's path */
  /* Optional, for transports whose peers outlive their link (down, then up): takes every
   * link of the transport away (down = true) and brings them back (down = false). */
  void (*outage)(bool down);
  /* Optional, for datagram transports: the largest frame one message carries (the big-frame
   * cases stay under it; 0: no cap of the transport's own), and how many large frames may be
   * in flight at once without overflowing a receive buffer (0: the suite's 120). */
  size_t max_frame;
  int burst;
} bxc_tran;

/* What the big-frame cases may send over t: want, or less under the transport's cap. */
BXC_FN size_t bxc_fit(const bxc_tran *t, size_t want) {
  return t->max_frame && want > t->max_frame - 1000 ? t->max_frame - 1000 : want;
}

/* ---- environment -------------------------------------------------------------------------- */

typedef struct bxc_log {
  int warn; /* lines at WARN or ERROR */
  char last[512];
} bxc_log;

BXC_FN void bxc_log_fn(void *data, int level, const char *line) {
  bxc_log *log = data;
  if (level <= BX_LOG_WARN) {
    log->warn++;
    snprintf(log->last, sizeof log->last, "%s", line);
  }
}

typedef struct bxc_env {
  const bxc_tran *t;
  uv_loop_t loop;
  bx_ctx *server, *client;
  int closed;
  bxt_calc calc;
  bx_listener *l;
  char url[256]; /* the listener's actual URL */
  bxc_log slog, clog;
} bxc_env;

BXC_FN bx_ctx *bxc_ctx_new(uv_loop_t *loop, const char *name, bxc_log *log, size_t max_frame) {
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = name;
  o.log = bxc_log_fn;
  o.log_data = log;
  if (max_frame) o.max_frame = max_frame;
  bx_ctx *ctx;
  assert_int_equal(bx_ctx_new(loop, &o, &ctx), 0);
  return ctx;
}

BXC_FN void bxc_on_ctx_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  (*(int *)data)++;
}

/* Listens on url (or a fresh URL of the transport) with opts; remembers the actual URL. */
BXC_FN void bxc_listen(bxc_env *e, const char *url, const bx_listen_opts *opts) {
  char fresh[256];
  if (url == NULL) {
    e->t->listen_url(fresh, sizeof fresh);
    url = fresh;
  }
  assert_int_equal(bx_listen(e->server, url, opts, &e->l), 0);
  snprintf(e->url, sizeof e->url, "%s", bx_listener_url(e->l));
}

/* Server and client contexts; the server serves `calc` and listens (server_max_frame limits
 * what its listener accepts, 0 for the default). */
BXC_FN bxc_env *bxc_env_new(const bxc_tran *t, size_t ctx_max_frame, size_t server_max_frame) {
  bxc_env *e = calloc(1, sizeof *e);
  assert_non_null(e);
  e->t = t;
  assert_int_equal(uv_loop_init(&e->loop), 0);
  e->server = bxc_ctx_new(&e->loop, "/bxt/server", &e->slog, ctx_max_frame);
  e->client = bxc_ctx_new(&e->loop, "/bxt/client", &e->clog, ctx_max_frame);
  assert_int_equal(bxt_calc_register(e->server, "calc", &e->calc), 0);
  bx_listen_opts opts;
  memset(&opts, 0, sizeof opts);
  bx_transport_limits_init(&opts.limits);
  opts.limits.max_frame = server_max_frame;
  bxc_listen(e, NULL, &opts);
  return e;
}

BXC_FN void bxc_env_free(bxc_env *e) {
  bxt_calc_release(&e->calc);
  assert_int_equal(bx_ctx_close(e->server, bxc_on_ctx_closed, &e->closed), 0);
  assert_int_equal(bx_ctx_close(e->client, bxc_on_ctx_closed, &e->closed), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 2);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

/* Runs the loop until *flag reaches want; fails if the loop has nothing left to wait for. */
BXC_FN void bxc_wait_for(uv_loop_t *loop, const int *flag, int want) {
  while (*flag < want) {
    int alive = uv_run(loop, UV_RUN_ONCE);
    if (*flag >= want) break;
    if (!alive) fail_msg("the loop went idle with %d of %d callbacks", *flag, want);
  }
}

/* Runs the loop a little more without blocking (to catch a second, wrong callback). */
BXC_FN void bxc_spin(uv_loop_t *loop) {
  for (int i = 0; i < 20; i++)
    uv_run(loop, UV_RUN_NOWAIT);
}

BXC_FN void bxc_listener_closed(bx_listener *l, void *data) {
  (void)l;
  (*(int *)data)++;
}

/* Closes e's listener and waits for its callback. */
BXC_FN void bxc_close_listener(bxc_env *e) {
  int done = 0;
  assert_int_equal(bx_listener_close(e->l, bxc_listener_closed, &done), 0);
  e->l = NULL;
  bxc_wait_for(&e->loop, &done, 1);
}

/* ---- calls -------------------------------------------------------------------------------- */

typedef struct bxc_res {
  int calls;
  int status;
  double num;
  size_t len; /* length of a string result */
  char text[256];
} bxc_res;

BXC_FN void bxc_done(bx_call *call, int status, void *result, void *data) {
  bxc_res *r = data;
  const cJSON *d = result;
  r->calls++;
  r->status = status;
  if (status == 0 && cJSON_IsNumber(d)) r->num = d->valuedouble;
  if (status == 0 && cJSON_IsString(d)) r->len = strlen(d->valuestring);
  const char *text = bx_call_error_text(call);
  if (status == 0 && cJSON_IsString(d)) text = d->valuestring; /* a string result's start */
  snprintf(r->text, sizeof r->text, "%s", text ? text : "");
}

BXC_FN int bxc_start(bx_box *svc, const char *method, cJSON *args, bxc_res *r) {
  bx_call_opts o = {.timeout_ms = 60000};
  return bx_call_json(svc, method, args, false, &o, bxc_done, r, NULL);
}

/* A blocking call: returns the status (or the start error). */
BXC_FN int bxc_call(uv_loop_t *loop, bx_box *svc, const char *method, cJSON *args, bxc_res *r) {
  memset(r, 0, sizeof *r);
  int rc = bxc_start(svc, method, args, r);
  if (rc) return rc;
  bxc_wait_for(loop, &r->calls, 1);
  return r->status;
}

BXC_FN cJSON *bxc_args2(double a, double b) {
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateNumber(a));
  cJSON_AddItemToArray(args, cJSON_CreateNumber(b));
  return args;
}

BXC_FN cJSON *bxc_args_str(size_t n, char fill) {
  char *s = malloc(n + 1);
  assert_non_null(s);
  memset(s, fill, n);
  s[n] = '\0';
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateString(s));
  free(s);
  return args;
}

/* The client's box for the server's service `name` (caller unrefs). */
BXC_FN bx_box *bxc_service(bx_ctx *ctx, const char *url, const char *name) {
  bx_box *conn = NULL;
  assert_int_equal(bx_connect(ctx, url, NULL, &conn), 0);
  bx_box *svc = NULL;
  bx_sub_box_new(ctx, name, conn, &svc);
  assert_non_null(svc);
  bx_box_unref(conn);
  return svc;
}

/* ---- the tests ---------------------------------------------------------------------------- */

/* A round trip through bx_call_json to a registered service, errors, and many calls at once. */
BXC_FN void bxc_test_exchange(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *c1, *c2;
  assert_int_equal(bx_connect(e->client, e->url, NULL, &c1), 0);
  assert_int_equal(bx_connect(e->client, e->url, NULL, &c2), 0);
  assert_ptr_equal(c1, c2); /* one shared box per URL */
  bx_box_unref(c2);
  bx_box *calc = NULL;
  bx_sub_box_new(e->client, "calc", c1, &calc);
  bx_box *nosuch = NULL;
  bx_sub_box_new(e->client, "nosuch", c1, &nosuch);
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 2), &r), 0);
  assert_true(r.num == 3);
  assert_int_equal(bxc_call(&e->loop, calc, "fail", NULL, &r), BX_EREMOTE);
  assert_string_equal(r.text, "Error: boom");
  assert_int_equal(bxc_call(&e->loop, nosuch, "add", bxc_args2(1, 2), &r), BX_ENOSERVICE);

  enum { N = 200 };
  bxc_res many[N];
  memset(many, 0, sizeof many);
  int total = 0;
  for (int i = 0; i < N; i++)
    assert_int_equal(bxc_start(calc, "add", bxc_args2(i, 1000), &many[i]), 0);
  for (int i = 0; i < N; i++) {
    bxc_wait_for(&e->loop, &many[i].calls, 1);
    total += many[i].calls;
  }
  bxc_spin(&e->loop);
  for (int i = 0; i < N; i++) {
    assert_int_equal(many[i].calls, 1);
    assert_int_equal(many[i].status, 0);
    assert_true(many[i].num == i + 1000);
  }
  assert_int_equal(total, N);
  assert_int_equal(bx_listener_connections(e->l), 1);
  /* No reply export outlived its call; with a handshake the server knows the client by its
   * announced name, and that name is bound to the client's connection. */
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->server)), 1);
  bx_box *named = NULL;
  bx_named_box(e->server, "/bxt/client", &named);
  bx_peer_info peer;
  if (t->no_handshake) {
    assert_null(bx__named_binding(named));
  } else {
    assert_int_equal(bx_connection_peer(bx__named_binding(named), &peer), 0);
    assert_string_equal(peer.scheme, t->scheme);
  }
  assert_int_equal(bx_connection_peer(named, &peer), BX_ENOROUTE);
  bx_box_unref(named);
  bx_transport_stats ss, cs;
  bx_transport_stats_get(e->server, &ss);
  bx_transport_stats_get(e->client, &cs);
  assert_true(ss.connections == 1 && ss.connections_total == 1);
  assert_true(ss.requests_in == N + 3 && ss.messages_in == N + 3);
  /* The calls, and the RegisterSelfMessage where there is one. */
  assert_true(cs.messages_out == N + (t->no_handshake ? 3u : 4u));
  assert_true(ss.messages_out == N + 3 && cs.messages_in == N + 3);
  assert_true(ss.bytes_in > 0 && ss.bytes_out > 0 && ss.errors == 0);
  assert_int_equal(e->slog.warn + e->clog.warn, 0);
  bx_box_unref(nosuch);
  bx_box_unref(calc);
  bx_box_unref(c1);
  bxc_env_free(e);
}

/* Nothing listens: a call completes with an error, exactly once; so does the next one. */
BXC_FN void bxc_test_connect_refused(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bxc_close_listener(e);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r;
  for (int round = 0; round < 2; round++) {
    int rc = bxc_call(&e->loop, calc, "add", bxc_args2(1, 2), &r);
    assert_true(rc < 0);
    bxc_spin(&e->loop);
    assert_int_equal(r.calls, 1);
  }
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* Listening twice on one address fails; malformed URLs are refused. */
BXC_FN void bxc_test_listen_twice(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_listener *l2 = NULL;
  assert_int_equal(bx_listen(e->server, e->url, NULL, &l2), UV_EADDRINUSE);
  assert_null(l2);
  assert_int_equal(bx_listen(e->client, e->url, NULL, &l2), UV_EADDRINUSE);
  assert_int_equal(bx_listen(e->server, "nosuch://x", NULL, &l2), BX_EINVAL);
  char bad[300];
  snprintf(bad, sizeof bad, "%s://", t->scheme);
  assert_int_equal(bx_listen(e->server, bad, NULL, &l2), BX_EINVAL);
  bx_box *b = NULL;
  assert_int_equal(bx_connect(e->client, bad, NULL, &b), BX_EINVAL);
  assert_int_equal(bx_connect(e->client, "no-scheme", NULL, &b), BX_EINVAL);
  assert_null(b);
  /* The first listener still serves. */
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(2, 2), &r), 0);
  assert_true(r.num == 4);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* A 1 MiB frame, and frames just under the context's frame limit, both ways. */
BXC_FN void bxc_test_big_frames(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r;
  const size_t big = bxc_fit(t, 1u << 20);
  assert_int_equal(bxc_call(&e->loop, calc, "echo", bxc_args_str(big, 'a'), &r), 0);
  assert_int_equal(r.len, big);
  bx_box_unref(calc);
  bxc_env_free(e);

  const size_t max = t->max_frame ? t->max_frame : 256 * 1024;
  e = bxc_env_new(t, max, 0);
  calc = bxc_service(e->client, e->url, "calc");
  assert_int_equal(bxc_call(&e->loop, calc, "echo", bxc_args_str(max - 400, 'b'), &r), 0);
  assert_int_equal(r.len, max - 400);
  assert_int_equal(e->slog.warn + e->clog.warn, 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* A burst of large messages in flight at once: more than the socket buffers take, so writes
 * go out partly and queue (on WebSocket, lws buffers the rest of a message written at once).
 * Every reply comes back whole and to its own call. */
BXC_FN void bxc_test_burst(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  enum { MAX_N = 120, SIZE = 60000 };
  const int N = t->burst ? t->burst : MAX_N;
  static bxc_res rs[MAX_N];
  memset(rs, 0, sizeof rs);
  for (int i = 0; i < N; i++)
    assert_int_equal(bxc_start(calc, "echo", bxc_args_str(SIZE, (char)('A' + i % 26)), &rs[i]), 0);
  for (int i = 0; i < N; i++)
    bxc_wait_for(&e->loop, &rs[i].calls, 1);
  for (int i = 0; i < N; i++) {
    assert_int_equal(rs[i].status, 0);
    assert_int_equal(rs[i].len, SIZE);
    assert_int_equal(rs[i].text[0], 'A' + i % 26);
    assert_int_equal(rs[i].text[sizeof rs[i].text - 2], 'A' + i % 26);
  }
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* Over the cap: the sender refuses to encode (BX_EMSGSIZE, no callback); a receiver with a
 * smaller cap closes the connection (the call fails with BX_ECONNLOST) and the next call
 * reconnects. */
BXC_FN void bxc_test_over_cap(void **state) {
  const bxc_tran *t = *state;
  const size_t max = 64 * 1024;
  bxc_env *e = bxc_env_new(t, max, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r = {0};
  assert_int_equal(bxc_start(calc, "echo", bxc_args_str(max, 'c'), &r), BX_EMSGSIZE);
  bxc_spin(&e->loop);
  assert_int_equal(r.calls, 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  bx_box_unref(calc);
  bxc_env_free(e);

  /* contexts allow 16 MiB, the listener 64 KiB (a quarter of a datagram transport's cap) */
  const size_t lmax = t->max_frame ? t->max_frame / 4 : max;
  e = bxc_env_new(t, 0, lmax);
  calc = bxc_service(e->client, e->url, "calc");
  assert_int_equal(bxc_call(&e->loop, calc, "echo", bxc_args_str(2 * lmax, 'd'), &r), BX_ECONNLOST);
  bxc_spin(&e->loop);
  assert_int_equal(r.calls, 1);
  assert_true(e->slog.warn >= 1);
  assert_non_null(strstr(e->slog.last, "over the limit"));
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(5, 6), &r), 0);
  assert_true(r.num == 11);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* The listener closes while large requests are being written: every call completes exactly
 * once (answered, or BX_ECONNLOST), and nothing leaks. */
BXC_FN void bxc_test_close_during_send(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  enum { N = 16 };
  bxc_res r[N];
  memset(r, 0, sizeof r);
  for (int i = 0; i < N; i++)
    assert_int_equal(bxc_start(calc, "echo", bxc_args_str(bxc_fit(t, 256 * 1024), 'e'), &r[i]), 0);
  while (bx_listener_connections(e->l) == 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bxc_close_listener(e);
  int lost = 0;
  for (int i = 0; i < N; i++) {
    bxc_wait_for(&e->loop, &r[i].calls, 1);
    assert_true(r[i].status == 0 || r[i].status == BX_ECONNLOST);
    lost += r[i].status == BX_ECONNLOST;
  }
  bxc_spin(&e->loop);
  for (int i = 0; i < N; i++)
    assert_int_equal(r[i].calls, 1);
  assert_true(lost > 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* The server side goes away with a call in flight: the call fails with BX_ECONNLOST. */
BXC_FN void bxc_test_peer_reset(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r = {0};
  assert_int_equal(bxc_start(calc, "hang", NULL, &r), 0);
  while (e->calc.nhung == 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bxc_close_listener(e);
  bxc_wait_for(&e->loop, &r.calls, 1);
  assert_int_equal(r.status, BX_ECONNLOST);
  bxt_calc_release(&e->calc); /* the answer has nowhere to go */
  bxc_spin(&e->loop);
  assert_int_equal(r.calls, 1);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* The listener restarts on the same address: the next call reconnects. */
BXC_FN void bxc_test_reconnect(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 1), &r), 0);
  char url[256];
  snprintf(url, sizeof url, "%s", e->url);
  bxc_close_listener(e);
  uv_run(&e->loop, UV_RUN_DEFAULT); /* the client sees its connection drop */
  bxc_listen(e, url, NULL);
  assert_string_equal(e->url, url);
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(2, 3), &r), 0);
  assert_true(r.num == 5);
  assert_int_equal(bx_listener_connections(e->l), 1);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* A call over the connection times out; its reply export is withdrawn, and the answer that
 * comes later is dropped quietly (and the connection keeps working). */
BXC_FN void bxc_test_timeout(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r = {0};
  bx_call_opts o = {.timeout_ms = 30};
  assert_int_equal(bx_call_json(calc, "hang", NULL, false, &o, bxc_done, &r, NULL), 0);
  bxc_wait_for(&e->loop, &r.calls, 1);
  assert_int_equal(r.status, BX_ETIMEDOUT);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  while (e->calc.nhung == 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bxt_calc_release(&e->calc); /* the late answer */
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 2), &r), 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(e->slog.warn + e->clog.warn, 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* ---- symmetric connections: the server calls back into the client ------------------------- */

typedef struct bxc_cb {
  bx_box *box;      /* the callback the client passed (server side) */
  bx_box *exported; /* a second one: a client box with no wire form */
  int got;
  int pings;
} bxc_cb;

BXC_FN void bxc_subscribe_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  bxc_cb *cb = data;
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "args");
  cb->box = bx_box_ref(bx_msg_box_at(msg, cJSON_GetArrayItem(args, 0)));
  cb->exported = bx_box_ref(bx_msg_box_at(msg, cJSON_GetArrayItem(args, 1)));
  cb->got++;
}

BXC_FN void bxc_ping_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self, (void)msg;
  (*(int *)data)++;
}

BXC_FN void bxc_test_callbacks(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bxc_cb cb = {0};
  bx_box *sub_fn = NULL;
  bx_function_box_new(e->server, bxc_subscribe_fn, &cb, NULL, &sub_fn);
  assert_int_equal(bx_register(bx_ctx_registry(e->server), "subscribe", sub_fn, NULL), 0);
  bxt_calc ccalc = {0};
  assert_int_equal(bxt_calc_register(e->client, "ccalc", &ccalc), 0);
  int pings = 0;
  bx_box *ping = NULL;
  bx_function_box_new(e->client, bxc_ping_fn, &pings, NULL, &ping);

  /* subscribe(<the client's ccalc>, <a local function box>) */
  bx_box *svc = bxc_service(e->client, e->url, "subscribe");
  bx_box *ccalc_box = NULL;
  bx_sub_box_new(e->client, "ccalc", bx_ctx_registry(e->client), &ccalc_box);
  bx_msg *m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"subscribe\",\"args\":[]}");
  cJSON *args = cJSON_GetObjectItemCaseSensitive(bx_msg_object(m), "args");
  cJSON_AddItemToArray(args, bx_msg_box_ref(m, ccalc_box));
  cJSON_AddItemToArray(args, bx_msg_box_ref(m, ping));
  assert_int_equal(bx_send(svc, m), 0);
  bxc_wait_for(&e->loop, &cb.got, 1);
  assert_non_null(cb.box);
  assert_non_null(cb.exported);

  /* The server calls the client's service over the same connection. */
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, cb.box, "add", bxc_args2(20, 22), &r), 0);
  assert_true(r.num == 42);
  assert_int_equal(ccalc.calls, 1);
  assert_int_equal(bx_send(cb.exported, bxt_msg("{\"class\":\"foam.box.HelloMessage\"}")), 0);
  bxc_wait_for(&e->loop, &pings, 1);
  assert_int_equal(bx_listener_connections(e->l), 1);
  /* The server's reply exports are gone; the client keeps only the export of `ping`. */
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->server)), 2);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 2);

  bx_box_unref(cb.box);
  bx_box_unref(cb.exported);
  bx_box_unref(ccalc_box);
  bx_box_unref(svc);
  bx_box_unref(ping);
  bx_box_unref(sub_fn);
  bxc_env_free(e);
}

/* ---- relay: A -> B -> C, the reply finds its way back --------------------------------------- */

typedef struct bxc_fwd {
  bx_box *to; /* B's box for C's calc */
} bxc_fwd;

BXC_FN void bxc_forward_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  bxc_fwd *f = data;
  bx_send(f->to, bx_msg_ref(msg)); /* the reply box came from A's connection */
}

BXC_FN void bxc_test_relay(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0); /* server = C, client = A */
  bxc_log blog = {0};
  bx_ctx *b = bxc_ctx_new(&e->loop, "/bxt/middle", &blog, 0);
  bxc_fwd fwd = {bxc_service(b, e->url, "calc")};
  bx_box *fwd_box = NULL;
  bx_function_box_new(b, bxc_forward_fn, &fwd, NULL, &fwd_box);
  assert_int_equal(bx_register(bx_ctx_registry(b), "fwd", fwd_box, NULL), 0);
  char burl[256];
  t->listen_url(burl, sizeof burl);
  bx_listener *bl;
  assert_int_equal(bx_listen(b, burl, NULL, &bl), 0);

  bx_box *via = bxc_service(e->client, bx_listener_url(bl), "fwd");
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, via, "add", bxc_args2(2, 3), &r), 0);
  assert_true(r.num == 5);
  assert_int_equal(bxc_call(&e->loop, via, "fail", NULL, &r), BX_EREMOTE);
  assert_string_equal(r.text, "Error: boom");
  /* B's relay exports were one-shot: only "fwd" is left. */
  assert_int_equal(bx_registry_size(bx_ctx_registry(b)), 1);

  /* C goes away with a relayed call in flight: A hears BX_ECONNLOST through B. */
  memset(&r, 0, sizeof r);
  assert_int_equal(bxc_start(via, "hang", NULL, &r), 0);
  while (e->calc.nhung == 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bxc_close_listener(e);
  bxc_wait_for(&e->loop, &r.calls, 1);
  assert_int_equal(r.status, BX_ECONNLOST);
  bxc_spin(&e->loop);
  assert_int_equal(r.calls, 1);
  assert_int_equal(bx_registry_size(bx_ctx_registry(b)), 1);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);

  bx_box_unref(via);
  bx_box_unref(fwd_box);
  bx_box_unref(fwd.to);
  int closed = 0;
  assert_int_equal(bx_ctx_close(b, bxc_on_ctx_closed, &closed), 0);
  bxc_wait_for(&e->loop, &closed, 1);
  bxc_env_free(e);
}

/* ---- who sent it -------------------------------------------------------------------------- */

typedef struct bxc_who {
  int got;
  int rc;
  bx_peer_info info;
} bxc_who;

BXC_FN void bxc_who_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  bxc_who *w = data;
  w->rc = bx_msg_peer(msg, &w->info);
  w->got++;
}

BXC_FN void bxc_test_peer_info(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bxc_who w = {0};
  bx_box *who = NULL;
  bx_function_box_new(e->server, bxc_who_fn, &w, NULL, &who);
  assert_int_equal(bx_register(bx_ctx_registry(e->server), "who", who, NULL), 0);
  bx_box *svc = bxc_service(e->client, e->url, "who");
  assert_int_equal(bx_send(svc, bxt_msg("{\"class\":\"foam.box.HelloMessage\"}")), 0);
  bxc_wait_for(&e->loop, &w.got, 1);
  assert_int_equal(w.rc, 0);
  assert_string_equal(w.info.scheme, t->scheme);
  bool addressed = strstr(t->scheme, "tcp") != NULL || strstr(t->scheme, "udp") != NULL ||
                   strcmp(t->scheme, "ws") == 0 || strcmp(t->scheme, "wss") == 0;
  if (addressed) {
    assert_false(w.info.has_cred);
    assert_true(strncmp(w.info.address, "127.0.0.1:", 10) == 0 ||
                strncmp(w.info.address, "[::1]:", 6) == 0);
  } else {
    assert_true(w.info.has_cred);
    assert_int_equal(w.info.uid, getuid());
    assert_int_equal(w.info.gid, getgid());
    assert_int_equal(w.info.pid, getpid());
  }
  bx_msg *local = bxt_msg("{}");
  bx_peer_info info;
  assert_int_equal(bx_msg_peer(local, &info), BX_ENOROUTE);
  bx_msg_unref(local);
  bx_box_unref(svc);
  bx_box_unref(who);
  bxc_env_free(e);
}

/* Two clients at once: both are peers of the one listener (on transports whose links carry
 * many peers, of one link); calls of both complete, and when one client goes, the other keeps
 * working. */
BXC_FN void bxc_test_two_peers(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bxc_log olog = {0};
  bx_ctx *other = bxc_ctx_new(&e->loop, "/bxt/other", &olog, 0);
  bx_box *a = bxc_service(e->client, e->url, "calc");
  bx_box *b = bxc_service(other, e->url, "calc");
  enum { N = 50 };
  bxc_res ra[N], rb[N];
  memset(ra, 0, sizeof ra);
  memset(rb, 0, sizeof rb);
  for (int i = 0; i < N; i++) {
    assert_int_equal(bxc_start(a, "add", bxc_args2(i, 1), &ra[i]), 0);
    assert_int_equal(bxc_start(b, "add", bxc_args2(i, 2), &rb[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    bxc_wait_for(&e->loop, &ra[i].calls, 1);
    bxc_wait_for(&e->loop, &rb[i].calls, 1);
    assert_true(ra[i].status == 0 && ra[i].num == i + 1);
    assert_true(rb[i].status == 0 && rb[i].num == i + 2);
  }
  assert_int_equal(bx_listener_connections(e->l), 2);
  /* One client goes away; the other's calls go on. */
  int closed = 0;
  bx_box_unref(b);
  assert_int_equal(bx_ctx_close(other, bxc_on_ctx_closed, &closed), 0);
  bxc_wait_for(&e->loop, &closed, 1);
  while (bx_listener_connections(e->l) > 1) { /* the server hears of it */
    int alive = uv_run(&e->loop, UV_RUN_ONCE);
    if (bx_listener_connections(e->l) > 1) assert_true(alive);
  }
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, a, "add", bxc_args2(20, 22), &r), 0);
  assert_true(r.num == 42);
  assert_int_equal(bx_listener_connections(e->l), 1);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  assert_int_equal(e->slog.warn + e->clog.warn + olog.warn, 0);
  bx_box_unref(a);
  bxc_env_free(e);
}

/* The link goes away for a while (transports with down peers): a call in flight and a call
 * sent meanwhile both complete once it is back; the peers kept their exports and names. */
BXC_FN void bxc_test_down_up(void **state) {
  const bxc_tran *t = *state;
  if (t->outage == NULL) skip(); /* peers of this transport close with their link */
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r, hung = {0}, queued = {0};
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 2), &r), 0);
  assert_int_equal(bxc_start(calc, "hang", NULL, &hung), 0);
  while (e->calc.nhung == 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  t->outage(true);
  assert_int_equal(bxc_start(calc, "add", bxc_args2(2, 3), &queued), 0);
  bxc_spin(&e->loop);
  assert_int_equal(hung.calls + queued.calls, 0); /* nothing failed, nothing went out */
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 2); /* both reply exports */
  t->outage(false);
  bxc_wait_for(&e->loop, &queued.calls, 1);
  assert_int_equal(queued.status, 0);
  assert_true(queued.num == 5);
  bxt_calc_release(&e->calc); /* the hung call is answered over the link that came back */
  bxc_wait_for(&e->loop, &hung.calls, 1);
  assert_int_equal(hung.status, BX_EREMOTE);
  bxc_spin(&e->loop);
  assert_int_equal(hung.calls + queued.calls, 2);
  assert_int_equal(bx_listener_connections(e->l), 1);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  if (!t->no_handshake) { /* the server still knows the client by its announced name */
    bx_box *named = NULL;
    bx_named_box(e->server, "/bxt/client", &named);
    assert_non_null(bx__named_binding(named));
    bx_box_unref(named);
  }
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* A request the server's decoder refuses (an argument of a class it does not know) is answered
 * at once with the reason, not left to the caller's deadline; the connection goes on. */
BXC_FN void bxc_test_refused_request(void **state) {
  const bxc_tran *t = *state;
  bxc_env *e = bxc_env_new(t, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 1), &r), 0); /* connected */
  cJSON *args = cJSON_CreateArray();
  cJSON *odd = bx_json_new_object("todo.Other");
  cJSON_AddItemToArray(args, odd);
  memset(&r, 0, sizeof r);
  bx_call_opts o = {.timeout_ms = 20000};
  assert_int_equal(bx_call_json(calc, "add", args, false, &o, bxc_done, &r, NULL), 0);
  bxc_wait_for(&e->loop, &r.calls, 1);
  assert_int_equal(r.status, BX_EUNKNOWNCLASS); /* the decoder's reason, at once */
  assert_non_null(strstr(r.text, "todo.Other"));
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(2, 2), &r), 0);
  assert_true(r.num == 4);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* The suite, for a `const bxc_tran *`. */
#define BXC_TESTS(tran)                                                      \
  cmocka_unit_test_prestate(bxc_test_exchange, (void *)(tran)),              \
      cmocka_unit_test_prestate(bxc_test_connect_refused, (void *)(tran)),   \
      cmocka_unit_test_prestate(bxc_test_listen_twice, (void *)(tran)),      \
      cmocka_unit_test_prestate(bxc_test_big_frames, (void *)(tran)),        \
      cmocka_unit_test_prestate(bxc_test_burst, (void *)(tran)),             \
      cmocka_unit_test_prestate(bxc_test_over_cap, (void *)(tran)),          \
      cmocka_unit_test_prestate(bxc_test_close_during_send, (void *)(tran)), \
      cmocka_unit_test_prestate(bxc_test_peer_reset, (void *)(tran)),        \
      cmocka_unit_test_prestate(bxc_test_reconnect, (void *)(tran)),         \
      cmocka_unit_test_prestate(bxc_test_timeout, (void *)(tran)),           \
      cmocka_unit_test_prestate(bxc_test_callbacks, (void *)(tran)),         \
      cmocka_unit_test_prestate(bxc_test_relay, (void *)(tran)),             \
      cmocka_unit_test_prestate(bxc_test_peer_info, (void *)(tran)),         \
      cmocka_unit_test_prestate(bxc_test_two_peers, (void *)(tran)),         \
      cmocka_unit_test_prestate(bxc_test_refused_request, (void *)(tran)),   \
      cmocka_unit_test_prestate(bxc_test_down_up, (void *)(tran))

#endif /* BXC_CONFORMANCE_H */
