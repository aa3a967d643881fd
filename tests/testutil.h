/* Helpers shared by the cmocka tests: a loop and context per test, a collector box that records
 * what it receives, and a teardown that fails the test when a handle leaked (uv_loop_close()
 * must return 0). Include after <cmocka.h>. */
#ifndef BX_TESTUTIL_H
#define BX_TESTUTIL_H

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bx.h"

typedef struct bxt_env {
  uv_loop_t loop;
  bx_ctx *ctx;
  int closed;
} bxt_env;

static inline void bxt_on_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  ((bxt_env *)data)->closed++;
}

/* Creates a loop and a context (opts may be NULL). */
static inline bxt_env *bxt_env_new(const bx_ctx_options *opts) {
  bxt_env *e = calloc(1, sizeof *e);
  assert_non_null(e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  assert_int_equal(bx_ctx_new(&e->loop, opts, &e->ctx), 0);
  return e;
}

/* Runs the loop until nothing is left to do. */
static inline void bxt_run(bxt_env *e) {
  uv_run(&e->loop, UV_RUN_DEFAULT);
}

/* Runs the loop without blocking until the run queue is drained (pending timers, such as call
 * deadlines, are left running). */
static inline void bxt_spin(bxt_env *e) {
  for (int i = 0; i < 50; i++)
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

/* Closes the context, runs the loop dry and checks that nothing leaked a handle. */
static inline void bxt_env_free(bxt_env *e) {
  assert_int_equal(bx_ctx_close(e->ctx, bxt_on_closed, e), 0);
  bxt_run(e);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

/* A collector: a Function box that keeps a reference to every message it receives. */
/* A constructor's refusal: `call` (given &bxt_none as its out) returns code and stores NULL. */
static bx_box *bxt_none __attribute__((unused));
#define bxt_refused(call, code)       \
  do {                                \
    bxt_none = (bx_box *)&bxt_none;   \
    assert_int_equal((call), (code)); \
    assert_null(bxt_none);            \
  } while (0)

#define BXT_MAX_MSGS 64
typedef struct bxt_sink {
  bx_msg *msgs[BXT_MAX_MSGS];
  int n;
  bx_box *box;
} bxt_sink;

static inline void bxt_sink_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  bxt_sink *s = data;
  assert_true(s->n < BXT_MAX_MSGS);
  s->msgs[s->n++] = bx_msg_ref(msg);
}

static inline void bxt_sink_init(bxt_sink *s, bx_ctx *ctx) {
  memset(s, 0, sizeof *s);
  bx_function_box_new(ctx, bxt_sink_fn, s, NULL, &s->box);
  assert_non_null(s->box);
}

static inline void bxt_sink_clear(bxt_sink *s) {
  for (int i = 0; i < s->n; i++)
    bx_msg_unref(s->msgs[i]);
  s->n = 0;
}

static inline void bxt_sink_free(bxt_sink *s) {
  bxt_sink_clear(s);
  bx_box_unref(s->box);
  s->box = NULL;
}

/* A message whose payload is parsed from JSON text (a test convenience). */
static inline bx_msg *bxt_msg(const char *json) {
  cJSON *obj = cJSON_Parse(json);
  assert_non_null(obj);
  bx_msg *m = NULL;
  bx_msg_new(obj, &m);
  assert_non_null(m);
  return m;
}

/* The payload of m printed compactly with cJSON (caller frees). */
static inline char *bxt_json(const bx_msg *m) {
  return cJSON_PrintUnformatted(bx_msg_object(m));
}

#endif /* BX_TESTUTIL_H */
