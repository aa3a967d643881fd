/* Overload through a relay (a hub, as bxd): nothing is dropped without telling its caller.
 *
 * - A frozen service (a socket that is accepted and never read) behind a hub: a client pipelines
 *   thousands of calls to it. The hub's queue to the service fills; the hub holds the client's
 *   input (backpressure) and refuses, with an error at its reply box, what it cannot queue. When
 *   the service goes, every call ends: each exactly once, with an error, none by its deadline.
 * - A reply larger than the queue limit (an echo of 10 MB through the hub) does not cost the
 *   next reply on that connection: both calls succeed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <cmocka.h>

#include "conformance/conformance.h"

static int counter;
static void unix_url(char *buf, size_t len) {
  snprintf(buf, len, "unix:///tmp/bxt-bp-%ld-%d.sock", (long)getpid(), ++counter);
}
static const bxc_tran unix_tran = {"unix", "unix", unix_url, false, NULL, 0, 0};

/* ---- a frozen service: accepts, never reads ------------------------------------------------ */

typedef struct frozen {
  uv_pipe_t server;
  uv_pipe_t conns[4];
  int nconns;
  char path[128];
} frozen;

static void frozen_accept_cb(uv_stream_t *server, int status) {
  frozen *f = server->data;
  if (status < 0 || f->nconns == 4) return;
  uv_pipe_t *c = &f->conns[f->nconns];
  uv_pipe_init(server->loop, c, 0);
  if (uv_accept(server, (uv_stream_t *)c) == 0) f->nconns++; /* and never uv_read_start */
}

static void frozen_start(frozen *f, uv_loop_t *loop) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "/tmp/bxt-bp-frozen-%ld.sock", (long)getpid());
  unlink(f->path);
  assert_int_equal(uv_pipe_init(loop, &f->server, 0), 0);
  f->server.data = f;
  assert_int_equal(uv_pipe_bind(&f->server, f->path), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&f->server, 8, frozen_accept_cb), 0);
}

/* The service goes away: its connections and its listener close (reconnects are refused). */
static void frozen_stop(frozen *f) {
  for (int i = 0; i < f->nconns; i++)
    uv_close((uv_handle_t *)&f->conns[i], NULL);
  uv_close((uv_handle_t *)&f->server, NULL);
  unlink(f->path);
}

/* A hub context that serves `name` as the service `target` over a connection to url (the way
 * bxd forwards to a registered service), listening on a fresh Unix URL. */
typedef struct hub {
  bx_ctx *ctx;
  bxc_log log;
  bx_box *conn, *svc;
  bx_listener *l;
} hub;

static void hub_start(hub *h, uv_loop_t *loop, const char *url, const char *name,
                      const char *target, size_t max_queued) {
  memset(h, 0, sizeof *h);
  h->ctx = bxc_ctx_new(loop, "/bxt/hub", &h->log, 0);
  assert_int_equal(bx_ctx_allow_class(h->ctx, "*"), 0); /* it relays what it does not read */
  bx_transport_limits lim;
  bx_transport_limits_init(&lim);
  lim.max_queued_bytes = max_queued;
  assert_int_equal(bx_connect(h->ctx, url, &lim, &h->conn), 0);
  assert_int_equal(bx_sub_box_new(h->ctx, target, h->conn, &h->svc), 0);
  assert_int_equal(bx_register(bx_ctx_registry(h->ctx), name, h->svc, NULL), 0);
  char lurl[256];
  unix_tran.listen_url(lurl, sizeof lurl);
  bx_listen_opts lo;
  memset(&lo, 0, sizeof lo);
  bx_transport_limits_init(&lo.limits);
  lo.limits.max_pending = 1u << 20; /* the queue limits alone (no budget of calls in service) */
  assert_int_equal(bx_listen(h->ctx, lurl, &lo, &h->l), 0);
}

static void hub_stop(hub *h, uv_loop_t *loop) {
  bx_box_unref(h->svc);
  bx_box_unref(h->conn);
  int closed = 0;
  assert_int_equal(bx_ctx_close(h->ctx, bxc_on_ctx_closed, &closed), 0);
  bxc_wait_for(loop, &closed, 1);
}

/* Runs the loop until *flag reaches want, failing after ms (a call dropped without a word
 * would otherwise leave the loop waiting for as long as its connections stay open). */
static void tick_cb(uv_timer_t *t) {
  *(bool *)t->data = true;
}

static void wait_within(uv_loop_t *loop, const int *flag, int want, uint64_t ms) {
  uv_timer_t timer;
  bool expired = false;
  uv_timer_init(loop, &timer);
  timer.data = &expired;
  uv_timer_start(&timer, tick_cb, ms, 0);
  while (*flag < want && !expired)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  if (*flag < want) fail_msg("%d of %d callbacks in %llu ms", *flag, want, (unsigned long long)ms);
}

/* ---- the tests ------------------------------------------------------------------------------- */

enum { N = 4000 };

typedef struct tally {
  bxc_res r[N];
  int refused; /* completed with BX_EQUEUEFULL */
  int done;
} tally;

static tally *g_tally;

static void tally_done(bx_call *call, int status, void *result, void *data) {
  bxc_done(call, status, result, data);
  g_tally->done++;
  if (status == BX_EQUEUEFULL) g_tally->refused++;
}

static void test_frozen_service(void **state) {
  (void)state;
  bxc_env *e = bxc_env_new(&unix_tran, 0, 0);
  frozen f;
  frozen_start(&f, &e->loop);
  char furl[160];
  snprintf(furl, sizeof furl, "unix://%s", f.path);
  hub h;
  hub_start(&h, &e->loop, furl, "slow", "calc", 16 * 1024);
  bx_box *svc = bxc_service(e->client, bx_listener_url(h.l), "slow");

  tally *t = calloc(1, sizeof *t);
  assert_non_null(t);
  g_tally = t;
  bx_call_opts o = {.timeout_ms = 20000}; /* a silently dropped call would end only here */
  int started = 0;
  for (int i = 0; i < N; i++) {
    int rc = bx_call_json(svc, "add", bxc_args2(i, 1), false, &o, tally_done, &t->r[i], NULL);
    if (rc < 0) { /* refused at once by the client's own queue: the caller heard it */
      t->r[i].calls = 1;
      t->r[i].status = rc;
      t->done++;
      continue;
    }
    started++;
  }
  assert_true(started > 0);
  /* The hub's queue to the frozen service fills: what it cannot take is refused, and its
   * callers hear it (before, these calls were dropped and ended only by their deadline). */
  wait_within(&e->loop, &t->refused, 1, 10000);
  /* Backpressure: the hub held the client's input, so most calls were neither refused nor lost
   * but wait, until the service goes. */
  assert_true(t->refused < N / 2);
  frozen_stop(&f);
  wait_within(&e->loop, &t->done, N, 10000);
  bxc_spin(&e->loop);
  int lost = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(t->r[i].calls, 1);                 /* each exactly once */
    assert_int_not_equal(t->r[i].status, BX_ETIMEDOUT); /* none left to its deadline */
    assert_true(t->r[i].status < 0);                    /* the service never answered */
    lost += t->r[i].status == BX_ECONNLOST;
  }
  assert_true(lost > 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(h.ctx)), 1); /* "slow" only */
  free(t);
  bx_box_unref(svc);
  hub_stop(&h, &e->loop);
  bxc_env_free(e);
}

/* An echo of 10 MB comes back through the hub, over the client's queue limit, and the reply
 * after it still arrives. */
static void test_big_reply_then_next(void **state) {
  (void)state;
  bxc_env *e = bxc_env_new(&unix_tran, 0, 0);
  hub h;
  hub_start(&h, &e->loop, e->url, "calc", "calc", 0);
  /* The client's own queue may hold both requests (its limit is its own business); the hub's
   * are the defaults (8 MiB queued per connection, 16 MiB per frame). */
  bx_transport_limits lim;
  bx_transport_limits_init(&lim);
  lim.max_queued_bytes = 32u * 1024 * 1024;
  bx_box *conn, *svc;
  assert_int_equal(bx_connect(e->client, bx_listener_url(h.l), &lim, &conn), 0);
  assert_int_equal(bx_sub_box_new(e->client, "calc", conn, &svc), 0);
  bx_box_unref(conn);
  enum { BIG = 10 * 1024 * 1024 };
  bxc_res big = {0}, next = {0};
  assert_int_equal(bxc_start(svc, "echo", bxc_args_str(BIG, 'x'), &big), 0);
  assert_int_equal(bxc_start(svc, "add", bxc_args2(1, 2), &next), 0);
  wait_within(&e->loop, &big.calls, 1, 10000);
  wait_within(&e->loop, &next.calls, 1, 10000);
  assert_int_equal(big.status, 0);
  assert_int_equal(big.len, BIG);
  assert_int_equal(next.status, 0);
  assert_true(next.num == 3);
  assert_int_equal(h.log.warn + e->slog.warn + e->clog.warn, 0);
  bx_box_unref(svc);
  hub_stop(&h, &e->loop);
  bxc_env_free(e);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frozen_service),
      cmocka_unit_test(test_big_reply_then_next),
  };
  return cmocka_run_group_tests_name("backpressure", tests, NULL, NULL);
}
