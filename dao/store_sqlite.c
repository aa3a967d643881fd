/* The SQLite store: one table per model ("test.Todo" -> "test_Todo"), one column per field
 * (INTEGER, REAL, TEXT; booleans 0/1, dates epoch ms or NULL when absent, string arrays JSON
 * text), the id the primary key. Queries are built by sql.c with every value bound. Each
 * write is its own transaction (autocommit): a restart loses nothing that was answered. */
#include <sqlite3.h>

#include "dao_internal.h"

typedef struct sq_store {
  bx_dao_store base;
  sqlite3 *db;
  char table[128];
  char *cols; /* "\"id\", \"title\", ..." */
  sqlite3_stmt *put, *find, *del;
} sq_store;

static int sq_err(sq_store *q, const char *what) {
  snprintf(q->base.error, sizeof q->base.error, "sqlite %s: %s", what, sqlite3_errmsg(q->db));
  return BX_EREMOTE;
}

static bool sq_ident_ok(const char *s, bool dots) {
  if (s == NULL || *s == '\0' || strlen(s) > 100 || (*s >= '0' && *s <= '9')) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || (dots && *s == '.')))
      return false;
  return true;
}

/* Binds a JSON value for a column of type t at index i (1-based). */
static int sq_bind_value(sqlite3_stmt *st, int i, const cJSON *v, bx_dao_ftype t) {
  if (v == NULL || cJSON_IsNull(v)) return sqlite3_bind_null(st, i);
  if (cJSON_IsBool(v)) return sqlite3_bind_int(st, i, cJSON_IsTrue(v));
  if (cJSON_IsString(v)) return sqlite3_bind_text(st, i, v->valuestring, -1, SQLITE_TRANSIENT);
  if (cJSON_IsNumber(v)) {
    if (t == BX_DAO_INT) return sqlite3_bind_int64(st, i, (sqlite3_int64)v->valuedouble);
    return sqlite3_bind_double(st, i, v->valuedouble);
  }
  char *text = cJSON_PrintUnformatted(v); /* a string array */
  if (text == NULL) return SQLITE_NOMEM;
  return sqlite3_bind_text(st, i, text, -1, cJSON_free);
}

/* The current row as a normalised object (new tree), NULL on allocation failure. */
static cJSON *sq_row(sq_store *q, sqlite3_stmt *st) {
  const bx_dao_model *model = q->base.model;
  cJSON *o = bx_json_new_object(model->class_name);
  for (size_t i = 0; o != NULL && i < model->nfields; i++) {
    int c = (int)i;
    cJSON *v = NULL;
    switch (model->fields[i].type) {
    case BX_DAO_INT:
      v = cJSON_CreateNumber((double)sqlite3_column_int64(st, c));
      break;
    case BX_DAO_FLOAT:
      v = cJSON_CreateNumber(sqlite3_column_double(st, c));
      break;
    case BX_DAO_BOOL:
      v = cJSON_CreateBool(sqlite3_column_int(st, c) != 0);
      break;
    case BX_DAO_DATE:
      if (sqlite3_column_type(st, c) == SQLITE_NULL) continue;
      v = cJSON_CreateNumber(sqlite3_column_double(st, c));
      break;
    case BX_DAO_STRING: {
      const unsigned char *t = sqlite3_column_text(st, c);
      v = cJSON_CreateString(t ? (const char *)t : "");
      break;
    }
    case BX_DAO_STRINGS: {
      const unsigned char *t = sqlite3_column_text(st, c);
      v = t ? cJSON_Parse((const char *)t) : cJSON_CreateArray();
      if (v != NULL && !cJSON_IsArray(v)) {
        cJSON_Delete(v);
        v = cJSON_CreateArray();
      }
      break;
    }
    }
    if (v == NULL || !cJSON_AddItemToObject(o, model->fields[i].name, v)) {
      cJSON_Delete(v);
      cJSON_Delete(o);
      o = NULL;
    }
  }
  return o;
}

static int sq_put(bx_dao_store *s, const cJSON *obj) {
  sq_store *q = (sq_store *)s;
  const bx_dao_model *model = s->model;
  sqlite3_reset(q->put);
  for (size_t i = 0; i < model->nfields; i++)
    if (sq_bind_value(q->put, (int)i + 1, bx__dao_get(model, obj, (int)i), model->fields[i].type) !=
        SQLITE_OK)
      return sq_err(q, "bind");
  int rc = sqlite3_step(q->put);
  sqlite3_reset(q->put);
  sqlite3_clear_bindings(q->put);
  return rc == SQLITE_DONE ? 0 : sq_err(q, "put");
}

static bool sq_id_ok(const bx_dao_model *model, const cJSON *id) {
  return id != NULL && bx__dao_type_ok(model->fields[model->id_field].type, id);
}

static int sq_find(bx_dao_store *s, const cJSON *id, cJSON **out) {
  sq_store *q = (sq_store *)s;
  *out = NULL;
  if (!sq_id_ok(s->model, id)) return 0;
  sqlite3_reset(q->find);
  sq_bind_value(q->find, 1, id, s->model->fields[s->model->id_field].type);
  int rc = sqlite3_step(q->find), ret = 0;
  if (rc == SQLITE_ROW) {
    if ((*out = sq_row(q, q->find)) == NULL) ret = BX_ENOMEM;
  } else if (rc != SQLITE_DONE) {
    ret = sq_err(q, "find");
  }
  sqlite3_reset(q->find);
  sqlite3_clear_bindings(q->find);
  return ret;
}

static int sq_remove(bx_dao_store *s, const cJSON *id, cJSON **out) {
  sq_store *q = (sq_store *)s;
  int rc = sq_find(s, id, out);
  if (rc || *out == NULL) return rc;
  sqlite3_reset(q->del);
  sq_bind_value(q->del, 1, id, s->model->fields[s->model->id_field].type);
  rc = sqlite3_step(q->del);
  sqlite3_reset(q->del);
  sqlite3_clear_bindings(q->del);
  if (rc != SQLITE_DONE) {
    cJSON_Delete(*out);
    *out = NULL;
    return sq_err(q, "remove");
  }
  return 0;
}

static int sq_select(bx_dao_store *s, const bx_dao_query *qu, bx_dao_row_fn fn, void *data) {
  sq_store *q = (sq_store *)s;
  if (qu->limit <= 0) return 0;
  sql_text *t = calloc(1, sizeof *t);
  if (t == NULL) return BX_ENOMEM;
  bx__sql_add(t, "SELECT ");
  bx__sql_add(t, q->cols);
  bx__sql_add(t, " FROM \"");
  bx__sql_add(t, q->table);
  bx__sql_add(t, "\" WHERE ");
  bx__sql_where(t, s->model, qu->predicate);
  bx__sql_add(t, " ORDER BY ");
  bx__sql_order(t, s->model, qu->order);
  bx__sql_add(t, " LIMIT ? OFFSET ?");
  char nul = '\0';
  if (t->failed == 0 && bx_buf_append(&t->text, &nul, 1) != 0) t->failed = BX_ENOMEM;
  int ret = t->failed;
  sqlite3_stmt *st = NULL;
  if (ret == 0 && sqlite3_prepare_v2(q->db, t->text.base, -1, &st, NULL) != SQLITE_OK)
    ret = sq_err(q, "select");
  for (int i = 0; ret == 0 && i < t->nbinds; i++)
    if (sq_bind_value(st, i + 1, t->binds[i], (bx_dao_ftype)t->kinds[i]) != SQLITE_OK)
      ret = sq_err(q, "bind");
  if (ret == 0 && (sqlite3_bind_int64(st, t->nbinds + 1, qu->limit) != SQLITE_OK ||
                   sqlite3_bind_int64(st, t->nbinds + 2, qu->skip) != SQLITE_OK))
    ret = sq_err(q, "bind");
  while (ret == 0) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      ret = sq_err(q, "select");
      break;
    }
    cJSON *o = sq_row(q, st);
    if (o == NULL) {
      ret = BX_ENOMEM;
      break;
    }
    int stop = fn(o, data);
    cJSON_Delete(o);
    if (stop) break;
  }
  sqlite3_finalize(st);
  bx_buf_free(&t->text);
  free(t);
  return ret;
}

static void sq_destroy(bx_dao_store *s) {
  sq_store *q = (sq_store *)s;
  sqlite3_finalize(q->put);
  sqlite3_finalize(q->find);
  sqlite3_finalize(q->del);
  sqlite3_close(q->db);
  free(q->cols);
  free(q);
}

static const bx_dao_store_ops sq_ops = {sq_put, sq_find, sq_remove, sq_select, sq_destroy};

static const char *sq_type(bx_dao_ftype t) {
  switch (t) {
  case BX_DAO_INT:
  case BX_DAO_BOOL:
    return "INTEGER";
  case BX_DAO_FLOAT:
  case BX_DAO_DATE:
    return "REAL";
  default:
    return "TEXT";
  }
}

static int sq_prepare(sq_store *q, const char *sql, sqlite3_stmt **st) {
  return sqlite3_prepare_v2(q->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : sq_err(q, "prepare");
}

static int sq_setup(sq_store *q) {
  const bx_dao_model *model = q->base.model;
  bx_buf create = {0}, cols = {0}, marks = {0};
  char part[200];
  snprintf(part, sizeof part, "CREATE TABLE IF NOT EXISTS \"%s\" (", q->table);
  int rc = bx_buf_append(&create, part, strlen(part));
  for (size_t i = 0; rc == 0 && i < model->nfields; i++) {
    const char *sep = i ? ", " : "";
    snprintf(part, sizeof part, "%s\"%s\" %s%s", sep, model->fields[i].name,
             sq_type(model->fields[i].type), i == model->id_field ? " PRIMARY KEY" : "");
    rc = bx_buf_append(&create, part, strlen(part));
    snprintf(part, sizeof part, "%s\"%s\"", sep, model->fields[i].name);
    if (rc == 0) rc = bx_buf_append(&cols, part, strlen(part));
    if (rc == 0) rc = bx_buf_append(&marks, i ? ", ?" : "?", i ? 3 : 1);
  }
  if (rc == 0) rc = bx_buf_append(&create, ")", 2);
  if (rc == 0) rc = bx_buf_append(&cols, "", 1);
  if (rc == 0) rc = bx_buf_append(&marks, "", 1);
  if (rc == 0 && sqlite3_exec(q->db, create.base, NULL, NULL, NULL) != SQLITE_OK)
    rc = sq_err(q, "create table");
  char sql[4096];
  if (rc == 0) {
    q->cols = strdup(cols.base);
    if (q->cols == NULL) rc = BX_ENOMEM;
  }
  if (rc == 0) {
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO \"%s\" (%s) VALUES (%s)", q->table, cols.base,
             marks.base);
    rc = sq_prepare(q, sql, &q->put);
  }
  const char *id = model->fields[model->id_field].name;
  if (rc == 0) {
    snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE \"%s\" = ?", cols.base, q->table, id);
    rc = sq_prepare(q, sql, &q->find);
  }
  if (rc == 0) {
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE \"%s\" = ?", q->table, id);
    rc = sq_prepare(q, sql, &q->del);
  }
  bx_buf_free(&create);
  bx_buf_free(&cols);
  bx_buf_free(&marks);
  return rc;
}

int bx_dao_sqlite_store_new(const bx_dao_model *model, const char *path, bx_dao_store **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (model == NULL || path == NULL || model->id_field >= model->nfields ||
      !sq_ident_ok(model->class_name, true) || model->nfields > 64)
    return BX_EINVAL;
  bx_dao_ftype idt = model->fields[model->id_field].type;
  if (idt != BX_DAO_INT && idt != BX_DAO_STRING) return BX_EINVAL;
  for (size_t i = 0; i < model->nfields; i++)
    if (!sq_ident_ok(model->fields[i].name, false)) return BX_EINVAL;
  sq_store *q = calloc(1, sizeof *q);
  if (q == NULL) return BX_ENOMEM;
  q->base.ops = &sq_ops;
  q->base.model = model;
  snprintf(q->table, sizeof q->table, "%s", model->class_name);
  for (char *p = q->table; *p; p++)
    if (*p == '.') *p = '_';
  int rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    sq_destroy(&q->base);
    return rc == SQLITE_NOMEM ? BX_ENOMEM : BX_EINVAL;
  }
  sqlite3_busy_timeout(q->db, 5000);
  if ((rc = sq_setup(q)) != 0) {
    sq_destroy(&q->base);
    return rc;
  }
  *out = &q->base;
  return 0;
}
