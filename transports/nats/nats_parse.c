/* The NATS client protocol parser: server operations cut from a byte buffer.
 *
 * Design notes
 * - A pure function over what has been read so far: it either finds one complete operation
 *   (control line and, for MSG/HMSG, the payload and its CRLF), asks for more bytes, or refuses.
 *   Partial reads are the caller's buffer growing; nothing is kept between calls.
 * - Bounds: a control line longer than max_line is refused before its end is seen, and a
 *   payload size over max_payload is refused from the control line, so the caller never
 *   buffers more than max_line + max_payload + a few bytes.
 */
#include <string.h>
#include <strings.h>

#include "nats_internal.h"

#define BXN_MAX_ARGS 6

typedef struct bxn_arg {
  const char *p;
  size_t n;
} bxn_arg;

/* Splits line[0..n) at spaces and tabs into at most max args; returns how many, or -1 for too
 * many. */
static int np_split(const char *line, size_t n, bxn_arg *args, int max) {
  int k = 0;
  size_t i = 0;
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
      i++;
    if (i == n) break;
    size_t s = i;
    while (i < n && line[i] != ' ' && line[i] != '\t')
      i++;
    if (k == max) return -1;
    args[k].p = line + s;
    args[k].n = i - s;
    k++;
  }
  return k;
}

/* A decimal number of at most 19 digits; false otherwise. */
static bool np_number(const bxn_arg *a, uint64_t *out) {
  if (a->n == 0 || a->n > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < a->n; i++) {
    if (a->p[i] < '0' || a->p[i] > '9') return false;
    v = v * 10 + (uint64_t)(a->p[i] - '0');
  }
  *out = v;
  return true;
}

static int np_bad(bxn_op *op, const char *why) {
  op->text = why;
  op->text_len = strlen(why);
  return BXN_BAD;
}

static bool np_is(const char *p, size_t n, const char *word) {
  return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* MSG <subject> <sid> [reply] <#bytes> / HMSG <subject> <sid> [reply] <#hdr> <#total>. */
static int np_msg(const char *p, size_t n, size_t line_end, bool hdr, size_t max_payload,
                  bxn_op *op, size_t *used) {
  bxn_arg a[BXN_MAX_ARGS];
  int k = np_split(p, line_end, a, BXN_MAX_ARGS);
  int base = hdr ? 5 : 4; /* args without a reply subject, op name included */
  if (k != base && k != base + 1) return np_bad(op, "malformed MSG line");
  op->subject = a[1].p;
  op->subject_len = a[1].n;
  if (!np_number(&a[2], &op->sid)) return np_bad(op, "malformed MSG sid");
  op->reply = k == base + 1 ? a[3].p : NULL;
  op->reply_len = k == base + 1 ? a[3].n : 0;
  uint64_t hlen = 0, total = 0;
  if (!np_number(&a[k - 1], &total)) return np_bad(op, "malformed MSG size");
  if (hdr && (!np_number(&a[k - 2], &hlen) || hlen > total))
    return np_bad(op, "malformed HMSG header size");
  if (total > max_payload) return np_bad(op, "a message over max_payload");
  size_t start = line_end + 2;
  if (n - start < total + 2) return BXN_NEED;
  if (p[start + total] != '\r' || p[start + total + 1] != '\n')
    return np_bad(op, "a message payload not followed by CRLF");
  op->kind = BXN_OP_MSG;
  op->hdr = hdr ? p + start : NULL;
  op->hdr_len = (size_t)hlen;
  op->payload = p + start + hlen;
  op->payload_len = (size_t)(total - hlen);
  *used = start + (size_t)total + 2;
  return BXN_OK;
}

int bxn_parse(const char *p, size_t n, size_t max_line, size_t max_payload, bxn_op *op,
              size_t *used) {
  memset(op, 0, sizeof *op);
  *used = 0;
  size_t lim = n < max_line + 2 ? n : max_line + 2;
  const char *nl = memchr(p, '\n', lim);
  if (nl == NULL) return n >= max_line + 2 ? np_bad(op, "a control line over the limit") : BXN_NEED;
  size_t end = (size_t)(nl - p);
  if (end == 0 || p[end - 1] != '\r') return np_bad(op, "a control line not ended by CRLF");
  size_t line_end = end - 1;
  size_t w = 0;
  while (w < line_end && p[w] != ' ' && p[w] != '\t')
    w++;
  if (np_is(p, w, "MSG")) return np_msg(p, n, line_end, false, max_payload, op, used);
  if (np_is(p, w, "HMSG")) return np_msg(p, n, line_end, true, max_payload, op, used);
  *used = end + 1;
  const char *rest = p + w;
  size_t rest_n = line_end - w;
  while (rest_n > 0 && (*rest == ' ' || *rest == '\t')) {
    rest++;
    rest_n--;
  }
  if (np_is(p, w, "PING"))
    op->kind = BXN_OP_PING;
  else if (np_is(p, w, "PONG"))
    op->kind = BXN_OP_PONG;
  else if (np_is(p, w, "+OK"))
    op->kind = BXN_OP_OK;
  else if (np_is(p, w, "-ERR"))
    op->kind = BXN_OP_ERR;
  else if (np_is(p, w, "INFO"))
    op->kind = BXN_OP_INFO;
  else {
    *used = 0;
    return np_bad(op, "an unknown protocol operation");
  }
  op->text = rest;
  op->text_len = rest_n;
  return BXN_OK;
}

int bxn_header_status(const char *hdr, size_t len) {
  static const char v[] = "NATS/1.0";
  if (hdr == NULL || len < sizeof v - 1 || memcmp(hdr, v, sizeof v - 1) != 0) return 0;
  size_t i = sizeof v - 1;
  while (i < len && hdr[i] == ' ')
    i++;
  int code = 0, digits = 0;
  while (i < len && digits < 3 && hdr[i] >= '0' && hdr[i] <= '9') {
    code = code * 10 + (hdr[i] - '0');
    i++;
    digits++;
  }
  return digits == 3 ? code : 0;
}
