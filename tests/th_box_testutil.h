/* Helpers of the telehash box tests: a world of a box host and three clients as endpoints on
 * one loop over UDP loopback, a recorder of a box client's events, and the steps the tests
 * repeat (store, collect, end). The host's clock is the world's, moved by hand. Include after
 * <cmocka.h>, testutil.h and th_internal.h. */
#ifndef BX_TH_BOX_TESTUTIL_H
#define BX_TH_BOX_TESTUTIL_H

/* ---- running the loop until something happened --------------------------------------------- */

static inline void tb_tick(uv_timer_t *t) {
  (void)t;
}

typedef bool (*tb_cond)(void *arg);

static inline bool tb_run_until(bxt_env *e, tb_cond cond, void *arg, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(&e->loop, &t);
  uv_timer_start(&t, tb_tick, 5, 5);
  uint64_t end = uv_now(&e->loop) + ms;
  bool ok;
  while (!(ok = cond(arg)) && uv_now(&e->loop) < end)
    uv_run(&e->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  return ok;
}

/* ---- a world: a host (0) and three clients (1 alice, 2 bob, 3 carol) ------------------------ */

enum { HOST = 0, ALICE = 1, BOB = 2, CAROL = 3, NPEERS = 4 };

typedef struct tb_world {
  bxt_env *e;
  bx_th_identity *id[NPEERS];
  bx_th_endpoint *ep[NPEERS];
  bx_th_link *link[NPEERS]; /* client i's link to the host */
  bx_th_box_host *host;
  uint64_t clock;
  int closed;
  int delivered;
  char delivered_text[64];
  bool delivered_verified;
} tb_world;

static inline uint64_t tb_clock(void *data) {
  return ((tb_world *)data)->clock;
}

static inline void tb_on_deliver(bx_th_box_host *h, const char *from, const char *id,
                                 const bx_th_box_letter *l, void *data) {
  (void)h;
  (void)from;
  (void)id;
  tb_world *w = data;
  w->delivered++;
  w->delivered_verified = l->verified;
  snprintf(w->delivered_text, sizeof w->delivered_text, "%.*s", (int)l->len, (char *)l->body);
}

static inline bool tb_all_up(void *arg) {
  tb_world *w = arg;
  for (int i = 1; i < NPEERS; i++)
    if (!bx_th_link_is_up(w->link[i])) return false;
  return true;
}

static inline void tb_setup(tb_world *w, const bx_th_box_host_opts *given) {
  memset(w, 0, sizeof *w);
  w->e = bxt_env_new(NULL);
  w->clock = 1000000;
  for (int i = 0; i < NPEERS; i++) {
    assert_int_equal(bx_th_identity_new(&w->id[i]), 0);
    bx_th_endpoint_opts o = {.bind = {"udp://127.0.0.1:0"},
                             .resend_ms = 40,
                             .link_timeout_ms = 3000,
                             .keepalive_ms = 1000,
                             .chan_resend_ms = 40,
                             .chan_timeout_ms = 3000};
    assert_int_equal(bx_th_endpoint_new(w->e->ctx, w->id[i], &o, &w->ep[i]), 0);
  }
  bx_th_box_host_opts ho = {0};
  if (given != NULL) ho = *given;
  ho.now_ms = tb_clock;
  ho.now_data = w;
  assert_int_equal(bx_th_box_host_new(w->ep[HOST], &ho, &w->host), 0);
  char *hj = bx_th_endpoint_json(w->ep[HOST]);
  for (int i = 1; i < NPEERS; i++)
    assert_int_equal(bx_th_link_new(w->ep[i], hj, &w->link[i]), 0);
  free(hj);
  assert_true(tb_run_until(w->e, tb_all_up, w, 5000));
}

static inline void tb_ep_closed(bx_th_endpoint *ep, void *data) {
  (void)ep;
  ((tb_world *)data)->closed++;
}

static inline bool tb_all_closed(void *arg) {
  return ((tb_world *)arg)->closed == NPEERS;
}

static inline void tb_teardown(tb_world *w) {
  bx_th_box_host_free(w->host);
  for (int i = 0; i < NPEERS; i++)
    if (w->ep[i] != NULL) assert_int_equal(bx_th_endpoint_close(w->ep[i], tb_ep_closed, w), 0);
  assert_true(tb_run_until(w->e, tb_all_closed, w, 3000));
  bxt_env_free(w->e);
  for (int i = 0; i < NPEERS; i++)
    bx_th_identity_free(w->id[i]);
}

static inline const char *tb_hn(tb_world *w, int who) {
  return bx_th_identity_hashname(w->id[who]);
}

/* ---- a client's events ------------------------------------------------------------------------
 */

#define TB_MAX 64

typedef struct tb_col {
  bool responded, closed, got_end;
  int64_t cap, waiting, last_cap;
  char box[BX_TH_HASHNAME_LEN + 1];
  bool has_key;
  uint8_t key[BX__TH_KEY];
  int nmsg, nstatus;
  char ids[TB_MAX][BX_TH_BOX_ID_LEN + 1];
  char from[TB_MAX][BX_TH_HASHNAME_LEN + 1];
  uint8_t msgs[TB_MAX][BX_TH_BOX_MAX_MSG];
  size_t lens[TB_MAX];
  int status;
  char err[128];
  bx_th_box_client *c;
} tb_col;

static inline void tb_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data) {
  (void)c;
  tb_col *col = data;
  switch (ev->type) {
  case BX_TH_BOX_RESPONSE:
    col->responded = true;
    col->cap = ev->cap;
    col->waiting = ev->waiting;
    if (ev->box) snprintf(col->box, sizeof col->box, "%s", ev->box);
    if (ev->key) {
      col->has_key = true;
      memcpy(col->key, ev->key, BX__TH_KEY);
    }
    break;
  case BX_TH_BOX_MESSAGE:
    assert_true(col->nmsg < TB_MAX);
    snprintf(col->ids[col->nmsg], BX_TH_BOX_ID_LEN + 1, "%s", ev->id);
    snprintf(col->from[col->nmsg], BX_TH_HASHNAME_LEN + 1, "%s", ev->from);
    memcpy(col->msgs[col->nmsg], ev->msg, ev->len);
    col->lens[col->nmsg++] = ev->len;
    break;
  case BX_TH_BOX_STATUS:
    col->nstatus++;
    col->last_cap = ev->cap;
    if (ev->end) col->got_end = true;
    break;
  case BX_TH_BOX_CLOSED:
    col->closed = true;
    col->status = ev->status;
    if (ev->err) snprintf(col->err, sizeof col->err, "%s", ev->err);
    col->c = NULL;
    break;
  }
}

static inline bool tb_responded(void *arg) {
  tb_col *c = arg;
  return c->closed || (c->responded && c->nmsg >= c->waiting);
}

static inline bool tb_closed(void *arg) {
  return ((tb_col *)arg)->closed;
}

typedef struct tb_wait {
  tb_col *col;
  int n;
} tb_wait;

static inline bool tb_has_status(void *arg) {
  tb_wait *wt = arg;
  return wt->col->closed || wt->col->nstatus >= wt->n;
}

static inline bool tb_has_msgs(void *arg) {
  tb_wait *wt = arg;
  return wt->col->closed || wt->col->nmsg >= wt->n;
}

/* Opens who's channel (box NULL: pick) and waits for the response and its batch. */
static inline void tb_open(tb_world *w, int who, const char *box, bool with_key, bool clear,
                           tb_col *col) {
  memset(col, 0, sizeof *col);
  assert_int_equal(bx_th_box_client_open(w->link[who], box, with_key, clear, tb_cb, col, &col->c),
                   0);
  assert_true(tb_run_until(w->e, tb_responded, col, 5000));
}

/* Sends op on col and waits for its status (or the channel's end). */
static inline void tb_send(tb_world *w, tb_col *col, const bx_th_box_op *op) {
  tb_wait wt = {col, col->nstatus + 1};
  assert_int_equal(bx_th_box_client_send(col->c, op), 0);
  assert_true(tb_run_until(w->e, tb_has_status, &wt, 5000));
}

static inline void tb_end(tb_world *w, tb_col *col) {
  bx_th_box_op op = {.end = true};
  tb_send(w, col, &op);
  assert_true(tb_run_until(w->e, tb_closed, col, 5000));
  assert_int_equal(col->status, 0);
  assert_true(col->got_end);
}

/* A text message from `from` to `to`, sealed. */
static inline size_t tb_seal(tb_world *w, int from, int to, const char *text, uint8_t *out) {
  size_t n = 0;
  assert_int_equal(bx_th_box_seal(w->id[from], bx_th_identity_public_key(w->id[to]), "text",
                                  (const uint8_t *)text, strlen(text), out, BX_TH_BOX_MAX_MSG, &n),
                   0);
  return n;
}

/* from stores `text` for `to` (peer mode), with id and expire when given; returns the cap. */
static inline int64_t tb_store(tb_world *w, int from, int to, const char *text, const char *id,
                               uint32_t expire) {
  tb_col col;
  tb_open(w, from, tb_hn(w, to), true, false, &col);
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  bx_th_box_op op = {.msg = msg, .id = id, .expire_s = expire};
  op.len = tb_seal(w, from, to, text, msg);
  tb_send(w, &col, &op);
  int64_t cap = col.last_cap;
  tb_end(w, &col);
  return cap;
}

/* The text of col's i-th message, opened by `me` and verified with `from`'s key. */
static inline void tb_text(tb_world *w, tb_col *col, int i, int me, int from, char *out,
                           size_t cap) {
  bx_th_box_letter *l = NULL;
  assert_int_equal(bx_th_box_unseal(w->id[me], col->msgs[i], col->lens[i],
                                    bx_th_identity_public_key(w->id[from]), &l),
                   0);
  assert_true(l->verified);
  assert_string_equal(l->type, "text");
  snprintf(out, cap, "%.*s", (int)l->len, (char *)l->body);
  bx_th_box_letter_free(l);
}

static inline bx_th_box_host_stats tb_stats(tb_world *w) {
  bx_th_box_host_stats st;
  bx_th_box_host_stats_get(w->host, &st);
  return st;
}

#endif /* BX_TH_BOX_TESTUTIL_H */
