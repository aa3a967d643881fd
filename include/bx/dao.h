/* DAOs over boxes: FOAM2's DAO interface served by bx (docs/dao.md, spec/foam/dao.md).
 *
 * A DAO service is a box serving FOAM2's DAO RPCs (put_, find_, remove_, select_, removeAll_,
 * listen_, cmd_) for one model over one store. Register it like any service and FOAM2's
 * ClientDAO family (and bx_dao_client, bx.js, bxctl dao) can use it over every transport.
 *
 * - A **model** names the FOAM class, its fields (name and type) and the id field. Objects are
 *   cJSON trees in FOAM's form {"class": ..., fields...}; the service checks and normalises
 *   every object it is given (bx_dao_normalize()): unknown keys dropped, each field of the
 *   right type, absent fields at their default (Int/Float 0, String "", Bool false, arrays []),
 *   dates as epoch milliseconds (an absent date stays absent).
 * - A **store** keeps normalised objects by id and answers queries (bx_dao_query: predicate,
 *   order, skip, limit). Two come with bx: memory and SQLite. A store of your own implements
 *   bx_dao_store_ops; bx_dao_eval() and bx_dao_compare() give the mLang semantics in memory.
 * - **mLang** predicates and orders arrive as FOAM JSON and are decoded once into a bx_mlang
 *   tree (bounded depth and size); what bx does not implement is answered with an
 *   RPCErrorMessage "unsupported mLang class X", never ignored. Func (JavaScript source) is
 *   refused and never run.
 */
#ifndef BX_DAO_H
#define BX_DAO_H

#include <cjson/cJSON.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- models --------------------------------------------------------------------------- */

typedef enum bx_dao_ftype {
  BX_DAO_INT = 1, /* integer (int64 in C, a JSON number within +-2^53) */
  BX_DAO_FLOAT,   /* double */
  BX_DAO_STRING,  /* UTF-8 string */
  BX_DAO_BOOL,    /* bool */
  BX_DAO_DATE,    /* FOAM DateTime: epoch ms; ISO-8601 strings accepted; may be absent */
  BX_DAO_STRINGS  /* array of strings (FOAM StringArray) */
} bx_dao_ftype;

typedef struct bx_dao_field {
  const char *name;
  bx_dao_ftype type;
} bx_dao_field;

typedef struct bx_dao_model {
  const char *class_name; /* e.g. "test.Todo" */
  const bx_dao_field *fields;
  size_t nfields;
  size_t id_field; /* index into fields: an INT or STRING field */
} bx_dao_model;

/* The index of field `name` in model, or -1. */
BX_EXTERN int bx_dao_field_index(const bx_dao_model *model, const char *name);

/* Checks `in` (borrowed: a FOAM object of the model's class, or with no "class") and stores
 * its normal form (new tree, caller owns) in *out. Returns 0, BX_EBADARG (err, when non-NULL,
 * says why: a wrong type, a missing id) or BX_ENOMEM. */
BX_EXTERN int bx_dao_normalize(const bx_dao_model *model, const cJSON *in, cJSON **out, char *err,
                               size_t errlen);

/* ---- mLang ---------------------------------------------------------------------------- */

typedef struct bx_mlang bx_mlang; /* a decoded predicate or order (immutable) */

/* Limits of the decoder. */
#define BX_MLANG_MAX_DEPTH 32
#define BX_MLANG_MAX_NODES 1024

/* Decodes a predicate (`order` false) or a comparator (`order` true) from its FOAM JSON
 * (borrowed; NULL or JSON null: none, *out NULL). Property references are resolved against
 * model (borrowed: must outlive the tree). Returns 0 and the tree in *out (caller owns:
 * bx_mlang_free), or BX_EBADARG / BX_ENOTSUP (unsupported class) / BX_ETOODEEP / BX_EMSGSIZE
 * (too many nodes) / BX_ENOMEM with err explaining. */
BX_EXTERN int bx_mlang_decode(const bx_dao_model *model, const cJSON *json, bool order,
                              bx_mlang **out, char *err, size_t errlen);
BX_EXTERN void bx_mlang_free(bx_mlang *m);
/* The FOAM JSON of a tree (new tree, caller owns), or NULL on allocation failure. */
BX_EXTERN cJSON *bx_mlang_to_json(const bx_dao_model *model, const bx_mlang *m);

/* Does the normalised object obj match predicate p (NULL: true)? */
BX_EXTERN bool bx_dao_eval(const bx_dao_model *model, const bx_mlang *p, const cJSON *obj);
/* Orders two normalised objects under comparator `order` (NULL: none), then by id ascending:
 * <0, 0 or >0. Strings compare in code-point order, false < true, an absent date after every
 * date. */
BX_EXTERN int bx_dao_compare(const bx_dao_model *model, const bx_mlang *order, const cJSON *a,
                             const cJSON *b);

/* ---- stores --------------------------------------------------------------------------- */

#define BX_DAO_NO_LIMIT INT64_C(9007199254740991) /* 2^53-1: FOAM2's "no limit" */

typedef struct bx_dao_query {
  const bx_mlang *predicate; /* NULL: every object */
  const bx_mlang *order;     /* NULL: id ascending */
  int64_t skip;              /* >= 0 */
  int64_t limit;             /* >= 0; BX_DAO_NO_LIMIT */
} bx_dao_query;

/* A row of a select, borrowed for the call. Returns 0 to go on, non-zero to stop. */
typedef int (*bx_dao_row_fn)(const cJSON *obj, void *data);

typedef struct bx_dao_store bx_dao_store;

typedef struct bx_dao_store_ops {
  /* Inserts or replaces obj (normalised, borrowed) by id. */
  int (*put)(bx_dao_store *s, const cJSON *obj);
  /* The object whose id equals `id` (borrowed JSON value): 0 and a new tree in *out, or 0 and
   * NULL when there is none. */
  int (*find)(bx_dao_store *s, const cJSON *id, cJSON **out);
  /* Removes the object of that id: 0 and the removed object (caller owns) in *out, or 0 and
   * NULL when there was none. */
  int (*remove)(bx_dao_store *s, const cJSON *id, cJSON **out);
  /* Calls fn for each object matching q, in q's order, after q->skip, at most q->limit. */
  int (*select)(bx_dao_store *s, const bx_dao_query *q, bx_dao_row_fn fn, void *data);
  /* Frees the store. */
  void (*destroy)(bx_dao_store *s);
} bx_dao_store_ops;

struct bx_dao_store {
  const bx_dao_store_ops *ops;
  const bx_dao_model *model; /* borrowed: must outlive the store */
  char error[160];           /* the last failure's text, for the RPCErrorMessage */
};

/* An in-memory store (objects by id). Returns 0 and the store in *out, or BX_ENOMEM. */
BX_EXTERN int bx_dao_memory_store_new(const bx_dao_model *model, bx_dao_store **out);
/* A SQLite store in the database file `path` (":memory:" for none), with one table named
 * after the model's class ('.' -> '_'), one column per field, created if missing. Predicates
 * become SQL with bound parameters, orders ORDER BY, skip/limit LIMIT/OFFSET. Returns 0 and
 * the store in *out, BX_EINVAL (a model SQLite cannot hold) or BX_EIO-like libuv/BX_EREMOTE
 * errors with the reason logged into *out's error when it could be made. */
BX_EXTERN int bx_dao_sqlite_store_new(const bx_dao_model *model, const char *path,
                                      bx_dao_store **out);
/* Frees a store (NULL ok). */
BX_EXTERN void bx_dao_store_free(bx_dao_store *s);

/* ---- the service ---------------------------------------------------------------------- */

typedef struct bx_dao_service_opts {
  bool read_only;       /* put_/remove_/removeAll_ answer "Cannot put into ReadOnlyDAO" ... */
  size_t max_listeners; /* 0: 1024 */
} bx_dao_service_opts;

/* Creates a box serving FOAM2's DAO RPCs for model over store (both borrowed: they must
 * outlive the box; several services may share a store, e.g. a read-only one). Whitelists the
 * model's class, the mLang classes and foam.dao.* in ctx. opts may be NULL. Returns 0 and the
 * box in *out, or BX_EINVAL / BX_ENOMEM. Register it to name the service.
 *
 * Listeners (listen_): every change is sent to every listener before the writer's reply:
 * put/remove with the object to a listener without predicate, `reset` to one with a predicate
 * (FOAM2 JS style), most recently attached first. A listener is detached when a send to it
 * fails (its connection closed, its queue is full: bounded by the transport's limits), with a
 * log line; nothing is dropped silently. */
BX_EXTERN int bx_dao_service_new(bx_ctx *ctx, const bx_dao_model *model, bx_dao_store *store,
                                 const bx_dao_service_opts *opts, bx_box **out);
/* Number of listeners attached to a service box. */
BX_EXTERN size_t bx_dao_service_listeners(bx_box *service);

/* Whitelists the classes a DAO peer sends (model class, mLang, foam.dao.*) in ctx. */
BX_EXTERN int bx_dao_allow_classes(bx_ctx *ctx, const bx_dao_model *model);

/* ---- the client: a remote DAO box ----------------------------------------------------- */

/* A client of a DAO service (bx's, or one FOAM2 serves): service is the DAO's box, e.g.
 * bx_sub_box_new(ctx, "todos", bx_connect(...)). Calls send spec/foam/dao.md section 12's
 * requests (x null, ArraySink by value). */
typedef struct bx_dao_client bx_dao_client;

/* Completion of a call, once, on the loop: status 0 with data (the reply's data, borrowed
 * for the callback; NULL when the reply had none or null), or an error (BX_EREMOTE with the
 * service's text in `error`, BX_ETIMEDOUT, BX_ECONNLOST ...). */
typedef void (*bx_dao_cb)(int status, const cJSON *data, const char *error, void *arg);

/* Creates a client (service referenced, model borrowed) in *out: 0, BX_EINVAL or BX_ENOMEM.
 * A model with a NULL class_name stands for "unknown" (bxctl): only its id field is used. */
BX_EXTERN int bx_dao_client_new(bx_box *service, const bx_dao_model *model, bx_dao_client **out);
/* Frees the client; calls in flight still complete. NULL ok. */
BX_EXTERN void bx_dao_client_free(bx_dao_client *c);
/* Per-call timeout (0: BX_DEFAULT_CALL_TIMEOUT_MS). */
BX_EXTERN void bx_dao_client_set_timeout(bx_dao_client *c, uint64_t ms);

/* put_(obj) (borrowed): data is the stored object. */
BX_EXTERN int bx_dao_put(bx_dao_client *c, const cJSON *obj, bx_dao_cb cb, void *arg);
/* find_(id) (borrowed: the bare key): data is the object or NULL. */
BX_EXTERN int bx_dao_find(bx_dao_client *c, const cJSON *id, bx_dao_cb cb, void *arg);
/* remove_(obj) (borrowed; only its id matters; a bare key is wrapped). */
BX_EXTERN int bx_dao_remove(bx_dao_client *c, const cJSON *obj, bx_dao_cb cb, void *arg);

typedef struct bx_dao_select_opts {
  const cJSON *where; /* predicate (FOAM JSON) or NULL */
  const cJSON *order; /* comparator or NULL */
  int64_t skip;
  int64_t limit;     /* 0: no limit (as FOAM2's RequestResponseClientDAO) */
  const cJSON *sink; /* a sink by value (Count ...); NULL: an ArraySink */
} bx_dao_select_opts;

/* select_: data is the filled sink ({"class":"foam.dao.ArraySink","array":[...]}). opts may
 * be NULL (everything). */
BX_EXTERN int bx_dao_select(bx_dao_client *c, const bx_dao_select_opts *opts, bx_dao_cb cb,
                            void *arg);
/* select_ into a sink passed by reference (a ClientSink: streaming): the service sends one
 * one-way put per row, then eof, then its reply; row(obj, row_arg) runs on the loop for each
 * row (obj borrowed), then done once, after both the eof and the reply (opts->sink ignored). */
BX_EXTERN int bx_dao_select_stream(bx_dao_client *c, const bx_dao_select_opts *opts,
                                   bx_dao_row_fn row, void *row_arg, bx_dao_cb done,
                                   void *done_arg);
/* removeAll_ (opts->sink ignored). */
BX_EXTERN int bx_dao_remove_all(bx_dao_client *c, const bx_dao_select_opts *opts, bx_dao_cb cb,
                                void *arg);

/* listen_: exports a local sink box; fn(event, obj, arg) runs on the loop for each
 * notification ("put", "remove" with the object, "reset" with NULL). done (optional) gets the
 * listen_ reply. There is no unsubscribe on the wire: bx_dao_unlisten() stops the local
 * deliveries and drops the box (the service detaches it when its connection closes). */
typedef void (*bx_dao_event_fn)(const char *event, const cJSON *obj, void *arg);
typedef struct bx_dao_listener bx_dao_listener;
BX_EXTERN int bx_dao_listen(bx_dao_client *c, const cJSON *where, bx_dao_event_fn fn, void *arg,
                            bx_dao_cb done, void *done_arg, bx_dao_listener **out);
BX_EXTERN void bx_dao_unlisten(bx_dao_listener *l);

/* ---- predicate builders (FOAM JSON; each takes ownership of its cJSON arguments and
 * returns a new tree, or NULL when one was NULL or memory ran out) --------------------------- */

BX_EXTERN cJSON *bx_dao_prop(const bx_dao_model *model, const char *name);
BX_EXTERN cJSON *bx_dao_const(cJSON *value);
/* op: "Eq" "Neq" "Lt" "Lte" "Gt" "Gte" "In" "Contains" "ContainsIC" "StartsWith"
 * "StartsWithIC" "EndsWith" (arg1, arg2); "Has" "Not" "Keyword" (arg1 only, arg2 NULL). */
BX_EXTERN cJSON *bx_dao_pred(const char *op, cJSON *arg1, cJSON *arg2);
BX_EXTERN cJSON *bx_dao_and(cJSON *a, cJSON *b);
BX_EXTERN cJSON *bx_dao_or(cJSON *a, cJSON *b);
BX_EXTERN cJSON *bx_dao_desc(cJSON *comparator);
BX_EXTERN cJSON *bx_dao_then_by(cJSON *head, cJSON *tail);

/* A small text syntax for predicates (bxctl dao --where): comparisons `field OP value` with
 * OP one of = != < <= > >= ~ (contains, ignoring case) ^ (starts with, ignoring case),
 * `has field`, `field in (v, ...)`, `not X`, `X and Y`, `X or Y`, parentheses. Values: numbers,
 * true/false, "quoted" or bare words (typed by the field: a date takes an ISO string or epoch
 * ms). model NULL: any property name, values typed by how they are written (numbers,
 * true/false, else strings). Returns 0 and the FOAM JSON in *out, or BX_EBADARG with err
 * explaining. */
BX_EXTERN int bx_dao_where_parse(const bx_dao_model *model, const char *text, cJSON **out,
                                 char *err, size_t errlen);
/* "f1,-f2": ThenBy(f1, Desc(f2)). Same contract. */
BX_EXTERN int bx_dao_order_parse(const bx_dao_model *model, const char *text, cJSON **out,
                                 char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* BX_DAO_H */
