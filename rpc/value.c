/* The typed value codec: JSON <-> C values described by bx_type tables. It is the one place
 * untrusted RPC arguments are checked (and the target of tests/fuzz/fuzz_args.c).
 *
 * Design notes
 * - Decoding writes into zeroed memory and, on any failure, releases everything it decoded so
 *   far, so the caller never sees a half-built value. Errors name the method, the argument and
 *   the path inside it ("argument 'p.items[2]' of scale: expected a number, got a string").
 * - In borrow mode strings and cJSON values point into the request, which outlives the call;
 *   arrays and nullable targets are always allocated here.
 * - Integers: numbers must be integral and in range; 64-bit kinds also accept decimal strings,
 *   and encode as strings beyond 2^53 so JavaScript peers never lose precision.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

#define VD_MAX_PATH 16
#define VD_EXACT_LIMIT 9007199254740992.0 /* 2^53 */

typedef struct vd {
  const bx_msg *msg;
  bool borrow;
  bx_value_error *err;
  const char *what; /* "argument" or "result" */
  const char *method;
  const char *path[VD_MAX_PATH]; /* field names, or NULL for an array index */
  long index[VD_MAX_PATH];
  int depth;
} vd;

static const char *vd_json_kind(const cJSON *j) {
  if (j == NULL) return "nothing";
  if (cJSON_IsNull(j)) return "null";
  if (cJSON_IsBool(j)) return "a boolean";
  if (cJSON_IsNumber(j)) return "a number";
  if (cJSON_IsString(j)) return "a string";
  if (cJSON_IsArray(j)) return "an array";
  if (bx_json_class(j)) return "an object of another class";
  return "an object";
}

static int vd_fail(vd *d, const char *fmt, ...) {
  if (d->err == NULL) return BX_EBADARG;
  char path[96] = "";
  size_t len = 0;
  for (int i = 0; i < d->depth && i < VD_MAX_PATH && len < sizeof path; i++) {
    int w = d->path[i] ? snprintf(path + len, sizeof path - len, "%s%s", i ? "." : "", d->path[i])
                       : snprintf(path + len, sizeof path - len, "[%ld]", d->index[i]);
    if (w > 0) len += (size_t)w;
  }
  char msg[100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  d->err->code = BX_EBADARG;
  if (len)
    snprintf(d->err->text, sizeof d->err->text, "%s '%.50s' of %.30s: %.60s", d->what, path,
             d->method, msg);
  else
    snprintf(d->err->text, sizeof d->err->text, "%s of %.30s: %.90s", d->what, d->method, msg);
  return BX_EBADARG;
}

static void vd_push(vd *d, const char *field, long index) {
  if (d->depth < VD_MAX_PATH) {
    d->path[d->depth] = field;
    d->index[d->depth] = index;
  }
  d->depth++;
}

static void vd_pop(vd *d) {
  d->depth--;
}

/* ---- integers ----------------------------------------------------------------------------- */

static bool vd_kind_signed(bx_kind k) {
  return k == BX_KIND_INT8 || k == BX_KIND_INT16 || k == BX_KIND_INT32 || k == BX_KIND_INT64;
}

static void vd_int_range(bx_kind k, int64_t *lo, uint64_t *hi) {
  switch (k) {
  case BX_KIND_INT8:
    *lo = INT8_MIN, *hi = INT8_MAX;
    break;
  case BX_KIND_INT16:
    *lo = INT16_MIN, *hi = INT16_MAX;
    break;
  case BX_KIND_INT32:
    *lo = INT32_MIN, *hi = INT32_MAX;
    break;
  case BX_KIND_INT64:
    *lo = INT64_MIN, *hi = INT64_MAX;
    break;
  case BX_KIND_UINT8:
    *lo = 0, *hi = UINT8_MAX;
    break;
  case BX_KIND_UINT16:
    *lo = 0, *hi = UINT16_MAX;
    break;
  case BX_KIND_UINT32:
    *lo = 0, *hi = UINT32_MAX;
    break;
  default:
    *lo = 0, *hi = UINT64_MAX;
    break;
  }
}

/* Parses a decimal integer string (optional '-', digits only). */
static bool vd_parse_decimal(const char *s, bool *neg, uint64_t *mag) {
  *neg = *s == '-';
  if (*neg) s++;
  if (*s < '0' || *s > '9') return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno == ERANGE || *end != '\0') return false;
  *mag = v;
  return true;
}

/* Reads j as an integer: *neg and *mag hold sign and magnitude. */
static int vd_read_integer(vd *d, const cJSON *j, bool *neg, uint64_t *mag) {
  if (cJSON_IsString(j)) {
    if (!vd_parse_decimal(j->valuestring, neg, mag))
      return vd_fail(d, "expected an integer, got the string \"%.20s\"", j->valuestring);
    return 0;
  }
  if (!cJSON_IsNumber(j)) return vd_fail(d, "expected an integer, got %s", vd_json_kind(j));
  double v = j->valuedouble;
  if (!isfinite(v) || v != trunc(v)) return vd_fail(d, "expected an integer, got %g", v);
  if (fabs(v) >= 18446744073709551616.0) return vd_fail(d, "integer %g is out of range", v);
  *neg = v < 0;
  *mag = (uint64_t)fabs(v);
  return 0;
}

static void vd_store_int(void *p, bx_kind k, bool neg, uint64_t mag) {
  int64_t s = neg ? (int64_t)(0 - mag) : (int64_t)mag;
  switch (k) {
  case BX_KIND_INT8:
    *(int8_t *)p = (int8_t)s;
    break;
  case BX_KIND_INT16:
    *(int16_t *)p = (int16_t)s;
    break;
  case BX_KIND_INT32:
    *(int32_t *)p = (int32_t)s;
    break;
  case BX_KIND_INT64:
    *(int64_t *)p = s;
    break;
  case BX_KIND_UINT8:
    *(uint8_t *)p = (uint8_t)mag;
    break;
  case BX_KIND_UINT16:
    *(uint16_t *)p = (uint16_t)mag;
    break;
  case BX_KIND_UINT32:
    *(uint32_t *)p = (uint32_t)mag;
    break;
  default:
    *(uint64_t *)p = mag;
    break;
  }
}

static int vd_integer(vd *d, const bx_type *t, const cJSON *j, void *p) {
  bool neg = false;
  uint64_t mag = 0;
  int rc = vd_read_integer(d, j, &neg, &mag);
  if (rc) return rc;
  int64_t lo;
  uint64_t hi;
  vd_int_range(t->kind, &lo, &hi);
  bool ok = neg ? vd_kind_signed(t->kind) && mag <= (uint64_t)0 - (uint64_t)lo : mag <= hi;
  if (!ok)
    return vd_fail(d, "%s%llu does not fit in %s", neg ? "-" : "", (unsigned long long)mag,
                   t->name);
  vd_store_int(p, t->kind, neg, mag);
  return 0;
}

/* Reads an integer of kind k from p as sign and magnitude (for encoding and counts). */
static void vd_load_int(const void *p, bx_kind k, bool *neg, uint64_t *mag) {
  int64_t s = 0;
  *neg = false;
  switch (k) {
  case BX_KIND_INT8:
    s = *(const int8_t *)p;
    break;
  case BX_KIND_INT16:
    s = *(const int16_t *)p;
    break;
  case BX_KIND_INT32:
    s = *(const int32_t *)p;
    break;
  case BX_KIND_INT64:
    s = *(const int64_t *)p;
    break;
  case BX_KIND_UINT8:
    *mag = *(const uint8_t *)p;
    return;
  case BX_KIND_UINT16:
    *mag = *(const uint16_t *)p;
    return;
  case BX_KIND_UINT32:
    *mag = *(const uint32_t *)p;
    return;
  default:
    *mag = *(const uint64_t *)p;
    return;
  }
  *neg = s < 0;
  *mag = *neg ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
}

/* ---- enums -------------------------------------------------------------------------------- */

static void vd_store_enum(void *p, size_t size, int64_t v) {
  switch (size) {
  case 1:
    *(int8_t *)p = (int8_t)v;
    break;
  case 2:
    *(int16_t *)p = (int16_t)v;
    break;
  case 8:
    *(int64_t *)p = v;
    break;
  default:
    *(int32_t *)p = (int32_t)v;
    break;
  }
}

static int64_t vd_load_enum(const void *p, size_t size) {
  switch (size) {
  case 1:
    return *(const int8_t *)p;
  case 2:
    return *(const int16_t *)p;
  case 8:
    return *(const int64_t *)p;
  default:
    return *(const int32_t *)p;
  }
}

static int vd_enum(vd *d, const bx_type *t, const cJSON *j, void *p) {
  for (size_t i = 0; i < t->nvalues; i++) {
    const bx_enum_value *ev = &t->values[i];
    if ((cJSON_IsString(j) && strcmp(j->valuestring, ev->name) == 0) ||
        (cJSON_IsNumber(j) && j->valuedouble == (double)ev->value)) {
      vd_store_enum(p, t->size, ev->value);
      return 0;
    }
  }
  if (cJSON_IsString(j)) return vd_fail(d, "\"%.30s\" is not a %s", j->valuestring, t->name);
  return vd_fail(d, "expected a %s name, got %s", t->name, vd_json_kind(j));
}

/* ---- decoding ----------------------------------------------------------------------------- */

static int vd_value(vd *d, const bx_type *t, const cJSON *j, void *p);
static int vd_struct(vd *d, const bx_type *st, const cJSON *j, void *base);
static void vd_release_field(const bx_field *f, void *base, bool borrowed);

static bool vd_pointer_like(const bx_type *t) {
  return t->kind == BX_KIND_STRING || t->kind == BX_KIND_JSON || t->kind == BX_KIND_BOX;
}

static int vd_string(vd *d, const cJSON *j, void *p) {
  if (!cJSON_IsString(j)) return vd_fail(d, "expected a string, got %s", vd_json_kind(j));
  char *s = d->borrow ? j->valuestring : bx__strdup(j->valuestring);
  if (s == NULL) return BX_ENOMEM;
  *(char **)p = s;
  return 0;
}

static int vd_box(vd *d, const cJSON *j, void *p) {
  bx_box *b = d->msg ? bx_msg_box_at(d->msg, j) : NULL;
  if (b == NULL) return vd_fail(d, "expected a box reference, got %s", vd_json_kind(j));
  *(bx_box **)p = d->borrow ? b : bx_box_ref(b);
  return 0;
}

static int vd_json(vd *d, const cJSON *j, void *p) {
  cJSON *v = d->borrow ? (cJSON *)j : cJSON_Duplicate(j, true);
  if (v == NULL) return BX_ENOMEM;
  *(cJSON **)p = v;
  return 0;
}

static int vd_nullable(vd *d, const bx_type *t, const cJSON *j, void *p) {
  if (j == NULL || cJSON_IsNull(j)) {
    *(void **)p = NULL;
    return 0;
  }
  if (vd_pointer_like(t->elem)) return vd_value(d, t->elem, j, p);
  void *target = bx__zalloc(t->elem->size ? t->elem->size : 1);
  if (target == NULL) return BX_ENOMEM;
  int rc = vd_value(d, t->elem, j, target);
  if (rc) {
    bx__free(target);
    return rc;
  }
  *(void **)p = target;
  return 0;
}

static int vd_value(vd *d, const bx_type *t, const cJSON *j, void *p) {
  switch (t->kind) {
  case BX_KIND_BOOL:
    if (!cJSON_IsBool(j)) return vd_fail(d, "expected a boolean, got %s", vd_json_kind(j));
    *(bool *)p = cJSON_IsTrue(j);
    return 0;
  case BX_KIND_FLOAT:
  case BX_KIND_DOUBLE:
    if (!cJSON_IsNumber(j)) return vd_fail(d, "expected a number, got %s", vd_json_kind(j));
    if (t->kind == BX_KIND_FLOAT)
      *(float *)p = (float)j->valuedouble;
    else
      *(double *)p = j->valuedouble;
    return 0;
  case BX_KIND_STRING:
    return vd_string(d, j, p);
  case BX_KIND_ENUM:
    return vd_enum(d, t, j, p);
  case BX_KIND_STRUCT:
    return vd_struct(d, t, j, p);
  case BX_KIND_NULLABLE:
    return vd_nullable(d, t, j, p);
  case BX_KIND_JSON:
    if (j == NULL) return vd_fail(d, "missing");
    return vd_json(d, j, p);
  case BX_KIND_BOX:
    return vd_box(d, j, p);
  case BX_KIND_ARRAY:
    return vd_fail(d, "an array needs a count field");
  default:
    return vd_integer(d, t, j, p);
  }
}

static int vd_store_count(vd *d, const bx_field *f, void *base, size_t n) {
  int64_t lo;
  uint64_t hi;
  vd_int_range(f->count_type->kind, &lo, &hi);
  if ((uint64_t)n > hi) return vd_fail(d, "%zu elements do not fit the count", n);
  vd_store_int((char *)base + f->count_offset, f->count_type->kind, false, (uint64_t)n);
  return 0;
}

static int vd_array(vd *d, const bx_field *f, const cJSON *j, void *base) {
  void **items = (void **)((char *)base + f->offset);
  if (j == NULL || cJSON_IsNull(j)) return vd_store_count(d, f, base, 0);
  if (!cJSON_IsArray(j)) return vd_fail(d, "expected an array, got %s", vd_json_kind(j));
  size_t n = (size_t)cJSON_GetArraySize(j);
  if (n == 0) return vd_store_count(d, f, base, 0);
  const bx_type *et = f->type->elem;
  char *buf = bx__calloc(n, et->size);
  if (buf == NULL) return BX_ENOMEM;
  size_t i = 0;
  int rc = 0;
  for (const cJSON *e = j->child; e && rc == 0; e = e->next, i++) {
    vd_push(d, NULL, (long)i);
    rc = vd_value(d, et, e, buf + i * et->size);
    vd_pop(d);
  }
  if (rc == 0) rc = vd_store_count(d, f, base, n);
  if (rc) {
    for (size_t k = 0; k + 1 < i; k++)
      bx__value_release(et, buf + k * et->size, d->borrow);
    bx__free(buf);
    return rc;
  }
  *items = buf;
  return 0;
}

static int vd_field(vd *d, const bx_field *f, const cJSON *j, void *base) {
  vd_push(d, f->name, 0);
  int rc;
  if (f->type->kind == BX_KIND_ARRAY)
    rc = vd_array(d, f, j, base);
  else if (j == NULL && f->type->kind == BX_KIND_STRING) /* FOAM omits unset properties */
    rc = (*(char **)((char *)base + f->offset) = d->borrow ? (char *)"" : bx__strdup(""))
             ? 0
             : BX_ENOMEM;
  else if (j == NULL && f->type->kind != BX_KIND_NULLABLE && f->type->kind != BX_KIND_BOX)
    rc = 0; /* zero value */
  else
    rc = vd_value(d, f->type, j, (char *)base + f->offset);
  vd_pop(d);
  return rc;
}

static int vd_struct(vd *d, const bx_type *st, const cJSON *j, void *base) {
  if (!cJSON_IsObject(j)) return vd_fail(d, "expected %s, got %s", st->name, vd_json_kind(j));
  const char *cls = bx_json_class(j);
  if (st->class_name && cls && strcmp(cls, st->class_name) != 0)
    return vd_fail(d, "expected class %s, got %.40s", st->class_name, cls);
  for (size_t i = 0; i < st->nfields; i++) {
    const bx_field *f = &st->fields[i];
    int rc = vd_field(d, f, cJSON_GetObjectItemCaseSensitive(j, f->name), base);
    if (rc) {
      for (size_t k = 0; k < i; k++)
        vd_release_field(&st->fields[k], base, d->borrow);
      return rc;
    }
  }
  return 0;
}

/* ---- releasing ---------------------------------------------------------------------------- */

static void vd_release_array(const bx_field *f, void *base, bool borrowed) {
  void **items = (void **)((char *)base + f->offset);
  if (*items == NULL) return;
  bool neg;
  uint64_t n;
  vd_load_int((char *)base + f->count_offset, f->count_type->kind, &neg, &n);
  const bx_type *et = f->type->elem;
  for (uint64_t i = 0; !neg && i < n; i++)
    bx__value_release(et, (char *)*items + i * et->size, borrowed);
  bx__free(*items);
  *items = NULL;
}

/* Releases one field of a struct (arrays need the struct, which holds their count). */
static void vd_release_field(const bx_field *f, void *base, bool borrowed) {
  if (f->type->kind == BX_KIND_ARRAY)
    vd_release_array(f, base, borrowed);
  else
    bx__value_release(f->type, (char *)base + f->offset, borrowed);
}

void bx__field_release(const bx_field *f, void *base, bool borrowed) {
  vd_release_field(f, base, borrowed);
}

int64_t bx__enum_load(const void *p, size_t size) {
  return vd_load_enum(p, size);
}

bool bx__array_count(const bx_field *f, const void *base, uint64_t *n) {
  bool neg;
  vd_load_int((const char *)base + f->count_offset, f->count_type->kind, &neg, n);
  return !neg;
}

void bx__struct_release(const bx_type *st, void *base, bool borrowed) {
  for (size_t i = 0; i < st->nfields; i++)
    vd_release_field(&st->fields[i], base, borrowed);
}

void bx__value_release(const bx_type *t, void *p, bool borrowed) {
  switch (t->kind) {
  case BX_KIND_STRING:
    if (!borrowed) bx__free(*(char **)p);
    *(char **)p = NULL;
    break;
  case BX_KIND_JSON:
    if (!borrowed) cJSON_Delete(*(cJSON **)p);
    *(cJSON **)p = NULL;
    break;
  case BX_KIND_BOX:
    if (!borrowed) bx_box_unref(*(bx_box **)p);
    *(bx_box **)p = NULL;
    break;
  case BX_KIND_STRUCT:
    bx__struct_release(t, p, borrowed);
    break;
  case BX_KIND_NULLABLE:
    if (vd_pointer_like(t->elem)) {
      bx__value_release(t->elem, p, borrowed);
    } else if (*(void **)p != NULL) {
      bx__value_release(t->elem, *(void **)p, borrowed);
      bx__free(*(void **)p);
      *(void **)p = NULL;
    }
    break;
  default:
    break;
  }
}

void bx_value_free(const bx_type *type, void *value) {
  if (type && value) bx__value_release(type, value, false);
}

/* ---- encoding ----------------------------------------------------------------------------- */

static int ve_value(const bx_type *t, const void *p, bx_msg *msg, cJSON **out);

static cJSON *ve_integer(const bx_type *t, const void *p) {
  bool neg;
  uint64_t mag;
  vd_load_int(p, t->kind, &neg, &mag);
  if ((double)mag <= VD_EXACT_LIMIT) return cJSON_CreateNumber(neg ? -(double)mag : (double)mag);
  char buf[32];
  snprintf(buf, sizeof buf, "%s%llu", neg ? "-" : "", (unsigned long long)mag);
  return cJSON_CreateString(buf); /* beyond 2^53: exact as a string */
}

static cJSON *ve_enum(const bx_type *t, const void *p) {
  int64_t v = vd_load_enum(p, t->size);
  for (size_t i = 0; i < t->nvalues; i++)
    if (t->values[i].value == v) return cJSON_CreateString(t->values[i].name);
  return cJSON_CreateNumber((double)v);
}

static int ve_array(const bx_field *f, const void *base, bx_msg *msg, cJSON **out) {
  bool neg;
  uint64_t n;
  vd_load_int((const char *)base + f->count_offset, f->count_type->kind, &neg, &n);
  const char *items = *(char *const *)((const char *)base + f->offset);
  if (neg || (n > 0 && items == NULL)) return BX_EINVAL;
  cJSON *arr = cJSON_CreateArray();
  if (arr == NULL) return BX_ENOMEM;
  const bx_type *et = f->type->elem;
  for (uint64_t i = 0; i < n; i++) {
    cJSON *e;
    int rc = ve_value(et, items + i * et->size, msg, &e);
    if (rc == 0 && !cJSON_AddItemToArray(arr, e)) rc = BX_ENOMEM;
    if (rc) {
      cJSON_Delete(arr);
      return rc;
    }
  }
  *out = arr;
  return 0;
}

static int ve_field(const bx_field *f, const void *base, bx_msg *msg, cJSON **out) {
  if (f->type->kind == BX_KIND_ARRAY) return ve_array(f, base, msg, out);
  return ve_value(f->type, (const char *)base + f->offset, msg, out);
}

static int ve_struct(const bx_type *st, const void *base, bx_msg *msg, cJSON **out) {
  cJSON *o = st->class_name ? bx__json_object_const(st->class_name) : cJSON_CreateObject();
  if (o == NULL) return BX_ENOMEM;
  for (size_t i = 0; i < st->nfields; i++) {
    cJSON *v;
    int rc = ve_field(&st->fields[i], base, msg, &v);
    if (rc == 0 && !bx__json_add(o, st->fields[i].name, v)) rc = BX_ENOMEM;
    if (rc) {
      cJSON_Delete(o);
      return rc;
    }
  }
  *out = o;
  return 0;
}

static int ve_pointer(const bx_type *t, const void *p, bx_msg *msg, bool nullable, cJSON **out) {
  const void *v = *(void *const *)p;
  if (v == NULL) {
    if (!nullable) return BX_EINVAL;
    return (*out = cJSON_CreateNull()) ? 0 : BX_ENOMEM;
  }
  switch (t->kind) {
  case BX_KIND_STRING:
    *out = cJSON_CreateString(v);
    break;
  case BX_KIND_JSON:
    *out = cJSON_Duplicate(v, true);
    break;
  default:
    *out = msg ? bx_msg_box_ref(msg, (bx_box *)v) : NULL;
    break;
  }
  return *out ? 0 : BX_ENOMEM;
}

static int ve_value(const bx_type *t, const void *p, bx_msg *msg, cJSON **out) {
  *out = NULL;
  switch (t->kind) {
  case BX_KIND_BOOL:
    *out = cJSON_CreateBool(*(const bool *)p);
    break;
  case BX_KIND_FLOAT:
    *out = cJSON_CreateNumber(*(const float *)p);
    break;
  case BX_KIND_DOUBLE:
    *out = cJSON_CreateNumber(*(const double *)p);
    break;
  case BX_KIND_STRING:
  case BX_KIND_BOX:
    return ve_pointer(t, p, msg, false, out);
  case BX_KIND_JSON:
    return ve_pointer(t, p, msg, true, out);
  case BX_KIND_ENUM:
    *out = ve_enum(t, p);
    break;
  case BX_KIND_STRUCT:
    return ve_struct(t, p, msg, out);
  case BX_KIND_NULLABLE:
    if (vd_pointer_like(t->elem)) return ve_pointer(t->elem, p, msg, true, out);
    if (*(void *const *)p == NULL) break;
    return ve_value(t->elem, *(void *const *)p, msg, out);
  case BX_KIND_ARRAY:
    return BX_EINVAL;
  default:
    *out = ve_integer(t, p);
    break;
  }
  if (*out == NULL && t->kind == BX_KIND_NULLABLE) *out = cJSON_CreateNull();
  return *out ? 0 : BX_ENOMEM;
}

/* ---- arguments and results ---------------------------------------------------------------- */

static vd vd_make(const bx_method *m, const bx_msg *msg, bool borrow, bx_value_error *err,
                  const char *what) {
  vd d = {.msg = msg, .borrow = borrow, .err = err, .what = what, .method = m->name};
  if (err) {
    err->code = 0;
    err->text[0] = '\0';
  }
  return d;
}

int bx_args_decode(const bx_method *m, const cJSON *args, const bx_msg *msg, void *out, bool borrow,
                   bx_value_error *err) {
  vd d = vd_make(m, msg, borrow, err, "argument");
  const bx_type *st = m->args;
  if (args != NULL && !cJSON_IsArray(args)) return vd_fail(&d, "args must be an array");
  size_t n = args ? (size_t)cJSON_GetArraySize(args) : 0;
  if (n > st->nfields)
    return vd_fail(&d, "takes %zu argument%s, got %zu", st->nfields, st->nfields == 1 ? "" : "s",
                   n);
  const cJSON *a = args ? args->child : NULL;
  for (size_t i = 0; i < st->nfields; i++, a = a ? a->next : NULL) {
    const bx_field *f = &st->fields[i];
    int rc = 0;
    if (a == NULL && f->type->kind != BX_KIND_NULLABLE) {
      vd_push(&d, f->name, 0);
      rc = vd_fail(&d, "missing");
      vd_pop(&d);
    } else {
      rc = vd_field(&d, f, a, out);
    }
    if (rc) {
      for (size_t k = 0; k < i; k++)
        vd_release_field(&st->fields[k], out, borrow);
      return rc;
    }
  }
  return 0;
}

int bx_args_encode(const bx_method *m, const void *args, bx_msg *msg, cJSON **out) {
  cJSON *arr = cJSON_CreateArray();
  if (arr == NULL) return BX_ENOMEM;
  for (size_t i = 0; i < m->args->nfields; i++) {
    cJSON *v;
    int rc = ve_field(&m->args->fields[i], args, msg, &v);
    if (rc == 0 && !cJSON_AddItemToArray(arr, v)) rc = BX_ENOMEM;
    if (rc) {
      cJSON_Delete(arr);
      return rc;
    }
  }
  *out = arr;
  return 0;
}

int bx_result_decode(const bx_method *m, const cJSON *data, const bx_msg *msg, void *out,
                     bool borrow, bx_value_error *err) {
  vd d = vd_make(m, msg, borrow, err, "result");
  const bx_type *st = m->result;
  if (st == NULL || st->nfields == 0) return 0;
  if (st->nfields == 1) {
    if (data == NULL) return vd_fail(&d, "the reply has no data");
    return vd_field(&d, &st->fields[0], data, out);
  }
  if (!cJSON_IsObject(data))
    return vd_fail(&d, "expected an object of results, got %s", vd_json_kind(data));
  return vd_struct(&d, st, data, out);
}

int bx_result_encode(const bx_method *m, const void *result, bx_msg *msg, cJSON **out) {
  *out = NULL;
  const bx_type *st = m->result;
  if (st == NULL || st->nfields == 0) return 0;
  if (st->nfields == 1) return ve_field(&st->fields[0], result, msg, out);
  return ve_struct(st, result, msg, out);
}
