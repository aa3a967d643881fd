/* A box client (spec/telehash section 6): opens a "box" channel to a host, reads its response,
 * message packets and status answers, sends stores, removals, clears and the end.
 *
 * Design notes
 * - The host's first packet is the response; after it, a packet with a BODY and no "csid" is
 *   a message and anything else a status (6.3).
 * - Key info is checked before it is reported: "parts" must hold the base32 SHA-256 of the
 *   key, and the key must hash to the box's hashname (the one asked for, or the one the host
 *   picked). A mismatch ends the channel and reports CLOSED with BX_EAUTH.
 * - The client lives until its channel's CLOSED, which it reports once and then frees itself.
 */
#include "th_internal.h"

struct bx_th_box_client {
  bx_th_channel *ch;
  bx_th_box_cb cb;
  void *data;
  bool responded;
  int fail_status; /* 0, or the status CLOSED reports (BX_EAUTH) */
  char box[BX_TH_HASHNAME_LEN + 1];
};

/* Key info of a response: the key when parts and key agree with hn, else NULL. */
static bool bc_key_ok(const cJSON *head, const uint8_t *body, size_t len, const char *hn) {
  const cJSON *parts = cJSON_GetObjectItemCaseSensitive(head, "parts");
  const cJSON *p3a = cJSON_GetObjectItemCaseSensitive(parts, "3a");
  if (len != BX__TH_KEY || !cJSON_IsString(p3a)) return false;
  uint8_t part[BX__TH_KEY];
  char b32[BX_TH_HASHNAME_LEN + 1], of_key[BX_TH_HASHNAME_LEN + 1];
  bx__th_intermediate(body, BX__TH_KEY, part);
  bx__th_b32_encode(part, sizeof part, b32);
  if (strcmp(b32, p3a->valuestring) != 0) return false;
  bx_th_hashname_of_key(body, of_key);
  return strcmp(of_key, hn) == 0;
}

static int64_t bc_int(const cJSON *head, const char *name) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(head, name);
  return cJSON_IsNumber(it) ? (int64_t)it->valuedouble : 0;
}

static void bc_response(bx_th_box_client *c, const bx_th_chan_event *ev) {
  bx_th_box_event out = {.type = BX_TH_BOX_RESPONSE,
                         .cap = bc_int(ev->head, "cap"),
                         .waiting = bc_int(ev->head, "waiting")};
  const cJSON *box = cJSON_GetObjectItemCaseSensitive(ev->head, "box");
  if (cJSON_IsString(box)) {
    if (!bx__th_hashname_valid(box->valuestring)) {
      c->fail_status = BX_EBADMSG;
      bx_th_channel_fail(c->ch, "invalid box");
      return;
    }
    out.box = box->valuestring;
  }
  if (cJSON_GetObjectItemCaseSensitive(ev->head, "csid") != NULL) {
    const char *hn = out.box ? out.box : c->box;
    if (!bc_key_ok(ev->head, ev->body, ev->len, hn)) {
      c->fail_status = BX_EAUTH;
      bx_th_channel_fail(c->ch, "key does not match the box");
      return;
    }
    out.key = ev->body;
  }
  c->cb(c, &out, c->data);
}

static void bc_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)ch;
  bx_th_box_client *c = data;
  if (ev->type == BX_TH_CHAN_CLOSED) {
    bx_th_box_event out = {.type = BX_TH_BOX_CLOSED,
                           .status = c->fail_status ? c->fail_status : ev->status,
                           .err = ev->err};
    c->cb(c, &out, c->data);
    free(c);
    return;
  }
  if (!c->responded) {
    c->responded = true;
    bc_response(c, ev);
    return;
  }
  if (ev->len > 0 && cJSON_GetObjectItemCaseSensitive(ev->head, "csid") == NULL) {
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(ev->head, "key");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(ev->head, "from");
    if (!cJSON_IsString(key) || !cJSON_IsString(from)) {
      c->fail_status = BX_EBADMSG;
      bx_th_channel_fail(c->ch, "invalid message");
      return;
    }
    bx_th_box_event out = {.type = BX_TH_BOX_MESSAGE,
                           .id = key->valuestring,
                           .from = from->valuestring,
                           .msg = ev->body,
                           .len = ev->len};
    c->cb(c, &out, c->data);
    return;
  }
  bx_th_box_event out = {.type = BX_TH_BOX_STATUS, .cap = bc_int(ev->head, "cap"), .end = ev->end};
  c->cb(c, &out, c->data);
}

int bx_th_box_client_open(bx_th_link *link, const char *box, bool with_key, bool clear,
                          bx_th_box_cb cb, void *data, bx_th_box_client **out) {
  if (out != NULL) *out = NULL;
  if (link == NULL || cb == NULL || out == NULL) return BX_EINVAL;
  if (box != NULL && !bx__th_hashname_valid(box)) return BX_EINVAL;
  bx_th_box_client *c = bx__zalloc(sizeof *c);
  cJSON *head = cJSON_CreateObject();
  int rc = c && head ? 0 : BX_ENOMEM;
  if (rc == 0 && box != NULL) {
    snprintf(c->box, sizeof c->box, "%s", box);
    if (cJSON_AddStringToObject(head, "box", box) == NULL) rc = BX_ENOMEM;
  }
  if (rc == 0 && with_key && cJSON_AddStringToObject(head, "csid", "3a") == NULL) rc = BX_ENOMEM;
  if (rc == 0 && clear && cJSON_AddTrueToObject(head, "clear") == NULL) rc = BX_ENOMEM;
  c->cb = cb;
  c->data = data;
  if (rc == 0)
    rc = bx_th_channel_open(link, "box", true, head, with_key ? link->ep->pk : NULL,
                            with_key ? BX__TH_KEY : 0, bc_cb, c, &c->ch);
  cJSON_Delete(head);
  if (rc != 0) {
    free(c);
    return rc;
  }
  *out = c;
  return 0;
}

static bool bc_hex64(const char *s) {
  if (strlen(s) != BX_TH_BOX_ID_LEN) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
      return false;
  return true;
}

int bx_th_box_client_send(bx_th_box_client *c, const bx_th_box_op *op) {
  if (c == NULL || op == NULL || (op->msg == NULL && op->len > 0)) return BX_EINVAL;
  if (op->id != NULL && !bc_hex64(op->id)) return BX_EINVAL;
  if (op->len > BX_TH_BOX_MAX_MSG) return BX_EMSGSIZE;
  cJSON *head = cJSON_CreateObject();
  if (head == NULL) return BX_ENOMEM;
  int rc = 0;
  if (op->clear && cJSON_AddTrueToObject(head, "clear") == NULL) rc = BX_ENOMEM;
  if (rc == 0 && op->id != NULL && cJSON_AddStringToObject(head, "key", op->id) == NULL)
    rc = BX_ENOMEM;
  if (rc == 0 && op->len > 0 && op->expire_s > 0 &&
      cJSON_AddNumberToObject(head, "expire", op->expire_s) == NULL)
    rc = BX_ENOMEM;
  if (rc == 0) rc = bx_th_channel_send(c->ch, head, op->msg, op->len, op->end);
  cJSON_Delete(head);
  return rc;
}

void bx_th_box_client_cancel(bx_th_box_client *c) {
  if (c != NULL) bx_th_channel_fail(c->ch, "closed");
}
