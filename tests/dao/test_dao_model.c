/* DAO models from C headers: bxgen reads tests/dao/todo.h (a struct with BX_DAO_ID and
 * BX_DATE) and emits test_todo_dao_model and the typed API. The generated model is the
 * captures' test.Todo; a struct goes to its FOAM object and back; a service over the
 * generated model serves the typed objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "todo_stub.h"
#include "todo_skeleton.h" /* both headers: the model block is emitted once */

#include "dao/todo_model.h"

static void test_model(void **state) {
  (void)state;
  const bx_dao_model *g = &test_todo_dao_model, *h = &bxt_todo_model;
  assert_string_equal(g->class_name, h->class_name);
  assert_int_equal(g->nfields, h->nfields);
  assert_int_equal(g->id_field, h->id_field);
  for (size_t i = 0; i < g->nfields; i++) {
    assert_string_equal(g->fields[i].name, h->fields[i].name);
    assert_int_equal(g->fields[i].type, h->fields[i].type);
  }
}

static void test_round_trip(void **state) {
  (void)state;
  char *tags[] = {"work", "docs"};
  test_todo t = {.id = 2,
                 .title = "Write spec",
                 .done = true,
                 .priority = 5,
                 .due = 1700000000000.0,
                 .tags = tags,
                 .ntags = 2};
  cJSON *o = test_todo_to_dao(&t);
  char *text = cJSON_PrintUnformatted(o);
  assert_string_equal(text,
                      "{\"class\":\"test.Todo\",\"id\":2,\"title\":\"Write spec\",\"done\":true,"
                      "\"priority\":5,\"due\":1700000000000,\"tags\":[\"work\",\"docs\"]}");
  free(text);
  test_todo back;
  assert_int_equal(test_todo_from_dao(o, &back), 0);
  assert_int_equal(back.id, 2);
  assert_string_equal(back.title, "Write spec");
  assert_true(back.done);
  assert_int_equal(back.priority, 5);
  assert_true(back.due == 1700000000000.0);
  assert_int_equal(back.ntags, 2);
  assert_string_equal(back.tags[1], "docs");
  test_todo_dao_clear(&back);
  cJSON_Delete(o);
  /* FOAM2's 2018 form: defaults left out, an ISO date; no date is NAN */
  cJSON *in = cJSON_Parse("{\"class\":\"test.Todo\",\"id\":5,\"title\":\"Plan trip\"}");
  assert_int_equal(test_todo_from_dao(in, &back), 0);
  assert_false(back.done);
  assert_true(isnan(back.due));
  assert_int_equal(back.ntags, 0);
  o = test_todo_to_dao(&back);
  assert_null(cJSON_GetObjectItem(o, "due"));
  cJSON_Delete(o);
  test_todo_dao_clear(&back);
  cJSON_Delete(in);
  /* refused: a wrong type, an int32 out of range */
  const char *bad[] = {"{\"class\":\"test.Todo\",\"id\":\"x\"}",
                       "{\"class\":\"test.Todo\",\"id\":1,\"priority\":3000000000}"};
  for (size_t i = 0; i < 2; i++) {
    in = cJSON_Parse(bad[i]);
    assert_int_equal(test_todo_from_dao(in, &back), BX_EBADARG);
    assert_null(back.title);
    cJSON_Delete(in);
  }
}

/* The generated model serves: put a typed object through the service, read it back typed. */
static void test_service(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx;
  assert_int_equal(bx_ctx_new(&loop, NULL, &ctx), 0);
  bx_dao_store *store;
  assert_int_equal(bx_dao_sqlite_store_new(&test_todo_dao_model, ":memory:", &store), 0);
  char *tags[] = {"home"};
  test_todo t = {.id = 1, .title = "Buy milk", .priority = 2, .due = NAN, .tags = tags, .ntags = 1};
  cJSON *o = test_todo_to_dao(&t), *norm;
  assert_int_equal(bx_dao_normalize(&test_todo_dao_model, o, &norm, NULL, 0), 0);
  assert_int_equal(store->ops->put(store, norm), 0);
  cJSON *id = cJSON_CreateNumber(1), *found;
  assert_int_equal(store->ops->find(store, id, &found), 0);
  test_todo back;
  assert_int_equal(test_todo_from_dao(found, &back), 0);
  assert_string_equal(back.title, "Buy milk");
  assert_string_equal(back.tags[0], "home");
  assert_true(isnan(back.due));
  test_todo_dao_clear(&back);
  cJSON_Delete(found);
  cJSON_Delete(id);
  cJSON_Delete(norm);
  cJSON_Delete(o);
  bx_dao_store_free(store);
  bx_ctx_close(ctx, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_service),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
