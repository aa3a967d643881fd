/* bxgen: DAO models (docs/dao.md). A struct with a BX_DAO_ID field becomes, in each generated
 * header, a block guarded by its own macro (a program may include the stub and the skeleton):
 * the bx_dao_model table (class, fields, id) and a typed C API,
 *   cJSON *T_to_dao(const T *v)                 the FOAM object (new tree; NULL: no memory)
 *   int T_from_dao(const cJSON *obj, T *out)    checked and normalised (bx_dao_normalize)
 *   void T_dao_clear(T *v)                      frees what from_dao allocated
 * Nothing is emitted for headers without DAO models. */
#include <stdlib.h>
#include <string.h>

#include "emit.h"

static const char *dao_ftype(const bxg_slot *s) {
  if (s->shape == BXG_ARRAY) return "BX_DAO_STRINGS";
  if (s->date) return "BX_DAO_DATE";
  switch (s->type.kind) {
  case BXG_BOOL:
    return "BX_DAO_BOOL";
  case BXG_STRING:
    return "BX_DAO_STRING";
  case BXG_FLOAT:
  case BXG_DOUBLE:
    return "BX_DAO_FLOAT";
  default:
    return "BX_DAO_INT";
  }
}

static void dao_table(bxg_buf *b, const bxg_user *u) {
  size_t id = 0;

  bxg_buf_printf(b, "static const bx_dao_field %s_dao_fields[] = {\n", u->ident);
  for (size_t i = 0; i < u->nfields; i++) {
    bxg_buf_printf(b, "  {\"%s\", %s},\n", u->fields[i].name, dao_ftype(&u->fields[i]));
    if (u->fields[i].dao_id) id = i;
  }
  bxg_buf_puts(b, "};\n");
  bxg_buf_printf(b,
                 "static const bx_dao_model %s_dao_model = {\"%s\", %s_dao_fields, %zu, %zu};\n\n",
                 u->ident, u->class_name, u->ident, u->nfields, id);
}

static void dao_to(bxg_buf *b, const bxg_user *u) {
  bxg_buf_printf(b, "static inline cJSON *%s_to_dao(const %s *v) {\n", u->ident, u->c_type);
  bool arrays = false;
  for (size_t i = 0; i < u->nfields; i++)
    arrays = arrays || u->fields[i].shape == BXG_ARRAY;
  bxg_buf_printf(b, "  cJSON *o = bx_json_new_object(\"%s\")%s;\n", u->class_name,
                 arrays ? ", *a = NULL" : "");
  bxg_buf_puts(b, "  bool ok = o != NULL;\n");
  for (size_t i = 0; i < u->nfields; i++) {
    const bxg_slot *s = &u->fields[i];
    const char *n = s->name;
    if (s->shape == BXG_ARRAY) {
      bxg_buf_printf(b, "  ok = ok && (a = cJSON_AddArrayToObject(o, \"%s\")) != NULL;\n", n);
      bxg_buf_printf(b, "  for (size_t i = 0; ok && i < (size_t)v->%s; i++)\n", s->count_name);
      bxg_buf_printf(b,
                     "    ok = cJSON_AddItemToArray(a, cJSON_CreateString(v->%s[i] ? v->%s[i] : "
                     "\"\"));\n",
                     n, n);
    } else if (s->date) {
      bxg_buf_printf(
          b, "  if (ok && !isnan(v->%s)) ok = cJSON_AddNumberToObject(o, \"%s\", v->%s) != NULL;\n",
          n, n, n);
    } else if (s->type.kind == BXG_BOOL) {
      bxg_buf_printf(b, "  ok = ok && cJSON_AddBoolToObject(o, \"%s\", v->%s) != NULL;\n", n, n);
    } else if (s->type.kind == BXG_STRING) {
      bxg_buf_printf(
          b, "  ok = ok && cJSON_AddStringToObject(o, \"%s\", v->%s ? v->%s : \"\") != NULL;\n", n,
          n, n);
    } else {
      bxg_buf_printf(b, "  ok = ok && cJSON_AddNumberToObject(o, \"%s\", (double)v->%s) != NULL;\n",
                     n, n);
    }
  }
  bxg_buf_puts(b, "  if (!ok) {\n    cJSON_Delete(o);\n    return NULL;\n  }\n  return o;\n}\n\n");
}

/* The range of an integer kind narrower than 64 bits, as C macros (NULL: no check needed
 * beyond the 2^53 the normaliser enforces; "0" for unsigned minima). */
static bool dao_range(bxg_kind k, const char **lo, const char **hi) {
  static const struct {
    bxg_kind k;
    const char *lo, *hi;
  } r[] = {{BXG_INT8, "INT8_MIN", "INT8_MAX"},
           {BXG_INT16, "INT16_MIN", "INT16_MAX"},
           {BXG_INT32, "INT32_MIN", "INT32_MAX"},
           {BXG_UINT8, "0", "UINT8_MAX"},
           {BXG_UINT16, "0", "UINT16_MAX"},
           {BXG_UINT32, "0", "UINT32_MAX"},
           {BXG_UINT64, "0", NULL}};
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    if (r[i].k == k) {
      *lo = r[i].lo;
      *hi = r[i].hi;
      return true;
    }
  return false;
}

static void dao_clear(bxg_buf *b, const bxg_user *u) {
  bxg_buf_printf(b, "static inline void %s_dao_clear(%s *v) {\n", u->ident, u->c_type);
  for (size_t i = 0; i < u->nfields; i++) {
    const bxg_slot *s = &u->fields[i];
    if (s->shape == BXG_ARRAY) {
      bxg_buf_printf(b, "  for (size_t i = 0; v->%s != NULL && i < (size_t)v->%s; i++)\n", s->name,
                     s->count_name);
      bxg_buf_printf(b, "    free(v->%s[i]);\n  free(v->%s);\n", s->name, s->name);
    } else if (s->type.kind == BXG_STRING) {
      bxg_buf_printf(b, "  free(v->%s);\n", s->name);
    }
  }
  bxg_buf_puts(b, "  memset(v, 0, sizeof *v);\n}\n\n");
}

static void dao_from(bxg_buf *b, const bxg_user *u) {
  bxg_buf_printf(b, "static inline int %s_from_dao(const cJSON *in, %s *out) {\n", u->ident,
                 u->c_type);
  bool bad = false;
  bxg_buf_puts(b, "  cJSON *o;\n  const cJSON *f;\n");
  bxg_buf_printf(b, "  int rc = bx_dao_normalize(&%s_dao_model, in, &o, NULL, 0);\n", u->ident);
  bxg_buf_puts(b, "  memset(out, 0, sizeof *out);\n  if (rc) return rc;\n");
  for (size_t i = 0; i < u->nfields; i++) {
    const bxg_slot *s = &u->fields[i];
    const char *n = s->name;
    bxg_buf_printf(b, "  f = cJSON_GetObjectItemCaseSensitive(o, \"%s\");\n", n);
    if (s->shape == BXG_ARRAY) {
      bxg_buf_printf(b, "  out->%s = calloc((size_t)cJSON_GetArraySize(f) + 1, sizeof *out->%s);\n",
                     n, n);
      bxg_buf_printf(b, "  if (out->%s == NULL) goto nomem;\n", n);
      bxg_buf_printf(b, "  for (const cJSON *e = f->child; e != NULL; e = e->next) {\n");
      bxg_buf_printf(b,
                     "    if ((out->%s[out->%s] = strdup(e->valuestring)) == NULL) goto nomem;\n",
                     n, s->count_name);
      bxg_buf_printf(b, "    out->%s++;\n  }\n", s->count_name);
    } else if (s->date) {
      bxg_buf_printf(b, "  out->%s = f != NULL ? f->valuedouble : NAN;\n", n);
    } else if (s->type.kind == BXG_BOOL) {
      bxg_buf_printf(b, "  out->%s = cJSON_IsTrue(f);\n", n);
    } else if (s->type.kind == BXG_STRING) {
      bxg_buf_printf(b, "  if ((out->%s = strdup(f->valuestring)) == NULL) goto nomem;\n", n);
    } else {
      const char *lo, *hi;
      if (bxg_kind_is_int(s->type.kind) && dao_range(s->type.kind, &lo, &hi)) {
        bxg_buf_printf(
            b, "  if (f->valuedouble < %s%s%s) {\n    rc = BX_EBADARG;\n    goto fail;\n  }\n", lo,
            hi ? " || f->valuedouble > " : "", hi ? hi : "");
        bad = true;
      }
      bxg_buf_printf(b, "  out->%s = (%s)f->valuedouble;\n", n, s->type.c_type);
    }
  }
  bxg_buf_puts(b, "  cJSON_Delete(o);\n  return 0;\n");
  if (bad) {
    bxg_buf_puts(b, "fail:\n");
    bxg_buf_printf(b, "  %s_dao_clear(out);\n", u->ident);
    bxg_buf_puts(b, "  cJSON_Delete(o);\n  return rc;\n");
  }
  bool allocs = false;
  for (size_t i = 0; i < u->nfields; i++)
    allocs = allocs || u->fields[i].shape == BXG_ARRAY || u->fields[i].type.kind == BXG_STRING;
  if (allocs) {
    bxg_buf_puts(b, "nomem:\n");
    bxg_buf_printf(b, "  %s_dao_clear(out);\n", u->ident);
    bxg_buf_puts(b, "  cJSON_Delete(o);\n  return BX_ENOMEM;\n");
  }
  bxg_buf_puts(b, "}\n\n");
}

void bxg_emit_dao_models(bxg_buf *b, const bxg_model *m) {
  for (size_t i = 0; i < m->nusers + m->ndaos; i++) {
    const bxg_user *u = i < m->nusers ? m->users[i] : m->daos[i - m->nusers];
    if (!u->dao_model) continue;
    char *guard = bxg_upper(u->ident);
    bxg_buf_printf(b, "/* ---- DAO model %s (%s) ---- */\n\n", u->c_type, u->class_name);
    bxg_buf_printf(b, "#ifndef BX_DAO_MODEL_%s\n#define BX_DAO_MODEL_%s\n", guard, guard);
    bxg_buf_puts(b, "#include <math.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
    dao_table(b, u);
    dao_to(b, u);
    dao_clear(b, u);
    dao_from(b, u);
    bxg_buf_printf(b, "#endif /* BX_DAO_MODEL_%s */\n\n", guard);
    free(guard);
  }
}
