/* The scalar type descriptors generated tables refer to. */
#include <stdbool.h>
#include <string.h>

#include "internal.h"

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
