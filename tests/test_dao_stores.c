/* The DAO stores against one table of operations: every query runs on the memory store and on
 * the SQLite store and both must give the expected ids in the expected order (strings in
 * code-point order, ties by id, absent dates after every date, type-strict comparisons).
 * Hostile values (quotes, %, _, SQL) only ever match as data; SQLite keeps everything across a
 * restart; the mLang decoder refuses what it does not implement by name, Func included, and
 * bounds depth and size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "dao/dao_testutil.h"

#define P(name) "{\"class\":\"__Property__\",\"forClass_\":\"test.Todo\",\"name\":\"" name "\"}"
#define C(v) "{\"class\":\"foam.mlang.Constant\",\"value\":" v "}"
#define BIN(op, a, b) "{\"class\":\"foam.mlang.predicate." op "\",\"arg1\":" a ",\"arg2\":" b "}"
#define ONE(op, a) "{\"class\":\"foam.mlang.predicate." op "\",\"arg1\":" a "}"
#define DESC(a) "{\"class\":\"foam.mlang.order.Desc\",\"arg1\":" a "}"
#define THEN(a, b) "{\"class\":\"foam.mlang.order.ThenBy\",\"head\":" a ",\"tail\":" b "}"

typedef struct st_case {
  const char *pred, *order;
  int64_t skip, limit;
  const char *want;
} st_case;

static const st_case st_cases[] = {
    {NULL, NULL, 0, BX_DAO_NO_LIMIT, "1,2,3,4,5,6,7,8,9,10,11"},
    {NULL, NULL, 2, 3, "3,4,5"},
    {NULL, NULL, 0, 0, ""},
    {NULL, NULL, 20, 5, ""},
    {BIN("Eq", P("done"), C("true")), NULL, 0, BX_DAO_NO_LIMIT, "2,4,7"},
    {BIN("Eq", P("done"), C("false")), NULL, 0, BX_DAO_NO_LIMIT, "1,3,5,6,8,9,10,11"},
    {BIN("Eq", P("priority"), C("\"4\"")), NULL, 0, BX_DAO_NO_LIMIT, ""}, /* type-strict */
    {BIN("Neq", P("priority"), C("\"4\"")), NULL, 0, BX_DAO_NO_LIMIT, "1,2,3,4,5,6,7,8,9,10,11"},
    {BIN("Eq", P("priority"), C("0")), NULL, 0, BX_DAO_NO_LIMIT, "7,9"}, /* absent: default */
    {BIN("Lt", P("priority"), C("2")), NULL, 0, BX_DAO_NO_LIMIT, "3,7,8,9"},
    {BIN("Gte", C("2"), P("priority")), NULL, 0, BX_DAO_NO_LIMIT, "1,3,6,7,8,9"}, /* reversed */
    {BIN("Gt", P("due"), C("1600000000000")), NULL, 0, BX_DAO_NO_LIMIT, "1,2,3,4,6,8,9,10"},
    {BIN("Lt", P("due"), C("1700000000000")), NULL, 0, BX_DAO_NO_LIMIT, "5,7,11"},
    {BIN("Eq", P("due"), C("{\"class\":\"__Timestamp__\",\"value\":1700000000000}")), NULL, 0,
     BX_DAO_NO_LIMIT, "2,10"},
    {BIN("Eq", P("due"), C("\"2020-09-13T12:26:40.000Z\"")), NULL, 0, BX_DAO_NO_LIMIT, "5,7"},
    {"{\"class\":\"foam.mlang.predicate.Not\",\"arg1\":" BIN("Lt", P("due"),
                                                             C("1700000000000")) "}",
     NULL, 0, BX_DAO_NO_LIMIT, "1,2,3,4,6,8,9,10"},
    {"{\"class\":\"foam.mlang.predicate.And\",\"args\":[" BIN("Gt", P("priority"), C("1")) "," BIN(
         "Eq", P("done"), C("false")) "]}",
     NULL, 0, BX_DAO_NO_LIMIT, "1,5,6,10,11"},
    {"{\"class\":\"foam.mlang.predicate.Or\",\"args\":[]}", NULL, 0, BX_DAO_NO_LIMIT, ""},
    {"{\"class\":\"foam.mlang.predicate.And\"}", NULL, 0, 3, "1,2,3"},
    {"{\"class\":\"foam.mlang.predicate.In\",\"arg1\":" P("id") ",\"upperCase_\":false,\"arg2\":" C(
         "[1,3,99,\"4\"]") ",\"valueSet_\":null}",
     NULL, 0, BX_DAO_NO_LIMIT, "1,3"},
    {"{\"class\":\"foam.mlang.predicate.In\",\"arg1\":" C("\"home\"") ",\"arg2\":" P("tags") "}",
     NULL, 0, BX_DAO_NO_LIMIT, "1,10"},
    {BIN("Contains", P("title"), C("\"Bob\"")), NULL, 0, BX_DAO_NO_LIMIT, "3"},
    {BIN("Contains", P("title"), C("\"bob\"")), NULL, 0, BX_DAO_NO_LIMIT, ""},
    {BIN("ContainsIC", P("title"), C("\"BOB\"")), NULL, 0, BX_DAO_NO_LIMIT, "3"},
    {BIN("Contains", P("tags"), C("\"or\"")), NULL, 0, BX_DAO_NO_LIMIT, "2,4,10"},
    {BIN("StartsWith", P("title"), C("\"Z\"")), NULL, 0, BX_DAO_NO_LIMIT, "11"},
    {BIN("StartsWithIC", P("title"), C("\"z\"")), NULL, 0, BX_DAO_NO_LIMIT, "10,11"},
    {BIN("EndsWith", P("title"), C("\"trip\"")), NULL, 0, BX_DAO_NO_LIMIT, "5"},
    {BIN("EndsWith", P("title"), C("\"\"")), NULL, 0, 2, "1,2"},
    {BIN("ContainsIC", P("title"), C("\"\\u00fcN\"")), NULL, 0, BX_DAO_NO_LIMIT, ""}, /* ASCII */
    {BIN("ContainsIC", P("title"), C("\"\\u00dcN\"")), NULL, 0, BX_DAO_NO_LIMIT, "8"},
    /* LIKE metacharacters are literal */
    {BIN("Contains", P("title"), C("\"%\"")), NULL, 0, BX_DAO_NO_LIMIT, "6"},
    {BIN("Contains", P("title"), C("\"_\"")), NULL, 0, BX_DAO_NO_LIMIT, "6"},
    {BIN("StartsWith", P("title"), C("\"1_0\"")), NULL, 0, BX_DAO_NO_LIMIT, ""},
    {BIN("Contains", P("tags"), C("\"%\"")), NULL, 0, BX_DAO_NO_LIMIT, "6"},
    /* SQL in values is data */
    {BIN("Eq", P("title"), C("\"x' OR '1'='1\"")), NULL, 0, BX_DAO_NO_LIMIT, ""},
    {BIN("Contains", P("title"), C("\"'; DROP TABLE\"")), NULL, 0, BX_DAO_NO_LIMIT, ""},
    {BIN("Contains", P("title"), C("\"\\\"; DROP TABLE\"")), NULL, 0, BX_DAO_NO_LIMIT, "7"},
    {BIN("Eq", P("title"), C("\"a\\u0000b\"")), NULL, 0, BX_DAO_NO_LIMIT, ""},
    {ONE("Has", P("tags")), NULL, 0, BX_DAO_NO_LIMIT, "1,2,4,6,8,10"},
    {ONE("Has", P("due")), NULL, 0, BX_DAO_NO_LIMIT, "2,5,7,10,11"},
    {ONE("Has", P("done")), NULL, 0, 4, "1,2,3,4"},
    {ONE("Has", P("title")), NULL, 0, BX_DAO_NO_LIMIT, "1,2,3,4,5,6,7,8,10,11"},
    {ONE("Keyword", C("\"WORK\"")), NULL, 0, BX_DAO_NO_LIMIT, "2,4,10"},
    {ONE("Keyword", C("\"bug\"")), NULL, 0, BX_DAO_NO_LIMIT, "4"},
    {"{\"class\":\"foam.mlang.predicate.False\"}", NULL, 0, BX_DAO_NO_LIMIT, ""},
    {"{\"class\":\"foam.mlang.predicate.True\"}", NULL, 9, 5, "10,11"},
    /* orders: code-point strings, ties by id whatever the direction, absent dates last */
    {NULL, P("title"), 0, BX_DAO_NO_LIMIT, "9,6,1,4,7,5,2,11,3,10,8"},
    {NULL, DESC(P("title")), 0, 3, "8,10,3"},
    {NULL, P("priority"), 0, BX_DAO_NO_LIMIT, "8,7,9,3,1,6,4,5,10,11,2"},
    {NULL, DESC(P("priority")), 0, BX_DAO_NO_LIMIT, "2,5,10,11,4,1,6,3,7,9,8"},
    {NULL, THEN(P("done"), DESC(P("title"))), 0, BX_DAO_NO_LIMIT, "8,10,3,11,5,1,6,9,2,7,4"},
    {NULL, DESC(THEN(P("done"), P("priority"))), 0, 4, "2,4,7,5"},
    {NULL, P("due"), 0, BX_DAO_NO_LIMIT, "11,5,7,2,10,1,3,4,6,8,9"},
    {NULL, DESC(P("due")), 0, BX_DAO_NO_LIMIT, "1,3,4,6,8,9,2,10,5,7,11"},
    {BIN("Gt", P("priority"), C("1")), DESC(P("priority")), 1, 2, "5,10"},
};

static bx_dao_store *st_fill(bx_dao_store *s) {
  for (size_t i = 0; i < BXT_NTODOS; i++)
    assert_int_equal(bxt_put_json(s, bxt_todos[i]), 0);
  return s;
}

static bx_mlang *st_decode(const char *json, bool order) {
  if (json == NULL) return NULL;
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  bx_mlang *m;
  char err[160];
  int rc = bx_mlang_decode(&bxt_todo_model, j, order, &m, err, sizeof err);
  if (rc) fail_msg("%s: %s", json, err);
  cJSON_Delete(j);
  return m;
}

static void test_table(void **state) {
  (void)state;
  bx_dao_store *mem, *sql;
  assert_int_equal(bx_dao_memory_store_new(&bxt_todo_model, &mem), 0);
  assert_int_equal(bx_dao_sqlite_store_new(&bxt_todo_model, ":memory:", &sql), 0);
  st_fill(mem);
  st_fill(sql);
  for (size_t i = 0; i < sizeof st_cases / sizeof st_cases[0]; i++) {
    const st_case *c = &st_cases[i];
    bx_mlang *p = st_decode(c->pred, false), *o = st_decode(c->order, true);
    bxt_ids a, b;
    assert_int_equal(bxt_select_ids(mem, p, o, c->skip, c->limit, &a), 0);
    assert_int_equal(bxt_select_ids(sql, p, o, c->skip, c->limit, &b), 0);
    if (strcmp(a.text, c->want) != 0 || strcmp(b.text, c->want) != 0)
      fail_msg("case %zu (%s | %s): want [%s], memory [%s], sqlite [%s]", i,
               c->pred ? c->pred : "-", c->order ? c->order : "-", c->want, a.text, b.text);
    bx_mlang_free(p);
    bx_mlang_free(o);
  }
  /* find / remove / put by id on both */
  bx_dao_store *stores[] = {mem, sql};
  for (int k = 0; k < 2; k++) {
    bx_dao_store *s = stores[k];
    cJSON *id = cJSON_CreateNumber(7), *sid = cJSON_CreateString("7"), *o;
    assert_int_equal(s->ops->find(s, id, &o), 0);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "title")->valuestring,
                        "O'Brien said \"hi\"; DROP TABLE x;--");
    assert_null(cJSON_GetObjectItem(o, "priority") == NULL ? NULL : NULL);
    cJSON_Delete(o);
    assert_int_equal(s->ops->find(s, sid, &o), 0); /* the key's type must match */
    assert_null(o);
    assert_int_equal(s->ops->remove(s, id, &o), 0);
    assert_non_null(o);
    cJSON_Delete(o);
    assert_int_equal(s->ops->remove(s, id, &o), 0);
    assert_null(o);
    bxt_ids ids;
    assert_int_equal(bxt_select_ids(s, NULL, NULL, 0, BX_DAO_NO_LIMIT, &ids), 0);
    assert_string_equal(ids.text, "1,2,3,4,5,6,8,9,10,11");
    cJSON_Delete(id);
    cJSON_Delete(sid);
  }
  bx_dao_store_free(mem);
  bx_dao_store_free(sql);
}

static void test_sqlite_restart(void **state) {
  (void)state;
  char path[] = "/tmp/bx-dao-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  bx_dao_store *s;
  assert_int_equal(bx_dao_sqlite_store_new(&bxt_todo_model, path, &s), 0);
  st_fill(s);
  bxt_ids before, after;
  assert_int_equal(bxt_select_ids(s, NULL, NULL, 0, BX_DAO_NO_LIMIT, &before), 0);
  bx_dao_store_free(s);
  assert_int_equal(bx_dao_sqlite_store_new(&bxt_todo_model, path, &s), 0);
  assert_int_equal(bxt_select_ids(s, NULL, NULL, 0, BX_DAO_NO_LIMIT, &after), 0);
  assert_string_equal(before.text, after.text);
  cJSON *id = cJSON_CreateNumber(2), *o;
  assert_int_equal(s->ops->find(s, id, &o), 0);
  cJSON *want = cJSON_Parse(bxt_todos[1]);
  cJSON *norm;
  assert_int_equal(bx_dao_normalize(&bxt_todo_model, want, &norm, NULL, 0), 0);
  assert_true(cJSON_Compare(o, norm, true));
  cJSON_Delete(o);
  cJSON_Delete(norm);
  cJSON_Delete(want);
  cJSON_Delete(id);
  bx_dao_store_free(s);
  unlink(path);
}

static int st_decode_rc(const char *json, bool order, char *err, size_t len) {
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  bx_mlang *m = NULL;
  int rc = bx_mlang_decode(&bxt_todo_model, j, order, &m, err, len);
  cJSON_Delete(j);
  bx_mlang_free(m);
  return rc;
}

static void test_refused(void **state) {
  (void)state;
  char err[160];
  assert_int_equal(st_decode_rc("{\"class\":\"foam.mlang.predicate.Func\",\"fn\":\"function(o) { "
                                "return o.id > 0; }\"}",
                                false, err, sizeof err),
                   BX_ENOTSUP);
  assert_string_equal(err, "unsupported mLang class foam.mlang.predicate.Func");
  assert_int_equal(
      st_decode_rc("{\"class\":\"foam.mlang.predicate.RegExp\",\"arg1\":" P("title") "}", false,
                   err, sizeof err),
      BX_ENOTSUP);
  assert_string_equal(err, "unsupported mLang class foam.mlang.predicate.RegExp");
  assert_int_equal(st_decode_rc(BIN("Eq", P("nosuch"), C("1")), false, err, sizeof err),
                   BX_EBADARG);
  assert_int_equal(st_decode_rc(P("title"), false, err, sizeof err), BX_EBADARG); /* not a pred */
  assert_int_equal(st_decode_rc(ONE("Has", P("id")), true, err, sizeof err), BX_EBADARG);
  assert_int_equal(st_decode_rc(P("tags"), true, err, sizeof err), BX_ENOTSUP);
  /* depth: Not(Not(...)) 40 deep */
  char deep[4096] = "";
  for (int i = 0; i < 40; i++)
    strcat(deep, "{\"class\":\"foam.mlang.predicate.Not\",\"arg1\":");
  strcat(deep, "{\"class\":\"foam.mlang.predicate.True\"}");
  for (int i = 0; i < 40; i++)
    strcat(deep, "}");
  assert_int_equal(st_decode_rc(deep, false, err, sizeof err), BX_ETOODEEP);
  /* size: an Or of 2000 Trues */
  size_t cap = 2000 * 40 + 100;
  char *wide = malloc(cap);
  strcpy(wide, "{\"class\":\"foam.mlang.predicate.Or\",\"args\":[");
  for (int i = 0; i < 2000; i++)
    strcat(wide, i ? ",{\"class\":\"foam.mlang.predicate.True\"}"
                   : "{\"class\":\"foam.mlang.predicate.True\"}");
  strcat(wide, "]}");
  assert_int_equal(st_decode_rc(wide, false, err, sizeof err), BX_EMSGSIZE);
  free(wide);
}

static void test_normalize(void **state) {
  (void)state;
  char err[160];
  cJSON *out;
  const char *bad[] = {
      "{\"class\":\"test.Other\",\"id\":1}",
      "{\"class\":\"test.Todo\",\"id\":1.5}",
      "{\"class\":\"test.Todo\",\"id\":1,\"done\":1}",
      "{\"class\":\"test.Todo\",\"tags\":[1]}",
      "{\"class\":\"test.Todo\",\"due\":\"yesterday\"}",
      "[1]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *in = cJSON_Parse(bad[i]);
    assert_int_equal(bx_dao_normalize(&bxt_todo_model, in, &out, err, sizeof err), BX_EBADARG);
    assert_null(out);
    cJSON_Delete(in);
  }
  cJSON *in = cJSON_Parse("{\"class\":\"test.Todo\",\"id\":3,\"extra\":1,\"due\":"
                          "\"2023-11-14T22:13:20.000Z\"}");
  assert_int_equal(bx_dao_normalize(&bxt_todo_model, in, &out, err, sizeof err), 0);
  char *text = cJSON_PrintUnformatted(out);
  assert_string_equal(text, "{\"class\":\"test.Todo\",\"id\":3,\"title\":\"\",\"done\":false,"
                            "\"priority\":0,\"due\":1700000000000,\"tags\":[]}");
  free(text);
  cJSON_Delete(out);
  cJSON_Delete(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_sqlite_restart),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_normalize),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
