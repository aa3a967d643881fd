/* base32 (RFC 4648 section 6) as telehash writes it: lower case, no padding (spec/telehash
 * section 2).
 *
 * Design notes
 * - Decoding is strict so that every byte string has exactly one text form: a length that no
 *   encoding produces (1, 3 or 6 characters past a multiple of 8) and unused trailing bits
 *   that are not zero are refused. Hashnames are compared as text, so a second spelling of the
 *   same bytes would be a second identity. Upper case is read too (RFC 4648's own alphabet).
 * - Bits go through a small accumulator: at most 12 bits are ever pending.
 */
#include "th_internal.h"

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

void bx__th_b32_encode(const uint8_t *in, size_t n, char *out) {
  unsigned acc = 0, bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[o++] = b32_alphabet[(acc >> bits) & 31];
    }
    acc &= (1u << bits) - 1; /* keep only the pending bits */
  }
  if (bits > 0) out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
  out[o] = '\0';
}

static int b32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

int bx__th_b32_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len) {
  if ((s == NULL || out == NULL) && n > 0) return BX_EINVAL;
  size_t rest = n % 8;
  if (rest == 1 || rest == 3 || rest == 6) return BX_EBADMSG;
  if (n / 8 * 5 + rest * 5 / 8 > cap) return BX_EMSGSIZE;
  unsigned acc = 0, bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b32_value(s[i]);
    if (v < 0) return BX_EBADMSG;
    acc = (acc << 5) | (unsigned)v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return BX_EBADMSG; /* leftover bits (fewer than 5) must be zero */
  if (len != NULL) *len = o;
  return 0;
}
