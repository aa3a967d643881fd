/* The pre-scan: one linear pass over a frame's raw bytes before cJSON parses them.
 *
 * Design notes
 * - cJSON is lenient where a wire decoder must not be: it passes invalid UTF-8 through, turns
 *   a bad \u escape or \u0000 into a NUL that silently truncates the string (a key such as
 *   "class\u0000x" would then read as "class"), accepts "01" and "1.", reads raw control
 *   characters, and rounds integers such as 9007199254740993 to the nearest double without a
 *   word. Checking all of that here keeps the parser's output trustworthy.
 * - Nesting depth is counted here too, so a hostile frame of 100000 '[' is refused before the
 *   recursive parser ever sees it (and with BX_ETOODEEP, not cJSON's generic failure at 1000).
 * - Speed matters (every frame passes through): string bodies, the bulk of a frame, are
 *   skipped sixteen bytes at a time while they are plain ASCII (json_bytes.h); integers of up to 15
 * digits need no arithmetic at all, and only 20+ digit integers take the slow strtod path.
 * - Only what cJSON would get wrong is checked; other syntax errors are the parser's to report.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "json_bytes.h"
#include "json_scan.h"

#define JS_MAX_NUMBER 63 /* longest number literal cJSON reads whole */

typedef struct js {
  const unsigned char *p;
  size_t len;
  size_t i;
  int depth, max_depth;
  bx__json_scan_error *err;
  bx__json_spans *spans; /* or NULL */
} js;

static int js_fail(js *s, int code, size_t at, const char *what) {
  if (s->err) {
    s->err->code = code;
    s->err->offset = at;
    s->err->what = what;
    s->err->token = NULL;
    s->err->token_len = 0;
  }
  return code;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence starting at p (p[0] >= 0x80), or 0 when it is invalid:
 * a stray continuation byte, an overlong form (C0, C1, E0 80..9F, F0 80..8F), a surrogate
 * (ED A0..BF), above U+10FFFF (F4 90.., F5..FF) or cut short by the end of the buffer. */
static size_t js_utf8_len(const unsigned char *p, size_t avail) {
  unsigned char c = p[0], lo = 0x80, hi = 0xBF;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (avail < n || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < n; k++)
    if ((p[k] & 0xC0) != 0x80) return 0;
  return n;
}

bool bx__utf8_valid(const unsigned char *s, size_t n) {
  const uint64_t highs = 0x8080808080808080ull;
  size_t i = 0;
  while (i < n) {
    uint64_t x;
    if (n - i >= 8 && (memcpy(&x, s + i, sizeof x), (x & highs) == 0)) {
      i += 8; /* eight ASCII bytes */
      continue;
    }
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = js_utf8_len(s + i, n - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

static int js_utf8(js *s) {
  size_t n = js_utf8_len(s->p + s->i, s->len - s->i);
  if (n == 0) return js_fail(s, BX_EBADUTF8, s->i, "invalid UTF-8");
  s->i += n;
  return 0;
}

/* ---- strings ----------------------------------------------------------------------------- */

static int js_hex(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* An escape at s->i (the backslash). */
static int js_escape(js *s) {
  size_t at = s->i;
  if (at + 1 >= s->len) return js_fail(s, BX_EBADJSON, at, "unterminated string");
  unsigned char e = s->p[at + 1];
  if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
    s->i += 2;
    return 0;
  }
  if (e != 'u' || at + 6 > s->len) return js_fail(s, BX_EBADJSON, at, "invalid escape");
  unsigned code = 0;
  for (size_t k = 2; k < 6; k++) {
    int h = js_hex(s->p[at + k]);
    if (h < 0) return js_fail(s, BX_EBADJSON, at, "invalid escape");
    code = code << 4 | (unsigned)h;
  }
  if (code == 0) return js_fail(s, BX_EBADJSON, at, "\\u0000 in a string is not supported");
  s->i += 6;
  return 0;
}

/* A string starting at s->i (the opening quote); leaves s->i after the closing quote. */
static void js_span(js *s, size_t start, size_t end) {
  bx__json_spans *sp = s->spans;
  if (sp == NULL || end - start < BX__JSON_SPAN_MIN || sp->n == BX__JSON_SPANS_MAX) return;
  sp->v[sp->n].start = start;
  sp->v[sp->n].len = end - start;
  sp->n++;
}

static int js_string(js *s) {
  size_t start = s->i++;
  bool escaped = false;
  while (s->i < s->len) {
    s->i += bx__json_plain_len(s->p + s->i, s->len - s->i, true);
    if (s->i >= s->len) break;
    unsigned char c = s->p[s->i];
    int rc = 0;
    if (c == '"') {
      if (!escaped) js_span(s, start + 1, s->i);
      s->i++;
      return 0;
    } else if (c == '\\') {
      escaped = true;
      rc = js_escape(s);
    } else if (c < 0x20) {
      rc = js_fail(s, BX_EBADJSON, s->i, "control character in a string");
    } else if (c >= 0x80) {
      rc = js_utf8(s);
    } else {
      s->i++;
    }
    if (rc) return rc;
  }
  return js_fail(s, BX_EBADJSON, start, "unterminated string");
}

/* ---- numbers ----------------------------------------------------------------------------- */

static size_t js_digits(const js *s, size_t j) {
  while (j < s->len && s->p[j] >= '0' && s->p[j] <= '9')
    j++;
  return j;
}

static bool js_numberish(unsigned char c) {
  return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

typedef struct js_num {
  size_t start, end;         /* the literal */
  size_t int_start, int_end; /* its integer digits */
  bool integer;              /* no fraction, no exponent */
} js_num;

/* Matches -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s->i. Returns false when the
 * literal is malformed (including when more number characters follow it, as in "01"). */
static bool js_lex_number(const js *s, js_num *n) {
  size_t j = n->start = s->i;
  if (s->p[j] == '-') j++;
  n->int_start = j;
  if (j < s->len && s->p[j] == '0')
    j++;
  else
    j = js_digits(s, j);
  n->int_end = j;
  if (n->int_end == n->int_start) return false;
  n->integer = true;
  if (j < s->len && s->p[j] == '.') {
    size_t f = js_digits(s, j + 1);
    if (f == j + 1) return false;
    j = f;
    n->integer = false;
  }
  if (j < s->len && (s->p[j] == 'e' || s->p[j] == 'E')) {
    j++;
    if (j < s->len && (s->p[j] == '+' || s->p[j] == '-')) j++;
    size_t e = js_digits(s, j);
    if (e == j) return false;
    j = e;
    n->integer = false;
  }
  n->end = j;
  return j >= s->len || !js_numberish(s->p[j]);
}

/* Is the integer with these decimal digits (no sign, no leading zero) a double exactly? */
static bool js_exact_integer(const unsigned char *d, size_t nd) {
  if (nd <= 15) return true; /* below 10^15 < 2^53 */
  if (nd <= 19) {            /* fits in 64 bits: exact iff its odd part has at most 53 bits */
    uint64_t v = 0;
    for (size_t k = 0; k < nd; k++)
      v = v * 10 + (uint64_t)(d[k] - '0');
    while ((v & 1) == 0)
      v >>= 1;
    return v < (UINT64_C(1) << 53);
  }
  /* Rare: round through strtod (correctly rounded) and compare the exact decimal expansion
   * printf gives back. */
  char text[JS_MAX_NUMBER + 1], back[JS_MAX_NUMBER + 8];
  memcpy(text, d, nd);
  text[nd] = '\0';
  double v = strtod(text, NULL);
  if (!isfinite(v)) return false;
  int n = snprintf(back, sizeof back, "%.0f", v);
  return n > 0 && (size_t)n == nd && memcmp(back, d, nd) == 0;
}

/* Is the integer literal exactly how JavaScript writes its nearest double? JS prints an
 * integral double below 1e21 as the shortest digits that read back as it, padded with zeros
 * (2^63 -> 9223372036854776000). Such a literal carries precisely the value its sender had, so
 * it is accepted; a literal like 9007199254740993 is not what any double prints as, and would
 * lose precision silently. */
static bool js_is_js_rendering(const unsigned char *d, size_t nd) {
  char text[JS_MAX_NUMBER + 1], e[40];
  memcpy(text, d, nd);
  text[nd] = '\0';
  double v = strtod(text, NULL);
  if (!isfinite(v) || v >= 1e21) return false;
  for (int prec = 0; prec < 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec, v);
    if (strtod(e, NULL) != v) continue;
    char digits[24];
    size_t k = 0;
    for (const char *c = e; *c && *c != 'e'; c++)
      if (*c >= '0' && *c <= '9') digits[k++] = *c;
    while (k > 1 && digits[k - 1] == '0')
      k--;
    int exp10 = atoi(strchr(e, 'e') + 1);
    size_t width = (size_t)exp10 + 1;
    if (width != nd || k > nd || memcmp(digits, d, k) != 0) return false;
    for (size_t z = k; z < nd; z++)
      if (d[z] != '0') return false;
    return true;
  }
  return false;
}

static bool js_in_range(const unsigned char *t, size_t n) {
  char text[JS_MAX_NUMBER + 1];
  memcpy(text, t, n);
  text[n] = '\0';
  return isfinite(strtod(text, NULL));
}

static int js_number(js *s) {
  js_num n;
  if (!js_lex_number(s, &n)) return js_fail(s, BX_EBADJSON, s->i, "malformed number");
  size_t tlen = n.end - n.start;
  if (tlen > JS_MAX_NUMBER) return js_fail(s, BX_EBADJSON, s->i, "number literal too long");
  int rc = 0;
  const unsigned char *digits = s->p + n.int_start;
  size_t ndigits = n.int_end - n.int_start;
  if (n.integer && !js_exact_integer(digits, ndigits) && !js_is_js_rendering(digits, ndigits))
    rc = js_fail(s, BX_EINEXACT, n.start,
                 "is not exactly representable as a double; send it as a string");
  else if (!n.integer && !js_in_range(s->p + n.start, tlen))
    rc = js_fail(s, BX_EINEXACT, n.start, "is out of the range of a double");
  if (rc && s->err) {
    s->err->token = (const char *)s->p + n.start;
    s->err->token_len = tlen;
  }
  s->i = n.end;
  return rc;
}

/* ---- the scan ---------------------------------------------------------------------------- */

static int js_open(js *s) {
  if (++s->depth > s->max_depth) return js_fail(s, BX_ETOODEEP, s->i, "nesting too deep");
  s->i++;
  return 0;
}

/* What a byte outside a string starts. Punctuation, whitespace and the letters of literals
 * are JS_OTHER: stepped over, the parser judges them. */
enum { JS_OTHER, JS_QUOTE, JS_NUMBER, JS_OPEN, JS_CLOSE, JS_HIGH, JS_CONTROL };
static const unsigned char js_kind[256] = {
    [0x00 ... 0x08] = JS_CONTROL,
    [0x0B ... 0x0C] = JS_CONTROL,
    [0x0E ... 0x1F] = JS_CONTROL,
    ['"'] = JS_QUOTE,
    ['-'] = JS_NUMBER,
    ['0' ... '9'] = JS_NUMBER,
    ['{'] = JS_OPEN,
    ['['] = JS_OPEN,
    ['}'] = JS_CLOSE,
    [']'] = JS_CLOSE,
    [0x80 ... 0xFF] = JS_HIGH,
};

static int js_step(js *s) {
  switch (js_kind[s->p[s->i]]) {
  case JS_QUOTE:
    return js_string(s);
  case JS_NUMBER:
    return js_number(s);
  case JS_OPEN:
    return js_open(s);
  case JS_CLOSE:
    if (s->depth > 0) s->depth--;
    s->i++;
    return 0;
  case JS_HIGH:
    return js_utf8(s);
  case JS_CONTROL:
    return js_fail(s, BX_EBADJSON, s->i, "control character outside a string");
  default:
    while (++s->i < s->len && js_kind[s->p[s->i]] == JS_OTHER) {
    }
    return 0;
  }
}

int bx__json_scan(const char *buf, size_t len, int max_depth, bx__json_scan_error *err,
                  bx__json_spans *spans) {
  js s = {.p = (const unsigned char *)buf, .len = len, .max_depth = max_depth, .err = err};
  s.spans = spans;
  if (spans) spans->n = 0;
  if (err) memset(err, 0, sizeof *err);
  while (s.i < s.len) {
    int rc = js_step(&s);
    if (rc) return rc;
  }
  return 0;
}
