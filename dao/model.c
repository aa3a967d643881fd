/* Models: field lookup, the normal form of objects, typed values and their order. */
#include <math.h>

#include "dao_internal.h"

int bx_dao_field_index(const bx_dao_model *model, const char *name) {
  if (model == NULL || name == NULL) return -1;
  for (size_t i = 0; i < model->nfields; i++)
    if (strcmp(model->fields[i].name, name) == 0) return (int)i;
  return -1;
}

bool bx__dao_date_ms(const cJSON *v, double *ms) {
  if (cJSON_IsNumber(v)) {
    *ms = v->valuedouble;
    return isfinite(*ms);
  }
  if (cJSON_IsString(v)) return bx__iso_date_ms(v->valuestring, ms);
  const char *cls = bx_json_class(v);
  if (cls != NULL && strcmp(cls, BX_CLASS_TIMESTAMP) == 0)
    return bx__dao_date_ms(cJSON_GetObjectItemCaseSensitive(v, "value"), ms);
  return false;
}

static bool md_integral(double d) {
  return isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740991.0;
}

bool bx__dao_type_ok(bx_dao_ftype t, const cJSON *v) {
  switch (t) {
  case BX_DAO_INT:
    return cJSON_IsNumber(v) && md_integral(v->valuedouble);
  case BX_DAO_FLOAT:
    return cJSON_IsNumber(v) && isfinite(v->valuedouble);
  case BX_DAO_DATE:
    return cJSON_IsNumber(v) && isfinite(v->valuedouble);
  case BX_DAO_STRING:
    return cJSON_IsString(v);
  case BX_DAO_BOOL:
    return cJSON_IsBool(v);
  case BX_DAO_STRINGS:
    if (!cJSON_IsArray(v)) return false;
    for (const cJSON *e = v->child; e != NULL; e = e->next)
      if (!cJSON_IsString(e)) return false;
    return true;
  }
  return false;
}

cJSON *bx__dao_const_for(bx_dao_ftype t, const cJSON *v) {
  double ms;
  if (t == BX_DAO_DATE && !cJSON_IsNumber(v) && bx__dao_date_ms(v, &ms))
    return cJSON_CreateNumber(ms);
  return cJSON_Duplicate(v, true);
}

/* The default of a field type (NULL for a date: absent). */
static cJSON *md_default(bx_dao_ftype t) {
  switch (t) {
  case BX_DAO_INT:
  case BX_DAO_FLOAT:
    return cJSON_CreateNumber(0);
  case BX_DAO_STRING:
    return cJSON_CreateString("");
  case BX_DAO_BOOL:
    return cJSON_CreateFalse();
  case BX_DAO_STRINGS:
    return cJSON_CreateArray();
  case BX_DAO_DATE:
    return NULL;
  }
  return NULL;
}

int bx_dao_normalize(const bx_dao_model *model, const cJSON *in, cJSON **out, char *err,
                     size_t errlen) {
  *out = NULL;
  if (!cJSON_IsObject(in)) {
    if (err) snprintf(err, errlen, "expected a %s object", model->class_name);
    return BX_EBADARG;
  }
  const char *cls = bx_json_class(in);
  if (cls != NULL && strcmp(cls, model->class_name) != 0) {
    if (err) snprintf(err, errlen, "expected a %s, got a %s", model->class_name, cls);
    return BX_EBADARG;
  }
  cJSON *o = bx_json_new_object(model->class_name);
  if (o == NULL) return BX_ENOMEM;
  for (size_t i = 0; i < model->nfields; i++) {
    const bx_dao_field *f = &model->fields[i];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, f->name);
    cJSON *nv = NULL;
    if (v == NULL || cJSON_IsNull(v)) {
      nv = md_default(f->type);
      if (nv == NULL && f->type != BX_DAO_DATE) goto nomem;
    } else if (f->type == BX_DAO_DATE) {
      double ms;
      if (!bx__dao_date_ms(v, &ms)) goto bad;
      if ((nv = cJSON_CreateNumber(ms)) == NULL) goto nomem;
    } else {
      if (!bx__dao_type_ok(f->type, v)) goto bad;
      if ((nv = cJSON_Duplicate(v, true)) == NULL) goto nomem;
    }
    if (nv != NULL && !cJSON_AddItemToObject(o, f->name, nv)) {
      cJSON_Delete(nv);
      goto nomem;
    }
    continue;
  bad:
    if (err)
      snprintf(err, errlen, "property %s of %s has the wrong type", f->name, model->class_name);
    cJSON_Delete(o);
    return BX_EBADARG;
  }
  *out = o;
  return 0;
nomem:
  cJSON_Delete(o);
  return BX_ENOMEM;
}

const cJSON *bx__dao_get(const bx_dao_model *model, const cJSON *obj, int field) {
  return cJSON_GetObjectItemCaseSensitive(obj, model->fields[field].name);
}

static int md_sign(double d) {
  return (d > 0) - (d < 0);
}

int bx__dao_cmp_values(bx_dao_ftype t, const cJSON *a, const cJSON *b) {
  if (a == NULL || b == NULL) return (a == NULL) - (b == NULL); /* absent after all */
  switch (t) {
  case BX_DAO_INT:
  case BX_DAO_FLOAT:
  case BX_DAO_DATE:
    return md_sign(a->valuedouble - b->valuedouble);
  case BX_DAO_BOOL:
    return cJSON_IsTrue(a) - cJSON_IsTrue(b);
  case BX_DAO_STRING: {
    int c = strcmp(a->valuestring, b->valuestring); /* UTF-8 bytes: code-point order */
    return (c > 0) - (c < 0);
  }
  case BX_DAO_STRINGS: {
    const cJSON *x = a->child, *y = b->child;
    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
      int c = strcmp(x->valuestring, y->valuestring);
      if (c != 0) return (c > 0) - (c < 0);
    }
    return (x != NULL) - (y != NULL);
  }
  }
  return 0;
}
