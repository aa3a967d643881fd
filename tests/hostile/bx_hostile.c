/* bx_hostile: malformed and abusive inputs against every listener of a running bxd.
 *
 *   bx_hostile --pid PID --log FILE --unix PATH --tcp HOST:PORT --ws HOST:PORT
 *              --msgbox HOST:PORT [--rss-mb N] [--only NAME]
 *
 * bxd must serve "calc" (calc_server registered). Each case opens its own connection(s) to one
 * listener and sends one kind of bad input: truncated and oversized frames, length prefixes of
 * 2^31, invalid JSON and UTF-8, nesting 100000 deep, unknown classes, reply boxes naming
 * nothing, another connection's name, slowloris, 500 half-open connections, floods, and
 * RFC 6455 violations on the WebSocket listener. After each case:
 * - the offender got a clear answer: the connection closed, an error message (or a WebSocket
 *   close frame) came back, or, for input nobody can be answered about (no readable reply
 *   box), bxd logged the reason (its log file grew);
 * - bxd is alive and serves a normal call (calc.add over Unix) within 5 s;
 * - its open file descriptors come back to what they were before the case (within 5 s);
 * - its resident memory stays under the start's plus --rss-mb (default 128).
 * Prints one line per case and a summary; exits 0 when every case passed. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

enum { L_UNIX, L_TCP, L_WS, L_MSGBOX };
enum { E_CLOSE = 1, E_ERROR = 2, E_LOG = 4, E_ANY = 7, E_REPLY = 8 };

static struct {
  pid_t pid;
  const char *log, *unix_path, *only;
  struct sockaddr_in tcp, ws, msgbox;
  long rss_base_kb, rss_mb;
  int passed, failed;
} g = {.rss_mb = 128};

/* ---- bytes ------------------------------------------------------------------------------------
 */

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static void b_add(buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL) abort();
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void b_str(buf *b, const char *s) {
  b_add(b, s, strlen(s));
}
static void b_fmt(buf *b, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  b_add(b, tmp, (size_t)n);
}
static void b_le32(buf *b, uint32_t v) {
  unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
  b_add(b, x, 4);
}
/* A length-prefixed frame (spec/foam section 4). */
static void b_frame(buf *b, const char *json, size_t n) {
  b_le32(b, (uint32_t)n);
  b_add(b, json, n);
}
static void b_framestr(buf *b, const char *json) {
  b_frame(b, json, strlen(json));
}

#define REPLY_BOX(name)                                           \
  "{\"replyBox\":{\"class\":\"foam.box.SubBox\",\"name\":\"" name \
  "\",\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}}"
#define CALL(reply, svc, obj)                             \
  "{\"class\":\"foam.box.Message\",\"attributes\":" reply \
  ",\"object\":{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"" svc "\",\"object\":" obj "}}"
#define RPC(method, args) \
  "{\"class\":\"foam.box.RPCMessage\",\"name\":\"" method "\",\"args\":" args "}"
/* A call on the hub's registry itself (register, unregister): the RPC straight in the Message. */
#define DIRECT(reply, obj) \
  "{\"class\":\"foam.box.Message\",\"attributes\":" reply ",\"object\":" obj "}"
#define HELLO(name) \
  "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"" name "\",\"attributes\":{}}"

/* ---- sockets ----------------------------------------------------------------------------------
 */

static int dial(int which) {
  int fd;
  if (which == L_UNIX) {
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", g.unix_path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  struct sockaddr_in *a = which == L_TCP ? &g.tcp : which == L_WS ? &g.ws : &g.msgbox;
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *)a, sizeof *a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Writes what it can of b within ms (a peer that stops reading is not waited for forever). */
static void send_all(int fd, const buf *b, long ms) {
  size_t off = 0;
  long end = now_ms() + ms;
  while (off < b->n && now_ms() < end) {
    ssize_t w = send(fd, b->p + off, b->n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) return;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    poll(&p, 1, 50);
  }
}

/* What came back within ms: E_CLOSE (EOF or reset), E_ERROR (an error message or a WebSocket
 * close frame), E_REPLY (something else), or 0 (nothing). Stops early at a close. */
static int outcome(int fd, long ms, int which) {
  static char acc[1 << 16];
  size_t n = 0;
  int got = 0;
  long end = now_ms() + ms;
  for (;;) {
    long left = end - now_ms();
    if (left <= 0) break;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)left) <= 0) break;
    char tmp[8192];
    ssize_t r = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
      got |= E_CLOSE;
      break;
    }
    if (r < 0) continue;
    if (n + (size_t)r < sizeof acc) {
      memcpy(acc + n, tmp, (size_t)r);
      n += (size_t)r;
    }
    got |= E_REPLY;
    if (memmem(acc, n, "Exception", 9) || memmem(acc, n, "RPCErrorMessage", 15)) got |= E_ERROR;
    if (which == L_WS && memmem(acc, n, "\r\n\r\n", 4)) {
      char *body = (char *)memmem(acc, n, "\r\n\r\n", 4) + 4;
      for (char *q = body; q < acc + n; q++)
        if ((unsigned char)*q == 0x88) got |= E_ERROR; /* a close frame from the server */
      if (!memmem(acc, n, " 101 ", 5)) got |= E_ERROR; /* the upgrade was refused */
    }
  }
  return got;
}

/* ---- bxd's health -----------------------------------------------------------------------------
 */

static int count_fds(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/fd", (long)g.pid);
  DIR *d = opendir(path);
  if (d == NULL) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static long rss_kb(void) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", (long)g.pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
  fclose(f);
  return kb;
}

static long log_size(void) {
  struct stat st;
  return stat(g.log, &st) == 0 ? (long)st.st_size : -1;
}

/* A normal call over Unix: calc.add(1, 2) answers 3 within 5 s. */
static bool normal_call(void) {
  int fd = dial(L_UNIX);
  if (fd < 0) return false;
  buf b = {0};
  b_framestr(&b, HELLO("/hostile/probe"));
  b_framestr(&b, CALL(REPLY_BOX("probe"), "calc", RPC("add", "[1,2]")));
  send_all(fd, &b, 2000);
  free(b.p);
  char acc[4096];
  size_t n = 0;
  bool ok = false;
  long end = now_ms() + 5000;
  while (!ok && now_ms() < end && n < sizeof acc - 1) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t r = recv(fd, acc + n, sizeof acc - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    acc[n] = '\0';
    ok = memmem(acc, n, "\"data\":3", 8) != NULL;
  }
  close(fd);
  return ok;
}

/* ---- the cases --------------------------------------------------------------------------------
 */

typedef struct hcase {
  const char *name;
  int which;  /* the listener */
  int expect; /* what counts as a clear answer (E_*) */
  void (*make)(buf *b);
  int (*run)(const struct hcase *c); /* instead of make: does everything, returns an outcome */
} hcase;

/* Stream listeners: after a RegisterSelfMessage. */
static void hello(buf *b) {
  b_framestr(b, HELLO("/hostile/peer"));
}
static void m_trunc_prefix(buf *b) {
  b_add(b, "\x10\x00", 2);
}
static void m_len_2p31(buf *b) {
  b_le32(b, 0x80000000u);
  b_str(b, "{}");
}
static void m_len_2p31m1(buf *b) {
  b_le32(b, 0x7fffffffu);
  b_str(b, "{}");
}
static void m_len_neg1(buf *b) {
  b_le32(b, 0xffffffffu);
}
static void m_len_over(buf *b) {
  b_le32(b, 16u * 1024u * 1024u + 1u);
  b_str(b, "{\"class\":");
}
static void m_len_zero(buf *b) {
  hello(b);
  b_le32(b, 0);
}
static void m_trunc_frame(buf *b) {
  hello(b);
  b_le32(b, 100);
  b_str(b, "{\"class\":\"foam.box.Message\"");
}
static void m_bad_json(buf *b) {
  hello(b);
  b_framestr(b, "{\"class\":\"foam.box.Message\",");
}
static void m_bad_json_reply(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("add", "[1,2,]")));
}
static void m_bad_utf8(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("echo", "[\"\xff\xfe\xc3\"]")));
}
static void m_overlong_utf8(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("echo", "[\"\xc0\xaf\"]")));
}
static void m_surrogate_utf8(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("echo", "[\"\xed\xa0\x80\"]")));
}
static void m_nul_in_json(buf *b) {
  hello(b);
  const char j[] = "{\"class\":\"foam.box.Message\"\0}";
  b_frame(b, j, sizeof j - 1);
}
static void m_deep_arrays(buf *b) {
  hello(b);
  size_t n = 100000;
  char *j = malloc(2 * n);
  memset(j, '[', n);
  memset(j + n, ']', n);
  b_frame(b, j, 2 * n);
  free(j);
}
static void m_deep_objects(buf *b) {
  hello(b);
  buf j = {0};
  for (int i = 0; i < 100000; i++)
    b_str(&j, "{\"a\":");
  b_str(&j, "1");
  for (int i = 0; i < 100000; i++)
    b_str(&j, "}");
  b_frame(b, j.p, j.n);
  free(j.p);
}
static void m_deep_args(buf *b) {
  hello(b);
  buf j = {0};
  b_str(&j, CALL(REPLY_BOX("r1"), "calc",
                 "{\"class\":\"foam.box.RPCMessage\",\"name\":\"echo\",\"args\":["));
  for (int i = 0; i < 100000; i++)
    b_str(&j, "[");
  for (int i = 0; i < 100000; i++)
    b_str(&j, "]");
  b_str(&j, "]}}}");
  b_frame(b, j.p, j.n);
  free(j.p);
}
static void m_deep_submsg(buf *b) {
  hello(b);
  buf j = {0};
  b_str(&j, "{\"class\":\"foam.box.Message\",\"attributes\":" REPLY_BOX("r1") ",\"object\":");
  for (int i = 0; i < 5000; i++)
    b_str(&j, "{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"calc\",\"object\":");
  b_str(&j, RPC("add", "[1,2]"));
  for (int i = 0; i < 5000; i++)
    b_str(&j, "}");
  b_str(&j, "}");
  b_frame(b, j.p, j.n);
  free(j.p);
}
static void m_top_number(buf *b) {
  hello(b);
  b_framestr(b, "42");
}
static void m_top_array(buf *b) {
  hello(b);
  b_framestr(b, "[1,2,3]");
}
static void m_no_class(buf *b) {
  hello(b);
  b_framestr(b, "{\"object\":{}}");
}
static void m_unknown_class(buf *b) {
  hello(b);
  b_framestr(b, "{\"class\":\"evil.Payload\",\"x\":1}");
}
static void m_unknown_payload(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", "{\"class\":\"evil.Payload\"}"));
}
static void m_unknown_arg_class(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("echo", "[{\"class\":\"evil.Thing\"}]")));
}
static void m_no_service(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "nosuch", RPC("add", "[1,2]")));
}
static void m_no_method(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("nosuchMethod", "[1,2]")));
}
static void m_bad_args(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("add", "[\"x\",{}]")));
}
static void m_args_not_array(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("add", "{\"a\":1}")));
}
static void m_rpc_no_name(buf *b) {
  hello(b);
  b_framestr(b,
             CALL(REPLY_BOX("r1"), "calc", "{\"class\":\"foam.box.RPCMessage\",\"args\":[1,2]}"));
}
static void m_reply_named_nothing(buf *b) {
  hello(b);
  b_framestr(b, CALL("{\"replyBox\":{\"class\":\"foam.box.NamedBox\",\"name\":\"/nothing/here\"}}",
                     "calc", RPC("add", "[1,2]")));
}
static void m_reply_bad_class(buf *b) {
  hello(b);
  b_framestr(b, CALL("{\"replyBox\":{\"class\":\"evil.Box\"}}", "calc", RPC("add", "[1,2]")));
}
static void m_reply_string(buf *b) {
  hello(b);
  b_framestr(b, CALL("{\"replyBox\":\"nowhere\"}", "calc", RPC("add", "[1,2]")));
}
static void m_reply_sub_no_name(buf *b) {
  hello(b);
  b_framestr(b, CALL("{\"replyBox\":{\"class\":\"foam.box.SubBox\",\"delegate\":{\"class\":"
                     "\"foam.box.ReturnBox\"}}}",
                     "calc", RPC("add", "[1,2]")));
}
static void m_reply_to_no_export(buf *b) {
  hello(b);
  b_framestr(b, "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":{\"class\":"
                "\"foam.box.SubBoxMessage\",\"name\":\"export-that-never-was\",\"object\":{"
                "\"class\":\"foam.box.RPCReturnMessage\",\"data\":1}}}");
}
static void m_huge_number(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("add", "[1e999,-1e999]")));
}
static void m_dup_keys(buf *b) {
  hello(b);
  b_framestr(b, "{\"class\":\"foam.box.Message\",\"class\":\"evil.X\",\"object\":{}}");
}
static void m_long_key(buf *b) {
  hello(b);
  buf j = {0};
  b_str(&j, "{\"class\":\"foam.box.Message\",\"");
  for (int i = 0; i < 200000; i++)
    b_str(&j, "k");
  b_str(&j, "\":1}");
  b_frame(b, j.p, j.n);
  free(j.p);
}
static void m_many_keys(buf *b) {
  hello(b);
  buf j = {0};
  b_str(&j, CALL(REPLY_BOX("r1"), "calc",
                 "{\"class\":\"foam.box.RPCMessage\",\"name\":\"echo\",\"args\":[{"));
  for (int i = 0; i < 50000; i++)
    b_fmt(&j, "%s\"k%d\":%d", i ? "," : "", i, i);
  b_str(&j, "}]}}}");
  b_frame(b, j.p, j.n);
  free(j.p);
}
static void m_escape_nul(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("echo", "[\"a\\u0000b\"]")));
}
static void m_bad_escape(buf *b) {
  hello(b);
  b_framestr(b, CALL(REPLY_BOX("r1"), "calc", RPC("echo", "[\"\\ud800\\x\"]")));
}
static void m_big_valid(buf *b) {
  hello(b);
  buf j = {0};
  b_str(&j, CALL(REPLY_BOX("r1"), "calc",
                 "{\"class\":\"foam.box.RPCMessage\",\"name\":\"echo\",\"args\":[\""));
  for (int i = 0; i < 4 * 1024 * 1024; i += 64)
    b_str(&j, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  b_str(&j, "\"]}}}");
  b_frame(b, j.p, j.n);
  free(j.p);
}
static void m_hello_bad_path(buf *b) {
  b_framestr(b, HELLO(""));
  b_framestr(b, CALL(REPLY_BOX("r1"), "nosuch", RPC("add", "[1,2]")));
}
static void m_hello_own_name(buf *b) {
  b_framestr(b, HELLO("/bxd"));
  b_framestr(b, CALL(REPLY_BOX("r1"), "nosuch", RPC("add", "[1,2]")));
}
static void m_hello_not_string(buf *b) {
  b_framestr(b, "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":42}");
}
static void m_register_taken(buf *b) {
  hello(b);
  b_framestr(b,
             DIRECT(REPLY_BOX("r1"),
                    "{\"class\":\"foam.box.RPCMessage\",\"name\":\"register\",\"args\":[\"calc\","
                    "null,{\"class\":\"foam.box.SubBox\",\"name\":\"x\",\"delegate\":{\"class\":"
                    "\"foam.box.ReturnBox\"}}]}"));
}
static void m_unregister_other(buf *b) {
  hello(b);
  b_framestr(
      b, DIRECT(REPLY_BOX("r1"),
                "{\"class\":\"foam.box.RPCMessage\",\"name\":\"unregister\",\"args\":[\"calc\"]}"));
}
static void m_registry_bad(buf *b) {
  hello(b);
  b_framestr(b, DIRECT(REPLY_BOX("r1"), RPC("register", "[null,null,null]")));
}
static void m_flood_calls(buf *b) {
  hello(b);
  for (int i = 0; i < 20000; i++)
    b_framestr(b, CALL(REPLY_BOX("f"), "calc", RPC("add", "[1,2]")));
}
static void m_flood_exports(buf *b) {
  hello(b);
  for (int i = 0; i < 3000; i++) { /* calc.countdown(box, 2): a callback box to export each */
    char j[512];
    snprintf(j, sizeof j,
             CALL(REPLY_BOX("e%d"), "calc",
                  "{\"class\":\"foam.box.RPCMessage\",\"name\":\"countdown\",\"args\":[{\"class\":"
                  "\"foam.box.SubBox\",\"name\":\"cb%d\",\"delegate\":{\"class\":\"foam.box."
                  "ReturnBox\"}},2]}"),
             i, i);
    b_framestr(b, j);
  }
}
static void m_many_small_garbage(buf *b) {
  hello(b);
  for (int i = 0; i < 5000; i++)
    b_framestr(b, "{");
}
static void m_binary_garbage(buf *b) {
  for (int i = 0; i < 4096; i++) {
    unsigned char c = (unsigned char)(i * 131 + 7);
    b_add(b, &c, 1);
  }
}
static void m_http_on_stream(buf *b) {
  b_str(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

/* msgbox: the 8-byte big-endian header (type, reply id, length). */
static void mb_header(buf *b, uint16_t type, uint16_t id, uint32_t len) {
  unsigned char h[8] = {type >> 8, type & 0xff,        id >> 8,           id & 0xff,
                        len >> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff};
  b_add(b, h, 8);
}
static void mb_hello(buf *b) {
  const char *j = HELLO("/hostile/mb");
  mb_header(b, 0, 0, (uint32_t)strlen(j));
  b_str(b, j);
}
static void m_mb_huge(buf *b) {
  mb_header(b, 0, 0, 0xffffffffu);
}
static void m_mb_trunc_header(buf *b) {
  b_add(b, "\x00\x00\x00", 3);
}
static void m_mb_bad_type(buf *b) {
  mb_hello(b);
  mb_header(b, 77, 0, 2);
  b_str(b, "{}");
}
static void m_mb_bad_json(buf *b) {
  mb_hello(b);
  const char *j = CALL(REPLY_BOX("r1"), "calc", RPC("add", "[1,2,"));
  mb_header(b, 0, 0, (uint32_t)strlen(j));
  b_str(b, j);
}
static void m_mb_request_no_id(buf *b) {
  mb_hello(b);
  mb_header(b, 1, 0, 2);
  b_str(b, "{}");
}
static void m_mb_reply_unknown(buf *b) {
  mb_hello(b);
  mb_header(b, 2, 4242, 2);
  b_str(b, "{}");
}
static void m_mb_over_limit(buf *b) {
  mb_hello(b);
  mb_header(b, 0, 0, 16u * 1024u * 1024u + 1u);
  b_str(b, "{\"class\":");
}

/* WebSocket: a valid upgrade, then frames (client frames masked unless said). */
static void ws_upgrade(buf *b, const char *version) {
  b_fmt(b,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: %s\r\n\r\n",
        version);
}
static void ws_frame(buf *b, int b0, const void *payload, uint64_t n, bool mask,
                     uint64_t declared) {
  unsigned char h[14];
  size_t hn = 0;
  h[hn++] = (unsigned char)b0;
  unsigned char m = mask ? 0x80 : 0;
  if (declared < 126)
    h[hn++] = m | (unsigned char)declared;
  else if (declared < 65536) {
    h[hn++] = m | 126;
    h[hn++] = (unsigned char)(declared >> 8);
    h[hn++] = (unsigned char)declared;
  } else {
    h[hn++] = m | 127;
    for (int i = 7; i >= 0; i--)
      h[hn++] = (unsigned char)(declared >> (8 * i));
  }
  b_add(b, h, hn);
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) b_add(b, key, 4);
  for (uint64_t i = 0; i < n; i++) {
    unsigned char c = ((const unsigned char *)payload)[i] ^ (mask ? key[i % 4] : 0);
    b_add(b, &c, 1);
  }
}
static void ws_text(buf *b, const char *s) {
  ws_frame(b, 0x81, s, strlen(s), true, strlen(s));
}
static const char ws_call[] = CALL(REPLY_BOX("w1"), "calc", RPC("add", "[1,2]"));

static void m_ws_version8(buf *b) {
  ws_upgrade(b, "8");
}
static void m_ws_no_key(buf *b) {
  b_str(b, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n");
}
static void m_ws_garbage(buf *b) {
  b_str(b, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n");
}
static void m_ws_huge_header(buf *b) {
  b_str(b, "GET / HTTP/1.1\r\nX-Big: ");
  for (int i = 0; i < 100000; i++)
    b_str(b, "a");
  b_str(b, "\r\n\r\n");
}
static void m_ws_bad_opcode(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x83, "abc", 3, true, 3);
}
static void m_ws_rsv(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0xf1, "abc", 3, true, 3);
}
static void m_ws_long_ping(buf *b) {
  ws_upgrade(b, "13");
  char p[200];
  memset(p, 'p', sizeof p);
  ws_frame(b, 0x89, p, sizeof p, true, sizeof p);
}
static void m_ws_frag_ping(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x09, "p", 1, true, 1);
}
static void m_ws_cont_first(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x80, "abc", 3, true, 3);
}
static void m_ws_new_msg_in_frag(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x01, "{\"a\"", 4, true, 4);
  ws_frame(b, 0x81, "{}", 2, true, 2);
}
static void m_ws_bad_utf8(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x81, "\"\xff\xfe\"", 4, true, 4);
}
static void m_ws_len_2p63(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x82, "", 0, true, (1ull << 63) - 1);
}
static void m_ws_len_over(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x82, "xxxx", 4, true, 17u * 1024u * 1024u);
}
static void m_ws_close_then_call(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x88, "\x03\xe8", 2, true, 2);
  ws_text(b, ws_call);
}
static void m_ws_close_bad_code(buf *b) {
  ws_upgrade(b, "13");
  ws_frame(b, 0x88, "\x00\x01", 2, true, 2);
}
static void m_ws_bad_json(buf *b) {
  ws_upgrade(b, "13");
  ws_text(b, CALL(REPLY_BOX("w1"), "calc", RPC("add", "[1,2")));
}
static void m_ws_unknown_class(buf *b) {
  ws_upgrade(b, "13");
  ws_text(b, CALL(REPLY_BOX("w1"), "calc", "{\"class\":\"evil.Payload\"}"));
}
static void m_ws_register_self(buf *b) { /* WebSocket peers have no RegisterSelfMessage */
  ws_upgrade(b, "13");
  ws_text(b, HELLO("/hostile/probe"));
  ws_text(b, CALL(REPLY_BOX("w1"), "nosuch", RPC("add", "[1,2]")));
}

/* ---- cases that need more than one write -------------------------------------------------------
 */

static int r_slowloris(const hcase *c) {
  int fd = dial(c->which);
  buf b = {0};
  if (c->which == L_WS)
    b_str(&b, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
  else
    b_framestr(&b, CALL(REPLY_BOX("s1"), "calc", RPC("add", "[1,2]")));
  bool others_served = true;
  for (size_t i = 0; i < b.n && i < 120; i++) { /* a byte every 20 ms, a normal call midway */
    send(fd, b.p + i, 1, MSG_NOSIGNAL);
    usleep(20000);
    if (i == 60) others_served = normal_call();
  }
  free(b.p);
  int got = outcome(fd, 300, c->which);
  close(fd);
  /* The slow peer costs only itself: others were served meanwhile; it was not answered yet. */
  return others_served ? (got | E_LOG) : 0;
}

static int r_half_open(const hcase *c) {
  enum { N = 500 };
  static int fds[N];
  int n = 0;
  for (int i = 0; i < N; i++) {
    fds[i] = dial(c->which);
    if (fds[i] < 0) break;
    n++;
    if (i % 3 == 0) send(fds[i], "\x05", 1, MSG_NOSIGNAL); /* some mid-prefix */
  }
  bool served = normal_call(); /* with 500 connections open and silent */
  for (int i = 0; i < n; i++)
    close(fds[i]);
  return served && n > 0 ? E_LOG : 0;
}

static int r_reset(const hcase *c) {
  int fd = dial(c->which);
  buf b = {0};
  hello(&b);
  b_le32(&b, 1000);
  b_str(&b, "{\"class\":");
  send_all(fd, &b, 1000);
  free(b.p);
  struct linger lg = {1, 0}; /* close with RST, mid-frame */
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
  return E_CLOSE;
}

/* Another connection announces the name a live one holds: the holder keeps its replies. */
static int r_name_takeover(const hcase *c) {
  int victim = dial(L_UNIX);
  buf b = {0};
  b_framestr(&b, HELLO("/hostile/victim"));
  send_all(victim, &b, 1000);
  usleep(100000);
  int thief = dial(c->which);
  buf t = {0};
  if (c->which == L_MSGBOX) {
    const char *j = HELLO("/hostile/victim");
    mb_header(&t, 0, 0, (uint32_t)strlen(j));
    b_str(&t, j);
  } else {
    b_framestr(&t, HELLO("/hostile/victim"));
  }
  send_all(thief, &t, 1000);
  usleep(100000);
  /* A reply addressed to NamedBox("/hostile/victim") must still reach the victim. */
  b.n = 0;
  b_framestr(&b,
             CALL("{\"replyBox\":{\"class\":\"foam.box.NamedBox\",\"name\":\"/hostile/victim\"}}",
                  "calc", RPC("add", "[40,2]")));
  send_all(victim, &b, 1000);
  free(b.p);
  free(t.p);
  char acc[4096];
  size_t n = 0;
  bool victim_got = false;
  long end = now_ms() + 3000;
  while (!victim_got && now_ms() < end) {
    struct pollfd p = {.fd = victim, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t r = recv(victim, acc + n, sizeof acc - n - 1, 0);
    if (r <= 0) break;
    n += (size_t)r;
    victim_got = memmem(acc, n, "42", 2) != NULL;
  }
  close(thief);
  close(victim);
  return victim_got ? E_LOG : 0;
}

/* ---- the table --------------------------------------------------------------------------------
 */

static const hcase cases[] = {
    /* framing, over Unix and TCP */
    {"unix: truncated length prefix", L_UNIX, E_ANY, m_trunc_prefix, NULL},
    {"unix: length prefix 2^31", L_UNIX, E_CLOSE, m_len_2p31, NULL},
    {"unix: length prefix 2^31-1", L_UNIX, E_CLOSE, m_len_2p31m1, NULL},
    {"unix: length prefix -1", L_UNIX, E_CLOSE, m_len_neg1, NULL},
    {"unix: length over max_frame", L_UNIX, E_CLOSE, m_len_over, NULL},
    {"unix: zero-length frame", L_UNIX, E_ANY, m_len_zero, NULL},
    {"unix: truncated frame", L_UNIX, E_ANY, m_trunc_frame, NULL},
    {"tcp: length prefix 2^31", L_TCP, E_CLOSE, m_len_2p31, NULL},
    {"tcp: length prefix -1", L_TCP, E_CLOSE, m_len_neg1, NULL},
    {"tcp: truncated frame", L_TCP, E_ANY, m_trunc_frame, NULL},
    {"tcp: binary garbage", L_TCP, E_ANY, m_binary_garbage, NULL},
    {"tcp: an HTTP request on a stream socket", L_TCP, E_ANY, m_http_on_stream, NULL},
    {"unix: reset mid-frame", L_UNIX, E_CLOSE, NULL, r_reset},
    /* content */
    {"unix: invalid JSON, no reply box", L_UNIX, E_LOG, m_bad_json, NULL},
    {"unix: invalid JSON, reply box readable", L_UNIX, E_ANY, m_bad_json_reply, NULL},
    {"unix: invalid UTF-8", L_UNIX, E_ANY, m_bad_utf8, NULL},
    {"unix: overlong UTF-8", L_UNIX, E_ANY, m_overlong_utf8, NULL},
    {"unix: UTF-8 surrogate", L_UNIX, E_ANY, m_surrogate_utf8, NULL},
    {"unix: NUL byte in the JSON", L_UNIX, E_ANY, m_nul_in_json, NULL},
    {"unix: arrays nested 100000 deep", L_UNIX, E_ANY, m_deep_arrays, NULL},
    {"unix: objects nested 100000 deep", L_UNIX, E_ANY, m_deep_objects, NULL},
    {"unix: an argument nested 100000 deep", L_UNIX, E_ANY, m_deep_args, NULL},
    {"unix: SubBoxMessages nested 5000 deep", L_UNIX, E_ANY, m_deep_submsg, NULL},
    {"unix: a number at the top level", L_UNIX, E_ANY, m_top_number, NULL},
    {"unix: an array at the top level", L_UNIX, E_ANY, m_top_array, NULL},
    {"unix: an object without a class", L_UNIX, E_ANY, m_no_class, NULL},
    {"unix: an unknown top-level class", L_UNIX, E_ANY, m_unknown_class, NULL},
    {"unix: an unknown payload class", L_UNIX, E_ERROR, m_unknown_payload, NULL},
    {"unix: an unknown class inside the arguments", L_UNIX, E_ANY, m_unknown_arg_class, NULL},
    {"unix: a service that does not exist", L_UNIX, E_ERROR, m_no_service, NULL},
    {"unix: a method that does not exist", L_UNIX, E_ERROR, m_no_method, NULL},
    {"unix: arguments of the wrong types", L_UNIX, E_ERROR, m_bad_args, NULL},
    {"unix: arguments not an array", L_UNIX, E_ANY, m_args_not_array, NULL},
    {"unix: an RPCMessage without a name", L_UNIX, E_ANY, m_rpc_no_name, NULL},
    {"unix: a reply box naming nothing", L_UNIX, E_ANY, m_reply_named_nothing, NULL},
    {"unix: a reply box of an unknown class", L_UNIX, E_ANY, m_reply_bad_class, NULL},
    {"unix: a reply box that is a string", L_UNIX, E_ANY, m_reply_string, NULL},
    {"unix: a SubBox reply box without a name", L_UNIX, E_ANY, m_reply_sub_no_name, NULL},
    {"unix: a reply to an export that never was", L_UNIX, E_ANY, m_reply_to_no_export, NULL},
    {"unix: numbers out of range (1e999)", L_UNIX, E_ANY, m_huge_number, NULL},
    {"unix: duplicate keys", L_UNIX, E_ANY, m_dup_keys, NULL},
    {"unix: a key of 200000 bytes", L_UNIX, E_ANY, m_long_key, NULL},
    {"unix: an object of 50000 keys", L_UNIX, E_ANY, m_many_keys, NULL},
    {"unix: an escaped NUL in a string", L_UNIX, E_ANY, m_escape_nul, NULL},
    {"unix: a bad escape and a lone surrogate", L_UNIX, E_ANY, m_bad_escape, NULL},
    {"unix: a valid 4 MiB call", L_UNIX, E_ANY, m_big_valid, NULL},
    {"unix: 5000 frames of garbage", L_UNIX, E_ANY, m_many_small_garbage, NULL},
    /* names and the registry */
    {"unix: RegisterSelf with an empty path", L_UNIX, E_ANY, m_hello_bad_path, NULL},
    {"unix: RegisterSelf with the hub's own name", L_UNIX, E_ANY, m_hello_own_name, NULL},
    {"unix: RegisterSelf with a name that is not a string", L_UNIX, E_ANY, m_hello_not_string,
     NULL},
    {"tcp: RegisterSelf of a live Unix peer's name", L_TCP, E_ANY, NULL, r_name_takeover},
    {"msgbox: RegisterSelf of a live Unix peer's name", L_MSGBOX, E_ANY, NULL, r_name_takeover},
    {"tcp: register over a name another connection holds", L_TCP, E_ERROR, m_register_taken, NULL},
    {"unix: unregister another connection's name", L_UNIX, E_ERROR, m_unregister_other, NULL},
    {"unix: register with null arguments", L_UNIX, E_ERROR, m_registry_bad, NULL},
    /* floods and slow peers */
    {"unix: 20000 calls, replies never read", L_UNIX, E_ANY, m_flood_calls, NULL},
    {"tcp: 20000 calls, replies never read", L_TCP, E_ANY, m_flood_calls, NULL},
    {"unix: 3000 calls each exporting a callback", L_UNIX, E_ANY, m_flood_exports, NULL},
    {"unix: slowloris (a byte every 20 ms)", L_UNIX, E_ANY, NULL, r_slowloris},
    {"ws: slowloris handshake", L_WS, E_ANY, NULL, r_slowloris},
    {"unix: 500 half-open connections", L_UNIX, E_ANY, NULL, r_half_open},
    {"tcp: 500 half-open connections", L_TCP, E_ANY, NULL, r_half_open},
    {"ws: 500 half-open connections", L_WS, E_ANY, NULL, r_half_open},
    /* msgbox */
    {"msgbox: a length of 2^32-1", L_MSGBOX, E_CLOSE, m_mb_huge, NULL},
    {"msgbox: a truncated header", L_MSGBOX, E_ANY, m_mb_trunc_header, NULL},
    {"msgbox: an unknown type", L_MSGBOX, E_ANY, m_mb_bad_type, NULL},
    {"msgbox: invalid JSON", L_MSGBOX, E_ANY, m_mb_bad_json, NULL},
    {"msgbox: a request without an id", L_MSGBOX, E_ANY, m_mb_request_no_id, NULL},
    {"msgbox: a reply to no request", L_MSGBOX, E_ANY, m_mb_reply_unknown, NULL},
    {"msgbox: a frame over the limit", L_MSGBOX, E_CLOSE, m_mb_over_limit, NULL},
    /* RFC 6455 */
    {"ws: Sec-WebSocket-Version 8", L_WS, E_ANY, m_ws_version8, NULL},
    {"ws: no Sec-WebSocket-Key", L_WS, E_ANY, m_ws_no_key, NULL},
    {"ws: TLS bytes on a plain listener", L_WS, E_ANY, m_ws_garbage, NULL},
    {"ws: a header of 100000 bytes", L_WS, E_ANY, m_ws_huge_header, NULL},
    {"ws: a reserved opcode", L_WS, E_ERROR | E_CLOSE, m_ws_bad_opcode, NULL},
    {"ws: RSV bits without an extension", L_WS, E_ERROR | E_CLOSE, m_ws_rsv, NULL},
    {"ws: a control frame over 125 bytes", L_WS, E_ERROR | E_CLOSE, m_ws_long_ping, NULL},
    {"ws: a fragmented control frame", L_WS, E_ERROR | E_CLOSE, m_ws_frag_ping, NULL},
    {"ws: a continuation with nothing to continue", L_WS, E_ANY, m_ws_cont_first, NULL},
    {"ws: a new message inside a fragmented one", L_WS, E_ANY, m_ws_new_msg_in_frag, NULL},
    {"ws: invalid UTF-8 in a text frame", L_WS, E_ERROR | E_CLOSE, m_ws_bad_utf8, NULL},
    {"ws: a declared length of 2^63-1", L_WS, E_ERROR | E_CLOSE, m_ws_len_2p63, NULL},
    {"ws: a declared length over max_frame", L_WS, E_ERROR | E_CLOSE, m_ws_len_over, NULL},
    {"ws: a call after the close frame", L_WS, E_ERROR | E_CLOSE, m_ws_close_then_call, NULL},
    {"ws: a close frame with an invalid code", L_WS, E_ERROR | E_CLOSE, m_ws_close_bad_code, NULL},
    {"ws: invalid JSON in a message", L_WS, E_ANY, m_ws_bad_json, NULL},
    {"ws: an unknown payload class", L_WS, E_ERROR, m_ws_unknown_class, NULL},
    {"ws: a RegisterSelfMessage", L_WS, E_ANY, m_ws_register_self, NULL},
};

static bool wait_fds(int base) {
  long end = now_ms() + 5000;
  int n = count_fds();
  while (n > base && now_ms() < end) {
    usleep(50000);
    n = count_fds();
  }
  return n >= 0 && n <= base;
}

static void run_case(const hcase *c) {
  int base_fds = count_fds();
  long log0 = log_size();
  int got;
  if (c->run) {
    got = c->run(c);
  } else {
    buf b = {0};
    c->make(&b);
    int fd = dial(c->which);
    if (fd < 0) {
      printf("FAILED %s: could not connect\n", c->name);
      g.failed++;
      free(b.p);
      return;
    }
    send_all(fd, &b, 3000);
    free(b.p);
    got = outcome(fd, 1500, c->which); /* an answer, or a close */
    if ((got & E_CLOSE) == 0) {        /* then our end of input: it must not hang there */
      shutdown(fd, SHUT_WR);
      got |= outcome(fd, 500, c->which);
    }
    close(fd);
  }
  usleep(50000);
  if (log_size() > log0) got |= E_LOG;
  bool answered = (got & c->expect) != 0;
  bool alive = kill(g.pid, 0) == 0;
  bool served = alive && normal_call();
  bool fds = alive && wait_fds(base_fds);
  long rss = rss_kb();
  bool mem = rss >= 0 && rss <= g.rss_base_kb + g.rss_mb * 1024;
  bool ok = answered && alive && served && fds && mem;
  printf("%s %s: %s%s%s%s%s (fds %d -> %d, rss %ld kB)\n", ok ? "ok:" : "FAILED:", c->name,
         got & E_CLOSE ? "closed " : "", got & E_ERROR ? "error " : "",
         got & E_LOG ? "logged " : "", got & E_REPLY ? "answered " : "",
         served ? "| served a call" : "| NO CALL SERVED", base_fds, count_fds(), rss);
  fflush(stdout);
  if (ok)
    g.passed++;
  else
    g.failed++;
}

static int parse_in(const char *s, struct sockaddr_in *a) {
  char host[64];
  const char *colon = strrchr(s, ':');
  if (colon == NULL || (size_t)(colon - s) >= sizeof host) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)atoi(colon + 1));
  return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *tcp = NULL, *ws = NULL, *mb = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (strcmp(a, "--pid") == 0)
      g.pid = (pid_t)atol(v);
    else if (strcmp(a, "--log") == 0)
      g.log = v;
    else if (strcmp(a, "--unix") == 0)
      g.unix_path = v;
    else if (strcmp(a, "--tcp") == 0)
      tcp = v;
    else if (strcmp(a, "--ws") == 0)
      ws = v;
    else if (strcmp(a, "--msgbox") == 0)
      mb = v;
    else if (strcmp(a, "--rss-mb") == 0)
      g.rss_mb = atol(v);
    else if (strcmp(a, "--only") == 0)
      g.only = v;
  }
  if (g.pid <= 0 || !g.log || !g.unix_path || !tcp || !ws || !mb || parse_in(tcp, &g.tcp) ||
      parse_in(ws, &g.ws) || parse_in(mb, &g.msgbox)) {
    fprintf(stderr, "usage: bx_hostile --pid PID --log FILE --unix PATH --tcp H:P --ws H:P "
                    "--msgbox H:P [--rss-mb N] [--only TEXT]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (!normal_call()) {
    fprintf(stderr, "bx_hostile: bxd does not serve calc.add before the first case\n");
    return 1;
  }
  g.rss_base_kb = rss_kb();
  size_t n = sizeof cases / sizeof cases[0];
  for (size_t i = 0; i < n; i++)
    if (g.only == NULL || strstr(cases[i].name, g.only)) run_case(&cases[i]);
  printf("hostile inputs: %zu cases, %d passed, %d failed; bxd rss %ld kB at the start, %ld kB "
         "at the end\n",
         g.only ? (size_t)(g.passed + g.failed) : n, g.passed, g.failed, g.rss_base_kb, rss_kb());
  return g.failed == 0 ? 0 : 1;
}
