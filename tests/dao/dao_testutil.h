/* Helpers of the DAO tests: a data set of test.Todo objects and selects into id lists. */
#ifndef BXT_DAO_TESTUTIL_H
#define BXT_DAO_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bx.h"
#include "todo_model.h"

/* Todos with mixed case, non-ASCII, SQL and LIKE metacharacters, absent dates, arrays. */
static const char *const bxt_todos[] = {
    "{\"class\":\"test.Todo\",\"id\":1,\"title\":\"Buy milk\",\"done\":false,\"priority\":2,"
    "\"tags\":[\"home\"]}",
    "{\"class\":\"test.Todo\",\"id\":2,\"title\":\"Write spec\",\"done\":true,\"priority\":5,"
    "\"due\":1700000000000,\"tags\":[\"work\",\"docs\"]}",
    "{\"class\":\"test.Todo\",\"id\":3,\"title\":\"call Bob\",\"priority\":1}",
    "{\"class\":\"test.Todo\",\"id\":4,\"title\":\"Fix bug #42\",\"done\":true,\"priority\":3,"
    "\"tags\":[\"work\"]}",
    "{\"class\":\"test.Todo\",\"id\":5,\"title\":\"Plan trip\",\"priority\":4,"
    "\"due\":\"2020-09-13T12:26:40.000Z\"}",
    "{\"class\":\"test.Todo\",\"id\":6,\"title\":\"100% done_ish\",\"priority\":2,"
    "\"tags\":[\"50%\",\"a_b\"]}",
    "{\"class\":\"test.Todo\",\"id\":7,\"title\":\"O'Brien said \\\"hi\\\"; DROP TABLE x;--\","
    "\"done\":true,\"due\":1600000000000}",
    "{\"class\":\"test.Todo\",\"id\":8,\"title\":\"\\u00dcn\\u00efc\\u00f6d\\u00e9 caf\\u00e9\","
    "\"priority\":-3,\"tags\":[\"\\u00fc\"]}",
    "{\"class\":\"test.Todo\",\"id\":9,\"title\":\"\",\"priority\":0,\"tags\":[]}",
    "{\"class\":\"test.Todo\",\"id\":10,\"title\":\"zebra\",\"done\":false,\"priority\":4,"
    "\"due\":1700000000000,\"tags\":[\"home\",\"work\"]}",
    "{\"class\":\"test.Todo\",\"id\":11,\"title\":\"Zebra\",\"priority\":4,\"due\":1}",
};
#define BXT_NTODOS (sizeof bxt_todos / sizeof bxt_todos[0])

static inline int bxt_put_json(bx_dao_store *s, const char *json) {
  cJSON *in = cJSON_Parse(json), *obj;
  int rc = bx_dao_normalize(&bxt_todo_model, in, &obj, NULL, 0);
  cJSON_Delete(in);
  if (rc) return rc;
  rc = s->ops->put(s, obj);
  cJSON_Delete(obj);
  return rc;
}

typedef struct bxt_ids {
  char text[1024]; /* "1,2,3" */
} bxt_ids;

static inline int bxt_ids_row(const cJSON *obj, void *data) {
  bxt_ids *ids = data;
  size_t n = strlen(ids->text);
  snprintf(ids->text + n, sizeof ids->text - n, "%s%.0f", n ? "," : "",
           cJSON_GetObjectItem(obj, "id")->valuedouble);
  return 0;
}

/* Runs a select; returns its status and the ids in *ids. */
static inline int bxt_select_ids(bx_dao_store *s, const bx_mlang *pred, const bx_mlang *order,
                                 int64_t skip, int64_t limit, bxt_ids *ids) {
  ids->text[0] = '\0';
  bx_dao_query q = {pred, order, skip, limit};
  return s->ops->select(s, &q, bxt_ids_row, ids);
}

#endif
