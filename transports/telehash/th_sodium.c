/* libsodium's set-up and the one hash helper every telehash section uses.
 *
 * Design notes
 * - sodium_init() is idempotent and thread-safe; calling it before each use of the random
 *   generator costs a load and a compare, and spares the transport an init step that a test or
 *   the fuzzer could forget. Functions that use no randomness (SHA-256, the box and secretbox
 *   primitives) work without it.
 */
#include "th_internal.h"

int bx__th_sodium(void) {
  return sodium_init() < 0 ? BX_ENOTSUP : 0;
}

void bx__th_sha256_2(const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                     uint8_t out[BX__TH_KEY]) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, a, an);
  if (bn > 0) crypto_hash_sha256_update(&st, b, bn);
  crypto_hash_sha256_final(&st, out);
}
