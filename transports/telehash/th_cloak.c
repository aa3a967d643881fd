/* UDP cloaking (spec/telehash section 5): NONCE8 | chacha20_xor(packet, NONCE8,
 * SHA256("telehash")).
 *
 * Design notes
 * - Cloaking hides that a datagram is telehash from a casual observer; it is not encryption (the
 *   key is public). A LOB starts with 0x00 (a head under 256 bytes, which is every packet bx
 *   sends over UDP) and a cloak's nonce never does, so a receiver peels rounds until the first
 *   byte is 0. telehash-js cloaks everything it sends over UDP; bx accepts any number of rounds
 *   and cloaks its own datagrams once.
 * - Uncloaking works in place (libsodium's xor allows the same buffer in and out) and each
 *   round eats 8 bytes, so the loop is bounded by the datagram's size.
 * - Libsodium's crypto_stream_chacha20 is the original 64-bit-nonce ChaCha20 with the block
 *   counter from 0, which is what the JavaScript reference uses.
 */
#include "th_internal.h"

#define CK_MAX_ROUNDS 16

static void ck_key(uint8_t key[crypto_stream_chacha20_KEYBYTES]) {
  static const char label[] = "telehash";
  crypto_hash_sha256(key, (const uint8_t *)label, sizeof label - 1);
}

int bx__th_cloak(const uint8_t *pkt, size_t n, unsigned rounds, const uint8_t *nonces, uint8_t *out,
                 size_t cap, size_t *len) {
  if (pkt == NULL || out == NULL || rounds == 0 || rounds > CK_MAX_ROUNDS) return BX_EINVAL;
  size_t extra = (size_t)rounds * BX__TH_CLOAK_NONCE;
  if (cap < extra || cap - extra < n) return BX_EMSGSIZE;
  for (unsigned i = 0; nonces != NULL && i < rounds; i++)
    if (nonces[i * BX__TH_CLOAK_NONCE] == 0) return BX_EINVAL;
  if (nonces == NULL && bx__th_sodium() != 0) return BX_ENOTSUP;
  uint8_t key[crypto_stream_chacha20_KEYBYTES];
  ck_key(key);
  memmove(out + extra, pkt, n);
  for (unsigned i = 0; i < rounds; i++) { /* inside out: round 1 is next to the packet */
    uint8_t *nc = out + extra - (size_t)(i + 1) * BX__TH_CLOAK_NONCE;
    if (nonces != NULL) {
      memcpy(nc, nonces + (size_t)i * BX__TH_CLOAK_NONCE, BX__TH_CLOAK_NONCE);
    } else {
      do
        randombytes_buf(nc, BX__TH_CLOAK_NONCE);
      while (nc[0] == 0);
    }
    size_t inner = n + (size_t)i * BX__TH_CLOAK_NONCE;
    crypto_stream_chacha20_xor(nc + BX__TH_CLOAK_NONCE, nc + BX__TH_CLOAK_NONCE, inner, nc, key);
  }
  if (len != NULL) *len = n + extra;
  return 0;
}

int bx__th_uncloak(uint8_t *buf, size_t len, size_t *off) {
  if (buf == NULL || off == NULL) return BX_EINVAL;
  uint8_t key[crypto_stream_chacha20_KEYBYTES];
  ck_key(key);
  size_t at = 0;
  while (at < len && buf[at] != 0) {
    if (len - at < BX__TH_CLOAK_NONCE + 2) return BX_EBADMSG;
    uint8_t *nc = buf + at;
    crypto_stream_chacha20_xor(nc + BX__TH_CLOAK_NONCE, nc + BX__TH_CLOAK_NONCE,
                               len - at - BX__TH_CLOAK_NONCE, nc, key);
    at += BX__TH_CLOAK_NONCE;
  }
  if (len - at < 2) return BX_EBADMSG;
  *off = at;
  return 0;
}
