/* The replaceable allocator: every allocation of bx's own layers goes through bx__malloc,
 * bx__calloc, bx__realloc and bx__free, and cJSON's through the same functions (its hooks), so
 * a test can fail the Nth allocation of a whole call path (include/bx/alloc.h). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core.h"

static bx_allocator al_current = {malloc, realloc, free};

int bx_set_allocator(const bx_allocator *a) {
  if (a != NULL && (a->malloc_fn == NULL || a->realloc_fn == NULL || a->free_fn == NULL))
    return BX_EINVAL;
  bx_allocator libc = {malloc, realloc, free};
  al_current = a ? *a : libc;
  cJSON_Hooks hooks = {al_current.malloc_fn, al_current.free_fn};
  cJSON_InitHooks(a ? &hooks : NULL);
  return 0;
}

void *bx__malloc(size_t n) {
  return al_current.malloc_fn(n);
}

void *bx__calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  size_t n = count * size;
  void *p = al_current.malloc_fn(n ? n : 1);
  if (p) memset(p, 0, n);
  return p;
}

void *bx__realloc(void *p, size_t n) {
  return al_current.realloc_fn(p, n);
}

void bx__free(void *p) {
  al_current.free_fn(p);
}
