/* A box host (spec/telehash section 6): answers "box" channels, keeps messages for hashnames,
 * advertises "box":[W,C] in its link handshakes.
 *
 * Design notes
 * - The open is validated completely before anything changes (6.1), in the order the spec
 *   lists its errors; a later packet likewise (6.4), so an `err` always leaves the store as it
 *   was. Then: clear, store (or remove by key), answer. Everything a packet changes happens in
 *   one persistence transaction (bx__bs_begin / bx__bs_end) before the answer and before the
 *   channel layer acknowledges the packet (its ack goes from a task queued after this
 *   callback), so a message is acknowledged only once stored.
 * - Modes (6.2): SELF (box = client: everything to it), PEER (box = another: to the client
 *   from box; stores go to box), PICK (no box: the sender of the oldest message waiting, then
 *   PEER), NONE (pick with nothing waiting: stores answer "no box").
 * - Live delivery: a message stored while a channel whose scope holds it is open is sent to
 *   it; a channel whose window is full skips it (the message stays stored: the client opens
 *   again), counted in errors? no: it is simply not live.
 * - Expiry: before each packet, and on a deadline at the earliest expiry (at most a minute
 *   away, so a clock moved by hand is seen); the store pops due messages from its heap.
 * - The advertisement: a recipient whose count of boxes changed is marked; after the packet
 *   (or expiry run) each marked recipient with an UP link gets one same-`at` handshake.
 * - Bounds: max_channels host-wide and max_per_link per client ("busy"); a client that never
 *   acknowledges is timed out by the channel layer; batches stay below the window.
 */
#include "th_internal.h"

#include <time.h>

#define HB_ERR_RELIABLE "box needs a reliable channel (seq 0 or 1)"

typedef enum { HB_SELF = 1, HB_PEER, HB_NONE } hb_mode;

typedef struct hb_chan {
  bx__tlink node; /* in h->chans */
  bx_th_box_host *h;
  bx_th_channel *ch;
  hb_mode mode;
  bool picked; /* PEER by pick mode */
  char client[BX_TH_HASHNAME_LEN + 1];
  char box[BX_TH_HASHNAME_LEN + 1]; /* B (PEER), the client (SELF), "" (NONE) */
} hb_chan;

struct bx_th_box_host {
  bx_th_endpoint *ep;
  bx_th_box_host_opts o;
  bx__bs store;
  bx__tlink chans;
  size_t nchans;
  bx__map *dirty; /* recipients whose advertisement changed */
  bx__deadline timer;
  uint64_t delivered, errors, busy, forged;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static uint64_t hb_now(bx_th_box_host *h) {
  if (h->o.now_ms != NULL) return h->o.now_ms(h->o.now_data);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t hb_cap_of(bx_th_box_host *h, const char *to, const char *from) {
  bx__bs_box *b = bx__bs_box_get(&h->store, to, from);
  int64_t n = b ? (int64_t)b->n : 0;
  return (int64_t)h->o.cap - n;
}

/* Room in the box the channel stores to. */
static int64_t hb_chan_cap(hb_chan *c) {
  if (c->mode == HB_NONE) return 0;
  return hb_cap_of(c->h, c->box, c->client);
}

static bool hb_hex64(const char *s) {
  if (s == NULL || strlen(s) != BX_TH_BOX_ID_LEN) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
      return false;
  return true;
}

/* A "box" value: 52 lower-case base32 or 64 hex digits, written into hn as base32. */
static bool hb_parse_box(const cJSON *it, char hn[BX_TH_HASHNAME_LEN + 1]) {
  if (!cJSON_IsString(it)) return false;
  const char *s = it->valuestring;
  if (bx__th_hashname_valid(s)) {
    snprintf(hn, BX_TH_HASHNAME_LEN + 1, "%s", s);
    return true;
  }
  uint8_t bin[BX__TH_KEY];
  size_t n = 0;
  if (!hb_hex64(s) || sodium_hex2bin(bin, sizeof bin, s, 64, NULL, &n, NULL) != 0 ||
      n != sizeof bin)
    return false;
  bx__th_b32_encode(bin, sizeof bin, hn);
  return true;
}

/* The key of a hashname: learnt from an open, or the endpoint's link to it. */
static const uint8_t *hb_key_of(bx_th_box_host *h, const char *hn) {
  const uint8_t *k = bx__bs_key_get(&h->store, hn);
  if (k != NULL) return k;
  bx_th_link *link = bx_th_endpoint_link(h->ep, hn);
  return link ? link->key : NULL;
}

/* A transaction failed: memory goes back to what the file holds. */
static void hb_reload(bx_th_box_host *h) {
  int rc = bx__bs_reload(&h->store);
  if (rc != 0)
    bx_log(h->ep->ctx, BX_LOG_ERROR, "telehash box host: reloading the store failed (%s)",
           bx_err_name(rc));
}

/* ---- the advertisement ---------------------------------------------------------------------- */

static cJSON *hb_hs_extra(bx_th_link *k, void *data) {
  bx_th_box_host *h = data;
  bx__bs_rcpt *r = bx__bs_rcpt_get(&h->store, k->hashname);
  cJSON *extra = cJSON_CreateObject();
  cJSON *arr = extra ? cJSON_AddArrayToObject(extra, "box") : NULL;
  if (arr == NULL) {
    cJSON_Delete(extra);
    return NULL;
  }
  cJSON_AddItemToArray(arr, cJSON_CreateNumber(r ? (double)r->boxes : 0));
  cJSON_AddItemToArray(arr, cJSON_CreateNumber(h->o.cap));
  return extra;
}

static void hb_on_boxes(const char *to, size_t boxes, void *data) {
  (void)boxes;
  bx_th_box_host *h = data;
  bx__map_put(h->dirty, to, h, NULL); /* a lost mark only delays an advertisement */
}

static void hb_flush_adverts(bx_th_box_host *h) {
  size_t pos = 0;
  const char *hn;
  void *v;
  while (bx__map_next(h->dirty, &pos, &hn, &v)) {
    bx_th_link *k = bx_th_endpoint_link(h->ep, hn);
    if (k != NULL) bx__th_link_rehandshake(k);
    bx__map_del(h->dirty, hn);
  }
}

void bx__th_link_note_advert(bx_th_link *k, const cJSON *head) {
  const cJSON *box = cJSON_GetObjectItemCaseSensitive(head, "box");
  if (!cJSON_IsArray(box) || cJSON_GetArraySize(box) != 2) return;
  const cJSON *w = cJSON_GetArrayItem(box, 0), *c = cJSON_GetArrayItem(box, 1);
  if (!cJSON_IsNumber(w) || !cJSON_IsNumber(c) || w->valuedouble < 0 || c->valuedouble < 0 ||
      w->valuedouble > UINT32_MAX || c->valuedouble > UINT32_MAX)
    return;
  k->box_adv = true;
  k->box_w = (uint32_t)w->valuedouble;
  k->box_c = (uint32_t)c->valuedouble;
}

bool bx_th_link_box_advert(const bx_th_link *link, uint32_t *w, uint32_t *c) {
  if (link == NULL || !link->box_adv) return false;
  if (w != NULL) *w = link->box_w;
  if (c != NULL) *c = link->box_c;
  return true;
}

/* ---- expiry --------------------------------------------------------------------------------- */

static void hb_timer_fire(bx__deadline *d);

static void hb_arm(bx_th_box_host *h) {
  uint64_t next = bx__bs_next_expiry(&h->store);
  if (next == 0) {
    bx__deadline_stop(h->ep->ctx, &h->timer);
    return;
  }
  uint64_t now = hb_now(h), ms = next > now ? next - now : 1;
  if (ms > 60000) ms = 60000;
  bx__deadline_start(h->ep->ctx, &h->timer, ms, hb_timer_fire);
}

size_t bx_th_box_host_expire(bx_th_box_host *h) {
  if (h == NULL) return 0;
  bx__bs_begin(&h->store);
  size_t n = bx__bs_expire(&h->store, hb_now(h));
  if (bx__bs_end(&h->store) != 0) hb_reload(h); /* they expire again next time */
  hb_flush_adverts(h);
  hb_arm(h);
  return n;
}

static void hb_timer_fire(bx__deadline *d) {
  bx_th_box_host *h = (bx_th_box_host *)((char *)d - offsetof(bx_th_box_host, timer));
  bx_th_box_host_expire(h);
}

/* ---- sending -------------------------------------------------------------------------------- */

static int hb_send_msg(hb_chan *c, const bx__bs_msg *m) {
  cJSON *head = cJSON_CreateObject();
  if (head == NULL || cJSON_AddStringToObject(head, "key", m->id) == NULL ||
      cJSON_AddStringToObject(head, "from", m->box->from) == NULL) {
    cJSON_Delete(head);
    return BX_ENOMEM;
  }
  int rc = bx_th_channel_send(c->ch, head, m->data, m->len, false);
  cJSON_Delete(head);
  if (rc == 0) c->h->delivered++;
  return rc;
}

static void hb_fail(hb_chan *c, bx_th_channel *ch, bx_th_box_host *h, const char *err) {
  h->errors++;
  bx_th_channel_fail(ch, err);
  (void)c;
}

/* Does c's scope deliver m (to c->client)? */
static bool hb_in_scope(const hb_chan *c, const bx__bs_msg *m) {
  if (strcmp(m->box->to, c->client) != 0) return false;
  if (c->mode == HB_SELF) return true;
  return c->mode == HB_PEER && strcmp(m->box->from, c->box) == 0;
}

static void hb_live(bx_th_box_host *h, const bx__bs_msg *m) {
  for (bx__tlink *n = h->chans.next; n != &h->chans; n = n->next) {
    hb_chan *c = (hb_chan *)n;
    if (hb_in_scope(c, m)) hb_send_msg(c, m); /* a full window: it stays stored */
  }
}

/* ---- scope changes -------------------------------------------------------------------------- */

static void hb_clear(hb_chan *c) {
  bx__bs *s = &c->h->store;
  if (c->mode == HB_SELF) {
    bx__bs_clear(s, c->client, NULL);
  } else if (c->mode == HB_PEER) {
    bx__bs_clear(s, c->client, c->box);
    bx__bs_clear(s, c->box, c->client);
  }
}

static void hb_remove(hb_chan *c, const char *id) {
  bx__bs *s = &c->h->store;
  if (c->mode == HB_SELF) {
    /* every message to the client: the id may be in any of its boxes */
    bx__bs_rcpt *r = bx__bs_rcpt_get(s, c->client);
    if (r == NULL) return;
    for (bx__tlink *n = r->msgs.next; n != &r->msgs; n = n->next) {
      bx__bs_msg *m = BX__BS_IN_TO(n);
      if (strcmp(m->id, id) == 0) {
        bx__bs_del(s, m, BX__BS_REMOVED);
        return;
      }
    }
  } else if (c->mode == HB_PEER) {
    if (!bx__bs_remove(s, c->client, c->box, id)) bx__bs_remove(s, c->box, c->client, id);
  }
}

/* ---- the open ------------------------------------------------------------------------------- */

static void hb_chan_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data);

static size_t hb_count_link(bx_th_box_host *h, bx_th_link *k) {
  size_t n = 0;
  for (bx__tlink *it = h->chans.next; it != &h->chans; it = it->next)
    if (bx_th_channel_link(((hb_chan *)it)->ch) == k) n++;
  return n;
}

/* Checks the open (6.1); "" when it is good, else the err text. */
static const char *hb_check_open(bx_th_box_host *h, bx_th_channel *ch, const bx_th_chan_event *ev,
                                 char box[BX_TH_HASHNAME_LEN + 1], bool *has_box, bool *has_csid) {
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev->head, "seq");
  if (!bx_th_channel_reliable(ch) || !cJSON_IsNumber(seq) ||
      (seq->valuedouble != 0 && seq->valuedouble != 1))
    return HB_ERR_RELIABLE;
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(ev->head, "box");
  *has_box = b != NULL;
  if (b != NULL && !hb_parse_box(b, box)) return "invalid box";
  const cJSON *csid = cJSON_GetObjectItemCaseSensitive(ev->head, "csid");
  *has_csid = csid != NULL;
  if (csid == NULL) return "";
  if (!cJSON_IsString(csid) || strcmp(csid->valuestring, "3a") != 0) return "unsupported csid";
  if (ev->len != BX__TH_KEY) return "invalid client key";
  if (sodium_memcmp(ev->body, bx_th_channel_link(ch)->key, BX__TH_KEY) != 0)
    return "client key does not match the link";
  (void)h;
  return "";
}

/* The response (6.3 step 1) and the first batch. */
static int hb_respond(hb_chan *c, bool key_info) {
  bx_th_box_host *h = c->h;
  bx__bs *s = &h->store;
  /* the batch: SELF every message to the client; PEER the box (client, B) */
  const bx__bs_msg *batch[64];
  size_t w = 0;
  if (c->mode == HB_SELF) {
    bx__bs_rcpt *r = bx__bs_rcpt_get(s, c->client);
    for (bx__tlink *n = r ? r->msgs.next : NULL; r && n != &r->msgs && w < h->o.batch; n = n->next)
      batch[w++] = BX__BS_IN_TO(n);
  } else if (c->mode == HB_PEER) {
    bx__bs_box *b = bx__bs_box_get(s, c->client, c->box);
    for (bx__tlink *n = b ? b->msgs.next : NULL; b && n != &b->msgs && w < h->o.batch; n = n->next)
      batch[w++] = BX__BS_IN_BOX(n);
  }
  cJSON *head = cJSON_CreateObject();
  if (head == NULL) return BX_ENOMEM;
  cJSON_AddNumberToObject(head, "cap", (double)hb_chan_cap(c));
  cJSON_AddNumberToObject(head, "waiting", (double)w);
  const uint8_t *key = NULL;
  if (key_info && c->box[0] != '\0') key = hb_key_of(h, c->box);
  if (key != NULL) {
    uint8_t part[BX__TH_KEY];
    char b32[BX_TH_HASHNAME_LEN + 1];
    bx__th_intermediate(key, BX__TH_KEY, part);
    bx__th_b32_encode(part, sizeof part, b32);
    cJSON *parts = cJSON_AddObjectToObject(head, "parts");
    if (parts != NULL) cJSON_AddStringToObject(parts, "3a", b32);
    cJSON_AddStringToObject(head, "csid", "3a");
  }
  int rc = 0;
  if (c->mode == HB_PEER && c->picked && cJSON_AddStringToObject(head, "box", c->box) == NULL)
    rc = BX_ENOMEM;
  if (rc == 0) rc = bx_th_channel_send(c->ch, head, key, key ? BX__TH_KEY : 0, false);
  cJSON_Delete(head);
  for (size_t i = 0; i < w && rc == 0; i++)
    rc = hb_send_msg(c, batch[i]);
  return rc;
}

static void hb_open(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  bx_th_box_host *h = data;
  bx_th_link *k = bx_th_channel_link(ch);
  char box[BX_TH_HASHNAME_LEN + 1] = "";
  bool has_box = false, has_csid = false;
  const char *err = hb_check_open(h, ch, ev, box, &has_box, &has_csid);
  if (err[0] != '\0') {
    hb_fail(NULL, ch, h, err);
    return;
  }
  if (h->nchans >= h->o.max_channels || hb_count_link(h, k) >= h->o.max_per_link) {
    h->busy++;
    bx_th_channel_fail(ch, "busy");
    return;
  }
  hb_chan *c = bx__zalloc(sizeof *c);
  if (c == NULL) {
    bx_th_channel_fail(ch, "out of memory");
    return;
  }
  c->h = h;
  c->ch = ch;
  snprintf(c->client, sizeof c->client, "%s", k->hashname);
  bx__bs_key_put(&h->store, c->client, k->key); /* hosts learn keys from links and opens */
  bx__bs_expire(&h->store, hb_now(h));
  if (has_box) {
    c->mode = strcmp(box, c->client) == 0 ? HB_SELF : HB_PEER;
    snprintf(c->box, sizeof c->box, "%s", box);
  } else {
    bx__bs_rcpt *r = bx__bs_rcpt_get(&h->store, c->client);
    c->mode = r ? HB_PEER : HB_NONE;
    c->picked = r != NULL;
    if (r != NULL) snprintf(c->box, sizeof c->box, "%s", BX__BS_IN_TO(r->msgs.next)->box->from);
  }
  bx_th_channel_set_cb(ch, hb_chan_cb, c);
  bx__tlink_append(&h->chans, &c->node);
  h->nchans++;
  int rc = 0;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->head, "clear"))) {
    bx__bs_begin(&h->store);
    hb_clear(c);
    rc = bx__bs_end(&h->store);
    if (rc != 0) hb_reload(h);
  }
  if (rc == 0) rc = hb_respond(c, !has_csid || c->picked);
  hb_flush_adverts(h);
  hb_arm(h);
  if (rc != 0) hb_fail(c, ch, h, rc == BX_ENOMEM ? "out of memory" : "store failed");
}

/* Checks a later packet (6.4); "" when it is good. *id gets "key" (lower case) or "". */
static const char *hb_check_packet(hb_chan *c, const bx_th_chan_event *ev, char *id,
                                   uint64_t *expire_ms) {
  bx_th_box_host *h = c->h;
  id[0] = '\0';
  *expire_ms = (uint64_t)h->o.expire_default_s * 1000u;
  if (ev->len > BX_TH_BOX_MAX_MSG) return "message too large";
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(ev->head, "key");
  if (key != NULL) {
    if (!cJSON_IsString(key) || !hb_hex64(key->valuestring)) return "invalid key";
    for (size_t i = 0; i < BX_TH_BOX_ID_LEN; i++) {
      char ch = key->valuestring[i];
      id[i] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
    }
    id[BX_TH_BOX_ID_LEN] = '\0';
  }
  const cJSON *ex = cJSON_GetObjectItemCaseSensitive(ev->head, "expire");
  if (ex != NULL) {
    if (!cJSON_IsNumber(ex) || !(ex->valuedouble > 0) ||
        ex->valuedouble > (double)h->o.expire_max_s)
      return "invalid expire";
    *expire_ms = (uint64_t)(ex->valuedouble * 1000.0);
    if (*expire_ms == 0) *expire_ms = 1;
  }
  if (ev->len > 0 && c->mode == HB_NONE) return "no box";
  return "";
}

/* A message for the host itself (6.7): opened, verified with the link's key, handed over. */
static void hb_deliver_self(hb_chan *c, const char *id, const bx_th_chan_event *ev) {
  bx_th_box_host *h = c->h;
  bx_th_link *k = bx_th_channel_link(c->ch);
  bx_th_box_letter *l = NULL;
  int rc = bx__th_box_unseal(h->ep->sk, ev->body, ev->len, k->key, &l);
  if (rc != 0) {
    h->forged++;
    bx_log(h->ep->ctx, BX_LOG_WARN,
           "telehash box: a message from %s to this host does not open "
           "or verify (%s): dropped",
           c->client, bx_err_name(rc));
    return;
  }
  h->delivered++;
  h->o.deliver(h, c->client, id, l, h->o.deliver_data);
  bx_th_box_letter_free(l);
}

static void hb_packet(hb_chan *c, const bx_th_chan_event *ev) {
  bx_th_box_host *h = c->h;
  char id[BX_TH_BOX_ID_LEN + 1];
  uint64_t expire_ms = 0;
  const char *err = hb_check_packet(c, ev, id, &expire_ms);
  if (err[0] != '\0') {
    hb_fail(c, c->ch, h, err);
    return;
  }
  uint64_t now = hb_now(h);
  bx__bs_expire(&h->store, now);
  bx__bs_begin(&h->store);
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->head, "clear"))) hb_clear(c);
  int rc = 0;
  bool stored = false;
  bool self = c->mode == HB_PEER && strcmp(c->box, h->ep->hashname) == 0 && h->o.deliver;
  if (ev->len > 0 && !self) {
    if (id[0] == '\0') bx_th_box_id(ev->body, ev->len, id);
    rc = bx__bs_put(&h->store, c->box, c->client, id, ev->body, ev->len,
                    expire_ms ? now + expire_ms : 0);
    stored = rc == 0;
    if (rc == 1) rc = 0;
  } else if (ev->len == 0 && id[0] != '\0') {
    hb_remove(c, id);
  }
  int prc = bx__bs_end(&h->store);
  if (rc == 0 && prc != 0) {
    bx_log(h->ep->ctx, BX_LOG_ERROR,
           "telehash box: the store failed (%s): the packet from %s "
           "is refused",
           bx_err_name(prc), c->client);
    rc = prc;
    stored = false;
    hb_reload(h);
  }
  if (rc != 0) {
    hb_fail(c, c->ch, h, rc == BX_ENOMEM ? "out of memory" : "store failed");
    hb_flush_adverts(h);
    return;
  }
  if (ev->len > 0 && self) {
    if (id[0] == '\0') bx_th_box_id(ev->body, ev->len, id);
    hb_deliver_self(c, id, ev);
  }
  cJSON *head = cJSON_CreateObject();
  if (head != NULL) cJSON_AddNumberToObject(head, "cap", (double)hb_chan_cap(c));
  bx_th_channel_send(c->ch, head, NULL, 0, ev->end);
  cJSON_Delete(head);
  if (stored) hb_live(h, (bx__bs_msg *)h->store.all.prev);
  hb_flush_adverts(h);
  hb_arm(h);
}

static void hb_chan_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)ch;
  hb_chan *c = data;
  if (ev->type == BX_TH_CHAN_PACKET) {
    hb_packet(c, ev);
    return;
  }
  bx__tlink_remove(&c->node);
  c->h->nchans--;
  free(c);
}

/* ---- the public side ------------------------------------------------------------------------ */

int bx_th_box_host_new(bx_th_endpoint *ep, const bx_th_box_host_opts *opts, bx_th_box_host **out) {
  if (out != NULL) *out = NULL;
  if (ep == NULL || out == NULL) return BX_EINVAL;
  if (ep->box_host != NULL) return BX_EEXIST;
  bx_th_box_host *h = bx__zalloc(sizeof *h);
  if (h == NULL) return BX_ENOMEM;
  if (opts != NULL) h->o = *opts;
  if (h->o.cap == 0) h->o.cap = 10;
  if (h->o.total == 0) h->o.total = 1000;
  if (h->o.expire_max_s == 0) h->o.expire_max_s = 2592000;
  if (h->o.batch == 0) h->o.batch = 32;
  if (h->o.batch > 48) h->o.batch = 48;
  if (h->o.max_channels == 0) h->o.max_channels = 256;
  if (h->o.max_per_link == 0) h->o.max_per_link = 16;
  h->ep = ep;
  bx__tlink_init(&h->chans);
  h->dirty = bx__map_new();
  int rc = h->dirty ? bx__bs_init(&h->store, h->o.cap, h->o.total) : BX_ENOMEM;
  const char *why = "";
  if (rc == 0 && h->o.store_path != NULL) {
    rc = bx__bs_sqlite_open(&h->store, h->o.store_path, &why);
    if (rc != 0)
      bx_log(ep->ctx, BX_LOG_ERROR, "telehash box host: store %s: %s (%s)", h->o.store_path, why,
             bx_err_name(rc));
  }
  h->o.store_path = NULL; /* borrowed for the call only */
  if (rc == 0) rc = bx_th_endpoint_handle(ep, "box", hb_open, h);
  if (rc != 0) {
    bx__bs_free(&h->store);
    bx__map_free(h->dirty);
    free(h);
    return rc;
  }
  h->store.on_boxes = hb_on_boxes;
  h->store.data = h;
  ep->hs_extra = hb_hs_extra;
  ep->hs_extra_data = h;
  ep->box_host = h;
  hb_arm(h);
  *out = h;
  return 0;
}

void bx_th_box_host_free(bx_th_box_host *h) {
  if (h == NULL) return;
  bx_th_endpoint *ep = h->ep;
  while (bx__tlink_listed(&h->chans)) {
    hb_chan *c = (hb_chan *)h->chans.next;
    bx__tlink_remove(&c->node);
    bx_th_channel_set_cb(c->ch, NULL, NULL);
    bx_th_channel_fail(c->ch, "closing");
    free(c);
  }
  bx_th_endpoint_handle(ep, "box", NULL, NULL);
  ep->hs_extra = NULL;
  ep->hs_extra_data = NULL;
  ep->box_host = NULL;
  bx__deadline_stop(ep->ctx, &h->timer);
  bx__bs_free(&h->store);
  bx__map_free(h->dirty);
  free(h);
}

bx__bs *bx__th_box_host_store(bx_th_box_host *h) {
  return h ? &h->store : NULL;
}

void bx_th_box_host_stats_get(const bx_th_box_host *h, bx_th_box_host_stats *out) {
  if (h == NULL || out == NULL) return;
  memset(out, 0, sizeof *out);
  out->boxes = bx__map_size(h->store.boxes);
  out->stored = h->store.n;
  out->accepted = h->store.accepted;
  out->duplicate = h->store.duplicate;
  out->evicted = h->store.evicted;
  out->expired = h->store.expired;
  out->removed = h->store.removed;
  out->delivered = h->delivered;
  out->errors = h->errors + h->forged;
  out->busy = h->busy;
  out->channels = h->nchans;
}
