/* Internal: finding the bytes a JSON string cannot hold as they are, 16 at a time where the
 * machine has SSE2 (every x86-64), else 8 at a time (SWAR), shared by the pre-scan and the
 * writer (never installed). */
#ifndef BX_JSON_BYTES_H
#define BX_JSON_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Is c special: a control character, '"' or '\\' (and, with ascii, any byte above 0x7F)? */
static inline bool bx__json_special(unsigned char c, bool ascii) {
  return c < 0x20 || c == '"' || c == '\\' || (ascii && c >= 0x80);
}

/* The length of the longest prefix of p[0..n) without a special byte (bx__json_special). */
static inline size_t bx__json_plain_len(const unsigned char *p, size_t n, bool ascii) {
  size_t i = 0;
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  const __m128i c1f = _mm_set1_epi8(0x1F), c20 = _mm_set1_epi8(0x20);
  for (; n - i >= 16; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    /* signed v < 0x20 also holds for bytes above 0x7F; unsigned: min(v, 0x1F) == v */
    __m128i ctl = ascii ? _mm_cmplt_epi8(v, c20) : _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);
    __m128i hit =
        _mm_or_si128(ctl, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    unsigned m = (unsigned)_mm_movemask_epi8(hit);
    if (m != 0) return i + (size_t)__builtin_ctz(m);
  }
#endif
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  for (; n - i >= 8; i += 8) {
    uint64_t x;
    memcpy(&x, p + i, sizeof x);
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t hit = ((x - ones * 0x20) & ~x & highs) | ((q - ones) & ~q & highs) |
                   ((b - ones) & ~b & highs) | (ascii ? x & highs : 0);
    if (hit != 0) break; /* the byte loop below finds which */
  }
  while (i < n && !bx__json_special(p[i], ascii))
    i++;
  return i;
}

#endif /* BX_JSON_BYTES_H */
