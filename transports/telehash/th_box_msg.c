/* Box messages (spec/telehash section 6.5): a CS3a message sealed to the recipient with a fresh
 * ephemeral key, whose inner packet is a LOB {"type":..} + BODY, at most 1024 bytes in all.
 *
 * Design notes
 * - Unsealing opens with the recipient's key and verifies AUTH only when the caller names the
 *   sender's key: a message does not say who sent it, and the host's "from" is only a claim.
 *   letter.verified tells the two apart; a key that does not verify is BX_EAUTH, never a
 *   quietly unverified letter.
 */
#include "th_internal.h"

int bx_th_box_seal(const bx_th_identity *from, const uint8_t to_pk[BX_TH_KEY_BYTES],
                   const char *type, const uint8_t *body, size_t len, uint8_t *out, size_t cap,
                   size_t *out_len) {
  if (out_len != NULL) *out_len = 0;
  if (from == NULL || to_pk == NULL || type == NULL || type[0] == '\0' || out == NULL ||
      (body == NULL && len > 0))
    return BX_EINVAL;
  if (len > BX_TH_BOX_MAX_INNER) return BX_EMSGSIZE;
  cJSON *head = cJSON_CreateObject();
  if (head == NULL || cJSON_AddStringToObject(head, "type", type) == NULL) {
    cJSON_Delete(head);
    return BX_ENOMEM;
  }
  bx_buf inner = {0};
  int rc = bx__th_lob_append_json(&inner, head, body, len);
  cJSON_Delete(head);
  if (rc == 0 && inner.len > BX_TH_BOX_MAX_INNER) rc = BX_EMSGSIZE;
  size_t n = 0;
  if (rc == 0)
    rc = bx__th_cs3a_seal((uint8_t *)inner.base, inner.len, to_pk, bx__th_identity_secret(from),
                          NULL, NULL, out, cap, &n);
  bx_buf_free(&inner);
  if (rc == 0 && out_len != NULL) *out_len = n;
  return rc;
}

void bx_th_box_letter_free(bx_th_box_letter *l) {
  if (l == NULL) return;
  cJSON_Delete(l->head);
  free(l->body);
  free(l);
}

int bx_th_box_unseal(const bx_th_identity *me, const uint8_t *msg, size_t len,
                     const uint8_t *from_pk, bx_th_box_letter **out) {
  if (out != NULL) *out = NULL;
  if (me == NULL) return BX_EINVAL;
  return bx__th_box_unseal(bx__th_identity_secret(me), msg, len, from_pk, out);
}

int bx__th_box_unseal(const uint8_t *sk, const uint8_t *msg, size_t len, const uint8_t *from_pk,
                      bx_th_box_letter **out) {
  if (out != NULL) *out = NULL;
  if (sk == NULL || msg == NULL || out == NULL) return BX_EINVAL;
  if (len > BX_TH_BOX_MAX_MSG || len < BX__TH_MSG_OVERHEAD) return BX_EBADMSG;
  uint8_t inner[BX_TH_BOX_MAX_MSG];
  size_t n = 0;
  int rc = bx__th_cs3a_open(msg, len, sk, inner, sizeof inner, &n);
  if (rc == 0 && from_pk != NULL) rc = bx__th_cs3a_verify(msg, len, sk, from_pk);
  bx__th_lob lob = {0};
  if (rc == 0) rc = bx__th_lob_parse(inner, n, &lob);
  if (rc == 0 && lob.json == NULL) rc = BX_EBADMSG;
  bx_th_box_letter *l = NULL;
  if (rc == 0 && (l = bx__zalloc(sizeof *l)) == NULL) rc = BX_ENOMEM;
  if (rc == 0 && lob.body_len > 0 && (l->body = malloc(lob.body_len)) == NULL) rc = BX_ENOMEM;
  if (rc != 0) {
    bx__th_lob_clear(&lob);
    if (l != NULL) free(l->body);
    free(l);
    sodium_memzero(inner, sizeof inner);
    return rc;
  }
  if (lob.body_len > 0) memcpy(l->body, lob.body, lob.body_len);
  l->len = lob.body_len;
  l->head = lob.json;
  lob.json = NULL;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(l->head, "type");
  l->type = cJSON_IsString(type) ? type->valuestring : NULL;
  l->verified = from_pk != NULL;
  bx__th_lob_clear(&lob);
  sodium_memzero(inner, sizeof inner);
  *out = l;
  return 0;
}

void bx_th_box_id(const uint8_t *msg, size_t len, char out[BX_TH_BOX_ID_LEN + 1]) {
  uint8_t h[BX__TH_KEY];
  bx__th_sha256_2(msg, len, NULL, 0, h);
  sodium_bin2hex(out, BX_TH_BOX_ID_LEN + 1, h, sizeof h);
}

int bx_th_peer_key(const char *json, uint8_t key[BX_TH_KEY_BYTES],
                   char hn[BX_TH_HASHNAME_LEN + 1]) {
  if (json == NULL || key == NULL || hn == NULL) return BX_EINVAL;
  cJSON *root = cJSON_Parse(json);
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
  const cJSON *k3a = cJSON_GetObjectItemCaseSensitive(keys, "3a");
  const cJSON *named = cJSON_GetObjectItemCaseSensitive(root, "hashname");
  size_t n = 0;
  int rc = cJSON_IsString(k3a) ? 0 : BX_EBADMSG;
  if (rc == 0)
    rc = bx__th_b32_decode(k3a->valuestring, strlen(k3a->valuestring), key, BX_TH_KEY_BYTES, &n);
  if (rc == 0 && n != BX_TH_KEY_BYTES) rc = BX_EBADMSG;
  if (rc == 0) bx_th_hashname_of_key(key, hn);
  if (rc == 0 && named != NULL && (!cJSON_IsString(named) || strcmp(named->valuestring, hn) != 0))
    rc = BX_EBADMSG;
  cJSON_Delete(root);
  return rc == 0 ? 0 : BX_EBADMSG;
}
