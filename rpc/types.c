/* The scalar type descriptors generated tables refer to. */
#include <stdbool.h>
#include <string.h>

#include "rpc_internal.h"

#define TY_SCALAR(var, kind_, cname, ctype) \
  const bx_type var = {.kind = kind_, .name = cname, .size = sizeof(ctype)}

TY_SCALAR(bx_type_bool, BX_KIND_BOOL, "bool", bool);
TY_SCALAR(bx_type_int8, BX_KIND_INT8, "int8_t", int8_t);
TY_SCALAR(bx_type_int16, BX_KIND_INT16, "int16_t", int16_t);
TY_SCALAR(bx_type_int32, BX_KIND_INT32, "int32_t", int32_t);
TY_SCALAR(bx_type_int64, BX_KIND_INT64, "int64_t", int64_t);
TY_SCALAR(bx_type_uint8, BX_KIND_UINT8, "uint8_t", uint8_t);
TY_SCALAR(bx_type_uint16, BX_KIND_UINT16, "uint16_t", uint16_t);
TY_SCALAR(bx_type_uint32, BX_KIND_UINT32, "uint32_t", uint32_t);
TY_SCALAR(bx_type_uint64, BX_KIND_UINT64, "uint64_t", uint64_t);
TY_SCALAR(bx_type_float, BX_KIND_FLOAT, "float", float);
TY_SCALAR(bx_type_double, BX_KIND_DOUBLE, "double", double);
TY_SCALAR(bx_type_string, BX_KIND_STRING, "string", char *);
TY_SCALAR(bx_type_json, BX_KIND_JSON, "cJSON *", cJSON *);
TY_SCALAR(bx_type_box, BX_KIND_BOX, "bx_box *", bx_box *);

int bx_interface_allow_classes(bx_ctx *ctx, const bx_interface *iface) {
  for (size_t i = 0; iface && i < iface->nclasses; i++) {
    int rc = bx_ctx_allow_class(ctx, iface->classes[i]);
    if (rc) return rc;
  }
  return 0;
}

const bx_method *bx_interface_method(const bx_interface *iface, const char *name) {
  for (size_t i = 0; iface && name && i < iface->nmethods; i++)
    if (strcmp(iface->methods[i].name, name) == 0) return &iface->methods[i];
  return NULL;
}

/* ---- structural equality (direct calls match a stub's tables to a skeleton's) ------------- */

#define TY_MAX_DEPTH 32

typedef struct ty_pairs {
  const bx_type *a[TY_MAX_DEPTH], *b[TY_MAX_DEPTH];
  int n;
} ty_pairs;

static bool ty_same(const bx_type *a, const bx_type *b, ty_pairs *seen);

static bool ty_str_same(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static bool ty_opt_same(const bx_type *a, const bx_type *b, ty_pairs *seen) {
  return a == b || (a && b && ty_same(a, b, seen));
}

static bool ty_fields_same(const bx_type *a, const bx_type *b, ty_pairs *seen) {
  for (size_t i = 0; i < a->nfields; i++) {
    const bx_field *x = &a->fields[i], *y = &b->fields[i];
    if (x->offset != y->offset || x->count_offset != y->count_offset ||
        !ty_str_same(x->name, y->name) || !ty_opt_same(x->type, y->type, seen) ||
        !ty_opt_same(x->count_type, y->count_type, seen))
      return false;
  }
  return true;
}

static bool ty_values_same(const bx_type *a, const bx_type *b) {
  for (size_t i = 0; i < a->nvalues; i++)
    if (a->values[i].value != b->values[i].value ||
        !ty_str_same(a->values[i].name, b->values[i].name))
      return false;
  return true;
}

static bool ty_same(const bx_type *a, const bx_type *b, ty_pairs *seen) {
  if (a == b) return true;
  if (a->kind != b->kind || a->size != b->size || a->nfields != b->nfields ||
      a->nvalues != b->nvalues || !ty_str_same(a->class_name, b->class_name))
    return false;
  for (int i = 0; i < seen->n; i++) /* a recursive type: assume what is being proven */
    if (seen->a[i] == a && seen->b[i] == b) return true;
  if (seen->n == TY_MAX_DEPTH) return false;
  seen->a[seen->n] = a;
  seen->b[seen->n] = b;
  seen->n++;
  bool same =
      ty_fields_same(a, b, seen) && ty_values_same(a, b) && ty_opt_same(a->elem, b->elem, seen);
  seen->n--;
  return same;
}

bool bx__type_same(const bx_type *a, const bx_type *b) {
  ty_pairs seen = {.n = 0};
  return ty_opt_same(a, b, &seen);
}

bool bx__method_same(const bx_method *a, const bx_method *b) {
  return a == b || (ty_str_same(a->name, b->name) && a->flags == b->flags &&
                    bx__type_same(a->args, b->args) && bx__type_same(a->result, b->result));
}
