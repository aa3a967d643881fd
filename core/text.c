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
