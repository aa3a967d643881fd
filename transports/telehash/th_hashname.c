/* Hashnames (spec/telehash section 2): the SHA-256 roll-up of an identity's cipher-set parts,
 * in base32.
 *
 *   roll = SHA256(csid byte) for the lowest CSID, SHA256(roll || csid byte) for the others;
 *   after each CSID, roll = SHA256(roll || intermediate), intermediate = SHA256(key).
 *
 * Design notes
 * - A peer may present a cipher set bx does not speak only as its intermediate: the roll-up
 *   needs no key, so bx can check the hashname of a peer with CSIDs 1a, 2a ... while talking
 *   3a. bx__th_hashname_of_parts() takes the JSON shapes telehash uses on the wire and in
 *   identity files ("keys" and "intermediates": CSID -> base32).
 * - CSIDs are written as two lower-case hex digits; anything else is refused, not normalised.
 */
#include "th_internal.h"

#define HN_MAX_PARTS 16
#define HN_MAX_KEY 1024 /* bytes of any cipher set's public key (RSA-2048 in 2a: 294) */

void bx__th_intermediate(const uint8_t *key, size_t len, uint8_t out[BX__TH_KEY]) {
  crypto_hash_sha256(out, key, len);
}

int bx__th_rollup(const bx__th_part *parts, size_t n, uint8_t out[BX__TH_KEY]) {
  if (parts == NULL || out == NULL || n == 0 || n > HN_MAX_PARTS) return BX_EINVAL;
  bool seen[256] = {false};
  for (size_t i = 0; i < n; i++) {
    if (parts[i].csid == 0 || seen[parts[i].csid]) return BX_EINVAL;
    seen[parts[i].csid] = true;
  }
  uint8_t roll[BX__TH_KEY];
  bool first = true;
  for (unsigned csid = 1; csid < 256; csid++) { /* ascending CSID order */
    if (!seen[csid]) continue;
    const bx__th_part *part = NULL;
    for (size_t i = 0; i < n && part == NULL; i++)
      if (parts[i].csid == csid) part = &parts[i];
    uint8_t id = (uint8_t)csid;
    if (first)
      crypto_hash_sha256(roll, &id, 1);
    else
      bx__th_sha256_2(roll, sizeof roll, &id, 1, roll);
    first = false;
    bx__th_sha256_2(roll, sizeof roll, part->hash, sizeof part->hash, roll);
  }
  memcpy(out, roll, sizeof roll);
  return 0;
}

static int hn_csid(const char *s, uint8_t *csid) {
  unsigned v = 0;
  for (int i = 0; i < 2; i++) {
    char c = s[i];
    if (c >= '0' && c <= '9')
      v = v * 16 + (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v = v * 16 + (unsigned)(c - 'a' + 10);
    else
      return BX_EBADMSG;
  }
  if (s[2] != '\0' || v == 0) return BX_EBADMSG;
  *csid = (uint8_t)v;
  return 0;
}

/* The part of one CSID -> base32 item: a key (hashed) or an intermediate (32 bytes). */
static int hn_part(const cJSON *item, bool is_key, bx__th_part *part) {
  if (item->string == NULL || strlen(item->string) != 2 || !cJSON_IsString(item)) return BX_EBADMSG;
  int rc = hn_csid(item->string, &part->csid);
  if (rc != 0) return rc;
  const char *text = item->valuestring;
  uint8_t raw[HN_MAX_KEY];
  size_t len = 0;
  rc = bx__th_b32_decode(text, strlen(text), raw, sizeof raw, &len);
  if (rc == 0 && is_key && len == 0) rc = BX_EBADMSG;
  if (rc == 0 && is_key) bx__th_intermediate(raw, len, part->hash);
  if (rc == 0 && !is_key) {
    if (len == BX__TH_KEY)
      memcpy(part->hash, raw, BX__TH_KEY);
    else
      rc = BX_EBADMSG;
  }
  return rc == BX_EMSGSIZE ? BX_EBADMSG : rc;
}

/* Adds the parts of one object (keys or intermediates) to parts[0..*n); a CSID already there
 * must have the same intermediate. */
static int hn_collect(const cJSON *obj, bool is_key, bx__th_part *parts, size_t *n) {
  if (obj == NULL) return 0;
  if (!cJSON_IsObject(obj)) return BX_EBADMSG;
  for (const cJSON *item = obj->child; item != NULL; item = item->next) {
    bx__th_part part;
    int rc = hn_part(item, is_key, &part);
    if (rc != 0) return rc;
    size_t i = 0;
    while (i < *n && parts[i].csid != part.csid)
      i++;
    if (i < *n) {
      if (memcmp(parts[i].hash, part.hash, BX__TH_KEY) != 0) return BX_EBADMSG;
      continue;
    }
    if (*n == HN_MAX_PARTS) return BX_EBADMSG;
    parts[(*n)++] = part;
  }
  return 0;
}

int bx__th_hashname_of_parts(const cJSON *keys, const cJSON *intermediates,
                             char out[BX_TH_HASHNAME_LEN + 1]) {
  if (out == NULL) return BX_EINVAL;
  out[0] = '\0';
  bx__th_part parts[HN_MAX_PARTS];
  size_t n = 0;
  int rc = hn_collect(keys, true, parts, &n);
  if (rc == 0) rc = hn_collect(intermediates, false, parts, &n);
  if (rc != 0) return rc;
  if (n == 0) return BX_EINVAL;
  uint8_t bin[BX__TH_KEY];
  rc = bx__th_rollup(parts, n, bin);
  if (rc != 0) return rc;
  bx__th_b32_encode(bin, sizeof bin, out);
  return 0;
}

int bx_th_hashname_of_key(const uint8_t key[BX_TH_KEY_BYTES], char out[BX_TH_HASHNAME_LEN + 1]) {
  if (key == NULL || out == NULL) return BX_EINVAL;
  bx__th_part part = {.csid = BX__TH_CSID_3A};
  bx__th_intermediate(key, BX_TH_KEY_BYTES, part.hash);
  uint8_t bin[BX__TH_KEY];
  bx__th_rollup(&part, 1, bin);
  bx__th_b32_encode(bin, sizeof bin, out);
  return 0;
}

bool bx__th_hashname_valid(const char *s) {
  uint8_t bin[BX__TH_KEY];
  size_t len = 0;
  if (s == NULL || strlen(s) != BX_TH_HASHNAME_LEN) return false;
  for (const char *c = s; *c; c++)
    if (*c >= 'A' && *c <= 'Z') return false;
  return bx__th_b32_decode(s, BX_TH_HASHNAME_LEN, bin, sizeof bin, &len) == 0 && len == BX__TH_KEY;
}
