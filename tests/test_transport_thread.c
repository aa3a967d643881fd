/* The Thread box: several threads hammer one box; every message reaches the delegate on the
 * loop thread exactly once and in each thread's order. Closing (the box released, or the
 * context closed first) leaks nothing and later sends are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <cmocka.h>

#include "testutil.h"

enum { THREADS = 4, PER_THREAD = 10000 };

typedef struct th_count {
  pthread_t loop_thread;
  int delivered;
  int next[THREADS]; /* the index expected next from each thread */
  int wrong;         /* out of order, duplicate, or on the wrong thread */
} th_count;

static void th_deliver(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  th_count *c = data;
  const cJSON *o = bx_msg_object(msg);
  int t = cJSON_GetObjectItem(o, "t")->valueint, i = cJSON_GetObjectItem(o, "i")->valueint;
  if (t < 0 || t >= THREADS || c->next[t] != i || !pthread_equal(pthread_self(), c->loop_thread))
    c->wrong++;
  else
    c->next[t]++;
  c->delivered++;
}

typedef struct th_worker {
  pthread_t tid;
  int id;
  bx_box *box; /* borrowed: the main thread holds the reference */
  int refused;
} th_worker;

static void *th_work(void *arg) {
  th_worker *w = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "t", w->id);
    cJSON_AddNumberToObject(o, "i", i);
    if (bx_send_json(w->box, o) != 0) w->refused++;
  }
  return NULL;
}

static void test_hammer(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  th_count count = {.loop_thread = pthread_self()};
  bx_box *fn = NULL;
  bx_function_box_new(e->ctx, th_deliver, &count, NULL, &fn);
  bx_box *tb = NULL;
  bx_thread_box_new(e->ctx, fn, &tb);
  assert_non_null(tb);
  assert_string_equal(bx_box_type(tb), "thread");
  th_worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (th_worker){.id = i, .box = tb};
    assert_int_equal(pthread_create(&w[i].tid, NULL, th_work, &w[i]), 0);
  }
  while (count.delivered < THREADS * PER_THREAD)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE)); /* the async handle keeps the loop alive */
  for (int i = 0; i < THREADS; i++) {
    pthread_join(w[i].tid, NULL);
    assert_int_equal(w[i].refused, 0);
    assert_int_equal(count.next[i], PER_THREAD);
  }
  bxt_spin(e);
  assert_int_equal(count.delivered, THREADS * PER_THREAD);
  assert_int_equal(count.wrong, 0);
  bx_box_unref(tb); /* closes its handle */
  bx_box_unref(fn);
  bxt_env_free(e);
}

/* Released with messages still queued: they are dropped, nothing leaks. */
static void test_release_with_pending(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  th_count count = {.loop_thread = pthread_self()};
  bx_box *fn = NULL;
  bx_function_box_new(e->ctx, th_deliver, &count, NULL, &fn);
  bx_box *tb = NULL;
  bx_thread_box_new(e->ctx, fn, &tb);
  th_worker w = {.id = 0, .box = tb};
  assert_int_equal(pthread_create(&w.tid, NULL, th_work, &w), 0);
  pthread_join(w.tid, NULL);
  bx_box_unref(tb); /* nothing delivered yet: the loop has not run */
  bx_box_unref(fn);
  bxt_env_free(e);
  assert_int_equal(count.delivered, 0);
}

/* The context closes first: the box stays valid, later sends are refused. */
static void test_context_closes_first(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  th_count count = {.loop_thread = pthread_self()};
  bx_box *fn = NULL;
  bx_function_box_new(e->ctx, th_deliver, &count, NULL, &fn);
  bx_box *tb = NULL;
  bx_thread_box_new(e->ctx, fn, &tb);
  bx_box_unref(fn);
  /* From the loop thread too. */
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "t", 0);
  cJSON_AddNumberToObject(o, "i", 0);
  assert_int_equal(bx_send_json(tb, o), 0);
  while (count.delivered < 1)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  assert_int_equal(count.wrong, 0);
  assert_int_equal(bx_ctx_close(e->ctx, bxt_on_closed, e), 0);
  bxt_run(e);
  assert_int_equal(e->closed, 1);
  th_worker w = {.id = 1, .box = tb};
  assert_int_equal(pthread_create(&w.tid, NULL, th_work, &w), 0);
  pthread_join(w.tid, NULL);
  assert_int_equal(w.refused, PER_THREAD);
  bx_box_unref(tb);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hammer),
      cmocka_unit_test(test_release_with_pending),
      cmocka_unit_test(test_context_closes_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
