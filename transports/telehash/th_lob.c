/* LOB packets (spec/telehash section 1): [LENGTH uint16 BE][HEAD: LENGTH bytes][BODY: the rest].
 *
 * Design notes
 * - Parsing allocates nothing for the head and body: they point into the packet. Only a JSON
 *   head (7 bytes or more) is turned into a cJSON tree, and only after a pre-scan of its bytes
 *   has shown it is valid UTF-8, without raw control characters in strings, nested no deeper
 *   than BX__TH_MAX_DEPTH and with every string and bracket closed, so cJSON never recurses
 *   far and never sees a NUL that would cut a string short. cJSON_ParseWithLengthOpts reads
 *   exactly the head's bytes (no NUL needed after them) and must end at its end, white space
 *   aside. Duplicate keys are not refused here (cJSON keeps both, lookups find the first);
 *   readers of fields that matter refuse them (th_handshake.c).
 * - Lengths: the declared head length is checked against the bytes really there before any use;
 *   a LOB never makes the parser read or allocate beyond the packet.
 * - Writing JSON heads goes through bx_json_write (the codec's compact writer), so a head bx
 *   writes is byte-for-byte what telehash-js's JSON.stringify writes for the same fields
 *   (integral numbers as integers, no spaces).
 */
#include "th_internal.h"

/* Checks the raw JSON text of a head: string contents, nesting depth, and that strings and
 * brackets are closed at its end. The UTF-8 check is the codec's. */
static int lb_prescan(const uint8_t *p, size_t n) {
  if (!bx__utf8_valid(p, n)) return BX_EBADUTF8;
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (in_string) {
      if (c < 0x20) return BX_EBADJSON; /* JSON wants control characters escaped */
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > BX__TH_MAX_DEPTH) return BX_ETOODEEP;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return BX_EBADJSON;
      depth--;
    }
  }
  /* cJSON refuses text cut short too; refusing it here keeps that out of cJSON's hands */
  return in_string || depth != 0 ? BX_EBADJSON : 0;
}

static bool lb_blank(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') return false;
  return true;
}

static int lb_json(const uint8_t *p, size_t n, cJSON **out) {
  *out = NULL;
  int rc = lb_prescan(p, n);
  if (rc != 0) return rc;
  const char *text = (const char *)p, *end = NULL;
  cJSON *json = cJSON_ParseWithLengthOpts(text, n, &end, false);
  if (json == NULL) return BX_EBADJSON; /* cJSON does not tell a syntax error from no memory */
  if (!cJSON_IsObject(json) || end == NULL || !lb_blank(end, text + n)) {
    cJSON_Delete(json);
    return BX_EBADJSON;
  }
  *out = json;
  return 0;
}

int bx__th_lob_parse(const uint8_t *p, size_t len, bx__th_lob *out) {
  if (out == NULL) return BX_EINVAL;
  memset(out, 0, sizeof *out);
  if (p == NULL) return BX_EINVAL;
  if (len < 2) return BX_EBADMSG;
  size_t head_len = ((size_t)p[0] << 8) | p[1];
  if (head_len > len - 2) return BX_EBADMSG;
  cJSON *json = NULL;
  if (head_len >= 7) {
    int rc = lb_json(p + 2, head_len, &json);
    if (rc != 0) return rc;
  }
  out->head = p + 2;
  out->head_len = head_len;
  out->body = p + 2 + head_len;
  out->body_len = len - 2 - head_len;
  out->json = json;
  return 0;
}

void bx__th_lob_clear(bx__th_lob *lob) {
  if (lob == NULL) return;
  cJSON_Delete(lob->json);
  memset(lob, 0, sizeof *lob);
}

int bx__th_lob_write(const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
                     uint8_t *out, size_t cap, size_t *len) {
  if ((head == NULL && head_len > 0) || (body == NULL && body_len > 0) || out == NULL)
    return BX_EINVAL;
  if (head_len > 0xffff) return BX_EMSGSIZE;
  if (cap < 2 || cap - 2 < head_len || cap - 2 - head_len < body_len) return BX_EMSGSIZE;
  out[0] = (uint8_t)(head_len >> 8);
  out[1] = (uint8_t)head_len;
  if (head_len > 0) memcpy(out + 2, head, head_len);
  if (body_len > 0) memcpy(out + 2 + head_len, body, body_len);
  if (len != NULL) *len = 2 + head_len + body_len;
  return 0;
}

int bx__th_lob_append_json(bx_buf *buf, const cJSON *json, const uint8_t *body, size_t body_len) {
  if (buf == NULL || !cJSON_IsObject(json) || (body == NULL && body_len > 0)) return BX_EINVAL;
  size_t start = buf->len;
  int rc = bx_buf_append(buf, "\0\0", 2);
  if (rc == 0) rc = bx_json_write(buf, json);
  if (rc == 0) {
    size_t head_len = buf->len - start - 2;
    if (head_len < 7)
      rc = BX_EINVAL;
    else if (head_len > 0xffff)
      rc = BX_EMSGSIZE;
    else {
      buf->base[start] = (char)(head_len >> 8);
      buf->base[start + 1] = (char)head_len;
    }
  }
  if (rc == 0 && body_len > 0) rc = bx_buf_append(buf, body, body_len);
  if (rc != 0) buf->len = start;
  return rc;
}
