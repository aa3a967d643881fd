/* Link handshakes and the pieces around them (spec/telehash section 4): key order, the
 * handshake's inner packet, the routing token.
 *
 *   inner = LOB({"type":"link","at":N}, body = LOB({"3a":true}, 32-byte public key))
 *
 * Design notes
 * - A handshake is a CS3a message (th_cs3a.c) sealed with the exchange's ephemeral key; this
 *   file only makes and reads what is inside, and says which side is ODD. The state machine
 *   (adopting a higher `at`, resending, keep-alives) is the transport's.
 * - bx writes {"3a":true} as the spec says; telehash-js writes {"3a":null} (see the vectors).
 *   Reading, the presence of "3a" is what counts, whatever its value; other CSIDs beside it
 *   are ignored. Head fields other than type and at are ignored too, but kept for the caller:
 *   a box host advertises "box":[W,C] there (spec section 6.6).
 * - A head with "type" or "at" twice is refused: JSON readers disagree on which copy wins
 *   (cJSON the first, JavaScript the last), and two peers must not read different `at`s.
 * - `at` is an unsigned 32-bit integer above 0: telehash-js uses seconds since 1970.
 */
#include "th_internal.h"

#include <math.h>

static const char hs_attached_head[] = "{\"3a\":true}";

int bx__th_order_of(const uint8_t my_pk[BX__TH_KEY], const uint8_t their_pk[BX__TH_KEY]) {
  if (my_pk == NULL || their_pk == NULL) return BX_EINVAL;
  int c = memcmp(my_pk, their_pk, BX__TH_KEY);
  if (c == 0) return BX_EINVAL;
  return c > 0 ? BX__TH_ODD : BX__TH_EVEN;
}

int bx__th_handshake_append(bx_buf *buf, uint32_t at, const uint8_t key[BX__TH_KEY],
                            const cJSON *extra) {
  if (buf == NULL || key == NULL || at == 0 || (extra != NULL && !cJSON_IsObject(extra)))
    return BX_EINVAL;
  uint8_t attached[2 + sizeof hs_attached_head - 1 + BX__TH_KEY];
  int rc = bx__th_lob_write((const uint8_t *)hs_attached_head, sizeof hs_attached_head - 1, key,
                            BX__TH_KEY, attached, sizeof attached, NULL);
  if (rc != 0) return rc;
  cJSON *head = cJSON_CreateObject();
  if (head == NULL || cJSON_AddStringToObject(head, "type", "link") == NULL ||
      cJSON_AddNumberToObject(head, "at", (double)at) == NULL)
    rc = BX_ENOMEM;
  for (const cJSON *it = extra ? extra->child : NULL; rc == 0 && it != NULL; it = it->next) {
    if (it->string == NULL || strcmp(it->string, "type") == 0 || strcmp(it->string, "at") == 0) {
      rc = BX_EINVAL;
      break;
    }
    cJSON *copy = cJSON_Duplicate(it, true);
    if (copy == NULL || !cJSON_AddItemToObject(head, it->string, copy)) {
      cJSON_Delete(copy);
      rc = BX_ENOMEM;
    }
  }
  if (rc == 0) rc = bx__th_lob_append_json(buf, head, attached, sizeof attached);
  cJSON_Delete(head);
  return rc;
}

/* How many items of obj are named name. */
static int hs_count(const cJSON *obj, const char *name) {
  int n = 0;
  for (const cJSON *it = obj->child; it != NULL; it = it->next)
    if (it->string != NULL && strcmp(it->string, name) == 0) n++;
  return n;
}

static int hs_head(const cJSON *head, uint32_t *at) {
  if (head == NULL || hs_count(head, "type") != 1 || hs_count(head, "at") != 1) return BX_EBADMSG;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(head, "type");
  const cJSON *num = cJSON_GetObjectItemCaseSensitive(head, "at");
  if (!cJSON_IsString(type) || strcmp(type->valuestring, "link") != 0) return BX_EBADMSG;
  if (!cJSON_IsNumber(num)) return BX_EBADMSG;
  double v = num->valuedouble;
  if (!(v >= 1 && v <= (double)UINT32_MAX) || floor(v) != v) return BX_EBADMSG;
  *at = (uint32_t)v;
  return 0;
}

static int hs_key(const uint8_t *p, size_t len, uint8_t key[BX__TH_KEY]) {
  bx__th_lob att;
  int rc = bx__th_lob_parse(p, len, &att);
  if (rc != 0) return rc;
  if (att.json == NULL)
    rc = BX_EBADMSG;
  else if (cJSON_GetObjectItemCaseSensitive(att.json, "3a") == NULL)
    rc = BX_ENOTSUP;
  else if (att.body_len != BX__TH_KEY)
    rc = BX_EBADMSG;
  else
    memcpy(key, att.body, BX__TH_KEY);
  bx__th_lob_clear(&att);
  return rc;
}

int bx__th_handshake_parse(const uint8_t *p, size_t len, bx__th_handshake *out) {
  if (out == NULL) return BX_EINVAL;
  memset(out, 0, sizeof *out);
  bx__th_lob lob;
  int rc = bx__th_lob_parse(p, len, &lob);
  if (rc != 0) return rc;
  uint32_t at = 0;
  rc = hs_head(lob.json, &at);
  if (rc == 0) rc = hs_key(lob.body, lob.body_len, out->key);
  if (rc != 0) {
    bx__th_lob_clear(&lob);
    sodium_memzero(out->key, sizeof out->key);
    return rc;
  }
  out->at = at;
  out->head = lob.json; /* moved to out */
  return 0;
}

void bx__th_handshake_clear(bx__th_handshake *hs) {
  if (hs == NULL) return;
  cJSON_Delete(hs->head);
  memset(hs, 0, sizeof *hs);
}

int bx__th_token_of(const uint8_t *msg, size_t len, uint8_t token[BX__TH_TOKEN]) {
  if (msg == NULL || token == NULL) return BX_EINVAL;
  if (len < 2) return BX_EBADMSG;
  size_t head_len = ((size_t)msg[0] << 8) | msg[1];
  if (head_len > len - 2 || len - 2 - head_len < BX__TH_TOKEN) return BX_EBADMSG;
  uint8_t hash[BX__TH_KEY];
  crypto_hash_sha256(hash, msg + 2 + head_len, BX__TH_TOKEN);
  memcpy(token, hash, BX__TH_TOKEN);
  return 0;
}
