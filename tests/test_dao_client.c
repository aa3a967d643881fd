/* bx_dao_client against bx's own DAO service over a real TCP connection (two contexts on one
 * loop): put/find/remove/select/removeAll (skip, limit and order honoured)/listen, predicates
 * from the builders and from the text syntax, errors from the service, and on a raw
 * connection that listens and writes: the notification comes before the writer's reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "dao/dao_testutil.h"
#include "transport/raw_client.h"

typedef struct ct_env {
  uv_loop_t loop;
  bx_ctx *sctx, *cctx;
  bx_dao_store *store;
  bx_box *service, *conn, *todos;
  bx_listener *l;
  bx_dao_client *dao;
  int closed;
  /* the last completion */
  int done, status;
  cJSON *data;
  char error[200];
  /* events */
  char events[1024];
} ct_env;

static ct_env *ct_new(bool sqlite) {
  ct_env *e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  assert_int_equal(bx_ctx_new(&e->loop, NULL, &e->sctx), 0);
  assert_int_equal(bx_ctx_new(&e->loop, NULL, &e->cctx), 0);
  if (sqlite)
    assert_int_equal(bx_dao_sqlite_store_new(&bxt_todo_model, ":memory:", &e->store), 0);
  else
    assert_int_equal(bx_dao_memory_store_new(&bxt_todo_model, &e->store), 0);
  assert_int_equal(bx_dao_service_new(e->sctx, &bxt_todo_model, e->store, NULL, &e->service), 0);
  assert_int_equal(bx_register(bx_ctx_registry(e->sctx), "todos", e->service, NULL), 0);
  assert_int_equal(bx_listen(e->sctx, "tcp://127.0.0.1:0", NULL, &e->l), 0);
  assert_int_equal(bx_connect(e->cctx, bx_listener_url(e->l), NULL, &e->conn), 0);
  assert_int_equal(bx_sub_box_new(e->cctx, "todos", e->conn, &e->todos), 0);
  assert_int_equal(bx_dao_client_new(e->todos, &bxt_todo_model, &e->dao), 0);
  return e;
}

static void ct_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  ((ct_env *)data)->closed++;
}

static void ct_free(ct_env *e) {
  bx_dao_client_free(e->dao);
  bx_box_unref(e->todos);
  bx_box_unref(e->conn);
  bx_box_unref(e->service);
  cJSON_Delete(e->data);
  assert_int_equal(bx_ctx_close(e->cctx, ct_closed, e), 0);
  assert_int_equal(bx_ctx_close(e->sctx, ct_closed, e), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 2);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  bx_dao_store_free(e->store);
  free(e);
}

static void ct_cb(int status, const cJSON *data, const char *error, void *arg) {
  ct_env *e = arg;
  e->done = 1;
  e->status = status;
  cJSON_Delete(e->data);
  e->data = data ? cJSON_Duplicate(data, true) : NULL;
  snprintf(e->error, sizeof e->error, "%s", error ? error : "");
}

static void ct_wait(ct_env *e) {
  while (!e->done)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE) || e->done);
  e->done = 0;
}

/* The ids of an ArraySink reply. */
static const char *ct_ids(ct_env *e, char *buf, size_t len) {
  buf[0] = '\0';
  const cJSON *arr = cJSON_GetObjectItem(e->data, "array");
  for (const cJSON *o = arr ? arr->child : NULL; o != NULL; o = o->next) {
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%s%.0f", n ? "," : "", cJSON_GetObjectItem(o, "id")->valuedouble);
  }
  return buf;
}

static void ct_fill(ct_env *e) {
  for (size_t i = 0; i < BXT_NTODOS; i++) {
    cJSON *o = cJSON_Parse(bxt_todos[i]);
    assert_int_equal(bx_dao_put(e->dao, o, ct_cb, e), 0);
    cJSON_Delete(o);
    ct_wait(e);
    assert_int_equal(e->status, 0);
  }
}

static void ct_select_where(ct_env *e, const char *where, const char *order, int64_t skip,
                            int64_t limit, const char *want) {
  cJSON *w = NULL, *o = NULL;
  char err[160], ids[256];
  if (where) assert_int_equal(bx_dao_where_parse(&bxt_todo_model, where, &w, err, sizeof err), 0);
  if (order) assert_int_equal(bx_dao_order_parse(&bxt_todo_model, order, &o, err, sizeof err), 0);
  bx_dao_select_opts so = {w, o, skip, limit, NULL};
  assert_int_equal(bx_dao_select(e->dao, &so, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  if (strcmp(ct_ids(e, ids, sizeof ids), want) != 0)
    fail_msg("where %s order %s: want [%s] got [%s]", where ? where : "-", order ? order : "-",
             want, ids);
  cJSON_Delete(w);
  cJSON_Delete(o);
}

static void ct_all(bool sqlite) {
  ct_env *e = ct_new(sqlite);
  ct_fill(e);
  char ids[256];
  /* find, with the key's type */
  cJSON *id = cJSON_CreateNumber(2);
  assert_int_equal(bx_dao_find(e->dao, id, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  assert_string_equal(cJSON_GetObjectItem(e->data, "title")->valuestring, "Write spec");
  cJSON_Delete(id);
  id = cJSON_CreateString("2");
  assert_int_equal(bx_dao_find(e->dao, id, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  assert_null(e->data);
  cJSON_Delete(id);
  /* the text syntax */
  ct_select_where(e, "done = true", NULL, 0, 0, "2,4,7");
  ct_select_where(e, "priority > 1 and not done=true", "-priority,title", 0, 3, "5,11,10");
  ct_select_where(e, "title ~ bob or tags = home", NULL, 0, 0, "1,3,10");
  ct_select_where(e, "title ^ \"z\"", NULL, 0, 0, "10,11");
  ct_select_where(e, "id in (1, 3, 99)", NULL, 0, 0, "1,3");
  ct_select_where(e, "has due and due < 2020-09-14T00:00:00.000Z", "due", 0, 0, "11,5,7");
  ct_select_where(e, "(priority = 4 or priority = 5) and done = false", NULL, 1, 0, "10,11");
  /* builders, and a Count by value */
  cJSON *w =
      bx_dao_pred("Eq", bx_dao_prop(&bxt_todo_model, "done"), bx_dao_const(cJSON_CreateTrue()));
  cJSON *count = bx_json_new_object("foam.mlang.sink.Count");
  bx_dao_select_opts so = {w, NULL, 0, 0, count};
  assert_int_equal(bx_dao_select(e->dao, &so, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  assert_int_equal(cJSON_GetObjectItem(e->data, "value")->valueint, 3);
  cJSON_Delete(count);
  /* errors come back with the service's text */
  cJSON *fn = cJSON_Parse("{\"class\":\"foam.mlang.predicate.Func\",\"fn\":\"function(o){}\"}");
  bx_dao_select_opts bad = {fn, NULL, 0, 0, NULL};
  assert_int_equal(bx_dao_select(e->dao, &bad, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, BX_EREMOTE);
  assert_non_null(strstr(e->error, "unsupported mLang class foam.mlang.predicate.Func"));
  cJSON_Delete(fn);
  cJSON *badobj = cJSON_Parse("{\"class\":\"test.Todo\",\"id\":\"x\"}");
  assert_int_equal(bx_dao_put(e->dao, badobj, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, BX_EREMOTE);
  cJSON_Delete(badobj);
  /* removeAll honours skip, limit and order: the two highest-priority done todos but the first */
  bx_dao_select_opts ra = {w, NULL, 1, 2, NULL};
  cJSON *ord = bx_dao_desc(bx_dao_prop(&bxt_todo_model, "priority"));
  ra.order = ord;
  assert_int_equal(bx_dao_remove_all(e->dao, &ra, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  ct_select_where(e, "done = true", NULL, 0, 0, "2");
  cJSON_Delete(ord);
  cJSON_Delete(w);
  /* remove by bare key: the removed object comes back */
  id = cJSON_CreateNumber(2);
  assert_int_equal(bx_dao_remove(e->dao, id, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  assert_string_equal(cJSON_GetObjectItem(e->data, "title")->valuestring, "Write spec");
  assert_int_equal(bx_dao_remove(e->dao, id, ct_cb, e), 0);
  ct_wait(e);
  assert_null(e->data);
  cJSON_Delete(id);
  bx_dao_select_opts all = {0};
  assert_int_equal(bx_dao_select(e->dao, &all, ct_cb, e), 0);
  ct_wait(e);
  assert_string_equal(ct_ids(e, ids, sizeof ids), "1,3,5,6,8,9,10,11");
  ct_free(e);
}

static void test_memory(void **state) {
  (void)state;
  ct_all(false);
}

static void test_sqlite(void **state) {
  (void)state;
  ct_all(true);
}

typedef struct ct_rows {
  char ids[256];
  int n;
} ct_rows;

static int ct_row(const cJSON *obj, void *arg) {
  ct_rows *r = arg;
  size_t n = strlen(r->ids);
  snprintf(r->ids + n, sizeof r->ids - n, "%s%.0f", n ? "," : "",
           cJSON_GetObjectItem(obj, "id")->valuedouble);
  r->n++;
  return 0;
}

/* A select into a sink by reference: rows streamed, then eof, then the reply. */
static void test_select_stream(void **state) {
  (void)state;
  ct_env *e = ct_new(true);
  ct_fill(e);
  ct_rows rows = {"", 0};
  cJSON *ord = bx_dao_desc(bx_dao_prop(&bxt_todo_model, "priority"));
  bx_dao_select_opts so = {NULL, ord, 1, 3, NULL};
  assert_int_equal(bx_dao_select_stream(e->dao, &so, ct_row, &rows, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  assert_string_equal(rows.ids, "5,10,11");
  rows.ids[0] = '\0';
  cJSON *none =
      bx_dao_pred("Eq", bx_dao_prop(&bxt_todo_model, "id"), bx_dao_const(cJSON_CreateNumber(99)));
  bx_dao_select_opts empty = {none, NULL, 0, 0, NULL};
  assert_int_equal(bx_dao_select_stream(e->dao, &empty, ct_row, &rows, ct_cb, e), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  assert_string_equal(rows.ids, "");
  cJSON_Delete(none);
  cJSON_Delete(ord);
  ct_free(e);
}

static void ct_event(const char *event, const cJSON *obj, void *arg) {
  ct_env *e = arg;
  size_t n = strlen(e->events);
  snprintf(e->events + n, sizeof e->events - n, "%s%s %.0f", n ? "," : "", event,
           obj ? cJSON_GetObjectItem(obj, "id")->valuedouble : -1.0);
}

static void test_listen(void **state) {
  (void)state;
  ct_env *e = ct_new(false);
  bx_dao_listener *all, *filtered;
  assert_int_equal(bx_dao_listen(e->dao, NULL, ct_event, e, ct_cb, e, &all), 0);
  ct_wait(e);
  assert_int_equal(e->status, 0);
  cJSON *w =
      bx_dao_pred("Eq", bx_dao_prop(&bxt_todo_model, "done"), bx_dao_const(cJSON_CreateTrue()));
  assert_int_equal(bx_dao_listen(e->dao, w, ct_event, e, ct_cb, e, &filtered), 0);
  cJSON_Delete(w);
  ct_wait(e);
  assert_int_equal(bx_dao_service_listeners(e->service), 2);
  cJSON *o = cJSON_Parse(bxt_todos[0]);
  assert_int_equal(bx_dao_put(e->dao, o, ct_cb, e), 0);
  ct_wait(e);
  cJSON_Delete(o);
  cJSON *id = cJSON_CreateNumber(1);
  assert_int_equal(bx_dao_remove(e->dao, id, ct_cb, e), 0);
  ct_wait(e);
  cJSON_Delete(id);
  while (strlen(e->events) < strlen("reset -1,put 1,reset -1,remove 1"))
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  /* newest listener first; with a predicate: reset (FOAM2 JS style) */
  assert_string_equal(e->events, "reset -1,put 1,reset -1,remove 1");
  bx_dao_unlisten(all);
  bx_dao_unlisten(filtered);
  ct_free(e);
}

/* One raw connection listens and writes: the notification is on the wire before the reply. */
static void test_notify_before_reply(void **state) {
  (void)state;
  ct_env *e = ct_new(false);
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));
  bxt_raw_frame(&r, "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":"
                    "\"foam.box.SubBox\",\"name\":\"1\",\"delegate\":{\"class\":\"foam.box."
                    "ReturnBox\"}}},\"object\":{\"class\":\"foam.box.SubBoxMessage\",\"name\":"
                    "\"todos\",\"object\":{\"class\":\"foam.box.RPCMessage\",\"name\":\"listen_\","
                    "\"args\":[null,{\"class\":\"foam.dao.ClientSink\",\"delegate\":{\"class\":"
                    "\"foam.box.SubBox\",\"name\":\"9\",\"delegate\":{\"class\":\"foam.box."
                    "ReturnBox\"}}},null]}}}");
  bxt_raw_wait_frames(&e->loop, &r, 1);
  bxt_raw_frame(&r, "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":"
                    "\"foam.box.SubBox\",\"name\":\"2\",\"delegate\":{\"class\":\"foam.box."
                    "ReturnBox\"}}},\"object\":{\"class\":\"foam.box.SubBoxMessage\",\"name\":"
                    "\"todos\",\"object\":{\"class\":\"foam.box.RPCMessage\",\"name\":\"put_\","
                    "\"args\":[null,{\"class\":\"test.Todo\",\"id\":5}]}}}");
  bxt_raw_wait_frames(&e->loop, &r, 3);
  assert_non_null(strstr(r.frames[1], "\"name\":\"9\""));
  assert_non_null(strstr(r.frames[1], "\"name\":\"put\""));
  assert_non_null(strstr(r.frames[2], "\"name\":\"2\""));
  assert_non_null(strstr(r.frames[2], "RPCReturnMessage"));
  bxt_raw_close(&r, &e->loop, false);
  /* its connection closed: the next change detaches the listener */
  assert_int_equal(bx_dao_service_listeners(e->service), 1);
  cJSON *o = cJSON_Parse(bxt_todos[0]);
  assert_int_equal(bx_dao_put(e->dao, o, ct_cb, e), 0);
  ct_wait(e);
  cJSON_Delete(o);
  assert_int_equal(e->status, 0);
  assert_int_equal(bx_dao_service_listeners(e->service), 0);
  ct_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory),
      cmocka_unit_test(test_sqlite),
      cmocka_unit_test(test_listen),
      cmocka_unit_test(test_select_stream),
      cmocka_unit_test(test_notify_before_reply),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
