/* Promised: queue until resolved (in order, exactly once), reject (every queued and later
 * message fails once), the queue bound, and settling twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"

/* A message {"i":i} whose reply box is `reply` (may be NULL). */
static bx_msg *numbered(int i, bx_box *reply) {
  char json[32];
  snprintf(json, sizeof json, "{\"i\":%d}", i);
  bx_msg *m = bxt_msg(json);
  bx_msg_set_reply_box(m, reply);
  return m;
}

static int number_of(const bx_msg *m) {
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(bx_msg_object(m), "i");
  assert_true(cJSON_IsNumber(i));
  return i->valueint;
}

static void test_resolve_flushes_in_order(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink out, replies;
  bxt_sink_init(&out, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *p = NULL;
  bx_promised_box_new(e->ctx, 0, &p);
  assert_non_null(p);
  assert_string_equal(bx_box_type(p), "promised");

  for (int i = 0; i < 5; i++)
    assert_int_equal(bx_send(p, numbered(i, replies.box)), 0);
  assert_int_equal(bx_promised_queued(p), 5);
  bxt_run(e);
  assert_int_equal(out.n, 0); /* nothing leaves before the promise settles */

  assert_int_equal(bx_promised_resolve(p, out.box), 0);
  assert_int_equal(bx_promised_queued(p), 0);
  assert_int_equal(bx_send(p, numbered(5, replies.box)), 0); /* after: straight through */
  bxt_run(e);
  assert_int_equal(out.n, 6);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(number_of(out.msgs[i]), i);
    assert_ptr_equal(bx_msg_reply_box(out.msgs[i]), replies.box);
  }
  assert_int_equal(replies.n, 0);

  assert_int_equal(bx_promised_resolve(p, out.box), BX_EINVAL);
  assert_int_equal(bx_promised_reject(p, BX_ECONNLOST, NULL), BX_EINVAL);
  assert_int_equal(bx_promised_resolve(out.box, out.box), BX_EINVAL); /* not a promised box */

  bx_box_unref(p);
  bxt_sink_free(&out);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_reject_fails_each_once(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink replies;
  bxt_sink_init(&replies, e->ctx);
  bx_box *p = NULL;
  bx_promised_box_new(e->ctx, 0, &p);
  assert_non_null(p);

  for (int i = 0; i < 3; i++)
    assert_int_equal(bx_send(p, numbered(i, replies.box)), 0);
  assert_int_equal(bx_send(p, numbered(99, NULL)), 0); /* queued; dropped on reject */
  assert_int_equal(bx_promised_reject(p, 0, NULL), BX_EINVAL);
  assert_int_equal(bx_promised_reject(p, BX_ECONNLOST, "peer went away"), 0);
  assert_int_equal(bx_promised_queued(p), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 3);
  for (int i = 0; i < 3; i++) {
    const char *text = NULL;
    assert_int_equal(bx_msg_error(replies.msgs[i], &text), BX_ECONNLOST);
    assert_string_equal(text, "peer went away");
  }

  /* Later messages fail too: at the reply box, or in the send result without one. */
  assert_int_equal(bx_send(p, numbered(3, replies.box)), 0);
  assert_int_equal(bx_send(p, numbered(4, NULL)), BX_ECONNLOST);
  bxt_run(e);
  assert_int_equal(replies.n, 4);
  assert_int_equal(bx_msg_error(replies.msgs[3], NULL), BX_ECONNLOST);

  assert_int_equal(bx_promised_reject(p, BX_ECONNLOST, NULL), BX_EINVAL);
  assert_int_equal(bx_promised_resolve(p, replies.box), BX_EINVAL);

  bx_box_unref(p);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_queue_bound(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink out, replies;
  bxt_sink_init(&out, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *p = NULL;
  bx_promised_box_new(e->ctx, 2, &p);
  assert_non_null(p);
  assert_int_equal(bx_send(p, numbered(0, replies.box)), 0);
  assert_int_equal(bx_send(p, numbered(1, replies.box)), 0);
  assert_int_equal(bx_send(p, numbered(2, replies.box)), BX_EQUEUEFULL);
  assert_int_equal(bx_promised_queued(p), 2);
  assert_int_equal(bx_promised_resolve(p, out.box), 0);
  bxt_run(e);
  assert_int_equal(out.n, 2);
  assert_int_equal(number_of(out.msgs[1]), 1);
  assert_int_equal(replies.n, 0); /* the refused one was refused outright */
  bx_box_unref(p);
  bxt_sink_free(&out);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

/* A queued message was accepted, so a delegate refusing it during the flush turns into an
 * error at its reply box; the message before it still goes through. */
static void test_flush_rejection_reaches_reply_box(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink out, replies;
  bxt_sink_init(&out, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *once = NULL;
  bx_onetime_box_new(e->ctx, out.box, &once);
  bx_box *p = NULL;
  bx_promised_box_new(e->ctx, 0, &p);
  assert_int_equal(bx_send(p, numbered(0, replies.box)), 0);
  assert_int_equal(bx_send(p, numbered(1, replies.box)), 0);
  assert_int_equal(bx_promised_resolve(p, once), 0);
  bxt_run(e);
  assert_int_equal(out.n, 1);
  assert_int_equal(number_of(out.msgs[0]), 0);
  assert_int_equal(replies.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ECLOSED);
  bx_box_unref(p);
  bx_box_unref(once);
  bxt_sink_free(&out);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

/* Never settled: the queue is released with the box (no leak, nothing delivered). */
static void test_unsettled_release(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink replies;
  bxt_sink_init(&replies, e->ctx);
  bx_box *p = NULL;
  bx_promised_box_new(e->ctx, 0, &p);
  for (int i = 0; i < 20; i++)
    assert_int_equal(bx_send(p, numbered(i, replies.box)), 0);
  assert_int_equal(bx_promised_queued(p), 20);
  bx_box_unref(p);
  bxt_run(e);
  assert_int_equal(replies.n, 0);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolve_flushes_in_order),
      cmocka_unit_test(test_reject_fails_each_once),
      cmocka_unit_test(test_queue_bound),
      cmocka_unit_test(test_flush_rejection_reaches_reply_box),
      cmocka_unit_test(test_unsettled_release),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
