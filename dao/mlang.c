/* The mLang decoder: FOAM JSON predicates and comparators -> bx_mlang trees, bounded in depth
 * and size. Property references are resolved against the model and constants adapted to the
 * property's type here, once: a comparison whose constant has another type is folded to
 * "no match" (spec/foam/dao.md section 8: type-strict, never coerced), so the evaluator and
 * the SQL translation only ever see well-typed (property, constant) pairs. */
#include "dao_internal.h"

#define ML_PREFIX "foam.mlang."

static const struct {
  const char *cls;
  ml_kind kind;
} ml_classes[] = {
    {"foam.mlang.predicate.True", ML_TRUE},
    {"foam.mlang.predicate.False", ML_FALSE},
    {"foam.mlang.predicate.Eq", ML_EQ},
    {"foam.mlang.predicate.Neq", ML_NEQ},
    {"foam.mlang.predicate.Lt", ML_LT},
    {"foam.mlang.predicate.Lte", ML_LTE},
    {"foam.mlang.predicate.Gt", ML_GT},
    {"foam.mlang.predicate.Gte", ML_GTE},
    {"foam.mlang.predicate.And", ML_AND},
    {"foam.mlang.predicate.Or", ML_OR},
    {"foam.mlang.predicate.Not", ML_NOT},
    {"foam.mlang.predicate.In", ML_IN},
    {"foam.mlang.predicate.Contains", ML_CONTAINS},
    {"foam.mlang.predicate.ContainsIC", ML_CONTAINS_IC},
    {"foam.mlang.predicate.StartsWith", ML_STARTS},
    {"foam.mlang.predicate.StartsWithIC", ML_STARTS_IC},
    {"foam.mlang.predicate.EndsWith", ML_ENDS},
    {"foam.mlang.predicate.Has", ML_HAS},
    {"foam.mlang.predicate.Keyword", ML_KEYWORD},
    {"__Property__", ML_PROP},
    {"foam.mlang.Constant", ML_CONST},
    {"foam.mlang.order.Desc", ML_DESC},
    {"foam.mlang.order.ThenBy", ML_THENBY},
};

const char *bx__ml_class(ml_kind k) {
  for (size_t i = 0; i < sizeof ml_classes / sizeof ml_classes[0]; i++)
    if (ml_classes[i].kind == k) return ml_classes[i].cls;
  return "?";
}

typedef struct ml_dec {
  const bx_dao_model *model;
  int nodes;
  char *err;
  size_t errlen;
} ml_dec;

static int ml_fail(ml_dec *d, int code, const char *fmt, const char *arg) {
  if (d->err) snprintf(d->err, d->errlen, fmt, arg);
  return code;
}

void bx_mlang_free(bx_mlang *m) {
  if (m == NULL) return;
  for (size_t i = 0; i < m->nargs; i++)
    bx_mlang_free(m->args[i]);
  free(m->args);
  cJSON_Delete(m->value);
  free(m);
}

static bx_mlang *ml_node(ml_kind k, size_t nargs) {
  bx_mlang *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->kind = k;
  m->field = -1;
  if (nargs > 0 && (m->args = calloc(nargs, sizeof *m->args)) == NULL) {
    free(m);
    return NULL;
  }
  m->nargs = nargs;
  return m;
}

static int ml_decode(ml_dec *d, const cJSON *j, int depth, bx_mlang **out);

/* A child at key: required. */
static int ml_child(ml_dec *d, const cJSON *j, const char *key, int depth, bx_mlang **out) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, key);
  if (c == NULL || cJSON_IsNull(c))
    return ml_fail(d, BX_EBADARG, "mLang %s without its operand", bx_json_class(j));
  return ml_decode(d, c, depth + 1, out);
}

static bool ml_is_pred(ml_kind k) {
  return k != ML_PROP && k != ML_CONST && k != ML_DESC && k != ML_THENBY;
}

static bool ml_is_cmp(ml_kind k) {
  return k == ML_PROP || k == ML_DESC || k == ML_THENBY;
}

static bool ml_is_expr(ml_kind k) {
  return k == ML_PROP || k == ML_CONST;
}

/* Turns m into a constant predicate. */
static void ml_fold(bx_mlang *m, bool v) {
  for (size_t i = 0; i < m->nargs; i++)
    bx_mlang_free(m->args[i]);
  free(m->args);
  m->args = NULL;
  m->nargs = 0;
  m->kind = v ? ML_TRUE : ML_FALSE;
}

static ml_kind ml_flip(ml_kind k) {
  switch (k) {
  case ML_LT:
    return ML_GT;
  case ML_LTE:
    return ML_GTE;
  case ML_GT:
    return ML_LT;
  case ML_GTE:
    return ML_LTE;
  default:
    return k;
  }
}

/* Adapts the constant c to field type t in place: false when its type does not match. */
static int ml_adapt(bx_dao_ftype t, bx_mlang *c, bool *ok) {
  cJSON *v = bx__dao_const_for(t, c->value);
  if (v == NULL) return BX_ENOMEM;
  cJSON_Delete(c->value);
  c->value = v;
  *ok = bx__dao_type_ok(t, v);
  return 0;
}

/* (arg1, arg2) of a comparison: normalised to (property, constant), folded when ill-typed. */
static int ml_check_compare(ml_dec *d, bx_mlang *m) {
  bx_mlang *a = m->args[0], *b = m->args[1];
  if (!ml_is_expr(a->kind) || !ml_is_expr(b->kind))
    return ml_fail(d, BX_EBADARG, "%s compares property references and constants only",
                   bx__ml_class(m->kind));
  if (a->kind == ML_CONST && b->kind == ML_PROP) {
    m->args[0] = b;
    m->args[1] = a;
    m->kind = ml_flip(m->kind);
    a = m->args[0];
    b = m->args[1];
  }
  if (a->kind == ML_CONST) { /* two constants */
    bool eq = cJSON_Compare(a->value, b->value, true);
    if (m->kind == ML_EQ || m->kind == ML_NEQ) {
      ml_fold(m, (m->kind == ML_EQ) == eq);
      return 0;
    }
    return ml_fail(d, BX_ENOTSUP, "%s of two constants is not supported", bx__ml_class(m->kind));
  }
  if (b->kind == ML_PROP)
    return ml_fail(d, BX_ENOTSUP, "%s of two properties is not supported", bx__ml_class(m->kind));
  bx_dao_ftype t = d->model->fields[a->field].type;
  if (t == BX_DAO_STRINGS && m->kind != ML_EQ && m->kind != ML_NEQ)
    return ml_fail(d, BX_ENOTSUP, "ordering an array property (%s) is not supported",
                   d->model->fields[a->field].name);
  bool ok;
  int rc = ml_adapt(t, b, &ok);
  if (rc) return rc;
  if (!ok) ml_fold(m, m->kind == ML_NEQ); /* type-strict: no match */
  return 0;
}

/* Contains / StartsWith / EndsWith (and IC): (string or string-array property, string). */
static int ml_check_text(ml_dec *d, bx_mlang *m) {
  bx_mlang *a = m->args[0], *b = m->args[1];
  if (a->kind != ML_PROP || b->kind != ML_CONST)
    return ml_fail(d, BX_ENOTSUP, "%s needs a property and a constant", bx__ml_class(m->kind));
  bx_dao_ftype t = d->model->fields[a->field].type;
  if ((t != BX_DAO_STRING && t != BX_DAO_STRINGS) || !cJSON_IsString(b->value)) ml_fold(m, false);
  return 0;
}

/* In(property, [constants]) or the reversed In(constant, array property). */
static int ml_check_in(ml_dec *d, bx_mlang *m) {
  bx_mlang *a = m->args[0], *b = m->args[1];
  if (a->kind == ML_CONST && b->kind == ML_PROP) {
    if (d->model->fields[b->field].type != BX_DAO_STRINGS)
      return ml_fail(d, BX_ENOTSUP, "In(constant, %s): the property must be an array",
                     d->model->fields[b->field].name);
    if (!cJSON_IsString(a->value)) ml_fold(m, false);
    return 0;
  }
  if (a->kind != ML_PROP || b->kind != ML_CONST || !cJSON_IsArray(b->value))
    return ml_fail(d, BX_ENOTSUP, "%s needs a property and an array constant", "In");
  bx_dao_ftype t = d->model->fields[a->field].type;
  if (t == BX_DAO_STRINGS) return ml_fail(d, BX_ENOTSUP, "In on array property %s", "");
  cJSON *kept = cJSON_CreateArray();
  if (kept == NULL) return BX_ENOMEM;
  for (const cJSON *e = b->value->child; e != NULL; e = e->next) {
    cJSON *v = bx__dao_const_for(t, e);
    if (v == NULL) {
      cJSON_Delete(kept);
      return BX_ENOMEM;
    }
    if (bx__dao_type_ok(t, v))
      cJSON_AddItemToArray(kept, v);
    else
      cJSON_Delete(v);
  }
  cJSON_Delete(b->value);
  b->value = kept;
  if (cJSON_GetArraySize(kept) == 0) ml_fold(m, false);
  return 0;
}

static int ml_args(ml_dec *d, const cJSON *j, bx_mlang *m, int depth) {
  const char *keys2[] = {"arg1", "arg2"};
  const char *keyst[] = {"head", "tail"};
  const char **keys = m->kind == ML_THENBY ? keyst : keys2;
  for (size_t i = 0; i < m->nargs; i++) {
    int rc = ml_child(d, j, keys[i], depth, &m->args[i]);
    if (rc) return rc;
  }
  return 0;
}

static int ml_decode_list(ml_dec *d, const cJSON *j, bx_mlang *m, int depth) {
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(j, "args");
  if (args != NULL && !cJSON_IsNull(args) && !cJSON_IsArray(args))
    return ml_fail(d, BX_EBADARG, "%s: args is not an array", bx_json_class(j));
  size_t n = (size_t)cJSON_GetArraySize(args);
  if (n > BX_MLANG_MAX_NODES) return ml_fail(d, BX_EMSGSIZE, "mLang tree too large%s", "");
  if (n > 0 && (m->args = calloc(n, sizeof *m->args)) == NULL) return BX_ENOMEM;
  for (const cJSON *c = args ? args->child : NULL; c != NULL; c = c->next) {
    int rc = ml_decode(d, c, depth + 1, &m->args[m->nargs]);
    if (rc) return rc;
    m->nargs++;
    if (!ml_is_pred(m->args[m->nargs - 1]->kind))
      return ml_fail(d, BX_EBADARG, "%s takes predicates", bx_json_class(j));
  }
  return 0;
}

static int ml_decode_node(ml_dec *d, const cJSON *j, ml_kind k, int depth, bx_mlang *m) {
  switch (k) {
  case ML_TRUE:
  case ML_FALSE:
    return 0;
  case ML_PROP: {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "name");
    if (!cJSON_IsString(n)) return ml_fail(d, BX_EBADARG, "__Property__ without a name%s", "");
    if ((m->field = bx_dao_field_index(d->model, n->valuestring)) < 0)
      return ml_fail(d, BX_EBADARG, "unknown property %s", n->valuestring);
    return 0;
  }
  case ML_CONST: {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
    m->value = v != NULL ? cJSON_Duplicate(v, true) : cJSON_CreateArray(); /* 2018: [] left out */
    return m->value != NULL ? 0 : BX_ENOMEM;
  }
  case ML_AND:
  case ML_OR:
    return ml_decode_list(d, j, m, depth);
  default:
    break;
  }
  int rc = ml_args(d, j, m, depth);
  if (rc) return rc;
  switch (k) {
  case ML_NOT:
    if (!ml_is_pred(m->args[0]->kind)) return ml_fail(d, BX_EBADARG, "Not takes a predicate%s", "");
    return 0;
  case ML_EQ:
  case ML_NEQ:
  case ML_LT:
  case ML_LTE:
  case ML_GT:
  case ML_GTE:
    return ml_check_compare(d, m);
  case ML_IN:
    return ml_check_in(d, m);
  case ML_CONTAINS:
  case ML_CONTAINS_IC:
  case ML_STARTS:
  case ML_STARTS_IC:
  case ML_ENDS:
    return ml_check_text(d, m);
  case ML_HAS:
    if (m->args[0]->kind != ML_PROP) return ml_fail(d, BX_ENOTSUP, "Has needs a property%s", "");
    return 0;
  case ML_KEYWORD:
    if (m->args[0]->kind != ML_CONST)
      return ml_fail(d, BX_ENOTSUP, "Keyword needs a constant%s", "");
    if (!cJSON_IsString(m->args[0]->value)) ml_fold(m, false);
    return 0;
  case ML_DESC:
  case ML_THENBY:
    for (size_t i = 0; i < m->nargs; i++)
      if (!ml_is_cmp(m->args[i]->kind))
        return ml_fail(d, BX_EBADARG, "%s takes comparators", bx__ml_class(k));
    return 0;
  default:
    return 0;
  }
}

static size_t ml_nargs(ml_kind k) {
  switch (k) {
  case ML_NOT:
  case ML_HAS:
  case ML_KEYWORD:
  case ML_DESC:
    return 1;
  case ML_EQ:
  case ML_NEQ:
  case ML_LT:
  case ML_LTE:
  case ML_GT:
  case ML_GTE:
  case ML_IN:
  case ML_CONTAINS:
  case ML_CONTAINS_IC:
  case ML_STARTS:
  case ML_STARTS_IC:
  case ML_ENDS:
  case ML_THENBY:
    return 2;
  default:
    return 0;
  }
}

static int ml_decode(ml_dec *d, const cJSON *j, int depth, bx_mlang **out) {
  *out = NULL;
  if (depth > BX_MLANG_MAX_DEPTH) return ml_fail(d, BX_ETOODEEP, "mLang nesting too deep%s", "");
  if (++d->nodes > BX_MLANG_MAX_NODES) return ml_fail(d, BX_EMSGSIZE, "mLang tree too large%s", "");
  const char *cls = bx_json_class(j);
  if (cls == NULL) return ml_fail(d, BX_EBADARG, "mLang value without a class%s", "");
  ml_kind k = 0;
  for (size_t i = 0; i < sizeof ml_classes / sizeof ml_classes[0] && k == 0; i++)
    if (strcmp(ml_classes[i].cls, cls) == 0) k = ml_classes[i].kind;
  if (k == 0) return ml_fail(d, BX_ENOTSUP, "unsupported mLang class %s", cls);
  bx_mlang *m = ml_node(k, ml_nargs(k));
  if (m == NULL) return BX_ENOMEM;
  int rc = ml_decode_node(d, j, k, depth, m);
  if (rc) {
    bx_mlang_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

int bx_mlang_decode(const bx_dao_model *model, const cJSON *json, bool order, bx_mlang **out,
                    char *err, size_t errlen) {
  if (out == NULL || model == NULL) return BX_EINVAL;
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (json == NULL || cJSON_IsNull(json)) return 0;
  ml_dec d = {model, 0, err, errlen};
  bx_mlang *m;
  int rc = ml_decode(&d, json, 0, &m);
  if (rc) return rc;
  if (order ? !ml_is_cmp(m->kind) : !ml_is_pred(m->kind)) {
    bx_mlang_free(m);
    return ml_fail(&d, BX_EBADARG,
                   order ? "expected a comparator, got %s" : "expected a predicate, got %s",
                   bx_json_class(json));
  }
  if (order) {
    bx__order_key keys[16];
    int n = bx__order_flatten(m, keys, 16);
    for (int i = 0; i < n; i++)
      if (model->fields[keys[i].field].type == BX_DAO_STRINGS) n = -2;
    if (n < 0) {
      bx_mlang_free(m);
      return ml_fail(&d, BX_ENOTSUP,
                     n == -1 ? "order with too many keys%s" : "ordering by an array property%s",
                     "");
    }
  }
  *out = m;
  return 0;
}

static int ml_flatten(const bx_mlang *o, bool desc, bx__order_key *keys, int n, int max) {
  if (n < 0) return n;
  switch (o->kind) {
  case ML_PROP:
    if (n >= max) return -1;
    keys[n].field = o->field;
    keys[n].desc = desc;
    return n + 1;
  case ML_DESC:
    return ml_flatten(o->args[0], !desc, keys, n, max);
  case ML_THENBY:
    n = ml_flatten(o->args[0], desc, keys, n, max);
    return ml_flatten(o->args[1], desc, keys, n, max);
  default:
    return n;
  }
}

int bx__order_flatten(const bx_mlang *order, bx__order_key *keys, int max) {
  return order == NULL ? 0 : ml_flatten(order, false, keys, 0, max);
}

cJSON *bx_mlang_to_json(const bx_dao_model *model, const bx_mlang *m) {
  if (m == NULL) return cJSON_CreateNull();
  cJSON *o = bx_json_new_object(bx__ml_class(m->kind));
  if (o == NULL) return NULL;
  bool ok = true;
  switch (m->kind) {
  case ML_PROP:
    ok = cJSON_AddStringToObject(o, "forClass_", model->class_name) &&
         cJSON_AddStringToObject(o, "name", model->fields[m->field].name);
    break;
  case ML_CONST: {
    cJSON *v = cJSON_Duplicate(m->value, true);
    ok = v != NULL && cJSON_AddItemToObject(o, "value", v);
    break;
  }
  case ML_AND:
  case ML_OR: {
    cJSON *a = cJSON_AddArrayToObject(o, "args");
    ok = a != NULL;
    for (size_t i = 0; ok && i < m->nargs; i++) {
      cJSON *c = bx_mlang_to_json(model, m->args[i]);
      ok = c != NULL && cJSON_AddItemToArray(a, c);
    }
    break;
  }
  default: {
    const char *k2[] = {"arg1", "arg2"}, *kt[] = {"head", "tail"};
    for (size_t i = 0; ok && i < m->nargs; i++) {
      cJSON *c = bx_mlang_to_json(model, m->args[i]);
      ok = c != NULL && cJSON_AddItemToObject(o, (m->kind == ML_THENBY ? kt : k2)[i], c);
    }
  }
  }
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}
