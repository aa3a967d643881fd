/* Fault injection: the Nth allocation fails, for every N along a whole call path.
 *
 * The path: a client context calls calc.add through an in-process hub over Unix sockets (the
 * client connects to the hub, the hub connects to the server and relays the call, the reply
 * comes back the same way), then every context closes. Setup (contexts, listeners, the hub's
 * registration, the arguments) is made before the allocator is armed; from the call on, the
 * Nth allocation of bx and cJSON (bx_set_allocator) returns NULL.
 *
 * For every N up to the number of allocations the path makes: the call either is refused at
 * once (bx_call_json returns an error and never calls back) or completes exactly once, with
 * the right sum or an error that says what happened, never by its deadline (a message lost
 * for memory closes its connection, which tells the caller); every context closes and the loop
 * closes with no handle left (uv_loop_close() == 0); nothing leaks (LSan in make test-asan). */
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
  snprintf(buf, len, "unix:///tmp/bxt-fa-%ld-%d.sock", (long)getpid(), ++counter);
}
static const bxc_tran unix_tran = {"unix", "unix", unix_url, false, NULL, 0, 0};

/* ---- the failing allocator ------------------------------------------------------------------ */

static long fa_count;   /* allocations since armed */
static long fa_fail_at; /* the one that fails (1-based); 0: none */
static bool fa_armed;

/* The sanitizers' stack printer, when the program has one (weak: absent in plain builds). */
void __sanitizer_print_stack_trace(void) __attribute__((weak));

static bool fa_fail(void) {
  if (!fa_armed || ++fa_count != fa_fail_at) return false;
  if (getenv("BX_FA_ONLY") && __sanitizer_print_stack_trace) /* where it failed */
    __sanitizer_print_stack_trace();
  return true;
}
static void *fa_malloc(size_t n) {
  return fa_fail() ? NULL : malloc(n);
}
static void *fa_realloc(void *p, size_t n) {
  return fa_fail() ? NULL : realloc(p, n);
}
static const bx_allocator fa_allocator = {fa_malloc, fa_realloc, free};

/* ---- the path -------------------------------------------------------------------------------- */

static void tick_cb(uv_timer_t *t) {
  *(bool *)t->data = true;
}

/* Runs the loop until *flag reaches want or ms pass; returns whether it got there. */
static bool wait_within(uv_loop_t *loop, const int *flag, int want, uint64_t ms) {
  uv_timer_t timer;
  bool expired = false;
  uv_timer_init(loop, &timer);
  timer.data = &expired;
  uv_timer_start(&timer, tick_cb, ms, 0);
  while (*flag < want && !expired)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag >= want;
}

typedef struct outcome {
  int start_rc; /* what bx_call_json returned */
  bxc_res r;
  long allocs; /* allocations the path made while armed */
} outcome;

/* One run of the path with allocation fail_at failing (0: none). */
static void fa_run(long fail_at, outcome *out) {
  memset(out, 0, sizeof *out);
  bxc_env *e = bxc_env_new(&unix_tran, 0, 0); /* the server: calc, listening */
  bxc_log hlog = {0};
  bx_ctx *hub = bxc_ctx_new(&e->loop, "/bxt/hub", &hlog, 0);
  bx_box *conn = NULL, *relay = NULL;
  assert_int_equal(bx_connect(hub, e->url, NULL, &conn), 0);
  assert_int_equal(bx_sub_box_new(hub, "calc", conn, &relay), 0);
  assert_int_equal(bx_register(bx_ctx_registry(hub), "calc", relay, NULL), 0);
  char url[256];
  unix_url(url, sizeof url);
  bx_listener *hl = NULL;
  assert_int_equal(bx_listen(hub, url, NULL, &hl), 0);
  bx_box *svc = bxc_service(e->client, bx_listener_url(hl), "calc");
  cJSON *args = bxc_args2(2, 3);
  bx_call_opts o = {.timeout_ms = 1000};

  fa_count = 0;
  fa_fail_at = fail_at;
  fa_armed = true;
  out->start_rc = bx_call_json(svc, "add", args, false, &o, bxc_done, &out->r, NULL);
  if (out->start_rc == 0 && !wait_within(&e->loop, &out->r.calls, 1, 5000))
    fail_msg("allocation %ld failing: the call neither completed nor timed out", fail_at);
  bxc_spin(&e->loop);
  if (getenv("BX_FA_ONLY"))
    printf("last warnings: server '%s', hub '%s', client '%s'\n", e->slog.last, hlog.last,
           e->clog.last);
  bx_box_unref(svc);
  bx_box_unref(relay);
  bx_box_unref(conn);
  int closed = 0;
  assert_int_equal(bx_ctx_close(hub, bxc_on_ctx_closed, &closed), 0);
  bxc_wait_for(&e->loop, &closed, 1);
  bxc_env_free(e); /* closes the others; uv_loop_close() == 0 */
  fa_armed = false;
  out->allocs = fa_count;
}

static void test_every_allocation(void **state) {
  (void)state;
  assert_int_equal(bx_set_allocator(&fa_allocator), 0);
  outcome o;
  fa_run(0, &o);
  assert_int_equal(o.start_rc, 0);
  assert_int_equal(o.r.calls, 1);
  assert_int_equal(o.r.status, 0);
  assert_true(o.r.num == 5);
  long total = o.allocs, refused = 0, ok = 0, failed = 0, by_deadline = 0;
  assert_true(total > 10);
  const char *only = getenv("BX_FA_ONLY"); /* one N alone, to find what a leak report is about */
  for (long n = only ? atol(only) : 1; n <= total; n = only ? total + 1 : n + 1) {
    fa_run(n, &o);
    if (only)
      printf("allocation %ld failing: start %d, %d answers, status %s: %s\n", n, o.start_rc,
             o.r.calls, bx_err_name(o.r.status), o.r.text);
    if (o.start_rc != 0) {
      assert_int_equal(o.r.calls, 0); /* an error at once never calls back */
      refused++;
      continue;
    }
    assert_int_equal(o.r.calls, 1); /* exactly once */
    if (o.r.status == 0) {
      assert_true(o.r.num == 5);
      ok++;
    } else {
      failed++;
      if (o.r.status == BX_ETIMEDOUT) by_deadline++;
    }
  }
  printf("fault injection: %ld allocations on the path; failing each in turn: %ld refused at "
         "once, %ld completed anyway, %ld failed with an error (%ld of them by the deadline)\n",
         total, refused, ok, failed, by_deadline);
  assert_int_equal(by_deadline, 0); /* nothing was lost without a word to its caller */
  assert_int_equal(bx_set_allocator(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
