/* msgbox's native API over real sockets: TCP and UDP on 127.0.0.1 / ::1 / localhost, Unix
 * sockets under /tmp. Each case runs the loop until the events it waits for have come (never a
 * sleep), checks the exact order of events, their contexts and reply contexts, and ends with
 * uv_loop_close() == 0. "One pass" is measured with a prepare handle counting loop iterations.
 * Everything runs on one thread, so one static world records the events of both sides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"
#include "../transports/msgbox/mb_internal.h" /* the input buffer's size (4 GiB header case) */

#define MAX_REC 512

typedef struct rec {
  bx_mb_event_type type;
  bx_mb_conn *conn;
  void *context, *reply_context;
  int status;
  char data[32];
  size_t len;
  unsigned pass;
  char side; /* 's' server, 'c' client */
  const char *op;
} rec;

static struct world {
  bxt_env *e;
  uv_prepare_t counter;
  unsigned pass;
  rec r[MAX_REC];
  int n;
  /* server behaviour */
  bool echo;          /* MESSAGE: send it back */
  bool hold_requests; /* REQUEST: keep the handle instead of answering */
  bx_mb_reply *held[8];
  int nheld;
  int remote_tags[4]; /* READY: each remote gets the next of these as its context */
  int nremotes;
  /* client behaviour */
  bool send_in_reply; /* REPLY: send a one-way message from inside the handler */
  /* the many-gets case */
  bool counting;
  long replies, missing, next_get, gets_total;
  size_t big_len;
  bool big_ok;
  bx_mb_conn *listener;
  char log[512];
} W;

static int tag_listener, tag_client, tag_client2;

static void record(char side, const bx_mb_event *ev) {
  assert_true(W.n < MAX_REC);
  rec *r = &W.r[W.n++];
  r->type = ev->type;
  r->conn = ev->conn;
  r->context = ev->context;
  r->reply_context = ev->reply_context;
  r->status = ev->status;
  r->len = ev->len;
  r->pass = W.pass;
  r->side = side;
  r->op = ev->op ? ev->op : "";
  size_t k = ev->len < sizeof r->data - 1 ? ev->len : sizeof r->data - 1;
  if (k) memcpy(r->data, ev->data, k);
  r->data[k] = '\0';
}

static void count_pass(uv_prepare_t *h) {
  (void)h;
  W.pass++;
}

static void capture_log(void *data, int level, const char *line) {
  (void)data;
  (void)level;
  snprintf(W.log, sizeof W.log, "%s", line);
}

static void world_init(void) {
  memset(&W, 0, sizeof W);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.log = capture_log;
  o.log_level = BX_LOG_INFO;
  W.e = bxt_env_new(&o);
  uv_prepare_init(&W.e->loop, &W.counter);
  uv_prepare_start(&W.counter, count_pass);
  uv_unref((uv_handle_t *)&W.counter);
  alarm(60); /* a hang fails the test rather than the whole run */
}

static void world_free(void) {
  for (int i = 0; i < W.nheld; i++)
    bx_mb_reply_release(W.held[i]);
  uv_close((uv_handle_t *)&W.counter, NULL);
  bxt_env_free(W.e);
  alarm(0);
}

/* Runs the loop until pred() holds; fails if the loop runs out of work first. */
static void run_until(bool (*pred)(void)) {
  while (!pred())
    if (uv_run(&W.e->loop, UV_RUN_ONCE) == 0 && !pred())
      fail_msg("loop idle before the wait ended");
}

static int count(char side, bx_mb_event_type type) {
  int k = 0;
  for (int i = 0; i < W.n; i++)
    k += W.r[i].side == side && W.r[i].type == type;
  return k;
}

/* The events of one side in order, as a string of names: "listening ready message ...". */
static const char *short_name(bx_mb_event_type t) {
  static const char *const n[] = {"?",       "setup", "setup_error", "listening", "listening_error",
                                  "ended",   "ready", "closed",      "lost",      "message",
                                  "request", "reply", "missing"};
  return n[t];
}

static const char *order(char side) {
  static char buf[1024];
  buf[0] = '\0';
  for (int i = 0; i < W.n; i++) {
    if (W.r[i].side != side) continue;
    if (buf[0]) strcat(buf, " ");
    strcat(buf, short_name(W.r[i].type));
  }
  return buf;
}

static rec *nth(char side, bx_mb_event_type type, int k) {
  for (int i = 0; i < W.n; i++)
    if (W.r[i].side == side && W.r[i].type == type && k-- == 0) return &W.r[i];
  fail_msg("no %s event %s", side == 's' ? "server" : "client", short_name(type));
  return NULL;
}

/* ---- the two sides ----------------------------------------------------------------------- */

static void server_cb(const bx_mb_event *ev) {
  if (W.counting && ev->type == BX_MB_REQUEST) {
    bx_mb_reply_send(ev->reply, ev->data, ev->len);
    return;
  }
  if (ev->type == BX_MB_CONNECTION_READY && W.nremotes < 4)
    bx_mb_set_context(ev->conn, &W.remote_tags[W.nremotes++], NULL);
  bx_mb_event copy = *ev;
  copy.context = bx_mb_context(ev->conn); /* READY: the context as now set */
  record('s', ev->type == BX_MB_CONNECTION_READY ? &copy : ev);
  if (ev->type == BX_MB_MESSAGE && W.big_len && ev->len == W.big_len) {
    const unsigned char *p = ev->data;
    W.big_ok = true;
    for (size_t i = 0; i < ev->len; i++)
      W.big_ok = W.big_ok && p[i] == (unsigned char)(i * 7);
  }
  if (ev->type == BX_MB_MESSAGE && W.echo)
    assert_int_equal(bx_mb_send(ev->conn, ev->data, ev->len), 0);
  if (ev->type == BX_MB_REQUEST) {
    if (W.hold_requests) {
      assert_true(W.nheld < 8);
      W.held[W.nheld++] = ev->reply;
      return;
    }
    char out[64];
    int k = snprintf(out, sizeof out, "re:%.*s", (int)ev->len, (const char *)ev->data);
    assert_int_equal(bx_mb_reply_send(ev->reply, out, (size_t)k), 0);
  }
}

static void client_get_next(bx_mb_conn *c) {
  long i = W.next_get++;
  assert_int_equal(bx_mb_get(c, &i, sizeof i, 5000, (void *)(intptr_t)(i + 1)), 0);
}

static void client_cb(const bx_mb_event *ev) {
  if (W.counting && (ev->type == BX_MB_REPLY || ev->type == BX_MB_REPLY_MISSING)) {
    if (ev->type == BX_MB_REPLY_MISSING) {
      W.missing++;
      return;
    }
    long got;
    assert_int_equal(ev->len, sizeof got);
    memcpy(&got, ev->data, sizeof got);
    assert_int_equal((intptr_t)ev->reply_context, got + 1);
    W.replies++;
    if (W.next_get < W.gets_total) client_get_next(ev->conn);
    return;
  }
  record('c', ev);
  if (ev->type == BX_MB_REPLY && W.send_in_reply)
    assert_int_equal(bx_mb_send(ev->conn, "after", 5), 0);
}

/* ---- set-up helpers ---------------------------------------------------------------------- */

static bool listening_done(void) {
  return count('s', BX_MB_LISTENING) + count('s', BX_MB_LISTENING_ERROR) > 0;
}
static bool setup_done(void) {
  return count('c', BX_MB_CONNECTION_SETUP) + count('c', BX_MB_CONNECTION_SETUP_ERROR) > 0;
}

static char unix_path[64];

/* "tcp" -> "tcp://127.0.0.1:0"; a Unix path is fresh per test. */
static const char *listen_url(const char *scheme) {
  static char url[96];
  if (strcmp(scheme, "unix") == 0) {
    snprintf(unix_path, sizeof unix_path, "/tmp/bx-mb-%d.sock", (int)getpid());
    unlink(unix_path);
    snprintf(url, sizeof url, "unix://%s", unix_path);
    return url;
  }
  if (strchr(scheme, ':')) return scheme; /* a whole URL */
  snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
  return url;
}

static bx_mb_conn *start_server(const char *scheme, const bx_mb_opts *opts) {
  bx_mb_conn *l;
  assert_int_equal(bx_mb_listen(W.e->ctx, listen_url(scheme), opts, server_cb, &tag_listener, &l),
                   0);
  assert_int_equal(W.n, 0); /* nothing runs inside the call */
  run_until(listening_done);
  assert_string_equal(order('s'), "listening");
  assert_ptr_equal(W.r[0].context, &tag_listener);
  W.listener = l;
  return l;
}

static bx_mb_conn *start_client(const char *url, const bx_mb_opts *opts, void *tag) {
  bx_mb_conn *c;
  assert_int_equal(bx_mb_connect(W.e->ctx, url, opts, client_cb, tag, &c), 0);
  run_until(setup_done);
  assert_int_equal(count('c', BX_MB_CONNECTION_SETUP), 1);
  return c;
}

static int want_s, want_c;
static bool server_has(void) {
  return W.n && count('s', (bx_mb_event_type)want_s) > 0;
}
static bool client_has(void) {
  return W.n && count('c', (bx_mb_event_type)want_c) > 0;
}
static void wait_server(bx_mb_event_type t) {
  want_s = (int)t;
  run_until(server_has);
}
static void wait_client(bx_mb_event_type t) {
  want_c = (int)t;
  run_until(client_has);
}

static void all_contexts(char side, bx_mb_conn *conn, void *context) {
  for (int i = 0; i < W.n; i++)
    if (W.r[i].side == side && W.r[i].conn == conn) assert_ptr_equal(W.r[i].context, context);
}

/* ---- 1. echo + request/reply, exact order, contexts persisting ------------------------------ */

static void echo_and_get(const char *scheme, const char *connect_host) {
  world_init();
  W.echo = true;
  bx_mb_conn *l = start_server(scheme, NULL);
  char url[128];
  snprintf(url, sizeof url, "%s", bx_mb_url(l));
  if (connect_host) { /* the same port by host name */
    const char *port = strrchr(url, ':');
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%.*s://%s%s", (int)(strchr(url, ':') - url), url, connect_host,
             port);
    strcpy(url, tmp);
  }
  bx_mb_conn *c = start_client(url, NULL, &tag_client);
  assert_int_equal(bx_mb_send(c, "hello", 5), 0);
  int rctx;
  assert_int_equal(bx_mb_get(c, "ping", 4, 0, &rctx), 0);
  wait_client(BX_MB_REPLY);
  assert_string_equal(nth('c', BX_MB_MESSAGE, 0)->data, "hello");
  assert_string_equal(nth('c', BX_MB_REPLY, 0)->data, "re:ping");
  assert_ptr_equal(nth('c', BX_MB_REPLY, 0)->reply_context, &rctx);
  assert_int_equal(bx_mb_disconnect(c), 0);
  assert_int_equal(bx_mb_disconnect(c), BX_ECLOSED);
  wait_client(BX_MB_CONNECTION_CLOSED);
  wait_server(BX_MB_CONNECTION_CLOSED);
  assert_string_equal(order('c'), "setup message reply closed");
  assert_string_equal(order('s'), "listening ready message request closed");
  assert_int_equal(nth('c', BX_MB_CONNECTION_CLOSED, 0)->status, BX_ECANCELED);
  assert_int_equal(nth('s', BX_MB_CONNECTION_CLOSED, 0)->status, 0); /* by the remote */
  all_contexts('c', c, &tag_client);
  bx_mb_conn *remote = nth('s', BX_MB_CONNECTION_READY, 0)->conn;
  all_contexts('s', remote, &W.remote_tags[0]);
  assert_int_equal(bx_mb_unlisten(l), 0);
  wait_server(BX_MB_LISTENING_ENDED);
  assert_int_equal(nth('s', BX_MB_LISTENING_ENDED, 0)->status, BX_ECANCELED);
  world_free();
}

static void test_echo_tcp(void **state) {
  (void)state;
  echo_and_get("tcp", NULL);
}
static void test_echo_udp(void **state) {
  (void)state;
  echo_and_get("udp", NULL);
}
static void test_echo_unix(void **state) {
  (void)state;
  echo_and_get("unix", NULL);
}
static void test_echo_ipv6(void **state) {
  (void)state;
  echo_and_get("tcp://[::1]:0", NULL);
  echo_and_get("udp://[::1]:0", NULL);
}
static void test_echo_hostname(void **state) {
  (void)state;
  echo_and_get("tcp://localhost:0", "localhost");
  echo_and_get("udp://localhost:0", "localhost");
  echo_and_get("tcp://*:0", "127.0.0.1");
}

/* ---- 2. 1 MiB over a stream -------------------------------------------------------------------
 */

static bool big_arrived(void) {
  return W.big_ok;
}

static void big_message(const char *scheme) {
  world_init();
  W.big_len = 1u << 20;
  bx_mb_conn *l = start_server(scheme, NULL);
  bx_mb_conn *c = start_client(bx_mb_url(l), NULL, &tag_client);
  unsigned char *p = malloc(W.big_len);
  for (size_t i = 0; i < W.big_len; i++)
    p[i] = (unsigned char)(i * 7);
  assert_int_equal(bx_mb_send(c, p, W.big_len), 0);
  free(p); /* copied */
  run_until(big_arrived);
  assert_string_equal(order('s'), "listening ready message");
  world_free();
}

static void test_big_tcp(void **state) {
  (void)state;
  big_message("tcp");
}
static void test_big_unix(void **state) {
  (void)state;
  big_message("unix");
}

/* ---- 3. reply_missing ---------------------------------------------------------------------- */

static void missing(const char *scheme) {
  world_init();
  W.hold_requests = true;
  bx_mb_conn *l = start_server(scheme, NULL);
  bx_mb_conn *c = start_client(bx_mb_url(l), NULL, &tag_client);
  int rctx;
  assert_int_equal(bx_mb_get(c, "q", 1, 50, &rctx), 0);
  wait_client(BX_MB_REPLY_MISSING);
  rec *m = nth('c', BX_MB_REPLY_MISSING, 0);
  assert_ptr_equal(m->reply_context, &rctx);
  assert_ptr_equal(m->context, &tag_client);
  assert_int_equal(m->status, BX_ETIMEDOUT);
  /* A late answer is dropped: no second outcome. */
  assert_int_equal(W.nheld, 1);
  assert_int_equal(bx_mb_reply_send(W.held[0], "late", 4), 0);
  W.nheld = 0;
  W.echo = true; /* the echo comes behind the late reply */
  assert_int_equal(bx_mb_send(c, "sync", 4), 0);
  wait_client(BX_MB_MESSAGE);
  assert_string_equal(order('c'), "setup missing message");
  world_free();
}

static void test_missing_tcp(void **state) {
  (void)state;
  missing("tcp");
}
static void test_missing_udp(void **state) {
  (void)state;
  missing("udp");
}
static void test_missing_unix(void **state) {
  (void)state;
  missing("unix");
}

/* ---- 4. requests and one-way messages interleaved; a send in a reply handler is one-way ---- */

static int want_n;
static bool server_messages(void) {
  return count('s', BX_MB_MESSAGE) >= want_n;
}

static void interleaved(const char *scheme) {
  world_init();
  W.send_in_reply = true;
  bx_mb_conn *l = start_server(scheme, NULL);
  bx_mb_conn *c = start_client(bx_mb_url(l), NULL, &tag_client);
  int ra, rb;
  assert_int_equal(bx_mb_get(c, "A", 1, 0, &ra), 0);
  assert_int_equal(bx_mb_send(c, "m1", 2), 0);
  assert_int_equal(bx_mb_get(c, "B", 1, 0, &rb), 0);
  assert_int_equal(bx_mb_send(c, "m2", 2), 0);
  want_n = 4; /* m1, m2 and the two "after"s */
  run_until(server_messages);
  assert_string_equal(order('s'),
                      "listening ready request message request message message message");
  assert_string_equal(nth('s', BX_MB_REQUEST, 0)->data, "A");
  assert_string_equal(nth('s', BX_MB_MESSAGE, 0)->data, "m1");
  assert_string_equal(nth('s', BX_MB_REQUEST, 1)->data, "B");
  assert_string_equal(nth('s', BX_MB_MESSAGE, 1)->data, "m2");
  assert_string_equal(nth('s', BX_MB_MESSAGE, 2)->data, "after");
  assert_string_equal(order('c'), "setup reply reply");
  assert_ptr_equal(nth('c', BX_MB_REPLY, 0)->reply_context, &ra);
  assert_ptr_equal(nth('c', BX_MB_REPLY, 1)->reply_context, &rb);
  world_free();
}

static void test_interleaved_tcp(void **state) {
  (void)state;
  interleaved("tcp");
}
static void test_interleaved_udp(void **state) {
  (void)state;
  interleaved("udp");
}
static void test_interleaved_unix(void **state) {
  (void)state;
  interleaved("unix");
}

/* ---- 5. three messages in one pass; 7. two replies in one pass, each with its context ------- */

static bool two_replies(void) {
  return count('c', BX_MB_REPLY) >= 2;
}

static void one_pass(const char *scheme) {
  world_init();
  bx_mb_conn *l = start_server(scheme, NULL);
  bx_mb_conn *c = start_client(bx_mb_url(l), NULL, &tag_client);
  assert_int_equal(bx_mb_send(c, "one", 3), 0);
  assert_int_equal(bx_mb_send(c, "two", 3), 0);
  assert_int_equal(bx_mb_send(c, "three", 5), 0);
  want_n = 3;
  run_until(server_messages);
  rec *m0 = nth('s', BX_MB_MESSAGE, 0), *m2 = nth('s', BX_MB_MESSAGE, 2);
  assert_string_equal(m0->data, "one");
  assert_string_equal(m2->data, "three");
  assert_int_equal(m0->pass, m2->pass);
  int r1, r2;
  assert_int_equal(bx_mb_get(c, "x", 1, 0, &r1), 0);
  assert_int_equal(bx_mb_get(c, "y", 1, 0, &r2), 0);
  run_until(two_replies);
  rec *a = nth('c', BX_MB_REPLY, 0), *b = nth('c', BX_MB_REPLY, 1);
  assert_int_equal(nth('s', BX_MB_REQUEST, 0)->pass, nth('s', BX_MB_REQUEST, 1)->pass);
  assert_int_equal(a->pass, b->pass);
  assert_string_equal(a->data, "re:x");
  assert_ptr_equal(a->reply_context, &r1);
  assert_string_equal(b->data, "re:y");
  assert_ptr_equal(b->reply_context, &r2);
  world_free();
}

static void test_one_pass_tcp(void **state) {
  (void)state;
  one_pass("tcp");
}
static void test_one_pass_udp(void **state) {
  (void)state;
  one_pass("udp");
}
static void test_one_pass_unix(void **state) {
  (void)state;
  one_pass("unix");
}

/* ---- 6. two UDP clients on one listener, a context each -------------------------------------- */

static bool two_echoes(void) {
  return count('c', BX_MB_MESSAGE) >= 2;
}

static void test_udp_two_clients(void **state) {
  (void)state;
  world_init();
  W.echo = true;
  bx_mb_conn *l = start_server("udp", NULL);
  bx_mb_conn *c1 = start_client(bx_mb_url(l), NULL, &tag_client);
  bx_mb_conn *c2;
  assert_int_equal(bx_mb_connect(W.e->ctx, bx_mb_url(l), NULL, client_cb, &tag_client2, &c2), 0);
  assert_int_equal(bx_mb_send(c1, "from1", 5), 0);
  assert_int_equal(bx_mb_send(c2, "from2", 5), 0);
  assert_int_equal(bx_mb_send(c1, "again1", 6), 0);
  run_until(two_echoes);
  want_n = 3;
  run_until(server_messages);
  assert_int_equal(count('s', BX_MB_CONNECTION_READY), 2);
  bx_mb_conn *s1 = nth('s', BX_MB_CONNECTION_READY, 0)->conn;
  bx_mb_conn *s2 = nth('s', BX_MB_CONNECTION_READY, 1)->conn;
  assert_ptr_not_equal(s1, s2);
  assert_ptr_equal(bx_mb_listener_of(s1), l);
  all_contexts('s', s1, &W.remote_tags[0]);
  all_contexts('s', s2, &W.remote_tags[1]);
  assert_string_equal(nth('s', BX_MB_MESSAGE, 0)->data, "from1");
  assert_ptr_equal(nth('s', BX_MB_MESSAGE, 0)->conn, s1);
  assert_string_equal(nth('s', BX_MB_MESSAGE, 1)->data, "from2");
  assert_ptr_equal(nth('s', BX_MB_MESSAGE, 1)->conn, s2);
  assert_ptr_equal(nth('s', BX_MB_MESSAGE, 2)->conn, s1);
  all_contexts('c', c1, &tag_client);
  all_contexts('c', c2, &tag_client2);
  /* Each remote's close is its own: the second client's leaves the first open. */
  assert_int_equal(bx_mb_disconnect(c2), 0);
  wait_server(BX_MB_CONNECTION_CLOSED);
  assert_ptr_equal(nth('s', BX_MB_CONNECTION_CLOSED, 0)->conn, s2);
  assert_ptr_equal(nth('s', BX_MB_CONNECTION_CLOSED, 0)->context, &W.remote_tags[1]);
  assert_int_equal(bx_mb_send(c1, "still", 5), 0);
  want_n = 4;
  run_until(server_messages);
  assert_ptr_equal(nth('s', BX_MB_MESSAGE, 3)->conn, s1);
  /* Unlistening closes the remotes that share its socket; the client hears the close. */
  assert_int_equal(bx_mb_unlisten(l), 0);
  wait_client(BX_MB_CONNECTION_CLOSED);
  wait_server(BX_MB_LISTENING_ENDED);
  assert_int_equal(count('s', BX_MB_CONNECTION_CLOSED), 2);
  world_free();
}

/* ---- 8. more than 65535 gets on one connection: ids never wrap to 0 ------------------------ */

static bool all_replied(void) {
  return W.replies + W.missing >= W.gets_total;
}

static void many_gets(const char *scheme) {
  world_init();
  bx_mb_conn *l = start_server(scheme, NULL);
  bx_mb_conn *c = start_client(bx_mb_url(l), NULL, &tag_client);
  W.counting = true;
  W.gets_total = 70000;
  for (int i = 0; i < 32; i++) /* 32 in flight */
    client_get_next(c);
  run_until(all_replied);
  assert_int_equal(W.replies, W.gets_total);
  assert_int_equal(W.missing, 0);
  W.counting = false;
  world_free();
}

static void test_many_gets_tcp(void **state) {
  (void)state;
  many_gets("tcp");
}
static void test_many_gets_udp(void **state) {
  (void)state;
  many_gets("udp");
}

/* ---- 9. a 4 GiB length is refused before anything is allocated ------------------------------ */

static uv_tcp_t raw_tcp;
static uv_connect_t raw_connect;
static uv_write_t raw_write;
static char raw_header[MB_HEADER];
static size_t lost_in_cap = (size_t)-1;

static void raw_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  uv_buf_t b = uv_buf_init(raw_header, MB_HEADER);
  assert_int_equal(uv_write(&raw_write, req->handle, &b, 1, NULL), 0);
}

static void lost_probe(const bx_mb_event *ev) {
  if (ev->type == BX_MB_CONNECTION_LOST) lost_in_cap = ((bx__mb_conn *)ev->conn)->in_cap;
  server_cb(ev);
}

static void test_huge_header(void **state) {
  (void)state;
  world_init();
  bx_mb_conn *l;
  assert_int_equal(bx_mb_listen(W.e->ctx, "tcp://127.0.0.1:0", NULL, lost_probe, &tag_listener, &l),
                   0);
  run_until(listening_done);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", atoi(strrchr(bx_mb_url(l), ':') + 1), &sa);
  bx__mb_put_header(raw_header, 0, 0, 0xFFFFFFFFu);
  uv_tcp_init(&W.e->loop, &raw_tcp);
  assert_int_equal(uv_tcp_connect(&raw_connect, &raw_tcp, (struct sockaddr *)&sa, raw_connected),
                   0);
  wait_server(BX_MB_CONNECTION_LOST);
  assert_string_equal(order('s'), "listening ready lost");
  assert_int_equal(nth('s', BX_MB_CONNECTION_LOST, 0)->status, BX_EMSGSIZE);
  assert_true(lost_in_cap <= 65536); /* one read's worth, never the header's 4 GiB */
  assert_non_null(strstr(W.log, "bad header"));
  assert_non_null(strstr(W.log, "4294967295"));
  uv_close((uv_handle_t *)&raw_tcp, NULL);
  world_free();
}

/* ---- 10. a UDP `close` is delivered once ---------------------------------------------------- */

static uv_udp_t raw_udp;

static void raw_udp_send(const struct sockaddr *to, unsigned type, const char *payload) {
  char buf[64];
  size_t n = strlen(payload);
  bx__mb_put_header(buf, type, 0, (uint32_t)n);
  memcpy(buf + MB_HEADER, payload, n);
  uv_buf_t b = uv_buf_init(buf, (unsigned)(MB_HEADER + n));
  assert_int_equal(uv_udp_try_send(&raw_udp, &b, 1, to), (int)(MB_HEADER + n));
}

static void test_udp_close_once(void **state) {
  (void)state;
  world_init();
  bx_mb_conn *l = start_server("udp", NULL);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", atoi(strrchr(bx_mb_url(l), ':') + 1), &sa);
  uv_udp_init(&W.e->loop, &raw_udp);
  raw_udp_send((struct sockaddr *)&sa, 0, "hi");
  raw_udp_send((struct sockaddr *)&sa, 4, "");
  raw_udp_send((struct sockaddr *)&sa, 4, ""); /* a second close: no remote left to close */
  wait_server(BX_MB_CONNECTION_CLOSED);
  for (int i = 0; i < 20; i++) /* whatever else was coming has come by now */
    uv_run(&W.e->loop, UV_RUN_NOWAIT);
  assert_string_equal(order('s'), "listening ready message closed");
  assert_int_equal(nth('s', BX_MB_CONNECTION_CLOSED, 0)->status, 0);
  /* The same address again is a new connection. */
  raw_udp_send((struct sockaddr *)&sa, 0, "back");
  want_n = 2;
  run_until(server_messages);
  assert_string_equal(order('s'), "listening ready message closed ready message");
  uv_close((uv_handle_t *)&raw_udp, NULL);
  world_free();
}

/* ---- 11. heartbeats: a silent peer is lost -------------------------------------------------- */

static void heartbeat_loss(const char *scheme) {
  world_init();
  bx_mb_conn *l = start_server(scheme, NULL); /* no heartbeats: it never speaks */
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  o.heartbeat_ms = 20;
  o.heartbeat_timeout_ms = 100;
  bx_mb_conn *c = start_client(bx_mb_url(l), &o, &tag_client);
  int rctx;
  W.hold_requests = true;
  assert_int_equal(bx_mb_get(c, "q", 1, 10000, &rctx), 0);
  wait_client(BX_MB_CONNECTION_LOST);
  assert_string_equal(order('c'), "setup missing lost");
  assert_int_equal(nth('c', BX_MB_REPLY_MISSING, 0)->status, BX_ECONNLOST);
  assert_int_equal(nth('c', BX_MB_CONNECTION_LOST, 0)->status, BX_ETIMEDOUT);
  assert_ptr_equal(nth('c', BX_MB_CONNECTION_LOST, 0)->context, &tag_client);
  if (strcmp(scheme, "udp") != 0) { /* the stream's remote sees EOF without a close */
    wait_server(BX_MB_CONNECTION_LOST);
    assert_int_equal(nth('s', BX_MB_CONNECTION_LOST, 0)->status, UV_EOF);
  }
  world_free();
}

static void test_heartbeat_tcp(void **state) {
  (void)state;
  heartbeat_loss("tcp");
}
static void test_heartbeat_udp(void **state) {
  (void)state;
  heartbeat_loss("udp");
}

/* Two bx peers with heartbeats both ways stay up through a silence. */
static uv_timer_t quiet;
static bool quiet_over;
static void quiet_cb(uv_timer_t *t) {
  (void)t;
  quiet_over = true;
}
static bool is_quiet_over(void) {
  return quiet_over;
}

static void test_heartbeat_alive(void **state) {
  (void)state;
  world_init();
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  o.heartbeat_ms = 10;
  o.heartbeat_timeout_ms = 250; /* wide: a loaded machine may stall the loop a while */
  bx_mb_conn *l = start_server("tcp", &o);
  bx_mb_conn *c = start_client(bx_mb_url(l), &o, &tag_client);
  (void)c;
  quiet_over = false;
  uv_timer_init(&W.e->loop, &quiet);
  uv_timer_start(&quiet, quiet_cb, 500, 0);
  run_until(is_quiet_over);
  uv_close((uv_handle_t *)&quiet, NULL);
  assert_int_equal(count('c', BX_MB_CONNECTION_LOST), 0);
  assert_int_equal(count('s', BX_MB_CONNECTION_LOST), 0);
  world_free();
}

/* ---- 12. ICMP port unreachable on a UDP client with a pending get --------------------------- */

static void test_udp_icmp(void **state) {
  (void)state;
  world_init();
  /* A port nobody listens on: bound, named, closed. */
  uv_udp_t probe;
  struct sockaddr_in sa;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  uv_udp_init(&W.e->loop, &probe);
  assert_int_equal(uv_udp_bind(&probe, (struct sockaddr *)&sa, 0), 0);
  assert_int_equal(uv_udp_getsockname(&probe, (struct sockaddr *)&ss, &len), 0);
  uv_close((uv_handle_t *)&probe, NULL);
  char url[64];
  snprintf(url, sizeof url, "udp://127.0.0.1:%d", ntohs(((struct sockaddr_in *)&ss)->sin_port));
  bx_mb_conn *c = start_client(url, NULL, &tag_client);
  int rctx;
  assert_int_equal(bx_mb_get(c, "anyone?", 7, 3000, &rctx), 0);
  wait_client(BX_MB_REPLY_MISSING);
  rec *m = nth('c', BX_MB_REPLY_MISSING, 0);
  assert_int_equal(m->status, UV_ECONNREFUSED); /* at once, not after 3 s */
  assert_ptr_equal(m->reply_context, &rctx);
  for (int i = 0; i < 20; i++)
    uv_run(&W.e->loop, UV_RUN_NOWAIT);
  assert_string_equal(order('c'), "setup missing"); /* once; the conn is still there */
  assert_int_equal(bx_mb_disconnect(c), 0);
  wait_client(BX_MB_CONNECTION_CLOSED);
  assert_string_equal(order('c'), "setup missing closed");
  world_free();
}

/* ---- 13. closing the context with pending gets ---------------------------------------------- */

static void close_with_gets(const char *scheme) {
  world_init();
  W.hold_requests = true;
  bx_mb_conn *l = start_server(scheme, NULL);
  bx_mb_conn *c = start_client(bx_mb_url(l), NULL, &tag_client);
  int r[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(bx_mb_get(c, "q", 1, 10000, &r[i]), 0);
  want_n = 0;
  while (W.nheld < 3)
    uv_run(&W.e->loop, UV_RUN_ONCE);
  int before = W.n;
  assert_int_equal(bx_ctx_close(W.e->ctx, bxt_on_closed, W.e), 0);
  assert_int_equal(W.n, before); /* nothing inside the call */
  uv_run(&W.e->loop, UV_RUN_DEFAULT);
  assert_int_equal(W.e->closed, 1);
  assert_string_equal(order('c'), "setup missing missing missing closed");
  for (int i = 0; i < 3; i++) {
    rec *m = nth('c', BX_MB_REPLY_MISSING, i);
    assert_ptr_equal(m->reply_context, &r[i]);
    assert_int_equal(m->status, BX_ECLOSING);
  }
  assert_int_equal(nth('c', BX_MB_CONNECTION_CLOSED, 0)->status, BX_ECLOSING);
  assert_int_equal(count('s', BX_MB_LISTENING_ENDED), 1);
  assert_int_equal(count('s', BX_MB_CONNECTION_CLOSED), 1);
  /* The held reply handles outlive the context: answering only frees them. */
  assert_int_equal(bx_mb_reply_send(W.held[0], "late", 4), BX_ECLOSED);
  bx_mb_reply_release(W.held[1]);
  bx_mb_reply_release(W.held[2]);
  W.nheld = 0;
  uv_close((uv_handle_t *)&W.counter, NULL);
  uv_run(&W.e->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&W.e->loop), 0);
  free(W.e);
  alarm(0);
}

static void test_close_tcp(void **state) {
  (void)state;
  close_with_gets("tcp");
}
static void test_close_udp(void **state) {
  (void)state;
  close_with_gets("udp");
}
static void test_close_unix(void **state) {
  (void)state;
  close_with_gets("unix");
}

/* ---- 14. refusals, limits, failures as events ---------------------------------------------- */

static void test_refusals(void **state) {
  (void)state;
  world_init();
  bx_mb_conn *x = (bx_mb_conn *)&x;
  const char *bad[] = {"tcp://127.0.0.1", "foo://1.2.3.4:5", "tcp://*:80", "udp://h:0",
                       "tcp://h:99999",   "unix://",         "unix://rel", "tcp://[::1:5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(bx_mb_connect(W.e->ctx, bad[i], NULL, client_cb, NULL, &x), BX_EINVAL);
    assert_null(x);
  }
  assert_int_equal(bx_mb_listen(W.e->ctx, "tcp://1.2.3.4", NULL, server_cb, NULL, &x), BX_EINVAL);
  assert_int_equal(bx_mb_listen(W.e->ctx, "tcp://1.2.3.4:1", NULL, NULL, NULL, &x), BX_EINVAL);
  assert_int_equal(W.n, 0);

  bx_mb_conn *l = start_server("tcp", NULL);
  assert_int_equal(bx_mb_send(l, "x", 1), BX_ECLOSED);
  assert_int_equal(bx_mb_disconnect(l), BX_EINVAL);
  /* The port is taken: an event, not a return code. */
  bx_mb_conn *l2;
  assert_int_equal(bx_mb_listen(W.e->ctx, bx_mb_url(l), NULL, server_cb, NULL, &l2), 0);
  wait_server(BX_MB_LISTENING_ERROR);
  assert_int_equal(nth('s', BX_MB_LISTENING_ERROR, 0)->status, UV_EADDRINUSE);
  assert_string_equal(nth('s', BX_MB_LISTENING_ERROR, 0)->op, "bind");
  char url[96];
  snprintf(url, sizeof url, "%s", bx_mb_url(l));
  assert_int_equal(bx_mb_unlisten(l), 0); /* l is gone once LISTENING_ENDED returns */
  wait_server(BX_MB_LISTENING_ENDED);
  /* Nobody listens there any more. */
  bx_mb_conn *c;
  assert_int_equal(bx_mb_connect(W.e->ctx, url, NULL, client_cb, NULL, &c), 0);
  run_until(setup_done);
  assert_string_equal(order('c'), "setup_error");
  assert_int_equal(nth('c', BX_MB_CONNECTION_SETUP_ERROR, 0)->status, UV_ECONNREFUSED);
  assert_string_equal(nth('c', BX_MB_CONNECTION_SETUP_ERROR, 0)->op, "connect");
  /* A disconnect while connecting ends in setup_error, once. */
  W.n = 0;
  l = start_server("tcp", NULL);
  assert_int_equal(bx_mb_connect(W.e->ctx, bx_mb_url(l), NULL, client_cb, &tag_client, &c), 0);
  assert_int_equal(bx_mb_send(c, "x", 1), BX_ECLOSED);
  assert_int_equal(bx_mb_disconnect(c), 0);
  run_until(setup_done);
  assert_int_equal(nth('c', BX_MB_CONNECTION_SETUP_ERROR, 0)->status, BX_ECANCELED);
  world_free();
}

static void test_limits(void **state) {
  (void)state;
  world_init();
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  o.max_message = 100000;
  o.max_queued = 1u << 20;
  char *big = calloc(1, 1u << 20);
  /* UDP: one datagram per message, checked at send time. */
  bx_mb_conn *ul = start_server("udp", NULL);
  bx_mb_conn *u = start_client(bx_mb_url(ul), &o, &tag_client);
  assert_int_equal(bx_mb_send(u, big, BX_MB_MAX_UDP_MESSAGE + 1), BX_EMSGSIZE);
  assert_int_equal(bx_mb_get(u, big, 70000, 0, NULL), BX_EMSGSIZE);
  assert_int_equal(bx_mb_send(u, big, BX_MB_MAX_UDP_MESSAGE), 0);
  wait_server(BX_MB_MESSAGE);
  assert_int_equal(nth('s', BX_MB_MESSAGE, 0)->len, BX_MB_MAX_UDP_MESSAGE);
  /* TCP: max_message, then the bounded queue pushes back. */
  W.n = 0;
  bx_mb_conn *tl = start_server("tcp", NULL);
  bx_mb_conn *t = start_client(bx_mb_url(tl), &o, &tag_client);
  assert_int_equal(bx_mb_send(t, big, 100001), BX_EMSGSIZE);
  int rc = 0, sent = 0;
  while (rc == 0 && sent < 10000) /* nobody reads until the loop runs again */
    if ((rc = bx_mb_send(t, big, 100000)) == 0) sent++;
  assert_int_equal(rc, BX_EQUEUEFULL);
  assert_true(bx_mb_queued(t) <= o.max_queued);
  want_n = sent;
  run_until(server_messages); /* everything accepted arrives */
  assert_int_equal(bx_mb_queued(t), 0);
  assert_int_equal(bx_mb_send(t, big, 100000), 0);
  free(big);
  world_free();
}

/* The UDP send queue, reached through bx__mb_udp_hold (loopback never pushes back): sends
 * queue in order, max_queued bounds them, releasing sends them in order; a server's replies
 * queue on its listener's socket, counted against their remote; a conn closed with datagrams
 * queued drops them (and frees them: the sanitizer build checks). */
static void test_udp_queue(void **state) {
  (void)state;
  world_init();
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  o.max_queued = 3 * (MB_HEADER + 2);
  bx_mb_conn *l = start_server("udp", NULL);
  bx_mb_conn *c = start_client(bx_mb_url(l), &o, &tag_client);
  bx__mb_udp_hold(c, true);
  assert_int_equal(bx_mb_send(c, "q1", 2), 0);
  assert_int_equal(bx_mb_send(c, "q2", 2), 0);
  assert_int_equal(bx_mb_send(c, "q3", 2), 0);
  assert_int_equal(bx_mb_queued(c), o.max_queued);
  assert_int_equal(bx_mb_send(c, "q4", 2), BX_EQUEUEFULL);
  bxt_spin(W.e);
  assert_int_equal(count('s', BX_MB_MESSAGE), 0);
  bx__mb_udp_hold(c, false);
  assert_int_equal(bx_mb_queued(c), 0);
  want_n = 3;
  run_until(server_messages);
  for (int i = 0; i < 3; i++) {
    char want[3] = {'q', (char)('1' + i), 0};
    assert_string_equal(nth('s', BX_MB_MESSAGE, i)->data, want);
  }
  /* The server's reply waits on its listener's socket. */
  bx__mb_udp_hold(l, true);
  int rctx;
  assert_int_equal(bx_mb_get(c, "g", 1, 0, &rctx), 0);
  wait_server(BX_MB_REQUEST);
  bx_mb_conn *remote = nth('s', BX_MB_REQUEST, 0)->conn;
  assert_int_equal(bx_mb_queued(remote), MB_HEADER + 4);
  bxt_spin(W.e);
  assert_int_equal(count('c', BX_MB_REPLY), 0);
  bx__mb_udp_hold(l, false);
  wait_client(BX_MB_REPLY);
  assert_string_equal(nth('c', BX_MB_REPLY, 0)->data, "re:g");
  assert_ptr_equal(nth('c', BX_MB_REPLY, 0)->reply_context, &rctx);
  assert_int_equal(bx_mb_queued(remote), 0);
  /* Closed with datagrams queued: they are dropped with the socket. */
  bx__mb_udp_hold(c, true);
  assert_int_equal(bx_mb_send(c, "lost", 4), 0);
  assert_int_equal(bx_mb_disconnect(c), 0);
  wait_client(BX_MB_CONNECTION_CLOSED);
  assert_string_equal(order('c'), "setup reply closed");
  world_free();
}

/* A Unix listener's socket file: 0600 by default, opts.unix_mode when given (set before
 * listen, so it is the mode the first connect sees); a client still connects. */
static void unix_mode_is(const bx_mb_opts *o, unsigned want) {
  world_init();
  bx_mb_conn *l = start_server("unix", o);
  struct stat st;
  assert_int_equal(lstat(unix_path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, want);
  bx_mb_conn *c = start_client(bx_mb_url(l), NULL, &tag_client);
  assert_int_equal(bx_mb_send(c, "m", 1), 0);
  wait_server(BX_MB_MESSAGE);
  world_free();
  assert_int_equal(lstat(unix_path, &st), -1); /* removed when the listener ended */
}

static void test_unix_mode(void **state) {
  (void)state;
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  mode_t old = umask(0); /* the mode must not depend on the umask */
  unix_mode_is(&o, 0600);
  unix_mode_is(NULL, 0600);
  o.unix_mode = 0666;
  unix_mode_is(&o, 0666);
  o.unix_mode = 0640;
  umask(0077);
  unix_mode_is(&o, 0640);
  umask(old);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_tcp),         cmocka_unit_test(test_echo_udp),
      cmocka_unit_test(test_echo_unix),        cmocka_unit_test(test_echo_ipv6),
      cmocka_unit_test(test_echo_hostname),    cmocka_unit_test(test_big_tcp),
      cmocka_unit_test(test_big_unix),         cmocka_unit_test(test_missing_tcp),
      cmocka_unit_test(test_missing_udp),      cmocka_unit_test(test_missing_unix),
      cmocka_unit_test(test_interleaved_tcp),  cmocka_unit_test(test_interleaved_udp),
      cmocka_unit_test(test_interleaved_unix), cmocka_unit_test(test_one_pass_tcp),
      cmocka_unit_test(test_one_pass_udp),     cmocka_unit_test(test_one_pass_unix),
      cmocka_unit_test(test_udp_two_clients),  cmocka_unit_test(test_many_gets_tcp),
      cmocka_unit_test(test_many_gets_udp),    cmocka_unit_test(test_huge_header),
      cmocka_unit_test(test_udp_close_once),   cmocka_unit_test(test_heartbeat_tcp),
      cmocka_unit_test(test_heartbeat_udp),    cmocka_unit_test(test_heartbeat_alive),
      cmocka_unit_test(test_udp_icmp),         cmocka_unit_test(test_close_tcp),
      cmocka_unit_test(test_close_udp),        cmocka_unit_test(test_close_unix),
      cmocka_unit_test(test_refusals),         cmocka_unit_test(test_limits),
      cmocka_unit_test(test_unix_mode),        cmocka_unit_test(test_udp_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
