/* FOAM2's DAO captures (spec/foam/captures/dao, copied to tests/dao/captures) as golden
 * vectors: every client frame FOAM2 sent is replayed byte for byte, one raw stream connection
 * per captured connection, against bx DAO services ("todos" over a store, "todos-ro" read-only
 * over the same store) served by a bx TCP listener; every frame FOAM2's own server sent must
 * come back on the same connection, in the same order: the same reply or sink box name, the
 * same message class and method, the same objects (ids, order, counts; compared in normal
 * form, see dc_norm), the same notification sequence. The WebSocket captures' frames are
 * replayed over TCP too (the JSON is the same; ReturnBox means "this connection" on both).
 * Run for the memory store and for SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"
#include "transport/raw_client.h"
#include "dao/todo_model.h"

typedef struct dc_env {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_dao_store *store;
  bx_box *todos, *ro;
  bx_listener *l;
  int warn, closed;
} dc_env;

static void dc_log(void *data, int level, const char *line) {
  if (level <= BX_LOG_WARN) {
    fprintf(stderr, "log: %s\n", line);
    ((dc_env *)data)->warn++;
  }
}

static dc_env *dc_env_new(bool sqlite) {
  dc_env *e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/dao_server";
  o.log = dc_log;
  o.log_data = e;
  assert_int_equal(bx_ctx_new(&e->loop, &o, &e->ctx), 0);
  if (sqlite)
    assert_int_equal(bx_dao_sqlite_store_new(&bxt_todo_model, ":memory:", &e->store), 0);
  else
    assert_int_equal(bx_dao_memory_store_new(&bxt_todo_model, &e->store), 0);
  assert_int_equal(bx_dao_service_new(e->ctx, &bxt_todo_model, e->store, NULL, &e->todos), 0);
  bx_dao_service_opts ro = {.read_only = true};
  assert_int_equal(bx_dao_service_new(e->ctx, &bxt_todo_model, e->store, &ro, &e->ro), 0);
  assert_int_equal(bx_register(bx_ctx_registry(e->ctx), "todos", e->todos, NULL), 0);
  assert_int_equal(bx_register(bx_ctx_registry(e->ctx), "todos-ro", e->ro, NULL), 0);
  assert_int_equal(bx_listen(e->ctx, "tcp://127.0.0.1:0", NULL, &e->l), 0);
  return e;
}

static void dc_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  ((dc_env *)data)->closed++;
}

static void dc_env_free(dc_env *e) {
  bx_box_unref(e->todos);
  bx_box_unref(e->ro);
  assert_int_equal(bx_ctx_close(e->ctx, dc_closed, e), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  bx_dao_store_free(e->store);
  free(e);
}

/* ---- normal form for comparing ----------------------------------------------------------- */

/* A test.Todo in normal form: defaults left out (FOAM2's trees differ in which they write),
 * dates as numbers. Other values recursively. */
static void dc_norm(cJSON *j) {
  if (cJSON_IsArray(j)) {
    for (cJSON *c = j->child; c != NULL; c = c->next)
      dc_norm(c);
    return;
  }
  if (!cJSON_IsObject(j)) return;
  cJSON_DeleteItemFromObjectCaseSensitive(j, "attributes");
  const char *cls = bx_json_class(j);
  if (cls != NULL && strcmp(cls, "test.Todo") == 0) {
    cJSON *v;
    if ((v = cJSON_GetObjectItem(j, "done")) && cJSON_IsFalse(v))
      cJSON_DeleteItemFromObject(j, "done");
    if ((v = cJSON_GetObjectItem(j, "priority")) && v->valuedouble == 0)
      cJSON_DeleteItemFromObject(j, "priority");
    if ((v = cJSON_GetObjectItem(j, "title")) && cJSON_IsString(v) && v->valuestring[0] == 0)
      cJSON_DeleteItemFromObject(j, "title");
    if ((v = cJSON_GetObjectItem(j, "tags")) && cJSON_GetArraySize(v) == 0)
      cJSON_DeleteItemFromObject(j, "tags");
    if ((v = cJSON_GetObjectItem(j, "due")) && cJSON_IsString(v)) {
      struct tm tm = {0};
      int ms = 0;
      assert_true(sscanf(v->valuestring, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                         &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7);
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      cJSON_ReplaceItemInObject(j, "due", cJSON_CreateNumber((double)timegm(&tm) * 1000 + ms));
    }
    return;
  }
  /* GroupBy: 2018 writes groupKeys, HEAD does not; both echo their own flags. */
  if (cls != NULL && strcmp(cls, "foam.mlang.sink.GroupBy") == 0) {
    cJSON_DeleteItemFromObject(j, "groupKeys");
    cJSON_DeleteItemFromObject(j, "processArrayValuesIndividually");
    cJSON_DeleteItemFromObject(j, "groupLimit");
  }
  if (cls != NULL && strcmp(cls, "foam.dao.ArraySink") == 0 &&
      cJSON_GetArraySize(cJSON_GetObjectItem(j, "array")) == 0)
    cJSON_DeleteItemFromObject(j, "array");
  for (cJSON *c = j->child; c != NULL; c = c->next)
    dc_norm(c);
}

static cJSON *dc_inner(cJSON *frame, const char **name) {
  cJSON *sub = cJSON_GetObjectItem(frame, "object");
  assert_string_equal(bx_json_class(sub), BX_CLASS_SUB_BOX_MESSAGE);
  *name = cJSON_GetObjectItem(sub, "name")->valuestring;
  return cJSON_GetObjectItem(sub, "object");
}

/* The method each reply name answers (from the requests), to know remove_'s reply. */
typedef struct dc_calls {
  char name[64][16];
  char method[64][16];
  int n;
} dc_calls;

static const char *dc_method_of(const dc_calls *c, const char *reply) {
  for (int i = c->n - 1; i >= 0; i--)
    if (strcmp(c->name[i], reply) == 0) return c->method[i];
  return "";
}

static void dc_compare(const dc_calls *calls, const char *want_json, const char *got_json,
                       const char *step) {
  cJSON *want = cJSON_Parse(want_json), *got = cJSON_Parse(got_json);
  assert_non_null(want);
  assert_non_null(got);
  if (getenv("BXT_VERBOSE"))
    fprintf(stderr, "[%s]\n want %s\n got  %s\n", step, want_json, got_json);
  const char *wn, *gn;
  cJSON *wi = dc_inner(want, &wn), *gi = dc_inner(got, &gn);
  if (strcmp(wn, gn) != 0) fail_msg("step %s: reply to %s, want %s", step, gn, wn);
  const char *wc = bx_json_class(wi), *gc = bx_json_class(gi);
  if (strcmp(wc, gc) != 0) fail_msg("step %s: got a %s, want a %s (%s)", step, gc, wc, got_json);
  dc_norm(wi);
  dc_norm(gi);
  if (strcmp(wc, BX_CLASS_RPC_MESSAGE) == 0) { /* a sink call: put / remove / reset / eof */
    assert_string_equal(cJSON_GetObjectItem(gi, "name")->valuestring,
                        cJSON_GetObjectItem(wi, "name")->valuestring);
    cJSON *wa = cJSON_GetObjectItem(wi, "args"), *ga = cJSON_GetObjectItem(gi, "args");
    if (cJSON_GetArraySize(wa) > 0 && bx_json_class(cJSON_GetArrayItem(wa, 0)) != NULL &&
        strcmp(bx_json_class(cJSON_GetArrayItem(wa, 0)), "test.Todo") == 0)
      if (!cJSON_Compare(cJSON_GetArrayItem(wa, 0), cJSON_GetArrayItem(ga, 0), true))
        fail_msg("step %s: sink call\n want %s\n got  %s", step, want_json, got_json);
  } else if (strcmp(wc, BX_CLASS_RPC_RETURN) == 0) {
    cJSON *wd = cJSON_GetObjectItem(wi, "data"), *gd = cJSON_GetObjectItem(gi, "data");
    const char *m = dc_method_of(calls, wn);
    if (strcmp(m, "remove_") == 0) {
      /* FOAM2 HEAD echoes the argument, 2018 sends nothing; bx answers the removed object
       * (spec section 3): the ids agree when both have one. */
      if (wd != NULL && gd != NULL)
        assert_true(cJSON_Compare(cJSON_GetObjectItem(wd, "id"), cJSON_GetObjectItem(gd, "id"), 1));
    } else if (wd != NULL && bx_json_class(wd) != NULL &&
               strcmp(bx_json_class(wd), "foam.dao.ClientSink") == 0) {
      assert_string_equal(bx_json_class(gd), "foam.dao.ClientSink");
      assert_string_equal(
          cJSON_GetObjectItem(cJSON_GetObjectItem(gd, "delegate"), "name")->valuestring,
          cJSON_GetObjectItem(cJSON_GetObjectItem(wd, "delegate"), "name")->valuestring);
    } else if (!((wd == NULL && gd == NULL) ||
                 (wd != NULL && gd != NULL && cJSON_Compare(wd, gd, 1)))) {
      fail_msg("step %s:\n want %s\n got  %s", step, want_json, got_json);
    }
  } else if (strcmp(wc, BX_CLASS_NO_SUCH_NAME) == 0) {
    assert_true(cJSON_Compare(wi, gi, true));
  } /* RPCErrorMessage: bx's texts are its own ("unsupported mLang class ...") */
  cJSON_Delete(want);
  cJSON_Delete(got);
}

/* ---- replay -------------------------------------------------------------------------------- */

#define DC_CONNS 4

typedef struct dc_conn {
  bxt_raw r;
  int open, used;
} dc_conn;

static void dc_note_call(dc_calls *calls, const char *text) {
  cJSON *f = cJSON_Parse(text);
  cJSON *rb = cJSON_GetObjectItem(cJSON_GetObjectItem(f, "attributes"), "replyBox");
  cJSON *inner = cJSON_GetObjectItem(cJSON_GetObjectItem(f, "object"), "object");
  if (rb && inner && calls->n < 64) {
    snprintf(calls->name[calls->n], 16, "%s", cJSON_GetObjectItem(rb, "name")->valuestring);
    cJSON *m = cJSON_GetObjectItem(inner, "name");
    snprintf(calls->method[calls->n], 16, "%s", cJSON_IsString(m) ? m->valuestring : "");
    calls->n++;
  } else if (rb && inner) {
    memmove(calls->name, calls->name + 1, sizeof calls->name - sizeof calls->name[0]);
    memmove(calls->method, calls->method + 1, sizeof calls->method - sizeof calls->method[0]);
    calls->n--;
    dc_note_call(calls, text);
  }
  cJSON_Delete(f);
}

/* Reply names FOAM2's server never answered: a 2018 server drops a HEAD client's
 * __Timestamp__ and Projection (spec section 13; captured as TIMEOUT). bx answers them. */
typedef struct dc_names {
  char name[32][16];
  int n;
} dc_names;

static const char *dc_frame_name(const char *text, char *buf, size_t len, bool request) {
  cJSON *f = cJSON_Parse(text);
  const cJSON *n =
      request ? cJSON_GetObjectItem(
                    cJSON_GetObjectItem(cJSON_GetObjectItem(f, "attributes"), "replyBox"), "name")
              : cJSON_GetObjectItem(cJSON_GetObjectItem(f, "object"), "name");
  snprintf(buf, len, "%s", cJSON_IsString(n) ? n->valuestring : "");
  cJSON_Delete(f);
  return buf;
}

static void dc_unanswered(const char *path, dc_names *out) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *line = NULL, name[16];
  size_t cap = 0;
  dc_names asked = {0};
  out->n = 0;
  while (getline(&line, &cap, f) > 0) {
    cJSON *rec = cJSON_Parse(line);
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "text"));
    const char *dir = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "dir"));
    if (text != NULL && strcmp(dir, "c2s") == 0 && asked.n < 32) {
      if (dc_frame_name(text, name, sizeof name, true)[0]) strcpy(asked.name[asked.n++], name);
    } else if (text != NULL) {
      dc_frame_name(text, name, sizeof name, false);
      for (int i = 0; i < asked.n; i++)
        if (strcmp(asked.name[i], name) == 0) asked.name[i][0] = '\0';
    }
    if (asked.n == 32) { /* keep the unanswered ones only */
      int k = 0;
      for (int i = 0; i < asked.n; i++)
        if (asked.name[i][0]) memmove(asked.name[k++], asked.name[i], 16);
      asked.n = k;
      assert_true(k < 32);
    }
    cJSON_Delete(rec);
  }
  for (int i = 0; i < asked.n; i++)
    if (asked.name[i][0] && strcmp(asked.name[i], "") != 0)
      strcpy(out->name[out->n++], asked.name[i]);
  free(line);
  fclose(f);
}

/* The next frame on c (waiting for it), taken: the caller frees it. Answers to requests
 * FOAM2 left unanswered are skipped. */
static char *dc_next(dc_env *e, dc_conn *c, const dc_names *skip) {
  for (;;) {
    bxt_raw_wait_frames(&e->loop, &c->r, c->used + 1);
    char *f = c->r.frames[c->used];
    c->r.frames[c->used++] = NULL;
    if (c->used == c->r.nframes) c->used = c->r.nframes = 0;
    char name[16];
    bool skipped = false;
    dc_frame_name(f, name, sizeof name, false);
    for (int i = 0; i < skip->n && !skipped; i++)
      skipped = strcmp(skip->name[i], name) == 0;
    if (!skipped) return f;
    free(f);
  }
}

static void dc_replay(const char *file, bool sqlite) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", BX_DAO_CAPTURES, file);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  dc_names skip;
  dc_unanswered(path, &skip);
  dc_env *e = dc_env_new(sqlite);
  dc_conn conns[DC_CONNS + 1];
  memset(conns, 0, sizeof conns);
  dc_calls calls = {0};
  char *line = NULL;
  size_t cap = 0;
  int checked = 0, closes = 0;
  while (getline(&line, &cap, f) > 0) {
    cJSON *rec = cJSON_Parse(line);
    assert_non_null(rec);
    cJSON *conn = cJSON_GetObjectItem(rec, "conn"), *text = cJSON_GetObjectItem(rec, "text");
    cJSON *ev = cJSON_GetObjectItem(rec, "event");
    const char *dir = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "dir"));
    const char *step = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "step"));
    int k = conn ? conn->valueint : 0;
    assert_true(k >= 0 && k <= DC_CONNS);
    dc_conn *c = &conns[k];
    if (cJSON_IsString(text) && strcmp(dir, "c2s") == 0) {
      if (!c->open) {
        bxt_raw_open(&c->r, &e->loop, bx_listener_url(e->l));
        c->open = 1;
      }
      dc_note_call(&calls, text->valuestring);
      bxt_raw_frame(&c->r, text->valuestring);
    } else if (cJSON_IsString(text)) {
      assert_true(c->open);
      char *got = dc_next(e, c, &skip);
      dc_compare(&calls, text->valuestring, got, step);
      free(got);
      checked++;
    } else if (ev && strcmp(dir, "c2s") == 0 && c->open) {
      bxt_raw_close(&c->r, &e->loop, false);
      c->open = 0;
      closes++;
    }
    cJSON_Delete(rec);
  }
  free(line);
  fclose(f);
  assert_true(checked > 0);
  /* Nothing more came than FOAM2 sent: a last round trip on each open connection. */
  for (int k = 0; k <= DC_CONNS; k++) {
    dc_conn *c = &conns[k];
    if (!c->open) continue;
    bxt_raw_frame(&c->r, "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":"
                         "\"foam.box.SubBox\",\"name\":\"last\",\"delegate\":{\"class\":\"foam."
                         "box.ReturnBox\"}}},\"object\":{\"class\":\"foam.box.SubBoxMessage\","
                         "\"name\":\"todos\",\"object\":{\"class\":\"foam.box.RPCMessage\","
                         "\"name\":\"find_\",\"args\":[null,12345]}}}");
    char *got = dc_next(e, c, &skip);
    if (strstr(got, "\"name\":\"last\"") == NULL) fail_msg("an extra frame: %s", got);
    free(got);
    bxt_raw_close(&c->r, &e->loop, false);
  }
  /* A listener whose connection closed was detached on the next change. */
  if (closes > 0) assert_int_equal(bx_dao_service_listeners(e->todos), 0);
  assert_int_equal(e->warn, 0);
  dc_env_free(e);
}

/* Every capture file, each replayed against both stores (one cmocka test per pair). */
static const char *const dc_files[] = {
    "clientdao_tcp_2018",    "clientdao_tcp_2018-client_head-server",
    "clientdao_tcp_head",    "clientdao_tcp_head-client_2018-server",
    "clientdao_ws_2018",     "clientdao_ws_2018-client_head-server",
    "clientdao_ws_head",     "clientdao_ws_head-client_2018-server",
    "errors_tcp_2018",       "errors_tcp_head",
    "errors_ws_2018",        "errors_ws_head",
    "listen_tcp_2018",       "listen_tcp_2018-client_head-server",
    "listen_tcp_head",       "listen_tcp_head-client_2018-server",
    "listen_ws_2018",        "listen_ws_2018-client_head-server",
    "listen_ws_head",        "listen_ws_head-client_2018-server",
    "notification_tcp_head", "notification_ws_head",
    "polling_tcp_2018",      "polling_tcp_head",
    "polling_ws_2018",       "polling_ws_head",
    "streaming_tcp_2018",    "streaming_tcp_2018-client_head-server",
    "streaming_tcp_head",    "streaming_tcp_head-client_2018-server",
    "streaming_ws_2018",     "streaming_ws_2018-client_head-server",
    "streaming_ws_head",     "streaming_ws_head-client_2018-server",
};
#define DC_NFILES (sizeof dc_files / sizeof dc_files[0])

typedef struct dc_case {
  const char *file;
  bool sqlite;
  char name[96];
} dc_case;

static void test_capture(void **state) {
  const dc_case *c = *state;
  char file[128];
  snprintf(file, sizeof file, "%s.jsonl", c->file);
  dc_replay(file, c->sqlite);
}

int main(void) {
  static dc_case cases[DC_NFILES * 2];
  static struct CMUnitTest tests[DC_NFILES * 2];
  for (size_t i = 0; i < DC_NFILES * 2; i++) {
    dc_case *c = &cases[i];
    c->file = dc_files[i / 2];
    c->sqlite = i % 2 == 1;
    snprintf(c->name, sizeof c->name, "%s_%s", c->sqlite ? "sqlite" : "memory", c->file);
    tests[i] = (struct CMUnitTest){c->name, test_capture, NULL, NULL, c};
  }
  return cmocka_run_group_tests(tests, NULL, NULL);
}
