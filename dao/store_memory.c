/* The in-memory store: normalised objects in an array sorted by id (binary search), selects
 * filtered with bx_dao_eval() and sorted with bx_dao_compare(). */
#define _GNU_SOURCE /* qsort_r */
#include "dao_internal.h"

typedef struct mem_store {
  bx_dao_store base;
  cJSON **rows; /* sorted by id */
  size_t n, cap;
} mem_store;

static int mem_idcmp(const bx_dao_model *model, const cJSON *obj, const cJSON *id) {
  return bx__dao_cmp_values(model->fields[model->id_field].type,
                            bx__dao_get(model, obj, (int)model->id_field), id);
}

/* The index of id, or of where it would go (*found false). */
static size_t mem_search(mem_store *m, const cJSON *id, bool *found) {
  size_t lo = 0, hi = m->n;
  *found = false;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = mem_idcmp(m->base.model, m->rows[mid], id);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static bool mem_id_ok(const bx_dao_model *model, const cJSON *id) {
  return id != NULL && bx__dao_type_ok(model->fields[model->id_field].type, id);
}

static int mem_put(bx_dao_store *s, const cJSON *obj) {
  mem_store *m = (mem_store *)s;
  const cJSON *id = bx__dao_get(s->model, obj, (int)s->model->id_field);
  if (!mem_id_ok(s->model, id)) return BX_EBADARG;
  cJSON *copy = cJSON_Duplicate(obj, true);
  if (copy == NULL) return BX_ENOMEM;
  bool found;
  size_t i = mem_search(m, id, &found);
  if (found) {
    cJSON_Delete(m->rows[i]);
    m->rows[i] = copy;
    return 0;
  }
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    cJSON **rows = realloc(m->rows, cap * sizeof *rows);
    if (rows == NULL) {
      cJSON_Delete(copy);
      return BX_ENOMEM;
    }
    m->rows = rows;
    m->cap = cap;
  }
  memmove(m->rows + i + 1, m->rows + i, (m->n - i) * sizeof *m->rows);
  m->rows[i] = copy;
  m->n++;
  return 0;
}

static int mem_find(bx_dao_store *s, const cJSON *id, cJSON **out) {
  mem_store *m = (mem_store *)s;
  *out = NULL;
  if (!mem_id_ok(s->model, id)) return 0;
  bool found;
  size_t i = mem_search(m, id, &found);
  if (found && (*out = cJSON_Duplicate(m->rows[i], true)) == NULL) return BX_ENOMEM;
  return 0;
}

static int mem_remove(bx_dao_store *s, const cJSON *id, cJSON **out) {
  mem_store *m = (mem_store *)s;
  *out = NULL;
  if (!mem_id_ok(s->model, id)) return 0;
  bool found;
  size_t i = mem_search(m, id, &found);
  if (!found) return 0;
  *out = m->rows[i];
  memmove(m->rows + i, m->rows + i + 1, (m->n - i - 1) * sizeof *m->rows);
  m->n--;
  return 0;
}

typedef struct mem_sort {
  const bx_dao_model *model;
  const bx_mlang *order;
} mem_sort;

static int mem_cmp(const void *a, const void *b, void *arg) {
  const mem_sort *ms = arg;
  return bx_dao_compare(ms->model, ms->order, *(cJSON *const *)a, *(cJSON *const *)b);
}

static int mem_select(bx_dao_store *s, const bx_dao_query *q, bx_dao_row_fn fn, void *data) {
  mem_store *m = (mem_store *)s;
  if (q->limit <= 0 || m->n == 0) return 0;
  /* Matching rows, copied: fn may change the store (removeAll feeds remove). */
  cJSON **hits = malloc(m->n * sizeof *hits);
  if (hits == NULL) return BX_ENOMEM;
  size_t nh = 0;
  for (size_t i = 0; i < m->n; i++)
    if (bx_dao_eval(s->model, q->predicate, m->rows[i])) hits[nh++] = m->rows[i];
  if (q->order != NULL) {
    mem_sort ms = {s->model, q->order};
    qsort_r(hits, nh, sizeof *hits, mem_cmp, &ms);
  }
  int rc = 0;
  size_t from = q->skip < 0 ? 0 : (uint64_t)q->skip > nh ? nh : (size_t)q->skip;
  size_t to = nh - from > (uint64_t)q->limit ? from + (size_t)q->limit : nh;
  for (size_t i = from; i < to; i++)
    if ((hits[i] = cJSON_Duplicate(hits[i], true)) == NULL) {
      for (size_t j = from; j < i; j++)
        cJSON_Delete(hits[j]);
      free(hits);
      return BX_ENOMEM;
    }
  size_t i = from;
  for (; i < to && rc == 0; i++) {
    rc = fn(hits[i], data) != 0 ? 1 : 0;
    cJSON_Delete(hits[i]);
  }
  for (; i < to; i++)
    cJSON_Delete(hits[i]);
  free(hits);
  return 0;
}

static void mem_destroy(bx_dao_store *s) {
  mem_store *m = (mem_store *)s;
  for (size_t i = 0; i < m->n; i++)
    cJSON_Delete(m->rows[i]);
  free(m->rows);
  free(m);
}

static const bx_dao_store_ops mem_ops = {mem_put, mem_find, mem_remove, mem_select, mem_destroy};

int bx_dao_memory_store_new(const bx_dao_model *model, bx_dao_store **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (model == NULL || model->id_field >= model->nfields) return BX_EINVAL;
  mem_store *m = calloc(1, sizeof *m);
  if (m == NULL) return BX_ENOMEM;
  m->base.ops = &mem_ops;
  m->base.model = model;
  *out = &m->base;
  return 0;
}

void bx_dao_store_free(bx_dao_store *s) {
  if (s != NULL) s->ops->destroy(s);
}
