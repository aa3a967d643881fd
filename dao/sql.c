/* mLang -> SQL (the SQLite store): every value a bound parameter, never text in the SQL. The
 * translation keeps the in-memory semantics (eval.c): only date columns can be NULL (absent),
 * and every date test is written so that it yields 0 or 1, never NULL, so Not and Or agree;
 * an absent date is greater than every date (FOAM2 JS), in tests and in ORDER BY. */
#include "dao_internal.h"

void bx__sql_add(sql_text *s, const char *text) {
  if (s->failed == 0 && bx_buf_append(&s->text, text, strlen(text)) != 0) s->failed = BX_ENOMEM;
}

static void sq_bind(sql_text *s, const cJSON *v, bx_dao_ftype t) {
  if (s->nbinds >= (int)(sizeof s->binds / sizeof s->binds[0])) {
    s->failed = BX_EMSGSIZE;
    return;
  }
  s->binds[s->nbinds] = v;
  s->kinds[s->nbinds++] = (int)t;
  bx__sql_add(s, "?");
}

void bx__sql_column(sql_text *s, const bx_dao_model *model, int field) {
  bx__sql_add(s, "\"");
  bx__sql_add(s, model->fields[field].name); /* checked: [A-Za-z_][A-Za-z0-9_]* */
  bx__sql_add(s, "\"");
}

static void sq_col(sql_text *s, const bx_mlang *m, const bx_dao_model *model) {
  bx__sql_column(s, model, m->field);
}

static const char *sq_op(ml_kind k) {
  switch (k) {
  case ML_EQ:
    return " = ";
  case ML_NEQ:
    return " <> ";
  case ML_LT:
    return " < ";
  case ML_LTE:
    return " <= ";
  case ML_GT:
    return " > ";
  case ML_GTE:
    return " >= ";
  default:
    return " ? ";
  }
}

static void sq_compare(sql_text *s, const bx_dao_model *model, const bx_mlang *p) {
  const bx_mlang *a = p->args[0], *b = p->args[1];
  bx_dao_ftype t = model->fields[a->field].type;
  if (t == BX_DAO_DATE) { /* absent: not equal, greater than every date */
    bool null_true = p->kind == ML_NEQ || p->kind == ML_GT || p->kind == ML_GTE;
    bx__sql_add(s, "(");
    sq_col(s, a, model);
    bx__sql_add(s, null_true ? " IS NULL OR " : " IS NOT NULL AND ");
    sq_col(s, a, model);
    bx__sql_add(s, sq_op(p->kind));
    sq_bind(s, b->value, t);
    bx__sql_add(s, ")");
    return;
  }
  bx__sql_add(s, "(");
  sq_col(s, a, model);
  bx__sql_add(s, sq_op(p->kind));
  sq_bind(s, b->value, t);
  bx__sql_add(s, ")");
}

/* One text test on expression `expr` (a column or json_each's value). */
static void sq_text1(sql_text *s, ml_kind k, const char *expr, const cJSON *needle) {
  bool ic = k == ML_CONTAINS_IC || k == ML_STARTS_IC;
  const char *x = ic ? "upper(" : "";
  const char *y = ic ? ")" : "";
  if (k == ML_ENDS) {
    bx__sql_add(s, "(length(");
    bx__sql_add(s, expr);
    bx__sql_add(s, ") >= length(");
    sq_bind(s, needle, BX_DAO_STRING);
    bx__sql_add(s, ") AND substr(");
    bx__sql_add(s, expr);
    bx__sql_add(s, ", length(");
    bx__sql_add(s, expr);
    bx__sql_add(s, ") - length(");
    sq_bind(s, needle, BX_DAO_STRING);
    bx__sql_add(s, ") + 1) = ");
    sq_bind(s, needle, BX_DAO_STRING);
    bx__sql_add(s, ")");
    return;
  }
  bx__sql_add(s, "(instr(");
  bx__sql_add(s, x);
  bx__sql_add(s, expr);
  bx__sql_add(s, y);
  bx__sql_add(s, ", ");
  bx__sql_add(s, x);
  sq_bind(s, needle, BX_DAO_STRING);
  bx__sql_add(s, y);
  bx__sql_add(s, (k == ML_STARTS || k == ML_STARTS_IC) ? ") = 1)" : ") > 0)");
}

static void sq_text(sql_text *s, const bx_dao_model *model, ml_kind k, int field,
                    const cJSON *needle) {
  char col[80];
  snprintf(col, sizeof col, "\"%s\"", model->fields[field].name);
  if (model->fields[field].type == BX_DAO_STRING) return sq_text1(s, k, col, needle);
  bx__sql_add(s, "EXISTS (SELECT 1 FROM json_each(");
  bx__sql_add(s, col);
  bx__sql_add(s, ") WHERE ");
  sq_text1(s, k, "value", needle);
  bx__sql_add(s, ")");
}

static void sq_in(sql_text *s, const bx_dao_model *model, const bx_mlang *p) {
  if (p->args[0]->kind == ML_CONST) { /* the array property contains the value */
    bx__sql_add(s, "EXISTS (SELECT 1 FROM json_each(");
    sq_col(s, p->args[1], model);
    bx__sql_add(s, ") WHERE value = ");
    sq_bind(s, p->args[0]->value, BX_DAO_STRING);
    bx__sql_add(s, ")");
    return;
  }
  bx_dao_ftype t = model->fields[p->args[0]->field].type;
  bx__sql_add(s, "(");
  if (t == BX_DAO_DATE) {
    sq_col(s, p->args[0], model);
    bx__sql_add(s, " IS NOT NULL AND ");
  }
  sq_col(s, p->args[0], model);
  bx__sql_add(s, " IN (");
  for (const cJSON *e = p->args[1]->value->child; e != NULL; e = e->next) {
    sq_bind(s, e, t);
    if (e->next) bx__sql_add(s, ", ");
  }
  bx__sql_add(s, "))");
}

static void sq_has(sql_text *s, const bx_dao_model *model, const bx_mlang *p) {
  int f = p->args[0]->field;
  bx__sql_add(s, "(");
  switch (model->fields[f].type) {
  case BX_DAO_INT:
  case BX_DAO_FLOAT:
    bx__sql_column(s, model, f);
    bx__sql_add(s, " <> 0");
    break;
  case BX_DAO_STRING:
    bx__sql_column(s, model, f);
    bx__sql_add(s, " <> ''");
    break;
  case BX_DAO_BOOL:
    bx__sql_add(s, "1");
    break;
  case BX_DAO_DATE:
    bx__sql_column(s, model, f);
    bx__sql_add(s, " IS NOT NULL");
    break;
  case BX_DAO_STRINGS:
    bx__sql_add(s, "json_array_length(");
    bx__sql_column(s, model, f);
    bx__sql_add(s, ") > 0");
    break;
  }
  bx__sql_add(s, ")");
}

static void sq_keyword(sql_text *s, const bx_dao_model *model, const cJSON *word) {
  bool any = false;
  bx__sql_add(s, "(");
  for (size_t i = 0; i < model->nfields; i++) {
    bx_dao_ftype t = model->fields[i].type;
    if (t != BX_DAO_STRING && t != BX_DAO_STRINGS) continue;
    if (any) bx__sql_add(s, " OR ");
    sq_text(s, model, ML_CONTAINS_IC, (int)i, word);
    any = true;
  }
  bx__sql_add(s, any ? ")" : "0)");
}

void bx__sql_where(sql_text *s, const bx_dao_model *model, const bx_mlang *p) {
  if (p == NULL) return bx__sql_add(s, "1");
  switch (p->kind) {
  case ML_TRUE:
    return bx__sql_add(s, "1");
  case ML_FALSE:
    return bx__sql_add(s, "0");
  case ML_AND:
  case ML_OR:
    if (p->nargs == 0) return bx__sql_add(s, p->kind == ML_AND ? "1" : "0");
    bx__sql_add(s, "(");
    for (size_t i = 0; i < p->nargs; i++) {
      if (i) bx__sql_add(s, p->kind == ML_AND ? " AND " : " OR ");
      bx__sql_where(s, model, p->args[i]);
    }
    return bx__sql_add(s, ")");
  case ML_NOT:
    bx__sql_add(s, "(NOT ");
    bx__sql_where(s, model, p->args[0]);
    return bx__sql_add(s, ")");
  case ML_EQ:
  case ML_NEQ:
  case ML_LT:
  case ML_LTE:
  case ML_GT:
  case ML_GTE:
    return sq_compare(s, model, p);
  case ML_IN:
    return sq_in(s, model, p);
  case ML_CONTAINS:
  case ML_CONTAINS_IC:
  case ML_STARTS:
  case ML_STARTS_IC:
  case ML_ENDS:
    return sq_text(s, model, p->kind, p->args[0]->field, p->args[1]->value);
  case ML_HAS:
    return sq_has(s, model, p);
  case ML_KEYWORD:
    return sq_keyword(s, model, p->args[0]->value);
  default:
    s->failed = BX_ENOTSUP;
    return;
  }
}

void bx__sql_order(sql_text *s, const bx_dao_model *model, const bx_mlang *order) {
  bx__order_key keys[16];
  int n = bx__order_flatten(order, keys, 16);
  for (int i = 0; i < n; i++) {
    const char *dir = keys[i].desc ? " DESC, " : " ASC, ";
    if (model->fields[keys[i].field].type == BX_DAO_DATE) { /* absent after every date */
      bx__sql_add(s, "(");
      bx__sql_column(s, model, keys[i].field);
      bx__sql_add(s, " IS NULL)");
      bx__sql_add(s, dir);
    }
    bx__sql_column(s, model, keys[i].field);
    bx__sql_add(s, dir);
  }
  bx__sql_column(s, model, (int)model->id_field);
  bx__sql_add(s, " ASC");
}
