/* Parsing with cJSON, long strings aside.
 *
 * Design notes
 * - cJSON reads a string a byte at a time, some seven instructions a byte. A long string with
 *   no escape (a span, found by the pre-scan) is the same bytes before and after decoding, so
 *   the text cJSON parses carries a short stand-in for it, the byte 0xFF and the span's index,
 *   and the parsed tree then gets a copy of the original bytes. No decoded string can contain
 *   0xFF: the pre-scan refused invalid UTF-8, and \u escapes only ever produce valid UTF-8.
 * - Offsets in errors are mapped back from the stand-in text to the frame.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "json_parse.h"

#define JP_MARK 0xFF

static size_t jp_mark_len(size_t i) {
  return i < 10 ? 2 : 3; /* BX__JSON_SPANS_MAX is below 100 */
}

/* The text cJSON parses: buf with each span replaced by its stand-in (shorter). */
static char *jp_stand_ins(const char *buf, size_t len, const bx__json_spans *sp, size_t *out_len) {
  char *o = bx__malloc(len + 1);
  if (o == NULL) return NULL;
  size_t at = 0, w = 0;
  for (size_t i = 0; i < sp->n; i++) {
    memcpy(o + w, buf + at, sp->v[i].start - at);
    w += sp->v[i].start - at;
    o[w++] = (char)JP_MARK;
    w += bx__u64_decimal(i, o + w);
    at = sp->v[i].start + sp->v[i].len;
  }
  memcpy(o + w, buf + at, len - at);
  w += len - at;
  o[w] = '\0';
  *out_len = w;
  return o;
}

/* The offset in the original frame of byte `at` of the stand-in text. */
static size_t jp_frame_offset(const bx__json_spans *sp, size_t at) {
  size_t shift = 0; /* original offset minus stand-in offset, so far */
  for (size_t i = 0; i < sp->n; i++) {
    size_t mark_at = sp->v[i].start - shift, mark_len = jp_mark_len(i);
    if (at < mark_at) break;
    if (at < mark_at + mark_len) return sp->v[i].start;
    shift += sp->v[i].len - mark_len;
  }
  return at + shift;
}

/* Puts back the original bytes of the span *s stands in for, if it is a stand-in. */
static int jp_restore_string(char **s, const char *buf, const bx__json_spans *sp, size_t *left) {
  const unsigned char *p = (const unsigned char *)*s;
  if (p == NULL || p[0] != JP_MARK) return 0;
  size_t i = 0;
  for (p++; *p >= '0' && *p <= '9'; p++)
    i = i * 10 + (size_t)(*p - '0');
  if (i >= sp->n) return BX_EBADJSON; /* cannot happen: only we write 0xFF */
  char *copy = cJSON_malloc(sp->v[i].len + 1);
  if (copy == NULL) return BX_ENOMEM;
  memcpy(copy, buf + sp->v[i].start, sp->v[i].len);
  copy[sp->v[i].len] = '\0';
  cJSON_free(*s);
  *s = copy;
  (*left)--;
  return 0;
}

static int jp_restore(cJSON *node, const char *buf, const bx__json_spans *sp, size_t *left) {
  int rc = 0;
  for (; rc == 0 && node != NULL && *left > 0; node = node->next) {
    if (!(node->type & cJSON_StringIsConst)) rc = jp_restore_string(&node->string, buf, sp, left);
    if (rc == 0 && bx__json_is(node, cJSON_String))
      rc = jp_restore_string(&node->valuestring, buf, sp, left);
    if (rc == 0 && node->child != NULL) rc = jp_restore(node->child, buf, sp, left);
  }
  return rc;
}

static bool jp_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int jp_fail(bx__json_parse_error *err, size_t at, const char *what) {
  err->offset = at;
  err->what = what;
  return BX_EBADJSON;
}

/* Parses text (the frame, or its stand-in form) with cJSON. Offsets in errors are the frame's. */
static int jp_parse_text(const char *text, size_t len, const bx__json_spans *sp, cJSON **root,
                         bx__json_parse_error *err) {
  const char *end = NULL;
  /* Not require_null_terminated: with an explicit length cJSON 1.7.15 then demands a NUL
   * inside the buffer. Trailing bytes are checked here instead. */
  *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
  if (*root == NULL) {
    size_t at = end != NULL && end >= text ? (size_t)(end - text) : 0;
    return jp_fail(err, jp_frame_offset(sp, at), "JSON syntax error near");
  }
  size_t at = (size_t)(end - text);
  while (at < len && jp_json_space(text[at]))
    at++;
  if (at == len) return 0;
  cJSON_Delete(*root);
  *root = NULL;
  return jp_fail(err, jp_frame_offset(sp, at), "unexpected data after the JSON value");
}

int bx__json_parse(const char *buf, size_t len, const bx__json_spans *sp, cJSON **root,
                   bx__json_parse_error *err) {
  *root = NULL;
  if (sp->n == 0) return jp_parse_text(buf, len, sp, root, err);
  size_t n;
  char *text = jp_stand_ins(buf, len, sp, &n);
  if (text == NULL) return BX_ENOMEM;
  int rc = jp_parse_text(text, n, sp, root, err);
  bx__free(text);
  size_t left = sp->n;
  if (rc == 0 && (rc = jp_restore(*root, buf, sp, &left)) != 0) {
    cJSON_Delete(*root);
    *root = NULL;
    if (rc != BX_ENOMEM) rc = jp_fail(err, 0, "stand-in out of range (internal error)");
  }
  return rc;
}
