/* Cipher Set 3a messages (spec/telehash section 3): one packet sealed to a recipient's key.
 *
 *   outer = LOB(head 0x3a, body KEY(32) | NONCE(24) | secretbox_easy(inner) | AUTH(16))
 *   k1 = beforenm(recipient_pk, ephemeral_sk); ct = secretbox_easy(inner, NONCE, k1)
 *   k2 = beforenm(recipient_pk, sender_sk); AUTH = onetimeauth(KEY|NONCE|ct, SHA256(NONCE|k2))
 *
 * Design notes
 * - Opening and verifying are separate on purpose: a message does not name its sender, so the
 *   recipient opens it with its own key and checks AUTH only once it knows (or has fetched)
 *   the key of whoever it believes sent it. An unverified message is the caller's to label.
 * - The shape is checked before any cryptography: a LOB with the 1-byte head 0x3a and a body
 *   of at least KEY + NONCE + MAC + AUTH bytes. A head of another single byte is another cipher
 *   set (BX_ENOTSUP); any other head is not a message (BX_EBADMSG).
 * - Handshakes are messages whose ephemeral key is the exchange's, so seal takes eph_sk;
 *   messages for a box take a fresh one each (eph_sk NULL).
 * - Every shared secret and MAC key is wiped before returning.
 */
#include "th_internal.h"

#define CS_HEAD 3 /* LOB length (2) and the CSID byte */
#define CS_BODY_MIN (BX__TH_KEY + BX__TH_NONCE + BX__TH_MAC + BX__TH_MAC)

/* The message's body: where KEY starts, and the ciphertext's length (MAC included). */
static int cs_shape(const uint8_t *msg, size_t len, const uint8_t **body, size_t *ct_len) {
  if (msg == NULL) return BX_EINVAL;
  if (len < 2) return BX_EBADMSG;
  size_t head_len = ((size_t)msg[0] << 8) | msg[1];
  if (head_len != 1 || len < CS_HEAD) return BX_EBADMSG;
  if (msg[2] != BX__TH_CSID_3A) return BX_ENOTSUP;
  if (len - CS_HEAD < CS_BODY_MIN) return BX_EBADMSG;
  *body = msg + CS_HEAD;
  *ct_len = len - CS_HEAD - BX__TH_KEY - BX__TH_NONCE - BX__TH_MAC;
  return 0;
}

/* The MAC key: SHA256(NONCE || beforenm(peer_pk, my_sk)). */
static int cs_mac_key(const uint8_t *nonce, const uint8_t *peer_pk, const uint8_t *my_sk,
                      uint8_t mac_key[BX__TH_KEY]) {
  uint8_t k2[crypto_box_BEFORENMBYTES];
  if (crypto_box_beforenm(k2, peer_pk, my_sk) != 0) return BX_EAUTH;
  bx__th_sha256_2(nonce, BX__TH_NONCE, k2, sizeof k2, mac_key);
  sodium_memzero(k2, sizeof k2);
  return 0;
}

int bx__th_cs3a_seal(const uint8_t *inner, size_t n, const uint8_t to_pk[BX__TH_KEY],
                     const uint8_t from_sk[BX__TH_KEY], const uint8_t *eph_sk, const uint8_t *nonce,
                     uint8_t *out, size_t cap, size_t *len) {
  if ((inner == NULL && n > 0) || to_pk == NULL || from_sk == NULL || out == NULL) return BX_EINVAL;
  if (cap < BX__TH_MSG_OVERHEAD || cap - BX__TH_MSG_OVERHEAD < n) return BX_EMSGSIZE;
  int rc = bx__th_sodium();
  if (rc != 0) return rc;
  uint8_t esk[BX__TH_KEY], k1[crypto_box_BEFORENMBYTES], mac_key[BX__TH_KEY];
  uint8_t *key = out + CS_HEAD, *nc = key + BX__TH_KEY, *ct = nc + BX__TH_NONCE;
  if (eph_sk != NULL) {
    memcpy(esk, eph_sk, sizeof esk);
    crypto_scalarmult_base(key, esk);
  } else {
    crypto_box_keypair(key, esk);
  }
  if (nonce != NULL)
    memcpy(nc, nonce, BX__TH_NONCE);
  else
    randombytes_buf(nc, BX__TH_NONCE);
  rc = crypto_box_beforenm(k1, to_pk, esk) == 0 ? 0 : BX_EAUTH;
  if (rc == 0) {
    /* inner may not overlap out; the header goes first so ct is the only write over it */
    crypto_secretbox_easy(ct, n > 0 ? inner : nc, n, nc, k1); /* never a NULL pointer */
    rc = cs_mac_key(nc, to_pk, from_sk, mac_key);
  }
  if (rc == 0) {
    size_t authed = BX__TH_KEY + BX__TH_NONCE + BX__TH_MAC + n;
    crypto_onetimeauth(key + authed, key, authed, mac_key);
    out[0] = 0;
    out[1] = 1;
    out[2] = BX__TH_CSID_3A;
    if (len != NULL) *len = n + BX__TH_MSG_OVERHEAD;
  }
  sodium_memzero(esk, sizeof esk);
  sodium_memzero(k1, sizeof k1);
  sodium_memzero(mac_key, sizeof mac_key);
  return rc;
}

int bx__th_cs3a_open(const uint8_t *msg, size_t len, const uint8_t my_sk[BX__TH_KEY],
                     uint8_t *inner, size_t cap, size_t *inner_len) {
  const uint8_t *body = NULL;
  size_t ct_len = 0;
  if (my_sk == NULL || inner == NULL) return BX_EINVAL;
  int rc = cs_shape(msg, len, &body, &ct_len);
  if (rc != 0) return rc;
  if (cap < ct_len - BX__TH_MAC) return BX_EMSGSIZE;
  uint8_t k1[crypto_box_BEFORENMBYTES];
  if (crypto_box_beforenm(k1, body, my_sk) != 0) return BX_EAUTH;
  const uint8_t *nonce = body + BX__TH_KEY, *ct = nonce + BX__TH_NONCE;
  rc = crypto_secretbox_open_easy(inner, ct, ct_len, nonce, k1) == 0 ? 0 : BX_EAUTH;
  sodium_memzero(k1, sizeof k1);
  if (rc == 0 && inner_len != NULL) *inner_len = ct_len - BX__TH_MAC;
  return rc;
}

int bx__th_cs3a_verify(const uint8_t *msg, size_t len, const uint8_t my_sk[BX__TH_KEY],
                       const uint8_t from_pk[BX__TH_KEY]) {
  const uint8_t *body = NULL;
  size_t ct_len = 0;
  if (my_sk == NULL || from_pk == NULL) return BX_EINVAL;
  int rc = cs_shape(msg, len, &body, &ct_len);
  if (rc != 0) return rc;
  uint8_t mac_key[BX__TH_KEY];
  rc = cs_mac_key(body + BX__TH_KEY, from_pk, my_sk, mac_key);
  if (rc != 0) return rc;
  size_t authed = BX__TH_KEY + BX__TH_NONCE + ct_len;
  if (crypto_onetimeauth_verify(body + authed, body, authed, mac_key) != 0) rc = BX_EAUTH;
  sodium_memzero(mac_key, sizeof mac_key);
  return rc;
}

int bx__th_cs3a_key(const uint8_t *msg, size_t len, uint8_t key[BX__TH_KEY]) {
  const uint8_t *body = NULL;
  size_t ct_len = 0;
  if (key == NULL) return BX_EINVAL;
  int rc = cs_shape(msg, len, &body, &ct_len);
  if (rc == 0) memcpy(key, body, BX__TH_KEY);
  return rc;
}
