/* The DAO service box: FOAM2's DAO RPCs (spec/foam/dao.md section 3) over a store. Each
 * RPCMessage is served synchronously, in arrival order; changes are sent to the listeners
 * (listeners.c) before the writer's own reply, and a call without a reply box (one-way,
 * NotificationClientDAO) is executed and answered with nothing. */
#include <math.h>

#include "dao_internal.h"
#include "dao_service.h"

static const char *const sv_classes[] = {
    "foam.mlang.*",
    "foam.dao.*",
    "foam.core.FObject",
    "__Property__",
};

int bx_dao_allow_classes(bx_ctx *ctx, const bx_dao_model *model) {
  int rc = bx_ctx_allow_class(ctx, model->class_name);
  for (size_t i = 0; rc == 0 && i < sizeof sv_classes / sizeof sv_classes[0]; i++)
    rc = bx_ctx_allow_class(ctx, sv_classes[i]);
  return rc;
}

/* ---- replies ---------------------------------------------------------------------------- */

static void sv_reply_payload(const bx_msg *req, cJSON *payload) {
  if (bx_msg_reply_box(req) == NULL) {
    cJSON_Delete(payload);
    return;
  }
  if (payload == NULL) return; /* out of memory: the caller's timeout tells */
  bx_reply_json(req, payload);
}

/* RPCReturnMessage{data} (data NULL: no data; taken). */
static void sv_return(const bx_msg *req, cJSON *data) {
  cJSON *r = bx_json_new_object(BX_CLASS_RPC_RETURN);
  if (r != NULL && data != NULL)
    cJSON_AddItemToObject(r, "data", data);
  else
    cJSON_Delete(data);
  sv_reply_payload(req, r);
}

void bx__dao_fail(bx__dao_svc *sv, const bx_msg *req, const char *text) {
  bx_log(sv->ctx, BX_LOG_DEBUG, "dao %s: %s", sv->model->class_name, text);
  cJSON *r = bx_json_new_object(BX_CLASS_RPC_ERROR);
  if (r != NULL) cJSON_AddStringToObject(r, "data", text);
  sv_reply_payload(req, r);
}

static void sv_failf(bx__dao_svc *sv, const bx_msg *req, const char *what, const char *why) {
  char text[256];
  snprintf(text, sizeof text, "%s%s", what, why);
  bx__dao_fail(sv, req, text);
}

/* ---- arguments -------------------------------------------------------------------------- */

/* skip / limit: a non-negative integer, or null / absent for the default. */
static bool sv_count(const cJSON *v, int64_t def, int64_t *out) {
  if (v == NULL || cJSON_IsNull(v)) {
    *out = def;
    return true;
  }
  if (cJSON_IsString(v)) { /* 64-bit values beyond 2^53 travel as decimal strings */
    char *end;
    long long x = strtoll(v->valuestring, &end, 10);
    if (*v->valuestring == '\0' || *end != '\0' || x < 0) return false;
    *out = x;
    return true;
  }
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble != floor(v->valuedouble))
    return false;
  *out = v->valuedouble >= 9.2e18 ? INT64_MAX : (int64_t)v->valuedouble;
  return true;
}

/* ---- put_ find_ remove_ cmd_ ------------------------------------------------------------ */

static void sv_put(bx__dao_svc *sv, const bx_msg *req, const cJSON *args) {
  if (sv->opts.read_only) return bx__dao_fail(sv, req, "Cannot put into ReadOnlyDAO");
  cJSON *obj;
  char err[160];
  int rc = bx_dao_normalize(sv->model, cJSON_GetArrayItem(args, 1), &obj, err, sizeof err);
  if (rc) return sv_failf(sv, req, "put_: ", rc == BX_ENOMEM ? "out of memory" : err);
  sv->store->error[0] = '\0';
  if ((rc = sv->store->ops->put(sv->store, obj)) != 0) {
    sv_failf(sv, req, "put_: ", sv->store->error[0] ? sv->store->error : bx_strerror(rc));
    cJSON_Delete(obj);
    return;
  }
  bx__dao_notify(sv, "put", obj);
  sv_return(req, obj);
}

/* The id of a remove_/find_ argument: the object's id property, or a bare value. */
static const cJSON *sv_id_of(bx__dao_svc *sv, const cJSON *arg) {
  if (!cJSON_IsObject(arg)) return arg;
  const char *cls = bx_json_class(arg);
  if (cls != NULL && strcmp(cls, sv->model->class_name) != 0) return NULL; /* a predicate */
  return cJSON_GetObjectItemCaseSensitive(arg, sv->model->fields[sv->model->id_field].name);
}

static void sv_find(bx__dao_svc *sv, const bx_msg *req, const cJSON *args) {
  const cJSON *id = sv_id_of(sv, cJSON_GetArrayItem(args, 1));
  cJSON *obj = NULL;
  sv->store->error[0] = '\0';
  int rc = id != NULL ? sv->store->ops->find(sv->store, id, &obj) : 0;
  if (rc)
    return sv_failf(sv, req, "find_: ", sv->store->error[0] ? sv->store->error : bx_strerror(rc));
  sv_return(req, obj != NULL ? obj : cJSON_CreateNull());
}

static void sv_remove(bx__dao_svc *sv, const bx_msg *req, const cJSON *args) {
  if (sv->opts.read_only) return bx__dao_fail(sv, req, "Cannot remove from ReadOnlyDAO");
  const cJSON *id = sv_id_of(sv, cJSON_GetArrayItem(args, 1));
  cJSON *old = NULL;
  sv->store->error[0] = '\0';
  int rc = id != NULL ? sv->store->ops->remove(sv->store, id, &old) : 0;
  if (rc)
    return sv_failf(sv, req, "remove_: ", sv->store->error[0] ? sv->store->error : bx_strerror(rc));
  if (old != NULL) bx__dao_notify(sv, "remove", old);
  sv_return(req, old); /* the removed object, or no data */
}

static void sv_cmd(bx__dao_svc *sv, const bx_msg *req, const cJSON *args) {
  (void)args;
  (void)sv;
  sv_return(req, NULL); /* no command is recognised: no data, as FOAM2's MDAO */
}

/* ---- select_ removeAll_ ----------------------------------------------------------------- */

typedef struct sv_query {
  bx_dao_query q;
  bx_mlang *pred, *order;
} sv_query;

/* Reads [skip, limit, order, predicate] at args[first..]. */
static int sv_query_read(bx__dao_svc *sv, const cJSON *args, int first, sv_query *sq, char *err,
                         size_t errlen) {
  memset(sq, 0, sizeof *sq);
  if (!sv_count(cJSON_GetArrayItem(args, first), 0, &sq->q.skip)) {
    snprintf(err, errlen, "bad skip");
    return BX_EBADARG;
  }
  if (!sv_count(cJSON_GetArrayItem(args, first + 1), BX_DAO_NO_LIMIT, &sq->q.limit)) {
    snprintf(err, errlen, "bad limit");
    return BX_EBADARG;
  }
  int rc = bx_mlang_decode(sv->model, cJSON_GetArrayItem(args, first + 2), true, &sq->order, err,
                           errlen);
  if (rc == 0)
    rc = bx_mlang_decode(sv->model, cJSON_GetArrayItem(args, first + 3), false, &sq->pred, err,
                         errlen);
  sq->q.order = sq->order;
  sq->q.predicate = sq->pred;
  return rc;
}

static void sv_query_free(sv_query *sq) {
  bx_mlang_free(sq->pred);
  bx_mlang_free(sq->order);
}

static int sv_row_to_sink(const cJSON *obj, void *data) {
  return bx__sink_put(data, obj);
}

typedef struct sv_stream {
  bx_box *box;
  int rc;
} sv_stream;

/* One one-way RPCMessage{name, args:[obj?, FObject]} to a sink box. */
int bx__dao_sink_call(bx_box *box, const char *name, const cJSON *obj) {
  cJSON *m = bx_json_new_object(BX_CLASS_RPC_MESSAGE), *args = NULL;
  if (m == NULL || !cJSON_AddStringToObject(m, "name", name) ||
      (args = cJSON_AddArrayToObject(m, "args")) == NULL)
    goto nomem;
  if (obj != NULL && !cJSON_AddItemToArray(args, cJSON_Duplicate(obj, true))) goto nomem;
  if (strcmp(name, "eof") != 0 &&
      !cJSON_AddItemToArray(args, bx_json_new_object("foam.core.FObject")))
    goto nomem;
  return bx_send_json(box, m);
nomem:
  cJSON_Delete(m);
  return BX_ENOMEM;
}

static int sv_row_to_box(const cJSON *obj, void *data) {
  sv_stream *st = data;
  st->rc = bx__dao_sink_call(st->box, "put", obj);
  return st->rc;
}

/* The live box of a ClientSink argument, or NULL. */
static bx_box *sv_client_sink_box(const bx_msg *req, const cJSON *sink) {
  const char *cls = bx_json_class(sink);
  if (cls == NULL || strcmp(cls, "foam.dao.ClientSink") != 0) return NULL;
  return bx_msg_box_at(req, cJSON_GetObjectItemCaseSensitive(sink, "delegate"));
}

/* ClientSink{delegate: box} as reply data: the box joins the reply's box table. */
static void sv_return_client_sink(const bx_msg *req, bx_box *box) {
  if (bx_msg_reply_box(req) == NULL) return;
  cJSON *r = bx_json_new_object(BX_CLASS_RPC_RETURN),
        *cs = bx_json_new_object("foam.dao.ClientSink");
  bx_msg *m = NULL;
  if (r == NULL || cs == NULL || !cJSON_AddItemToObject(r, "data", cs)) {
    cJSON_Delete(r);
    cJSON_Delete(cs);
    return;
  }
  if (bx_msg_new(r, &m) != 0) return;
  /* A sink box on the caller's own connection is written back as the caller wrote it,
   * SubBox{name, ReturnBox} (as FOAM2 does), not exported again. */
  bool own = strcmp(bx_box_type(box), "sub") == 0 &&
             strcmp(bx_box_type(bx_sub_box_delegate(box)), "return") == 0;
  cJSON *ph = own ? bx_json_new_object(BX_CLASS_SUB_BOX) : bx_msg_box_ref(m, box);
  if (own && ph != NULL &&
      (!cJSON_AddStringToObject(ph, "name", bx_sub_box_name(box)) ||
       !cJSON_AddItemToObject(ph, "delegate", bx_json_new_object(BX_CLASS_RETURN_BOX)))) {
    cJSON_Delete(ph);
    ph = NULL;
  }
  if (ph == NULL || !cJSON_AddItemToObject(cs, "delegate", ph)) {
    cJSON_Delete(ph);
    bx_msg_unref(m);
    return;
  }
  bx_reply(req, m);
}

static void sv_select(bx__dao_svc *sv, const bx_msg *req, const cJSON *args) {
  char err[200];
  sv_query sq;
  const cJSON *sinkj = cJSON_GetArrayItem(args, 1);
  int rc = sv_query_read(sv, args, 2, &sq, err, sizeof err);
  if (rc) {
    sv_query_free(&sq);
    return sv_failf(sv, req, "select_: ", err);
  }
  bx_box *box = sv_client_sink_box(req, sinkj);
  sv->store->error[0] = '\0';
  if (box != NULL) { /* by reference: stream put... eof, then the reply */
    sv_stream st = {box, 0};
    rc = sv->store->ops->select(sv->store, &sq.q, sv_row_to_box, &st);
    sv_query_free(&sq);
    if (rc == 0 && st.rc == 0) rc = bx__dao_sink_call(box, "eof", NULL);
    if (rc || st.rc)
      return sv_failf(sv, req, "select_: ",
                      sv->store->error[0] ? sv->store->error : bx_strerror(rc ? rc : st.rc));
    return sv_return_client_sink(req, box);
  }
  dao_sink *sink;
  cJSON *arr = NULL;
  if (sinkj == NULL || cJSON_IsNull(sinkj)) sinkj = arr = bx_json_new_object("foam.dao.ArraySink");
  rc = bx__sink_decode(sv->model, sinkj, 0, &sink, err, sizeof err);
  cJSON_Delete(arr);
  if (rc) {
    sv_query_free(&sq);
    return sv_failf(sv, req, "select_: ", err);
  }
  rc = sv->store->ops->select(sv->store, &sq.q, sv_row_to_sink, sink);
  sv_query_free(&sq);
  if (rc)
    sv_failf(sv, req, "select_: ", sv->store->error[0] ? sv->store->error : bx_strerror(rc));
  else
    sv_return(req, bx__sink_result(sink));
  bx__sink_free(sink);
}

static int sv_collect(const cJSON *obj, void *data) {
  cJSON *c = cJSON_Duplicate(obj, true);
  return c != NULL && cJSON_AddItemToArray(data, c) ? 0 : BX_ENOMEM;
}

/* removeAll_: a select (skip, limit and order honoured, as FOAM2's Java server) feeding
 * removes; one `remove` notification per removed object. */
static void sv_remove_all(bx__dao_svc *sv, const bx_msg *req, const cJSON *args) {
  if (sv->opts.read_only) return bx__dao_fail(sv, req, "Cannot removeAll from ReadOnlyDAO");
  char err[200];
  sv_query sq;
  int rc = sv_query_read(sv, args, 1, &sq, err, sizeof err);
  if (rc) {
    sv_query_free(&sq);
    return sv_failf(sv, req, "removeAll_: ", err);
  }
  cJSON *hits = cJSON_CreateArray();
  sv->store->error[0] = '\0';
  rc = hits != NULL ? sv->store->ops->select(sv->store, &sq.q, sv_collect, hits) : BX_ENOMEM;
  sv_query_free(&sq);
  for (const cJSON *o = hits ? hits->child : NULL; rc == 0 && o != NULL; o = o->next) {
    cJSON *old = NULL;
    rc = sv->store->ops->remove(sv->store, bx__dao_get(sv->model, o, (int)sv->model->id_field),
                                &old);
    if (old != NULL) bx__dao_notify(sv, "remove", old);
    cJSON_Delete(old);
  }
  cJSON_Delete(hits);
  if (rc)
    return sv_failf(sv, req,
                    "removeAll_: ", sv->store->error[0] ? sv->store->error : bx_strerror(rc));
  sv_return(req, NULL);
}

/* ---- listen_ ---------------------------------------------------------------------------- */

static void sv_listen(bx__dao_svc *sv, const bx_msg *req, const cJSON *args) {
  bx_box *box = sv_client_sink_box(req, cJSON_GetArrayItem(args, 1));
  if (box == NULL) return bx__dao_fail(sv, req, "listen_: the sink must be a foam.dao.ClientSink");
  char err[200];
  bx_mlang *pred;
  int rc = bx_mlang_decode(sv->model, cJSON_GetArrayItem(args, 2), false, &pred, err, sizeof err);
  if (rc) return sv_failf(sv, req, "listen_: ", err);
  rc = bx__dao_listen(sv, box, bx_msg_origin(req), pred);
  if (rc)
    return sv_failf(sv, req,
                    "listen_: ", rc == BX_EQUEUEFULL ? "too many listeners" : bx_strerror(rc));
  sv_return(req, bx_json_new_object("foam.core.FObject"));
}

/* ---- the box ---------------------------------------------------------------------------- */

static const struct {
  const char *name;
  void (*fn)(bx__dao_svc *sv, const bx_msg *req, const cJSON *args);
} sv_methods[] = {
    {"put_", sv_put},
    {"find_", sv_find},
    {"remove_", sv_remove},
    {"select_", sv_select},
    {"removeAll_", sv_remove_all},
    {"listen_", sv_listen},
    {"cmd_", sv_cmd},
};

static int sv_send(bx_box *self, bx_msg *msg) {
  bx__dao_svc *sv = *(bx__dao_svc **)bx_box_priv(self);
  const cJSON *o = bx_msg_object(msg);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  if (!bx_msg_is(msg, BX_CLASS_RPC_MESSAGE) || !cJSON_IsString(name)) {
    bx__dao_fail(sv, msg, "a DAO serves RPCMessages only");
    bx_msg_unref(msg);
    return 0;
  }
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "args");
  if (args != NULL && !cJSON_IsArray(args) && !cJSON_IsNull(args)) {
    bx__dao_fail(sv, msg, "args is not an array");
    bx_msg_unref(msg);
    return 0;
  }
  size_t i = 0, n = sizeof sv_methods / sizeof sv_methods[0];
  while (i < n && strcmp(sv_methods[i].name, name->valuestring) != 0)
    i++;
  if (i < n)
    sv_methods[i].fn(sv, msg, args);
  else
    sv_failf(sv, msg, "no such method: ", name->valuestring);
  bx_msg_unref(msg);
  return 0;
}

static void sv_destroy(bx_box *self) {
  bx__dao_svc *sv = *(bx__dao_svc **)bx_box_priv(self);
  bx__dao_listeners_free(sv);
  free(sv);
}

static const bx_box_ops sv_ops = {BX_BOX_OPS_VERSION, "dao", sv_send, NULL, sv_destroy};

int bx_dao_service_new(bx_ctx *ctx, const bx_dao_model *model, bx_dao_store *store,
                       const bx_dao_service_opts *opts, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || model == NULL || store == NULL || model->id_field >= model->nfields)
    return BX_EINVAL;
  int rc = bx_dao_allow_classes(ctx, model);
  if (rc) return rc;
  bx__dao_svc *sv = calloc(1, sizeof *sv);
  if (sv == NULL) return BX_ENOMEM;
  sv->ctx = ctx;
  sv->model = model;
  sv->store = store;
  if (opts != NULL) sv->opts = *opts;
  if (sv->opts.max_listeners == 0) sv->opts.max_listeners = 1024;
  bx_box *box;
  if ((rc = bx_box_new(ctx, &sv_ops, sizeof sv, &box)) != 0) {
    free(sv);
    return rc;
  }
  *(bx__dao_svc **)bx_box_priv(box) = sv;
  *out = box;
  return 0;
}

size_t bx_dao_service_listeners(bx_box *service) {
  if (service == NULL || bx_box_get_ops(service) != &sv_ops) return 0;
  return (*(bx__dao_svc **)bx_box_priv(service))->nlisteners;
}
