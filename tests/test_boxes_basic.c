/* Built-in boxes without timers: Proxy, Sub (payload wrapping and wire form), Return, OneTime,
 * Function (run-queue delivery), Null, Log, Broadcast (sharing and copy on write) and
 * RoundRobin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"

/* The payload of m as compact JSON, compared with `want` and freed. */
static void check_json(const bx_msg *m, const char *want) {
  char *got = bxt_json(m);
  assert_non_null(got);
  assert_string_equal(got, want);
  cJSON_free(got);
}

static cJSON *wire_of(bx_ctx *ctx, bx_box *box, bx_box *target) {
  bx_export ex = {.ctx = ctx, .target = target};
  cJSON *w = bx_export_wire(&ex, box);
  assert_int_equal(ex.err, 0);
  return w;
}

static void check_wire(bx_ctx *ctx, bx_box *box, bx_box *target, const char *want) {
  cJSON *w = wire_of(ctx, box, target);
  assert_non_null(w);
  char *got = cJSON_PrintUnformatted(w);
  assert_string_equal(got, want);
  cJSON_free(got);
  cJSON_Delete(w);
}

static void test_proxy(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink a, b;
  bxt_sink_init(&a, e->ctx);
  bxt_sink_init(&b, e->ctx);
  bx_box *p = NULL;
  bx_proxy_box_new(e->ctx, a.box, &p);
  assert_non_null(p);
  assert_ptr_equal(bx_proxy_box_delegate(p), a.box);
  assert_string_equal(bx_box_type(p), "proxy");

  assert_int_equal(bx_send(p, bxt_msg("{\"n\":1}")), 0);
  bx_proxy_box_set_delegate(p, b.box);
  assert_int_equal(bx_send(p, bxt_msg("{\"n\":2}")), 0);
  bxt_run(e);
  assert_int_equal(a.n, 1);
  assert_int_equal(b.n, 1);
  check_json(a.msgs[0], "{\"n\":1}");
  check_json(b.msgs[0], "{\"n\":2}");

  bx_proxy_box_set_delegate(p, NULL);
  assert_null(bx_proxy_box_delegate(p));
  assert_int_equal(bx_send(p, bxt_msg("{\"n\":3}")), BX_ENOROUTE);
  assert_null(bx_proxy_box_delegate(a.box)); /* not a proxy */

  bx_box_unref(p);
  bxt_sink_free(&a);
  bxt_sink_free(&b);
  bxt_env_free(e);
}

static void test_sub_wraps(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s;
  bxt_sink_init(&s, e->ctx);
  bx_box *sub = NULL;
  bx_sub_box_new(e->ctx, "svc", s.box, &sub);
  assert_non_null(sub);
  assert_string_equal(bx_sub_box_name(sub), "svc");
  assert_ptr_equal(bx_sub_box_delegate(sub), s.box);
  bxt_refused(bx_sub_box_new(e->ctx, NULL, s.box, &bxt_none), BX_EINVAL);
  bxt_refused(bx_sub_box_new(e->ctx, "x", NULL, &bxt_none), BX_EINVAL);

  /* A shared message is copied, not changed under its other holder. */
  bx_msg *m = bxt_msg("{\"class\":\"X\",\"a\":[1,2]}");
  bx_msg_set_reply_box(m, s.box);
  bx_msg_ref(m);
  assert_int_equal(bx_send(sub, m), 0);
  check_json(m, "{\"class\":\"X\",\"a\":[1,2]}");
  bx_msg_unref(m);
  /* An empty payload becomes "object":null. */
  assert_int_equal(bx_send_json(sub, NULL), 0);
  bxt_run(e);
  assert_int_equal(s.n, 2);
  check_json(s.msgs[0], "{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"svc\","
                        "\"object\":{\"class\":\"X\",\"a\":[1,2]}}");
  assert_ptr_equal(bx_msg_reply_box(s.msgs[0]), s.box);
  check_json(s.msgs[1], "{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"svc\",\"object\":null}");

  bx_box_unref(sub);
  bxt_sink_free(&s);
  bxt_env_free(e);
}

static void test_sub_wire(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s;
  bxt_sink_init(&s, e->ctx);
  bx_box *reg = bx_ctx_registry(e->ctx);
  bx_box *sub = NULL;
  bx_sub_box_new(e->ctx, "calc", reg, &sub);
  bx_box *ret = NULL;
  bx_return_box_new(e->ctx, s.box, &ret);
  bx_box *over_ret = NULL;
  bx_sub_box_new(e->ctx, "18", ret, &over_ret);
  bx_box *nested = NULL;
  bx_sub_box_new(e->ctx, "inner", sub, &nested);
  bx_box *over_fn = NULL;
  bx_sub_box_new(e->ctx, "f", s.box, &over_fn);
  assert_non_null(sub);
  assert_non_null(over_ret);
  assert_non_null(nested);
  assert_non_null(over_fn);

  const char *calc = "{\"class\":\"foam.box.SubBox\",\"name\":\"calc\","
                     "\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}";
  /* Over the root registry: ReturnBox whatever the target. */
  check_wire(e->ctx, sub, NULL, calc);
  check_wire(e->ctx, sub, s.box, calc);
  check_wire(e->ctx, over_ret, NULL,
             "{\"class\":\"foam.box.SubBox\",\"name\":\"18\","
             "\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}");
  check_wire(e->ctx, nested, NULL,
             "{\"class\":\"foam.box.SubBox\",\"name\":\"inner\",\"delegate\":"
             "{\"class\":\"foam.box.SubBox\",\"name\":\"calc\","
             "\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}}");
  /* No portable delegate: no portable form (the encoder exports the box instead). */
  assert_null(wire_of(e->ctx, over_fn, NULL));
  assert_null(wire_of(e->ctx, over_ret, s.box));

  bx_box_unref(sub);
  bx_box_unref(ret);
  bx_box_unref(over_ret);
  bx_box_unref(nested);
  bx_box_unref(over_fn);
  bxt_sink_free(&s);
  bxt_env_free(e);
}

static void test_return(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s;
  bxt_sink_init(&s, e->ctx);
  bx_box *ret = NULL;
  bx_return_box_new(e->ctx, s.box, &ret);
  bx_box *lost = NULL;
  bx_return_box_new(e->ctx, NULL, &lost);
  assert_non_null(ret);
  assert_non_null(lost);
  assert_true(bx__box_is(ret, &bx__return_box_ops));
  assert_ptr_equal(bx__return_box_origin(ret), s.box);
  assert_null(bx__return_box_origin(lost));
  assert_null(bx__return_box_origin(s.box));

  assert_int_equal(bx_send(ret, bxt_msg("{\"r\":1}")), 0);
  assert_int_equal(bx_send(lost, bxt_msg("{\"r\":2}")), BX_ENOROUTE);
  bxt_run(e);
  assert_int_equal(s.n, 1);
  check_json(s.msgs[0], "{\"r\":1}");

  check_wire(e->ctx, ret, NULL, "{\"class\":\"foam.box.ReturnBox\"}");
  assert_null(wire_of(e->ctx, ret, s.box));

  bx_box_unref(ret);
  bx_box_unref(lost);
  bxt_sink_free(&s);
  bxt_env_free(e);
}

static void test_onetime(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s;
  bxt_sink_init(&s, e->ctx);
  bx_box *ot = NULL;
  bx_onetime_box_new(e->ctx, s.box, &ot);
  assert_non_null(ot);
  bxt_refused(bx_onetime_box_new(e->ctx, NULL, &bxt_none), BX_EINVAL);
  assert_int_equal(bx_send(ot, bxt_msg("{\"k\":1}")), 0);
  assert_int_equal(bx_send(ot, bxt_msg("{\"k\":2}")), BX_ECLOSED);
  assert_int_equal(bx_send(ot, bxt_msg("{\"k\":3}")), BX_ECLOSED);
  bxt_run(e);
  assert_int_equal(s.n, 1);
  check_json(s.msgs[0], "{\"k\":1}");
  bx_box_unref(ot);
  bxt_sink_free(&s);
  bxt_env_free(e);
}

static int freed_data;
static void count_free(void *data) {
  assert_ptr_equal(data, &freed_data);
  freed_data++;
}

typedef struct fn_probe {
  bx_box *self;
  int calls;
} fn_probe;

static void probe_fn(bx_box *self, bx_msg *msg, void *data) {
  fn_probe *p = data;
  assert_ptr_equal(self, p->self);
  assert_non_null(msg);
  p->calls++;
}

static void test_function_defers(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s;
  bxt_sink_init(&s, e->ctx);
  assert_int_equal(bx_send(s.box, bxt_msg("{\"x\":1}")), 0);
  assert_int_equal(bx_send(s.box, bxt_msg("{\"x\":2}")), 0);
  assert_int_equal(s.n, 0); /* never inside bx_send */
  bxt_run(e);
  assert_int_equal(s.n, 2);
  check_json(s.msgs[0], "{\"x\":1}");
  check_json(s.msgs[1], "{\"x\":2}");

  /* The box stays alive for a queued delivery even when the caller lets go at once. */
  fn_probe p = {0};
  bx_box *f = NULL;
  bx_function_box_new(e->ctx, probe_fn, &p, NULL, &f);
  p.self = f;
  assert_int_equal(bx_send(f, bxt_msg("{}")), 0);
  bx_box_unref(f);
  assert_int_equal(p.calls, 0);
  bxt_run(e);
  assert_int_equal(p.calls, 1);

  /* data_free runs with the last reference. */
  freed_data = 0;
  bx_box *g = NULL;
  bx_function_box_new(e->ctx, probe_fn, &freed_data, count_free, &g);
  assert_non_null(g);
  bxt_refused(bx_function_box_new(e->ctx, NULL, NULL, NULL, &bxt_none), BX_EINVAL);
  bx_box_unref(g);
  assert_int_equal(freed_data, 1);

  bxt_sink_free(&s);
  bxt_env_free(e);
}

static void test_null(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s;
  bxt_sink_init(&s, e->ctx);
  bx_box *n = NULL;
  bx_null_box_new(e->ctx, &n);
  assert_non_null(n);
  bx_msg *m = bxt_msg("{\"dropped\":true}");
  bx_msg_set_reply_box(m, s.box);
  assert_int_equal(bx_send(n, m), 0);
  bxt_run(e);
  assert_int_equal(s.n, 0);
  bx_box_unref(n);
  bxt_sink_free(&s);
  bxt_env_free(e);
}

#define MAX_LINES 8
typedef struct log_capture {
  int n;
  int level[MAX_LINES];
  char line[MAX_LINES][512];
} log_capture;

static void capture_log(void *data, int level, const char *line) {
  log_capture *c = data;
  if (c->n >= MAX_LINES) return;
  c->level[c->n] = level;
  snprintf(c->line[c->n], sizeof c->line[c->n], "%s", line);
  c->n++;
}

static void test_log(void **state) {
  (void)state;
  log_capture cap = {0};
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.log_level = BX_LOG_INFO;
  opts.log = capture_log;
  opts.log_data = &cap;
  bxt_env *e = bxt_env_new(&opts);
  bxt_sink s, replies;
  bxt_sink_init(&s, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *lg = NULL;
  bx_log_box_new(e->ctx, "in:", BX_LOG_INFO, s.box, &lg);
  bx_box *quiet = NULL;
  bx_log_box_new(e->ctx, "dbg", BX_LOG_DEBUG, NULL, &quiet);
  assert_non_null(lg);
  assert_non_null(quiet);

  bx_msg *m = bxt_msg("{\"class\":\"X\",\"s\":\"hi\",\"n\":3}");
  bx_msg_set_reply_box(m, replies.box);
  assert_int_equal(bx_send(lg, m), 0);
  assert_int_equal(bx_send(lg, bxt_msg("{\"k\":1}")), 0);
  assert_int_equal(bx_send(quiet, bxt_msg("{\"k\":2}")), 0); /* below the level: not logged */
  bxt_run(e);

  assert_int_equal(cap.n, 2);
  assert_int_equal(cap.level[0], BX_LOG_INFO);
  assert_non_null(strstr(cap.line[0], "in:"));
  assert_non_null(strstr(cap.line[0], "{\"class\":\"X\",\"s\":\"hi\",\"n\":3}"));
  assert_non_null(strstr(cap.line[0], "function")); /* the reply box's type */
  assert_non_null(strstr(cap.line[1], "{\"k\":1}"));
  assert_non_null(strstr(cap.line[1], "none"));
  /* Forwarded unchanged. */
  assert_int_equal(s.n, 2);
  check_json(s.msgs[0], "{\"class\":\"X\",\"s\":\"hi\",\"n\":3}");
  assert_ptr_equal(bx_msg_reply_box(s.msgs[0]), replies.box);
  assert_int_equal(replies.n, 0);

  bx_box_unref(lg);
  bx_box_unref(quiet);
  bxt_sink_free(&s);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_broadcast(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s[3];
  bx_box *boxes[3];
  for (int i = 0; i < 3; i++) {
    bxt_sink_init(&s[i], e->ctx);
    boxes[i] = s[i].box;
  }
  bx_box *bc = NULL;
  bx_broadcast_box_new(e->ctx, boxes, 3, &bc);
  assert_non_null(bc);

  /* Plain delegates share the one message. */
  bx_msg *m = bxt_msg("{\"b\":1}");
  bx_msg_ref(m);
  assert_int_equal(bx_send(bc, m), 0);
  bxt_run(e);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(s[i].n, 1);
    assert_ptr_equal(s[i].msgs[0], m);
  }
  bx_msg_unref(m);
  for (int i = 0; i < 3; i++)
    bxt_sink_clear(&s[i]);

  /* A delegate that rewrites copies first; the others still see the original. */
  bx_box *sub = NULL;
  bx_sub_box_new(e->ctx, "n", s[1].box, &sub);
  bx_box *mixed[3] = {s[0].box, sub, s[2].box};
  bx_box *bc2 = NULL;
  bx_broadcast_box_new(e->ctx, mixed, 3, &bc2);
  assert_non_null(bc2);
  m = bxt_msg("{\"b\":2}");
  bx_msg_ref(m);
  assert_int_equal(bx_send(bc2, m), 0);
  bxt_run(e);
  assert_ptr_equal(s[0].msgs[0], m);
  assert_ptr_equal(s[2].msgs[0], m);
  assert_ptr_not_equal(s[1].msgs[0], m);
  check_json(m, "{\"b\":2}");
  check_json(s[1].msgs[0],
             "{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"n\",\"object\":{\"b\":2}}");
  bx_msg_unref(m);

  /* Rejected by every delegate: the send is rejected. */
  bx_box *used = NULL;
  bx_onetime_box_new(e->ctx, s[0].box, &used);
  assert_int_equal(bx_send(used, bxt_msg("{}")), 0);
  bx_box *dead[2] = {used, used};
  bx_box *bc3 = NULL;
  bx_broadcast_box_new(e->ctx, dead, 2, &bc3);
  assert_int_equal(bx_send(bc3, bxt_msg("{}")), BX_ECLOSED);
  bxt_run(e);

  bx_box_unref(bc);
  bx_box_unref(bc2);
  bx_box_unref(bc3);
  bx_box_unref(used);
  bx_box_unref(sub);
  for (int i = 0; i < 3; i++)
    bxt_sink_free(&s[i]);
  bxt_env_free(e);
}

static void test_round_robin(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink s[3];
  bx_box *boxes[3];
  for (int i = 0; i < 3; i++) {
    bxt_sink_init(&s[i], e->ctx);
    boxes[i] = s[i].box;
  }
  bxt_refused(bx_round_robin_box_new(e->ctx, boxes, 0, &bxt_none), BX_EINVAL);
  bx_box *rr = NULL;
  bx_round_robin_box_new(e->ctx, boxes, 3, &rr);
  assert_non_null(rr);
  assert_true(bx__box_is(rr, &bx__round_robin_box_ops));
  for (int i = 0; i < 10; i++) {
    char json[32];
    snprintf(json, sizeof json, "{\"i\":%d}", i);
    assert_int_equal(bx_send(rr, bxt_msg(json)), 0);
  }
  bxt_run(e);
  assert_int_equal(s[0].n, 4);
  assert_int_equal(s[1].n, 3);
  assert_int_equal(s[2].n, 3);
  for (int k = 0; k < 3; k++) {
    for (int j = 0; j < s[k].n; j++) {
      cJSON *i = cJSON_GetObjectItemCaseSensitive(bx_msg_object(s[k].msgs[j]), "i");
      assert_int_equal(i->valueint, k + 3 * j);
    }
  }
  bx_box_unref(rr);
  for (int i = 0; i < 3; i++)
    bxt_sink_free(&s[i]);
  bxt_env_free(e);
}

/* The constructor convention (bx/common.h): 0 and the object in the last argument, or an error
 * code and NULL there; no place for the result is BX_EINVAL, and nothing leaks (LSan). */
static void test_constructor_convention(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *null_box;
  assert_int_equal(bx_null_box_new(e->ctx, &null_box), 0);
  assert_non_null(null_box);
  assert_int_equal(bx_null_box_new(e->ctx, NULL), BX_EINVAL);
  assert_int_equal(bx_proxy_box_new(e->ctx, null_box, NULL), BX_EINVAL);
  assert_int_equal(bx_sub_box_new(e->ctx, "x", null_box, NULL), BX_EINVAL);
  assert_int_equal(bx_msg_new(cJSON_CreateObject(), NULL), BX_EINVAL); /* the payload is freed */
  assert_int_equal(bx_msg_new_error(BX_ETIMEDOUT, NULL, NULL), BX_EINVAL);
  bxt_refused(bx_null_box_new(NULL, &bxt_none), BX_EINVAL);
  bxt_refused(bx_log_box_new(e->ctx, "p", 99, NULL, &bxt_none), BX_EINVAL);
  bxt_refused(bx_box_new(e->ctx, NULL, 0, &bxt_none), BX_EINVAL);
  bxt_refused(bx_lookup_box_new(e->ctx, null_box, "", &bxt_none), BX_EINVAL);
  bx_msg *m = (bx_msg *)&m, *copy = (bx_msg *)&copy;
  assert_int_equal(bx_msg_copy(NULL, &copy), BX_EINVAL);
  assert_null(copy);
  assert_int_equal(bx_msg_new(NULL, &m), 0);
  assert_int_equal(bx_msg_copy(m, &copy), 0);
  assert_true(copy != NULL && copy != m);
  bx_msg_unref(copy);
  bx_msg_unref(m);
  bx_ctx *ctx = (bx_ctx *)&ctx;
  assert_int_equal(bx_ctx_new(NULL, NULL, &ctx), BX_EINVAL);
  assert_null(ctx);
  bx_box_unref(null_box);
  bxt_env_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constructor_convention),
      cmocka_unit_test(test_proxy),
      cmocka_unit_test(test_sub_wraps),
      cmocka_unit_test(test_sub_wire),
      cmocka_unit_test(test_return),
      cmocka_unit_test(test_onetime),
      cmocka_unit_test(test_function_defers),
      cmocka_unit_test(test_null),
      cmocka_unit_test(test_log),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_round_robin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
