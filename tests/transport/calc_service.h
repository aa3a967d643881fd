/* A small `calc` service for the transport tests and helper programs, written by hand with the
 * RPC descriptor tables (what bxgen would generate):
 *   add(a, b) -> a + b          doubles
 *   fail()                      answers RPCErrorMessage{data:"Error: boom"} (FOAM's shape)
 *   echo(s) -> s                strings (large frames)
 *   hang()                      never answers until bxt_calc_release() (calls in flight)
 *   pid() -> int                the serving process's pid
 * Header-only (static functions) so that every test program can include it. */
#ifndef BXT_CALC_SERVICE_H
#define BXT_CALC_SERVICE_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bx.h"

#define BXT_CALC_MAX_HUNG 64

typedef struct bxt_calc {
  int calls;
  int nhung;
  bx_rpc_call *hung[BXT_CALC_MAX_HUNG];
} bxt_calc;

typedef struct bxt_calc_ab {
  double a, b;
} bxt_calc_ab;
typedef struct bxt_calc_sum {
  double sum;
} bxt_calc_sum;
typedef struct bxt_calc_str {
  char *s;
} bxt_calc_str;
typedef struct bxt_calc_void {
  char unused;
} bxt_calc_void;
typedef struct bxt_calc_int {
  int32_t v;
} bxt_calc_int;

static const bx_field bxt_calc_ab_f[] = {{"a", &bx_type_double, offsetof(bxt_calc_ab, a), NULL, 0},
                                         {"b", &bx_type_double, offsetof(bxt_calc_ab, b), NULL, 0}};
static const bx_field bxt_calc_sum_f[] = {
    {"sum", &bx_type_double, offsetof(bxt_calc_sum, sum), NULL, 0}};
static const bx_field bxt_calc_str_f[] = {
    {"s", &bx_type_string, offsetof(bxt_calc_str, s), NULL, 0}};
static const bx_field bxt_calc_int_f[] = {
    {"v", &bx_type_int32, offsetof(bxt_calc_int, v), NULL, 0}};
static const bx_type bxt_calc_ab_t = {.kind = BX_KIND_STRUCT,
                                      .name = "ab",
                                      .size = sizeof(bxt_calc_ab),
                                      .fields = bxt_calc_ab_f,
                                      .nfields = 2};
static const bx_type bxt_calc_sum_t = {.kind = BX_KIND_STRUCT,
                                       .name = "sum",
                                       .size = sizeof(bxt_calc_sum),
                                       .fields = bxt_calc_sum_f,
                                       .nfields = 1};
static const bx_type bxt_calc_str_t = {.kind = BX_KIND_STRUCT,
                                       .name = "str",
                                       .size = sizeof(bxt_calc_str),
                                       .fields = bxt_calc_str_f,
                                       .nfields = 1};
static const bx_type bxt_calc_void_t = {
    .kind = BX_KIND_STRUCT, .name = "void", .size = sizeof(bxt_calc_void)};
static const bx_type bxt_calc_int_t = {.kind = BX_KIND_STRUCT,
                                       .name = "int",
                                       .size = sizeof(bxt_calc_int),
                                       .fields = bxt_calc_int_f,
                                       .nfields = 1};

static int bxt_calc_add(const void *ops, void *impl, bx_rpc_call *call, void *a, void *r) {
  (void)ops, (void)call;
  ((bxt_calc *)impl)->calls++;
  const bxt_calc_ab *x = a;
  ((bxt_calc_sum *)r)->sum = x->a + x->b;
  return 0;
}

static int bxt_calc_fail(const void *ops, void *impl, bx_rpc_call *call, void *a, void *r) {
  (void)ops, (void)a, (void)r;
  ((bxt_calc *)impl)->calls++;
  bx_rpc_set_error(call, "Error: boom");
  return BX_EREMOTE;
}

static int bxt_calc_echo(const void *ops, void *impl, bx_rpc_call *call, void *a, void *r) {
  (void)ops, (void)call;
  ((bxt_calc *)impl)->calls++;
  const char *s = ((bxt_calc_str *)a)->s;
  size_t n = strlen(s);
  char *copy = malloc(n + 1);
  if (copy == NULL) return BX_ENOMEM;
  memcpy(copy, s, n + 1);
  ((bxt_calc_str *)r)->s = copy;
  return 0;
}

static int bxt_calc_hang(const void *ops, void *impl, bx_rpc_call *call, void *a, void *r) {
  (void)ops, (void)a, (void)r;
  bxt_calc *c = impl;
  c->calls++;
  if (c->nhung == BXT_CALC_MAX_HUNG) {
    bx_rpc_set_error(call, "too many hung calls");
    return BX_EREMOTE;
  }
  c->hung[c->nhung++] = call;
  return BX_RPC_ASYNC;
}

static int bxt_calc_pid(const void *ops, void *impl, bx_rpc_call *call, void *a, void *r) {
  (void)ops, (void)call, (void)a;
  ((bxt_calc *)impl)->calls++;
  ((bxt_calc_int *)r)->v = (int32_t)getpid();
  return 0;
}

static const bx_method bxt_calc_methods[] = {
    {"add", &bxt_calc_ab_t, &bxt_calc_sum_t, 0, bxt_calc_add},
    {"fail", &bxt_calc_void_t, &bxt_calc_void_t, 0, bxt_calc_fail},
    {"echo", &bxt_calc_str_t, &bxt_calc_str_t, 0, bxt_calc_echo},
    {"hang", &bxt_calc_void_t, &bxt_calc_void_t, 0, bxt_calc_hang},
    {"pid", &bxt_calc_void_t, &bxt_calc_int_t, 0, bxt_calc_pid},
};
static const bx_interface bxt_calc_iface = {
    "calc", bxt_calc_methods, sizeof bxt_calc_methods / sizeof bxt_calc_methods[0], NULL, 0, 0};

/* Registers a calc skeleton over impl as `name` in ctx's root registry. Returns 0 or an error. */
static inline int bxt_calc_register(bx_ctx *ctx, const char *name, bxt_calc *impl) {
  bx_box *skel = NULL;
  bx_skeleton_new(ctx, &bxt_calc_iface, &bxt_calc_iface, impl, &skel);
  if (skel == NULL) return BX_ENOMEM;
  int rc = bx_register(bx_ctx_registry(ctx), name, skel, NULL);
  bx_box_unref(skel);
  return rc;
}

/* Answers every hung call with an error (their replies may go nowhere). */
static inline void bxt_calc_release(bxt_calc *impl) {
  for (int i = 0; i < impl->nhung; i++)
    bx_rpc_fail(impl->hung[i], "released");
  impl->nhung = 0;
}

#endif /* BXT_CALC_SERVICE_H */
