/* msgbox's native API between two (or three) processes over real sockets: TCP and UDP on
 * 127.0.0.1 and Unix sockets under /tmp. This program re-executes itself as a msgbox server
 * (`--serve URL HEARTBEAT_MS`) or a msgbox client (`--client URL HEARTBEAT_MS`); the helper
 * reports every event it sees as a line on its stdout ("EV <name> <context> <status>"), so the
 * test checks the exact event order and the contexts on both sides. The checks:
 * - against a server process: connect/setup, the event orders of both ends, one-way messages
 *   both ways, two requests answered with the right reply contexts, reply_missing when the
 *   server does not answer, a 1 MiB request and reply (TCP, Unix; UDP: the largest datagram),
 *   an orderly close by the server (`closed` on both sides), then SIGKILL of the server with a
 *   get pending (the get ends, then `lost`: EOF/reset over TCP and Unix, heartbeat silence over
 *   UDP), and a server stopped with SIGTERM (its context closes: the client sees `closed`, the
 *   server exits 0, leak-checked in a sanitizer build);
 * - two client processes on one listener of this process: each its own remote and context,
 *   its reply from its own context; one disconnects in order (`closed` on the listener's side),
 *   the other is killed (`lost`; over UDP through heartbeats).
 * The loop runs until what it waits for has come: no sleeps, no timing assertions; alarm()
 * turns a hang into a failure.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

#define BIG_TCP (1024u * 1024u)
#define HB_MS 100u
#define HB_TIMEOUT_MS 2000u /* generous: a loaded machine must not lose a live peer */

static char self_exe[1024];

/* ---- the helper processes (no cmocka here: failures are exit codes) ---------------------- */

static struct helper {
  uv_loop_t loop;
  bx_ctx *ctx;
  uv_signal_t term;
  bx_mb_conn *conn; /* --client: its connection */
  int nremotes;
  bx_mb_reply *held[16];
  int nheld;
  int rc; /* the exit code */
} H;

static void h_line(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void h_event(const bx_mb_event *ev) {
  h_line("EV %s %ld %d", bx_mb_event_name(ev->type), (long)(intptr_t)ev->context, ev->status);
}

static void h_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  (void)data;
}

static void h_release_held(void) {
  for (int i = 0; i < H.nheld; i++)
    bx_mb_reply_release(H.held[i]);
  H.nheld = 0;
}

/* Closes the context and the signal handle: the loop then runs dry and the helper exits. */
static void h_stop(void) {
  if (uv_is_closing((uv_handle_t *)&H.term)) return;
  h_release_held();
  uv_close((uv_handle_t *)&H.term, NULL);
  bx_ctx_close(H.ctx, h_closed, NULL);
}

static bool is_text(const bx_mb_event *ev, const char *s) {
  return ev->len == strlen(s) && memcmp(ev->data, s, ev->len) == 0;
}

/* Server: remotes get contexts 1, 2 ...; "bye" (one-way) closes that remote in order; "hold"
 * and "drop" (requests) are kept or given up without an answer; a large request is answered
 * with its own bytes, a small one with "re:<context>:<payload>"; a one-way message comes back
 * as "pong:<payload>". */
static void serve_cb(const bx_mb_event *ev) {
  if (ev->type == BX_MB_CONNECTION_READY)
    bx_mb_set_context(ev->conn, (void *)(intptr_t)++H.nremotes, NULL);
  bx_mb_event e = *ev;
  e.context = bx_mb_context(ev->conn);
  h_event(&e);
  char out[96];
  switch (ev->type) {
  case BX_MB_LISTENING:
    h_line("READY %s", bx_mb_url(ev->conn));
    break;
  case BX_MB_LISTENING_ERROR:
    H.rc = 3;
    h_stop();
    break;
  case BX_MB_MESSAGE:
    if (is_text(ev, "bye")) {
      if (bx_mb_disconnect(ev->conn) != 0) H.rc = 4;
    } else if (ev->len < 64) {
      int k = snprintf(out, sizeof out, "pong:%.*s", (int)ev->len, (const char *)ev->data);
      if (bx_mb_send(ev->conn, out, (size_t)k) != 0) H.rc = 5;
    }
    break;
  case BX_MB_REQUEST:
    if (is_text(ev, "hold") && H.nheld < 16) {
      H.held[H.nheld++] = ev->reply;
    } else if (is_text(ev, "drop")) {
      bx_mb_reply_release(ev->reply);
    } else if (ev->len >= 64) {
      if (bx_mb_reply_send(ev->reply, ev->data, ev->len) != 0) H.rc = 6;
    } else {
      int k = snprintf(out, sizeof out, "re:%ld:%.*s", (long)(intptr_t)e.context, (int)ev->len,
                       (const char *)ev->data);
      if (bx_mb_reply_send(ev->reply, out, (size_t)k) != 0) H.rc = 6;
    }
    break;
  default:
    break;
  }
}

/* Client: on setup one get "hi"; its reply is reported; SIGTERM disconnects in order and the
 * helper exits once the connection has ended (0 when it ended `closed`). */
static void client_cb(const bx_mb_event *ev) {
  h_event(ev);
  switch (ev->type) {
  case BX_MB_CONNECTION_SETUP:
    if (bx_mb_get(ev->conn, "hi", 2, 30000, (void *)(intptr_t)7) != 0) H.rc = 4;
    break;
  case BX_MB_REPLY:
    h_line("REPLY %.*s %ld", (int)ev->len, (const char *)ev->data,
           (long)(intptr_t)ev->reply_context);
    break;
  case BX_MB_CONNECTION_SETUP_ERROR:
  case BX_MB_CONNECTION_LOST:
    H.rc = 3;
    h_stop();
    break;
  case BX_MB_CONNECTION_CLOSED:
    h_stop();
    break;
  default:
    break;
  }
}

static void h_on_term(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  if (H.conn) {
    if (bx_mb_disconnect(H.conn) != 0) h_stop(); /* already ending */
  } else {
    h_stop(); /* a server: closing the context closes every remote (`close` sent) */
  }
}

static int helper_main(bool server, const char *url, unsigned hb) {
  memset(&H, 0, sizeof H);
  if (uv_loop_init(&H.loop) != 0 || bx_ctx_new(&H.loop, NULL, &H.ctx) != 0) return 2;
  uv_signal_init(&H.loop, &H.term);
  uv_signal_start(&H.term, h_on_term, SIGTERM);
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  o.heartbeat_ms = hb;
  o.heartbeat_timeout_ms = hb ? HB_TIMEOUT_MS : 0;
  bx_mb_conn *c;
  int rc = server ? bx_mb_listen(H.ctx, url, &o, serve_cb, NULL, &c)
                  : bx_mb_connect(H.ctx, url, &o, client_cb, NULL, &c);
  if (rc != 0) return 2;
  if (!server) H.conn = c;
  uv_run(&H.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&H.loop) != 0) return 7;
  return H.rc;
}

/* ---- a helper process, seen from the test --------------------------------------------------- */

#define MAX_LINES 64

typedef struct proc {
  uv_process_t proc;
  uv_pipe_t out;
  char buf[4096];
  size_t len;
  char lines[MAX_LINES][128];
  int nlines;
  char url[256];
  int exited, proc_closed, out_closed;
  int64_t status;
  int term_signal;
} proc;

static void p_proc_closed(uv_handle_t *h) {
  ((proc *)h->data)->proc_closed = 1;
}

static void p_exit_cb(uv_process_t *p, int64_t status, int term_signal) {
  proc *s = p->data;
  s->exited = 1;
  s->status = status;
  s->term_signal = term_signal;
  uv_close((uv_handle_t *)p, p_proc_closed);
}

static void p_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  proc *s = h->data;
  *buf = uv_buf_init(s->buf + s->len, (unsigned)(sizeof s->buf - 1 - s->len));
}

static void p_out_closed(uv_handle_t *h) {
  ((proc *)h->data)->out_closed = 1;
}

static void p_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  proc *s = st->data;
  if (nread < 0) {
    uv_close((uv_handle_t *)st, p_out_closed);
    return;
  }
  s->len += (size_t)nread;
  s->buf[s->len] = '\0';
  char *nl;
  while ((nl = strchr(s->buf, '\n')) != NULL) {
    *nl = '\0';
    assert_true(s->nlines < MAX_LINES);
    snprintf(s->lines[s->nlines++], sizeof s->lines[0], "%.*s", (int)sizeof s->lines[0] - 1,
             s->buf);
    if (strncmp(s->buf, "READY ", 6) == 0) snprintf(s->url, sizeof s->url, "%s", s->buf + 6);
    size_t rest = s->len - (size_t)(nl + 1 - s->buf);
    memmove(s->buf, nl + 1, rest + 1);
    s->len = rest;
  }
  assert_true(s->len < sizeof s->buf - 1);
}

static void p_spawn(uv_loop_t *loop, proc *s, const char *mode, const char *url, unsigned hb) {
  memset(s, 0, sizeof *s);
  assert_int_equal(uv_pipe_init(loop, &s->out, 0), 0);
  s->out.data = s;
  s->proc.data = s;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&s->out;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  char hbs[16];
  snprintf(hbs, sizeof hbs, "%u", hb);
  char *args[] = {self_exe, (char *)mode, (char *)url, hbs, NULL};
  uv_process_options_t o = {0};
  o.exit_cb = p_exit_cb;
  o.file = self_exe;
  o.args = args;
  o.stdio_count = 3;
  o.stdio = stdio;
  assert_int_equal(uv_spawn(loop, &s->proc, &o), 0);
  assert_int_equal(uv_read_start((uv_stream_t *)&s->out, p_alloc, p_read), 0);
}

/* The helper's events (the "EV" lines) as names: "connection_ready message ...", only those
 * with context ctx (-1: all). */
static const char *p_order(const proc *s, long ctx) {
  static char buf[1024];
  buf[0] = '\0';
  for (int i = 0; i < s->nlines; i++) {
    char name[64];
    long c;
    int st;
    if (sscanf(s->lines[i], "EV %63s %ld %d", name, &c, &st) != 3) continue;
    if (ctx >= 0 && c != ctx) continue;
    if (buf[0]) strcat(buf, " ");
    strcat(buf, name);
  }
  return buf;
}

/* The status of the helper's k-th event named name, with context ctx. */
static int p_status(const proc *s, const char *name, long ctx) {
  for (int i = 0; i < s->nlines; i++) {
    char n[64];
    long c;
    int st;
    if (sscanf(s->lines[i], "EV %63s %ld %d", n, &c, &st) == 3 && strcmp(n, name) == 0 && c == ctx)
      return st;
  }
  fail_msg("no %s event with context %ld", name, ctx);
  return 0;
}

static bool p_has(const proc *s, const char *prefix) {
  for (int i = 0; i < s->nlines; i++)
    if (strncmp(s->lines[i], prefix, strlen(prefix)) == 0) return true;
  return false;
}

/* ---- the test's own end ------------------------------------------------------------------- */

#define MAX_REC 64

typedef struct rec {
  bx_mb_event_type type;
  bx_mb_conn *conn;
  void *context, *reply_context;
  int status;
  char data[32];
  size_t len;
  bool big_ok;
} rec;

static struct world {
  bxt_env *e;
  rec r[MAX_REC];
  int n;
  unsigned char *big;
  size_t big_len;
  int nremotes; /* the listener's remotes get contexts &tags[0], &tags[1] ... */
  int tags[4];
} W;

static int tag_conn, tag_listener;

static void record(const bx_mb_event *ev) {
  assert_true(W.n < MAX_REC);
  rec *r = &W.r[W.n++];
  r->type = ev->type;
  r->conn = ev->conn;
  r->context = ev->context;
  r->reply_context = ev->reply_context;
  r->status = ev->status;
  r->len = ev->len;
  size_t k = ev->len < sizeof r->data - 1 ? ev->len : sizeof r->data - 1;
  if (k) memcpy(r->data, ev->data, k);
  r->data[k] = '\0';
  r->big_ok = W.big_len && ev->len == W.big_len && memcmp(ev->data, W.big, W.big_len) == 0;
}

static void world_init(void) {
  memset(&W, 0, sizeof W);
  W.e = bxt_env_new(NULL);
  alarm(90);
}

static void world_free(void) {
  free(W.big);
  bxt_env_free(W.e);
  alarm(0);
}

static void run_until(bool (*pred)(void)) {
  while (!pred())
    if (uv_run(&W.e->loop, UV_RUN_ONCE) == 0 && !pred())
      fail_msg("loop idle before the wait ended");
}

static int count(bx_mb_conn *conn, bx_mb_event_type type) {
  int k = 0;
  for (int i = 0; i < W.n; i++)
    k += (conn == NULL || W.r[i].conn == conn) && W.r[i].type == type;
  return k;
}

static rec *nth(bx_mb_conn *conn, bx_mb_event_type type, int k) {
  for (int i = 0; i < W.n; i++)
    if ((conn == NULL || W.r[i].conn == conn) && W.r[i].type == type && k-- == 0) return &W.r[i];
  fail_msg("no event %s", bx_mb_event_name(type));
  return NULL;
}

static const char *order(bx_mb_conn *conn) {
  static char buf[1024];
  buf[0] = '\0';
  for (int i = 0; i < W.n; i++) {
    if (conn != NULL && W.r[i].conn != conn) continue;
    if (buf[0]) strcat(buf, " ");
    strcat(buf, bx_mb_event_name(W.r[i].type));
  }
  return buf;
}

static void test_cb(const bx_mb_event *ev) {
  if (ev->type == BX_MB_CONNECTION_READY) {
    assert_true(W.nremotes < 4);
    W.tags[W.nremotes] = W.nremotes + 1;
    bx_mb_set_context(ev->conn, &W.tags[W.nremotes++], NULL);
  }
  bx_mb_event e = *ev;
  e.context = bx_mb_context(ev->conn);
  record(&e);
  if (ev->type == BX_MB_REQUEST) { /* the listener of the two-clients case */
    char out[32];
    int k = snprintf(out, sizeof out, "re:%d", *(int *)e.context);
    assert_int_equal(bx_mb_reply_send(ev->reply, out, (size_t)k), 0);
  }
}

/* Predicates over the world and the helper processes of the running case. */
static proc *P1, *P2;
static bx_mb_conn *wait_conn;
static bx_mb_event_type wait_type;
static int wait_n;
static const char *wait_line;

static bool have_events(void) {
  return count(wait_conn, wait_type) >= wait_n;
}
static void wait_events(bx_mb_conn *conn, bx_mb_event_type type, int n) {
  wait_conn = conn;
  wait_type = type;
  wait_n = n;
  run_until(have_events);
}
static bool p1_has_line(void) {
  return p_has(P1, wait_line);
}
static bool p2_has_line(void) {
  return p_has(P2, wait_line);
}
static void wait_line_of(proc *p, const char *prefix) {
  wait_line = prefix;
  run_until(p == P1 ? p1_has_line : p2_has_line);
}
static bool p1_gone(void) {
  return P1->proc_closed && P1->out_closed;
}
static bool p2_gone(void) {
  return P2->proc_closed && P2->out_closed;
}
static void wait_gone(proc *p) {
  run_until(p == P1 ? p1_gone : p2_gone);
}

static const char *scheme_of(bx_mb_protocol proto) {
  return proto == BX_MB_TCP ? "tcp" : proto == BX_MB_UDP ? "udp" : "unix";
}

static const char *listen_url(bx_mb_protocol proto, const char *tag) {
  static char url[128];
  if (proto == BX_MB_UNIX) {
    snprintf(url, sizeof url, "unix:///tmp/bx-mbmp-%s-%d.sock", tag, (int)getpid());
    unlink(url + 7);
  } else {
    snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme_of(proto));
  }
  return url;
}

static bx_mb_conn *connect_to(const char *url, bx_mb_protocol proto) {
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  if (proto == BX_MB_UDP) {
    o.heartbeat_ms = HB_MS;
    o.heartbeat_timeout_ms = HB_TIMEOUT_MS;
  }
  bx_mb_conn *c;
  int before = W.n;
  assert_int_equal(bx_mb_connect(W.e->ctx, url, &o, test_cb, &tag_conn, &c), 0);
  assert_int_equal(W.n, before); /* nothing runs inside the call */
  wait_events(c, BX_MB_CONNECTION_SETUP, 1);
  return c;
}

static void all_contexts(bx_mb_conn *conn, void *context) {
  for (int i = 0; i < W.n; i++)
    if (W.r[i].conn == conn) assert_ptr_equal(W.r[i].context, context);
}

/* ---- 1. the test as client, a server process ------------------------------------------------ */

static void against_server(bx_mb_protocol proto) {
  world_init();
  unsigned hb = proto == BX_MB_UDP ? HB_MS : 0;
  proc s;
  P1 = &s;
  p_spawn(&W.e->loop, &s, "--serve", listen_url(proto, "s"), hb);
  wait_line_of(&s, "READY ");
  assert_string_equal(p_order(&s, -1), "listening");

  /* Setup, a one-way message each way, two requests in one pass, one left unanswered. */
  bx_mb_conn *c = connect_to(s.url, proto);
  int ra, rb, rd, rbig;
  assert_int_equal(bx_mb_send(c, "one", 3), 0);
  assert_int_equal(bx_mb_get(c, "a", 1, 30000, &ra), 0);
  assert_int_equal(bx_mb_get(c, "b", 1, 30000, &rb), 0);
  wait_events(c, BX_MB_REPLY, 2);
  wait_events(c, BX_MB_MESSAGE, 1);
  assert_string_equal(nth(c, BX_MB_MESSAGE, 0)->data, "pong:one");
  for (int i = 0; i < 2; i++) {
    rec *r = nth(c, BX_MB_REPLY, i);
    assert_true(r->reply_context == &ra || r->reply_context == &rb);
    assert_string_equal(r->data, r->reply_context == &ra ? "re:1:a" : "re:1:b");
  }
  assert_ptr_not_equal(nth(c, BX_MB_REPLY, 0)->reply_context,
                       nth(c, BX_MB_REPLY, 1)->reply_context);
  assert_int_equal(bx_mb_get(c, "drop", 4, 300, &rd), 0);
  wait_events(c, BX_MB_REPLY_MISSING, 1);
  assert_ptr_equal(nth(c, BX_MB_REPLY_MISSING, 0)->reply_context, &rd);
  assert_int_equal(nth(c, BX_MB_REPLY_MISSING, 0)->status, BX_ETIMEDOUT);

  /* A large message: 1 MiB over a stream, the largest datagram over UDP. */
  W.big_len = proto == BX_MB_UDP ? BX_MB_MAX_UDP_MESSAGE : BIG_TCP;
  W.big = malloc(W.big_len);
  assert_non_null(W.big);
  for (size_t i = 0; i < W.big_len; i++)
    W.big[i] = (unsigned char)(i * 7 + (i >> 12));
  assert_int_equal(bx_mb_get(c, W.big, W.big_len, 30000, &rbig), 0);
  wait_events(c, BX_MB_REPLY, 3);
  assert_ptr_equal(nth(c, BX_MB_REPLY, 2)->reply_context, &rbig);
  assert_true(nth(c, BX_MB_REPLY, 2)->big_ok);

  /* The server closes in order: `closed` on both sides. */
  assert_int_equal(bx_mb_send(c, "bye", 3), 0);
  wait_events(c, BX_MB_CONNECTION_CLOSED, 1);
  assert_int_equal(nth(c, BX_MB_CONNECTION_CLOSED, 0)->status, 0);
  assert_string_equal(order(c), "connection_setup message reply reply reply_missing reply "
                                "connection_closed");
  all_contexts(c, &tag_conn);
  wait_line_of(&s, "EV connection_closed 1");
  assert_string_equal(p_order(&s, 1), "connection_ready message request request request request "
                                      "message connection_closed");
  assert_int_equal(p_status(&s, "connection_closed", 1), BX_ECANCELED);

  /* A second connection with a get the server holds; the server is killed. */
  W.n = 0;
  bx_mb_conn *c2 = connect_to(s.url, proto);
  int rh;
  assert_int_equal(bx_mb_get(c2, "hold", 4, 60000, &rh), 0);
  wait_line_of(&s, "EV request 2");
  assert_string_equal(p_order(&s, 2), "connection_ready request");
  assert_int_equal(uv_process_kill(&s.proc, SIGKILL), 0);
  wait_events(c2, BX_MB_CONNECTION_LOST, 1);
  assert_string_equal(order(c2), "connection_setup reply_missing connection_lost");
  all_contexts(c2, &tag_conn);
  rec *m = nth(c2, BX_MB_REPLY_MISSING, 0);
  assert_ptr_equal(m->reply_context, &rh);
  int lost = nth(c2, BX_MB_CONNECTION_LOST, 0)->status;
  if (proto == BX_MB_UDP) {
    /* The heartbeats to the dead port may come back as ICMP refusals first. */
    assert_true(m->status == BX_ECONNLOST || m->status == UV_ECONNREFUSED);
    assert_int_equal(lost, BX_ETIMEDOUT);
  } else {
    assert_int_equal(m->status, BX_ECONNLOST);
    assert_true(lost == UV_EOF || lost == UV_ECONNRESET);
  }
  wait_gone(&s);
  assert_int_equal(s.term_signal, SIGKILL);

  /* A server stopped with SIGTERM closes its context: the client sees `closed`, and the
   * server exits 0. */
  W.n = 0;
  proc s2;
  P1 = &s2;
  p_spawn(&W.e->loop, &s2, "--serve", listen_url(proto, "s"), hb);
  wait_line_of(&s2, "READY ");
  bx_mb_conn *c3 = connect_to(s2.url, proto);
  int rc3;
  assert_int_equal(bx_mb_get(c3, "c", 1, 30000, &rc3), 0);
  wait_events(c3, BX_MB_REPLY, 1);
  assert_string_equal(nth(c3, BX_MB_REPLY, 0)->data, "re:1:c");
  assert_int_equal(uv_process_kill(&s2.proc, SIGTERM), 0);
  wait_events(c3, BX_MB_CONNECTION_CLOSED, 1);
  assert_string_equal(order(c3), "connection_setup reply connection_closed");
  assert_int_equal(nth(c3, BX_MB_CONNECTION_CLOSED, 0)->status, 0);
  wait_gone(&s2);
  assert_int_equal(s2.term_signal, 0);
  assert_int_equal(s2.status, 0);
  assert_string_equal(p_order(&s2, 1), "connection_ready request connection_closed");
  assert_int_equal(p_status(&s2, "connection_closed", 1), BX_ECLOSING);
  assert_string_equal(p_order(&s2, 0), "listening listening_ended");

  if (proto == BX_MB_UNIX) unlink(s.url + 7); /* left by the killed server */
  world_free();
}

static void test_server_tcp(void **state) {
  (void)state;
  against_server(BX_MB_TCP);
}
static void test_server_udp(void **state) {
  (void)state;
  against_server(BX_MB_UDP);
}
static void test_server_unix(void **state) {
  (void)state;
  against_server(BX_MB_UNIX);
}

/* ---- 2. the test as listener, two client processes ------------------------------------------ */

/* The remote whose context is tags[k - 1]. */
static bx_mb_conn *remote_tagged(int k) {
  for (int i = 0; i < W.n; i++)
    if (W.r[i].type == BX_MB_CONNECTION_READY && W.r[i].context == &W.tags[k - 1])
      return W.r[i].conn;
  fail_msg("no remote %d", k);
  return NULL;
}

/* The context number in a client's "REPLY re:N 7" line. */
static int reply_tag(const proc *p) {
  for (int i = 0; i < p->nlines; i++) {
    int k, rc;
    if (sscanf(p->lines[i], "REPLY re:%d %d", &k, &rc) == 2) {
      assert_int_equal(rc, 7);
      return k;
    }
  }
  fail_msg("no reply");
  return 0;
}

static void two_clients(bx_mb_protocol proto) {
  world_init();
  unsigned hb = proto == BX_MB_UDP ? HB_MS : 0;
  bx_mb_opts o;
  bx_mb_opts_init(&o);
  o.heartbeat_ms = hb;
  o.heartbeat_timeout_ms = hb ? HB_TIMEOUT_MS : 0;
  bx_mb_conn *l;
  assert_int_equal(bx_mb_listen(W.e->ctx, listen_url(proto, "l"), &o, test_cb, &tag_listener, &l),
                   0);
  wait_events(l, BX_MB_LISTENING, 1);
  char url[256];
  snprintf(url, sizeof url, "%s", bx_mb_url(l));

  proc a, b;
  P1 = &a;
  P2 = &b;
  p_spawn(&W.e->loop, &a, "--client", url, hb);
  p_spawn(&W.e->loop, &b, "--client", url, hb);
  wait_line_of(&a, "REPLY ");
  wait_line_of(&b, "REPLY ");
  assert_string_equal(p_order(&a, -1), "connection_setup reply");
  assert_string_equal(p_order(&b, -1), "connection_setup reply");

  /* Each client process is a remote of its own, with a context of its own, and its reply was
   * made from that context. */
  int ka = reply_tag(&a), kb = reply_tag(&b);
  assert_true((ka == 1 && kb == 2) || (ka == 2 && kb == 1));
  bx_mb_conn *ra = remote_tagged(ka), *rb = remote_tagged(kb);
  assert_ptr_not_equal(ra, rb);
  assert_ptr_equal(bx_mb_listener_of(ra), l);
  assert_string_equal(order(ra), "connection_ready request");
  assert_string_equal(order(rb), "connection_ready request");

  /* a leaves in order; b is killed. */
  assert_int_equal(uv_process_kill(&a.proc, SIGTERM), 0);
  wait_events(ra, BX_MB_CONNECTION_CLOSED, 1);
  assert_int_equal(nth(ra, BX_MB_CONNECTION_CLOSED, 0)->status, 0);
  wait_gone(&a);
  assert_int_equal(a.term_signal, 0);
  assert_int_equal(a.status, 0);
  assert_string_equal(p_order(&a, -1), "connection_setup reply connection_closed");

  assert_int_equal(uv_process_kill(&b.proc, SIGKILL), 0);
  wait_events(rb, BX_MB_CONNECTION_LOST, 1);
  int lost = nth(rb, BX_MB_CONNECTION_LOST, 0)->status;
  if (proto == BX_MB_UDP)
    assert_int_equal(lost, BX_ETIMEDOUT);
  else
    assert_true(lost == UV_EOF || lost == UV_ECONNRESET);
  wait_gone(&b);
  assert_int_equal(b.term_signal, SIGKILL);

  assert_string_equal(order(ra), "connection_ready request connection_closed");
  assert_string_equal(order(rb), "connection_ready request connection_lost");
  all_contexts(ra, &W.tags[ka - 1]);
  all_contexts(rb, &W.tags[kb - 1]);
  assert_int_equal(bx_mb_unlisten(l), 0);
  wait_events(l, BX_MB_LISTENING_ENDED, 1);
  all_contexts(l, &tag_listener);
  world_free();
}

static void test_clients_tcp(void **state) {
  (void)state;
  two_clients(BX_MB_TCP);
}
static void test_clients_udp(void **state) {
  (void)state;
  two_clients(BX_MB_UDP);
}
static void test_clients_unix(void **state) {
  (void)state;
  two_clients(BX_MB_UNIX);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--serve") == 0)
    return helper_main(true, argv[2], (unsigned)atoi(argv[3]));
  if (argc == 4 && strcmp(argv[1], "--client") == 0)
    return helper_main(false, argv[2], (unsigned)atoi(argv[3]));
  signal(SIGPIPE, SIG_IGN);
  size_t n = sizeof self_exe;
  if (uv_exepath(self_exe, &n) != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_tcp),  cmocka_unit_test(test_server_udp),
      cmocka_unit_test(test_server_unix), cmocka_unit_test(test_clients_tcp),
      cmocka_unit_test(test_clients_udp), cmocka_unit_test(test_clients_unix),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
