/* The FOAM JSON writer: cJSON tree -> bytes, the way FOAM2 writes them.
 *
 * Design notes
 * - Output must be byte-identical to FOAM2's for the same values (the golden captures check
 *   this): '"' and '\\' escaped with a backslash, every control character as lower-case
 *   \u00xx (a newline is \u000a, not \n), everything else raw UTF-8, keys likewise.
 * - Numbers are JS doubles. Integral values below 1e21 print as plain integers, as JS does
 *   (never 9.00719925474099e+15); others print in the shortest of %.15g/%.16g/%.17g that reads
 *   back exactly, with the exponent trimmed to JS's form (1e-7, not 1e-07).
 * - The tree walk is iterative with an explicit stack, so a deep tree built by a caller cannot
 *   overflow the C stack.
 * - Placeholders for live boxes are ordinary objects here; the encoder passes a hook
 *   (bx__json_write_ex) that writes each one as its box's wire form instead.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_bytes.h"
#include "json_write.h"

typedef struct jw {
  bx_buf *out;
  size_t start; /* out->len on entry */
  size_t limit; /* most bytes we may append */
  bx__json_box_fn box_fn;
  void *data;
} jw;

/* The hot path of the writer: most appends are a few bytes into a buffer with room. */
static inline int jw_put(jw *w, const void *p, size_t n) {
  bx_buf *b = w->out;
  if (n > w->limit || b->len - w->start > w->limit - n) return BX_EMSGSIZE;
  if (b->cap - b->len < n && bx_buf_reserve(b, n < 256 ? 256 : n) != 0) return BX_ENOMEM;
  if (n) memcpy(b->base + b->len, p, n);
  b->len += n;
  return 0;
}

static inline int jw_putc(jw *w, char c) {
  bx_buf *b = w->out;
  if (b->len - w->start >= w->limit) return BX_EMSGSIZE;
  if (b->cap == b->len && bx_buf_reserve(b, 256) != 0) return BX_ENOMEM;
  b->base[b->len++] = c;
  return 0;
}

/* ---- strings ----------------------------------------------------------------------------- */

static int jw_escape(jw *w, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  if (c == '"') return jw_put(w, "\\\"", 2);
  if (c == '\\') return jw_put(w, "\\\\", 2);
  char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
  return jw_put(w, u, sizeof u);
}

/* A string with escapes: written run by run. */
static int jw_string_escaped(jw *w, const unsigned char *p, size_t n) {
  int rc = jw_putc(w, '"');
  size_t i = 0;
  while (rc == 0 && i < n) {
    size_t run = bx__json_plain_len(p + i, n - i, false);
    rc = jw_put(w, p + i, run);
    i += run;
    if (rc == 0 && i < n) rc = jw_escape(w, p[i++]);
  }
  return rc ? rc : jw_putc(w, '"');
}

static int jw_string(jw *w, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t n = strlen((const char *)p);
  if (bx__json_plain_len(p, n, false) < n) return jw_string_escaped(w, p, n);
  /* The common case: nothing to escape, one copy between the quotes. */
  bx_buf *b = w->out;
  if (n + 2 > w->limit || b->len - w->start > w->limit - (n + 2)) return BX_EMSGSIZE;
  if (b->cap - b->len < n + 2 && bx_buf_reserve(b, n + 2 < 256 ? 256 : n + 2) != 0)
    return BX_ENOMEM;
  b->base[b->len] = '"';
  memcpy(b->base + b->len + 1, p, n);
  b->base[b->len + 1 + n] = '"';
  b->len += n + 2;
  return 0;
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* Rewrites printf output in place into JSON/JS form: the locale's decimal separator becomes
 * '.', and the exponent loses its leading zeros (glibc "1e-07" -> "1e-7"). Returns the length. */
static size_t jw_js_form(char *s, size_t n) {
  size_t o = 0;
  bool in_exp = false, exp_digit = false, sep = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == 'e' || c == 'E') {
      in_exp = true;
      s[o++] = 'e';
    } else if (c >= '0' && c <= '9') {
      if (in_exp && c == '0' && !exp_digit && i + 1 < n) continue; /* keep a lone "0" */
      exp_digit = in_exp;
      s[o++] = c;
    } else if (c == '-' || c == '+') {
      s[o++] = c;
    } else if (!sep) { /* decimal separator, possibly several bytes in exotic locales */
      sep = true;
      s[o++] = '.';
    }
  }
  s[o] = '\0';
  return o;
}

/* Formats v into s (at least 40 bytes). Returns the length. */
static size_t jw_format_number(double v, char *s, size_t size) {
  if (!isfinite(v)) return (size_t)snprintf(s, size, "null");
  if (v == floor(v) && fabs(v) < 1e21) {
    if (fabs(v) < 9.0e18) { /* exact in 64 bits; -0 prints as 0 */
      bool neg = v < 0;
      s[0] = '-';
      return neg + bx__u64_decimal((uint64_t)fabs(v), s + neg);
    }
    return (size_t)snprintf(s, size, "%.0f", v); /* glibc prints the exact value */
  }
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(s, size, "%.*g", prec, v);
    if (strtod(s, NULL) == v) break;
  }
  return jw_js_form(s, (size_t)n);
}

static int jw_number(jw *w, double v) {
  char s[48];
  size_t n = jw_format_number(v, s, sizeof s);
  return jw_put(w, s, n);
}

/* ---- the tree ---------------------------------------------------------------------------- */

typedef struct jw_stack {
  const cJSON **items;
  size_t n, cap;
  const cJSON *local[32];
} jw_stack;

static int jw_push(jw_stack *st, const cJSON *node) {
  if (st->n == st->cap) {
    size_t cap = st->cap * 2;
    const cJSON **items = bx__malloc(cap * sizeof *items);
    if (items == NULL) return BX_ENOMEM;
    memcpy(items, st->items, st->n * sizeof *items);
    if (st->items != st->local) bx__free(st->items);
    st->items = items;
    st->cap = cap;
  }
  st->items[st->n++] = node;
  return 0;
}

static bool jw_is_placeholder(const jw *w, const cJSON *node) {
  return w->box_fn != NULL && cJSON_IsObject(node) && bx__json_is_box_ref(node, NULL);
}

/* Writes node if it is a leaf (a scalar, an empty container or a placeholder), else its opening
 * bracket; *opened tells which. */
static int jw_open(jw *w, const cJSON *node, bool *opened) {
  *opened = false;
  switch (node->type & 0xFF) {
  case cJSON_False:
    return jw_put(w, "false", 5);
  case cJSON_True:
    return jw_put(w, "true", 4);
  case cJSON_NULL:
    return jw_put(w, "null", 4);
  case cJSON_Number:
    return jw_number(w, node->valuedouble);
  case cJSON_String:
    return jw_string(w, node->valuestring);
  case cJSON_Raw:
    return node->valuestring ? jw_put(w, node->valuestring, strlen(node->valuestring)) : BX_EINVAL;
  case cJSON_Array:
    *opened = node->child != NULL;
    return *opened ? jw_putc(w, '[') : jw_put(w, "[]", 2);
  case cJSON_Object:
    if (jw_is_placeholder(w, node)) {
      int rc = w->box_fn(w->data, w->out, node);
      return rc == 0 && w->out->len - w->start > w->limit ? BX_EMSGSIZE : rc;
    }
    *opened = node->child != NULL;
    return *opened ? jw_putc(w, '{') : jw_put(w, "{}", 2);
  default:
    return BX_EINVAL;
  }
}

/* Writes `"key":` when node is a member of the object on top of the stack. */
static int jw_key(jw *w, const jw_stack *st, const cJSON *node) {
  if (st->n == 0 || !cJSON_IsObject(st->items[st->n - 1])) return 0;
  if (node->string == NULL) return BX_EINVAL;
  int rc = jw_string(w, node->string);
  return rc ? rc : jw_putc(w, ':');
}

/* After a value: closes finished containers and moves to the next sibling. Sets *node to the
 * next node to write, or NULL when the whole tree is written. */
static int jw_advance(jw *w, jw_stack *st, const cJSON **node) {
  const cJSON *n = *node;
  while (st->n > 0) {
    if (n->next != NULL) {
      *node = n->next;
      return jw_putc(w, ',');
    }
    n = st->items[--st->n];
    int rc = jw_putc(w, cJSON_IsArray(n) ? ']' : '}');
    if (rc) return rc;
  }
  *node = NULL; /* back at the root: its siblings, if any, are not ours */
  return 0;
}

static int jw_tree(jw *w, const cJSON *root) {
  jw_stack st = {.cap = sizeof st.local / sizeof st.local[0]};
  st.items = st.local;
  const cJSON *n = root;
  int rc = 0;
  while (rc == 0 && n != NULL) {
    bool opened;
    rc = jw_key(w, &st, n);
    if (rc == 0) rc = jw_open(w, n, &opened);
    if (rc == 0 && opened) {
      rc = jw_push(&st, n);
      n = n->child;
    } else if (rc == 0) {
      rc = jw_advance(w, &st, &n);
    }
  }
  if (st.items != st.local) bx__free(st.items);
  return rc;
}

/* ---- entry points ------------------------------------------------------------------------ */

int bx__json_write_ex(bx_buf *out, const cJSON *json, size_t limit, bx__json_box_fn box_fn,
                      void *data) {
  if (out == NULL || json == NULL) return BX_EINVAL;
  jw w = {.out = out, .start = out->len, .limit = limit, .box_fn = box_fn, .data = data};
  int rc = jw_tree(&w, json);
  if (rc) out->len = w.start;
  return rc;
}

int bx_json_write(bx_buf *out, const cJSON *json) {
  return bx__json_write_ex(out, json, SIZE_MAX, NULL, NULL);
}

int bx__json_write_number(bx_buf *out, double v) {
  jw w = {.out = out, .start = out->len, .limit = SIZE_MAX};
  return jw_number(&w, v);
}

int bx__json_write_string(bx_buf *out, const char *s) {
  jw w = {.out = out, .start = out->len, .limit = SIZE_MAX};
  int rc = jw_string(&w, s);
  if (rc) out->len = w.start;
  return rc;
}
