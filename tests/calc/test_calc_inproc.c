/* The calculator example in one process: the generated stub calls the generated skeleton
 * through the registry, for every method, synchronously and asynchronously. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "calc_impl.h"
#include "calc_stub.h"
#include "testutil.h"

typedef struct fx {
  bxt_env *e;
  calc_impl impl;
  bx_box *svc;
  bx_stub stub;
} fx;

static fx *fx_new(void) {
  fx *f = calloc(1, sizeof *f);
  f->e = bxt_env_new(NULL);
  assert_int_equal(calc_impl_register(f->e->ctx, &f->impl, "calc", NULL), 0);
  bx_sub_box_new(f->e->ctx, "calc", bx_ctx_registry(f->e->ctx), &f->svc);
  assert_int_equal(calc_stub_init(&f->stub, f->svc), 0);
  assert_int_equal(calc_stub_interface.version, 2); /* BX_INTERFACE(calc, 2) */
  return f;
}

static void fx_free(fx *f) {
  bx_stub_reset(&f->stub);
  bx_box_unref(f->svc);
  bxt_env_free(f->e);
  free(f);
}

static void test_every_method_sync(void **state) {
  (void)state;
  fx *f = fx_new();
  double sum = 0;
  assert_int_equal(calc_add_sync(&f->stub, 1, 2, &sum), 0);
  assert_true(sum == 3);

  cJSON *in = cJSON_CreateString("h\xc3\xa9llo \"q\" \xe2\x82\xac\n"), *out = NULL;
  assert_int_equal(calc_echo_sync(&f->stub, in, &out), 0);
  assert_string_equal(out->valuestring, in->valuestring);
  cJSON_Delete(out);
  cJSON_Delete(in);
  in = cJSON_Parse("[1,\"a\",null,{\"k\":[true]}]");
  assert_int_equal(calc_echo_sync(&f->stub, in, &out), 0);
  assert_true(cJSON_Compare(in, out, 1));
  cJSON_Delete(out);
  cJSON_Delete(in);

  assert_int_equal(calc_fail_sync(&f->stub), BX_EREMOTE);
  assert_string_equal(f->stub.last_error, "Error: boom");
  assert_int_equal(calc_throwSync_sync(&f->stub), BX_EREMOTE);
  assert_string_equal(f->stub.last_error, "sync boom");

  assert_int_equal(calc_notify_send(&f->stub, "n1"), 0);
  bxt_run(f->e);
  assert_int_equal(f->impl.notes, 1);
  assert_string_equal(f->impl.last_note, "n1");

  calc_point p = {.x = 1.5, .y = -2, .label = "p"}, scaled = {0};
  assert_int_equal(calc_scale_sync(&f->stub, &p, 2, &scaled), 0);
  assert_true(scaled.x == 3 && scaled.y == -4);
  assert_string_equal(scaled.label, "p*2");
  free((char *)scaled.label);
  fx_free(f);
}

/* recall(): an application error with its code (UV_ENOENT) and text. */
static void test_recall_application_error(void **state) {
  (void)state;
  fx *f = fx_new();
  double v = 0;
  assert_int_equal(calc_recall_sync(&f->stub, "answer", &v), 0);
  assert_true(v == 42);
  assert_int_equal(calc_recall_sync(&f->stub, "x", &v), BX_EREMOTE);
  assert_int_equal(f->stub.last_code, UV_ENOENT);
  assert_string_equal(f->stub.last_error, "no such item: x");
  fx_free(f);
}

typedef struct ticks {
  int n;
  int seen[8];
} ticks;

static void on_tick(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  ticks *t = data;
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "args");
  assert_true(bx_msg_is(msg, BX_CLASS_RPC_MESSAGE));
  t->seen[t->n++] = cJSON_GetArrayItem(args, 0)->valueint;
}

static void test_box_callback(void **state) {
  (void)state;
  fx *f = fx_new();
  ticks t = {0};
  bx_box *listener = NULL;
  bx_function_box_new(f->e->ctx, on_tick, &t, NULL, &listener);
  int32_t sent = 0;
  assert_int_equal(calc_countdown_sync(&f->stub, listener, 3, &sent), 0);
  bxt_run(f->e);
  assert_int_equal(sent, 3);
  assert_int_equal(t.n, 3);
  assert_int_equal(t.seen[0], 3);
  assert_int_equal(t.seen[2], 1);
  assert_int_equal(calc_countdown_sync(&f->stub, listener, 5000, &sent), BX_EREMOTE);
  assert_non_null(strstr(f->stub.last_error, "0..1000"));
  bx_box_unref(listener);
  fx_free(f);
}

typedef struct add_outcome {
  int calls, status;
  double sum;
} add_outcome;

static void on_add(bx_call *call, int status, double sum, void *data) {
  (void)call;
  add_outcome *o = data;
  o->calls++;
  o->status = status;
  o->sum = sum;
}

static void test_async_stub(void **state) {
  (void)state;
  fx *f = fx_new();
  add_outcome o[3] = {{0}};
  for (int i = 0; i < 3; i++)
    assert_int_equal(calc_add_async(&f->stub, i, 0.5, on_add, &o[i]), 0);
  assert_int_equal(o[0].calls, 0); /* never inside the call that started it */
  bxt_run(f->e);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(o[i].calls, 1);
    assert_int_equal(o[i].status, 0);
    assert_true(o[i].sum == i + 0.5);
  }
  /* A typed call can be cancelled through the handle the stub keeps. */
  add_outcome c = {0};
  assert_int_equal(calc_add_async(&f->stub, 1, 1, on_add, &c), 0);
  assert_non_null(f->stub.last_call);
  assert_int_equal(bx_call_cancel(f->stub.last_call), 0);
  bxt_run(f->e);
  assert_int_equal(c.calls, 1);
  assert_int_equal(c.status, BX_ECANCELED);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_method_sync),
      cmocka_unit_test(test_recall_application_error),
      cmocka_unit_test(test_box_callback),
      cmocka_unit_test(test_async_stub),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
