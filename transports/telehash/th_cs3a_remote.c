/* CS3a messages to and from a peer we keep keys for (spec/telehash section 3): the same bytes as
 * bx__th_cs3a_seal() and bx__th_cs3a_verify() (th_cs3a.c), with the shared secrets computed once
 * per peer instead of once per message.
 *
 * Design notes
 * - What stays the same from message to message to one peer: our static key and theirs, so the
 *   AUTH's secret beforenm(peer_pk, my_sk), which is the same on both sides; and, when the
 *   ephemeral key is the exchange's (a link's handshakes; e3x's Remote uses one per peer for
 *   every message), the secretbox key beforenm(peer_pk, eph_sk). A bx__th_cs3a_remote holds
 *   both, so sealing costs a secretbox, a SHA-256 and a Poly1305 and no X25519; the recipient
 *   opens with one X25519 (the message's KEY is the sender's to choose) and verifies with the
 *   kept static secret (bx__th_cs3a_static()).
 * - Secrets: the structure holds shared secrets; bx__th_cs3a_remote_clear() wipes them, and the
 *   functions here wipe their own intermediates.
 */
#include "th_internal.h"

int bx__th_cs3a_static(const uint8_t peer_pk[BX__TH_KEY], const uint8_t my_sk[BX__TH_KEY],
                       uint8_t out[BX__TH_KEY]) {
  if (peer_pk == NULL || my_sk == NULL || out == NULL) return BX_EINVAL;
  return crypto_box_beforenm(out, peer_pk, my_sk) == 0 ? 0 : BX_EAUTH;
}

int bx__th_cs3a_remote_init(const uint8_t to_pk[BX__TH_KEY], const uint8_t from_sk[BX__TH_KEY],
                            const uint8_t *eph_sk, bx__th_cs3a_remote *out) {
  if (to_pk == NULL || from_sk == NULL || out == NULL) return BX_EINVAL;
  int rc = bx__th_sodium();
  if (rc != 0) return rc;
  uint8_t esk[BX__TH_KEY];
  if (eph_sk != NULL) {
    memcpy(esk, eph_sk, sizeof esk);
    crypto_scalarmult_base(out->eph_pk, esk);
  } else {
    crypto_box_keypair(out->eph_pk, esk);
  }
  if (crypto_box_beforenm(out->k_eph, to_pk, esk) != 0 ||
      bx__th_cs3a_static(to_pk, from_sk, out->k_static) != 0)
    rc = BX_EAUTH;
  sodium_memzero(esk, sizeof esk);
  if (rc != 0) bx__th_cs3a_remote_clear(out);
  return rc;
}

void bx__th_cs3a_remote_clear(bx__th_cs3a_remote *r) {
  if (r != NULL) sodium_memzero(r, sizeof *r);
}

/* The AUTH of key[0..authed) (KEY | NONCE | ciphertext) with k_static: onetimeauth keyed by
 * SHA256(NONCE | k_static). */
static void rm_auth(const uint8_t *key, size_t authed, const uint8_t k_static[BX__TH_KEY],
                    uint8_t auth[BX__TH_MAC]) {
  uint8_t mac_key[BX__TH_KEY];
  bx__th_sha256_2(key + BX__TH_KEY, BX__TH_NONCE, k_static, BX__TH_KEY, mac_key);
  crypto_onetimeauth(auth, key, authed, mac_key);
  sodium_memzero(mac_key, sizeof mac_key);
}

int bx__th_cs3a_seal_to(const bx__th_cs3a_remote *r, const uint8_t *inner, size_t n,
                        const uint8_t *nonce, uint8_t *out, size_t cap, size_t *len) {
  if (r == NULL || (inner == NULL && n > 0) || out == NULL) return BX_EINVAL;
  if (cap < BX__TH_MSG_OVERHEAD || cap - BX__TH_MSG_OVERHEAD < n) return BX_EMSGSIZE;
  uint8_t *key = out + 3, *nc = key + BX__TH_KEY, *ct = nc + BX__TH_NONCE;
  if (nonce != NULL) {
    memcpy(nc, nonce, BX__TH_NONCE);
  } else {
    int rc = bx__th_sodium();
    if (rc != 0) return rc;
    randombytes_buf(nc, BX__TH_NONCE);
  }
  out[0] = 0;
  out[1] = 1;
  out[2] = BX__TH_CSID_3A;
  memcpy(key, r->eph_pk, BX__TH_KEY);
  crypto_secretbox_easy(ct, n > 0 ? inner : nc, n, nc, r->k_eph); /* never a NULL pointer */
  size_t authed = BX__TH_KEY + BX__TH_NONCE + BX__TH_MAC + n;
  rm_auth(key, authed, r->k_static, key + authed);
  if (len != NULL) *len = n + BX__TH_MSG_OVERHEAD;
  return 0;
}

int bx__th_cs3a_verify_static(const uint8_t *msg, size_t len, const uint8_t k_static[BX__TH_KEY]) {
  if (msg == NULL || k_static == NULL) return BX_EINVAL;
  uint8_t key[BX__TH_KEY];
  int rc = bx__th_cs3a_key(msg, len, key); /* the shape: a 3a message, long enough */
  if (rc != 0) return rc;
  const uint8_t *body = msg + 3;
  size_t authed = len - 3 - BX__TH_MAC;
  uint8_t mac_key[BX__TH_KEY];
  bx__th_sha256_2(body + BX__TH_KEY, BX__TH_NONCE, k_static, BX__TH_KEY, mac_key);
  if (crypto_onetimeauth_verify(body + authed, body, authed, mac_key) != 0) rc = BX_EAUTH;
  sodium_memzero(mac_key, sizeof mac_key);
  return rc;
}
