/* Sinks sent by value (spec/foam/dao.md section 5.1): the request's sink is decoded, fed the
 * selected rows, and sent back as itself with its results (the request's properties echoed). */
#include <math.h>

#include "dao_internal.h"

enum { SK_ARRAY = 1, SK_COUNT, SK_MAX, SK_MIN, SK_SUM, SK_GROUPBY, SK_PROJECTION };

#define SK_MAX_EXPRS 32
#define SK_MAX_GROUPS 10000

typedef struct sk_group {
  char *key;
  cJSON *key_value;
  dao_sink *sink;
} sk_group;

struct dao_sink {
  int kind;
  const bx_dao_model *model;
  cJSON *json;  /* the request's sink (owned copy), echoed back */
  cJSON *array; /* ArraySink rows, Projection tuples */
  double num;
  const cJSON *best; /* Max / Min (points into `held`) */
  cJSON *held;
  bool have;
  int field;
  int fields[SK_MAX_EXPRS];
  int nfields;
  bool split_arrays; /* GroupBy: an array value's elements are groups of their own */
  int depth;
  sk_group *groups;
  size_t ngroups;
};

static const struct {
  const char *cls;
  int kind;
} sk_classes[] = {
    {"foam.dao.ArraySink", SK_ARRAY},
    {"foam.mlang.sink.Count", SK_COUNT},
    {"foam.mlang.sink.Max", SK_MAX},
    {"foam.mlang.sink.Min", SK_MIN},
    {"foam.mlang.sink.Sum", SK_SUM},
    {"foam.mlang.sink.GroupBy", SK_GROUPBY},
    {"foam.mlang.sink.Projection", SK_PROJECTION},
};

void bx__sink_free(dao_sink *s) {
  if (s == NULL) return;
  cJSON_Delete(s->json);
  cJSON_Delete(s->array);
  cJSON_Delete(s->held);
  for (size_t i = 0; i < s->ngroups; i++) {
    free(s->groups[i].key);
    cJSON_Delete(s->groups[i].key_value);
    bx__sink_free(s->groups[i].sink);
  }
  free(s->groups);
  free(s);
}

static int sk_prop(const bx_dao_model *model, const cJSON *j, int *field, char *err,
                   size_t errlen) {
  const char *cls = bx_json_class(j);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
  if (cls == NULL || strcmp(cls, "__Property__") != 0 || !cJSON_IsString(name)) {
    snprintf(err, errlen, "sink expression: unsupported mLang class %s", cls ? cls : "(none)");
    return BX_ENOTSUP;
  }
  if ((*field = bx_dao_field_index(model, name->valuestring)) < 0) {
    snprintf(err, errlen, "unknown property %s", name->valuestring);
    return BX_EBADARG;
  }
  return 0;
}

static int sk_decode_parts(dao_sink *s, const cJSON *json, char *err, size_t errlen) {
  switch (s->kind) {
  case SK_MAX:
  case SK_MIN:
  case SK_SUM:
  case SK_GROUPBY: {
    int rc =
        sk_prop(s->model, cJSON_GetObjectItemCaseSensitive(json, "arg1"), &s->field, err, errlen);
    if (rc) return rc;
    bx_dao_ftype t = s->model->fields[s->field].type;
    if (s->kind == SK_SUM && t != BX_DAO_INT && t != BX_DAO_FLOAT) {
      snprintf(err, errlen, "Sum of a non-numeric property");
      return BX_EBADARG;
    }
    if ((s->kind == SK_MAX || s->kind == SK_MIN) && t == BX_DAO_STRINGS) {
      snprintf(err, errlen, "Max/Min of an array property");
      return BX_ENOTSUP;
    }
    if (s->kind != SK_GROUPBY) return 0;
    const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(json, "arg2");
    dao_sink *probe; /* the template must decode */
    if (tmpl == NULL || cJSON_IsNull(tmpl)) {
      snprintf(err, errlen, "GroupBy without a sink (arg2)");
      return BX_EBADARG;
    }
    rc = bx__sink_decode(s->model, tmpl, s->depth + 1, &probe, err, errlen);
    bx__sink_free(probe);
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(json, "processArrayValuesIndividually");
    s->split_arrays = split == NULL || cJSON_IsTrue(split);
    return rc;
  }
  case SK_PROJECTION: {
    const cJSON *exprs = cJSON_GetObjectItemCaseSensitive(json, "exprs");
    if (!cJSON_IsArray(exprs) || cJSON_GetArraySize(exprs) > SK_MAX_EXPRS) {
      snprintf(err, errlen, "Projection needs 1 to %d expressions", SK_MAX_EXPRS);
      return BX_EBADARG;
    }
    for (const cJSON *e = exprs->child; e != NULL; e = e->next) {
      int rc = sk_prop(s->model, e, &s->fields[s->nfields], err, errlen);
      if (rc) return rc;
      s->nfields++;
    }
    return 0;
  }
  default:
    return 0;
  }
}

int bx__sink_decode(const bx_dao_model *model, const cJSON *json, int depth, dao_sink **out,
                    char *err, size_t errlen) {
  *out = NULL;
  const char *cls = bx_json_class(json);
  if (depth > 4) {
    snprintf(err, errlen, "sinks nested too deep");
    return BX_ETOODEEP;
  }
  int kind = 0;
  for (size_t i = 0; cls != NULL && i < sizeof sk_classes / sizeof sk_classes[0]; i++)
    if (strcmp(cls, sk_classes[i].cls) == 0) kind = sk_classes[i].kind;
  if (kind == 0) {
    snprintf(err, errlen, "unsupported sink class %s", cls ? cls : "(none)");
    return BX_ENOTSUP;
  }
  dao_sink *s = calloc(1, sizeof *s);
  if (s == NULL) return BX_ENOMEM;
  s->kind = kind;
  s->model = model;
  s->depth = depth;
  s->field = -1;
  if ((s->json = cJSON_Duplicate(json, true)) == NULL ||
      ((kind == SK_ARRAY || kind == SK_PROJECTION) && (s->array = cJSON_CreateArray()) == NULL)) {
    bx__sink_free(s);
    return BX_ENOMEM;
  }
  int rc = sk_decode_parts(s, json, err, errlen);
  if (rc) {
    bx__sink_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* The group key of a value, as FOAM2 stringifies it. */
static char *sk_key(const cJSON *v) {
  char buf[64];
  if (cJSON_IsString(v)) return strdup(v->valuestring);
  if (cJSON_IsBool(v)) return strdup(cJSON_IsTrue(v) ? "true" : "false");
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 1e21)
      snprintf(buf, sizeof buf, "%.0f", d);
    else
      snprintf(buf, sizeof buf, "%.17g", d);
    return strdup(buf);
  }
  return strdup("undefined");
}

static int sk_group_put(dao_sink *s, const cJSON *keyv, const cJSON *obj) {
  char *key = sk_key(keyv);
  if (key == NULL) return BX_ENOMEM;
  for (size_t i = 0; i < s->ngroups; i++)
    if (strcmp(s->groups[i].key, key) == 0) {
      free(key);
      return bx__sink_put(s->groups[i].sink, obj);
    }
  if (s->ngroups >= SK_MAX_GROUPS) {
    free(key);
    return BX_EMSGSIZE;
  }
  sk_group *g = realloc(s->groups, (s->ngroups + 1) * sizeof *g);
  if (g == NULL) {
    free(key);
    return BX_ENOMEM;
  }
  s->groups = g;
  sk_group *ng = &g[s->ngroups];
  char err[8];
  ng->key = key;
  ng->key_value = cJSON_Duplicate(keyv, true);
  if (bx__sink_decode(s->model, cJSON_GetObjectItemCaseSensitive(s->json, "arg2"), s->depth + 1,
                      &ng->sink, err, sizeof err) != 0 ||
      ng->key_value == NULL) {
    free(key);
    cJSON_Delete(ng->key_value);
    bx__sink_free(ng->sink);
    return BX_ENOMEM;
  }
  s->ngroups++;
  return bx__sink_put(ng->sink, obj);
}

int bx__sink_put(dao_sink *s, const cJSON *obj) {
  const cJSON *v = s->field >= 0 ? bx__dao_get(s->model, obj, s->field) : NULL;
  switch (s->kind) {
  case SK_ARRAY: {
    cJSON *c = cJSON_Duplicate(obj, true);
    return c != NULL && cJSON_AddItemToArray(s->array, c) ? 0 : BX_ENOMEM;
  }
  case SK_COUNT:
    s->num++;
    return 0;
  case SK_SUM:
    s->num += v ? v->valuedouble : 0;
    return 0;
  case SK_MAX:
  case SK_MIN: {
    if (v == NULL) return 0;
    int c = s->have ? bx__dao_cmp_values(s->model->fields[s->field].type, v, s->best) : 0;
    if (!s->have || (s->kind == SK_MAX ? c > 0 : c < 0)) {
      cJSON *h = cJSON_Duplicate(v, true);
      if (h == NULL) return BX_ENOMEM;
      cJSON_Delete(s->held);
      s->best = s->held = h;
      s->have = true;
    }
    return 0;
  }
  case SK_GROUPBY:
    if (v == NULL) return 0;
    if (cJSON_IsArray(v) && s->split_arrays) {
      for (const cJSON *e = v->child; e != NULL; e = e->next) {
        int rc = sk_group_put(s, e, obj);
        if (rc) return rc;
      }
      return 0;
    }
    return sk_group_put(s, v, obj);
  case SK_PROJECTION: {
    cJSON *t = cJSON_CreateArray();
    if (t == NULL || !cJSON_AddItemToArray(s->array, t)) {
      cJSON_Delete(t);
      return BX_ENOMEM;
    }
    if (!cJSON_AddItemToArray(t, cJSON_CreateString(s->model->class_name))) return BX_ENOMEM;
    for (int i = 0; i < s->nfields; i++) {
      const cJSON *fv = bx__dao_get(s->model, obj, s->fields[i]);
      cJSON *c = fv ? cJSON_Duplicate(fv, true) : cJSON_CreateNull();
      if (c == NULL || !cJSON_AddItemToArray(t, c)) {
        cJSON_Delete(c);
        return BX_ENOMEM;
      }
    }
    return 0;
  }
  }
  return 0;
}

/* Sets key in o to v (replacing an echoed one); takes v. */
static bool sk_set(cJSON *o, const char *key, cJSON *v) {
  if (v == NULL) return false;
  cJSON_DeleteItemFromObjectCaseSensitive(o, key);
  if (!cJSON_AddItemToObject(o, key, v)) {
    cJSON_Delete(v);
    return false;
  }
  return true;
}

cJSON *bx__sink_result(const dao_sink *s) {
  cJSON *o = cJSON_Duplicate(s->json, true);
  if (o == NULL) return NULL;
  bool ok = true;
  switch (s->kind) {
  case SK_ARRAY:
    cJSON_DeleteItemFromObjectCaseSensitive(o, "array");
    if (cJSON_GetArraySize(s->array) > 0) ok = sk_set(o, "array", cJSON_Duplicate(s->array, true));
    break;
  case SK_COUNT:
  case SK_SUM:
    ok = sk_set(o, "value", cJSON_CreateNumber(s->num));
    break;
  case SK_MAX:
  case SK_MIN:
    if (s->have) ok = sk_set(o, "value", cJSON_Duplicate(s->best, true));
    break;
  case SK_PROJECTION:
    ok = sk_set(o, "projectionWithClass", cJSON_Duplicate(s->array, true));
    break;
  case SK_GROUPBY: {
    cJSON *groups = cJSON_CreateObject(), *keys = cJSON_CreateArray();
    ok = groups != NULL && keys != NULL;
    for (size_t i = 0; ok && i < s->ngroups; i++) {
      cJSON *r = bx__sink_result(s->groups[i].sink);
      ok = r != NULL && cJSON_AddItemToObject(groups, s->groups[i].key, r);
      if (!ok) cJSON_Delete(r);
      cJSON *k = cJSON_Duplicate(s->groups[i].key_value, true);
      ok = ok && k != NULL && cJSON_AddItemToArray(keys, k);
    }
    if (!ok) {
      cJSON_Delete(groups);
      cJSON_Delete(keys);
    } else {
      ok = sk_set(o, "groups", groups) && sk_set(o, "groupKeys", keys);
    }
    break;
  }
  }
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}
