/* Channels on a link: opening, dispatch of what arrives, reliability, ending (spec/telehash
 * section 4, "Channels").
 *
 * Design notes
 * - Ids by order parity: the ODD side opens 1, 3, 5 ..., the EVEN side 2, 4, 6 .... An incoming
 *   packet for no open channel opens one when it has a "type", an id of the peer's parity and
 *   an id above every one the peer opened before in this session (so a late copy of an old
 *   open does not reopen it); opens of a type without a handler get {"err":"unknown type"}
 *   (telehash-js's "path" channel included: answered, never logged).
 * - Reliable channels (the open has "seq"): our packets carry seq 1, 2, ... and are kept,
 *   head and body, until an "ack" covers them; every packet we send carries our "ack" (the
 *   highest seq delivered in order) and, when packets arrived out of order, "miss": offsets
 *   from ack to each missing seq, then to the end of our window (as e3x writes it). A "miss"
 *   we receive resends those packets at once; otherwise the oldest unacknowledged packet is
 *   resent every chan_resend_ms, and a channel whose acks have not moved for chan_timeout_ms
 *   ends with BX_ETIMEDOUT. Out-of-order packets wait in a ring of BX__TH_WINDOW slots; a
 *   duplicate is acknowledged again and dropped. An ack-only packet goes from a queued task
 *   after input, so one burst of packets is acknowledged once.
 * - Ends. A packet with "end":true is the sender's last; the channel is done when both sides
 *   ended (and, reliable, everything we sent was acknowledged). "err" ends it at once. Either
 *   way CLOSED is reported once, from a queued task that then frees the channel, so the
 *   channel stays valid for the rest of the callback that ended it.
 */
#include "th_internal.h"

typedef struct ch_out { /* a reliable packet we sent and keep until acknowledged */
  bx__tlink node;
  uint32_t seq;
  uint64_t sent_at;
  cJSON *head; /* without c / ack / miss: those are written fresh at each send */
  size_t len;
  uint8_t body[];
} ch_out;

struct bx__th_held { /* an inner packet that arrived ahead of its turn */
  uint32_t seq;
  size_t len;
  uint8_t data[];
};

static void ch_timer_fire(bx__deadline *d);

static bx_th_channel *ch_of_timer(bx__deadline *d) {
  return (bx_th_channel *)((char *)d - offsetof(bx_th_channel, timer));
}

static bx_th_endpoint *ch_ep(bx_th_channel *ch) {
  return ch->link->ep;
}

uint32_t bx_th_channel_id(const bx_th_channel *ch) {
  return ch ? ch->id : 0;
}
const char *bx_th_channel_type(const bx_th_channel *ch) {
  return ch ? ch->type : NULL;
}
bx_th_link *bx_th_channel_link(const bx_th_channel *ch) {
  return ch ? ch->link : NULL;
}
bool bx_th_channel_reliable(const bx_th_channel *ch) {
  return ch != NULL && ch->reliable;
}
void bx_th_channel_set_cb(bx_th_channel *ch, bx_th_chan_cb cb, void *data) {
  if (ch == NULL) return;
  ch->cb = cb;
  ch->data = data;
}

/* ---- making, closing, freeing -----------------------------------------------------------------
 */

static bx_th_channel *ch_new(bx_th_link *k, uint32_t id, const char *type, bool reliable) {
  bx_th_channel *ch = bx__zalloc(sizeof *ch);
  if (ch == NULL) return NULL;
  ch->type = bx__strdup(type);
  if (ch->type == NULL) {
    free(ch);
    return NULL;
  }
  ch->link = k;
  ch->id = id;
  ch->reliable = reliable;
  ch->seq_next = 1;
  ch->in_next = 1;
  bx__tlink_init(&ch->unacked);
  bx__tlink_append(&k->chans, &ch->node);
  return ch;
}

static void ch_drop_state(bx_th_channel *ch) {
  while (bx__tlink_listed(&ch->unacked)) {
    ch_out *o = (ch_out *)ch->unacked.next;
    bx__tlink_remove(&o->node);
    cJSON_Delete(o->head);
    free(o);
  }
  for (int i = 0; i < BX__TH_WINDOW; i++) {
    free(ch->ahead[i]);
    ch->ahead[i] = NULL;
  }
}

static void ch_closed_task(void *a, void *b) {
  bx_th_channel *ch = a;
  char *err = b;
  bx_th_endpoint *ep = ch_ep(ch);
  if (ch->cb != NULL) {
    bx_th_chan_event ev = {.type = BX_TH_CHAN_CLOSED, .status = ch->close_status, .err = err};
    ch->cb(ch, &ev, ch->data);
  }
  free(err);
  free(ch->type);
  free(ch);
  bx__th_ep_task_done(ep);
}

/* Ends ch with status (err: the peer's text for BX_EREMOTE, copied); CLOSED follows from the
 * run queue. */
static void ch_close(bx_th_channel *ch, int status, const char *err) {
  if (ch->closed) return;
  ch->closed = true;
  ch->close_status = status;
  bx__tlink_remove(&ch->node);
  bx__deadline_stop(ch_ep(ch)->ctx, &ch->timer);
  ch_drop_state(ch);
  bx__th_ep_defer(ch_ep(ch), ch_closed_task, ch, err ? bx__strdup(err) : NULL);
}

void bx__th_chans_close_all(bx_th_link *k, int status) {
  while (bx__tlink_listed(&k->chans))
    ch_close((bx_th_channel *)k->chans.next, status, NULL);
}

/* ---- writing ----------------------------------------------------------------------------------
 */

/* Adds our "ack" and "miss" to head. */
static int ch_add_ack(bx_th_channel *ch, cJSON *head) {
  if (!ch->in_started) return 0;
  uint32_t ack = ch->in_next - 1;
  if (cJSON_AddNumberToObject(head, "ack", ack) == NULL) return BX_ENOMEM;
  ch->ack_sent = ack;
  ch->ack_due = false;
  uint32_t last = 0;
  for (uint32_t s = ch->in_next + 1; s < ch->in_next + BX__TH_WINDOW; s++) {
    struct bx__th_held *h = ch->ahead[s % BX__TH_WINDOW];
    if (h != NULL && h->seq == s) last = s;
  }
  if (last == 0) return 0;
  cJSON *miss = cJSON_AddArrayToObject(head, "miss");
  if (miss == NULL) return BX_ENOMEM;
  uint32_t prev = ack;
  for (uint32_t s = ch->in_next; s < last; s++) {
    struct bx__th_held *h = ch->ahead[s % BX__TH_WINDOW];
    if (h != NULL && h->seq == s) continue;
    cJSON_AddItemToArray(miss, cJSON_CreateNumber(s - prev));
    prev = s;
  }
  cJSON_AddItemToArray(miss, cJSON_CreateNumber(ack + BX__TH_WINDOW - prev));
  return 0;
}

/* Sends one packet of ch: base (borrowed) plus "c" (and ack / miss when reliable). */
static int ch_write(bx_th_channel *ch, const cJSON *base, const uint8_t *body, size_t len) {
  cJSON *head = base ? cJSON_Duplicate(base, true) : cJSON_CreateObject();
  if (head == NULL) return BX_ENOMEM;
  int rc = cJSON_AddNumberToObject(head, "c", ch->id) == NULL ? BX_ENOMEM : 0;
  if (rc == 0 && ch->reliable) rc = ch_add_ack(ch, head);
  bx_buf buf = {0};
  if (rc == 0) rc = bx__th_lob_append_json(&buf, head, body, len);
  cJSON_Delete(head);
  if (rc == 0) rc = bx__th_link_send_inner(ch->link, (uint8_t *)buf.base, buf.len);
  bx_buf_free(&buf);
  return rc;
}

static void ch_resend(bx_th_channel *ch, ch_out *o) {
  o->sent_at = bx__th_now(ch_ep(ch));
  ch_write(ch, o->head, o->len ? o->body : NULL, o->len);
}

static void ch_arm(bx_th_channel *ch) {
  bx__deadline_start(ch_ep(ch)->ctx, &ch->timer, ch_ep(ch)->opts.chan_resend_ms, ch_timer_fire);
}

static void ch_timer_fire(bx__deadline *d) {
  bx_th_channel *ch = ch_of_timer(d);
  bx_th_endpoint *ep = ch_ep(ch);
  if (ch->closed || ep->closing || !bx__tlink_listed(&ch->unacked)) return;
  if (bx__th_now(ep) - ch->last_progress >= ep->opts.chan_timeout_ms) {
    cJSON *h = cJSON_CreateObject();
    if (h != NULL && cJSON_AddStringToObject(h, "err", "timeout") != NULL) ch_write(ch, h, NULL, 0);
    cJSON_Delete(h);
    ch_close(ch, BX_ETIMEDOUT, NULL);
    return;
  }
  ch_resend(ch, (ch_out *)ch->unacked.next);
  ch_arm(ch);
}

void bx__th_chans_flush(bx_th_link *k) {
  uint64_t now = bx__th_now(k->ep);
  for (bx__tlink *n = k->chans.next; n != &k->chans; n = n->next) {
    bx_th_channel *ch = (bx_th_channel *)n;
    if (!ch->reliable || !bx__tlink_listed(&ch->unacked)) continue;
    ch->last_progress = now;
    for (bx__tlink *m = ch->unacked.next; m != &ch->unacked; m = m->next)
      ch_resend(ch, (ch_out *)m);
    ch_arm(ch);
  }
}

static bool ch_reserved(const char *name) {
  static const char *const names[] = {"c", "seq", "ack", "miss", "end", "err", "type"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) return true;
  return false;
}

/* Sends a packet of ours: extra's fields, type (the open), end. */
static int ch_send(bx_th_channel *ch, const cJSON *extra, const char *type, const uint8_t *body,
                   size_t len, bool end) {
  if (extra != NULL && !cJSON_IsObject(extra)) return BX_EINVAL;
  if (body == NULL && len > 0) return BX_EINVAL;
  if (ch->reliable && bx__th_lob_size(0, len) > BX__TH_MAX_PACKET - 1024) return BX_EMSGSIZE;
  cJSON *head = extra ? cJSON_Duplicate(extra, true) : cJSON_CreateObject();
  if (head == NULL) return BX_ENOMEM;
  int rc = 0;
  for (const cJSON *it = head->child; it != NULL && rc == 0; it = it->next)
    if (it->string == NULL || ch_reserved(it->string)) rc = BX_EINVAL;
  if (rc == 0 && type != NULL && cJSON_AddStringToObject(head, "type", type) == NULL)
    rc = BX_ENOMEM;
  if (rc == 0 && end && cJSON_AddTrueToObject(head, "end") == NULL) rc = BX_ENOMEM;
  if (rc == 0 && ch->reliable && cJSON_AddNumberToObject(head, "seq", ch->seq_next) == NULL)
    rc = BX_ENOMEM;
  if (rc != 0 || !ch->reliable) {
    if (rc == 0) rc = ch_write(ch, head, body, len);
    cJSON_Delete(head);
    return rc;
  }
  ch_out *o = malloc(sizeof *o + len);
  if (o == NULL) {
    cJSON_Delete(head);
    return BX_ENOMEM;
  }
  o->seq = ch->seq_next;
  o->head = head;
  o->len = len;
  if (len) memcpy(o->body, body, len);
  o->sent_at = bx__th_now(ch_ep(ch));
  rc = ch_write(ch, head, body, len);
  if (rc != 0 && rc != BX_ECONNLOST) { /* kept and sent later when only the link is missing */
    cJSON_Delete(head);
    free(o);
    return rc;
  }
  if (!bx__tlink_listed(&ch->unacked)) ch->last_progress = o->sent_at;
  ch->seq_next++;
  bx__tlink_append(&ch->unacked, &o->node);
  if (!bx__deadline_pending(&ch->timer)) ch_arm(ch);
  return 0;
}

static size_t ch_unacked_count(bx_th_channel *ch) {
  size_t n = 0;
  for (bx__tlink *m = ch->unacked.next; m != &ch->unacked; m = m->next)
    n++;
  return n;
}

/* Done both ways (and everything acknowledged)? Then CLOSED with 0. */
static void ch_check_done(bx_th_channel *ch) {
  if (ch->closed || !ch->sent_end || !ch->got_end) return;
  if (ch->reliable && bx__tlink_listed(&ch->unacked)) return;
  ch_close(ch, 0, NULL);
}

/* ---- the public side --------------------------------------------------------------------------
 */

int bx_th_channel_open(bx_th_link *link, const char *type, bool reliable, const cJSON *head,
                       const uint8_t *body, size_t len, bx_th_chan_cb cb, void *data,
                       bx_th_channel **out) {
  if (out != NULL) *out = NULL;
  if (link == NULL || type == NULL || type[0] == '\0' || cb == NULL || out == NULL)
    return BX_EINVAL;
  if (link->ep->closing) return BX_ECLOSED;
  if (!reliable && !link->up) return BX_ECONNLOST;
  bx_th_channel *ch = ch_new(link, link->next_cid, type, reliable);
  if (ch == NULL) return BX_ENOMEM;
  int rc = ch_send(ch, head, type, body, len, false);
  if (rc != 0) {
    bx__tlink_remove(&ch->node);
    ch_drop_state(ch);
    bx__deadline_stop(link->ep->ctx, &ch->timer);
    free(ch->type);
    free(ch);
    return rc;
  }
  link->next_cid += 2;
  ch->cb = cb;
  ch->data = data;
  ch->accepted = true;
  *out = ch;
  return 0;
}

int bx_th_channel_send(bx_th_channel *ch, const cJSON *head, const uint8_t *body, size_t len,
                       bool end) {
  if (ch == NULL) return BX_EINVAL;
  if (ch->closed || ch->sent_end || ch_ep(ch)->closing) return BX_ECLOSED;
  if (ch->reliable && ch_unacked_count(ch) >= BX__TH_WINDOW) return BX_EQUEUEFULL;
  int rc = ch_send(ch, head, NULL, body, len, end);
  if (rc != 0) return rc;
  if (end) {
    ch->sent_end = true;
    ch_check_done(ch);
  }
  return 0;
}

int bx_th_channel_fail(bx_th_channel *ch, const char *err) {
  if (ch == NULL) return BX_EINVAL;
  if (ch->closed) return BX_ECLOSED;
  cJSON *h = cJSON_CreateObject();
  if (h != NULL && cJSON_AddStringToObject(h, "err", err ? err : "closed") != NULL)
    ch_write(ch, h, NULL, 0);
  cJSON_Delete(h);
  ch_close(ch, BX_ECANCELED, NULL);
  return 0;
}

/* ---- input ------------------------------------------------------------------------------------
 */

static bool ch_uint(const cJSON *head, const char *name, uint32_t *v) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(head, name);
  if (!cJSON_IsNumber(it)) return false;
  double d = it->valuedouble;
  if (!(d >= 0 && d <= (double)UINT32_MAX) || (double)(uint32_t)d != d) return false;
  *v = (uint32_t)d;
  return true;
}

/* Hands one in-order packet to the user. */
static void ch_deliver(bx_th_channel *ch, const bx__th_lob *lob) {
  const cJSON *end = cJSON_GetObjectItemCaseSensitive(lob->json, "end");
  bx_th_chan_event ev = {.type = BX_TH_CHAN_PACKET,
                         .head = lob->json,
                         .body = lob->body_len ? lob->body : NULL,
                         .len = lob->body_len,
                         .end = cJSON_IsTrue(end)};
  if (ev.end) ch->got_end = true;
  if (!ch->accepted) {
    ch->accepted = true;
    bx__th_handler *h = ch->handler;
    if (h != NULL) h->cb(ch, &ev, h->data);
    if (!ch->closed && ch->cb == NULL) bx_th_channel_fail(ch, "refused");
  } else if (ch->cb != NULL) {
    ch->cb(ch, &ev, ch->data);
  }
  ch_check_done(ch);
}

static void ch_ack_task(void *a, void *b) {
  bx_th_channel *ch = a;
  bx_th_endpoint *ep = b;
  /* a channel that just ended cleanly still acknowledges the peer's last packet, or the peer
   * resends its end until it times out */
  bool ok = !ch->closed || ch->close_status == 0;
  if (ok && !ep->closing && ch->ack_due) ch_write(ch, NULL, NULL, 0);
  ch->ack_queued = false;
  bx__th_ep_task_done(ep);
}

static void ch_want_ack(bx_th_channel *ch) {
  ch->ack_due = true;
  if (ch->ack_queued) return;
  ch->ack_queued = true;
  bx__th_ep_defer(ch_ep(ch), ch_ack_task, ch, ch_ep(ch));
}

static void ch_acked(bx_th_channel *ch, uint32_t ack, const cJSON *miss) {
  bool moved = false;
  while (bx__tlink_listed(&ch->unacked)) {
    ch_out *o = (ch_out *)ch->unacked.next;
    if (o->seq > ack) break;
    bx__tlink_remove(&o->node);
    cJSON_Delete(o->head);
    free(o);
    moved = true;
  }
  uint64_t now = bx__th_now(ch_ep(ch));
  if (moved) ch->last_progress = now;
  if (!bx__tlink_listed(&ch->unacked)) {
    bx__deadline_stop(ch_ep(ch)->ctx, &ch->timer);
    return;
  }
  if (!cJSON_IsArray(miss)) return;
  uint64_t s = ack;
  for (const cJSON *it = miss->child; it != NULL && it->next != NULL; it = it->next) {
    if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > BX__TH_WINDOW) return;
    s += (uint64_t)it->valuedouble;
    for (bx__tlink *m = ch->unacked.next; m != &ch->unacked; m = m->next) {
      ch_out *o = (ch_out *)m;
      if (o->seq != s) continue;
      /* at most once per quarter resend interval: a burst of misses resends once */
      if (now - o->sent_at >= ch_ep(ch)->opts.chan_resend_ms / 4) ch_resend(ch, o);
      break;
    }
  }
}

/* A reliable packet with its seq: delivered in order, held, or dropped. raw/raw_len is the
 * inner packet lob was parsed from (borrowed). */
static void ch_in_seq(bx_th_channel *ch, const bx__th_lob *lob, uint32_t seq, const uint8_t *raw,
                      size_t raw_len) {
  bx_th_endpoint *ep = ch_ep(ch);
  if (seq < ch->in_next) { /* a copy of one delivered: its ack was lost */
    ch_want_ack(ch);
    return;
  }
  if (seq - ch->in_next >= BX__TH_WINDOW) {
    bx__th_drop(ep, ch->link, &ep->stats.bad_channel);
    return;
  }
  ch_want_ack(ch);
  if (seq > ch->in_next) {
    struct bx__th_held **slot = &ch->ahead[seq % BX__TH_WINDOW];
    if (*slot != NULL && (*slot)->seq == seq) return; /* held already */
    struct bx__th_held *h = malloc(sizeof *h + raw_len);
    if (h == NULL) return; /* it will be resent */
    free(*slot);
    h->seq = seq;
    h->len = raw_len;
    memcpy(h->data, raw, raw_len);
    *slot = h;
    return;
  }
  ch->in_next++;
  ch_deliver(ch, lob);
  while (!ch->closed && !ep->closing) {
    struct bx__th_held **slot = &ch->ahead[ch->in_next % BX__TH_WINDOW];
    struct bx__th_held *h = *slot;
    if (h == NULL || h->seq != ch->in_next) break;
    *slot = NULL;
    bx__th_lob next;
    if (bx__th_lob_parse(h->data, h->len, &next) == 0) {
      ch->in_next++;
      ch_deliver(ch, &next);
      bx__th_lob_clear(&next);
    }
    free(h);
  }
}

static void ch_in(bx_th_channel *ch, bx__th_lob *lob, const uint8_t *raw, size_t raw_len) {
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(lob->json, "err");
  if (err != NULL) {
    ch_close(ch, BX_EREMOTE, cJSON_IsString(err) ? err->valuestring : "error");
    return;
  }
  if (!ch->reliable) {
    ch_deliver(ch, lob);
    return;
  }
  uint32_t ack, seq;
  if (ch_uint(lob->json, "ack", &ack))
    ch_acked(ch, ack, cJSON_GetObjectItemCaseSensitive(lob->json, "miss"));
  if (ch_uint(lob->json, "seq", &seq)) {
    if (!ch->in_started) {
      ch->in_started = true;
      if (!ch->accepted) ch->in_next = seq; /* the open says where the peer starts: 0 or 1 */
    }
    ch_in_seq(ch, lob, seq, raw, raw_len);
  }
  ch_check_done(ch);
}

static bx_th_channel *ch_find(bx_th_link *k, uint32_t id) {
  for (bx__tlink *n = k->chans.next; n != &k->chans; n = n->next)
    if (((bx_th_channel *)n)->id == id) return (bx_th_channel *)n;
  return NULL;
}

static bx__th_handler *ch_handler(bx_th_endpoint *ep, const char *type) {
  for (bx__th_handler *h = ep->handlers; h != NULL; h = h->next)
    if (strcmp(h->type, type) == 0) return h;
  return NULL;
}

void bx__th_chan_in(bx_th_link *k, bx__th_lob *lob) {
  bx_th_endpoint *ep = k->ep;
  uint32_t id;
  if (!ch_uint(lob->json, "c", &id) || id == 0) {
    bx__th_drop(ep, k, &ep->stats.bad_json);
    return;
  }
  /* the raw inner packet, for holding it: the LOB's head and body are contiguous */
  const uint8_t *raw = lob->head - 2;
  size_t raw_len = 2 + lob->head_len + lob->body_len;
  bx_th_channel *ch = ch_find(k, id);
  if (ch != NULL) {
    ch_in(ch, lob, raw, raw_len);
    return;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(lob->json, "type");
  bool theirs = (id & 1u) != (k->order == BX__TH_ODD ? 1u : 0u);
  if (!cJSON_IsString(type) || !theirs || id <= k->max_in_cid ||
      cJSON_GetObjectItemCaseSensitive(lob->json, "err") != NULL) {
    bx__th_drop(ep, k, &ep->stats.bad_channel);
    return;
  }
  k->max_in_cid = id;
  bool reliable = cJSON_GetObjectItemCaseSensitive(lob->json, "seq") != NULL;
  bx__th_handler *h = ch_handler(ep, type->valuestring);
  ch = ch_new(k, id, type->valuestring, reliable);
  if (ch == NULL) return;
  ch->handler = h;
  if (h == NULL) { /* answered, then gone */
    bx_th_channel_fail(ch, "unknown type");
    return;
  }
  ch_in(ch, lob, raw, raw_len);
}
