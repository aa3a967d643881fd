/* The largest single allocation made while a fuzz target reads one input, seen through the
 * sanitizers' allocation hook (fuzzing and ASan builds; plain replay builds have no hook and
 * watch nothing). A target brackets the reading with fz_watch_begin() / fz_watch_end() and
 * checks the size it returns against what the input may cost. */
#ifndef BX_FUZZ_ALLOC_WATCH_H
#define BX_FUZZ_ALLOC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* The sanitizers' hook installer, when the program has one (weak: absent in plain builds). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *))
    __attribute__((weak));

static bool fz_watching;
static size_t fz_largest; /* the largest allocation while fz_watching */

static void fz_malloc_hook(const volatile void *p, size_t size) {
  (void)p;
  if (fz_watching && size > fz_largest) fz_largest = size;
}

static void fz_free_hook(const volatile void *p) { /* required: without one nothing installs */
  (void)p;
}

/* Installs the hooks where the program has them; aborts when the sanitizer refuses them (the
 * size checks would then pass without looking). Call once, from LLVMFuzzerInitialize. */
static inline void fz_watch_install(void) {
  if (__sanitizer_install_malloc_and_free_hooks != NULL &&
      __sanitizer_install_malloc_and_free_hooks(fz_malloc_hook, fz_free_hook) == 0)
    abort();
}

static inline void fz_watch_begin(void) {
  fz_largest = 0;
  fz_watching = true;
}

/* Ends the watch; returns the largest allocation seen since fz_watch_begin(). */
static inline size_t fz_watch_end(void) {
  fz_watching = false;
  return fz_largest;
}

#endif
