/* Boxes over msgbox (transports/msgbox/mb_box.c): the transport conformance suite for
 * msgbox+tcp, msgbox+unix and msgbox+udp, and what is msgbox's own: URLs with heartbeats, a
 * heartbeat-lost peer, and frames the native queue refused at first. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <cmocka.h>

#include "conformance/conformance.h"

static int url_counter;

static void tcp_url(char *buf, size_t len) {
  snprintf(buf, len, "msgbox+tcp://127.0.0.1:0");
}
static void udp_url(char *buf, size_t len) {
  snprintf(buf, len, "msgbox+udp://127.0.0.1:0");
}
static void unix_url(char *buf, size_t len) {
  snprintf(buf, len, "msgbox+unix:///tmp/bxt-mbox-%ld-%d.sock", (long)getpid(), ++url_counter);
}

static const bxc_tran tcp_tran = {"msgbox+tcp", "msgbox+tcp", tcp_url, false, NULL, 0, 0};
static const bxc_tran unix_tran = {"msgbox+unix", "msgbox+unix", unix_url, false, NULL, 0, 0};
/* One datagram per frame; a burst of 60 kB frames larger than a socket's receive buffer
 * would lose datagrams (those calls would end at their deadlines), so four at once. */
static const bxc_tran udp_tran = {"msgbox+udp", "msgbox+udp",          udp_url, false,
                                  NULL,         BX_MB_MAX_UDP_MESSAGE, 4};

/* ---- msgbox's own cases ------------------------------------------------------------------- */

static void test_urls(void **state) {
  (void)state;
  uv_loop_t loop;
  bxc_log log = {0};
  assert_int_equal(uv_loop_init(&loop), 0);
  bx_ctx *ctx = bxc_ctx_new(&loop, "/bxt/urls", &log, 0);
  bx_box *b = NULL;
  const char *bad[] = {"msgbox+udp://",
                       "msgbox+udp://127.0.0.1",
                       "msgbox+tcp://h:1?x=1",
                       "msgbox+tcp://h:1?heartbeat=",
                       "msgbox+tcp://h:1?heartbeat=0",
                       "msgbox+tcp://h:1?heartbeat=12x",
                       "msgbox+unix://rel.sock",
                       "msgbox+sctp://h:1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(bx_connect(ctx, bad[i], NULL, &b), BX_EINVAL);
  assert_int_equal(bx_connect(ctx, "msgbox+udp://127.0.0.1:9?heartbeat=250", NULL, &b), 0);
  bx_box_unref(b);
  /* A listener with heartbeats announces them in its URL, so its clients match it. */
  bx_listen_opts o;
  bx_msgbox_listen_opts mo;
  memset(&o, 0, sizeof o);
  memset(&mo, 0, sizeof mo);
  mo.heartbeat_ms = 200;
  o.msgbox = &mo;
  bx_listener *l;
  assert_int_equal(bx_listen(ctx, "msgbox+udp://127.0.0.1:0", &o, &l), 0);
  assert_non_null(strstr(bx_listener_url(l), "?heartbeat=200"));
  assert_int_equal(strncmp(bx_listener_url(l), "msgbox+udp://127.0.0.1:", 23), 0);
  int closed = 0;
  assert_int_equal(bx_ctx_close(ctx, bxc_on_ctx_closed, &closed), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A peer that falls silent is lost when heartbeats are on: a native msgbox listener that
 * answers the dial's probe and nothing else (no heartbeats, no FOAM) stands for a dead bx
 * peer; the client's call fails with BX_ECONNLOST once the heartbeat timeout passed. */
static void silent_cb(const bx_mb_event *ev) {
  if (ev->type == BX_MB_REQUEST) bx_mb_reply_send(ev->reply, NULL, 0);
}

static void test_heartbeat_lost(void **state) {
  (void)state;
  uv_loop_t loop;
  bxc_log log = {0}, slog = {0};
  assert_int_equal(uv_loop_init(&loop), 0);
  bx_ctx *sctx = bxc_ctx_new(&loop, "/bxt/silent", &slog, 0);
  bx_ctx *ctx = bxc_ctx_new(&loop, "/bxt/client", &log, 0);
  bx_mb_conn *l;
  assert_int_equal(bx_mb_listen(sctx, "udp://127.0.0.1:0", NULL, silent_cb, NULL, &l), 0);
  char url[256];
  snprintf(url, sizeof url, "msgbox+%s?heartbeat=20", bx_mb_url(l));
  bx_box *calc = bxc_service(ctx, url, "calc");
  bxc_res r;
  assert_int_equal(bxc_call(&loop, calc, "add", bxc_args2(1, 2), &r), BX_ECONNLOST);
  assert_true(log.warn >= 1);
  assert_non_null(strstr(log.last, "nothing heard"));
  bx_box_unref(calc);
  int closed = 0;
  assert_int_equal(bx_ctx_close(ctx, bxc_on_ctx_closed, &closed), 0);
  assert_int_equal(bx_ctx_close(sctx, bxc_on_ctx_closed, &closed), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 2);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Heartbeats on both ends keep an idle connection open past the timeout. */
static void on_idle(uv_timer_t *t) {
  (*(int *)t->data)++;
}

static void heartbeat_idle(const char *listen_url) {
  bxc_env *e = calloc(1, sizeof *e);
  assert_non_null(e);
  e->t = &udp_tran;
  assert_int_equal(uv_loop_init(&e->loop), 0);
  e->server = bxc_ctx_new(&e->loop, "/bxt/server", &e->slog, 0);
  e->client = bxc_ctx_new(&e->loop, "/bxt/client", &e->clog, 0);
  assert_int_equal(bxt_calc_register(e->server, "calc", &e->calc), 0);
  bx_listen_opts o;
  bx_msgbox_listen_opts mo;
  memset(&o, 0, sizeof o);
  memset(&mo, 0, sizeof mo);
  /* Wide enough that a loaded machine does not trip either side: the client's timeout is three
   * heartbeats (its URL carries the listener's ?heartbeat=), the listener's is set here. */
  mo.heartbeat_ms = 500;
  mo.heartbeat_timeout_ms = 3000;
  o.msgbox = &mo;
  bxc_listen(e, listen_url, &o);
  bx_box *calc = bxc_service(e->client, e->url, "calc"); /* the URL carries ?heartbeat=500 */
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 2), &r), 0);
  uv_timer_t t;
  int fired = 0;
  uv_timer_init(&e->loop, &t);
  t.data = &fired;
  uv_timer_start(&t, on_idle, 4000, 0); /* past both timeouts: only heartbeats kept it */
  bxc_wait_for(&e->loop, &fired, 1);
  uv_close((uv_handle_t *)&t, NULL);
  assert_int_equal(bx_listener_connections(e->l), 1);
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(2, 3), &r), 0);
  assert_true(r.num == 5);
  assert_int_equal(e->slog.warn + e->clog.warn, 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

static void test_heartbeat_idle_udp(void **state) {
  (void)state;
  heartbeat_idle("msgbox+udp://127.0.0.1:0");
}

static void test_heartbeat_idle_tcp(void **state) {
  (void)state;
  heartbeat_idle("msgbox+tcp://127.0.0.1:0");
}

/* ---- frames the native queue refused at first ------------------------------------------------ */

/* A raw Unix server that reads nothing until told, then counts the msgbox frames it gets. */
typedef struct slow_reader {
  uv_pipe_t server, conn;
  bool accepted;
  char path[128];
  unsigned char *in;
  size_t len, cap;
  int frames;
  int order_ok; /* frames whose tag matched their place */
} slow_reader;

static void sr_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  slow_reader *r = h->data;
  if (r->cap - r->len < suggested) {
    r->cap = r->len + suggested * 2;
    r->in = realloc(r->in, r->cap);
  }
  *buf = uv_buf_init((char *)r->in + r->len, (unsigned)(r->cap - r->len));
}

static void sr_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  slow_reader *r = s->data;
  if (n <= 0) return;
  r->len += (size_t)n;
  size_t off = 0;
  while (r->len - off >= 8) { /* type (2), reply id (2), length (4), big-endian */
    const unsigned char *h = r->in + off;
    size_t nb = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    if (r->len - off - 8 < nb) break;
    char tag[32];
    snprintf(tag, sizeof tag, "\"tag\":\"m%d\"", r->frames);
    if (memmem(h + 8, nb, "\"tag\":", 6) != NULL) { /* not the RegisterSelf handshake */
      if (h[0] == 0 && h[1] == 0 && memmem(h + 8, nb, tag, strlen(tag)) != NULL) r->order_ok++;
      r->frames++;
    }
    off += 8 + nb;
  }
  memmove(r->in, r->in + off, r->len - off);
  r->len -= off;
}

static void sr_accept(uv_stream_t *server, int status) {
  slow_reader *r = server->data;
  if (status < 0 || r->accepted) return;
  uv_pipe_init(server->loop, &r->conn, 0);
  r->conn.data = r;
  if (uv_accept(server, (uv_stream_t *)&r->conn) == 0) r->accepted = true;
}

/* Eight frames of 256 KiB to a peer that reads nothing yet: the socket takes a little, msgbox's
 * own queue (1 MiB and one frame) a few frames, and it refuses the next; the transport holds
 * that frame and the ones after it, and sends them when the queue drains, in order, once the
 * peer reads. */
static void test_refused_then_drained(void **state) {
  (void)state;
  uv_loop_t loop;
  bxc_log log = {0};
  assert_int_equal(uv_loop_init(&loop), 0);
  slow_reader *r = calloc(1, sizeof *r);
  snprintf(r->path, sizeof r->path, "/tmp/bxt-mbox-slow-%ld.sock", (long)getpid());
  unlink(r->path);
  uv_pipe_init(&loop, &r->server, 0);
  r->server.data = r;
  assert_int_equal(uv_pipe_bind(&r->server, r->path), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&r->server, 4, sr_accept), 0);
  bx_ctx *ctx = bxc_ctx_new(&loop, "/bxt/slow", &log, 0);
  char url[160];
  snprintf(url, sizeof url, "msgbox+unix://%s", r->path);
  bx_transport_limits lim;
  bx_transport_limits_init(&lim);
  lim.max_queued_bytes = 1024 * 1024;
  lim.max_frame = 300 * 1024; /* msgbox's own queue: max_queued_bytes and one frame */
  bx_box *conn, *svc;
  assert_int_equal(bx_connect(ctx, url, &lim, &conn), 0);
  assert_int_equal(bx_sub_box_new(ctx, "x", conn, &svc), 0);
  enum { FRAMES = 8, SIZE = 256 * 1024 };
  char *fill = malloc(SIZE + 1);
  memset(fill, 'f', SIZE);
  fill[SIZE] = '\0';
  for (int i = 0; i < FRAMES; i++) {
    cJSON *o = bx_json_new_object("x.Y");
    char tag[16];
    snprintf(tag, sizeof tag, "m%d", i);
    cJSON_AddStringToObject(o, "tag", tag);
    cJSON_AddStringToObject(o, "s", fill);
    assert_int_equal(bx_send_json(svc, o), 0);
  }
  free(fill);
  for (int i = 0; i < 200 && !r->accepted; i++)
    uv_run(&loop, UV_RUN_ONCE);
  assert_true(r->accepted);
  for (int i = 0; i < 50; i++) /* everything that can go out goes; the rest waits */
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(r->frames, 0);
  r->conn.data = r;
  assert_int_equal(uv_read_start((uv_stream_t *)&r->conn, sr_alloc, sr_read), 0);
  while (r->frames < FRAMES)
    assert_true(uv_run(&loop, UV_RUN_ONCE));
  assert_int_equal(r->order_ok, FRAMES); /* each once, in order */
  assert_int_equal(log.warn, 0);
  bx_box_unref(svc);
  bx_box_unref(conn);
  int closed = 0;
  assert_int_equal(bx_ctx_close(ctx, bxc_on_ctx_closed, &closed), 0);
  uv_close((uv_handle_t *)&r->conn, NULL);
  uv_close((uv_handle_t *)&r->server, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
  unlink(r->path);
  free(r->in);
  free(r);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tcp_tests[] = {BXC_TESTS(&tcp_tran)};
  const struct CMUnitTest unix_tests[] = {BXC_TESTS(&unix_tran)};
  const struct CMUnitTest udp_tests[] = {BXC_TESTS(&udp_tran)};
  const struct CMUnitTest own[] = {
      cmocka_unit_test(test_urls),
      cmocka_unit_test(test_heartbeat_lost),
      cmocka_unit_test(test_heartbeat_idle_udp),
      cmocka_unit_test(test_heartbeat_idle_tcp),
      cmocka_unit_test(test_refused_then_drained),
  };
  int failed = 0;
  failed += cmocka_run_group_tests_name("msgbox+tcp", tcp_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("msgbox+unix", unix_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("msgbox+udp", udp_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("msgbox", own, NULL, NULL);
  return failed;
}
