/* th:// boxes (transports/telehash/th_box_url.c): calls whose request and reply each wait at a
 * box host while the other side is offline, direct delivery over a link, deadlines, the size
 * limit. Contexts with their own endpoints on one loop, UDP on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conformance/conformance.h"
#include "th_internal.h"

typedef struct tu_node {
  bx_ctx *ctx;
  bxc_log log;
  bx_th_identity *id;
  bx_th_endpoint *ep;
  bxt_calc calc;
  bool serving;
} tu_node;

static uv_loop_t tu_loop;

static void tu_ep(tu_node *n, const char *name, bx_th_identity *id) {
  memset(n, 0, sizeof *n);
  n->ctx = bxc_ctx_new(&tu_loop, name, &n->log, 0);
  n->id = id;
  if (n->id == NULL) assert_int_equal(bx_th_identity_new(&n->id), 0);
  bx_th_endpoint_opts o = {.bind = {"udp://127.0.0.1:0"},
                           .resend_ms = 40,
                           .chan_resend_ms = 40,
                           .chan_timeout_ms = 3000};
  assert_int_equal(bx_th_endpoint_new(n->ctx, n->id, &o, &n->ep), 0);
}

static void tu_attach(tu_node *n, bx_th_endpoint *host) {
  char *hj = bx_th_endpoint_json(host);
  bx_th_boxes_opts bo = {.host = hj};
  assert_int_equal(bx_th_boxes_attach(n->ep, &bo), 0);
  free(hj);
}

/* The calculator served on n's own box. */
static void tu_serve(tu_node *n) {
  assert_int_equal(bxt_calc_register(n->ctx, "calc", &n->calc), 0);
  char url[128];
  snprintf(url, sizeof url, "th://%s", bx_th_identity_hashname(n->id));
  bx_listener *l = NULL;
  assert_int_equal(bx_listen(n->ctx, url, NULL, &l), 0);
  n->serving = true;
}

static void tu_free(tu_node *n) {
  if (n->ctx == NULL) return;
  if (n->serving) bxt_calc_release(&n->calc);
  int closed = 0;
  assert_int_equal(bx_ctx_close(n->ctx, bxc_on_ctx_closed, &closed), 0);
  bxc_wait_for(&tu_loop, &closed, 1);
  bx_th_identity_free(n->id);
  n->ctx = NULL;
}

typedef struct tu_host {
  tu_node n;
  bx_th_box_host *h;
} tu_host;

static void tu_host_start(tu_host *h) {
  tu_ep(&h->n, "/bxt/host", NULL);
  assert_int_equal(bx_th_box_host_new(h->n.ep, NULL, &h->h), 0);
}

static void tu_host_stop(tu_host *h) {
  bx_th_box_host_free(h->h);
  tu_free(&h->n);
}

static bx_box *tu_calc_of(tu_node *caller, const tu_node *service) {
  char url[128];
  snprintf(url, sizeof url, "th://%s", bx_th_identity_hashname(service->id));
  return bxc_service(caller->ctx, url, "calc");
}

static void tu_learn(tu_node *n, const tu_node *peer) {
  char *j = bx_th_endpoint_json(peer->ep);
  assert_int_equal(bx_th_boxes_learn(n->ep, j), 0);
  free(j);
}

static void tu_tick(uv_timer_t *t) {
  (void)t;
}

/* Runs the loop for about ms (other traffic flows meanwhile). */
static void tu_run_ms(uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(&tu_loop, &t);
  uv_timer_start(&t, tu_tick, ms, 0);
  uint64_t end = uv_now(&tu_loop) + ms;
  while (uv_now(&tu_loop) < end)
    uv_run(&tu_loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&tu_loop, UV_RUN_NOWAIT);
}

/* The service is offline when the call is made; it starts, collects, answers; the caller
 * collects the reply. */
static void test_offline_call(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&tu_loop), 0);
  tu_host host;
  tu_host_start(&host);
  bx_th_identity *sid = NULL;
  assert_int_equal(bx_th_identity_new(&sid), 0);
  tu_node caller, service;
  tu_ep(&caller, "/bxt/caller", NULL);
  tu_attach(&caller, host.n.ep);
  /* the service's key, as its peer JSON would give it (it never linked to the host) */
  bx_th_identity *sid_copy = NULL;
  assert_int_equal(bx_th_identity_from_secret(bx__th_identity_secret(sid), &sid_copy), 0);
  service.id = sid;
  char sjson[256];
  char b32[60];
  bx__th_b32_encode(bx_th_identity_public_key(sid), 32, b32);
  snprintf(sjson, sizeof sjson, "{\"keys\":{\"3a\":\"%s\"}}", b32);
  assert_int_equal(bx_th_boxes_learn(caller.ep, sjson), 0);
  bx_box *calc = tu_calc_of(&caller, &service);
  bxc_res r = {0};
  assert_int_equal(bxc_start(calc, "add", bxc_args2(1, 2), &r), 0);
  tu_run_ms(300); /* stored at the host meanwhile */
  assert_int_equal(r.calls, 0);
  bx_th_box_host_stats hs;
  bx_th_box_host_stats_get(host.h, &hs);
  assert_true(hs.stored >= 1);
  /* the service starts */
  tu_ep(&service, "/bxt/service", sid_copy);
  bx_th_identity_free(sid);
  tu_attach(&service, host.n.ep);
  tu_serve(&service);
  bxc_wait_for(&tu_loop, &r.calls, 1);
  assert_int_equal(r.status, 0);
  assert_true(r.num == 3);
  bx_th_boxes_stats st;
  bx_th_boxes_stats_get(service.ep, &st);
  assert_true(st.received >= 1);
  bx_th_boxes_stats_get(caller.ep, &st);
  assert_true(st.received >= 1);
  /* and a second call while both are online: live messages both ways */
  assert_int_equal(bxc_call(&tu_loop, calc, "add", bxc_args2(20, 22), &r), 0);
  assert_true(r.num == 42);
  bx_box_unref(calc);
  tu_free(&caller);
  tu_free(&service);
  tu_host_stop(&host);
  assert_int_equal(uv_loop_close(&tu_loop), 0);
}

/* A call whose deadline passes before the reply comes: BX_ETIMEDOUT once, the late reply is
 * dropped. */
static void test_deadline(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&tu_loop), 0);
  tu_host host;
  tu_host_start(&host);
  tu_node caller, service;
  tu_ep(&service, "/bxt/service", NULL);
  tu_ep(&caller, "/bxt/caller", NULL);
  tu_attach(&caller, host.n.ep);
  tu_learn(&caller, &service);
  bx_box *calc = tu_calc_of(&caller, &service);
  bxc_res r = {0};
  bx_call_opts o = {.timeout_ms = 200};
  assert_int_equal(bx_call_json(calc, "add", bxc_args2(2, 3), false, &o, bxc_done, &r, NULL), 0);
  bxc_wait_for(&tu_loop, &r.calls, 1);
  assert_int_equal(r.status, BX_ETIMEDOUT);
  /* the service comes and answers late */
  tu_attach(&service, host.n.ep);
  tu_serve(&service);
  tu_run_ms(1500);
  assert_int_equal(r.calls, 1);
  bx_box_unref(calc);
  tu_free(&caller);
  tu_free(&service);
  tu_host_stop(&host);
  assert_int_equal(uv_loop_close(&tu_loop), 0);
}

/* With a link to the service up, frames go to it directly (its own box, 6.7). */
static void test_direct(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&tu_loop), 0);
  tu_node caller, service;
  tu_ep(&service, "/bxt/service", NULL);
  tu_ep(&caller, "/bxt/caller", NULL);
  assert_int_equal(bx_th_boxes_attach(service.ep, NULL), 0); /* no host at all */
  assert_int_equal(bx_th_boxes_attach(caller.ep, NULL), 0);
  tu_serve(&service);
  char *sj = bx_th_endpoint_json(service.ep);
  bx_th_link *k = NULL;
  assert_int_equal(bx_th_link_new(caller.ep, sj, &k), 0);
  free(sj);
  while (!bx_th_link_is_up(k))
    uv_run(&tu_loop, UV_RUN_ONCE);
  bx_box *calc = tu_calc_of(&caller, &service);
  bxc_res r;
  assert_int_equal(bxc_call(&tu_loop, calc, "add", bxc_args2(4, 5), &r), 0);
  assert_true(r.num == 9);
  bx_th_boxes_stats st;
  bx_th_boxes_stats_get(caller.ep, &st);
  assert_true(st.direct >= 1);
  while (bx_th_boxes_stats_get(service.ep, &st), st.direct < 1) /* its reply's store answer */
    uv_run(&tu_loop, UV_RUN_ONCE);
  /* a frame too big for a message fails at send */
  assert_int_equal(bxc_call(&tu_loop, calc, "add", bxc_args_str(2000, 'x'), &r), BX_EMSGSIZE);
  bx_box_unref(calc);
  tu_free(&caller);
  tu_free(&service);
  assert_int_equal(uv_loop_close(&tu_loop), 0);
}

/* URLs: a th:// box needs a hashname and an attached endpoint. */
static void test_urls(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&tu_loop), 0);
  tu_node n;
  tu_ep(&n, "/bxt/n", NULL);
  bx_box *b = NULL;
  assert_int_equal(bx_connect(n.ctx, "th://nope", NULL, &b), BX_EINVAL);
  bx_listener *l = NULL;
  char url[128];
  snprintf(url, sizeof url, "th://%s", bx_th_identity_hashname(n.id));
  assert_int_equal(bx_listen(n.ctx, url, NULL, &l), BX_ENOROUTE); /* not attached */
  assert_int_equal(bx_th_boxes_attach(n.ep, NULL), 0);
  assert_int_equal(bx_th_boxes_attach(n.ep, NULL), BX_EEXIST);
  bx_th_identity *other = NULL;
  assert_int_equal(bx_th_identity_new(&other), 0);
  char bad[128];
  snprintf(bad, sizeof bad, "th://%s", bx_th_identity_hashname(other));
  assert_int_equal(bx_listen(n.ctx, bad, NULL, &l), BX_EINVAL); /* only our own box */
  bx_th_identity_free(other);
  assert_int_equal(bx_listen(n.ctx, url, NULL, &l), 0);
  tu_free(&n);
  assert_int_equal(uv_loop_close(&tu_loop), 0);
}

typedef struct tu_raw {
  int statuses;
  bool closed;
} tu_raw;

static void tu_raw_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data) {
  (void)c;
  tu_raw *r = data;
  if (ev->type == BX_TH_BOX_STATUS) r->statuses++;
  if (ev->type == BX_TH_BOX_CLOSED) r->closed = true;
}

/* A message handed over twice (here: collected from the host, then the same bytes and id
 * delivered directly) is dispatched once: the call is served once. */
static void test_served_once(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&tu_loop), 0);
  tu_host host;
  tu_host_start(&host);
  tu_node caller, service;
  tu_ep(&service, "/bxt/service", NULL);
  tu_ep(&caller, "/bxt/caller", NULL);
  tu_attach(&caller, host.n.ep);
  tu_learn(&caller, &service);
  bx_box *calc = tu_calc_of(&caller, &service);
  bxc_res r = {0};
  assert_int_equal(bxc_start(calc, "add", bxc_args2(1, 2), &r), 0);
  bx__bs *st = bx__th_box_host_store(host.h);
  bx__bs_box *box = NULL;
  while ((box = bx__bs_box_get(st, bx_th_identity_hashname(service.id),
                               bx_th_identity_hashname(caller.id))) == NULL ||
         box->n < 2)
    uv_run(&tu_loop, UV_RUN_ONCE);
  /* copies of what waits for the service (its handshake frame and the request) */
  enum { N = 2 };
  char ids[N][BX_TH_BOX_ID_LEN + 1];
  uint8_t msgs[N][BX_TH_BOX_MAX_MSG];
  size_t lens[N];
  int n = 0;
  for (bx__tlink *it = box->msgs.next; it != &box->msgs && n < N; it = it->next, n++) {
    bx__bs_msg *m = BX__BS_IN_BOX(it);
    snprintf(ids[n], sizeof ids[n], "%s", m->id);
    memcpy(msgs[n], m->data, m->len);
    lens[n] = m->len;
  }
  tu_attach(&service, host.n.ep);
  tu_serve(&service);
  bxc_wait_for(&tu_loop, &r.calls, 1);
  assert_true(r.num == 3);
  assert_int_equal(service.calc.calls, 1);
  /* the same messages again, straight to the service's own box */
  char *sj = bx_th_endpoint_json(service.ep);
  bx_th_link *k = NULL;
  assert_int_equal(bx_th_link_new(caller.ep, sj, &k), 0);
  free(sj);
  tu_raw raw = {0};
  bx_th_box_client *c = NULL;
  assert_int_equal(bx_th_box_client_open(k, bx_th_identity_hashname(service.id), true, false,
                                         tu_raw_cb, &raw, &c),
                   0);
  for (int i = 0; i < N; i++) {
    bx_th_box_op op = {.msg = msgs[i], .len = lens[i], .id = ids[i], .end = i == N - 1};
    assert_int_equal(bx_th_box_client_send(c, &op), 0);
  }
  while (!raw.closed)
    uv_run(&tu_loop, UV_RUN_ONCE);
  assert_int_equal(raw.statuses, N);
  bx_th_boxes_stats bs;
  bx_th_boxes_stats_get(service.ep, &bs);
  assert_int_equal(bs.duplicate, N);
  tu_run_ms(200);
  assert_int_equal(service.calc.calls, 1); /* served once */
  assert_int_equal(r.calls, 1);
  bx_box_unref(calc);
  tu_free(&caller);
  tu_free(&service);
  tu_host_stop(&host);
  assert_int_equal(uv_loop_close(&tu_loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urls),         cmocka_unit_test(test_direct),
      cmocka_unit_test(test_offline_call), cmocka_unit_test(test_deadline),
      cmocka_unit_test(test_served_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
