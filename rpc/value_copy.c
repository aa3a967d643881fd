/* Deep copies of typed values, for calls served in the same context without a message.
 *
 * A copy must give the implementation (or the caller) exactly what encoding to JSON and
 * decoding again would give, so the direct path and the message path cannot be told apart:
 * the checks the encoder makes (a NULL string or box, an array whose items are missing) fail
 * the same way, and whatever only the wire form can express (an enum value outside its list,
 * which the decoder rejects with a message; nested nullables, which collapse on the wire)
 * answers BX_ENOTSUP so that the caller takes the message path instead. */
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

static int vc_value(const bx_type *t, void *dst, const void *src);

static bool vc_enum_known(const bx_type *t, const void *src) {
  int64_t v = bx__enum_load(src, t->size);
  for (size_t i = 0; i < t->nvalues; i++)
    if (t->values[i].value == v) return true;
  return false;
}

/* STRING, JSON and BOX: the pointer itself is the value. */
static int vc_pointer(const bx_type *t, void *dst, const void *src, bool nullable) {
  const void *v = *(void *const *)src;
  void *copy;
  if (v == NULL) {
    if (!nullable) return BX_EINVAL;       /* the encoder refuses it too */
    if (t->kind != BX_KIND_JSON) return 0; /* null decodes to NULL */
    copy = cJSON_CreateNull();             /* a bare cJSON * carries null as a node */
  } else if (t->kind == BX_KIND_STRING) {
    copy = bx__strdup(v);
  } else if (t->kind == BX_KIND_JSON) {
    copy = cJSON_Duplicate(v, true);
  } else {
    copy = bx_box_ref((bx_box *)v);
  }
  if (copy == NULL) return BX_ENOMEM;
  *(void **)dst = copy;
  return 0;
}

static int vc_nullable(const bx_type *t, void *dst, const void *src) {
  const bx_type *et = t->elem;
  if (et->kind == BX_KIND_NULLABLE) return BX_ENOTSUP;
  if (et->kind == BX_KIND_STRING || et->kind == BX_KIND_BOX || et->kind == BX_KIND_JSON) {
    if (*(void *const *)src == NULL) return 0; /* JSON null decodes to NULL here */
    return vc_pointer(et, dst, src, false);
  }
  const void *target = *(void *const *)src;
  if (target == NULL) return 0;
  void *copy = bx__zalloc(et->size ? et->size : 1);
  if (copy == NULL) return BX_ENOMEM;
  int rc = vc_value(et, copy, target);
  if (rc) {
    bx__free(copy);
    return rc;
  }
  *(void **)dst = copy;
  return 0;
}

static int vc_array(const bx_field *f, void *dst, const void *src) {
  uint64_t n;
  if (!bx__array_count(f, src, &n)) return BX_EINVAL;
  const char *items = *(char *const *)((const char *)src + f->offset);
  if (n > 0 && items == NULL) return BX_EINVAL;
  memcpy((char *)dst + f->count_offset, (const char *)src + f->count_offset, f->count_type->size);
  if (n == 0) return 0; /* an empty array decodes to no items */
  const bx_type *et = f->type->elem;
  if (n > SIZE_MAX / (et->size ? et->size : 1)) return BX_ENOMEM;
  char *buf = bx__calloc((size_t)n, et->size ? et->size : 1);
  if (buf == NULL) return BX_ENOMEM;
  for (uint64_t i = 0; i < n; i++) {
    int rc = vc_value(et, buf + i * et->size, items + i * et->size);
    if (rc) {
      for (uint64_t k = 0; k < i; k++)
        bx__value_release(et, buf + k * et->size, false);
      bx__free(buf);
      return rc;
    }
  }
  *(char **)((char *)dst + f->offset) = buf;
  return 0;
}

static int vc_field(const bx_field *f, void *dst, const void *src) {
  if (f->type->kind == BX_KIND_ARRAY) return vc_array(f, dst, src);
  return vc_value(f->type, (char *)dst + f->offset, (const char *)src + f->offset);
}

int bx__struct_copy(const bx_type *st, void *dst, const void *src) {
  for (size_t i = 0; i < st->nfields; i++) {
    int rc = vc_field(&st->fields[i], dst, src);
    if (rc) {
      for (size_t k = 0; k < i; k++)
        bx__field_release(&st->fields[k], dst, false);
      return rc;
    }
  }
  return 0;
}

static int vc_value(const bx_type *t, void *dst, const void *src) {
  switch (t->kind) {
  case BX_KIND_BOOL:
    *(bool *)dst = *(const bool *)src;
    return 0;
  case BX_KIND_STRING:
  case BX_KIND_BOX:
    return vc_pointer(t, dst, src, false);
  case BX_KIND_JSON:
    return vc_pointer(t, dst, src, true);
  case BX_KIND_ENUM:
    if (!vc_enum_known(t, src)) return BX_ENOTSUP; /* the decoder's error, from the wire path */
    memcpy(dst, src, t->size);
    return 0;
  case BX_KIND_STRUCT:
    return bx__struct_copy(t, dst, src);
  case BX_KIND_NULLABLE:
    return vc_nullable(t, dst, src);
  case BX_KIND_ARRAY:
    return BX_EINVAL; /* an array needs a count field (the encoder refuses it too) */
  default:            /* integers, float, double: exact both ways */
    memcpy(dst, src, t->size);
    return 0;
  }
}
