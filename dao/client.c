/* bx_dao_client: FOAM2's ClientDAO in C (spec/foam/dao.md section 12). Every call is a typed
 * RPC through the rpc runtime (timeouts, lost connections, exactly-once completion) with
 * hand-written method tables: the arguments are FOAM JSON, except the ClientSink of listen_,
 * whose delegate is a local box the encoder exports. */
#include "dao_internal.h"

typedef struct dc_args {
  cJSON *x, *a1, *a2, *a3, *a4, *a5;
} dc_args;

typedef struct dc_csink {
  bx_box *delegate;
} dc_csink;

typedef struct dc_listen_args {
  cJSON *x;
  dc_csink sink;
  cJSON *pred;
} dc_listen_args;

typedef struct dc_result {
  cJSON *data;
} dc_result;

static const bx_type dc_json = {
    .kind = BX_KIND_NULLABLE, .name = "json", .size = sizeof(cJSON *), .elem = &bx_type_json};

#define DC_F(n, f) \
  { n, &dc_json, offsetof(dc_args, f), NULL, 0 }
static const bx_field dc_fields[] = {DC_F("x", x),   DC_F("a1", a1), DC_F("a2", a2),
                                     DC_F("a3", a3), DC_F("a4", a4), DC_F("a5", a5)};
static const bx_type dc_args2 = {.kind = BX_KIND_STRUCT,
                                 .name = "dao_args",
                                 .size = sizeof(dc_args),
                                 .fields = dc_fields,
                                 .nfields = 2};
static const bx_type dc_args5 = {.kind = BX_KIND_STRUCT,
                                 .name = "dao_args",
                                 .size = sizeof(dc_args),
                                 .fields = dc_fields,
                                 .nfields = 5};
static const bx_type dc_args6 = {.kind = BX_KIND_STRUCT,
                                 .name = "dao_args",
                                 .size = sizeof(dc_args),
                                 .fields = dc_fields,
                                 .nfields = 6};

static const bx_field dc_csink_fields[] = {{"delegate", &bx_type_box, 0, NULL, 0}};
static const bx_type dc_csink_t = {.kind = BX_KIND_STRUCT,
                                   .name = "ClientSink",
                                   .size = sizeof(dc_csink),
                                   .class_name = "foam.dao.ClientSink",
                                   .fields = dc_csink_fields,
                                   .nfields = 1};
static const bx_field dc_listen_fields[] = {
    {"x", &dc_json, offsetof(dc_listen_args, x), NULL, 0},
    {"sink", &dc_csink_t, offsetof(dc_listen_args, sink), NULL, 0},
    {"predicate", &dc_json, offsetof(dc_listen_args, pred), NULL, 0}};
static const bx_type dc_listen_t = {.kind = BX_KIND_STRUCT,
                                    .name = "listen_args",
                                    .size = sizeof(dc_listen_args),
                                    .fields = dc_listen_fields,
                                    .nfields = 3};

typedef struct dc_stream_args {
  cJSON *x;
  dc_csink sink;
  cJSON *skip, *limit, *order, *pred;
} dc_stream_args;

#define DC_S(n, f) \
  { n, &dc_json, offsetof(dc_stream_args, f), NULL, 0 }
static const bx_field dc_stream_fields[] = {
    DC_S("x", x),         {"sink", &dc_csink_t, offsetof(dc_stream_args, sink), NULL, 0},
    DC_S("skip", skip),   DC_S("limit", limit),
    DC_S("order", order), DC_S("predicate", pred)};
static const bx_type dc_stream_t = {.kind = BX_KIND_STRUCT,
                                    .name = "select_args",
                                    .size = sizeof(dc_stream_args),
                                    .fields = dc_stream_fields,
                                    .nfields = 6};

static const bx_field dc_result_fields[] = {{"data", &dc_json, 0, NULL, 0}};
static const bx_type dc_result_t = {.kind = BX_KIND_STRUCT,
                                    .name = "dao_result",
                                    .size = sizeof(dc_result),
                                    .fields = dc_result_fields,
                                    .nfields = 1};

static const bx_type dc_void_t = {
    .kind = BX_KIND_STRUCT, .name = "dao_void", .size = sizeof(dc_result)};

static const bx_method dc_put = {"put_", &dc_args2, &dc_result_t, 0, NULL};
static const bx_method dc_find = {"find_", &dc_args2, &dc_result_t, 0, NULL};
static const bx_method dc_remove = {"remove_", &dc_args2, &dc_result_t, 0, NULL};
static const bx_method dc_select = {"select_", &dc_args6, &dc_result_t, 0, NULL};
static const bx_method dc_remove_all = {"removeAll_", &dc_args5, &dc_void_t, 0, NULL};
static const bx_method dc_listen = {"listen_", &dc_listen_t, &dc_result_t, 0, NULL};
static const bx_method dc_select_stream = {"select_", &dc_stream_t, &dc_result_t, 0, NULL};

struct bx_dao_client {
  bx_box *service;
  const bx_dao_model *model;
  uint64_t timeout_ms;
};

typedef struct dc_pending {
  bx_dao_cb cb;
  void *arg;
} dc_pending;

int bx_dao_client_new(bx_box *service, const bx_dao_model *model, bx_dao_client **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (service == NULL || model == NULL) return BX_EINVAL;
  bx_dao_client *c = calloc(1, sizeof *c);
  if (c == NULL) return BX_ENOMEM;
  int rc = model->class_name ? bx_dao_allow_classes(bx_box_ctx(service), model) : 0;
  if (rc) {
    free(c);
    return rc;
  }
  c->service = bx_box_ref(service);
  c->model = model;
  *out = c;
  return 0;
}

void bx_dao_client_free(bx_dao_client *c) {
  if (c == NULL) return;
  bx_box_unref(c->service);
  free(c);
}

void bx_dao_client_set_timeout(bx_dao_client *c, uint64_t ms) {
  c->timeout_ms = ms;
}

static void dc_done(bx_call *call, int status, void *result, void *data) {
  dc_pending *p = data;
  const cJSON *d = status == 0 && result != NULL ? ((dc_result *)result)->data : NULL;
  if (d != NULL && cJSON_IsNull(d)) d = NULL;
  if (p->cb) p->cb(status, d, status ? bx_call_error_text(call) : NULL, p->arg);
  free(p);
}

static int dc_call(bx_dao_client *c, const bx_method *m, const void *args, bx_dao_cb cb,
                   void *arg) {
  dc_pending *p = calloc(1, sizeof *p);
  if (p == NULL) return BX_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  bx_stub stub;
  int rc = bx_stub_init(&stub, c->service, NULL);
  bx_call_opts o = {.timeout_ms = c->timeout_ms};
  if (rc == 0) rc = bx_call_start(&stub, m, args, &o, dc_done, p, NULL);
  bx_stub_reset(&stub);
  if (rc) free(p);
  return rc;
}

int bx_dao_put(bx_dao_client *c, const cJSON *obj, bx_dao_cb cb, void *arg) {
  if (c == NULL || obj == NULL) return BX_EINVAL;
  dc_args a = {.a1 = (cJSON *)obj};
  return dc_call(c, &dc_put, &a, cb, arg);
}

int bx_dao_find(bx_dao_client *c, const cJSON *id, bx_dao_cb cb, void *arg) {
  if (c == NULL || id == NULL) return BX_EINVAL;
  dc_args a = {.a1 = (cJSON *)id};
  return dc_call(c, &dc_find, &a, cb, arg);
}

int bx_dao_remove(bx_dao_client *c, const cJSON *obj, bx_dao_cb cb, void *arg) {
  if (c == NULL || obj == NULL) return BX_EINVAL;
  cJSON *wrap = NULL;
  if (!cJSON_IsObject(obj)) { /* a bare key: {"class": model, id: key} */
    wrap = c->model->class_name ? bx_json_new_object(c->model->class_name) : cJSON_CreateObject();
    if (wrap == NULL || !cJSON_AddItemToObject(wrap, c->model->fields[c->model->id_field].name,
                                               cJSON_Duplicate(obj, true))) {
      cJSON_Delete(wrap);
      return BX_ENOMEM;
    }
  }
  dc_args a = {.a1 = wrap ? wrap : (cJSON *)obj};
  int rc = dc_call(c, &dc_remove, &a, cb, arg);
  cJSON_Delete(wrap);
  return rc;
}

int bx_dao_select(bx_dao_client *c, const bx_dao_select_opts *opts, bx_dao_cb cb, void *arg) {
  if (c == NULL) return BX_EINVAL;
  bx_dao_select_opts o = {0};
  if (opts) o = *opts;
  cJSON *skip = cJSON_CreateNumber((double)o.skip);
  cJSON *limit = cJSON_CreateNumber(o.limit > 0 ? (double)o.limit : (double)BX_DAO_NO_LIMIT);
  cJSON *sink = o.sink ? NULL : bx_json_new_object("foam.dao.ArraySink");
  int rc = BX_ENOMEM;
  if (skip && limit && (o.sink || sink)) {
    dc_args a = {
        NULL, sink ? sink : (cJSON *)o.sink, skip, limit, (cJSON *)o.order, (cJSON *)o.where};
    rc = dc_call(c, &dc_select, &a, cb, arg);
  }
  cJSON_Delete(skip);
  cJSON_Delete(limit);
  cJSON_Delete(sink);
  return rc;
}

int bx_dao_remove_all(bx_dao_client *c, const bx_dao_select_opts *opts, bx_dao_cb cb, void *arg) {
  if (c == NULL) return BX_EINVAL;
  bx_dao_select_opts o = {0};
  if (opts) o = *opts;
  cJSON *skip = cJSON_CreateNumber((double)o.skip);
  cJSON *limit = cJSON_CreateNumber(o.limit > 0 ? (double)o.limit : (double)BX_DAO_NO_LIMIT);
  int rc = BX_ENOMEM;
  if (skip && limit) {
    dc_args a = {NULL, skip, limit, (cJSON *)o.order, (cJSON *)o.where, NULL};
    rc = dc_call(c, &dc_remove_all, &a, cb, arg);
  }
  cJSON_Delete(skip);
  cJSON_Delete(limit);
  return rc;
}

/* ---- listen_ ------------------------------------------------------------------------------ */

struct bx_dao_listener {
  bx_box *box;
  bx_dao_event_fn fn;
  void *arg;
};

static void dc_event(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  bx_dao_listener *l = data;
  const cJSON *o = bx_msg_object(msg);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  if (l->fn == NULL || !bx_msg_is(msg, BX_CLASS_RPC_MESSAGE) || !cJSON_IsString(name)) return;
  const cJSON *obj = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "args"), 0);
  const char *n = name->valuestring;
  if (strcmp(n, "put") == 0 || strcmp(n, "remove") == 0)
    l->fn(n, obj, l->arg);
  else if (strcmp(n, "reset") == 0 || strcmp(n, "eof") == 0)
    l->fn(n, NULL, l->arg);
}

int bx_dao_listen(bx_dao_client *c, const cJSON *where, bx_dao_event_fn fn, void *arg,
                  bx_dao_cb done, void *done_arg, bx_dao_listener **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (c == NULL || fn == NULL) return BX_EINVAL;
  bx_dao_listener *l = calloc(1, sizeof *l);
  if (l == NULL) return BX_ENOMEM;
  l->fn = fn;
  l->arg = arg;
  int rc = bx_function_box_new(bx_box_ctx(c->service), dc_event, l, free, &l->box);
  if (rc) {
    free(l);
    return rc;
  }
  dc_listen_args a = {NULL, {l->box}, (cJSON *)where};
  if ((rc = dc_call(c, &dc_listen, &a, done, done_arg)) != 0) {
    bx_box_unref(l->box); /* frees l */
    return rc;
  }
  *out = l;
  return 0;
}

void bx_dao_unlisten(bx_dao_listener *l) {
  if (l == NULL) return;
  l->fn = NULL;
  bx_box_unref(l->box); /* l itself goes with the box's last reference */
}

/* ---- select_ into a sink by reference ------------------------------------------------------ */

typedef struct dc_stream {
  bx_dao_row_fn row;
  void *row_arg;
  bx_dao_cb done;
  void *done_arg;
  bx_box *box;
  bool eof, replied;
  int status;
  char error[160];
} dc_stream;

static void dc_stream_finish(dc_stream *st) {
  if (st->done) st->done(st->status, NULL, st->status ? st->error : NULL, st->done_arg);
  st->done = NULL;
  st->row = NULL;
  bx_box *box = st->box;
  st->box = NULL;
  bx_box_unref(box); /* frees st with the box's last reference */
}

static void dc_stream_event(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  dc_stream *st = data;
  const cJSON *o = bx_msg_object(msg);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  if (st->row == NULL || !cJSON_IsString(name)) return;
  if (strcmp(name->valuestring, "put") == 0) {
    const cJSON *obj = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "args"), 0);
    if (obj != NULL) st->row(obj, st->row_arg);
  } else if (strcmp(name->valuestring, "eof") == 0) {
    st->eof = true;
    if (st->replied) dc_stream_finish(st);
  }
}

static void dc_stream_replied(int status, const cJSON *data, const char *error, void *arg) {
  (void)data;
  dc_stream *st = arg;
  st->replied = true;
  st->status = status;
  snprintf(st->error, sizeof st->error, "%s", error ? error : "");
  if (status != 0 || st->eof) dc_stream_finish(st);
}

int bx_dao_select_stream(bx_dao_client *c, const bx_dao_select_opts *opts, bx_dao_row_fn row,
                         void *row_arg, bx_dao_cb done, void *done_arg) {
  if (c == NULL || row == NULL) return BX_EINVAL;
  bx_dao_select_opts o = {0};
  if (opts) o = *opts;
  dc_stream *st = calloc(1, sizeof *st);
  if (st == NULL) return BX_ENOMEM;
  st->row = row;
  st->row_arg = row_arg;
  st->done = done;
  st->done_arg = done_arg;
  int rc = bx_function_box_new(bx_box_ctx(c->service), dc_stream_event, st, free, &st->box);
  if (rc) {
    free(st);
    return rc;
  }
  cJSON *skip = cJSON_CreateNumber((double)o.skip);
  cJSON *limit = cJSON_CreateNumber(o.limit > 0 ? (double)o.limit : (double)BX_DAO_NO_LIMIT);
  rc = BX_ENOMEM;
  if (skip && limit) {
    dc_stream_args a = {NULL, {st->box}, skip, limit, (cJSON *)o.order, (cJSON *)o.where};
    rc = dc_call(c, &dc_select_stream, &a, dc_stream_replied, st);
  }
  cJSON_Delete(skip);
  cJSON_Delete(limit);
  if (rc) bx_box_unref(st->box);
  return rc;
}
