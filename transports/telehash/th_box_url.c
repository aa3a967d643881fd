/* th:// boxes: FOAM frames as telehash box messages (spec/telehash section 6), directly to a
 * linked recipient or through a box host. The public side is bx/th_box.h (bx_th_boxes_attach).
 *
 * Design notes
 * - A transport of the framework (scheme "th"), one solo link per remote hashname carrying one
 *   peer: a dialled one (bx_connect "th://HN") or one the listener ("th://<ours>") accepted for
 *   a sender. The framer is bx__framer_whole: a frame is a message.
 * - Writing a frame: the recipient's key (an endpoint link's, else the cache, else fetched from
 *   the host with an open without csid, checked against the hashname by the client), sealed
 *   ({"type":"foam"} + frame), then one box channel: to the recipient itself when a link to it
 *   is up (it hosts its own box, 6.7), else to the host with box = the recipient. The write is
 *   done when the host (or the recipient) answered the store: nothing is acknowledged that was
 *   not stored. A frame too big for a message is refused at send by max_frame.
 * - Reading: the self-mode channel to the host, opened when attached and at each link-up of
 *   the host link, stays open for live messages. Messages go through one queue in order: a
 *   duplicate (its id was dispatched already) is removed at once; a sender's key is fetched
 *   from the host when no link knows it (the queue waits for it); the message is opened,
 *   verified and dispatched (bx__conn_message) and only then removed at the host. A batch that
 *   was full is collected again once it was removed. Direct deliveries come from the
 *   endpoint's own box host (opened and verified there) into the same dispatch.
 * - Lifetimes: a link reports bx__link_closed() only when its write channel has reported
 *   CLOSED (the channel's callback points at the link). The attachment (struct bx__thb) lives
 *   until its endpoint closes and every channel it opened has reported CLOSED.
 */
#include <pthread.h>

#include "th_internal.h"

#define THB_FOAM_HEAD 17 /* the inner packet's {"type":"foam"} with its 2-byte length */
#define THB_MAX_FRAME (BX_TH_BOX_MAX_INNER - THB_FOAM_HEAD)

typedef struct thb_in { /* a collected message waiting for dispatch */
  bx__tlink node;
  char id[BX_TH_BOX_ID_LEN + 1];
  char from[BX_TH_HASHNAME_LEN + 1];
  size_t len;
  uint8_t msg[];
} thb_in;

struct bx__thb {
  bx__tlink node; /* in thb_all */
  bx_th_endpoint *ep;
  bx_ctx *ctx;
  bx_th_link *host;          /* NULL: direct delivery only */
  bx_th_box_host *own_host;  /* made by attach for direct deliveries, or NULL */
  bx_th_box_client *collect; /* the self-mode channel to the host, or NULL */
  int64_t batch;             /* what the collect channel's response said was waiting */
  int64_t got;               /* messages it brought */
  bx__tlink inq;             /* thb_in, in order */
  bx_th_box_client *fetch;   /* a key fetch for the queue's head, or NULL */
  char fetch_failed[BX_TH_HASHNAME_LEN + 1];
  bx__map *keys; /* hashname -> 32 bytes (owned) */
  bx__map *seen; /* ids dispatched (keys only) */
  char (*ring)[BX_TH_BOX_ID_LEN + 1];
  size_t dedup, ring_pos;
  bx__map *peers; /* hashname -> bx__conn (dialled first, else accepted) */
  bx_listener *listener;
  int chans;      /* box channels of ours not yet CLOSED */
  bool recollect; /* the host link came up while the collect channel was still closing */
  bool closing;
  bx_th_boxes_stats st;
};

typedef struct thb_link {
  bx__link *k;
  bx__conn *peer;
  struct bx__thb *b; /* NULL once the attachment is gone */
  char hn[BX_TH_HASHNAME_LEN + 1];
  bool closing, accepted;
  /* the write in flight */
  const char *buf;
  size_t len;
  bool writing, fetching, acked, direct;
  bx_th_box_client *out;
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  size_t msg_len;
} thb_link;

static bx__tlink thb_all = {&thb_all, &thb_all};
static pthread_mutex_t thb_lock = PTHREAD_MUTEX_INITIALIZER;

static struct bx__thb *thb_of_ctx(bx_ctx *ctx) {
  struct bx__thb *found = NULL;
  pthread_mutex_lock(&thb_lock);
  for (bx__tlink *n = thb_all.next; n != &thb_all && found == NULL; n = n->next)
    if (((struct bx__thb *)n)->ctx == ctx) found = (struct bx__thb *)n;
  pthread_mutex_unlock(&thb_lock);
  return found;
}

static thb_link *thb_priv(bx__link *k) {
  return bx__link_priv(k);
}

/* ---- keys and ids ---------------------------------------------------------------------------- */

static const uint8_t *thb_key(struct bx__thb *b, const char *hn) {
  bx_th_link *k = bx_th_endpoint_link(b->ep, hn);
  if (k != NULL) return k->key;
  return bx__map_get(b->keys, hn);
}

static void thb_key_put(struct bx__thb *b, const char *hn, const uint8_t *key) {
  uint8_t *copy = malloc(BX__TH_KEY);
  if (copy == NULL) return;
  memcpy(copy, key, BX__TH_KEY);
  void *old = NULL;
  if (bx__map_put(b->keys, hn, copy, &old) != 0) free(copy);
  free(old);
}

static bool thb_seen(struct bx__thb *b, const char *id) {
  return bx__map_get(b->seen, id) != NULL;
}

static void thb_mark(struct bx__thb *b, const char *id) {
  char *slot = b->ring[b->ring_pos];
  if (slot[0] != '\0') bx__map_del(b->seen, slot);
  snprintf(slot, BX_TH_BOX_ID_LEN + 1, "%s", id);
  bx__map_put(b->seen, slot, b, NULL);
  b->ring_pos = (b->ring_pos + 1) % b->dedup;
}

/* ---- the attachment's end ------------------------------------------------------------------- */

static void thb_free(struct bx__thb *b) {
  while (bx__tlink_listed(&b->inq)) {
    thb_in *m = (thb_in *)b->inq.next;
    bx__tlink_remove(&m->node);
    free(m);
  }
  size_t pos = 0;
  const char *key;
  void *v;
  while (bx__map_next(b->keys, &pos, &key, &v))
    free(v);
  bx__map_free(b->keys);
  bx__map_free(b->seen);
  bx__map_free(b->peers);
  free(b->ring);
  free(b);
}

/* One of our channels reported CLOSED: the attachment may go. */
static void thb_chan_gone(struct bx__thb *b) {
  b->chans--;
  if (b->closing && b->chans == 0) thb_free(b);
}

void bx__thb_closing(bx_th_endpoint *ep) {
  struct bx__thb *b = ep->boxes;
  ep->boxes = NULL;
  pthread_mutex_lock(&thb_lock);
  bx__tlink_remove(&b->node);
  pthread_mutex_unlock(&thb_lock);
  b->closing = true;
  /* the peers lose their way out: their links close (and forget b) */
  size_t pos = 0;
  const char *hn;
  void *v;
  while (bx__map_next(b->peers, &pos, &hn, &v)) {
    bx__link *k = bx__conn_link(v);
    if (k != NULL && thb_priv(k)->out == NULL) thb_priv(k)->b = NULL; /* else at its CLOSED */
  }
  pos = 0;
  while (bx__map_next(b->peers, &pos, &hn, &v)) {
    bx__map_del(b->peers, hn);
    bx__conn_close(v, BX_ECONNLOST);
    pos = 0;
  }
  if (b->own_host != NULL) bx_th_box_host_free(b->own_host);
  b->own_host = NULL;
  if (b->chans == 0) thb_free(b); /* else the endpoint's close reports them CLOSED */
}

/* ---- dispatch ------------------------------------------------------------------------------- */

/* The peer frames from hn go to: the one we dialled, else one the listener accepts now. */
static bx__conn *thb_peer_for(struct bx__thb *b, const char *hn) {
  bx__conn *c = bx__map_get(b->peers, hn);
  if (c != NULL || b->listener == NULL) return c;
  bx_listener *l = b->listener;
  bx__link *k = bx__link_new(l->ts, l->tran, l, true);
  c = k ? bx__conn_accept(k) : NULL;
  if (c == NULL) {
    if (k != NULL) bx__link_close(k, BX_ENOMEM);
    return NULL;
  }
  thb_link *s = thb_priv(k);
  s->k = k;
  s->peer = c;
  s->b = b;
  s->accepted = true;
  snprintf(s->hn, sizeof s->hn, "%s", hn);
  bx_peer_info *pi = bx__conn_peer(c);
  snprintf(pi->address, sizeof pi->address, "%s", hn);
  if (bx__map_put(b->peers, s->hn, c, NULL) != 0 || bx__conn_opened(c) != 0) {
    bx__map_del(b->peers, s->hn);
    return NULL;
  }
  return c;
}

/* A verified frame from hn: to its peer once. false: nowhere to go (left for later). */
static bool thb_dispatch(struct bx__thb *b, const char *hn, const char *id, const uint8_t *frame,
                         size_t len) {
  if (thb_seen(b, id)) {
    b->st.duplicate++;
    return true;
  }
  bx__conn *c = thb_peer_for(b, hn);
  if (c == NULL || !bx__conn_is_open(c)) {
    b->st.rejected++;
    bx_log(b->ctx, BX_LOG_WARN, "th: a frame from %s has no box to go to (no listener): left", hn);
    return false;
  }
  thb_mark(b, id);
  b->st.received++;
  bx__conn_message(c, (const char *)frame, len);
  return true;
}

static void thb_remove(struct bx__thb *b, const char *id) {
  if (b->collect == NULL) return; /* removed when collected again: a duplicate then */
  bx_th_box_op op = {.id = id};
  bx_th_box_client_send(b->collect, &op);
}

static void thb_pump(struct bx__thb *b);

static void thb_fetch_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data) {
  (void)c;
  struct bx__thb *b = data;
  if (ev->type == BX_TH_BOX_CLOSED) {
    b->fetch = NULL;
    bool closing = b->closing;
    thb_chan_gone(b);
    if (!closing) thb_pump(b);
    return;
  }
  if (b->closing || ev->type != BX_TH_BOX_RESPONSE) return;
  thb_in *m = bx__tlink_listed(&b->inq) ? (thb_in *)b->inq.next : NULL;
  if (m != NULL && ev->key != NULL) thb_key_put(b, m->from, ev->key);
  if (m != NULL && ev->key == NULL)
    snprintf(b->fetch_failed, sizeof b->fetch_failed, "%s", m->from);
  bx_th_box_op op = {.end = true};
  bx_th_box_client_send(b->fetch, &op);
}

/* One queued message: true when done with it (dispatched, dropped), false to wait. */
static bool thb_one(struct bx__thb *b, thb_in *m) {
  if (thb_seen(b, m->id)) {
    b->st.duplicate++;
    thb_remove(b, m->id);
    return true;
  }
  const uint8_t *key = thb_key(b, m->from);
  if (key == NULL && strcmp(b->fetch_failed, m->from) != 0 && b->host != NULL) {
    int rc = bx_th_box_client_open(b->host, m->from, false, false, thb_fetch_cb, b, &b->fetch);
    if (rc == 0) {
      b->chans++;
      return false;
    }
  }
  bx_th_box_letter *l = NULL;
  int rc = key ? bx__th_box_unseal(b->ep->sk, m->msg, m->len, key, &l) : BX_EAUTH;
  if (rc == 0 && (l->type == NULL || strcmp(l->type, "foam") != 0)) rc = BX_EBADMSG;
  if (rc != 0) {
    b->st.rejected++;
    bx_log(b->ctx, BX_LOG_WARN, "th: message %.16s.. from %s %s (%s): removed", m->id, m->from,
           key ? "does not open or verify" : "has no sender key to verify", bx_err_name(rc));
    thb_remove(b, m->id);
  } else if (thb_dispatch(b, m->from, m->id, l->body, l->len)) {
    thb_remove(b, m->id);
  }
  bx_th_box_letter_free(l);
  return true;
}

static void thb_pump(struct bx__thb *b) {
  while (!b->closing && b->fetch == NULL && bx__tlink_listed(&b->inq)) {
    thb_in *m = (thb_in *)b->inq.next;
    if (!thb_one(b, m)) return;
    bx__tlink_remove(&m->node);
    free(m);
  }
  if (b->closing || b->fetch != NULL || b->collect == NULL) return;
  /* the whole batch is dispatched: a full one means more may wait */
  if (b->batch > 0 && b->got >= b->batch && b->batch >= 32) {
    b->batch = 0;
    bx_th_box_op op = {.end = true};
    bx_th_box_client_send(b->collect, &op);
  }
}

static void thb_collect(struct bx__thb *b);

static void thb_collect_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data) {
  (void)c;
  struct bx__thb *b = data;
  if (ev->type == BX_TH_BOX_CLOSED) {
    /* we ended a full batch, or the host link came back while this one was on its way out */
    bool again = (ev->status == 0 || b->recollect) && !b->closing;
    b->recollect = false;
    b->collect = NULL;
    bool closing = b->closing;
    thb_chan_gone(b);
    if (!closing && again) thb_collect(b);
    return;
  }
  if (b->closing) return;
  if (ev->type == BX_TH_BOX_RESPONSE) {
    b->batch = ev->waiting;
    b->got = 0;
    return;
  }
  if (ev->type != BX_TH_BOX_MESSAGE) return;
  b->got++;
  thb_in *m = malloc(sizeof *m + ev->len);
  if (m == NULL) return; /* collected again next time */
  snprintf(m->id, sizeof m->id, "%s", ev->id);
  snprintf(m->from, sizeof m->from, "%s", ev->from);
  m->len = ev->len;
  memcpy(m->msg, ev->msg, ev->len);
  bx__tlink_append(&b->inq, &m->node);
  thb_pump(b);
}

static void thb_collect(struct bx__thb *b) {
  if (b->host == NULL || b->collect != NULL || b->closing) return;
  b->fetch_failed[0] = '\0';
  if (bx_th_box_client_open(b->host, b->ep->hashname, true, false, thb_collect_cb, b,
                            &b->collect) == 0)
    b->chans++;
}

void bx__thb_link_event(bx_th_link *k, bx_th_link_event ev) {
  struct bx__thb *b = k->ep->boxes;
  if (b == NULL || b->closing || ev != BX_TH_LINK_UP) return;
  if (k != b->host) return;
  if (b->collect != NULL)
    b->recollect = true; /* a new session: the open one is about to report CLOSED */
  else
    thb_collect(b);
}

/* A message to us delivered directly (our own box host opened and verified it). */
static void thb_direct(bx_th_box_host *h, const char *from, const char *id,
                       const bx_th_box_letter *l, void *data) {
  (void)h;
  struct bx__thb *b = data;
  if (l->type == NULL || strcmp(l->type, "foam") != 0) {
    b->st.rejected++;
    return;
  }
  thb_dispatch(b, from, id, l->body, l->len);
}

/* ---- writing a frame ------------------------------------------------------------------------ */

static void thb_write_done(thb_link *s, int status) {
  s->writing = false;
  if (status == 0 && s->b != NULL) {
    s->b->st.sent++;
    if (s->direct) s->b->st.direct++;
  }
  if (!s->closing) bx__link_write_done(s->k, status);
}

static void thb_out_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data);

static void thb_report_closed_task(void *a, void *b) {
  (void)b;
  bx__link_closed(a);
}

/* Opens the channel of the write's next step (a key fetch, or the store). */
static int thb_step(thb_link *s) {
  struct bx__thb *b = s->b;
  if (b == NULL) return BX_ECONNLOST;
  const uint8_t *key = thb_key(b, s->hn);
  if (key == NULL) {
    if (b->host == NULL || s->fetching) return BX_ENOROUTE; /* no key anywhere */
    s->fetching = true;
    int rc = bx_th_box_client_open(b->host, s->hn, false, false, thb_out_cb, s, &s->out);
    if (rc == 0) b->chans++;
    return rc;
  }
  s->fetching = false;
  bx_buf inner = {0};
  cJSON *head = cJSON_CreateObject();
  int rc = head && cJSON_AddStringToObject(head, "type", "foam") ? 0 : BX_ENOMEM;
  if (rc == 0) rc = bx__th_lob_append_json(&inner, head, (const uint8_t *)s->buf, s->len);
  cJSON_Delete(head);
  if (rc == 0 && inner.len > BX_TH_BOX_MAX_INNER) rc = BX_EMSGSIZE;
  if (rc == 0)
    rc = bx__th_cs3a_seal((uint8_t *)inner.base, inner.len, key, b->ep->sk, NULL, NULL, s->msg,
                          sizeof s->msg, &s->msg_len);
  bx_buf_free(&inner);
  if (rc != 0) return rc;
  bx_th_link *direct = bx_th_endpoint_link(b->ep, s->hn);
  s->direct = direct != NULL && bx_th_link_is_up(direct);
  bx_th_link *via = s->direct ? direct : b->host;
  if (via == NULL) return BX_ENOROUTE;
  s->acked = false;
  rc = bx_th_box_client_open(via, s->hn, true, false, thb_out_cb, s, &s->out);
  if (rc == 0) b->chans++;
  return rc;
}

static void thb_out_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data) {
  (void)c;
  thb_link *s = data;
  struct bx__thb *b = s->b;
  if (ev->type == BX_TH_BOX_CLOSED) {
    s->out = NULL;
    bool was_fetch = s->fetching;
    if (b != NULL && b->closing) s->b = NULL; /* b may go now */
    if (b != NULL) thb_chan_gone(b);
    if (s->closing) {
      bx__defer(bx__link_ctx(s->k), thb_report_closed_task, s->k, NULL);
      return;
    }
    if (!s->writing) return;
    if (was_fetch) {
      int rc = s->b != NULL ? thb_step(s) : BX_ECONNLOST;
      if (rc != 0) thb_write_done(s, rc);
      return;
    }
    thb_write_done(s, s->acked ? 0 : ev->status ? ev->status : BX_ECONNLOST);
    return;
  }
  if (s->closing || !s->writing) return;
  if (ev->type == BX_TH_BOX_RESPONSE && s->fetching) {
    if (ev->key != NULL && b != NULL) thb_key_put(b, s->hn, ev->key);
    bx_th_box_op op = {.end = true};
    bx_th_box_client_send(s->out, &op);
  } else if (ev->type == BX_TH_BOX_RESPONSE) {
    bx_th_box_op op = {.msg = s->msg, .len = s->msg_len, .end = true};
    int rc = bx_th_box_client_send(s->out, &op);
    if (rc != 0) bx_th_box_client_cancel(s->out);
  } else if (ev->type == BX_TH_BOX_STATUS && !s->fetching) {
    s->acked = true;
  }
}

/* ---- the transport's slots ------------------------------------------------------------------ */

static int thb_check(const char *addr) {
  return bx__th_hashname_valid(addr) ? 0 : BX_EINVAL;
}

static void thb_connected_task(void *a, void *b) {
  (void)b;
  bx__conn_connected(a, 0);
}

static int thb_dial(bx__conn *c, const char *addr) {
  struct bx__thb *b = thb_of_ctx(bx__conn_ctx(c));
  if (b == NULL || b->closing) return BX_ENOROUTE; /* no endpoint attached to this context */
  bx__link *k = bx__link_for(c);
  if (k == NULL) return BX_ENOMEM;
  thb_link *s = thb_priv(k);
  s->k = k;
  s->peer = c;
  s->b = b;
  snprintf(s->hn, sizeof s->hn, "%s", addr);
  snprintf(bx__conn_peer(c)->address, sizeof bx__conn_peer(c)->address, "%s", addr);
  bx__conn *old = bx__map_get(b->peers, s->hn);
  if (old != NULL) { /* an accepted peer of that sender: replies now go to the dialled one */
    bx__link *ok = bx__conn_link(old);
    if (ok != NULL) thb_priv(ok)->accepted = false;
  }
  int rc = bx__map_put(b->peers, s->hn, c, NULL);
  if (rc == 0) rc = bx__defer(bx__conn_ctx(c), thb_connected_task, c, NULL);
  return rc;
}

static int thb_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  (void)c;
  thb_link *s = thb_priv(k);
  if (s->b == NULL || s->b->closing) return BX_ECONNLOST;
  if (len > THB_MAX_FRAME) return BX_EMSGSIZE;
  s->buf = buf;
  s->len = len;
  s->writing = true;
  s->fetching = false;
  int rc = thb_step(s);
  if (rc != 0) s->writing = false;
  return rc;
}

static void thb_forget(thb_link *s) {
  if (s->b != NULL && bx__map_get(s->b->peers, s->hn) == s->peer) bx__map_del(s->b->peers, s->hn);
}

static void thb_link_close(bx__link *k) {
  thb_link *s = thb_priv(k);
  s->closing = true;
  thb_forget(s);
  if (s->out != NULL) {
    bx_th_box_client_cancel(s->out); /* its CLOSED reports the link closed */
    return;
  }
  if (bx__defer(bx__link_ctx(k), thb_report_closed_task, k, NULL) != 0) bx__link_closed(k);
}

static void thb_peer_gone(bx__link *k, bx__conn *c) {
  (void)c;
  if (k != NULL) thb_forget(thb_priv(k));
}

static int thb_listen(bx_listener *l, const char *addr, const bx_listen_opts *opts) {
  (void)opts;
  struct bx__thb *b = thb_of_ctx(l->ctx);
  if (b == NULL || b->closing) return BX_ENOROUTE;
  if (strcmp(addr, b->ep->hashname) != 0) return BX_EINVAL; /* only our own box */
  if (b->listener != NULL) return UV_EADDRINUSE;
  b->listener = l;
  return 0;
}

static void thb_listener_closed_task(void *a, void *b) {
  (void)b;
  bx__listener_closed(a);
}

static void thb_listen_close(bx_listener *l) {
  struct bx__thb *b = thb_of_ctx(l->ctx);
  if (b != NULL && b->listener == l) b->listener = NULL;
  if (bx__defer(l->ctx, thb_listener_closed_task, l, NULL) != 0) bx__listener_closed(l);
}

const bx__tran bx__th_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "th",
    .framer = &bx__framer_whole,
    .max_frame = THB_MAX_FRAME,
    .link_size = sizeof(thb_link),
    .check = thb_check,
    .listen = thb_listen,
    .listen_close = thb_listen_close,
    .dial = thb_dial,
    .write = thb_write,
    .link_close = thb_link_close,
    .peer_gone = thb_peer_gone,
};

/* ---- attaching ------------------------------------------------------------------------------ */

int bx_th_boxes_attach(bx_th_endpoint *ep, const bx_th_boxes_opts *opts) {
  if (ep == NULL) return BX_EINVAL;
  if (ep->closing) return BX_ECLOSED;
  if (ep->boxes != NULL || thb_of_ctx(ep->ctx) != NULL) return BX_EEXIST;
  struct bx__thb *b = bx__zalloc(sizeof *b);
  if (b == NULL) return BX_ENOMEM;
  b->ep = ep;
  b->ctx = ep->ctx;
  b->dedup = opts && opts->dedup ? opts->dedup : 4096;
  bx__tlink_init(&b->inq);
  b->keys = bx__map_new();
  b->seen = bx__map_new_borrowing();
  b->peers = bx__map_new();
  b->ring = calloc(b->dedup, sizeof *b->ring);
  int rc = b->keys && b->seen && b->peers && b->ring ? 0 : BX_ENOMEM;
  if (rc == 0 && opts != NULL && opts->host != NULL) rc = bx_th_link_new(ep, opts->host, &b->host);
  if (rc == 0 && ep->box_host == NULL) {
    bx_th_box_host_opts ho = {.deliver = thb_direct, .deliver_data = b};
    rc = bx_th_box_host_new(ep, &ho, &b->own_host);
  }
  if (rc != 0) {
    thb_free(b);
    return rc;
  }
  ep->boxes = b;
  pthread_mutex_lock(&thb_lock);
  bx__tlink_append(&thb_all, &b->node);
  pthread_mutex_unlock(&thb_lock);
  thb_collect(b); /* a reliable channel: sent once the host link is up */
  return 0;
}

int bx_th_boxes_learn(bx_th_endpoint *ep, const char *json) {
  if (ep == NULL || ep->boxes == NULL || json == NULL) return BX_EINVAL;
  uint8_t key[BX__TH_KEY];
  char hn[BX_TH_HASHNAME_LEN + 1];
  int rc = bx_th_peer_key(json, key, hn);
  if (rc != 0) return rc;
  thb_key_put(ep->boxes, hn, key);
  return bx__map_get(ep->boxes->keys, hn) ? 0 : BX_ENOMEM;
}

void bx_th_boxes_stats_get(const bx_th_endpoint *ep, bx_th_boxes_stats *out) {
  if (out == NULL) return;
  memset(out, 0, sizeof *out);
  if (ep != NULL && ep->boxes != NULL) *out = ep->boxes->st;
}
