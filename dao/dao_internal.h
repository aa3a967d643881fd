/* The DAO layer's private header (never installed): mLang trees, value helpers, sinks and the
 * service's listeners. The layer sits above the transports and uses the public API plus the
 * codec's ISO date reader. */
#ifndef BX_DAO_INTERNAL_H
#define BX_DAO_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "bx/dao.h"

/* ---- mLang trees ---------------------------------------------------------------------- */

typedef enum ml_kind {
  ML_TRUE = 1,
  ML_FALSE,
  ML_EQ,
  ML_NEQ,
  ML_LT,
  ML_LTE,
  ML_GT,
  ML_GTE,
  ML_AND,
  ML_OR,
  ML_NOT,
  ML_IN,
  ML_CONTAINS,
  ML_CONTAINS_IC,
  ML_STARTS,
  ML_STARTS_IC,
  ML_ENDS,
  ML_HAS,
  ML_KEYWORD,
  ML_PROP,  /* a property reference (also an ascending comparator) */
  ML_CONST, /* a constant */
  ML_DESC,
  ML_THENBY
} ml_kind;

struct bx_mlang {
  ml_kind kind;
  int field;       /* ML_PROP: field index */
  cJSON *value;    /* ML_CONST: the value (owned), dates as numbers */
  bx_mlang **args; /* operands: arg1, arg2 / And, Or args / head, tail */
  size_t nargs;
};

/* The FOAM class of each kind (for errors and re-encoding). */
const char *bx__ml_class(ml_kind k);
/* A field's value in a normalised object (NULL: absent, only for dates). */
const cJSON *bx__dao_get(const bx_dao_model *model, const cJSON *obj, int field);
/* Compares two values of one field type: <0, 0, >0 (absent date after all). */
int bx__dao_cmp_values(bx_dao_ftype t, const cJSON *a, const cJSON *b);
/* Does JSON value v have the JSON type of field type t (dates: numbers)? */
bool bx__dao_type_ok(bx_dao_ftype t, const cJSON *v);
/* A constant adapted to field type t: dates from __Timestamp__ / ISO strings / numbers into a
 * number node (new tree); other values copied. NULL on allocation failure. */
cJSON *bx__dao_const_for(bx_dao_ftype t, const cJSON *v);
/* Reads a date (number, ISO string, __Timestamp__); false when it is none of those. */
bool bx__dao_date_ms(const cJSON *v, double *ms);

/* One key of a flattened order: field, descending. */
typedef struct bx__order_key {
  int field;
  bool desc;
} bx__order_key;
/* Flattens a comparator into at most max keys (Desc toggles, ThenBy concatenates). Returns the
 * number of keys, or -1 when there are more than max. */
int bx__order_flatten(const bx_mlang *order, bx__order_key *keys, int max);

/* ---- sinks by value (sinks.c) --------------------------------------------------------- */

typedef struct dao_sink dao_sink;
/* Decodes a sink sent by value: ArraySink, Count, Max, Min, Sum, GroupBy, Projection. Returns
 * 0, BX_ENOTSUP ("unsupported sink class X") or BX_EBADARG with err set, or BX_ENOMEM. */
int bx__sink_decode(const bx_dao_model *model, const cJSON *json, int depth, dao_sink **out,
                    char *err, size_t errlen);
/* Feeds one row (borrowed). Returns 0 or BX_ENOMEM. */
int bx__sink_put(dao_sink *s, const cJSON *obj);
/* The filled sink as FOAM JSON (new tree), NULL on allocation failure. */
cJSON *bx__sink_result(const dao_sink *s);
void bx__sink_free(dao_sink *s);

/* ---- the SQLite translation (sql.c) ---------------------------------------------------- */

/* A growing SQL text with its bound values (borrowed cJSON nodes of the query's trees). */
typedef struct sql_text {
  bx_buf text;
  const cJSON *binds[BX_MLANG_MAX_NODES * 2];
  int kinds[BX_MLANG_MAX_NODES * 2]; /* the field type each bind is for */
  int nbinds;
  int failed; /* BX_ENOMEM or BX_EMSGSIZE */
} sql_text;

void bx__sql_add(sql_text *s, const char *text);
/* WHERE text for predicate p (NULL: "1"). */
void bx__sql_where(sql_text *s, const bx_dao_model *model, const bx_mlang *p);
/* ORDER BY keys for order (NULL: the id only). */
void bx__sql_order(sql_text *s, const bx_dao_model *model, const bx_mlang *order);
/* The column name of a field, quoted ("name"). */
void bx__sql_column(sql_text *s, const bx_dao_model *model, int field);

#endif /* BX_DAO_INTERNAL_H */
