/* Helpers for the telehash tests: vectors.json (tests/data/spec/telehash) read at run time,
 * hex strings to bytes, one-bit flips. Include after <cmocka.h>. */
#ifndef BX_TH_TESTUTIL_H
#define BX_TH_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_internal.h"

/* The whole vectors.json (free with cJSON_Delete). */
static inline cJSON *tht_vectors(void) {
  FILE *f = fopen(BX_SPEC_DIR "/telehash/vectors.json", "rb");
  assert_non_null(f);
  char *text = malloc(1 << 20);
  assert_non_null(text);
  size_t n = fread(text, 1, (1 << 20) - 1, f);
  fclose(f);
  text[n] = '\0';
  cJSON *root = cJSON_Parse(text);
  free(text);
  assert_non_null(root);
  return root;
}

/* v[path...]: a chain of object keys, NULL-terminated; the item must exist. */
static inline const cJSON *tht_at(const cJSON *v, ...) {
  va_list ap;
  va_start(ap, v);
  for (const char *k = va_arg(ap, const char *); k != NULL; k = va_arg(ap, const char *)) {
    v = cJSON_GetObjectItemCaseSensitive(v, k);
    if (v == NULL) fprintf(stderr, "vectors.json: no \"%s\"\n", k);
    assert_non_null(v);
  }
  va_end(ap);
  return v;
}

/* v[path...] as a string: the chain of keys must end at a string. A macro over tht_at, so
 * that one walk serves both. */
#define tht_str(...) tht_string(tht_at(__VA_ARGS__))
static inline const char *tht_string(const cJSON *v) {
  assert_true(cJSON_IsString(v));
  return v->valuestring;
}

/* Bytes of a hex string: malloc'd (at least 1 byte), *len its size. */
typedef struct tht_bytes {
  uint8_t *p;
  size_t len;
} tht_bytes;

static inline tht_bytes tht_hex(const char *hex) {
  size_t n = strlen(hex);
  assert_int_equal(n % 2, 0);
  tht_bytes b = {malloc(n / 2 + 1), n / 2};
  assert_non_null(b.p);
  for (size_t i = 0; i < b.len; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    b.p[i] = (uint8_t)v;
  }
  return b;
}

static inline void tht_free(tht_bytes *b) {
  free(b->p);
  b->p = NULL;
  b->len = 0;
}

/* Asserts that got[0..n) is the bytes of the hex string want. */
static inline void tht_same(const uint8_t *got, size_t n, const char *want) {
  tht_bytes w = tht_hex(want);
  assert_int_equal(n, w.len);
  assert_memory_equal(got, w.p, n);
  tht_free(&w);
}

/* A copy of b with bit `bit` of byte `at` flipped (free it). */
static inline tht_bytes tht_flip(const tht_bytes *b, size_t at, int bit) {
  tht_bytes c = {malloc(b->len + 1), b->len};
  assert_non_null(c.p);
  memcpy(c.p, b->p, b->len);
  assert_true(at < c.len);
  c.p[at] ^= (uint8_t)(1u << bit);
  return c;
}

#endif /* BX_TH_TESTUTIL_H */
