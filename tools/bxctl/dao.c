/* bxctl dao NAME put|find|remove|select|listen: FOAM2's DAO RPCs on the service NAME through
 * bx_dao_client. bxctl does not know the model: --where values are typed by how they are
 * written (numbers, true/false, else strings; see bx_dao_where_parse()), ids likewise.
 *
 *   bxctl dao todos put '{"class":"test.Todo","id":1,"title":"Buy milk"}'
 *   bxctl dao todos find 1
 *   bxctl dao todos remove 1
 *   bxctl dao todos select --where 'done=false and priority>1' --order -priority --limit 10
 *   bxctl dao todos listen            (one line per change until interrupted) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dao.h"

enum { DX_OK = 0, DX_REMOTE = 1, DX_USAGE = 2, DX_CONN = 3 };

static const bx_dao_field dx_fields[] = {{"id", BX_DAO_INT}};
static const bx_dao_model dx_model = {NULL, dx_fields, 1, 0}; /* unknown: ids only */

typedef struct dx {
  const dao_opts *o;
  bool done, rows;
  int code;
} dx;

static void dx_print(const cJSON *v) {
  bx_buf b = {0};
  if (bx_json_write(&b, v) == 0) printf("%.*s\n", (int)b.len, b.base);
  bx_buf_free(&b);
  fflush(stdout);
}

static void dx_usage(FILE *out) {
  fprintf(out, "usage: bxctl dao NAME put JSON | find ID | remove ID |\n"
               "                   select [--where EXPR] [--order F[,-G]] [--limit N] [--skip N]"
               " [--count] |\n"
               "                   listen [--where EXPR]\n"
               "EXPR: field OP value (OP: = != < <= > >= ~ ^), has field, field in (a, b),\n"
               "      not X, X and Y, X or Y, ( ).  --order -F: descending.\n");
}

static void dx_done(int status, const cJSON *data, const char *error, void *arg) {
  dx *d = arg;
  d->done = true;
  if (status != 0) {
    bool conn = status == BX_ECONNLOST || status == BX_ETIMEDOUT || status == BX_ENOREPLY ||
                status == BX_ENOSERVICE || (status < 0 && status > -4096);
    d->code = conn && status != BX_ENOSERVICE ? DX_CONN : DX_REMOTE;
    if (status == BX_ENOSERVICE)
      fprintf(stderr, "bxctl: no such service\n");
    else
      fprintf(stderr, "bxctl: %s\n", error ? error : bx_strerror(status));
    return;
  }
  const cJSON *arr = d->rows ? cJSON_GetObjectItemCaseSensitive(data, "array") : NULL;
  if (d->rows && cJSON_GetObjectItemCaseSensitive(data, "value") != NULL) {
    dx_print(cJSON_GetObjectItemCaseSensitive(data, "value")); /* --count */
  } else if (d->rows && !d->o->json) {
    for (const cJSON *e = arr ? arr->child : NULL; e != NULL; e = e->next)
      dx_print(e);
  } else if (d->rows) {
    cJSON *a = arr ? cJSON_Duplicate(arr, true) : cJSON_CreateArray();
    dx_print(a);
    cJSON_Delete(a);
  } else if (data != NULL) {
    dx_print(data);
  } else {
    printf("null\n");
  }
}

static void dx_event(const char *event, const cJSON *obj, void *arg) {
  (void)arg;
  if (obj == NULL) {
    printf("%s\n", event);
    fflush(stdout);
    return;
  }
  bx_buf b = {0};
  if (bx_json_write(&b, obj) == 0) printf("%s %.*s\n", event, (int)b.len, b.base);
  bx_buf_free(&b);
  fflush(stdout);
}

static void dx_listening(int status, const cJSON *data, const char *error, void *arg) {
  (void)data;
  dx *d = arg;
  if (status != 0) return dx_done(status, NULL, error, arg);
  fprintf(stderr, "bxctl: listening\n");
  (void)d;
}

static int dx_wait(dx *d, bool forever) {
  while ((forever || !d->done) && uv_run(d->o->loop, UV_RUN_ONCE)) {
    if (forever && d->done) break;
  }
  return d->code;
}

static cJSON *dx_value(const char *text) {
  cJSON *v = cJSON_Parse(text);
  return v ? v : cJSON_CreateString(text); /* a bare word: a string id */
}

int bxctl_dao(const dao_opts *o, int argc, char **argv) {
  if (argc < 2 || strcmp(argv[0], "--help") == 0) {
    dx_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? DX_USAGE : DX_OK;
  }
  const char *name = argv[0], *op = argv[1];
  const char *where = NULL, *order = NULL;
  int64_t limit = 0, skip = 0;
  bool count = false;
  for (int i = 2; i < argc; i++) {
    bool v = i + 1 < argc;
    if (strcmp(argv[i], "--where") == 0 && v)
      where = argv[++i];
    else if (strcmp(argv[i], "--order") == 0 && v)
      order = argv[++i];
    else if (strcmp(argv[i], "--limit") == 0 && v)
      limit = strtoll(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--skip") == 0 && v)
      skip = strtoll(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--count") == 0)
      count = true;
    else if (i != 2 || argv[i][0] == '-') {
      fprintf(stderr, "bxctl: dao: unexpected '%s'\n", argv[i]);
      dx_usage(stderr);
      return DX_USAGE;
    }
  }
  bx_box *svc = NULL;
  bx_dao_client *c = NULL;
  int rc = bx_sub_box_new(o->ctx, name, o->conn, &svc);
  if (rc == 0) rc = bx_dao_client_new(svc, &dx_model, &c);
  bx_box_unref(svc);
  if (rc) {
    fprintf(stderr, "bxctl: %s\n", bx_strerror(rc));
    return DX_USAGE;
  }
  bx_dao_client_set_timeout(c, o->timeout_ms);
  dx d = {o, false, false, 0};
  cJSON *w = NULL, *ord = NULL, *arg = NULL, *sink = NULL;
  char err[200];
  int code = DX_USAGE;
  if (where && bx_dao_where_parse(NULL, where, &w, err, sizeof err) != 0) {
    fprintf(stderr, "bxctl: --where: %s\n", err);
    goto out;
  }
  if (order && bx_dao_order_parse(NULL, order, &ord, err, sizeof err) != 0) {
    fprintf(stderr, "bxctl: --order: %s\n", err);
    goto out;
  }
  bool need_arg = strcmp(op, "put") == 0 || strcmp(op, "find") == 0 || strcmp(op, "remove") == 0;
  if (need_arg) {
    if (argc < 3 || argv[2][0] == '-') goto usage;
    arg = dx_value(argv[2]);
  }
  if (strcmp(op, "put") == 0) {
    if (!cJSON_IsObject(arg)) {
      fprintf(stderr, "bxctl: dao put: the object must be JSON ('{\"class\":...,\"id\":1}')\n");
      goto out;
    }
    rc = bx_dao_put(c, arg, dx_done, &d);
  } else if (strcmp(op, "find") == 0) {
    rc = bx_dao_find(c, arg, dx_done, &d);
  } else if (strcmp(op, "remove") == 0) {
    rc = bx_dao_remove(c, arg, dx_done, &d);
  } else if (strcmp(op, "select") == 0) {
    d.rows = true;
    if (count) sink = bx_json_new_object("foam.mlang.sink.Count");
    bx_dao_select_opts so = {w, ord, skip, limit, sink};
    rc = bx_dao_select(c, &so, dx_done, &d);
  } else if (strcmp(op, "listen") == 0) {
    bx_dao_listener *l;
    rc = bx_dao_listen(c, w, dx_event, &d, dx_listening, &d, &l);
    if (rc == 0) {
      code = dx_wait(&d, true); /* until interrupted or the connection goes */
      goto out;
    }
  } else {
    goto usage;
  }
  if (rc) {
    fprintf(stderr, "bxctl: %s\n", bx_strerror(rc));
    code = DX_REMOTE;
    goto out;
  }
  code = dx_wait(&d, false);
  goto out;
usage:
  dx_usage(stderr);
out:
  cJSON_Delete(w);
  cJSON_Delete(ord);
  cJSON_Delete(arg);
  cJSON_Delete(sink);
  bx_dao_client_free(c);
  return code;
}
