/* The transport conformance suite (tests/conformance/conformance.h) over ws:// and wss://,
 * (no RegisterSelfMessage handshake, peers known by address); plus what only WebSocket has: static
 * files on the listener's port, and malformed traffic from a raw client (bad upgrade, oversize and
 * invalid UTF-8 messages, garbage after the handshake, a silent half-open peer), each closing only
 * its own connection. wss uses a throwaway pair made by openssl at configure time (BX_TLS_CERT /
 * BX_TLS_KEY / BX_TLS_CA). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <cmocka.h>

#include "conformance/conformance.h"

static void ws4_url(char *buf, size_t len) {
  snprintf(buf, len, "ws://127.0.0.1:0/");
}
static void ws6_url(char *buf, size_t len) {
  snprintf(buf, len, "ws://[::1]:0/bx");
}
static void wss_url(char *buf, size_t len) {
  snprintf(buf, len, "wss://127.0.0.1:0/");
}

static const bxc_tran ws4_tran = {"ws4", "ws", ws4_url, true, NULL, 0, 0};
static const bxc_tran ws6_tran = {"ws6", "ws", ws6_url, true, NULL, 0, 0};
static const bxc_tran wss_tran = {"wss", "wss", wss_url, true, NULL, 0, 0};

/* A second loop in the same process cannot use WebSocket while the first one does. */
static void ws_test_other_loop(void **state) {
  (void)state;
  bxc_env *e = bxc_env_new(&ws4_tran, 0, 0);
  uv_loop_t other;
  assert_int_equal(uv_loop_init(&other), 0);
  bxc_log log = {0};
  bx_ctx *ctx = bxc_ctx_new(&other, "/bxt/other", &log, 0);
  bx_listener *l = NULL;
  assert_int_equal(bx_listen(ctx, "ws://127.0.0.1:0/", NULL, &l), BX_ENOTSUP);
  int closed = 0;
  assert_int_equal(bx_ctx_close(ctx, bxc_on_ctx_closed, &closed), 0);
  uv_run(&other, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&other), 0);
  bxc_env_free(e);
}

/* A port held by a plain socket: UV_EADDRINUSE, and the context still closes cleanly. */
static void ws_test_port_busy(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 1), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  bxc_log log = {0};
  bx_ctx *ctx = bxc_ctx_new(&loop, "/bxt/busy", &log, 0);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ntohs(sa.sin_port));
  bx_listener *l = NULL;
  assert_int_equal(bx_listen(ctx, url, NULL, &l), UV_EADDRINUSE);
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/", ntohs(sa.sin_port));
  assert_int_equal(bx_listen(ctx, url, NULL, &l), UV_EADDRINUSE);
  bx_listen_opts o;
  bx_ws_listen_opts wo;
  memset(&o, 0, sizeof o);
  memset(&wo, 0, sizeof wo);
  o.ws = &wo;
  wo.tls_cert = "/nonexistent.pem";
  wo.tls_key = "/nonexistent.pem";
  assert_int_equal(bx_listen(ctx, "wss://127.0.0.1:0/", &o, &l), BX_EINVAL);
  wo.tls_cert = wo.tls_key = NULL;
  wo.www_dir = "/nonexistent/dir";
  assert_int_equal(bx_listen(ctx, "ws://127.0.0.1:0/", &o, &l), BX_EINVAL);
  assert_int_equal(bx_listen(ctx, "ws://host.example:0/", NULL, &l), BX_EINVAL);
  bx_box *b = NULL;
  assert_int_equal(bx_connect(ctx, "ws://127.0.0.1:99999/", NULL, &b), BX_EINVAL);
  assert_int_equal(bx_connect(ctx, "ws://127.0.0.1/", NULL, &b), BX_EINVAL);
  int closed = 0;
  assert_int_equal(bx_ctx_close(ctx, bxc_on_ctx_closed, &closed), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
  close(fd);
}

/* ---- a raw client: plain sockets, blocking with timeouts (the server runs in a thread) ---- */

typedef struct srv {
  uv_loop_t loop;
  bx_ctx *ctx;
  bxt_calc calc;
  bx_listener *l;
  uv_async_t stop;
  uv_thread_t thread;
  int port;
  bxc_log log;
  int closed;
  const char *www;
} srv;

static void srv_stop_cb(uv_async_t *a) {
  srv *s = a->data;
  uv_close((uv_handle_t *)a, NULL);
  bxt_calc_release(&s->calc);
  bx_ctx_close(s->ctx, bxc_on_ctx_closed, &s->closed);
}

static void srv_thread(void *arg) {
  srv *s = arg;
  uv_run(&s->loop, UV_RUN_DEFAULT);
}

static const char *const *srv_origins; /* the next srv_start()'s allowed_origins */

static void srv_start(srv *s, size_t max_frame, unsigned ping_secs, const char *www) {
  memset(s, 0, sizeof *s);
  assert_int_equal(uv_loop_init(&s->loop), 0);
  s->ctx = bxc_ctx_new(&s->loop, "/bxt/server", &s->log, 0);
  assert_int_equal(bxt_calc_register(s->ctx, "calc", &s->calc), 0);
  bx_listen_opts o;
  bx_ws_listen_opts wo;
  memset(&o, 0, sizeof o);
  memset(&wo, 0, sizeof wo);
  bx_transport_limits_init(&o.limits);
  o.limits.max_frame = max_frame;
  wo.ping_secs = ping_secs;
  wo.www_dir = www;
  wo.allowed_origins = srv_origins;
  o.ws = &wo;
  assert_int_equal(bx_listen(s->ctx, "ws://127.0.0.1:0/", &o, &s->l), 0);
  const char *u = bx_listener_url(s->l);
  s->port = atoi(strrchr(u, ':') + 1);
  assert_true(s->port > 0);
  assert_int_equal(uv_async_init(&s->loop, &s->stop, srv_stop_cb), 0);
  s->stop.data = s;
  assert_int_equal(uv_thread_create(&s->thread, srv_thread, s), 0);
}

static void srv_finish(srv *s) {
  uv_async_send(&s->stop);
  uv_thread_join(&s->thread);
  assert_int_equal(s->closed, 1);
  assert_int_equal(uv_loop_close(&s->loop), 0);
}

static int raw_connect(int port, int timeout_s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct timeval tv = {timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  return fd;
}

static void raw_send(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
    if (k <= 0) return; /* the peer may have closed already */
    c += k;
    n -= (size_t)k;
  }
}

/* Reads until "\r\n\r\n"; returns the header length (0 on EOF). */
static size_t raw_read_head(int fd, char *buf, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t k = recv(fd, buf + n, 1, 0);
    if (k <= 0) break;
    n++;
    buf[n] = '\0';
    if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) return n;
  }
  buf[n] = '\0';
  return 0;
}

static int raw_upgrade(int port, int timeout_s) {
  int fd = raw_connect(port, timeout_s);
  static const char req[] = "GET /any/path HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
  raw_send(fd, req, sizeof req - 1);
  char head[2048];
  assert_true(raw_read_head(fd, head, sizeof head) > 0);
  assert_non_null(strstr(head, " 101 "));
  assert_null(strstr(head, "Sec-WebSocket-Extensions"));
  return fd;
}

/* A small masked client frame built into out (at least n + 14 bytes); returns its length. */
static size_t raw_frame_build(unsigned char *out, int opcode, const void *payload, size_t n) {
  static const unsigned char mask[4] = {0x55, 0x66, 0x77, 0x88};
  size_t hl = 0;
  out[hl++] = (unsigned char)(0x80 | opcode);
  if (n < 126) {
    out[hl++] = (unsigned char)(0x80 | n);
  } else {
    out[hl++] = 0x80 | 126;
    out[hl++] = (unsigned char)(n >> 8);
    out[hl++] = (unsigned char)n;
  }
  memcpy(out + hl, mask, 4);
  hl += 4;
  for (size_t i = 0; i < n; i++)
    out[hl + i] = ((const unsigned char *)payload)[i] ^ mask[i % 4];
  return hl + n;
}

/* A masked client frame header (+ mask), then the payload masked. */
static void raw_frame(int fd, int opcode, bool fin, const void *payload, size_t n,
                      uint64_t declared) {
  unsigned char h[14];
  size_t hl = 0;
  h[hl++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
  if (declared < 126) {
    h[hl++] = (unsigned char)(0x80 | declared);
  } else if (declared < 65536) {
    h[hl++] = 0x80 | 126;
    h[hl++] = (unsigned char)(declared >> 8);
    h[hl++] = (unsigned char)declared;
  } else {
    h[hl++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      h[hl++] = (unsigned char)(declared >> (8 * i));
  }
  static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
  memcpy(h + hl, mask, 4);
  hl += 4;
  raw_send(fd, h, hl);
  unsigned char *m = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    m[i] = ((const unsigned char *)payload)[i] ^ mask[i % 4];
  raw_send(fd, m, n);
  free(m);
}

/* Reads one server frame; returns its opcode (-1 on EOF/timeout), payload in buf. */
static int raw_read_frame(int fd, char *buf, size_t cap, size_t *len) {
  unsigned char h[10];
  if (recv(fd, h, 2, MSG_WAITALL) != 2) return -1;
  uint64_t n = h[1] & 0x7f;
  if (n == 126) {
    if (recv(fd, h + 2, 2, MSG_WAITALL) != 2) return -1;
    n = (uint64_t)h[2] << 8 | h[3];
  } else if (n == 127) {
    if (recv(fd, h + 2, 8, MSG_WAITALL) != 8) return -1;
    n = 0;
    for (int i = 2; i < 10; i++)
      n = n << 8 | h[i];
  }
  size_t got = 0;
  while (got < n) {
    char scratch[4096];
    size_t want = n - got > sizeof scratch ? sizeof scratch : (size_t)(n - got);
    ssize_t k = recv(fd, scratch, want, 0);
    if (k <= 0) return -1;
    if (got < cap) memcpy(buf + got, scratch, got + (size_t)k <= cap ? (size_t)k : cap - got);
    got += (size_t)k;
  }
  *len = got < cap ? got : cap;
  return h[0] & 0x0f;
}

/* Reads frames until a close frame: returns its status (-1: EOF without one). */
static int raw_wait_close(int fd, char *reason, size_t cap) {
  char buf[256];
  size_t n;
  for (;;) {
    int op = raw_read_frame(fd, buf, sizeof buf, &n);
    if (op < 0) return -1;
    if (op == 8) {
      int status = n >= 2 ? ((unsigned char)buf[0] << 8) | (unsigned char)buf[1] : 1005;
      snprintf(reason, cap, "%.*s", n > 2 ? (int)(n - 2) : 0, buf + 2);
      return status;
    }
  }
}

static bool raw_eof(int fd) {
  char b[256];
  for (;;) {
    ssize_t k = recv(fd, b, sizeof b, 0);
    if (k == 0) return true;
    if (k < 0) return false;
  }
}

static const char ADD_MSG[] =
    "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":\"foam.box.SubBox\","
    "\"name\":\"7\",\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}},\"object\":{\"class\":"
    "\"foam.box.SubBoxMessage\",\"name\":\"calc\",\"object\":{\"class\":\"foam.box.RPCMessage\","
    "\"name\":\"add\",\"args\":[20,22]}}}";

/* add(20,22) over fd; the reply carries 42. */
static void raw_add(int fd, bool fragmented) {
  size_t n = sizeof ADD_MSG - 1;
  if (fragmented) { /* text, ping, continuation, binary-less empty final continuation */
    raw_frame(fd, 1, false, ADD_MSG, 40, 40);
    raw_frame(fd, 9, true, "p", 1, 1);
    raw_frame(fd, 0, false, ADD_MSG + 40, n - 40, n - 40);
    raw_frame(fd, 0, true, "", 0, 0);
  } else {
    raw_frame(fd, 1, true, ADD_MSG, n, n);
  }
  char buf[4096];
  size_t len;
  int op;
  while ((op = raw_read_frame(fd, buf, sizeof buf - 1, &len)) == 10) /* pong */
    ;
  assert_int_equal(op, 1);
  buf[len] = '\0';
  assert_non_null(strstr(buf, "\"data\":42"));
}

static void ws_test_raw_ok(void **state) {
  (void)state;
  srv s;
  srv_start(&s, 0, 0, NULL);
  int fd = raw_upgrade(s.port, 10);
  raw_add(fd, false);
  raw_add(fd, true);
  /* binary messages are accepted too */
  raw_frame(fd, 2, true, ADD_MSG, sizeof ADD_MSG - 1, sizeof ADD_MSG - 1);
  char buf[512];
  size_t len;
  int op;
  while ((op = raw_read_frame(fd, buf, sizeof buf, &len)) == 10) /* the pong may come later */
    ;
  assert_int_equal(op, 1);
  /* a clean close: the server answers with the same status */
  unsigned char cl[5] = {0x03, 0xe8, 'b', 'y', 'e'};
  raw_frame(fd, 8, true, cl, sizeof cl, sizeof cl);
  char reason[128];
  assert_int_equal(raw_wait_close(fd, reason, sizeof reason), 1000);
  assert_true(raw_eof(fd));
  close(fd);
  srv_finish(&s);
  assert_int_equal(s.log.warn, 0);
}

/* RFC 6455 5.5.1: after the peer's close frame nothing it sent is processed, even frames that
 * came in the same read: the call sent after the close is not answered. */
static void ws_test_nothing_after_close(void **state) {
  (void)state;
  srv s;
  srv_start(&s, 0, 0, NULL);
  int fd = raw_upgrade(s.port, 10);
  unsigned char both[512];
  unsigned char cl[4] = {0x03, 0xe8, 'o', 'k'};
  size_t n = raw_frame_build(both, 8, cl, sizeof cl);
  n += raw_frame_build(both + n, 1, ADD_MSG, sizeof ADD_MSG - 1);
  raw_send(fd, both, n); /* one write: close, then a call */
  char buf[512];
  size_t len;
  int op, texts = 0, status = -1;
  while ((op = raw_read_frame(fd, buf, sizeof buf, &len)) >= 0) {
    if (op == 1) texts++;
    if (op == 8) {
      status = len >= 2 ? ((unsigned char)buf[0] << 8) | (unsigned char)buf[1] : 1005;
      break;
    }
  }
  assert_int_equal(status, 1000);
  assert_int_equal(texts, 0); /* the call after the close was not answered */
  assert_true(raw_eof(fd));
  close(fd);
  srv_finish(&s);
}

/* Only Sec-WebSocket-Version 13 is upgraded (RFC 6455 4.4); other versions, the older drafts'
 * among them, are not. */
static void ws_test_version(void **state) {
  (void)state;
  srv s;
  srv_start(&s, 0, 0, NULL);
  static const char *const versions[] = {"8", "7", "0", "12", "14", "130", ""};
  for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
    int fd = raw_connect(s.port, 10);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: %s\r\n\r\n",
                     versions[i]);
    raw_send(fd, req, (size_t)n);
    char head[2048] = "";
    raw_read_head(fd, head, sizeof head);
    if (strstr(head, " 101 ") != NULL) fail_msg("version '%s' was upgraded", versions[i]);
    close(fd);
  }
  srv_finish(&s);
}

/* An upgrade with Host: 127.0.0.1:<port> and the Origin header origin (NULL: none): whether it
 * was switched (101) or refused (403). */
static bool origin_upgraded(int port, const char *origin) {
  int fd = raw_connect(port, 10);
  char req[512], o[200] = "";
  if (origin) snprintf(o, sizeof o, "Origin: %s\r\n", origin);
  int n = snprintf(req, sizeof req,
                   "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   port, o);
  raw_send(fd, req, (size_t)n);
  char head[2048] = "";
  raw_read_head(fd, head, sizeof head);
  close(fd);
  bool up = strstr(head, " 101 ") != NULL;
  if (!up && strstr(head, " 403 ") == NULL) fail_msg("Origin '%s': neither 101 nor 403", origin);
  return up;
}

/* Browsers send Origin: a page of another site may not open a WebSocket to a local service
 * unless the listener allows that origin. */
static void ws_test_origin(void **state) {
  (void)state;
  srv s;
  char same[64], other_port[64];
  srv_origins = NULL; /* the default: programs and same-origin pages */
  srv_start(&s, 0, 0, NULL);
  snprintf(same, sizeof same, "http://127.0.0.1:%d", s.port);
  snprintf(other_port, sizeof other_port, "http://127.0.0.1:%d", s.port + 1);
  assert_true(origin_upgraded(s.port, NULL));
  assert_true(origin_upgraded(s.port, same));
  assert_false(origin_upgraded(s.port, "http://evil.example"));
  assert_false(origin_upgraded(s.port, other_port));
  assert_false(origin_upgraded(s.port, "null"));
  srv_finish(&s);

  static const char *const listed[] = {"https://app.example:8443/", NULL};
  srv_origins = listed;
  srv_start(&s, 0, 0, NULL);
  snprintf(same, sizeof same, "http://127.0.0.1:%d", s.port);
  assert_true(origin_upgraded(s.port, "https://app.example:8443"));
  assert_true(origin_upgraded(s.port, same));
  assert_false(origin_upgraded(s.port, "https://app.example"));
  assert_false(origin_upgraded(s.port, "http://evil.example"));
  srv_finish(&s);

  static const char *const all[] = {"*", NULL};
  srv_origins = all;
  srv_start(&s, 0, 0, NULL);
  assert_true(origin_upgraded(s.port, "http://evil.example"));
  srv_finish(&s);
  srv_origins = NULL;
}

static void ws_test_malformed(void **state) {
  (void)state;
  srv s;
  srv_start(&s, 64 * 1024, 0, NULL);
  int good = raw_upgrade(s.port, 10);
  raw_add(good, false);
  char reason[128], head[2048];

  /* a bad upgrade request: no key -> no 101, closed */
  int fd = raw_connect(s.port, 10);
  static const char bad[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
  raw_send(fd, bad, sizeof bad - 1);
  raw_read_head(fd, head, sizeof head);
  assert_null(strstr(head, " 101 "));
  assert_true(raw_eof(fd));
  close(fd);

  /* garbage instead of HTTP */
  fd = raw_connect(s.port, 10);
  char junk[3000];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (char)(i * 131 + 7);
  raw_send(fd, junk, sizeof junk);
  assert_true(raw_eof(fd));
  close(fd);

  /* an oversize message: refused from its header, before the payload arrives */
  fd = raw_upgrade(s.port, 10);
  raw_frame(fd, 1, true, "{}", 2, 1024 * 1024);
  assert_int_equal(raw_wait_close(fd, reason, sizeof reason), 1009);
  assert_string_equal(reason, "message too big");
  close(fd);

  /* fragments adding up past the limit */
  fd = raw_upgrade(s.port, 10);
  char *big = malloc(40000);
  memset(big, ' ', 40000);
  raw_frame(fd, 1, false, big, 40000, 40000);
  raw_frame(fd, 0, true, big, 40000, 40000);
  free(big);
  assert_int_equal(raw_wait_close(fd, reason, sizeof reason), 1009);
  close(fd);

  /* invalid UTF-8 in a text frame */
  fd = raw_upgrade(s.port, 10);
  static const char badutf[] = "{\"a\":\"\xc3\x28\"}";
  raw_frame(fd, 1, true, badutf, sizeof badutf - 1, sizeof badutf - 1);
  assert_int_equal(raw_wait_close(fd, reason, sizeof reason), 1007);
  close(fd);

  /* a text message ending inside a UTF-8 sequence, its last fragment empty */
  fd = raw_upgrade(s.port, 10);
  raw_frame(fd, 1, false, "\"\xe2\x82", 3, 3);
  raw_frame(fd, 0, true, "", 0, 0);
  assert_int_equal(raw_wait_close(fd, reason, sizeof reason), 1007);
  close(fd);

  /* garbage after the handshake: a protocol error */
  fd = raw_upgrade(s.port, 10);
  raw_send(fd, junk, sizeof junk);
  int st = raw_wait_close(fd, reason, sizeof reason);
  assert_true(st == 1002 || st == -1);
  close(fd);

  /* valid JSON that is not a message: dropped, the connection stays */
  fd = raw_upgrade(s.port, 10);
  raw_frame(fd, 1, true, "[1,2]", 5, 5);
  raw_add(fd, false);
  close(fd);

  /* the first connection still works */
  raw_add(good, false);
  close(good);
  srv_finish(&s);
  assert_true(s.log.warn >= 3);
}

/* A peer that completes the handshake and then never answers: dropped after the ping. */
static void ws_test_half_open(void **state) {
  (void)state;
  srv s;
  srv_start(&s, 0, 1, NULL); /* ping after 1 s, hang up after 3 s */
  int fd = raw_upgrade(s.port, 10);
  uint64_t t0 = uv_hrtime();
  char buf[256];
  size_t len;
  int pings = 0, op;
  while ((op = raw_read_frame(fd, buf, sizeof buf, &len)) >= 0)
    if (op == 9) pings++; /* never answered */
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  assert_true(pings >= 1);
  assert_true(secs >= 2.0 && secs < 9.0);
  close(fd);
  srv_finish(&s);
}

/* Static files on the listener's port. */
static void ws_test_www(void **state) {
  (void)state;
  char dir[] = "/tmp/bxt-www-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/index.html", dir);
  FILE *f = fopen(path, "w");
  fputs("<p>bx</p>\n", f);
  fclose(f);
  srv s;
  srv_start(&s, 0, 0, dir);
  int fd = raw_connect(s.port, 10);
  static const char get[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  raw_send(fd, get, sizeof get - 1);
  char all[4096];
  size_t n = 0;
  ssize_t k;
  while (n + 1 < sizeof all && (k = recv(fd, all + n, sizeof all - 1 - n, 0)) > 0)
    n += (size_t)k;
  all[n] = '\0';
  assert_non_null(strstr(all, " 200 "));
  assert_non_null(strstr(all, "<p>bx</p>"));
  close(fd);
  fd = raw_connect(s.port, 10);
  static const char miss[] =
      "GET /nosuch.js HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  raw_send(fd, miss, sizeof miss - 1);
  n = 0;
  while (n + 1 < sizeof all && (k = recv(fd, all + n, sizeof all - 1 - n, 0)) > 0)
    n += (size_t)k;
  all[n] = '\0';
  assert_non_null(strstr(all, " 404 "));
  close(fd);
  /* a symbolic link out of the directory is not followed */
  char link[300];
  snprintf(link, sizeof link, "%s/escape.txt", dir);
  assert_int_equal(symlink("/etc/passwd", link), 0);
  fd = raw_connect(s.port, 10);
  static const char esc[] =
      "GET /escape.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  raw_send(fd, esc, sizeof esc - 1);
  n = 0;
  while (n + 1 < sizeof all && (k = recv(fd, all + n, sizeof all - 1 - n, 0)) > 0)
    n += (size_t)k;
  all[n] = '\0';
  assert_null(strstr(all, "root:"));
  assert_null(strstr(all, " 200 "));
  close(fd);
  /* and WebSocket on the same port */
  fd = raw_upgrade(s.port, 10);
  raw_add(fd, false);
  close(fd);
  srv_finish(&s);
  assert_int_equal(s.log.warn, 1); /* the refusal */
  unlink(link);
  unlink(path);
  rmdir(dir);
}

static bool have_ipv6(void) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  setenv("BX_TLS_CERT", BX_CERT_DIR "/cert.pem", 1);
  setenv("BX_TLS_KEY", BX_CERT_DIR "/key.pem", 1);
  setenv("BX_TLS_CA", BX_CERT_DIR "/cert.pem", 1);
  const struct CMUnitTest ws4_tests[] = {BXC_TESTS(&ws4_tran)};
  const struct CMUnitTest ws6_tests[] = {BXC_TESTS(&ws6_tran)};
  const struct CMUnitTest wss_tests[] = {BXC_TESTS(&wss_tran)};
  const struct CMUnitTest raw_tests[] = {
      cmocka_unit_test(ws_test_raw_ok),
      cmocka_unit_test(ws_test_malformed),
      cmocka_unit_test(ws_test_nothing_after_close),
      cmocka_unit_test(ws_test_version),
      cmocka_unit_test(ws_test_origin),
      cmocka_unit_test(ws_test_half_open),
      cmocka_unit_test(ws_test_www),
      cmocka_unit_test(ws_test_other_loop),
      cmocka_unit_test(ws_test_port_busy),
  };
  int failed = 0;
  const char *only = getenv("BXT_WS_GROUP");
  if (!only || strcmp(only, "ws4") == 0)
    failed += cmocka_run_group_tests_name("ws4", ws4_tests, NULL, NULL);
  if ((!only || strcmp(only, "ws6") == 0) && have_ipv6())
    failed += cmocka_run_group_tests_name("ws6", ws6_tests, NULL, NULL);
  if (!only || strcmp(only, "wss") == 0)
    failed += cmocka_run_group_tests_name("wss", wss_tests, NULL, NULL);
  if (!only || strcmp(only, "raw") == 0)
    failed += cmocka_run_group_tests_name("ws-raw", raw_tests, NULL, NULL);
  return failed;
}
