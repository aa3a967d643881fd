/* The context's deadline service (core/deadline.c): due order, equal due times in start order,
 * stop, restart, stop and start from inside a fire callback, many deadlines, and closing the
 * context with deadlines pending (nothing fires after stage one, no handle left behind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"

/* A deadline's owner: fire records its id in the shared log. */
typedef struct fired_log {
  int ids[4096];
  uint64_t at[4096]; /* loop time when each fired */
  int n;
} fired_log;

typedef struct owner {
  bx__deadline d; /* first: fire gets this pointer */
  int id;
  fired_log *log;
  bx_ctx *ctx;
  void (*then)(struct owner *self); /* extra work in the fire callback, or NULL */
  struct owner *other;
  int count;
} owner;

static uv_loop_t *log_loop;

static void on_fire(bx__deadline *d) {
  owner *o = (owner *)d;
  fired_log *l = o->log;
  assert_false(bx__deadline_pending(d)); /* stopped before its callback */
  assert_true(l->n < 4096);
  l->ids[l->n] = o->id;
  l->at[l->n] = uv_now(log_loop);
  l->n++;
  o->count++;
  if (o->then) o->then(o);
}

static void owner_init(owner *o, bx_ctx *ctx, fired_log *log, int id) {
  memset(o, 0, sizeof *o);
  o->ctx = ctx;
  o->log = log;
  o->id = id;
}

static void start(owner *o, uint64_t ms) {
  assert_int_equal(bx__deadline_start(o->ctx, &o->d, ms, on_fire), 0);
  assert_true(bx__deadline_pending(&o->d));
}

/* Does the service's timer keep the loop alive? (It may stay armed, unreferenced, when
 * nothing is pending.) */
static bool holds_loop(bxt_env *e) {
  uv_handle_t *h = (uv_handle_t *)&bx__ctx_deadlines(e->ctx)->timer;
  return uv_is_active(h) && uv_has_ref(h);
}

static bxt_env *env_with_log(fired_log *log) {
  bxt_env *e = bxt_env_new(NULL);
  log_loop = &e->loop;
  memset(log, 0, sizeof *log);
  return e;
}

static void test_due_order(void **state) {
  (void)state;
  fired_log log;
  bxt_env *e = env_with_log(&log);
  owner o[4];
  const uint64_t ms[4] = {30, 10, 20, 0};
  for (int i = 0; i < 4; i++) {
    owner_init(&o[i], e->ctx, &log, i);
    start(&o[i], ms[i]);
  }
  uint64_t t0 = uv_now(&e->loop);
  assert_true(holds_loop(e));
  bxt_run(e); /* returns: the timer stops once nothing is pending */
  assert_false(holds_loop(e));
  assert_int_equal(log.n, 4);
  const int expect[4] = {3, 1, 2, 0};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(log.ids[i], expect[i]);
    assert_true(log.at[i] >= t0 + ms[expect[i]]); /* never early */
  }
  bxt_env_free(e);
}

static void test_equal_due_in_start_order(void **state) {
  (void)state;
  fired_log log;
  bxt_env *e = env_with_log(&log);
  owner o[6];
  for (int i = 0; i < 6; i++) {
    owner_init(&o[i], e->ctx, &log, i);
    start(&o[i], 5);
  }
  start(&o[0], 5); /* a restart counts as a start: 0 now goes last */
  start(&o[3], 5);
  bxt_run(e);
  const int expect[6] = {1, 2, 4, 5, 0, 3};
  assert_int_equal(log.n, 6);
  for (int i = 0; i < 6; i++)
    assert_int_equal(log.ids[i], expect[i]);
  bxt_env_free(e);
}

static void test_stop(void **state) {
  (void)state;
  fired_log log;
  bxt_env *e = env_with_log(&log);
  owner a, b, c;
  owner_init(&a, e->ctx, &log, 1);
  owner_init(&b, e->ctx, &log, 2);
  owner_init(&c, e->ctx, &log, 3);
  bx__deadline_stop(e->ctx, &a.d); /* never started: a no-op */
  start(&a, 5);
  start(&b, 1);
  start(&c, 10);
  bx__deadline_stop(e->ctx, &b.d); /* the earliest */
  bx__deadline_stop(e->ctx, &b.d); /* twice: a no-op */
  assert_false(bx__deadline_pending(&b.d));
  bxt_run(e);
  assert_int_equal(log.n, 2);
  assert_int_equal(log.ids[0], 1);
  assert_int_equal(log.ids[1], 3);

  /* Once every pending deadline is stopped the timer no longer keeps the loop alive. */
  start(&a, 60000);
  start(&b, 60000);
  assert_true(holds_loop(e));
  bx__deadline_stop(e->ctx, &a.d);
  assert_true(holds_loop(e));
  bx__deadline_stop(e->ctx, &b.d);
  assert_false(holds_loop(e));
  bxt_run(e);
  assert_int_equal(log.n, 2);

  /* A start due before the time the idle timer is still set for moves it up. */
  uint64_t t0 = uv_now(&e->loop);
  start(&c, 2);
  assert_true(holds_loop(e));
  bxt_run(e);
  assert_int_equal(log.n, 3);
  assert_int_equal(log.ids[2], 3);
  assert_true(log.at[2] >= t0 + 2 && log.at[2] < t0 + 30000);
  bxt_env_free(e);
}

static void test_restart(void **state) {
  (void)state;
  fired_log log;
  bxt_env *e = env_with_log(&log);
  owner a, b, c;
  owner_init(&a, e->ctx, &log, 1);
  owner_init(&b, e->ctx, &log, 2);
  owner_init(&c, e->ctx, &log, 3);
  start(&a, 5);
  start(&b, 15);
  start(&c, 60000);
  start(&a, 25); /* later: now after b */
  start(&c, 0);  /* earlier: now first, the timer moves up */
  start(&b, 15); /* the same time again */
  bxt_run(e);
  assert_int_equal(log.n, 3);
  assert_int_equal(log.ids[0], 3);
  assert_int_equal(log.ids[1], 2);
  assert_int_equal(log.ids[2], 1);
  assert_int_equal(a.count, 1); /* a restart replaces, it does not add */
  bxt_env_free(e);
}

/* From a fire callback: stop another deadline due in the same pass, start a third one at
 * once, and restart itself with 0 ms a few times. */
static void stop_other_and_restart(owner *self) {
  if (self->count == 1) {
    bx__deadline_stop(self->ctx, &self->other->d);
    start(self->other + 1, 0);
  }
  if (self->count < 4) start(self, 0);
}

static void test_inside_fire(void **state) {
  (void)state;
  fired_log log;
  bxt_env *e = env_with_log(&log);
  owner o[3];
  for (int i = 0; i < 3; i++)
    owner_init(&o[i], e->ctx, &log, i);
  o[0].then = stop_other_and_restart;
  o[0].other = &o[1];
  start(&o[0], 2);
  start(&o[1], 2); /* due with o[0], started after it: stopped before its turn */
  bxt_run(e);
  assert_int_equal(o[0].count, 4);
  assert_int_equal(o[1].count, 0);
  assert_int_equal(o[2].count, 1);
  assert_int_equal(log.n, 5);
  /* o[0] first; then o[2] and o[0]'s first restart, both due at once, in the order its
   * callback started them; then the other restarts. */
  const int expect[5] = {0, 2, 0, 0, 0};
  for (int i = 0; i < 5; i++)
    assert_int_equal(log.ids[i], expect[i]);
  bxt_env_free(e);
}

/* From a fire callback: stop everything else still pending. */
static void stop_all_others(owner *self) {
  for (owner *o = self->other; o->log != NULL; o++)
    if (o != self) bx__deadline_stop(self->ctx, &o->d);
}

static void test_stop_all_inside_fire(void **state) {
  (void)state;
  fired_log log;
  bxt_env *e = env_with_log(&log);
  owner o[9];
  memset(o, 0, sizeof o); /* o[8].log == NULL ends the list */
  for (int i = 0; i < 8; i++) {
    owner_init(&o[i], e->ctx, &log, i);
    o[i].other = o;
    start(&o[i], i < 4 ? 1 : 50);
  }
  o[1].then = stop_all_others;
  bxt_run(e);
  assert_int_equal(log.n, 2);
  assert_int_equal(log.ids[0], 0);
  assert_int_equal(log.ids[1], 1);
  assert_false(holds_loop(e));
  bxt_env_free(e);
}

static void test_many(void **state) {
  (void)state;
  enum { N = 3000 };
  fired_log *log = malloc(sizeof *log);
  owner *o = calloc(N, sizeof *o);
  uint64_t *due = calloc(N, sizeof *due);
  assert_non_null(log);
  assert_non_null(o);
  assert_non_null(due);
  bxt_env *e = env_with_log(log);
  uint64_t t0 = uv_now(&e->loop);
  unsigned seed = 12345;
  for (int i = 0; i < N; i++) {
    seed = seed * 1103515245u + 12345u;
    owner_init(&o[i], e->ctx, log, i);
    start(&o[i], (seed >> 16) % 40);
    due[i] = t0 + (seed >> 16) % 40;
  }
  int stopped = 0;
  for (int i = 0; i < N; i += 7, stopped++)
    bx__deadline_stop(e->ctx, &o[i].d);
  bxt_run(e);
  assert_int_equal(log->n, N - stopped);
  for (int k = 0; k < log->n; k++) {
    int id = log->ids[k];
    assert_true(id % 7 != 0);
    assert_int_equal(o[id].count, 1);
    assert_true(log->at[k] >= due[id]);
    if (k == 0) continue;
    int prev = log->ids[k - 1];
    assert_true(due[prev] < due[id] || (due[prev] == due[id] && prev < id));
  }
  bxt_env_free(e);
  free(due);
  free(o);
  free(log);
}

/* Closing the context with deadlines pending: their owners are tracked work, whose on_close
 * stops them; one owner starts a deadline from its on_close, which must never fire. */
typedef struct tracked_owner {
  bx__tracked t; /* first: on_close gets this pointer */
  owner o;
  int cancelled;
  bool start_late;
} tracked_owner;

static void to_on_close(bx__tracked *t) {
  tracked_owner *to = (tracked_owner *)t;
  to->cancelled++;
  bx__deadline_stop(to->o.ctx, &to->o.d);
  if (to->start_late) start(&to->o, 0);
  bx__untrack(to->o.ctx, &to->t);
}

static void test_close_with_pending(void **state) {
  (void)state;
  fired_log log;
  bxt_env *e = env_with_log(&log);
  tracked_owner a = {0}, b = {0};
  owner_init(&a.o, e->ctx, &log, 1);
  owner_init(&b.o, e->ctx, &log, 2);
  a.t.on_close = b.t.on_close = to_on_close;
  b.start_late = true;
  bx__track(e->ctx, &a.t);
  bx__track(e->ctx, &b.t);
  start(&a.o, 60000);
  start(&b.o, 60000);
  assert_int_equal(bx_ctx_close(e->ctx, bxt_on_closed, e), 0);
  bxt_run(e); /* returns at once: nothing waits for the 60 s deadlines */
  assert_int_equal(a.cancelled, 1);
  assert_int_equal(b.cancelled, 1);
  assert_int_equal(log.n, 0); /* nothing fired, not even b's deadline started in stage one */
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0); /* both of the context's handles closed */
  free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_due_order),   cmocka_unit_test(test_equal_due_in_start_order),
      cmocka_unit_test(test_stop),        cmocka_unit_test(test_restart),
      cmocka_unit_test(test_inside_fire), cmocka_unit_test(test_stop_all_inside_fire),
      cmocka_unit_test(test_many),        cmocka_unit_test(test_close_with_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
