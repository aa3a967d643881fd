/* The calculator's implementation, shared by the server program and the tests. */
#ifndef CALC_IMPL_H
#define CALC_IMPL_H

#include "calc_skeleton.h"

typedef struct calc_impl {
  bx_ctx *ctx;
  int notes; /* notify() calls seen */
  char last_note[128];
} calc_impl;

/* The ops table for calc_skeleton_new(ctx, &calc_impl_ops, &impl). */
extern const calc_ops calc_impl_ops;

/* Creates the skeleton for impl and registers it as `name` in ctx's root registry. Returns 0 or
 * an error; *out (optional) receives the skeleton box (a new reference). */
int calc_impl_register(bx_ctx *ctx, calc_impl *impl, const char *name, bx_box **out);

#endif /* CALC_IMPL_H */
