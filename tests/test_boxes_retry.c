/* Retry: success after k retryable failures, exhausted attempts, non-retryable errors,
 * synchronous rejections, growing backoff, stale replies and context close; in every case the
 * reply box hears exactly one outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"

#define MAX_CALLS 16

/* A delegate that fails its first `failures` calls with `code` and then answers data:42. It
 * answers from the run queue, as any Function box does. */
typedef struct flaky {
  uv_loop_t *loop;
  int failures;
  int code;
  int calls;
  uint64_t at[MAX_CALLS];
  bool hold_first; /* keep the first attempt's message to answer it again later */
  bx_msg *held;
} flaky;

static bx_msg *success(void) {
  return bxt_msg("{\"class\":\"foam.box.RPCReturnMessage\",\"data\":42}");
}

static void flaky_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  flaky *f = data;
  assert_true(f->calls < MAX_CALLS);
  f->at[f->calls++] = uv_now(f->loop);
  if (f->hold_first && f->held == NULL) f->held = bx_msg_ref(msg);
  if (f->calls <= f->failures) {
    bx_reply_error(msg, f->code, "flaky");
    return;
  }
  bx_reply(msg, success());
  /* Answer the first attempt once more, long after it was retried: a stale reply. */
  if (f->held) bx_reply(f->held, success());
}

typedef struct fixture {
  bxt_env *e;
  flaky f;
  bx_box *fn;
  bxt_sink replies;
} fixture;

static void fixture_init(fixture *x, int failures, int code) {
  memset(x, 0, sizeof *x);
  x->e = bxt_env_new(NULL);
  x->f.loop = &x->e->loop;
  x->f.failures = failures;
  x->f.code = code;
  bx_function_box_new(x->e->ctx, flaky_fn, &x->f, NULL, &x->fn);
  assert_non_null(x->fn);
  bxt_sink_init(&x->replies, x->e->ctx);
}

static void fixture_free(fixture *x) {
  bx_msg_unref(x->f.held);
  bx_box_unref(x->fn);
  bxt_sink_free(&x->replies);
  bxt_env_free(x->e);
}

static bx_retry_options quick(unsigned attempts) {
  bx_retry_options o;
  bx_retry_options_init(&o);
  o.max_attempts = attempts;
  o.initial_backoff_ms = 1;
  o.max_backoff_ms = 4;
  return o;
}

static bx_msg *request(bx_box *reply) {
  bx_msg *m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"get\",\"args\":[]}");
  bx_msg_set_reply_box(m, reply);
  return m;
}

static void test_defaults(void **state) {
  (void)state;
  bx_retry_options o;
  bx_retry_options_init(&o);
  assert_int_equal(o.max_attempts, 3);
  assert_int_equal(o.initial_backoff_ms, 50);
  assert_int_equal(o.max_backoff_ms, 2000);
  assert_true(o.multiplier == 2.0);
  assert_non_null(o.retryable);
  assert_true(o.retryable(BX_ETIMEDOUT, NULL));
  assert_true(o.retryable(BX_ECONNLOST, NULL));
  assert_true(o.retryable(BX_ENOSERVICE, NULL));
  assert_true(o.retryable(UV_ECONNREFUSED, NULL));
  assert_false(o.retryable(BX_EREMOTE, NULL));
  assert_false(o.retryable(BX_ECLOSING, NULL));

  bxt_env *e = bxt_env_new(NULL);
  bx_box *n = NULL;
  bx_null_box_new(e->ctx, &n);
  o.max_attempts = 0;
  bxt_refused(bx_retry_box_new(e->ctx, n, &o, &bxt_none), BX_EINVAL);
  bxt_refused(bx_retry_box_new(e->ctx, NULL, NULL, &bxt_none), BX_EINVAL);
  bx_box *r = NULL;
  bx_retry_box_new(e->ctx, n, NULL, &r);
  assert_non_null(r);
  assert_string_equal(bx_box_type(r), "retry");
  bx_box_unref(r);
  bx_box_unref(n);
  bxt_env_free(e);
}

static void test_succeeds_after_k_failures(void **state) {
  (void)state;
  for (int k = 0; k <= 3; k++) {
    fixture x;
    fixture_init(&x, k, BX_ETIMEDOUT);
    bx_retry_options o = quick(4);
    bx_box *r = NULL;
    bx_retry_box_new(x.e->ctx, x.fn, &o, &r);
    assert_int_equal(bx_send(r, request(x.replies.box)), 0);
    bxt_run(x.e);
    assert_int_equal(x.f.calls, k + 1);
    assert_int_equal(x.replies.n, 1);
    assert_int_equal(bx_msg_error(x.replies.msgs[0], NULL), 0);
    bx_box_unref(r);
    fixture_free(&x);
  }
}

static void test_exhausted(void **state) {
  (void)state;
  fixture x;
  fixture_init(&x, 100, BX_ECONNLOST);
  bx_retry_options o = quick(3);
  bx_box *r = NULL;
  bx_retry_box_new(x.e->ctx, x.fn, &o, &r);
  assert_int_equal(bx_send(r, request(x.replies.box)), 0);
  bxt_run(x.e);
  assert_int_equal(x.f.calls, 3);
  assert_int_equal(x.replies.n, 1);
  const char *text = NULL;
  assert_int_equal(bx_msg_error(x.replies.msgs[0], &text), BX_ECONNLOST);
  assert_string_equal(text, "flaky"); /* the last error itself */
  bx_box_unref(r);
  fixture_free(&x);
}

static void test_not_retryable(void **state) {
  (void)state;
  fixture x;
  fixture_init(&x, 100, BX_EREMOTE);
  bx_retry_options o = quick(5);
  bx_box *r = NULL;
  bx_retry_box_new(x.e->ctx, x.fn, &o, &r);
  assert_int_equal(bx_send(r, request(x.replies.box)), 0);
  bxt_run(x.e);
  assert_int_equal(x.f.calls, 1);
  assert_int_equal(x.replies.n, 1);
  assert_int_equal(bx_msg_error(x.replies.msgs[0], NULL), BX_EREMOTE);
  bx_box_unref(r);
  fixture_free(&x);
}

static void test_backoff_grows(void **state) {
  (void)state;
  fixture x;
  fixture_init(&x, 3, BX_ETIMEDOUT);
  bx_retry_options o;
  bx_retry_options_init(&o);
  o.max_attempts = 4;
  o.initial_backoff_ms = 5;
  o.multiplier = 3.0;
  o.max_backoff_ms = 1000;
  bx_box *r = NULL;
  bx_retry_box_new(x.e->ctx, x.fn, &o, &r);
  assert_int_equal(bx_send(r, request(x.replies.box)), 0);
  bxt_run(x.e);
  assert_int_equal(x.f.calls, 4);
  assert_int_equal(x.replies.n, 1);
  assert_int_equal(bx_msg_error(x.replies.msgs[0], NULL), 0);
  /* Timers never fire early, so each gap is at least its backoff (5, 15, 45 ms); nothing is
   * said about how much later they fire. */
  assert_true(x.f.at[1] >= x.f.at[0] + 5);
  assert_true(x.f.at[2] >= x.f.at[1] + 15);
  assert_true(x.f.at[3] >= x.f.at[2] + 45);
  bx_box_unref(r);
  fixture_free(&x);
}

static void test_stale_reply_dropped(void **state) {
  (void)state;
  fixture x;
  fixture_init(&x, 1, BX_ETIMEDOUT);
  x.f.hold_first = true;
  bx_retry_options o = quick(3);
  bx_box *r = NULL;
  bx_retry_box_new(x.e->ctx, x.fn, &o, &r);
  assert_int_equal(bx_send(r, request(x.replies.box)), 0);
  bxt_run(x.e);
  assert_int_equal(x.f.calls, 2);
  assert_int_equal(x.replies.n, 1);
  assert_int_equal(bx_msg_error(x.replies.msgs[0], NULL), 0);
  bx_box_unref(r);
  fixture_free(&x);
}

static bool closed_is_retryable(int err, void *data) {
  (*(int *)data)++;
  return err == BX_ECLOSED;
}

static void test_synchronous_rejections(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink out, replies;
  bxt_sink_init(&out, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *used = NULL;
  bx_onetime_box_new(e->ctx, out.box, &used);
  assert_int_equal(bx_send(used, bxt_msg("{}")), 0);

  /* Not retryable on the first attempt: rejected outright, the reply box hears nothing. */
  bx_retry_options o = quick(3);
  bx_box *r = NULL;
  bx_retry_box_new(e->ctx, used, &o, &r);
  assert_int_equal(bx_send(r, request(replies.box)), BX_ECLOSED);
  bxt_run(e);
  assert_int_equal(replies.n, 0);

  /* Retryable: accepted, retried, and the last rejection reaches the reply box once. */
  int asked = 0;
  o.retryable = closed_is_retryable;
  o.retryable_data = &asked;
  bx_box *r2 = NULL;
  bx_retry_box_new(e->ctx, used, &o, &r2);
  assert_int_equal(bx_send(r2, request(replies.box)), 0);
  bxt_run(e);
  assert_int_equal(asked, 2); /* attempts 1 and 2; after the 3rd none remain */
  assert_int_equal(replies.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ECLOSED);

  /* Without a reply box only rejections are retried, the last one dropped; acceptance ends
   * the call. */
  assert_int_equal(bx_send(r, bxt_msg("{\"no\":\"reply\"}")), BX_ECLOSED);
  assert_int_equal(bx_send(r2, bxt_msg("{\"no\":\"reply\"}")), 0);
  bx_box *r3 = NULL;
  bx_retry_box_new(e->ctx, out.box, &o, &r3);
  assert_int_equal(bx_send(r3, bxt_msg("{\"no\":\"reply\"}")), 0);
  bxt_run(e);
  assert_int_equal(out.n, 2);
  assert_int_equal(replies.n, 1);

  bx_box_unref(r);
  bx_box_unref(r2);
  bx_box_unref(r3);
  bx_box_unref(used);
  bxt_sink_free(&out);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

/* A delegate that drops the message unanswered ends the call quietly (nothing can arrive). */
static void test_dropped_attempt(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink replies;
  bxt_sink_init(&replies, e->ctx);
  bx_box *n = NULL;
  bx_null_box_new(e->ctx, &n);
  bx_box *r = NULL;
  bx_retry_box_new(e->ctx, n, NULL, &r);
  assert_int_equal(bx_send(r, request(replies.box)), 0);
  bxt_run(e); /* returns: no timer or tracked call left */
  assert_int_equal(replies.n, 0);
  bx_box_unref(r);
  bx_box_unref(n);
  bxt_env_free(e);
  assert_int_equal(replies.n, 0); /* not even BX_ECLOSING: the call had already ended */
  bxt_sink_free(&replies);
}

static void test_close_during_backoff(void **state) {
  (void)state;
  fixture x;
  fixture_init(&x, 100, BX_ETIMEDOUT);
  bx_retry_options o;
  bx_retry_options_init(&o);
  o.initial_backoff_ms = 60000;
  bx_box *r = NULL;
  bx_retry_box_new(x.e->ctx, x.fn, &o, &r);
  assert_int_equal(bx_send(r, request(x.replies.box)), 0);
  /* One loop turn: the first attempt fails and the next waits a minute. */
  uv_run(&x.e->loop, UV_RUN_NOWAIT);
  assert_int_equal(x.f.calls, 1);
  assert_int_equal(x.replies.n, 0);
  bx_box_unref(r);
  bxt_env_free(x.e);
  assert_int_equal(x.replies.n, 1);
  assert_int_equal(bx_msg_error(x.replies.msgs[0], NULL), BX_ECLOSING);
  assert_int_equal(x.f.calls, 1);
  bx_box_unref(x.fn);
  bxt_sink_free(&x.replies);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_succeeds_after_k_failures),
      cmocka_unit_test(test_exhausted),
      cmocka_unit_test(test_not_retryable),
      cmocka_unit_test(test_backoff_grows),
      cmocka_unit_test(test_stale_reply_dropped),
      cmocka_unit_test(test_synchronous_rejections),
      cmocka_unit_test(test_dropped_attempt),
      cmocka_unit_test(test_close_during_backoff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
