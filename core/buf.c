/* bx_buf: the growable byte buffer the codec and transports write frames into.
 *
 * Growth is geometric (doubling) so appending n bytes one piece at a time costs O(n) overall;
 * every size computation is checked for overflow because frame sizes come from peers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define BF_MIN_CAP 64

/* The capacity to grow to so that `needed` bytes fit, or 0 on overflow. */
static size_t bf_next_cap(size_t cap, size_t needed) {
  size_t next = cap < BF_MIN_CAP ? BF_MIN_CAP : cap;
  while (next < needed) {
    if (next > (size_t)PTRDIFF_MAX / 2) return needed; /* doubling would overflow: be exact */
    next *= 2;
  }
  return next;
}

int bx_buf_reserve(bx_buf *buf, size_t extra) {
  if (buf == NULL) return BX_EINVAL;
  /* No object can be larger than PTRDIFF_MAX; asking realloc for more only fails later. */
  if (extra > (size_t)PTRDIFF_MAX || buf->len > (size_t)PTRDIFF_MAX - extra) return BX_ENOMEM;
  size_t needed = buf->len + extra;
  if (needed <= buf->cap) return 0;
  size_t cap = bf_next_cap(buf->cap, needed);
  char *base = bx__realloc(buf->base, cap);
  if (base == NULL) return BX_ENOMEM;
  buf->base = base;
  buf->cap = cap;
  return 0;
}

int bx_buf_append(bx_buf *buf, const void *data, size_t len) {
  if (len == 0) return buf == NULL ? BX_EINVAL : 0;
  if (data == NULL) return BX_EINVAL;
  int rc = bx_buf_reserve(buf, len);
  if (rc) return rc;
  memcpy(buf->base + buf->len, data, len);
  buf->len += len;
  return 0;
}

void bx_buf_free(bx_buf *buf) {
  if (buf == NULL) return;
  bx__free(buf->base);
  buf->base = NULL;
  buf->len = 0;
  buf->cap = 0;
}
