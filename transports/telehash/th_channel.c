/* Channel keys and channel packets (spec/telehash section 4).
 *
 *   shared = beforenm(their_eph_pk, my_eph_sk)
 *   enc = SHA256(shared | my_eph_pk | their_eph_pk), dec = SHA256(shared | their_eph_pk |
 * my_eph_pk) packet = LOB(no head, body TOKEN(16) | NONCE(24) | secretbox_easy(inner, NONCE, key))
 *
 * Design notes
 * - The ephemeral keys are the exchange's: the KEY each side put in its handshake, so one side's
 *   enc is the other's dec. The full 32 bytes of the hash are the key (the spec's "/2" is not
 *   what the reference does).
 * - TOKEN routes a packet to its exchange and is checked whole, in constant time, before the
 *   secretbox: a packet for another exchange is BX_EAUTH without any decryption work.
 * - A channel packet's head must be empty: a LOB with a head is a handshake or garbage here.
 */
#include "th_internal.h"

#define CH_PREFIX (2 + BX__TH_TOKEN + BX__TH_NONCE) /* bytes before the ciphertext */

int bx__th_channel_keys(const uint8_t my_eph_sk[BX__TH_KEY], const uint8_t my_eph_pk[BX__TH_KEY],
                        const uint8_t their_eph_pk[BX__TH_KEY], bx__th_chankeys *out) {
  if (my_eph_sk == NULL || my_eph_pk == NULL || their_eph_pk == NULL || out == NULL)
    return BX_EINVAL;
  uint8_t shared[crypto_box_BEFORENMBYTES];
  if (crypto_box_beforenm(shared, their_eph_pk, my_eph_sk) != 0) return BX_EAUTH;
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, shared, sizeof shared);
  crypto_hash_sha256_update(&st, my_eph_pk, BX__TH_KEY);
  crypto_hash_sha256_update(&st, their_eph_pk, BX__TH_KEY);
  crypto_hash_sha256_final(&st, out->enc);
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, shared, sizeof shared);
  crypto_hash_sha256_update(&st, their_eph_pk, BX__TH_KEY);
  crypto_hash_sha256_update(&st, my_eph_pk, BX__TH_KEY);
  crypto_hash_sha256_final(&st, out->dec);
  sodium_memzero(shared, sizeof shared);
  sodium_memzero(&st, sizeof st);
  return 0;
}

int bx__th_channel_seal(const uint8_t *inner, size_t n, const uint8_t token[BX__TH_TOKEN],
                        const uint8_t enc[BX__TH_KEY], const uint8_t *nonce, uint8_t *out,
                        size_t cap, size_t *len) {
  if ((inner == NULL && n > 0) || token == NULL || enc == NULL || out == NULL) return BX_EINVAL;
  if (cap < BX__TH_CHAN_OVERHEAD || cap - BX__TH_CHAN_OVERHEAD < n) return BX_EMSGSIZE;
  uint8_t *nc = out + 2 + BX__TH_TOKEN;
  if (nonce != NULL) {
    memcpy(nc, nonce, BX__TH_NONCE);
  } else {
    int rc = bx__th_sodium();
    if (rc != 0) return rc;
    randombytes_buf(nc, BX__TH_NONCE);
  }
  out[0] = 0;
  out[1] = 0;
  memcpy(out + 2, token, BX__TH_TOKEN);
  crypto_secretbox_easy(out + CH_PREFIX, n > 0 ? inner : nc, n, nc, enc);
  if (len != NULL) *len = n + BX__TH_CHAN_OVERHEAD;
  return 0;
}

int bx__th_channel_open(const uint8_t *pkt, size_t len, const uint8_t token[BX__TH_TOKEN],
                        const uint8_t dec[BX__TH_KEY], uint8_t *inner, size_t cap,
                        size_t *inner_len) {
  if (pkt == NULL || token == NULL || dec == NULL || inner == NULL) return BX_EINVAL;
  if (len < BX__TH_CHAN_OVERHEAD || pkt[0] != 0 || pkt[1] != 0) return BX_EBADMSG;
  if (sodium_memcmp(pkt + 2, token, BX__TH_TOKEN) != 0) return BX_EAUTH;
  size_t ct_len = len - CH_PREFIX;
  if (cap < ct_len - BX__TH_MAC) return BX_EMSGSIZE;
  const uint8_t *nonce = pkt + 2 + BX__TH_TOKEN;
  if (crypto_secretbox_open_easy(inner, pkt + CH_PREFIX, ct_len, nonce, dec) != 0) return BX_EAUTH;
  if (inner_len != NULL) *inner_len = ct_len - BX__TH_MAC;
  return 0;
}
