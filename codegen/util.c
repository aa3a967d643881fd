/* bxgen: allocation, strings and text buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BXG_WRAP_COLUMN 100

static void *util_check(void *p) {
  if (p == NULL) {
    fputs("bxgen: error: out of memory\n", stderr);
    exit(1);
  }
  return p;
}

void *bxg_xmalloc(size_t n) {
  return util_check(malloc(n ? n : 1));
}

void *bxg_xcalloc(size_t n, size_t size) {
  return util_check(calloc(n ? n : 1, size ? size : 1));
}

void *bxg_xrealloc(void *p, size_t n) {
  return util_check(realloc(p, n ? n : 1));
}

char *bxg_xstrdup(const char *s) {
  return util_check(strdup(s));
}

static char *util_vstrf(const char *fmt, va_list ap) {
  va_list ap2;
  int n;
  char *s;

  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  s = bxg_xmalloc((size_t)n + 1);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *bxg_strf(const char *fmt, ...) {
  va_list ap;
  char *s;

  va_start(ap, fmt);
  s = util_vstrf(fmt, ap);
  va_end(ap);
  return s;
}

void bxg_grow(void **array, size_t *cap, size_t n, size_t elem) {
  size_t want;

  if (n < *cap) return;
  want = *cap ? *cap * 2 : 8;
  while (want <= n)
    want *= 2;
  *array = bxg_xrealloc(*array, want * elem);
  memset((char *)*array + *cap * elem, 0, (want - *cap) * elem);
  *cap = want;
}

bool bxg_starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool bxg_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool util_ident_char(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  return !first && c >= '0' && c <= '9';
}

bool bxg_is_identifier(const char *s) {
  if (*s == '\0') return false;
  for (const char *p = s; *p; p++)
    if (!util_ident_char(*p, p == s)) return false;
  return true;
}

bool bxg_is_c_keyword(const char *s) {
  static const char *const keywords[] = {
      "auto",       "break",     "case",           "char",
      "const",      "continue",  "default",        "do",
      "double",     "else",      "enum",           "extern",
      "float",      "for",       "goto",           "if",
      "inline",     "int",       "long",           "register",
      "restrict",   "return",    "short",          "signed",
      "sizeof",     "static",    "struct",         "switch",
      "typedef",    "union",     "unsigned",       "void",
      "volatile",   "while",     "_Alignas",       "_Alignof",
      "_Atomic",    "_Bool",     "_Complex",       "_Generic",
      "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
      "bool",       "true",      "false",          "asm",
      "typeof"};

  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (strcmp(s, keywords[i]) == 0) return true;
  return false;
}

/* ---- buffers ---- */

static void buf_reserve(bxg_buf *b, size_t extra) {
  size_t want;

  if (b->len + extra + 1 <= b->cap) return;
  want = b->cap ? b->cap : 256;
  while (want < b->len + extra + 1)
    want *= 2;
  b->data = bxg_xrealloc(b->data, want);
  b->cap = want;
}

void bxg_buf_puts(bxg_buf *b, const char *s) {
  size_t n = strlen(s);

  buf_reserve(b, n);
  memcpy(b->data + b->len, s, n + 1);
  b->len += n;
}

void bxg_buf_printf(bxg_buf *b, const char *fmt, ...) {
  va_list ap;
  char *s;

  va_start(ap, fmt);
  s = util_vstrf(fmt, ap);
  va_end(ap);
  bxg_buf_puts(b, s);
  free(s);
}

static void buf_spaces(bxg_buf *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    bxg_buf_puts(b, " ");
}

void bxg_buf_list(bxg_buf *b, const char *head, char *const *items, size_t n, const char *tail) {
  size_t indent = strlen(head), col = indent;

  bxg_buf_puts(b, head);
  for (size_t i = 0; i < n; i++) {
    const char *sep = i + 1 < n ? "," : tail;
    size_t need = strlen(items[i]) + strlen(sep);

    if (i > 0 && col + 1 + need > BXG_WRAP_COLUMN) {
      bxg_buf_puts(b, "\n");
      buf_spaces(b, indent);
      col = indent;
    } else if (i > 0) {
      bxg_buf_puts(b, " ");
      col++;
    }
    bxg_buf_puts(b, items[i]);
    bxg_buf_puts(b, sep);
    col += need;
  }
  if (n == 0) bxg_buf_puts(b, tail);
}

const char *bxg_buf_str(const bxg_buf *b) {
  return b->data ? b->data : "";
}

void bxg_buf_free(bxg_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ---- string lists ---- */

void bxg_strs_add(bxg_strs *l, char *s) {
  bxg_grow((void **)&l->items, &l->cap, l->n, sizeof *l->items);
  l->items[l->n++] = s;
}

void bxg_strs_free(bxg_strs *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = l->cap = 0;
}
