/* bxgen: diagnostics. Every error goes to stderr as "file:line:col: error: message" (the form
 * compilers and editors understand); the exit status says whether any was printed. */
#include <stdio.h>

#include "util.h"

static unsigned diag_errors;

void bxg_error(const bxg_loc *loc, const char *fmt, ...) {
  va_list ap;

  if (loc != NULL && loc->file != NULL)
    fprintf(stderr, "%s:%u:%u: error: ", loc->file, loc->line, loc->col);
  else
    fputs("bxgen: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  diag_errors++;
}

void bxg_fatal(const char *fmt, ...) {
  va_list ap;

  fputs("bxgen: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  diag_errors++;
}

unsigned bxg_error_count(void) {
  return diag_errors;
}
