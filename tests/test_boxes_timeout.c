/* Timeout: a reply in time, no reply (one BX_ETIMEDOUT), a late reply (dropped), an outright
 * rejection (nothing at the reply box), and context close with a guard pending (one
 * BX_ECLOSING, and no handle left behind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"

/* A delegate that either answers at once (from the run queue, as Function boxes do) or keeps
 * the message unanswered so the test can reply late. */
typedef struct server {
  bool answer;
  int calls;
  bx_msg *held;
} server;

static void server_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  server *s = data;
  s->calls++;
  if (s->answer) {
    assert_int_equal(bx_reply(msg, bxt_msg("{\"class\":\"foam.box.RPCReturnMessage\",\"data\":7}")),
                     0);
    return;
  }
  assert_null(s->held);
  s->held = bx_msg_ref(msg);
}

static bx_msg *request(bx_box *reply) {
  bx_msg *m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"f\",\"args\":[]}");
  bx_msg_set_reply_box(m, reply);
  return m;
}

static void test_reply_in_time(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  server srv = {.answer = true};
  bxt_sink replies;
  bxt_sink_init(&replies, e->ctx);
  bx_box *fn = NULL;
  bx_function_box_new(e->ctx, server_fn, &srv, NULL, &fn);
  bx_box *to = NULL;
  bx_timeout_box_new(e->ctx, fn, 10000, &to);
  assert_non_null(to);
  bxt_refused(bx_timeout_box_new(e->ctx, NULL, 10, &bxt_none), BX_EINVAL);

  assert_int_equal(bx_send(to, request(replies.box)), 0);
  bxt_run(e); /* returns once the guard's timer is closed: the reply settled it */
  assert_int_equal(srv.calls, 1);
  assert_int_equal(replies.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), 0);
  assert_int_equal(
      cJSON_GetObjectItemCaseSensitive(bx_msg_object(replies.msgs[0]), "data")->valueint, 7);

  bx_box_unref(to);
  bx_box_unref(fn);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_no_reply_times_out_then_late_reply_dropped(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  server srv = {.answer = false};
  bxt_sink replies;
  bxt_sink_init(&replies, e->ctx);
  bx_box *fn = NULL;
  bx_function_box_new(e->ctx, server_fn, &srv, NULL, &fn);
  bx_box *to = NULL;
  bx_timeout_box_new(e->ctx, fn, 20, &to);

  assert_int_equal(bx_send(to, request(replies.box)), 0);
  bxt_run(e);
  assert_int_equal(srv.calls, 1);
  assert_int_equal(replies.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ETIMEDOUT);

  /* The delegate answers after the deadline: dropped, and the reply box saw one message. */
  assert_non_null(srv.held);
  assert_int_equal(bx_reply(srv.held, bxt_msg("{\"class\":\"foam.box.RPCReturnMessage\"}")), 0);
  assert_int_equal(bx_reply(srv.held, bxt_msg("{\"class\":\"foam.box.RPCReturnMessage\"}")), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 1);

  bx_msg_unref(srv.held);
  bx_box_unref(to);
  bx_box_unref(fn);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_unguarded_and_rejected(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink out, replies;
  bxt_sink_init(&out, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *to = NULL;
  bx_timeout_box_new(e->ctx, out.box, 5, &to);

  /* No reply box: forwarded as is, nothing to time out. */
  bx_msg *m = bxt_msg("{\"fire\":\"forget\"}");
  assert_int_equal(bx_send(to, m), 0);
  bxt_run(e);
  assert_int_equal(out.n, 1);
  assert_null(bx_msg_reply_box(out.msgs[0]));

  /* The guard replaces the reply box on the way out. */
  assert_int_equal(bx_send(to, request(replies.box)), 0);
  bxt_run(e);
  assert_int_equal(out.n, 2);
  assert_non_null(bx_msg_reply_box(out.msgs[1]));
  assert_ptr_not_equal(bx_msg_reply_box(out.msgs[1]), replies.box);
  assert_int_equal(replies.n, 1); /* the sink never answered */
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ETIMEDOUT);
  bxt_sink_clear(&replies);

  /* Rejected outright by the delegate: rejected outright here too, and nothing more. */
  bx_box *used = NULL;
  bx_onetime_box_new(e->ctx, out.box, &used);
  assert_int_equal(bx_send(used, bxt_msg("{}")), 0);
  bx_box *to2 = NULL;
  bx_timeout_box_new(e->ctx, used, 5, &to2);
  assert_int_equal(bx_send(to2, request(replies.box)), BX_ECLOSED);
  bxt_run(e);
  assert_int_equal(replies.n, 0);

  bx_box_unref(to);
  bx_box_unref(to2);
  bx_box_unref(used);
  bxt_sink_free(&out);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_close_with_pending_guard(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  server srv = {.answer = false};
  bxt_sink replies;
  bxt_sink_init(&replies, e->ctx);
  bx_box *fn = NULL;
  bx_function_box_new(e->ctx, server_fn, &srv, NULL, &fn);
  bx_box *to = NULL;
  bx_timeout_box_new(e->ctx, fn, 60000, &to);

  assert_int_equal(bx_send(to, request(replies.box)), 0);
  bxt_env_free(e); /* closes the context: asserts uv_loop_close() == 0 */
  assert_int_equal(srv.calls, 1);
  assert_int_equal(replies.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ECLOSING);

  /* Boxes and messages outliving the context may still be released. */
  bx_msg_unref(srv.held);
  bx_box_unref(to);
  bx_box_unref(fn);
  bxt_sink_free(&replies);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reply_in_time),
      cmocka_unit_test(test_no_reply_times_out_then_late_reply_dropped),
      cmocka_unit_test(test_unguarded_and_rejected),
      cmocka_unit_test(test_close_with_pending_guard),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
