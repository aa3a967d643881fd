/* FOAM interop without FOAM: the client frames FOAM2 sent (tests/data/spec/foam/captures) are
 * replayed byte for byte over a raw socket against examples/calculator served by a bx
 * listener, and each reply must match the captured one: same envelope, same reply name, same
 * answer (the 2018 tree's nested "attributes":{} aside). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "calc_impl.h"
#include "testutil.h"
#include "transport/raw_client.h"

typedef struct cc_env {
  uv_loop_t loop;
  bx_ctx *ctx;
  calc_impl impl;
  bx_listener *l;
  int warn, closed;
} cc_env;

static void cc_log(void *data, int level, const char *line) {
  (void)line;
  if (level <= BX_LOG_WARN) ((cc_env *)data)->warn++;
}

static cc_env *cc_env_new(const char *url) {
  cc_env *e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/calc_server";
  o.log = cc_log;
  o.log_data = e;
  assert_int_equal(bx_ctx_new(&e->ctx, &e->loop, &o), 0);
  assert_int_equal(calc_impl_register(e->ctx, &e->impl, "calc", NULL), 0);
  assert_int_equal(bx_listen(e->ctx, url, NULL, &e->l), 0);
  return e;
}

static void cc_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  ((cc_env *)data)->closed++;
}

static void cc_env_free(cc_env *e) {
  assert_int_equal(bx_ctx_close(e->ctx, cc_closed, e), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

/* The reply matches the captured one. */
static void cc_compare(const char *want_json, const char *got_json) {
  cJSON *want = cJSON_Parse(want_json), *got = cJSON_Parse(got_json);
  assert_non_null(got);
  cJSON *ws = cJSON_GetObjectItem(want, "object"), *gs = cJSON_GetObjectItem(got, "object");
  assert_string_equal(bx_json_class(got), BX_CLASS_MESSAGE);
  assert_string_equal(bx_json_class(gs), bx_json_class(ws));
  assert_string_equal(cJSON_GetObjectItem(gs, "name")->valuestring,
                      cJSON_GetObjectItem(ws, "name")->valuestring);
  cJSON *wi = cJSON_GetObjectItem(ws, "object"), *gi = cJSON_GetObjectItem(gs, "object");
  assert_string_equal(bx_json_class(gi), bx_json_class(wi));
  assert_true(cJSON_Compare(cJSON_GetObjectItem(gi, "data"), cJSON_GetObjectItem(wi, "data"), 1));
  cJSON_Delete(want);
  cJSON_Delete(got);
}

static void cc_replay(const char *url, const char *file, int want_replies) {
  char path[512];
  snprintf(path, sizeof path, "%s/foam/captures/%s", BX_SPEC_DIR, file);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  cc_env *e = cc_env_new(url);
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));
  char line[8192];
  int replies = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    cJSON *rec = cJSON_Parse(line);
    assert_non_null(rec);
    const char *dir = cJSON_GetObjectItem(rec, "dir")->valuestring;
    const char *payload = cJSON_GetObjectItem(rec, "payload")->valuestring;
    if (strcmp(dir, "c2s") == 0) {
      bxt_raw_frame(&r, payload);
    } else {
      bxt_raw_wait_frames(&e->loop, &r, replies + 1);
      cc_compare(payload, r.frames[replies]);
      replies++;
    }
    cJSON_Delete(rec);
  }
  fclose(f);
  assert_int_equal(replies, want_replies);
  assert_int_equal(e->warn, 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->ctx)), 1); /* no reply export left */
  bxt_raw_close(&r, &e->loop, false);
  cc_env_free(e);
}

static void test_tcp_head(void **state) {
  (void)state;
  cc_replay("tcp://127.0.0.1:0", "tcp-foam2-head.jsonl", 2);
}

static void test_tcp_2018(void **state) {
  (void)state;
  cc_replay("tcp://127.0.0.1:0", "tcp-foam2-2018.jsonl", 2);
}

static void test_unix_head(void **state) {
  (void)state;
  char url[128];
  snprintf(url, sizeof url, "unix:///tmp/bx-calc-captures-%ld.sock", (long)getpid());
  cc_replay(url, "tcp-foam2-head.jsonl", 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tcp_head),
      cmocka_unit_test(test_tcp_2018),
      cmocka_unit_test(test_unix_head),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
