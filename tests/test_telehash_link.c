/* telehash links and channels: two endpoints in one process and one loop, over UDP and TCP on
 * loopback, through a lossy relay, across a peer restart, and against malformed packets. Timing
 * options are short so nothing waits for the spec's seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "testutil.h"
#include "th_internal.h"

/* ---- running the loop until something happened --------------------------------------------- */

static void tl_tick(uv_timer_t *t) {
  (void)t;
}

typedef bool (*tl_cond)(void *arg);

static bool tl_run_until(bxt_env *e, tl_cond cond, void *arg, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(&e->loop, &t);
  uv_timer_start(&t, tl_tick, 5, 5);
  uint64_t end = uv_now(&e->loop) + ms;
  bool ok;
  while (!(ok = cond(arg)) && uv_now(&e->loop) < end)
    uv_run(&e->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  return ok;
}

/* ---- an endpoint with its counters ----------------------------------------------------------- */

typedef struct tl_peer {
  bx_th_identity *id;
  bx_th_endpoint *ep;
  int ups, downs, last_down;
  bool closed;
} tl_peer;

static void tl_link_cb(bx_th_link *link, bx_th_link_event ev, int status, void *data) {
  (void)link;
  tl_peer *p = data;
  if (ev == BX_TH_LINK_UP) p->ups++;
  if (ev == BX_TH_LINK_DOWN) {
    p->downs++;
    p->last_down = status;
  }
}

static void tl_opts(bx_th_endpoint_opts *o, tl_peer *p, const char *b0, const char *b1) {
  memset(o, 0, sizeof *o);
  o->bind[0] = b0;
  o->bind[1] = b1;
  o->resend_ms = 40;
  o->link_timeout_ms = 2000;
  o->keepalive_ms = 500;
  o->chan_resend_ms = 40;
  o->chan_timeout_ms = 5000;
  o->link_cb = tl_link_cb;
  o->link_data = p;
}

static void tl_echo_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data);

/* The "echo" service: every packet back, and an end for an end. */
static void tl_echo_open(bx_th_channel *ch, const bx_th_chan_event *first, void *data) {
  bx_th_channel_set_cb(ch, tl_echo_cb, data);
  tl_echo_cb(ch, first, data);
}

static void tl_echo_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)data;
  if (ev->type != BX_TH_CHAN_PACKET) return;
  if (ev->len > 0 || ev->end) bx_th_channel_send(ch, NULL, ev->body, ev->len, ev->end);
}

static int tl_peer_start(bxt_env *e, tl_peer *p, bx_th_identity *id, const char *b0,
                         const char *b1) {
  memset(p, 0, sizeof *p);
  p->id = id;
  bx_th_endpoint_opts o;
  tl_opts(&o, p, b0, b1);
  int rc = bx_th_endpoint_new(e->ctx, id, &o, &p->ep);
  if (rc != 0) return rc;
  assert_int_equal(bx_th_endpoint_handle(p->ep, "echo", tl_echo_open, p), 0);
  return 0;
}

static void tl_on_closed(bx_th_endpoint *ep, void *data) {
  (void)ep;
  ((tl_peer *)data)->closed = true;
}

static bool tl_closed(void *arg) {
  return ((tl_peer *)arg)->closed;
}

static void tl_peer_stop(bxt_env *e, tl_peer *p) {
  assert_int_equal(bx_th_endpoint_close(p->ep, tl_on_closed, p), 0);
  assert_true(tl_run_until(e, tl_closed, p, 2000));
}

typedef struct tl_pair {
  bx_th_link *ab, *ba;
  tl_peer *a, *b;
} tl_pair;

static bool tl_both_up(void *arg) {
  tl_pair *pr = arg;
  if (pr->ba == NULL) pr->ba = bx_th_endpoint_link(pr->b->ep, bx_th_identity_hashname(pr->a->id));
  return bx_th_link_is_up(pr->ab) && pr->ba != NULL && bx_th_link_is_up(pr->ba);
}

/* ---- a client of the echo service ------------------------------------------------------------ */

#define TL_N 60

typedef struct tl_client {
  int got[TL_N * 2];
  int n;
  bool ended, closed;
  int status;
} tl_client;

static void tl_client_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)ch;
  tl_client *c = data;
  if (ev->type == BX_TH_CHAN_CLOSED) {
    c->closed = true;
    c->status = ev->status;
    return;
  }
  if (ev->end) c->ended = true;
  if (ev->len > 0) {
    char text[32] = {0};
    memcpy(text, ev->body, ev->len < 31 ? ev->len : 31);
    assert_true(c->n < TL_N * 2);
    c->got[c->n++] = atoi(text + 4);
  }
}

static bool tl_client_done(void *arg) {
  return ((tl_client *)arg)->closed;
}

static bool tl_client_has(void *arg) {
  return ((tl_client *)arg)->n >= 5;
}

/* Sends TL_N numbered packets on a reliable echo channel and checks they come back in order,
 * exactly once, and that the channel ends cleanly. */
static void tl_reliable_echo(bxt_env *e, bx_th_link *link) {
  tl_client c = {0};
  bx_th_channel *ch = NULL;
  assert_int_equal(bx_th_channel_open(link, "echo", true, NULL, NULL, 0, tl_client_cb, &c, &ch), 0);
  for (int i = 0; i < TL_N; i++) {
    char text[32];
    int n = snprintf(text, sizeof text, "msg %d", i);
    assert_int_equal(bx_th_channel_send(ch, NULL, (uint8_t *)text, (size_t)n, i == TL_N - 1), 0);
  }
  assert_true(tl_run_until(e, tl_client_done, &c, 20000));
  assert_int_equal(c.status, 0);
  assert_true(c.ended);
  assert_int_equal(c.n, TL_N);
  for (int i = 0; i < TL_N; i++)
    assert_int_equal(c.got[i], i);
}

static void tl_unreliable_echo(bxt_env *e, bx_th_link *link) {
  tl_client c = {0};
  bx_th_channel *ch = NULL;
  assert_int_equal(bx_th_channel_open(link, "echo", false, NULL, NULL, 0, tl_client_cb, &c, &ch),
                   0);
  for (int i = 0; i < 5; i++) {
    char text[32];
    int n = snprintf(text, sizeof text, "msg %d", i);
    assert_int_equal(bx_th_channel_send(ch, NULL, (uint8_t *)text, (size_t)n, false), 0);
  }
  assert_true(tl_run_until(e, tl_client_has, &c, 5000));
  assert_int_equal(c.n, 5);
  assert_int_equal(bx_th_channel_send(ch, NULL, NULL, 0, true), 0);
  assert_true(tl_run_until(e, tl_client_done, &c, 5000));
  assert_int_equal(c.status, 0);
}

static bx_th_identity *tl_identity(void) {
  bx_th_identity *id = NULL;
  assert_int_equal(bx_th_identity_new(&id), 0);
  return id;
}

/* A and B on the binds given, A links to B, both come up, traffic flows both ways. */
static void tl_two(const char *bind, bool unreliable) {
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity(), *ib = tl_identity();
  tl_peer a, b;
  assert_int_equal(tl_peer_start(e, &a, ia, bind, NULL), 0);
  assert_int_equal(tl_peer_start(e, &b, ib, bind, NULL), 0);
  assert_true(bx_th_endpoint_port(b.ep, 0) > 0);
  char *bj = bx_th_endpoint_json(b.ep);
  assert_non_null(bj);
  tl_pair pr = {.a = &a, .b = &b};
  assert_int_equal(bx_th_link_new(a.ep, bj, &pr.ab), 0);
  free(bj);
  assert_true(tl_run_until(e, tl_both_up, &pr, 5000));
  assert_string_equal(bx_th_link_hashname(pr.ab), bx_th_identity_hashname(ib));
  tl_reliable_echo(e, pr.ab);
  tl_reliable_echo(e, pr.ba); /* and the other way: B opens, with its own id parity */
  if (unreliable) tl_unreliable_echo(e, pr.ab);
  bx_th_link_stats ls;
  bx_th_link_stats_get(pr.ab, &ls);
  assert_true(ls.packets_in > 0 && ls.packets_out > 0);
  assert_int_equal(a.downs, 0);
  tl_peer_stop(e, &a);
  tl_peer_stop(e, &b);
  bxt_env_free(e);
  bx_th_identity_free(ia);
  bx_th_identity_free(ib);
}

static void test_udp4(void **state) {
  (void)state;
  tl_two("udp://127.0.0.1:0", true);
}

static void test_tcp4(void **state) {
  (void)state;
  tl_two("tcp://127.0.0.1:0", true);
}

static bool tl_have_ipv6(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_udp_t u;
  uv_udp_init(&loop, &u);
  struct sockaddr_in6 sa;
  uv_ip6_addr("::1", 0, &sa);
  bool ok = uv_udp_bind(&u, (struct sockaddr *)&sa, 0) == 0;
  uv_close((uv_handle_t *)&u, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return ok;
}

static void test_ipv6(void **state) {
  (void)state;
  if (!tl_have_ipv6()) {
    skip();
    return;
  }
  tl_two("udp://[::1]:0", false);
  tl_two("tcp://[::1]:0", false);
}

/* ---- a lossy relay between A and B ----------------------------------------------------------- */

typedef struct tl_relay {
  uv_udp_t sa, sb; /* sa faces A, sb faces B */
  struct sockaddr_storage a_addr, b_addr;
  bool have_a;
  int count;
  uint8_t held[70000];
  size_t held_len;
  uv_udp_t *held_out;
  struct sockaddr_storage held_to;
  int dropped, reordered;
  char buf[70000];
} tl_relay;

static void tl_relay_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
  (void)s;
  tl_relay *r = h->data;
  *buf = uv_buf_init(r->buf, sizeof r->buf);
}

static void tl_relay_send(uv_udp_t *out, const struct sockaddr_storage *to, const void *p,
                          size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  uv_udp_try_send(out, &b, 1, (const struct sockaddr *)to);
}

static void tl_relay_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                          unsigned flags) {
  (void)flags;
  tl_relay *r = h->data;
  if (n <= 0 || from == NULL) return;
  uv_udp_t *out;
  struct sockaddr_storage *to;
  if (h == &r->sa) {
    memcpy(&r->a_addr, from, sizeof(struct sockaddr_in));
    r->have_a = true;
    out = &r->sb;
    to = &r->b_addr;
  } else {
    if (!r->have_a) return;
    out = &r->sa;
    to = &r->a_addr;
  }
  r->count++;
  if (r->count % 4 == 0) { /* every fourth datagram is lost */
    r->dropped++;
    return;
  }
  if (r->held_len == 0 && r->count % 7 == 0) { /* every seventh waits for the next one */
    memcpy(r->held, buf->base, (size_t)n);
    r->held_len = (size_t)n;
    r->held_out = out;
    r->held_to = *to;
    return;
  }
  tl_relay_send(out, to, buf->base, (size_t)n);
  if (r->held_len > 0) {
    tl_relay_send(r->held_out, &r->held_to, r->held, r->held_len);
    r->held_len = 0;
    r->reordered++;
  }
}

static void tl_relay_start(bxt_env *e, tl_relay *r, int b_port) {
  memset(r, 0, sizeof *r);
  uv_ip4_addr("127.0.0.1", b_port, (struct sockaddr_in *)&r->b_addr);
  struct sockaddr_in any;
  uv_ip4_addr("127.0.0.1", 0, &any);
  uv_udp_t *hs[2] = {&r->sa, &r->sb};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(uv_udp_init(&e->loop, hs[i]), 0);
    hs[i]->data = r;
    assert_int_equal(uv_udp_bind(hs[i], (struct sockaddr *)&any, 0), 0);
    assert_int_equal(uv_udp_recv_start(hs[i], tl_relay_alloc, tl_relay_recv), 0);
  }
}

static int tl_port_of(uv_udp_t *h) {
  struct sockaddr_in sa;
  int len = sizeof sa;
  uv_udp_getsockname(h, (struct sockaddr *)&sa, &len);
  return ntohs(sa.sin_port);
}

static void test_lossy_relay(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity(), *ib = tl_identity();
  tl_peer a, b;
  assert_int_equal(tl_peer_start(e, &a, ia, "udp://127.0.0.1:0", NULL), 0);
  assert_int_equal(tl_peer_start(e, &b, ib, "udp://127.0.0.1:0", NULL), 0);
  tl_relay *r = calloc(1, sizeof *r);
  assert_non_null(r);
  tl_relay_start(e, r, bx_th_endpoint_port(b.ep, 0));
  /* B's JSON with the relay's port in place of B's */
  char *bj = bx_th_endpoint_json(b.ep);
  cJSON *j = cJSON_Parse(bj);
  free(bj);
  cJSON *path = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "paths"), 0);
  cJSON_SetNumberValue(cJSON_GetObjectItem(path, "port"), tl_port_of(&r->sa));
  bj = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  tl_pair pr = {.a = &a, .b = &b};
  assert_int_equal(bx_th_link_new(a.ep, bj, &pr.ab), 0);
  free(bj);
  assert_true(tl_run_until(e, tl_both_up, &pr, 5000));
  tl_reliable_echo(e, pr.ab);
  tl_reliable_echo(e, pr.ba);
  assert_true(r->dropped > 10);
  assert_true(r->reordered > 3);
  tl_peer_stop(e, &a);
  tl_peer_stop(e, &b);
  uv_close((uv_handle_t *)&r->sa, NULL);
  uv_close((uv_handle_t *)&r->sb, NULL);
  bxt_env_free(e);
  free(r);
  bx_th_identity_free(ia);
  bx_th_identity_free(ib);
}

/* ---- a peer restarts with the same identity on another port ---------------------------------- */

static bool tl_a_back(void *arg) {
  tl_pair *pr = arg;
  return pr->a->ups >= 2 && bx_th_link_is_up(pr->ab) && tl_both_up(pr);
}

static void test_restart(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity(), *ib = tl_identity();
  tl_peer a, b;
  assert_int_equal(tl_peer_start(e, &a, ia, "udp://127.0.0.1:0", NULL), 0);
  assert_int_equal(tl_peer_start(e, &b, ib, "udp://127.0.0.1:0", NULL), 0);
  int old_port = bx_th_endpoint_port(b.ep, 0);
  char *bj = bx_th_endpoint_json(b.ep);
  tl_pair pr = {.a = &a, .b = &b};
  assert_int_equal(bx_th_link_new(a.ep, bj, &pr.ab), 0);
  free(bj);
  assert_true(tl_run_until(e, tl_both_up, &pr, 5000));
  tl_reliable_echo(e, pr.ab);
  assert_int_equal(a.ups, 1);

  /* B goes; B' comes with the same identity on a new port and links to A */
  tl_peer_stop(e, &b);
  tl_peer b2;
  assert_int_equal(tl_peer_start(e, &b2, ib, "udp://127.0.0.1:0", NULL), 0);
  assert_int_not_equal(bx_th_endpoint_port(b2.ep, 0), old_port);
  char *aj = bx_th_endpoint_json(a.ep);
  bx_th_link *b2a = NULL;
  assert_int_equal(bx_th_link_new(b2.ep, aj, &b2a), 0);
  free(aj);
  pr.b = &b2;
  pr.ba = NULL;
  assert_true(tl_run_until(e, tl_a_back, &pr, 5000));
  assert_int_equal(a.downs, 1);
  assert_int_equal(a.last_down, BX_ECONNLOST);
  /* A answers on the newest address: its channel reaches B' */
  tl_reliable_echo(e, pr.ab);
  tl_peer_stop(e, &a);
  tl_peer_stop(e, &b2);
  bxt_env_free(e);
  bx_th_identity_free(ia);
  bx_th_identity_free(ib);
}

/* ---- a link gives up, and comes back ------------------------------------------------------- */

static bool tl_a_down(void *arg) {
  return ((tl_peer *)arg)->downs > 0;
}

static void test_give_up(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity(), *ib = tl_identity();
  tl_peer a, b;
  assert_int_equal(tl_peer_start(e, &a, ia, "udp://127.0.0.1:0", NULL), 0);
  assert_int_equal(tl_peer_start(e, &b, ib, "udp://127.0.0.1:0", NULL), 0);
  char *bj = bx_th_endpoint_json(b.ep);
  tl_pair pr = {.a = &a, .b = &b};
  assert_int_equal(bx_th_link_new(a.ep, bj, &pr.ab), 0);
  assert_true(tl_run_until(e, tl_both_up, &pr, 5000));
  tl_peer_stop(e, &b); /* silent from now on: keep-alives go unanswered */
  assert_true(tl_run_until(e, tl_a_down, &a, 10000));
  assert_int_equal(a.last_down, BX_ETIMEDOUT);
  assert_false(bx_th_link_is_up(pr.ab));
  bx_th_link_stats ls;
  bx_th_link_stats_get(pr.ab, &ls);
  assert_true(ls.handshakes_out >= 5); /* the keep-alive and its resends */
  free(bj);
  tl_peer_stop(e, &a);
  bxt_env_free(e);
  bx_th_identity_free(ia);
  bx_th_identity_free(ib);
}

/* ---- malformed packets ----------------------------------------------------------------------- */

typedef struct tl_raw {
  uv_udp_t u;
  struct sockaddr_in to;
} tl_raw;

static void tl_raw_send(tl_raw *r, const void *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  assert_true(uv_udp_try_send(&r->u, &b, 1, (const struct sockaddr *)&r->to) >= 0);
}

typedef struct tl_wait_drops {
  bx_th_endpoint *ep;
  uint64_t want;
} tl_wait_drops;

static bool tl_drops(void *arg) {
  tl_wait_drops *w = arg;
  bx_th_endpoint_stats st;
  bx_th_endpoint_stats_get(w->ep, &st);
  return st.dropped >= w->want;
}

/* A handshake from `from` to `to` with at, sealed (and its size in *len). */
static size_t tl_handshake(const bx_th_identity *from, const bx_th_identity *to, uint32_t at,
                           uint8_t *out, size_t cap) {
  bx_buf inner = {0};
  assert_int_equal(bx__th_handshake_append(&inner, at, bx_th_identity_public_key(from), NULL), 0);
  size_t len = 0;
  assert_int_equal(bx__th_cs3a_seal((uint8_t *)inner.base, inner.len, bx_th_identity_public_key(to),
                                    bx__th_identity_secret(from), NULL, NULL, out, cap, &len),
                   0);
  bx_buf_free(&inner);
  return len;
}

static void test_malformed(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity(), *ib = tl_identity();
  tl_peer a, b;
  assert_int_equal(tl_peer_start(e, &a, ia, "udp://127.0.0.1:0", "tcp://127.0.0.1:0"), 0);
  assert_int_equal(tl_peer_start(e, &b, ib, "udp://127.0.0.1:0", NULL), 0);
  char *bj = bx_th_endpoint_json(b.ep);
  tl_pair pr = {.a = &a, .b = &b};
  assert_int_equal(bx_th_link_new(a.ep, bj, &pr.ab), 0);
  free(bj);
  assert_true(tl_run_until(e, tl_both_up, &pr, 5000));

  tl_raw raw;
  assert_int_equal(uv_udp_init(&e->loop, &raw.u), 0);
  uv_ip4_addr("127.0.0.1", bx_th_endpoint_port(a.ep, 0), &raw.to);
  bx_th_endpoint_stats st0;
  bx_th_endpoint_stats_get(a.ep, &st0);

  uint8_t pkt[2048];
  /* short: a lone zero byte; a LOB whose head runs past the end */
  tl_raw_send(&raw, "\0", 1);
  tl_raw_send(&raw, "\0\x09{\"a\"", 6);
  /* unknown CSID */
  uint8_t csid1a[80] = {0, 1, 0x1a};
  tl_raw_send(&raw, csid1a, sizeof csid1a);
  /* a binary head of 3 bytes */
  uint8_t three[10] = {0, 3, 1, 2, 3};
  tl_raw_send(&raw, three, sizeof three);
  /* a JSON head where no packet has one */
  const char jhead[] = "\0\x0b{\"c\":1234}x";
  tl_raw_send(&raw, jhead, sizeof jhead - 1);
  /* a handshake with one bit flipped (bad MAC) */
  size_t hl = tl_handshake(ib, ia, 7, pkt, sizeof pkt);
  pkt[hl - 20] ^= 1;
  tl_raw_send(&raw, pkt, hl);
  /* a handshake sealed to someone else */
  bx_th_identity *ic = tl_identity();
  hl = tl_handshake(ib, ic, 7, pkt, sizeof pkt);
  tl_raw_send(&raw, pkt, hl);
  /* a replayed (older) handshake from B: at 2 is older than the link's */
  hl = tl_handshake(ib, ia, 2, pkt, sizeof pkt);
  tl_raw_send(&raw, pkt, hl);
  /* a channel packet for no token */
  memset(pkt, 0x55, 200);
  pkt[0] = pkt[1] = 0;
  tl_raw_send(&raw, pkt, 200);
  /* a channel packet with the link's token and a bad secretbox */
  bx_th_link *ab = pr.ab;
  memcpy(pkt + 2, ab->token_in, BX__TH_TOKEN);
  tl_raw_send(&raw, pkt, 200);
  /* a channel packet sealed right with an inner packet that is not JSON, and one for no
   * channel */
  size_t cl = 0;
  bx_th_link *ba = pr.ba;
  const uint8_t notjson[] = {0, 8, 'n', 'o', 't', ' ', 'j', 's', 'o', 'n'};
  assert_int_equal(bx__th_channel_seal(notjson, sizeof notjson, ba->token_out, ba->keys.enc, NULL,
                                       pkt, sizeof pkt, &cl),
                   0);
  tl_raw_send(&raw, pkt, cl);
  const char nochan[] = "\0\x0b{\"c\":99999}";
  assert_int_equal(bx__th_channel_seal((const uint8_t *)nochan, sizeof nochan - 1, ba->token_out,
                                       ba->keys.enc, NULL, pkt, sizeof pkt, &cl),
                   0);
  tl_raw_send(&raw, pkt, cl);
  tl_wait_drops w = {a.ep, st0.dropped + 12};
  bool all = tl_run_until(e, tl_drops, &w, 3000);
  bx_th_endpoint_stats st;
  bx_th_endpoint_stats_get(a.ep, &st);
  if (!all)
    fprintf(stderr, "dropped %d: short %d csid %d json %d auth %d stale %d token %d chan %d\n",
            (int)(st.dropped - st0.dropped), (int)(st.short_packets - st0.short_packets),
            (int)(st.unknown_csid - st0.unknown_csid), (int)(st.bad_json - st0.bad_json),
            (int)(st.bad_auth - st0.bad_auth), (int)(st.stale_handshake - st0.stale_handshake),
            (int)(st.bad_token - st0.bad_token), (int)(st.bad_channel - st0.bad_channel));
  assert_true(all);
  assert_int_equal(st.short_packets - st0.short_packets, 2);
  assert_int_equal(st.unknown_csid - st0.unknown_csid, 2);
  assert_int_equal(st.bad_json - st0.bad_json, 2);
  assert_int_equal(st.bad_auth - st0.bad_auth, 3);
  assert_int_equal(st.stale_handshake - st0.stale_handshake, 1);
  assert_int_equal(st.bad_token - st0.bad_token, 1);
  assert_int_equal(st.bad_channel - st0.bad_channel, 1);
  bx_th_link_stats ls;
  bx_th_link_stats_get(ab, &ls);
  assert_true(ls.dropped >= 4);

  /* oversize over TCP: a packet of chunks that never ends */
  uv_tcp_t t;
  uv_connect_t creq;
  struct sockaddr_in tsa;
  uv_ip4_addr("127.0.0.1", bx_th_endpoint_port(a.ep, 1), &tsa);
  assert_int_equal(uv_tcp_init(&e->loop, &t), 0);
  assert_int_equal(uv_tcp_connect(&creq, &t, (struct sockaddr *)&tsa, NULL), 0);
  static uint8_t big[70000];
  for (size_t i = 0; i < sizeof big; i += 256)
    big[i] = 255;
  uv_write_t wreq;
  uv_buf_t wb = uv_buf_init((char *)big, (unsigned)(sizeof big / 256 * 256));
  assert_int_equal(uv_write(&wreq, (uv_stream_t *)&t, &wb, 1, NULL), 0);
  w.want = st.dropped + 1;
  assert_true(tl_run_until(e, tl_drops, &w, 3000));
  bx_th_endpoint_stats_get(a.ep, &st);
  assert_int_equal(st.oversize - st0.oversize, 1);

  /* the link still works */
  assert_true(bx_th_link_is_up(ab));
  tl_reliable_echo(e, ab);
  uv_close((uv_handle_t *)&t, NULL);
  uv_close((uv_handle_t *)&raw.u, NULL);
  tl_peer_stop(e, &a);
  tl_peer_stop(e, &b);
  bxt_env_free(e);
  bx_th_identity_free(ia);
  bx_th_identity_free(ib);
  bx_th_identity_free(ic);
}

static int tl_links(bx_th_endpoint *ep) {
  int n = 0;
  for (bx__tlink *l = ep->links.next; l != &ep->links; l = l->next)
    n++;
  return n;
}

/* Seals inner[0..n) from `from` to `to` as a handshake's message would be. */
static size_t tl_sealed(const bx_th_identity *from, const bx_th_identity *to, const void *inner,
                        size_t n, uint8_t *out, size_t cap) {
  size_t len = 0;
  assert_int_equal(bx__th_cs3a_seal(inner, n, bx_th_identity_public_key(to),
                                    bx__th_identity_secret(from), NULL, NULL, out, cap, &len),
                   0);
  return len;
}

/* Handshake messages that open and verify but whose inner packet is not a handshake we take,
 * and datagrams that are not even packets: each dropped and counted under its reason, and no
 * link is made for any of them. */
static void test_malformed_handshakes(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity(), *ib = tl_identity();
  tl_peer a;
  assert_int_equal(tl_peer_start(e, &a, ia, "udp://127.0.0.1:0", NULL), 0);
  tl_raw raw;
  assert_int_equal(uv_udp_init(&e->loop, &raw.u), 0);
  uv_ip4_addr("127.0.0.1", bx_th_endpoint_port(a.ep, 0), &raw.to);

  uint8_t pkt[1024];
  /* inner packets B seals to A: not a LOB, a binary head, JSON that is not a link, a link
   * without at, an attached key of another cipher set only, and B handing over A's own key */
  const uint8_t not_lob[] = {0xff, 0xff, 1, 2, 3};
  tl_raw_send(&raw, pkt, tl_sealed(ib, ia, not_lob, sizeof not_lob, pkt, sizeof pkt));
  const uint8_t binary[] = {0, 1, 0x3a, 9, 9};
  tl_raw_send(&raw, pkt, tl_sealed(ib, ia, binary, sizeof binary, pkt, sizeof pkt));
  const char key_type[] = "\0\x17{\"type\":\"key\",\"at\":3}";
  tl_raw_send(&raw, pkt, tl_sealed(ib, ia, key_type, sizeof key_type - 1, pkt, sizeof pkt));
  const char no_at[] = "\0\x0f{\"type\":\"link\"}";
  tl_raw_send(&raw, pkt, tl_sealed(ib, ia, no_at, sizeof no_at - 1, pkt, sizeof pkt));
  uint8_t att[64], inner[256];
  size_t alen = 0, ilen = 0;
  const char *head = "{\"type\":\"link\",\"at\":3}";
  assert_int_equal(bx__th_lob_write((const uint8_t *)"{\"1a\":true}", 11,
                                    bx_th_identity_public_key(ib), 32, att, sizeof att, &alen),
                   0);
  assert_int_equal(
      bx__th_lob_write((const uint8_t *)head, strlen(head), att, alen, inner, sizeof inner, &ilen),
      0);
  tl_raw_send(&raw, pkt, tl_sealed(ib, ia, inner, ilen, pkt, sizeof pkt));
  bx_buf own = {0};
  assert_int_equal(bx__th_handshake_append(&own, 3, bx_th_identity_public_key(ia), NULL), 0);
  tl_raw_send(&raw, pkt, tl_sealed(ib, ia, own.base, own.len, pkt, sizeof pkt));
  bx_buf_free(&own);
  /* a well-formed handshake from B whose AUTH says another sender: B's inner, sealed by A */
  bx_buf hs = {0};
  assert_int_equal(bx__th_handshake_append(&hs, 3, bx_th_identity_public_key(ib), NULL), 0);
  tl_raw_send(&raw, pkt, tl_sealed(ia, ia, hs.base, hs.len, pkt, sizeof pkt));
  bx_buf_free(&hs);
  /* datagrams: cloaked but too short to hold a packet; a message's head with a short body */
  const uint8_t cloaked[9] = {7, 1, 2, 3, 4, 5, 6, 7, 8};
  tl_raw_send(&raw, cloaked, sizeof cloaked);
  const uint8_t stub[] = {0, 1, 0x3a, 1, 2, 3};
  tl_raw_send(&raw, stub, sizeof stub);

  tl_wait_drops w = {a.ep, 9};
  bool all = tl_run_until(e, tl_drops, &w, 3000);
  bx_th_endpoint_stats st;
  bx_th_endpoint_stats_get(a.ep, &st);
  if (!all)
    fprintf(stderr, "dropped %d: short %d csid %d json %d auth %d\n", (int)st.dropped,
            (int)st.short_packets, (int)st.unknown_csid, (int)st.bad_json, (int)st.bad_auth);
  assert_true(all);
  assert_int_equal(st.packets_in, 9);
  assert_int_equal(st.dropped, 9);
  assert_int_equal(st.bad_json, 4);
  assert_int_equal(st.unknown_csid, 1);
  assert_int_equal(st.bad_auth, 2);
  assert_int_equal(st.short_packets, 2);
  assert_int_equal(tl_links(a.ep), 0);
  assert_null(bx_th_endpoint_link(a.ep, bx_th_identity_hashname(ib)));

  uv_close((uv_handle_t *)&raw.u, NULL);
  tl_peer_stop(e, &a);
  bxt_env_free(e);
  bx_th_identity_free(ia);
  bx_th_identity_free(ib);
}

/* ---- a flood of handshakes from fresh keys ------------------------------------------------- */

typedef struct tl_wait_in {
  bx_th_endpoint *ep;
  uint64_t want;
} tl_wait_in;

static bool tl_packets_in(void *arg) {
  tl_wait_in *w = arg;
  bx_th_endpoint_stats st;
  bx_th_endpoint_stats_get(w->ep, &st);
  return st.packets_in >= w->want;
}

/* One handshake from a fresh identity, sent raw to `to` with at; waits until it is read. */
static void tl_stranger(bxt_env *e, tl_raw *raw, tl_peer *to, uint32_t at) {
  bx_th_identity *s = tl_identity();
  uint8_t pkt[512];
  size_t hl = tl_handshake(s, to->id, at, pkt, sizeof pkt);
  bx_th_endpoint_stats st;
  bx_th_endpoint_stats_get(to->ep, &st);
  tl_raw_send(raw, pkt, hl);
  tl_wait_in w = {to->ep, st.packets_in + 1};
  assert_true(tl_run_until(e, tl_packets_in, &w, 3000));
  bx_th_identity_free(s);
}

static void test_link_cap(void **state) {
  (void)state;
  enum { CAP = 4 };
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity(), *ib = tl_identity(), *ic = tl_identity();
  tl_peer a, b, c;
  memset(&a, 0, sizeof a);
  a.id = ia;
  bx_th_endpoint_opts o;
  tl_opts(&o, &a, "udp://127.0.0.1:0", NULL);
  o.max_links = CAP;
  assert_int_equal(bx_th_endpoint_new(e->ctx, ia, &o, &a.ep), 0);
  assert_int_equal(bx_th_endpoint_handle(a.ep, "echo", tl_echo_open, &a), 0);
  assert_int_equal(tl_peer_start(e, &b, ib, "udp://127.0.0.1:0", NULL), 0);
  assert_int_equal(tl_peer_start(e, &c, ic, "udp://127.0.0.1:0", NULL), 0);

  /* C (a stranger to A) links first: its link came UP, so it stays through the flood */
  char *aj = bx_th_endpoint_json(a.ep);
  tl_pair pc = {.a = &c, .b = &a};
  assert_int_equal(bx_th_link_new(c.ep, aj, &pc.ab), 0);
  free(aj);
  assert_true(tl_run_until(e, tl_both_up, &pc, 5000));
  bx_th_link *ac = pc.ba;

  tl_raw raw;
  assert_int_equal(uv_udp_init(&e->loop, &raw.u), 0);
  uv_ip4_addr("127.0.0.1", bx_th_endpoint_port(a.ep, 0), &raw.to);

  /* CAP + 3 strangers whose handshakes carry an old `at` (A keeps its own, higher one, so the
   * links wait for an answer that never comes: never UP): the oldest are evicted */
  for (int i = 0; i < CAP + 3; i++)
    tl_stranger(e, &raw, &a, 3);
  bx_th_endpoint_stats st;
  bx_th_endpoint_stats_get(a.ep, &st);
  assert_int_equal(tl_links(a.ep), CAP);
  assert_int_equal(st.links_evicted, 4); /* C's link and 3 never-UP ones fill the 4 slots */
  assert_int_equal(st.links_refused, 0);
  assert_ptr_equal(bx_th_endpoint_link(a.ep, bx_th_identity_hashname(ic)), ac);

  /* strangers whose `at` is higher than A's: A adopts it and the link is UP at once, so it may
   * not be evicted; once the slots hold only those, further strangers are refused */
  uint32_t high = 0xfffffff0u;
  for (int i = 0; i < CAP + 2; i++)
    tl_stranger(e, &raw, &a, high + (uint32_t)i);
  bx_th_endpoint_stats_get(a.ep, &st);
  assert_int_equal(tl_links(a.ep), CAP);
  assert_int_equal(st.links_evicted, 4 + 3);
  assert_int_equal(st.links_refused, 3);
  assert_true(st.dropped >= st.links_refused);

  /* a known peer still links: A dials B (links A makes are not capped), and C's link works */
  char *bj = bx_th_endpoint_json(b.ep);
  tl_pair pb = {.a = &a, .b = &b};
  assert_int_equal(bx_th_link_new(a.ep, bj, &pb.ab), 0);
  free(bj);
  assert_true(tl_run_until(e, tl_both_up, &pb, 5000));
  assert_int_equal(tl_links(a.ep), CAP + 1);
  tl_reliable_echo(e, pb.ab);
  assert_true(bx_th_link_is_up(pc.ab));
  tl_reliable_echo(e, pc.ab);

  uv_close((uv_handle_t *)&raw.u, NULL);
  tl_peer_stop(e, &a);
  tl_peer_stop(e, &b);
  tl_peer_stop(e, &c);
  bxt_env_free(e);
  bx_th_identity_free(ia);
  bx_th_identity_free(ib);
  bx_th_identity_free(ic);
}

/* ---- API edges ------------------------------------------------------------------------------- */

static void test_api(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *ia = tl_identity();
  bx_th_endpoint *ep = (bx_th_endpoint *)&ep;
  bx_th_endpoint_opts o = {.bind = {"http://127.0.0.1:0"}};
  assert_int_equal(bx_th_endpoint_new(e->ctx, ia, &o, &ep), BX_EINVAL);
  assert_null(ep);
  assert_int_equal(bx_th_endpoint_new(e->ctx, ia, NULL, &ep), 0);
  char *j = bx_th_endpoint_json(ep);
  cJSON *root = cJSON_Parse(j);
  assert_string_equal(cJSON_GetObjectItem(root, "hashname")->valuestring,
                      bx_th_identity_hashname(ia));
  const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "paths"), 0);
  assert_string_equal(cJSON_GetObjectItem(p0, "type")->valuestring, "udp4");
  assert_int_equal(cJSON_GetObjectItem(p0, "port")->valueint, bx_th_endpoint_port(ep, 0));
  cJSON_Delete(root);
  bx_th_link *k = (bx_th_link *)&k;
  assert_int_equal(bx_th_link_new(ep, j, &k), BX_EINVAL); /* ourselves */
  assert_null(k);
  free(j);
  assert_int_equal(bx_th_link_new(ep, "{\"keys\":{}}", &k), BX_EBADMSG);
  assert_int_equal(bx_th_link_new(ep, "not json", &k), BX_EBADMSG);
  assert_int_equal(bx_th_endpoint_close(ep, NULL, NULL), 0);
  assert_int_equal(bx_th_endpoint_close(ep, NULL, NULL), BX_ECLOSED);
  bxt_run(e);
  /* an endpoint the context's close closes */
  assert_int_equal(bx_th_endpoint_new(e->ctx, ia, NULL, &ep), 0);
  bxt_env_free(e);
  bx_th_identity_free(ia);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_api),
      cmocka_unit_test(test_udp4),
      cmocka_unit_test(test_tcp4),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_lossy_relay),
      cmocka_unit_test(test_restart),
      cmocka_unit_test(test_give_up),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_malformed_handshakes),
      cmocka_unit_test(test_link_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
