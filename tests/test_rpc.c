/* The RPC runtime with hand-written descriptor tables (what bxgen generates): skeleton
 * dispatch, typed round trips, errors that name the problem, and calls completing exactly once
 * with each outcome: result, remote error, no such service, timeout, cancel, dropped, closing.
 *
 * Every service test runs twice: with the skeleton registered directly (typed calls are then
 * served without messages, rpc_internal.h "direct calls") and behind a proxy box (the message
 * path). Both must behave the same; the "peek" method shows which path was taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "rpc_internal.h"
#include "testutil.h"

/* ---- a test interface: t.add(a,b)->sum, t.echo(s)->s, t.pt(p)->p, t.fail(), t.later(),
 *      t.sum(xs[n])->i64, t.cb(box), t.note(s) one-way, t.pair()->{q,r} -------------------- */

typedef struct t_point {
  int32_t x;
  int64_t big;
  char *label;
  struct t_point *next; /* nullable */
} t_point;

static const bx_type t_point_type;
static const bx_type t_point_ptr = {
    .kind = BX_KIND_NULLABLE, .name = "t_point *", .size = sizeof(void *), .elem = &t_point_type};
static const bx_field t_point_fields[] = {
    {"x", &bx_type_int32, offsetof(t_point, x), NULL, 0},
    {"big", &bx_type_int64, offsetof(t_point, big), NULL, 0},
    {"label", &bx_type_string, offsetof(t_point, label), NULL, 0},
    {"next", &t_point_ptr, offsetof(t_point, next), NULL, 0},
};
static const bx_type t_point_type = {.kind = BX_KIND_STRUCT,
                                     .name = "t_point",
                                     .size = sizeof(t_point),
                                     .class_name = "test.rpc.Point",
                                     .fields = t_point_fields,
                                     .nfields = 4};

typedef struct add_args {
  double a, b;
} add_args;
typedef struct add_result {
  double sum;
} add_result;
static const bx_field add_args_f[] = {{"a", &bx_type_double, offsetof(add_args, a), NULL, 0},
                                      {"b", &bx_type_double, offsetof(add_args, b), NULL, 0}};
static const bx_field add_result_f[] = {
    {"sum", &bx_type_double, offsetof(add_result, sum), NULL, 0}};
static const bx_type add_args_t = {.kind = BX_KIND_STRUCT,
                                   .name = "add_args",
                                   .size = sizeof(add_args),
                                   .fields = add_args_f,
                                   .nfields = 2};
static const bx_type add_result_t = {.kind = BX_KIND_STRUCT,
                                     .name = "add_result",
                                     .size = sizeof(add_result),
                                     .fields = add_result_f,
                                     .nfields = 1};

typedef struct str_args {
  char *s;
} str_args;
static const bx_field str_f[] = {{"s", &bx_type_string, offsetof(str_args, s), NULL, 0}};
static const bx_type str_t = {
    .kind = BX_KIND_STRUCT, .name = "str", .size = sizeof(str_args), .fields = str_f, .nfields = 1};

typedef struct pt_args {
  t_point p;
} pt_args;
static const bx_field pt_f[] = {{"p", &t_point_type, offsetof(pt_args, p), NULL, 0}};
static const bx_type pt_t = {
    .kind = BX_KIND_STRUCT, .name = "pt", .size = sizeof(pt_args), .fields = pt_f, .nfields = 1};

typedef struct void_s {
  char unused;
} void_s;
static const bx_type void_t = {.kind = BX_KIND_STRUCT, .name = "void", .size = sizeof(void_s)};

typedef struct sum_args {
  int32_t *xs;
  size_t n;
} sum_args;
typedef struct sum_result {
  int64_t total;
} sum_result;
static const bx_type i32_array = {
    .kind = BX_KIND_ARRAY, .name = "int32_t[]", .size = sizeof(void *), .elem = &bx_type_int32};
static const bx_field sum_args_f[] = {
    {"xs", &i32_array, offsetof(sum_args, xs), &bx_type_uint64, offsetof(sum_args, n)}};
static const bx_field sum_result_f[] = {
    {"total", &bx_type_int64, offsetof(sum_result, total), NULL, 0}};
static const bx_type sum_args_t = {.kind = BX_KIND_STRUCT,
                                   .name = "sum_args",
                                   .size = sizeof(sum_args),
                                   .fields = sum_args_f,
                                   .nfields = 1};
static const bx_type sum_result_t = {.kind = BX_KIND_STRUCT,
                                     .name = "sum_result",
                                     .size = sizeof(sum_result),
                                     .fields = sum_result_f,
                                     .nfields = 1};

typedef struct cb_args {
  bx_box *box;
} cb_args;
static const bx_field cb_f[] = {{"box", &bx_type_box, offsetof(cb_args, box), NULL, 0}};
static const bx_type cb_t = {
    .kind = BX_KIND_STRUCT, .name = "cb", .size = sizeof(cb_args), .fields = cb_f, .nfields = 1};

typedef struct pair_result {
  int32_t q, r;
} pair_result;
static const bx_field pair_f[] = {{"q", &bx_type_int32, offsetof(pair_result, q), NULL, 0},
                                  {"r", &bx_type_int32, offsetof(pair_result, r), NULL, 0}};
static const bx_type pair_t = {.kind = BX_KIND_STRUCT,
                               .name = "pair",
                               .size = sizeof(pair_result),
                               .fields = pair_f,
                               .nfields = 2};

typedef enum color { RED = 1, BLUE = 2 } color;
typedef struct shade_args {
  color c;
} shade_args;
static const bx_enum_value color_values[] = {{"RED", RED}, {"BLUE", BLUE}};
static const bx_type color_t = {.kind = BX_KIND_ENUM,
                                .name = "color",
                                .size = sizeof(color),
                                .values = color_values,
                                .nvalues = 2};
static const bx_field shade_f[] = {{"c", &color_t, offsetof(shade_args, c), NULL, 0}};
static const bx_type shade_t = {.kind = BX_KIND_STRUCT,
                                .name = "shade",
                                .size = sizeof(shade_args),
                                .fields = shade_f,
                                .nfields = 1};

/* The implementation ("ops" is unused: the thunks call static functions directly). */
typedef struct impl {
  int notes;
  bx_rpc_call *pending; /* for later() */
  double *pending_out;
  bx_box *callback;
  bool saw_reply_box; /* peek(): did the request carry a reply box (the message path)? */
  int dl_calls;       /* dl() calls started */
  bool dl_wanted;     /* what bx_rpc_call_wanted() said in the last */
} impl;

static int inv_add(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  add_args *x = a;
  ((add_result *)r)->sum = x->a + x->b;
  return 0;
}
static int inv_echo(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  const char *s = ((str_args *)a)->s;
  ((str_args *)r)->s = strcmp(s, "no result") == 0 ? NULL : bx__strdup(s); /* NULL: unsendable */
  return 0;
}
/* peek(s) -> the request's args as JSON, as the implementation sees the message. */
static int inv_peek(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  const bx_msg *req = bx_rpc_call_msg(call);
  ((impl *)im)->saw_reply_box = bx_msg_reply_box(req) != NULL;
  cJSON *args = cJSON_GetObjectItemCaseSensitive(bx_msg_object(req), "args");
  ((str_args *)r)->s = cJSON_PrintUnformatted(args);
  return 0;
}
static int inv_shade(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  ((shade_args *)r)->c = ((shade_args *)a)->c == RED ? BLUE : RED;
  return 0;
}
static int inv_pt(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  const t_point *in = &((pt_args *)a)->p;
  t_point *out = &((pt_args *)r)->p;
  out->x = in->x + 1;
  out->big = in->big;
  out->label = bx__strdup(in->label);
  if (in->next) {
    out->next = calloc(1, sizeof *out->next);
    out->next->x = in->next->x;
    out->next->label = bx__strdup(in->next->label);
  }
  return 0;
}
static int inv_fail(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  bx_rpc_set_error(call, "sync %s", "boom");
  return BX_EREMOTE;
}
static int inv_later(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  impl *i = im;
  i->pending = call;
  i->pending_out = &((add_result *)r)->sum;
  return BX_RPC_ASYNC;
}
static int inv_sum(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  sum_args *x = a;
  int64_t t = 0;
  for (size_t k = 0; k < x->n; k++)
    t += x->xs[k];
  ((sum_result *)r)->total = t;
  return 0;
}
static int inv_cb(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  impl *i = im;
  i->callback = bx_box_ref(((cb_args *)a)->box);
  return 0;
}
static int inv_note(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  ((impl *)im)->notes++;
  return 0;
}
static int inv_pair(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  ((pair_result *)r)->q = 7;
  ((pair_result *)r)->r = -1;
  return 0;
}
/* missing(s): an application error with a libuv code, as "no such item" would be. */
static int inv_missing(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  bx_rpc_set_error(call, "no such item: %s", ((str_args *)a)->s);
  return UV_ENOENT;
}
/* dl() -> the milliseconds left of the caller's deadline, as the implementation sees them. */
static int inv_dl(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  ((impl *)im)->dl_calls++;
  ((impl *)im)->dl_wanted = bx_rpc_call_wanted(call);
  ((add_result *)r)->sum = (double)bx_rpc_call_deadline(call);
  return 0;
}
static int inv_unimplemented(const void *ops, void *im, bx_rpc_call *call, void *a, void *r) {
  return BX_ENOMETHOD;
}

static const bx_method t_methods[] = {
    {"add", &add_args_t, &add_result_t, 0, inv_add},
    {"echo", &str_t, &str_t, 0, inv_echo},
    {"pt", &pt_t, &pt_t, 0, inv_pt},
    {"fail", &void_t, &void_t, 0, inv_fail},
    {"later", &void_t, &add_result_t, 0, inv_later},
    {"sum", &sum_args_t, &sum_result_t, 0, inv_sum},
    {"cb", &cb_t, &void_t, 0, inv_cb},
    {"note", &str_t, &void_t, BX_METHOD_ONEWAY, inv_note},
    {"pair", &void_t, &pair_t, 0, inv_pair},
    {"nope", &void_t, &void_t, 0, inv_unimplemented},
    {"peek", &str_t, &str_t, 0, inv_peek},
    {"shade", &shade_t, &shade_t, 0, inv_shade},
    {"missing", &str_t, &void_t, 0, inv_missing},
    {"dl", &void_t, &add_result_t, 0, inv_dl},
};
static const char *const t_classes[] = {"test.rpc.Point"};
static const bx_interface t_iface = {"t",       t_methods, sizeof t_methods / sizeof t_methods[0],
                                     t_classes, 1,         2};
static const bx_method *M(const char *name) {
  return bx_interface_method(&t_iface, name);
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static bool via_messages; /* register a proxy in front of the skeleton */

typedef struct fx {
  bxt_env *e;
  impl im;
  bx_box *skel, *svc;
  bx_stub stub;
} fx;

static fx *fx_new(void) {
  fx *f = calloc(1, sizeof *f);
  f->e = bxt_env_new(NULL);
  bx_skeleton_new(f->e->ctx, &t_iface, &t_iface, &f->im, &f->skel);
  assert_non_null(f->skel);
  assert_true(bx_ctx_class_allowed(f->e->ctx, "test.rpc.Point"));
  bx_box *front = NULL;
  if (via_messages)
    assert_int_equal(bx_proxy_box_new(f->e->ctx, f->skel, &front), 0);
  else
    front = bx_box_ref(f->skel);
  assert_int_equal(bx_register(bx_ctx_registry(f->e->ctx), "t", front, &f->svc), 0);
  bx_box_unref(front);
  assert_int_equal(bx_stub_init(&f->stub, f->svc, &t_iface), 0);
  return f;
}

static void fx_free(fx *f) {
  bx_stub_reset(&f->stub);
  bx_box_unref(f->im.callback);
  bx_box_unref(f->svc);
  bx_box_unref(f->skel);
  bxt_env_free(f->e);
  free(f);
}

typedef struct outcome {
  int calls;
  int status;
  char text[200];
  double sum;
  char *str;
  char reply[200]; /* the reply message's payload, as bx_call_reply() shows it */
} outcome;

static void on_done(bx_call *call, int status, void *result, void *data) {
  outcome *o = data;
  o->calls++;
  o->status = status;
  const char *t = bx_call_error_text(call);
  snprintf(o->text, sizeof o->text, "%s", t ? t : "");
  if (status == 0 && result) o->sum = ((add_result *)result)->sum;
  const bx_msg *reply = bx_call_reply(call);
  char *j = reply ? cJSON_PrintUnformatted(bx_msg_object(reply)) : NULL;
  snprintf(o->reply, sizeof o->reply, "%s", j ? j : "");
  free(j);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_async_result_once(void **state) {
  (void)state;
  fx *f = fx_new();
  outcome o = {0};
  add_args a = {1, 2};
  bx_call *c = NULL;
  assert_int_equal(bx_call_start(&f->stub, M("add"), &a, NULL, on_done, &o, &c), 0);
  assert_non_null(c);
  assert_int_equal(o.calls, 0); /* never inside bx_call_start */
  bxt_run(f->e);
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, 0);
  assert_true(o.sum == 3.0);
  assert_string_equal(o.reply, "{\"class\":\"foam.box.RPCReturnMessage\",\"data\":3}");
  /* The reply export never grew the registry: only "t" is registered. */
  assert_int_equal(bx_registry_size(bx_ctx_registry(f->e->ctx)), 1);
  fx_free(f);
}

static void test_sync_round_trips(void **state) {
  (void)state;
  fx *f = fx_new();
  add_args a = {0.5, 0.25};
  add_result r = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("add"), &a, NULL, &r), 0);
  assert_true(r.sum == 0.75);

  const char *texts[] = {"", "héllo \"q\" €\n", "\xF0\x9F\x98\x80 emoji"};
  for (size_t i = 0; i < 3; i++) {
    str_args in = {(char *)texts[i]}, out = {0};
    assert_int_equal(bx_call_sync(&f->stub, M("echo"), &in, NULL, &out), 0);
    assert_string_equal(out.s, texts[i]);
    bx_value_free(M("echo")->result, &out);
  }

  /* Nested struct with a nullable link and 64-bit limits. */
  t_point next = {.x = 9, .label = "n"};
  pt_args pin = {{.x = 41, .big = INT64_MIN, .label = "p", .next = &next}}, pout = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("pt"), &pin, NULL, &pout), 0);
  assert_int_equal(pout.p.x, 42);
  assert_true(pout.p.big == INT64_MIN);
  assert_string_equal(pout.p.label, "p");
  assert_non_null(pout.p.next);
  assert_int_equal(pout.p.next->x, 9);
  assert_null(pout.p.next->next);
  bx_value_free(M("pt")->result, &pout);
  pin.p.big = INT64_MAX;
  pin.p.next = NULL;
  assert_int_equal(bx_call_sync(&f->stub, M("pt"), &pin, NULL, &pout), 0);
  assert_true(pout.p.big == INT64_MAX);
  assert_null(pout.p.next);
  bx_value_free(M("pt")->result, &pout);

  /* Arrays, including empty. */
  int32_t xs[] = {1, 2, 3, INT32_MAX};
  sum_args sa = {xs, 4};
  sum_result sr = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("sum"), &sa, NULL, &sr), 0);
  assert_true(sr.total == 6 + (int64_t)INT32_MAX);
  sa.n = 0;
  sa.xs = NULL;
  assert_int_equal(bx_call_sync(&f->stub, M("sum"), &sa, NULL, &sr), 0);
  assert_true(sr.total == 0);

  /* Several outputs travel as an object of named fields. */
  pair_result pr = {0};
  void_s v = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("pair"), &v, NULL, &pr), 0);
  assert_int_equal(pr.q, 7);
  assert_int_equal(pr.r, -1);
  fx_free(f);
}

static void test_remote_errors(void **state) {
  (void)state;
  fx *f = fx_new();
  void_s v = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("fail"), &v, NULL, &v), BX_EREMOTE);
  assert_string_equal(f->stub.last_error, "sync boom");
  assert_int_equal(f->stub.last_code, BX_EREMOTE); /* a text, no particular code */
  assert_int_equal(bx_call_sync(&f->stub, M("nope"), &v, NULL, &v), BX_ENOMETHOD);
  assert_int_equal(f->stub.last_code, BX_ENOMETHOD);

  /* A service that is not registered answers NoSuchName. */
  bx_box *nosuch = NULL;
  bx_sub_box_new(f->e->ctx, "absent", bx_ctx_registry(f->e->ctx), &nosuch);
  bx_stub s2;
  bx_stub_init(&s2, nosuch, NULL);
  add_args a = {1, 1};
  add_result r;
  assert_int_equal(bx_call_sync(&s2, M("add"), &a, NULL, &r), BX_ENOSERVICE);
  assert_string_equal(s2.last_error, "absent");
  bx_stub_reset(&s2);
  bx_box_unref(nosuch);
  fx_free(f);
}

static void test_async_implementation(void **state) {
  (void)state;
  fx *f = fx_new();
  outcome o = {0};
  void_s v = {0};
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, NULL, on_done, &o, NULL), 0);
  bxt_spin(f->e);
  assert_int_equal(o.calls, 0);
  assert_non_null(f->im.pending);
  *f->im.pending_out = 99;
  assert_int_equal(bx_rpc_return(f->im.pending), 0);
  bxt_run(f->e);
  assert_int_equal(o.calls, 1);
  assert_true(o.sum == 99);
  /* Asynchronous failure, as calc.fail() answers. */
  f->im.pending = NULL;
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, NULL, on_done, &o, NULL), 0);
  bxt_spin(f->e);
  assert_int_equal(bx_rpc_fail(f->im.pending, "Error: boom"), 0);
  bxt_run(f->e);
  assert_int_equal(o.calls, 2);
  assert_int_equal(o.status, BX_EREMOTE);
  assert_string_equal(o.text, "Error: boom");
  fx_free(f);
}

static void test_timeout_cancel_dropped(void **state) {
  (void)state;
  fx *f = fx_new();
  outcome o1 = {0}, o2 = {0}, o3 = {0};
  void_s v = {0};
  bx_call_opts opts = {.timeout_ms = 20};
  /* later() never answers: the deadline completes the call. */
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, &opts, on_done, &o1, NULL), 0);
  bxt_run(f->e);
  assert_int_equal(o1.calls, 1);
  assert_int_equal(o1.status, BX_ETIMEDOUT);
  /* A late answer is dropped: still one completion. */
  *f->im.pending_out = 1;
  assert_int_equal(bx_rpc_return(f->im.pending), 0);
  bxt_run(f->e);
  assert_int_equal(o1.calls, 1);

  /* Cancel: exactly one BX_ECANCELED, never inside bx_call_cancel. */
  bx_call *c;
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, NULL, on_done, &o2, &c), 0);
  bxt_spin(f->e);
  assert_int_equal(o2.calls, 0);
  assert_int_equal(bx_call_cancel(c), 0);
  assert_int_equal(bx_call_cancel(c), BX_EINVAL);
  assert_int_equal(o2.calls, 0);
  bxt_run(f->e);
  assert_int_equal(o2.calls, 1);
  assert_int_equal(o2.status, BX_ECANCELED);
  bx_rpc_return(f->im.pending);
  bxt_run(f->e);
  assert_int_equal(o2.calls, 1);

  /* A box that drops the request: the call completes at once, not at its deadline. */
  bx_box *null_box = NULL;
  bx_null_box_new(f->e->ctx, &null_box);
  bx_stub ns;
  bx_stub_init(&ns, null_box, NULL);
  add_args a = {1, 2};
  assert_int_equal(bx_call_start(&ns, M("add"), &a, NULL, on_done, &o3, NULL), 0);
  bxt_run(f->e);
  assert_int_equal(o3.calls, 1);
  assert_int_equal(o3.status, BX_ENOREPLY);
  bx_box_unref(null_box);
  fx_free(f);
}

static void test_closing_completes_pending(void **state) {
  (void)state;
  fx *f = fx_new();
  outcome o = {0};
  void_s v = {0};
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, NULL, on_done, &o, NULL), 0);
  bxt_spin(f->e); /* delivered to the implementation, which keeps it */
  assert_int_equal(o.calls, 0);
  bx_rpc_call *pending = f->im.pending;
  assert_int_equal(bx_ctx_close(f->e->ctx, bxt_on_closed, f->e), 0);
  assert_int_equal(bx_call_start(&f->stub, M("add"), &v, NULL, on_done, &o, NULL), BX_ECLOSING);
  bxt_run(f->e);
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, BX_ECLOSING);
  assert_int_equal(f->e->closed, 1);
  /* The implementation answering late after close only releases the call. */
  bx_rpc_fail(pending, "too late");
  bx_box_unref(f->svc);
  bx_box_unref(f->skel);
  assert_int_equal(uv_loop_close(&f->e->loop), 0);
  free(f->e);
  free(f);
}

static void test_oneway_and_box_argument(void **state) {
  (void)state;
  fx *f = fx_new();
  outcome o = {0};
  str_args n = {"fire-and-forget"};
  assert_int_equal(bx_call_start(&f->stub, M("note"), &n, NULL, on_done, &o, NULL), 0);
  bxt_run(f->e);
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, 0);
  assert_int_equal(f->im.notes, 1);

  /* A box argument reaches the implementation, which can call it back. */
  bxt_sink sink;
  bxt_sink_init(&sink, f->e->ctx);
  cb_args ca = {sink.box};
  void_s v;
  assert_int_equal(bx_call_sync(&f->stub, M("cb"), &ca, NULL, &v), 0);
  assert_non_null(f->im.callback);
  assert_int_equal(bx_send(f->im.callback, bxt_msg("{\"tick\":1}")), 0);
  bxt_run(f->e);
  assert_int_equal(sink.n, 1);
  bxt_sink_free(&sink);
  fx_free(f);
}

/* Malformed argument lists, each answered with an RPCErrorMessage that names the problem. */
static void test_malformed_arguments(void **state) {
  (void)state;
  static const struct {
    const char *method, *args, *expect;
    int code;
  } cases[] = {
      {"add", "[1,\"2\"]", "argument 'b' of add: expected a number, got a string", BX_EBADARG},
      {"add", "[1]", "argument 'b' of add: missing", BX_EBADARG},
      {"add", "[1,2,3]", "add: takes 2 arguments, got 3", BX_EBADARG},
      {"add", "{}", "args must be an array", BX_EBADARG},
      {"sum", "[[1,2147483648]]", "argument 'xs[1]' of sum: 2147483648 does not fit in int32_t",
       BX_EBADARG},
      {"sum", "[[1.5]]", "argument 'xs[0]' of sum: expected an integer", BX_EBADARG},
      {"sum", "[\"x\"]", "argument 'xs' of sum: expected an array, got a string", BX_EBADARG},
      {"pt", "[{\"class\":\"test.rpc.Other\",\"x\":1}]", "expected class test.rpc.Point",
       BX_EBADARG},
      {"pt", "[{\"class\":\"test.rpc.Point\",\"x\":true}]",
       "argument 'p.x' of pt: expected an integer, got a boolean", BX_EBADARG},
      {"pt", "[{\"class\":\"test.rpc.Point\",\"big\":\"12x\"}]",
       "argument 'p.big' of pt: expected an integer", BX_EBADARG},
      {"pt", "[{\"class\":\"test.rpc.Point\",\"next\":{\"x\":\"no\"}}]",
       "argument 'p.next.x' of pt", BX_EBADARG},
      {"echo", "[null]", "argument 's' of echo: expected a string, got null", BX_EBADARG},
      {"cb", "[{\"k\":1}]", "argument 'box' of cb: expected a box reference", BX_EBADARG},
      {"frob", "[]", "t has no method 'frob'", BX_ENOMETHOD},
  };
  fx *f = fx_new();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    outcome o = {0};
    cJSON *args = cJSON_Parse(cases[i].args);
    assert_non_null(args);
    if (!cJSON_IsArray(args)) { /* send a raw request for non-array args */
      bxt_sink sink;
      bxt_sink_init(&sink, f->e->ctx);
      bx_msg *m = NULL;
      bx_msg_new(bx_json_new_object(BX_CLASS_RPC_MESSAGE), &m);
      cJSON_AddStringToObject(bx_msg_object(m), "name", cases[i].method);
      cJSON_AddItemToObject(bx_msg_object(m), "args", args);
      bx_msg_set_reply_box(m, sink.box);
      assert_int_equal(bx_send(f->svc, m), 0);
      bxt_run(f->e);
      assert_int_equal(sink.n, 1);
      const char *text;
      assert_int_equal(bx_msg_error(sink.msgs[0], &text), cases[i].code);
      assert_non_null(strstr(text, cases[i].expect));
      bxt_sink_free(&sink);
      continue;
    }
    assert_int_equal(bx_call_json(f->svc, cases[i].method, args, false, NULL, on_done, &o, NULL),
                     0);
    bxt_run(f->e);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, cases[i].code);
    if (strstr(o.text, cases[i].expect) == NULL)
      fail_msg("case %zu: '%s' lacks '%s'", i, o.text, cases[i].expect);
  }
  fx_free(f);
}

/* describe: every skeleton answers with its interface's descriptor. */
static void on_json(bx_call *call, int status, void *result, void *data) {
  (void)call;
  char **out = data;
  *out = status == 0 && result ? cJSON_PrintUnformatted(result) : strdup("failed");
}

static void test_describe(void **state) {
  (void)state;
  fx *f = fx_new();
  char *d = NULL;
  assert_int_equal(
      bx_call_json(f->svc, "describe", cJSON_CreateArray(), false, NULL, on_json, &d, NULL), 0);
  bxt_run(f->e);
  assert_non_null(d);
  static const char *const want[] = {
      "{\"interface\":\"t\",\"version\":2,\"methods\":[{\"name\":\"add\",\"oneway\":false,"
      "\"params\":[{\"name\":\"a\",\"type\":\"double\"},{\"name\":\"b\",\"type\":\"double\"}],"
      "\"results\":[{\"name\":\"sum\",\"type\":\"double\"}]}",
      "{\"name\":\"note\",\"oneway\":true,\"params\":[{\"name\":\"s\",\"type\":\"string\"}],"
      "\"results\":[]}",
      "{\"name\":\"sum\",\"oneway\":false,\"params\":[{\"name\":\"xs\",\"type\":\"int32[]\"}]",
      "{\"name\":\"cb\",\"oneway\":false,\"params\":[{\"name\":\"box\",\"type\":\"box\"}]",
      "\"structs\":[{\"name\":\"test.rpc.Point\",\"cName\":\"t_point\",\"fields\":[{\"name\":\"x\","
      "\"type\":\"int32\"},{\"name\":\"big\",\"type\":\"int64\"},{\"name\":\"label\",\"type\":"
      "\"string\"},{\"name\":\"next\",\"type\":\"test.rpc.Point?\"}]}",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (strstr(d, want[i]) == NULL) fail_msg("describe lacks %s\nin %s", want[i], d);
  cJSON *j = cJSON_Parse(d);
  const cJSON *structs = cJSON_GetObjectItem(j, "structs");
  assert_int_equal(cJSON_GetArraySize(structs), 2); /* the point (once) and the enum */
  const cJSON *en = cJSON_GetArrayItem(structs, 1);
  assert_non_null(cJSON_GetObjectItem(en, "values"));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "methods")),
                   (int)(sizeof t_methods / sizeof t_methods[0]));
  cJSON_Delete(j);
  free(d);
  fx_free(f);
}

/* What the implementation and the caller see is the same on both paths: the request message,
 * values only the wire form can carry, values the encoder refuses. */
static void test_same_on_both_paths(void **state) {
  (void)state;
  fx *f = fx_new();
  str_args in = {"x"}, out = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("peek"), &in, NULL, &out), 0);
  assert_string_equal(out.s, "[\"x\"]");
  assert_int_equal(f->im.saw_reply_box, via_messages); /* which path served it */
  bx_value_free(M("peek")->result, &out);

  shade_args sa = {RED}, sr = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("shade"), &sa, NULL, &sr), 0);
  assert_int_equal(sr.c, BLUE);
  sa.c = (color)7; /* not an enumerator: the decoder's error, on either path */
  assert_int_equal(bx_call_sync(&f->stub, M("shade"), &sa, NULL, &sr), BX_EBADARG);
  assert_string_equal(f->stub.last_error,
                      "argument 'c' of shade: expected a color name, got a number");

  str_args none = {NULL}; /* the encoder refuses a NULL string at once */
  assert_int_equal(bx_call_sync(&f->stub, M("echo"), &none, NULL, &out), BX_EINVAL);
  str_args unsendable = {"no result"}; /* ... and the skeleton a NULL result */
  assert_int_equal(bx_call_sync(&f->stub, M("echo"), &unsendable, NULL, &out), BX_EINVAL);
  assert_string_equal(f->stub.last_error, "could not encode the result of echo: invalid argument");

  outcome o = {0};
  void_s v = {0};
  assert_int_equal(bx_call_start(&f->stub, M("pair"), &v, NULL, on_done, &o, NULL), 0);
  bxt_run(f->e);
  assert_string_equal(o.reply,
                      "{\"class\":\"foam.box.RPCReturnMessage\",\"data\":{\"q\":7,\"r\":-1}}");
  fx_free(f);
}

/* A call cancelled before the implementation ran, and one started just before the context
 * closes: each completes exactly once, the same way on both paths, and nothing leaks (the
 * implementation still runs; its late answer is dropped). */
static void test_cancel_and_close_before_serving(void **state) {
  (void)state;
  fx *f = fx_new();
  outcome o1 = {0}, o2 = {0};
  str_args in = {"kept"};
  bx_call *c = NULL;
  assert_int_equal(bx_call_start(&f->stub, M("echo"), &in, NULL, on_done, &o1, &c), 0);
  assert_int_equal(bx_call_cancel(c), 0);
  bxt_spin(f->e);
  assert_int_equal(o1.calls, 1);
  assert_int_equal(o1.status, BX_ECANCELED);

  add_args a = {2, 3};
  assert_int_equal(bx_call_start(&f->stub, M("add"), &a, NULL, on_done, &o2, NULL), 0);
  assert_int_equal(bx_ctx_close(f->e->ctx, bxt_on_closed, f->e), 0);
  bxt_run(f->e);
  assert_int_equal(o2.calls, 1);
  assert_int_equal(o2.status, 0); /* served before the close took effect, on either path */
  assert_true(o2.sum == 5);
  assert_int_equal(f->e->closed, 1);
  bx_box_unref(f->svc);
  bx_box_unref(f->skel);
  assert_int_equal(uv_loop_close(&f->e->loop), 0);
  free(f->e);
  free(f);
}

/* 64-bit integers beyond 2^53 travel as strings; both forms decode; ranges are checked. */
static void test_int64_wire_forms(void **state) {
  (void)state;
  static const bx_field f64[] = {{"v", &bx_type_int64, 0, NULL, 0}};
  static const bx_field fu64[] = {{"v", &bx_type_uint64, 0, NULL, 0}};
  static const bx_field fu8[] = {{"v", &bx_type_uint8, 0, NULL, 0}};
  static const bx_type t64 = {
      .kind = BX_KIND_STRUCT, .name = "i64", .size = 8, .fields = f64, .nfields = 1};
  static const bx_type tu64 = {
      .kind = BX_KIND_STRUCT, .name = "u64", .size = 8, .fields = fu64, .nfields = 1};
  static const bx_type tu8 = {
      .kind = BX_KIND_STRUCT, .name = "u8", .size = 1, .fields = fu8, .nfields = 1};
  bx_method m64 = {"m", &t64, &t64, 0, NULL}, mu64 = {"m", &tu64, &tu64, 0, NULL},
            mu8 = {"m", &tu8, &tu8, 0, NULL};
  cJSON *out;
  int64_t v = INT64_MIN;
  assert_int_equal(bx_args_encode(&m64, &v, NULL, &out), 0);
  char *s = cJSON_PrintUnformatted(out);
  assert_string_equal(s, "[\"-9223372036854775808\"]");
  free(s);
  int64_t back = 0;
  bx_value_error err;
  assert_int_equal(bx_args_decode(&m64, out, NULL, &back, false, &err), 0);
  assert_true(back == INT64_MIN);
  cJSON_Delete(out);
  v = 9007199254740992; /* 2^53 itself stays a number */
  assert_int_equal(bx_args_encode(&m64, &v, NULL, &out), 0);
  assert_true(cJSON_IsNumber(cJSON_GetArrayItem(out, 0)));
  cJSON_Delete(out);
  uint64_t u = UINT64_MAX;
  assert_int_equal(bx_args_encode(&mu64, &u, NULL, &out), 0);
  uint64_t uback = 0;
  assert_int_equal(bx_args_decode(&mu64, out, NULL, &uback, false, &err), 0);
  assert_true(uback == UINT64_MAX);
  cJSON_Delete(out);
  const char *bad[] = {"[\"18446744073709551616\"]", "[\"-1\"]", "[-1]", "[\"\"]", "[\" 1\"]"};
  for (size_t i = 0; i < 5; i++) {
    cJSON *j = cJSON_Parse(bad[i]);
    assert_int_equal(bx_args_decode(&mu64, j, NULL, &uback, false, &err), BX_EBADARG);
    cJSON_Delete(j);
  }
  cJSON *j = cJSON_Parse("[\"9223372036854775808\"]");
  assert_int_equal(bx_args_decode(&m64, j, NULL, &back, false, &err), BX_EBADARG);
  cJSON_Delete(j);
  uint8_t b8;
  j = cJSON_Parse("[256]");
  assert_int_equal(bx_args_decode(&mu8, j, NULL, &b8, false, &err), BX_EBADARG);
  assert_non_null(strstr(err.text, "256 does not fit in uint8_t"));
  cJSON_Delete(j);
  j = cJSON_Parse("[255]");
  assert_int_equal(bx_args_decode(&mu8, j, NULL, &b8, false, &err), 0);
  assert_int_equal(b8, 255);
  cJSON_Delete(j);
}

static int direct_path(void **state) {
  (void)state;
  via_messages = false;
  return 0;
}

static int message_path(void **state) {
  (void)state;
  via_messages = true;
  return 0;
}

typedef struct app_outcome {
  int calls, status, code;
  char text[100], reply[200];
} app_outcome;

static void on_app(bx_call *call, int status, void *result, void *data) {
  (void)result;
  app_outcome *o = data;
  o->calls++;
  o->status = status;
  o->code = bx_call_error_code(call);
  snprintf(o->text, sizeof o->text, "%s", bx_call_error_text(call));
  const bx_msg *reply = bx_call_reply(call);
  char *j = reply ? cJSON_PrintUnformatted(bx_msg_object(reply)) : NULL;
  snprintf(o->reply, sizeof o->reply, "%s", j ? j : "");
  free(j);
}

/* An implementation's error reaches the caller as an application error (BX_EREMOTE) with its
 * code and its text together, the code by name on the wire beside FOAM's string data; codes of
 * the application's own travel as numbers. */
static void test_application_errors(void **state) {
  (void)state;
  fx *f = fx_new();
  str_args in = {.s = "k"};
  void_s v = {0};
  assert_int_equal(bx_call_sync(&f->stub, M("missing"), &in, NULL, &v), BX_EREMOTE);
  assert_int_equal(f->stub.last_code, UV_ENOENT);
  assert_string_equal(f->stub.last_error, "no such item: k");

  app_outcome o = {0};
  assert_int_equal(bx_call_start(&f->stub, M("missing"), &in, NULL, on_app, &o, NULL), 0);
  bxt_run(f->e);
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, BX_EREMOTE);
  assert_int_equal(o.code, UV_ENOENT);
  assert_string_equal(o.text, "no such item: k");
  assert_string_equal(o.reply, "{\"class\":\"foam.box.RPCErrorMessage\",\"data\":\"no such item: "
                               "k\",\"code\":\"UV_ENOENT\"}");

  /* Asynchronous, with a code of the application's own and no text of its own. */
  memset(&o, 0, sizeof o);
  f->im.pending = NULL;
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, NULL, on_app, &o, NULL), 0);
  bxt_spin(f->e);
  assert_int_equal(bx_rpc_fail_code(f->im.pending, 1, "x"), BX_EINVAL);
  assert_int_equal(bx_rpc_fail_code(f->im.pending, BX_APP_ERROR_BASE - 7, "out of stock"), 0);
  bxt_run(f->e);
  assert_int_equal(o.status, BX_EREMOTE);
  assert_int_equal(o.code, BX_APP_ERROR_BASE - 7);
  assert_string_equal(o.text, "out of stock");
  assert_string_equal(o.reply, "{\"class\":\"foam.box.RPCErrorMessage\",\"data\":\"out of "
                               "stock\",\"code\":-100007}");

  /* A transport's or the runtime's failure is never BX_EREMOTE: its code is its status. */
  memset(&o, 0, sizeof o);
  bx_call_opts opts = {.timeout_ms = 10};
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, &opts, on_app, &o, NULL), 0);
  bxt_run(f->e);
  assert_int_equal(o.status, BX_ETIMEDOUT);
  assert_int_equal(o.code, BX_ETIMEDOUT);
  bx_rpc_return(f->im.pending);
  bxt_run(f->e);
  fx_free(f);
}

/* The caller's deadline reaches the implementation; a request whose deadline has passed is
 * answered BX_ETIMEDOUT without starting; an asynchronous implementation can tell that its
 * caller gave up. */
static void test_deadlines(void **state) {
  (void)state;
  fx *f = fx_new();
  void_s v = {0};
  add_result r = {0};
  bx_call_opts opts = {.timeout_ms = 5000};
  assert_int_equal(bx_call_sync(&f->stub, M("dl"), &v, &opts, &r), 0);
  assert_true(r.sum > 0 && r.sum <= 5000);
  assert_true(f->im.dl_wanted);

  /* A request that arrives with its deadline passed (deadlineMs 0 on the wire). */
  bxt_sink sink;
  bxt_sink_init(&sink, f->e->ctx);
  bx_msg *req = bx__rpc_request_new("dl", cJSON_CreateArray());
  bx_msg_set_reply_box(req, sink.box);
  bx__msg_set_due(req, 1); /* long past */
  assert_int_equal(bx_send(f->skel, req), 0);
  bxt_run(f->e);
  assert_int_equal(f->im.dl_calls, 1); /* not started */
  assert_int_equal(sink.n, 1);
  const char *text = NULL;
  assert_int_equal(bx_msg_error(sink.msgs[0], &text), BX_ETIMEDOUT);
  assert_string_equal(text, "the deadline passed before the call started");
  bxt_sink_free(&sink);

  /* A request without a deadline (a FOAM2 caller's): -1. */
  bxt_sink_init(&sink, f->e->ctx);
  req = bx__rpc_request_new("dl", cJSON_CreateArray());
  bx_msg_set_reply_box(req, sink.box);
  assert_int_equal(bx_send(f->skel, req), 0);
  bxt_run(f->e);
  assert_int_equal(sink.n, 1);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(bx_msg_object(sink.msgs[0]), "data");
  assert_true(cJSON_IsNumber(data) && data->valuedouble == -1);
  bxt_sink_free(&sink);

  /* Asynchronous: wanted while the caller waits, not once its deadline has passed. */
  outcome o = {0};
  f->im.pending = NULL;
  opts.timeout_ms = 20;
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, &opts, on_done, &o, NULL), 0);
  bxt_spin(f->e);
  assert_non_null(f->im.pending);
  assert_true(bx_rpc_call_wanted(f->im.pending));
  int64_t left = bx_rpc_call_deadline(f->im.pending);
  assert_true(left > 0 && left <= 20);
  bxt_run(f->e); /* the deadline passes */
  assert_int_equal(o.status, BX_ETIMEDOUT);
  assert_false(bx_rpc_call_wanted(f->im.pending));
  assert_int_equal(bx_rpc_call_deadline(f->im.pending), 0);
  assert_int_equal(bx_rpc_return(f->im.pending), 0);
  bxt_run(f->e);
  fx_free(f);
}

static void count_cancel(bx_rpc_call *call, void *data) {
  assert_true(bx_rpc_call_canceled(call));
  (*(int *)data)++;
}

/* bx_call_cancel() reaches the implementation on both paths (a cancel message, or the direct
 * call's skeleton call), from the loop; the caller completes once. */
static void test_cancel_reaches_the_implementation(void **state) {
  (void)state;
  fx *f = fx_new();
  outcome o = {0};
  void_s v = {0};
  bx_call *c = NULL;
  f->im.pending = NULL;
  assert_int_equal(bx_call_start(&f->stub, M("later"), &v, NULL, on_done, &o, &c), 0);
  bxt_spin(f->e);
  assert_non_null(f->im.pending);
  int canceled = 0;
  bx_rpc_call_on_cancel(f->im.pending, count_cancel, &canceled);
  assert_int_equal(bx_call_cancel(c), 0);
  assert_int_equal(canceled, 0); /* not inside bx_call_cancel */
  bxt_spin(f->e);
  assert_int_equal(canceled, 1);
  assert_true(bx_rpc_call_canceled(f->im.pending));
  assert_false(bx_rpc_call_wanted(f->im.pending));
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, BX_ECANCELED);
  assert_int_equal(bx_rpc_return(f->im.pending), 0);
  bxt_run(f->e);
  assert_int_equal(o.calls, 1);
  assert_int_equal(canceled, 1);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_async_result_once),
      cmocka_unit_test(test_sync_round_trips),
      cmocka_unit_test(test_remote_errors),
      cmocka_unit_test(test_async_implementation),
      cmocka_unit_test(test_timeout_cancel_dropped),
      cmocka_unit_test(test_closing_completes_pending),
      cmocka_unit_test(test_oneway_and_box_argument),
      cmocka_unit_test(test_malformed_arguments),
      cmocka_unit_test(test_describe),
      cmocka_unit_test(test_same_on_both_paths),
      cmocka_unit_test(test_cancel_and_close_before_serving),
      cmocka_unit_test(test_int64_wire_forms),
      cmocka_unit_test(test_application_errors),
      cmocka_unit_test(test_deadlines),
      cmocka_unit_test(test_cancel_reaches_the_implementation),
  };
  int failed = cmocka_run_group_tests_name("direct", tests, direct_path, NULL);
  return failed + cmocka_run_group_tests_name("messages", tests, message_path, NULL);
}
