/* libFuzzer target for the mLang decoder (dao/mlang.c), the one place untrusted predicates and
 * comparators are read: any JSON must decode or fail cleanly (bounded depth and size), and
 * what decodes must give the same ids in the same order on the memory store (dao/eval.c) and on
 * the SQLite store (dao/sql.c, every value bound), and again after a round trip through
 * bx_mlang_to_json(). Sinks sent by value are decoded and fed too. Seed corpus: the predicates,
 * orders and sinks of the FOAM2 DAO captures. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dao_internal.h"
#include "../dao/todo_model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_rows[] = {
    "{\"id\":1,\"title\":\"Buy milk\",\"priority\":2,\"tags\":[\"home\"]}",
    "{\"id\":2,\"title\":\"Write spec\",\"done\":true,\"priority\":5,\"due\":1700000000000,"
    "\"tags\":[\"work\",\"docs\"]}",
    "{\"id\":3,\"title\":\"call Bob\",\"priority\":1}",
    "{\"id\":4,\"title\":\"100% a_b "
    "'x'\",\"done\":true,\"priority\":-3,\"due\":5,\"tags\":[\"%\"]}",
    "{\"id\":5,\"title\":\"\\u00dcn\\u00efc\\u00f6d\\u00e9\",\"priority\":4}",
};

static bx_dao_store *fz_mem, *fz_sql;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (bx_dao_memory_store_new(&bxt_todo_model, &fz_mem) != 0 ||
      bx_dao_sqlite_store_new(&bxt_todo_model, ":memory:", &fz_sql) != 0)
    abort();
  for (size_t i = 0; i < sizeof fz_rows / sizeof fz_rows[0]; i++) {
    cJSON *in = cJSON_Parse(fz_rows[i]), *obj;
    if (bx_dao_normalize(&bxt_todo_model, in, &obj, NULL, 0) != 0) abort();
    if (fz_mem->ops->put(fz_mem, obj) != 0 || fz_sql->ops->put(fz_sql, obj) != 0) abort();
    cJSON_Delete(obj);
    cJSON_Delete(in);
  }
  return 0;
}

typedef struct fz_ids {
  char text[256];
} fz_ids;

static int fz_row(const cJSON *obj, void *data) {
  fz_ids *ids = data;
  size_t n = strlen(ids->text);
  snprintf(ids->text + n, sizeof ids->text - n, "%.0f,",
           cJSON_GetObjectItem(obj, "id")->valuedouble);
  return 0;
}

static void fz_select(bx_dao_store *s, const bx_mlang *p, const bx_mlang *o, fz_ids *ids) {
  ids->text[0] = '\0';
  bx_dao_query q = {p, o, 0, BX_DAO_NO_LIMIT};
  if (s->ops->select(s, &q, fz_row, ids) != 0) abort();
}

/* The same answer from both stores, and from the re-encoded tree. */
static void fz_check(const bx_mlang *p, const bx_mlang *o) {
  fz_ids a, b;
  fz_select(fz_mem, p, o, &a);
  fz_select(fz_sql, p, o, &b);
  if (strcmp(a.text, b.text) != 0) {
    fprintf(stderr, "memory [%s] != sqlite [%s]\n", a.text, b.text);
    abort();
  }
  const bx_mlang *m = p ? p : o;
  cJSON *j = bx_mlang_to_json(&bxt_todo_model, m);
  if (j == NULL) return;
  bx_mlang *again = NULL;
  char err[160];
  if (bx_mlang_decode(&bxt_todo_model, j, p == NULL, &again, err, sizeof err) != 0) {
    fprintf(stderr, "re-encoded tree does not decode: %s\n", err);
    abort();
  }
  fz_select(fz_mem, p ? again : NULL, p ? NULL : again, &b);
  if (strcmp(a.text, b.text) != 0) abort();
  bx_mlang_free(again);
  cJSON_Delete(j);
}

static int fz_put(const cJSON *obj, void *data) {
  return bx__sink_put(data, obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *j = cJSON_ParseWithLength((const char *)data, size);
  if (j == NULL) return 0;
  char err[160];
  for (int order = 0; order < 2; order++) {
    bx_mlang *m = NULL;
    if (bx_mlang_decode(&bxt_todo_model, j, order, &m, err, sizeof err) == 0 && m != NULL)
      fz_check(order ? NULL : m, order ? m : NULL);
    bx_mlang_free(m);
  }
  dao_sink *sink;
  if (bx__sink_decode(&bxt_todo_model, j, 0, &sink, err, sizeof err) == 0) {
    bx_dao_query q = {NULL, NULL, 0, BX_DAO_NO_LIMIT};
    fz_mem->ops->select(fz_mem, &q, fz_put, sink);
    cJSON_Delete(bx__sink_result(sink));
    bx__sink_free(sink);
  }
  cJSON_Delete(j);
  return 0;
}
