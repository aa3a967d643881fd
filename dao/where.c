/* Predicate builders (FOAM JSON) and the small text syntax of bx_dao_where_parse() /
 * bx_dao_order_parse(), for bxctl dao and C callers. */
#include <ctype.h>

#include "dao_internal.h"

cJSON *bx_dao_prop(const bx_dao_model *model, const char *name) {
  cJSON *o = bx_json_new_object("__Property__");
  if (o == NULL || !cJSON_AddStringToObject(o, "forClass_", model->class_name) ||
      !cJSON_AddStringToObject(o, "name", name)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *bx_dao_const(cJSON *value) {
  cJSON *o = value ? bx_json_new_object("foam.mlang.Constant") : NULL;
  if (o == NULL || !cJSON_AddItemToObject(o, "value", value)) {
    cJSON_Delete(o);
    cJSON_Delete(value);
    return NULL;
  }
  return o;
}

static cJSON *wh_node(const char *cls, const char *k1, cJSON *a, const char *k2, cJSON *b) {
  cJSON *o = bx_json_new_object(cls);
  bool ok = o != NULL && a != NULL && (k2 == NULL || b != NULL);
  if (ok) {
    ok = cJSON_AddItemToObject(o, k1, a);
    if (!ok) cJSON_Delete(a);
    a = NULL;
  }
  if (ok && k2) {
    ok = cJSON_AddItemToObject(o, k2, b);
    if (!ok) cJSON_Delete(b);
    b = NULL;
  }
  if (!ok) {
    cJSON_Delete(o);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return NULL;
  }
  return o;
}

cJSON *bx_dao_pred(const char *op, cJSON *arg1, cJSON *arg2) {
  char cls[64];
  snprintf(cls, sizeof cls, "foam.mlang.predicate.%s", op ? op : "");
  if (arg2 == NULL) return wh_node(cls, "arg1", arg1, NULL, NULL);
  return wh_node(cls, "arg1", arg1, "arg2", arg2);
}

static cJSON *wh_list(const char *cls, cJSON *a, cJSON *b) {
  cJSON *args = cJSON_CreateArray();
  if (args == NULL || a == NULL || b == NULL) {
    cJSON_Delete(args);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return NULL;
  }
  cJSON_AddItemToArray(args, a);
  cJSON_AddItemToArray(args, b);
  return wh_node(cls, "args", args, NULL, NULL);
}

cJSON *bx_dao_and(cJSON *a, cJSON *b) {
  return wh_list("foam.mlang.predicate.And", a, b);
}

cJSON *bx_dao_or(cJSON *a, cJSON *b) {
  return wh_list("foam.mlang.predicate.Or", a, b);
}

cJSON *bx_dao_desc(cJSON *comparator) {
  return wh_node("foam.mlang.order.Desc", "arg1", comparator, NULL, NULL);
}

cJSON *bx_dao_then_by(cJSON *head, cJSON *tail) {
  return wh_node("foam.mlang.order.ThenBy", "head", head, "tail", tail);
}

/* ---- the text syntax ---------------------------------------------------------------------- */

typedef struct wh_p {
  const bx_dao_model *model; /* NULL: untyped (values typed by how they are written) */
  char name[128];            /* the last property read */
  const char *s;
  char *err;
  size_t errlen;
  int depth;
  bool failed;
} wh_p;

static void wh_fail(wh_p *p, const char *what) {
  if (!p->failed && p->err) snprintf(p->err, p->errlen, "%s at '%.20s'", what, p->s);
  p->failed = true;
}

static void wh_ws(wh_p *p) {
  while (isspace((unsigned char)*p->s))
    p->s++;
}

/* A bare word (letters, digits, _ . : - +) into buf. */
static bool wh_word(wh_p *p, char *buf, size_t len) {
  wh_ws(p);
  size_t n = 0;
  while (*p->s && (isalnum((unsigned char)*p->s) || strchr("_.:-+", *p->s)) && n + 1 < len)
    buf[n++] = *p->s++;
  buf[n] = '\0';
  return n > 0;
}

static bool wh_kw(wh_p *p, const char *kw) {
  wh_ws(p);
  size_t n = strlen(kw);
  if (strncasecmp(p->s, kw, n) == 0 && !isalnum((unsigned char)p->s[n]) && p->s[n] != '_') {
    p->s += n;
    return true;
  }
  return false;
}

static cJSON *wh_untyped(const char *buf, bool quoted);

/* A value for field f, as JSON. */
static cJSON *wh_value(wh_p *p, int f) {
  wh_ws(p);
  char buf[512];
  bool quoted = *p->s == '"' || *p->s == '\'';
  if (quoted) {
    char q = *p->s++;
    size_t n = 0;
    while (*p->s && *p->s != q && n + 1 < sizeof buf) {
      if (*p->s == '\\' && p->s[1]) p->s++;
      buf[n++] = *p->s++;
    }
    buf[n] = '\0';
    if (*p->s != q) return wh_fail(p, "unterminated string"), NULL;
    p->s++;
  } else if (!wh_word(p, buf, sizeof buf)) {
    return wh_fail(p, "expected a value"), NULL;
  }
  if (p->model == NULL) return wh_untyped(buf, quoted);
  bx_dao_ftype t = p->model->fields[f].type;
  char *end;
  switch (t) {
  case BX_DAO_INT:
  case BX_DAO_FLOAT: {
    double d = strtod(buf, &end);
    if (quoted || *end) return wh_fail(p, "expected a number"), NULL;
    return cJSON_CreateNumber(d);
  }
  case BX_DAO_BOOL:
    if (!quoted && strcmp(buf, "true") == 0) return cJSON_CreateTrue();
    if (!quoted && strcmp(buf, "false") == 0) return cJSON_CreateFalse();
    return wh_fail(p, "expected true or false"), NULL;
  case BX_DAO_DATE: {
    double d = strtod(buf, &end);
    if (!quoted && *end == '\0') return cJSON_CreateNumber(d);
    if (bx__iso_date_ms(buf, &d)) return cJSON_CreateNumber(d);
    return wh_fail(p, "expected a date (ISO-8601 or epoch ms)"), NULL;
  }
  default:
    return cJSON_CreateString(buf);
  }
}

static cJSON *wh_or(wh_p *p);

static int wh_field(wh_p *p) {
  if (!wh_word(p, p->name, sizeof p->name)) return wh_fail(p, "expected a property"), -1;
  if (p->model == NULL) return 0;
  int f = bx_dao_field_index(p->model, p->name);
  if (f < 0) wh_fail(p, "unknown property");
  return f;
}

static cJSON *wh_prop(wh_p *p) {
  if (p->model != NULL) return bx_dao_prop(p->model, p->name);
  cJSON *o = bx_json_new_object("__Property__");
  if (o == NULL || !cJSON_AddStringToObject(o, "name", p->name)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Untyped: true/false, numbers, else a string. */
static cJSON *wh_untyped(const char *buf, bool quoted) {
  char *end;
  if (!quoted && strcmp(buf, "true") == 0) return cJSON_CreateTrue();
  if (!quoted && strcmp(buf, "false") == 0) return cJSON_CreateFalse();
  double d = strtod(buf, &end);
  if (!quoted && *buf && *end == '\0') return cJSON_CreateNumber(d);
  return cJSON_CreateString(buf);
}

static cJSON *wh_term(wh_p *p) {
  if (p->failed) return NULL;
  if (++p->depth > BX_MLANG_MAX_DEPTH) return wh_fail(p, "nesting too deep"), NULL;
  cJSON *r = NULL;
  wh_ws(p);
  if (*p->s == '(') {
    p->s++;
    r = wh_or(p);
    wh_ws(p);
    if (*p->s != ')') {
      cJSON_Delete(r);
      wh_fail(p, "expected )");
      r = NULL;
    } else {
      p->s++;
    }
  } else if (wh_kw(p, "not")) {
    r = bx_dao_pred("Not", wh_term(p), NULL);
  } else if (wh_kw(p, "has")) {
    int f = wh_field(p);
    r = f < 0 ? NULL : bx_dao_pred("Has", wh_prop(p), NULL);
  } else {
    int f = wh_field(p);
    if (f < 0) goto out;
    cJSON *prop = wh_prop(p);
    wh_ws(p);
    static const struct {
      const char *tok, *op;
    } ops[] = {{"!=", "Neq"}, {"<=", "Lte"}, {">=", "Gte"},       {"=", "Eq"},
               {"<", "Lt"},   {">", "Gt"},   {"~", "ContainsIC"}, {"^", "StartsWithIC"}};
    const char *op = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && op == NULL; i++)
      if (strncmp(p->s, ops[i].tok, strlen(ops[i].tok)) == 0) {
        op = ops[i].op;
        p->s += strlen(ops[i].tok);
      }
    if (op == NULL && wh_kw(p, "in")) {
      wh_ws(p);
      cJSON *arr = cJSON_CreateArray();
      if (*p->s++ != '(') wh_fail(p, "expected (");
      while (!p->failed) {
        cJSON *v = wh_value(p, f);
        if (v) cJSON_AddItemToArray(arr, v);
        wh_ws(p);
        if (*p->s == ',') {
          p->s++;
          continue;
        }
        if (*p->s == ')') {
          p->s++;
          break;
        }
        wh_fail(p, "expected , or )");
      }
      r = p->failed ? (cJSON_Delete(prop), cJSON_Delete(arr), NULL)
                    : bx_dao_pred("In", prop, bx_dao_const(arr));
      goto out;
    }
    if (op == NULL) {
      cJSON_Delete(prop);
      wh_fail(p, "expected an operator");
      goto out;
    }
    int vf = f;
    if (p->model != NULL && p->model->fields[f].type == BX_DAO_STRINGS) vf = -1;
    cJSON *v;
    if (vf < 0) { /* a string-array property: compare with a string */
      char buf[512];
      wh_ws(p);
      v = wh_word(p, buf, sizeof buf) ? cJSON_CreateString(buf) : NULL;
      if (v == NULL) wh_fail(p, "expected a value");
      if (strcmp(op, "Eq") == 0) { /* tags=x: x among the tags */
        cJSON *r2 = bx_dao_pred("In", bx_dao_const(v), prop);
        r = r2;
        goto out;
      }
    } else {
      v = wh_value(p, vf);
    }
    r = v ? bx_dao_pred(op, prop, bx_dao_const(v)) : (cJSON_Delete(prop), NULL);
  }
out:
  p->depth--;
  return p->failed ? (cJSON_Delete(r), NULL) : r;
}

static cJSON *wh_and(wh_p *p) {
  cJSON *a = wh_term(p);
  while (a != NULL && wh_kw(p, "and"))
    a = bx_dao_and(a, wh_term(p));
  return a;
}

static cJSON *wh_or(wh_p *p) {
  cJSON *a = wh_and(p);
  while (a != NULL && wh_kw(p, "or"))
    a = bx_dao_or(a, wh_and(p));
  return a;
}

int bx_dao_where_parse(const bx_dao_model *model, const char *text, cJSON **out, char *err,
                       size_t errlen) {
  if (out == NULL || text == NULL) return BX_EINVAL;
  wh_p p = {.model = model, .s = text, .err = err, .errlen = errlen};
  cJSON *r = wh_or(&p);
  wh_ws(&p);
  if (r != NULL && *p.s != '\0') wh_fail(&p, "unexpected text");
  if (p.failed || r == NULL) {
    cJSON_Delete(r);
    if (!p.failed) wh_fail(&p, "out of memory");
    *out = NULL;
    return BX_EBADARG;
  }
  *out = r;
  return 0;
}

int bx_dao_order_parse(const bx_dao_model *model, const char *text, cJSON **out, char *err,
                       size_t errlen) {
  if (out == NULL || text == NULL) return BX_EINVAL;
  *out = NULL;
  wh_p p = {.model = model, .s = text, .err = err, .errlen = errlen};
  cJSON *keys[16];
  int n = 0;
  while (!p.failed && n < 16) {
    wh_ws(&p);
    bool desc = *p.s == '-';
    if (desc) p.s++;
    int f = wh_field(&p);
    if (f < 0) break;
    cJSON *k = wh_prop(&p);
    keys[n++] = desc ? bx_dao_desc(k) : k;
    wh_ws(&p);
    if (*p.s == '\0') break;
    if (*p.s++ != ',') wh_fail(&p, "expected ,");
  }
  if (!p.failed && n == 16) wh_fail(&p, "too many keys");
  if (p.failed || n == 0) {
    for (int i = 0; i < n; i++)
      cJSON_Delete(keys[i]);
    if (!p.failed) wh_fail(&p, "expected a property");
    return BX_EBADARG;
  }
  cJSON *r = keys[n - 1];
  for (int i = n - 2; i >= 0; i--)
    r = bx_dao_then_by(keys[i], r);
  if (r == NULL) return BX_ENOMEM;
  *out = r;
  return 0;
}
