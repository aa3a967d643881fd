/* Framers: how messages sit in a link's bytes (see bx__framer in framework.h).
 *
 * - prefix: spec/foam section 4, a 4-byte little-endian signed length and then that many bytes
 *   of JSON, on Unix sockets, TCP and in-memory pipes. The output queue holds frames exactly as
 *   they go on the wire, so a batch of frames is one write. A negative length, or one above the
 *   peer's limit, is refused before anything is allocated for it.
 * - whole: one frame per transport message (a WebSocket message, a datagram). The output queue
 *   keeps a 4-byte host-order length before each frame for the message core's own use; the
 *   link gets each frame's bytes alone.
 */
#include <stdint.h>
#include <string.h>

#include "framework.h"

static void fr_put_le32(char *p, size_t n) {
  uint32_t v = (uint32_t)n;
  p[0] = (char)(v & 0xff);
  p[1] = (char)((v >> 8) & 0xff);
  p[2] = (char)((v >> 16) & 0xff);
  p[3] = (char)((v >> 24) & 0xff);
}

static int32_t fr_le32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  uint32_t v = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
  return (int32_t)v;
}

static size_t fr_get_le32(const char *p) {
  return (size_t)(uint32_t)fr_le32(p);
}

static int fr_cut_prefix(const char *p, size_t avail, size_t max, size_t *off, size_t *len,
                         size_t *need) {
  *need = 0;
  if (avail < 4) return BX__FRAME_NEED;
  int32_t n = fr_le32(p);
  if (n < 0 || (size_t)n > max) {
    *len = (size_t)(n < 0 ? -(int64_t)n : n);
    return BX__FRAME_BAD;
  }
  *need = 4 + (size_t)n;
  if (avail < *need) return BX__FRAME_NEED;
  *off = 4;
  *len = (size_t)n;
  return BX__FRAME_OK;
}

const bx__framer bx__framer_prefix = {
    .name = "length-prefixed",
    .header = 4,
    .max_frame = INT32_MAX,
    .batch = true,
    .put = fr_put_le32,
    .get = fr_get_le32,
    .cut = fr_cut_prefix,
};

static void fr_put_host(char *p, size_t n) {
  uint32_t v = (uint32_t)n;
  memcpy(p, &v, sizeof v);
}

static size_t fr_get_host(const char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

const bx__framer bx__framer_whole = {
    .name = "whole messages",
    .header = 4,
    .max_frame = UINT32_MAX,
    .batch = false,
    .put = fr_put_host,
    .get = fr_get_host,
};
