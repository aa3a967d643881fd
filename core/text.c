/* Small text helpers shared by every layer: copies and decimal numbers without snprintf. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

char *bx__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = bx__malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

char *bx__copy_text(char *buf, size_t cap, const char *s, size_t n) {
  char *d = n < cap ? buf : bx__malloc(n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

size_t bx__u64_text(char *buf, uint64_t v, unsigned base) {
  static const char digits[] = "0123456789abcdef";
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v != 0);
  for (size_t i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}
