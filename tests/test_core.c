/* Core: error table, hash map, messages (refcounts, copy on write, box table, error replies),
 * and the context (run queue order, non-reentrant delivery, tracked work, close). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"

static void test_errors(void **state) {
  (void)state;
  assert_string_equal(bx_err_name(BX_ETIMEDOUT), "BX_ETIMEDOUT");
  assert_string_equal(bx_strerror(BX_ETIMEDOUT), "timed out");
  assert_string_equal(bx_err_name(UV_ECONNREFUSED), "UV_ECONNREFUSED");
  assert_string_equal(bx_strerror(UV_ECONNREFUSED), uv_strerror(UV_ECONNREFUSED));
  assert_int_equal(bx_err_from_name("BX_ECONNLOST"), BX_ECONNLOST);
  assert_int_equal(bx_err_from_name("UV_EPIPE"), UV_EPIPE);
  assert_int_equal(bx_err_from_name("nonsense"), 0);
  assert_string_equal(bx_err_name(-30999), "BX_UNKNOWN");
  assert_string_equal(bx_strerror(-30998), "unknown error");
  assert_true(BX_ENOSERVICE <= -30000 && BX_ENOSERVICE > -31000);
  assert_int_equal(bx_version(), BX_VERSION_HEX);
  assert_non_null(bx_version_string());
}

static void test_map(void **state) {
  (void)state;
  bx__map *m = bx__map_new();
  char key[32];
  for (intptr_t i = 0; i < 20000; i++) {
    snprintf(key, sizeof key, "k%ld", (long)i);
    assert_int_equal(bx__map_put(m, key, (void *)(i + 1), NULL), 0);
  }
  assert_int_equal(bx__map_size(m), 20000);
  assert_ptr_equal(bx__map_get(m, "k123"), (void *)124);
  void *old;
  assert_int_equal(bx__map_put(m, "k123", (void *)8, &old), 0);
  assert_ptr_equal(old, (void *)124);
  /* Delete every even key while iterating. */
  size_t pos = 0, seen = 0;
  const char *k;
  void *v;
  while (bx__map_next(m, &pos, &k, &v)) {
    seen++;
    if ((((intptr_t)v) & 1) == 0) bx__map_del(m, k);
  }
  assert_int_equal(seen, 20000);
  assert_int_equal(bx__map_size(m), 10000);
  assert_null(bx__map_get(m, "k1")); /* value 2 was even */
  assert_ptr_equal(bx__map_get(m, "k0"), (void *)1);
  assert_null(bx__map_del(m, "absent"));
  bx__map_free(m);
}

/* A borrowing map keeps the caller's key pointers: replacing a key's value must take the new
 * pointer, since the old key may be freed with the old value (ASan catches a stale key). */
static void test_map_borrowing(void **state) {
  (void)state;
  bx__map *m = bx__map_new_borrowing();
  char *first = strdup("name"), *second = strdup("name");
  assert_int_equal(bx__map_put(m, first, first, NULL), 0);
  void *old;
  assert_int_equal(bx__map_put(m, second, second, &old), 0);
  assert_ptr_equal(old, first);
  free(first);
  assert_ptr_equal(bx__map_get(m, "name"), second);
  size_t pos = 0;
  const char *k;
  assert_true(bx__map_next(m, &pos, &k, NULL));
  assert_ptr_equal(k, second); /* not a copy */
  assert_ptr_equal(bx__map_del(m, "name"), second);
  free(second); /* the map never frees a borrowed key */
  assert_int_equal(bx__map_size(m), 0);
  bx__map_free(m);
}

static void test_msg_refs_and_cow(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_msg *m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2]}");
  assert_string_equal(bx_msg_class(m), BX_CLASS_RPC_MESSAGE);
  assert_true(bx_msg_is(m, BX_CLASS_RPC_MESSAGE));
  bx_box *null_box = NULL;
  bx_null_box_new(e->ctx, &null_box);
  bx_msg_set_reply_box(m, null_box);
  cJSON *ref = bx_msg_box_ref(m, null_box);
  assert_non_null(ref);
  cJSON_AddItemToArray(cJSON_GetObjectItem(bx_msg_object(m), "args"), ref);
  assert_int_equal(bx_msg_set_attr(m, "trace", cJSON_CreateString("t1")), 0);
  assert_int_equal(bx_msg_set_attr(m, "replyBox", cJSON_CreateNull()), BX_EINVAL);

  /* The only holder may write in place. */
  assert_ptr_equal(bx_msg_writable(m), m);
  /* A shared message is copied, and the copy keeps its placeholders valid. */
  bx_msg_ref(m);
  bx_msg *w = bx_msg_writable(m);
  assert_ptr_not_equal(w, m);
  assert_int_equal(bx_msg_refcount(m), 1);
  cJSON *wargs = cJSON_GetObjectItem(bx_msg_object(w), "args");
  assert_ptr_equal(bx_msg_box_at(w, cJSON_GetArrayItem(wargs, 2)), null_box);
  assert_ptr_equal(bx_msg_reply_box(w), null_box);
  assert_string_equal(cJSON_GetObjectItem(bx_msg_attrs(w), "trace")->valuestring, "t1");
  cJSON_DeleteItemFromArray(wargs, 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(bx_msg_object(m), "args")), 3);
  /* A placeholder of another message does not resolve. */
  bx_msg *other = bxt_msg("{}");
  assert_null(bx_msg_box_at(other, cJSON_GetArrayItem(wargs, 1)));
  bx_msg_unref(other);
  bx_msg_unref(w);
  bx_msg_unref(m);
  bx_box_unref(null_box);
  bxt_env_free(e);
}

static void test_msg_errors(void **state) {
  (void)state;
  const char *text;
  bx_msg *m = NULL;
  bx_msg_new_error(BX_ETIMEDOUT, NULL, &m);
  assert_int_equal(bx_msg_error(m, &text), BX_ETIMEDOUT);
  assert_string_equal(text, "timed out");
  bx_msg_unref(m);
  bx_msg_new_error(UV_ECONNREFUSED, "refused here", &m);
  assert_int_equal(bx_msg_error(m, &text), UV_ECONNREFUSED);
  assert_string_equal(text, "refused here");
  bx_msg_unref(m);
  m = bxt_msg("{\"class\":\"foam.box.RPCErrorMessage\",\"data\":\"Error: boom\"}");
  assert_int_equal(bx_msg_error(m, &text), BX_EREMOTE);
  assert_string_equal(text, "Error: boom");
  bx_msg_unref(m);
  m = bxt_msg(
      "{\"class\":\"foam.box.RPCErrorMessage\",\"data\":{\"class\":\"foam.box.RemoteException\","
      "\"id\":\"java.lang.Oops\",\"message\":\"oops\"}}");
  assert_int_equal(bx_msg_error(m, &text), BX_EREMOTE);
  assert_string_equal(text, "oops");
  bx_msg_unref(m);
  m = bxt_msg("{\"class\":\"foam.box.NoSuchNameException\",\"name\":\"calc\"}");
  assert_int_equal(bx_msg_error(m, &text), BX_ENOSERVICE);
  assert_string_equal(text, "calc");
  bx_msg_unref(m);
  m = bxt_msg("{\"class\":\"foam.box.RPCReturnMessage\",\"data\":3}");
  assert_int_equal(bx_msg_error(m, &text), 0);
  bx_msg_unref(m);
}

/* ---- context ------------------------------------------------------------------------------ */

typedef struct order_state {
  int order[8];
  int n;
  bool in_send;
} order_state;

static void record_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  order_state *s = data;
  assert_false(s->in_send); /* never re-entrant */
  const cJSON *v = cJSON_GetObjectItem(bx_msg_object(msg), "v");
  s->order[s->n++] = v->valueint;
}

static void test_run_queue_order(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  order_state s = {0};
  bx_box *f = NULL;
  bx_function_box_new(e->ctx, record_fn, &s, NULL, &f);
  char json[32];
  for (int i = 0; i < 5; i++) {
    snprintf(json, sizeof json, "{\"v\":%d}", i);
    s.in_send = true;
    assert_int_equal(bx_send(f, bxt_msg(json)), 0);
    s.in_send = false;
  }
  assert_int_equal(s.n, 0);
  bxt_run(e);
  assert_int_equal(s.n, 5);
  for (int i = 0; i < 5; i++)
    assert_int_equal(s.order[i], i);
  bx_box_unref(f);
  bxt_env_free(e);
}

typedef struct tracked_timer {
  bx__tracked t;
  uv_timer_t timer;
  bx_ctx *ctx;
  int cancelled, fired;
} tracked_timer;

static void tt_closed(uv_handle_t *h) {
  tracked_timer *tt = h->data;
  bx__untrack(tt->ctx, &tt->t);
}

static void tt_on_close(bx__tracked *t) {
  tracked_timer *tt = (tracked_timer *)t;
  tt->cancelled++;
  uv_close((uv_handle_t *)&tt->timer, tt_closed);
}

static void tt_fire(uv_timer_t *timer) {
  ((tracked_timer *)timer->data)->fired++;
}

static void test_close_cancels_tracked(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  tracked_timer tt = {.ctx = e->ctx};
  tt.t.on_close = tt_on_close;
  uv_timer_init(&e->loop, &tt.timer);
  tt.timer.data = &tt;
  uv_timer_start(&tt.timer, tt_fire, 60000, 0);
  bx__track(e->ctx, &tt.t);
  assert_int_equal(bx_ctx_close(e->ctx, bxt_on_closed, e), 0);
  assert_int_equal(bx_ctx_close(e->ctx, NULL, NULL), BX_ECLOSING);
  assert_true(bx_ctx_is_closing(e->ctx));
  assert_int_equal(tt.cancelled, 0); /* nothing runs inside bx_ctx_close */
  bxt_run(e);
  assert_int_equal(tt.cancelled, 1);
  assert_int_equal(tt.fired, 0);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

typedef struct log_capture {
  char lines[4][256];
  int n;
} log_capture;

static void capture_log(void *data, int level, const char *line) {
  log_capture *c = data;
  (void)level;
  if (c->n < 4) snprintf(c->lines[c->n++], 256, "%s", line);
}

static void test_ctx_options(void **state) {
  (void)state;
  log_capture cap = {0};
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/test/ctx";
  o.log = capture_log;
  o.log_data = &cap;
  o.log_level = BX_LOG_INFO;
  bxt_env *e = bxt_env_new(&o);
  assert_string_equal(bx_ctx_name(e->ctx), "/test/ctx");
  assert_string_equal(bx_named_box_path(bx_ctx_me(e->ctx)), "/test/ctx");
  bx_log(e->ctx, BX_LOG_INFO, "hello %d", 42);
  bx_log(e->ctx, BX_LOG_DEBUG, "hidden");
  assert_int_equal(cap.n, 1);
  assert_string_equal(cap.lines[0], "hello 42");
  assert_false(bx_ctx_class_allowed(e->ctx, "test.rpc.Point"));
  assert_int_equal(bx_ctx_allow_class(e->ctx, "test.rpc.Point"), 0);
  assert_true(bx_ctx_class_allowed(e->ctx, "test.rpc.Point"));
  assert_true(bx_ctx_class_allowed(e->ctx, BX_CLASS_SUB_BOX));
  assert_int_equal(bx_ctx_allow_class(e->ctx, BX_CLASS_BOX_REF), BX_EINVAL);
  /* Patterns: a package, then everything; bx.BoxRef stays refused. */
  assert_int_equal(bx_ctx_allow_class(e->ctx, "a*"), BX_EINVAL);
  assert_int_equal(bx_ctx_allow_class(e->ctx, "calc.*.x"), BX_EINVAL);
  assert_false(bx_ctx_class_allowed(e->ctx, "calc.geo.Point"));
  assert_int_equal(bx_ctx_allow_class(e->ctx, "calc.*"), 0);
  assert_true(bx_ctx_class_allowed(e->ctx, "calc.geo.Point"));
  assert_true(bx_ctx_class_allowed(e->ctx, "calc.Point"));
  assert_false(bx_ctx_class_allowed(e->ctx, "calculator.Point"));
  assert_int_equal(bx_ctx_allow_class(e->ctx, "*"), 0);
  assert_true(bx_ctx_class_allowed(e->ctx, "anything.At.All"));
  assert_false(bx_ctx_class_allowed(e->ctx, BX_CLASS_BOX_REF));
  assert_int_equal(bx_log_level_from_name("debug"), BX_LOG_DEBUG);
  assert_int_equal(bx_log_level_from_name("loud"), -1);
  bxt_env_free(e);

  /* Default name. */
  e = bxt_env_new(NULL);
  char expect[32];
  snprintf(expect, sizeof expect, "/proc/%ld", (long)getpid());
  assert_string_equal(bx_ctx_name(e->ctx), expect);
  bxt_env_free(e);
}

/* ---- the log: records with fields, text and JSON lines ----------------------------------- */

typedef struct rec_capture {
  int n, level;
  char msg[256], fields[512];
} rec_capture;

static void capture_record(void *data, const bx_log_record *rec) {
  rec_capture *c = data;
  c->n++;
  c->level = rec->level;
  snprintf(c->msg, sizeof c->msg, "%s", rec->msg);
  c->fields[0] = '\0';
  for (size_t i = 0; i < rec->nfields; i++) {
    size_t l = strlen(c->fields);
    snprintf(c->fields + l, sizeof c->fields - l, "%s:%s;", rec->fields[i].key,
             rec->fields[i].value);
  }
}

static void test_log_records(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  rec_capture c = {0};
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/logt";
  o.log_level = BX_LOG_INFO;
  o.log_record = capture_record;
  o.log_record_data = &c;
  bx_ctx *ctx;
  assert_int_equal(bx_ctx_new(&loop, &o, &ctx), 0);
  bx_log_field f[] = {{"event", "register"}, {"name", "calc"}, {"peer", "uid 1000"}};
  bx_log_fields(ctx, BX_LOG_INFO, f, 3, "registered %s", "calc");
  assert_int_equal(c.n, 1);
  assert_int_equal(c.level, BX_LOG_INFO);
  assert_string_equal(c.msg, "registered calc");
  assert_string_equal(c.fields, "event:register;name:calc;peer:uid 1000;");
  bx_log_fields(ctx, BX_LOG_DEBUG, f, 3, "below the level");
  bx_log(ctx, BX_LOG_WARN, "plain %d", 7);
  assert_int_equal(c.n, 2); /* the debug record was filtered */
  assert_string_equal(c.msg, "plain 7");
  assert_string_equal(c.fields, "");
  bx_ctx_close(ctx, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);

  /* A line sink gets the message and its fields as key=value (quoted when needed). */
  log_capture lc = {0};
  bx_ctx_options_init(&o);
  o.log = capture_log;
  o.log_data = &lc;
  assert_int_equal(bx_ctx_new(&loop, &o, &ctx), 0);
  bx_log_fields(ctx, BX_LOG_WARN, f, 3, "registered");
  assert_int_equal(lc.n, 1);
  assert_string_equal(lc.lines[0], "registered event=register name=calc peer=\"uid 1000\"");
  bx_ctx_close(ctx, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

static void test_log_format(void **state) {
  (void)state;
  bx_log_field f[] = {{"name", "a \"q\"\n"}, {"empty", ""}};
  bx_log_record rec = {BX_LOG_WARN, "/bxd", "refused", f, 2};
  char buf[512];
  bx_log_format(&rec, BX_LOG_TEXT, buf, sizeof buf);
  assert_string_equal(buf, "bx warn /bxd: refused name=\"a \\\"q\\\"\\n\" empty=\"\"");
  size_t n = bx_log_format(&rec, BX_LOG_JSON, buf, sizeof buf);
  assert_int_equal(n, strlen(buf));
  cJSON *j = cJSON_Parse(buf);
  assert_non_null(j);
  assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "warn");
  assert_string_equal(cJSON_GetObjectItem(j, "ctx")->valuestring, "/bxd");
  assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "refused");
  assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "a \"q\"\n");
  const char *t = cJSON_GetObjectItem(j, "time")->valuestring;
  assert_int_equal(strlen(t), 24); /* 2026-12-07T21:55:24.123Z */
  assert_int_equal(t[23], 'Z');
  cJSON_Delete(j);
  /* A message too long for the buffer is cut, and the line stays one JSON object. */
  char big[600];
  memset(big, '\\', sizeof big - 1); /* backslashes: each one escaped, cut anywhere */
  big[sizeof big - 1] = '\0';
  rec.msg = big;
  for (size_t cap = 100; cap < 400; cap += 7) {
    bx_log_format(&rec, BX_LOG_JSON, buf, cap);
    assert_true(strlen(buf) < cap);
    j = cJSON_Parse(buf);
    if (j == NULL) fail_msg("cut at %zu: not JSON: %s", cap, buf);
    cJSON_Delete(j);
  }
  assert_int_equal(bx_log_format_from_name("json"), BX_LOG_JSON);
  assert_int_equal(bx_log_format_from_name("text"), BX_LOG_TEXT);
  assert_int_equal(bx_log_format_from_name("xml"), -1);
}

static void test_u64_text(void **state) {
  (void)state;
  char buf[24];
  assert_int_equal(bx__u64_text(buf, 0, 10), 1);
  assert_string_equal(buf, "0");
  assert_int_equal(bx__u64_text(buf, 4998, 10), 4);
  assert_string_equal(buf, "4998");
  assert_int_equal(bx__u64_text(buf, UINT64_MAX, 10), 20);
  assert_string_equal(buf, "18446744073709551615");
  assert_int_equal(bx__u64_text(buf, UINT64_MAX, 16), 16);
  assert_string_equal(buf, "ffffffffffffffff");
  assert_int_equal(bx__u64_text(buf, 0x1a2b, 16), 4);
  assert_string_equal(buf, "1a2b");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_map),
      cmocka_unit_test(test_map_borrowing),
      cmocka_unit_test(test_msg_refs_and_cow),
      cmocka_unit_test(test_msg_errors),
      cmocka_unit_test(test_run_queue_order),
      cmocka_unit_test(test_close_cancels_tracked),
      cmocka_unit_test(test_ctx_options),
      cmocka_unit_test(test_log_records),
      cmocka_unit_test(test_log_format),
      cmocka_unit_test(test_u64_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
