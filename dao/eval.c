/* mLang in memory: predicates over normalised objects, and their order. The SQLite store's
 * translation (sql.c) gives the same answers; tests/test_dao_stores.c holds them to it. */
#include <ctype.h>

#include "dao_internal.h"

/* ASCII upper-casing copy (case folding beyond ASCII is not done; SQLite's upper() agrees). */
static char *ev_upper(const char *s) {
  size_t n = strlen(s);
  char *u = malloc(n + 1);
  if (u == NULL) return NULL;
  for (size_t i = 0; i <= n; i++)
    u[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
  return u;
}

static bool ev_text1(ml_kind k, const char *s, const char *needle) {
  size_t n = strlen(s), m = strlen(needle);
  switch (k) {
  case ML_CONTAINS:
  case ML_CONTAINS_IC:
    return strstr(s, needle) != NULL;
  case ML_STARTS:
  case ML_STARTS_IC:
    return strncmp(s, needle, m) == 0;
  case ML_ENDS:
    return n >= m && memcmp(s + n - m, needle, m) == 0;
  default:
    return false;
  }
}

static bool ev_text(ml_kind k, const char *s, const char *needle) {
  if (k != ML_CONTAINS_IC && k != ML_STARTS_IC) return ev_text1(k, s, needle);
  char *a = ev_upper(s), *b = ev_upper(needle);
  bool r = a != NULL && b != NULL && ev_text1(k, a, b);
  free(a);
  free(b);
  return r;
}

/* A text predicate on a string or, element-wise, a string-array value. */
static bool ev_text_value(ml_kind k, bx_dao_ftype t, const cJSON *v, const char *needle) {
  if (t == BX_DAO_STRING) return ev_text(k, v->valuestring, needle);
  for (const cJSON *e = v ? v->child : NULL; e != NULL; e = e->next)
    if (ev_text(k, e->valuestring, needle)) return true;
  return false;
}

static bool ev_has(bx_dao_ftype t, const cJSON *v) {
  if (v == NULL) return false;
  switch (t) {
  case BX_DAO_INT:
  case BX_DAO_FLOAT:
    return v->valuedouble != 0;
  case BX_DAO_STRING:
    return v->valuestring[0] != '\0';
  case BX_DAO_BOOL:
    return true; /* false counts as present (FOAM2 JS) */
  case BX_DAO_DATE:
    return true;
  case BX_DAO_STRINGS:
    return v->child != NULL;
  }
  return false;
}

static bool ev_compare(const bx_dao_model *model, const bx_mlang *p, const cJSON *obj) {
  int f = p->args[0]->field;
  bx_dao_ftype t = model->fields[f].type;
  const cJSON *v = bx__dao_get(model, obj, f), *c = p->args[1]->value;
  if (t == BX_DAO_STRINGS) {
    bool eq = v != NULL && cJSON_Compare(v, c, true);
    return p->kind == ML_EQ ? eq : !eq;
  }
  int r = bx__dao_cmp_values(t, v, c);
  switch (p->kind) {
  case ML_EQ:
    return v != NULL && r == 0;
  case ML_NEQ:
    return !(v != NULL && r == 0);
  case ML_LT:
    return r < 0;
  case ML_LTE:
    return r <= 0;
  case ML_GT:
    return r > 0;
  case ML_GTE:
    return r >= 0;
  default:
    return false;
  }
}

static bool ev_in(const bx_dao_model *model, const bx_mlang *p, const cJSON *obj) {
  if (p->args[0]->kind == ML_CONST) { /* reversed: the array property contains the value */
    const cJSON *arr = bx__dao_get(model, obj, p->args[1]->field);
    for (const cJSON *e = arr ? arr->child : NULL; e != NULL; e = e->next)
      if (strcmp(e->valuestring, p->args[0]->value->valuestring) == 0) return true;
    return false;
  }
  int f = p->args[0]->field;
  const cJSON *v = bx__dao_get(model, obj, f);
  if (v == NULL) return false;
  for (const cJSON *e = p->args[1]->value->child; e != NULL; e = e->next)
    if (bx__dao_cmp_values(model->fields[f].type, v, e) == 0) return true;
  return false;
}

static bool ev_keyword(const bx_dao_model *model, const char *word, const cJSON *obj) {
  for (size_t i = 0; i < model->nfields; i++) {
    bx_dao_ftype t = model->fields[i].type;
    if (t != BX_DAO_STRING && t != BX_DAO_STRINGS) continue;
    const cJSON *v = bx__dao_get(model, obj, (int)i);
    if (v != NULL && ev_text_value(ML_CONTAINS_IC, t, v, word)) return true;
  }
  return false;
}

bool bx_dao_eval(const bx_dao_model *model, const bx_mlang *p, const cJSON *obj) {
  if (p == NULL) return true;
  switch (p->kind) {
  case ML_TRUE:
    return true;
  case ML_FALSE:
    return false;
  case ML_AND:
    for (size_t i = 0; i < p->nargs; i++)
      if (!bx_dao_eval(model, p->args[i], obj)) return false;
    return true;
  case ML_OR:
    for (size_t i = 0; i < p->nargs; i++)
      if (bx_dao_eval(model, p->args[i], obj)) return true;
    return false;
  case ML_NOT:
    return !bx_dao_eval(model, p->args[0], obj);
  case ML_EQ:
  case ML_NEQ:
  case ML_LT:
  case ML_LTE:
  case ML_GT:
  case ML_GTE:
    return ev_compare(model, p, obj);
  case ML_IN:
    return ev_in(model, p, obj);
  case ML_CONTAINS:
  case ML_CONTAINS_IC:
  case ML_STARTS:
  case ML_STARTS_IC:
  case ML_ENDS: {
    int f = p->args[0]->field;
    const cJSON *v = bx__dao_get(model, obj, f);
    return v != NULL &&
           ev_text_value(p->kind, model->fields[f].type, v, p->args[1]->value->valuestring);
  }
  case ML_HAS: {
    int f = p->args[0]->field;
    return ev_has(model->fields[f].type, bx__dao_get(model, obj, f));
  }
  case ML_KEYWORD:
    return ev_keyword(model, p->args[0]->value->valuestring, obj);
  default:
    return false;
  }
}

int bx_dao_compare(const bx_dao_model *model, const bx_mlang *order, const cJSON *a,
                   const cJSON *b) {
  bx__order_key keys[16];
  int n = bx__order_flatten(order, keys, 16);
  for (int i = 0; i < n; i++) {
    bx_dao_ftype t = model->fields[keys[i].field].type;
    int r = bx__dao_cmp_values(t, bx__dao_get(model, a, keys[i].field),
                               bx__dao_get(model, b, keys[i].field));
    if (r != 0) return keys[i].desc ? -r : r;
  }
  int id = (int)model->id_field;
  return bx__dao_cmp_values(model->fields[id].type, bx__dao_get(model, a, id),
                            bx__dao_get(model, b, id));
}
