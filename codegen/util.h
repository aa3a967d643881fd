/* bxgen: small helpers shared by the generator (allocation, strings, buffers, diagnostics). */
#ifndef BXG_UTIL_H
#define BXG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __GNUC__
#define BXG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BXG_PRINTF(f, a)
#endif

/* ---- allocation: the generator is a short-lived tool, so running out of memory exits ---- */
void *bxg_xmalloc(size_t n);
void *bxg_xcalloc(size_t n, size_t size);
void *bxg_xrealloc(void *p, size_t n);
char *bxg_xstrdup(const char *s);
/* A malloc'd formatted string. */
char *bxg_strf(const char *fmt, ...) BXG_PRINTF(1, 2);
/* Grows *array (of elem-byte items) so that index n is valid; *cap tracks its capacity. */
void bxg_grow(void **array, size_t *cap, size_t n, size_t elem);

bool bxg_starts_with(const char *s, const char *prefix);
bool bxg_ends_with(const char *s, const char *suffix);
bool bxg_is_identifier(const char *s);
bool bxg_is_c_keyword(const char *s);

/* ---- a growable text buffer ---- */
typedef struct bxg_buf {
  char *data; /* NUL-terminated (once anything was written) */
  size_t len;
  size_t cap;
} bxg_buf;

void bxg_buf_puts(bxg_buf *b, const char *s);
void bxg_buf_printf(bxg_buf *b, const char *fmt, ...) BXG_PRINTF(2, 3);
/* Writes head, the items separated by ", ", then tail; wraps lines longer than 100 columns
 * after a comma, aligning continuation lines after head (head starts a line). */
void bxg_buf_list(bxg_buf *b, const char *head, char *const *items, size_t n, const char *tail);
const char *bxg_buf_str(const bxg_buf *b);
void bxg_buf_free(bxg_buf *b);

/* ---- a list of malloc'd strings ---- */
typedef struct bxg_strs {
  char **items;
  size_t n;
  size_t cap;
} bxg_strs;

void bxg_strs_add(bxg_strs *l, char *s); /* takes s */
void bxg_strs_free(bxg_strs *l);

/* ---- diagnostics: "file:line:col: error: message" on stderr ---- */
typedef struct bxg_loc {
  const char *file; /* borrowed from the model's string pool (NULL: no location) */
  unsigned line;
  unsigned col;
} bxg_loc;

void bxg_error(const bxg_loc *loc, const char *fmt, ...) BXG_PRINTF(2, 3);
/* A diagnostic about the tool itself (usage, files): "bxgen: error: message". */
void bxg_fatal(const char *fmt, ...) BXG_PRINTF(1, 2);
unsigned bxg_error_count(void);

#endif /* BXG_UTIL_H */
