/* Internal: the linear pre-scan the decoder runs over a frame's bytes before cJSON parses them
 * (never installed). */
#ifndef BX_JSON_SCAN_H
#define BX_JSON_SCAN_H

#include <stddef.h>

/* Why a scan failed. `what` is a static phrase ("invalid UTF-8", ...; for BX_EINEXACT the
 * predicate that follows the number: "is out of the range of a double"); offset is the 0-based
 * byte offset of the offending byte or token; token/token_len (for BX_EINEXACT) point at the
 * number literal inside the scanned buffer. */
typedef struct bx__json_scan_error {
  int code;
  size_t offset;
  const char *what;
  const char *token;
  size_t token_len;
} bx__json_scan_error;

/* Long strings with no escape, found by the scan: the bytes between their quotes are exactly
 * the string's value (checked UTF-8), so the decoder can copy them instead of having cJSON
 * read them byte by byte. Strings of at least BX__JSON_SPAN_MIN bytes are recorded, the first
 * BX__JSON_SPANS_MAX of them, in order. */
enum { BX__JSON_SPAN_MIN = 128, BX__JSON_SPANS_MAX = 16 };
typedef struct bx__json_spans {
  size_t n;
  struct {
    size_t start, len; /* the bytes between the quotes */
  } v[BX__JSON_SPANS_MAX];
} bx__json_spans;

/* Checks, in one pass over buf, what cJSON does not:
 *   - strict UTF-8 everywhere (no overlong forms, no surrogates, nothing above U+10FFFF, no
 *     truncated sequence)                                                     -> BX_EBADUTF8
 *   - no raw control character inside a string, only valid escapes, and no \u0000 (cJSON
 *     would silently cut the string there); number literals follow the JSON grammar and
 *     are at most 63 characters long (cJSON's own limit)                     -> BX_EBADJSON
 *   - nesting at most max_depth arrays/objects deep                          -> BX_ETOODEEP
 *   - every integer literal (no fraction, no exponent) is exactly representable as an IEEE
 *     double, and no number overflows to infinity                            -> BX_EINEXACT
 * Other syntax errors are left to the parser. spans (may be NULL) receives the long strings
 * without escapes. Returns 0 or the code (and fills err, which may be NULL). */
int bx__json_scan(const char *buf, size_t len, int max_depth, bx__json_scan_error *err,
                  bx__json_spans *spans);

#endif /* BX_JSON_SCAN_H */
