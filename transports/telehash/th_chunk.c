/* TCP chunking (spec/telehash section 5): a packet as chunks [len 1..255][len bytes]..., then a
 * 0x00 terminator. Not cloaked over TCP (telehash-js refuses it).
 *
 * Design notes
 * - The reader is a scan over the stream's bytes in hand, like the framework's framers: it
 *   says "a whole packet in used bytes", "need more" or "too big", and allocates nothing. The
 *   caller sizes a buffer from *size, which is never more than the bytes already received,
 *   and gathers the chunks into it. A scan starts again from the front each time; chunks are
 *   small and a packet is bounded by max, so that costs little.
 * - telehash-js writes the terminator inside the last 256-byte chunk when it fits; on the
 *   stream that is the same bytes, so one reader handles both.
 * - A bare terminator (no chunks before it) is an empty packet: reported with size 0 so that
 *   the caller skips it, as telehash-c's keep-alives need.
 */
#include "th_internal.h"

#define CH_MAX_CHUNK 255

int bx__th_chunk_write(const uint8_t *pkt, size_t n, uint8_t *out, size_t cap, size_t *len) {
  if (pkt == NULL || out == NULL || n == 0) return BX_EINVAL;
  if (cap < bx__th_chunk_size(n)) return BX_EMSGSIZE;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t c = n - i < CH_MAX_CHUNK ? n - i : CH_MAX_CHUNK;
    out[o++] = (uint8_t)c;
    memcpy(out + o, pkt + i, c);
    o += c;
    i += c;
  }
  out[o++] = 0;
  if (len != NULL) *len = o;
  return 0;
}

int bx__th_chunk_scan(const uint8_t *p, size_t avail, size_t max, size_t *used, size_t *size) {
  if ((p == NULL && avail > 0) || used == NULL || size == NULL) return BX_EINVAL;
  size_t i = 0, total = 0;
  while (i < avail) {
    size_t c = p[i];
    if (c == 0) {
      *used = i + 1;
      *size = total;
      return 1;
    }
    if (c > max - total) return BX_EMSGSIZE; /* total <= max always holds here */
    if (avail - i - 1 < c) return 0;
    total += c;
    i += 1 + c;
  }
  return 0;
}

void bx__th_chunk_gather(const uint8_t *p, size_t used, uint8_t *out) {
  size_t o = 0;
  for (size_t i = 0; i < used && p[i] != 0; i += 1 + (size_t)p[i]) {
    memcpy(out + o, p + i + 1, p[i]);
    o += p[i];
  }
}
