/* On the wire with the released msgbox: a peer written here directly on sockets (no bx, a
 * thread of its own, blocking I/O with a receive timeout) speaks the release's 8-byte
 * big-endian header (uint16 type, uint16 reply_id, uint32 num_bytes) with a bx peer on the
 * released API, over TCP and UDP, each side once as server and once as client: one-way messages
 * both ways, a request from each side answered by the other, and the orderly `close`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mct.h"

enum { ONE_WAY = 0, REQUEST = 1, REPLY = 2, CLOSE = 4 };

/* ---- the raw peer ------------------------------------------------------------------------- */

typedef struct raw {
  int fd;
  int udp;
  int fail_line; /* 0, or the line of the first failed check */
  char why[128];
} raw;

#define RAW_CHECK(r, cond)                             \
  do {                                                 \
    if (!(cond)) {                                     \
      (r)->fail_line = __LINE__;                       \
      snprintf((r)->why, sizeof(r)->why, "%s", #cond); \
      return -1;                                       \
    }                                                  \
  } while (0)

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t k = recv(fd, p, n, 0);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Reads one message: a frame of the stream, or one datagram. */
static int raw_read(raw *r, unsigned *type, unsigned *id, char *payload, size_t cap, size_t *len) {
  unsigned char h[8 + 256];
  if (r->udp) {
    ssize_t k = recv(r->fd, h, sizeof h, 0);
    if (k < 8) return -1;
    *len = (size_t)k - 8;
  } else {
    if (read_all(r->fd, h, 8)) return -1;
  }
  *type = (unsigned)h[0] << 8 | h[1];
  *id = (unsigned)h[2] << 8 | h[3];
  uint32_t n = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
  if (n > cap) return -1;
  if (r->udp) {
    if (n != *len) return -1; /* one datagram is exactly one message */
    memcpy(payload, h + 8, n);
  } else {
    if (read_all(r->fd, payload, n)) return -1;
  }
  *len = n;
  return 0;
}

/* Writes one message (the string with its NUL, as msg_new_data makes them). */
static int raw_write(raw *r, unsigned type, unsigned id, const char *str) {
  unsigned char buf[8 + 256];
  size_t n = str ? strlen(str) + 1 : 0;
  buf[0] = (unsigned char)(type >> 8);
  buf[1] = (unsigned char)type;
  buf[2] = (unsigned char)(id >> 8);
  buf[3] = (unsigned char)id;
  buf[4] = (unsigned char)(n >> 24);
  buf[5] = (unsigned char)(n >> 16);
  buf[6] = (unsigned char)(n >> 8);
  buf[7] = (unsigned char)n;
  if (n) memcpy(buf + 8, str, n);
  return send(r->fd, buf, 8 + n, MSG_NOSIGNAL) == (ssize_t)(8 + n) ? 0 : -1;
}

/* Expects a message of type with the string payload str; returns its reply id. */
static int raw_expect(raw *r, unsigned type, const char *str) {
  unsigned t, id;
  char payload[256];
  size_t len = 0;
  RAW_CHECK(r, raw_read(r, &t, &id, payload, sizeof payload, &len) == 0);
  RAW_CHECK(r, t == type);
  if (str) RAW_CHECK(r, len == strlen(str) + 1 && memcmp(payload, str, len) == 0);
  if (type == REQUEST) RAW_CHECK(r, id != 0);
  return (int)id;
}

static void raw_timeouts(int fd) {
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* The raw side serving a bx client: "ping" -> "pong"; the client's get "q1" -> "a1"; then its
 * own request "q2" (id 7) -> "a2"; then the client's close. */
static int raw_serve(raw *r) {
  RAW_CHECK(r, raw_expect(r, ONE_WAY, "ping") == 0);
  RAW_CHECK(r, raw_write(r, ONE_WAY, 0, "pong") == 0);
  int id = raw_expect(r, REQUEST, "q1");
  RAW_CHECK(r, id > 0);
  RAW_CHECK(r, raw_write(r, REPLY, (unsigned)id, "a1") == 0);
  RAW_CHECK(r, raw_write(r, REQUEST, 7, "q2") == 0);
  RAW_CHECK(r, raw_expect(r, REPLY, "a2") == 7);
  RAW_CHECK(r, raw_expect(r, CLOSE, NULL) == 0);
  return 0;
}

/* The raw side as a bx server's client: "ping" echoed; its get "q1" (id 9) -> "re:q1"; the
 * server's request "q2" -> "a2"; then the raw side closes. */
static int raw_client(raw *r) {
  RAW_CHECK(r, raw_write(r, ONE_WAY, 0, "ping") == 0);
  RAW_CHECK(r, raw_expect(r, ONE_WAY, "ping") == 0);
  RAW_CHECK(r, raw_write(r, REQUEST, 9, "q1") == 0);
  RAW_CHECK(r, raw_expect(r, REPLY, "re:q1") == 9);
  int id = raw_expect(r, REQUEST, "q2");
  RAW_CHECK(r, id > 0);
  RAW_CHECK(r, raw_write(r, REPLY, (unsigned)id, "a2") == 0);
  RAW_CHECK(r, raw_write(r, CLOSE, 0, NULL) == 0);
  return 0;
}

static int raw_socket(int udp) {
  int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  CHECK(fd >= 0);
  raw_timeouts(fd);
  return fd;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons((uint16_t)port);
  return sa;
}

/* Thread: accept (TCP) or learn the client from its first datagram (UDP), then serve. */
static void *raw_server_thread(void *arg) {
  raw *r = arg;
  if (!r->udp) {
    int lfd = r->fd;
    r->fd = accept(lfd, NULL, NULL);
    close(lfd);
    if (r->fd < 0) {
      r->fail_line = __LINE__;
      return NULL;
    }
    raw_timeouts(r->fd);
  } else {
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    char peek[8];
    if (recvfrom(r->fd, peek, sizeof peek, MSG_PEEK, (struct sockaddr *)&from, &flen) < 0 ||
        connect(r->fd, (struct sockaddr *)&from, flen) != 0) {
      r->fail_line = __LINE__;
      return NULL;
    }
  }
  raw_serve(r);
  close(r->fd);
  return NULL;
}

static int raw_client_port;
static void *raw_client_thread(void *arg) {
  raw *r = arg;
  struct sockaddr_in sa = loopback(raw_client_port);
  if (connect(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    r->fail_line = __LINE__;
  } else {
    raw_client(r);
  }
  close(r->fd);
  return NULL;
}

/* ---- the bx side -------------------------------------------------------------------------- */

static mct_log bx_log;
static volatile int bx_done, listening, ended;
static msg_Conn *listener;
static int listen_port;
static int ctx_tag, get_tag;

static void bx_client(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&bx_log, event);
  CHECK(conn->conn_context == &ctx_tag);
  if (event == msg_error) fprintf(stderr, "bx client: %s\n", msg_error_str(data));
  if (event == msg_connection_ready) {
    msg_Data d = msg_new_data("ping");
    msg_send(conn, d);
    msg_delete_data(d);
  }
  if (event == msg_message) {
    CHECK_STR(msg_as_str(data), "pong");
    msg_Data d = msg_new_data("q1");
    msg_get(conn, d, &get_tag);
    msg_delete_data(d);
  }
  if (event == msg_reply) {
    CHECK_STR(msg_as_str(data), "a1");
    CHECK(conn->reply_context == &get_tag);
  }
  if (event == msg_request) {
    CHECK_STR(msg_as_str(data), "q2");
    msg_Data d = msg_new_data("a2");
    msg_send(conn, d);
    msg_delete_data(d);
    msg_disconnect(conn);
  }
  if (event == msg_connection_closed || event == msg_connection_lost) bx_done = 1;
}

static void bx_server(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&bx_log, event);
  if (event == msg_listening) {
    listener = conn;
    listen_port = conn->remote_port;
    listening = 1;
    return;
  }
  if (event == msg_listening_ended) {
    ended = 1;
    return;
  }
  if (event == msg_error) fprintf(stderr, "bx server: %s\n", msg_error_str(data));
  if (event == msg_connection_ready) conn->conn_context = &ctx_tag;
  CHECK(conn->conn_context == &ctx_tag);
  if (event == msg_message) msg_send(conn, data); /* echo */
  if (event == msg_request) {
    CHECK_STR(msg_as_str(data), "q1");
    msg_Data d = msg_new_data("re:q1");
    msg_send(conn, d); /* the reply */
    msg_delete_data(d);
    d = msg_new_data("q2");
    msg_get(conn, d, &get_tag); /* then a request of the server's own */
    msg_delete_data(d);
  }
  if (event == msg_reply) {
    CHECK_STR(msg_as_str(data), "a2");
    CHECK(conn->reply_context == &get_tag);
  }
  if (event == msg_connection_closed || event == msg_connection_lost) bx_done = 1;
}

static void check_raw(const raw *r, const char *what) {
  if (r->fail_line) {
    fprintf(stderr, "raw %s failed at line %d: %s\n", what, r->fail_line, r->why);
    exit(1);
  }
}

/* The raw peer serves; bx connects. */
static void test_bx_connects(int udp) {
  raw r;
  memset(&r, 0, sizeof r);
  r.udp = udp;
  r.fd = raw_socket(udp);
  struct sockaddr_in sa = loopback(0);
  socklen_t len = sizeof sa;
  CHECK(bind(r.fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  CHECK(getsockname(r.fd, (struct sockaddr *)&sa, &len) == 0);
  if (!udp) CHECK(listen(r.fd, 4) == 0);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, raw_server_thread, &r) == 0);

  memset(&bx_log, 0, sizeof bx_log);
  bx_done = 0;
  char a[64];
  msg_connect(mct_addr(a, sizeof a, udp ? "udp" : "tcp", ntohs(sa.sin_port)), bx_client, &ctx_tag);
  mct_run_until(&bx_done, 10000);
  CHECK(pthread_join(t, NULL) == 0);
  check_raw(&r, "server");
  CHECK_STR(bx_log.text, "connection_ready message reply request connection_closed");
}

/* bx serves; the raw peer connects. */
static void test_bx_serves(int udp) {
  memset(&bx_log, 0, sizeof bx_log);
  bx_done = listening = ended = 0;
  msg_listen(udp ? "udp://127.0.0.1:0" : "tcp://127.0.0.1:0", bx_server);
  mct_run_until(&listening, 5000);

  raw r;
  memset(&r, 0, sizeof r);
  r.udp = udp;
  r.fd = raw_socket(udp);
  raw_client_port = listen_port;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, raw_client_thread, &r) == 0);
  mct_run_until(&bx_done, 10000);
  CHECK(pthread_join(t, NULL) == 0);
  check_raw(&r, "client");
  msg_unlisten(listener);
  mct_run_until(&ended, 5000);
  CHECK_STR(bx_log.text,
            "listening connection_ready message request reply connection_closed listening_ended");
}

int main(void) {
  for (int udp = 0; udp < 2; udp++) {
    test_bx_connects(udp);
    test_bx_serves(udp);
  }
  printf("msgbox compat wire: ok\n");
  return 0;
}
