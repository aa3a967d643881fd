/* libFuzzer target for msgbox's input paths (transports/msgbox): arbitrary bytes go through the
 * stream reader (8-byte headers and payloads reassembled across reads of every size) and the
 * datagram reader (a UDP client, and a UDP listener with two remotes), by the internal ways in
 * (bx__mb_stream_input, bx__mb_udp_input) that run the code a real read runs. Each conn has a
 * real socket for what it sends (a socketpair, UDP sockets on 127.0.0.1 aimed at sinks this
 * program owns), so requests are answered and gets are pending when replies come in.
 *
 * Input: byte 0 chooses the options (bits 0-5: bytes per read, 0 all at once; bit 6: a
 * 16-byte max_message instead of the default; bit 7: heartbeats on), the rest is the wire. The
 * datagram paths cut it where each header says its frame ends (or at the end), so a valid stream
 * is a run of valid datagrams.
 *
 * Checked besides memory safety: no event after a conn's last one, no outcome of a get that is
 * not pending, every get ends in exactly one outcome, and every conn is freed at the end of the
 * input (LeakSanitizer sees the rest).
 *
 * Built by tests/fuzz/CMakeLists.txt: a libFuzzer program with `make fuzz` (clang), else a
 * replay of corpus/msgbox/ as an ordinary test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mb_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;
static struct sockaddr_storage fz_sink[2]; /* where the UDP conns send; never read */
static long fz_gets, fz_outcomes;          /* started, ended (REPLY or REPLY_MISSING) */
static unsigned fz_sum;                    /* payload bytes read, so every byte is touched */

/* A conn's context: whether its last event came, and whether it is freed yet. */
typedef struct fz_state {
  bool ended;
  bool *freed; /* set when the conn frees this context */
} fz_state;

static fz_state *fz_state_new(bool *freed) {
  fz_state *s = calloc(1, sizeof *s);
  if (s == NULL) abort();
  s->freed = freed;
  return s;
}

static void fz_state_free(void *p) {
  fz_state *s = p;
  if (s->freed) *s->freed = true;
  free(s);
}

static bool fz_is_last(bx_mb_event_type t) {
  return t == BX_MB_CONNECTION_SETUP_ERROR || t == BX_MB_LISTENING_ERROR ||
         t == BX_MB_LISTENING_ENDED || t == BX_MB_CONNECTION_CLOSED || t == BX_MB_CONNECTION_LOST;
}

static void fz_get(bx_mb_conn *c) {
  if (bx_mb_get(c, "get", 3, 60000, NULL) == 0) fz_gets++;
}

static void fz_event(const bx_mb_event *ev) {
  fz_state *s = ev->context;
  if (s->ended) abort(); /* an event after the last one */
  if (fz_is_last(ev->type)) s->ended = true;
  for (size_t i = 0; i < ev->len; i++)
    fz_sum += ((const unsigned char *)ev->data)[i];
  switch (ev->type) {
  case BX_MB_CONNECTION_READY: /* a new UDP remote: a context of its own and two gets */
    bx_mb_set_context(ev->conn, fz_state_new(NULL), fz_state_free);
    fz_get(ev->conn);
    fz_get(ev->conn);
    break;
  case BX_MB_REQUEST:
    bx_mb_reply_send(ev->reply, ev->data, ev->len);
    break;
  case BX_MB_REPLY:
  case BX_MB_REPLY_MISSING:
    if (++fz_outcomes > fz_gets) abort(); /* an outcome of no pending get */
    break;
  default:
    break;
  }
}

/* Runs the loop until the conn whose context was freed says so. */
static void fz_settle(bool *freed) {
  for (int i = 0; !*freed; i++) {
    if (i > 1000) abort(); /* a conn that never goes */
    uv_run(&fz_loop, UV_RUN_ONCE);
  }
}

static bx__mb_conn *fz_conn(bx_mb_protocol proto, const bx_mb_opts *opts, bool *freed) {
  bx__mb_conn *c = bx__mb_conn_new(fz_ctx, proto, opts, fz_event, NULL);
  if (c == NULL) abort();
  bx_mb_set_context(c, fz_state_new(freed), fz_state_free);
  return c;
}

/* Ends c (if the input did not) and waits until it is freed. */
static void fz_finish(bx__mb_conn *c, bx_mb_event_type type, bool *freed) {
  bx__mb_ref(c);
  bx__mb_end(c, type, BX_ECANCELED, NULL, true);
  bx__mb_unref(c);
  fz_settle(freed);
}

static void fz_stream(const uint8_t *wire, size_t len, size_t chunk, const bx_mb_opts *opts) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) abort();
  bool freed = false;
  bx__mb_conn *c = fz_conn(BX_MB_UNIX, opts, &freed);
  if (uv_pipe_init(&fz_loop, &c->h.pipe, 0) != 0 || uv_pipe_open(&c->h.pipe, fds[0]) != 0) abort();
  c->handle_inited = true;
  bx__mb_opened(c, true);
  for (int i = 0; i < 3; i++)
    fz_get(c); /* ids 1, 2, 3: the corpus's replies find them */
  bx__mb_ref(c);
  for (size_t off = 0; off < len && c->state == MB_OPEN; off += chunk)
    bx__mb_stream_input(c, (const char *)wire + off, len - off < chunk ? len - off : chunk);
  bx__mb_unref(c);
  close(fds[1]); /* what was sent is dropped; the orderly close meets EPIPE */
  fz_finish(c, BX_MB_CONNECTION_CLOSED, &freed);
}

/* The length of the datagram at p: as far as its header says, or all that is left. */
static size_t fz_cut(const uint8_t *p, size_t left) {
  if (left < MB_HEADER) return left;
  uint64_t n = MB_HEADER + ((uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | p[6] << 8 | p[7]);
  return n < left ? (size_t)n : left;
}

static void fz_datagrams(bx__mb_conn *c, const uint8_t *wire, size_t len) {
  bx__mb_ref(c);
  for (size_t off = 0, i = 0; off < len && c->state == MB_OPEN; i++) {
    size_t n = fz_cut(wire + off, len - off);
    bx__mb_udp_input(c, (const char *)wire + off, n, (const struct sockaddr *)&fz_sink[i & 1]);
    off += n;
  }
  bx__mb_unref(c);
}

static void fz_udp_client(const uint8_t *wire, size_t len, const bx_mb_opts *opts) {
  bool freed = false;
  bx__mb_conn *c = fz_conn(BX_MB_UDP, opts, &freed);
  if (bx__mb_udp_open(c, NULL, (const struct sockaddr *)&fz_sink[0]) != 0) abort();
  bx__mb_opened(c, true);
  for (int i = 0; i < 3; i++)
    fz_get(c);
  fz_datagrams(c, wire, len);
  fz_finish(c, BX_MB_CONNECTION_CLOSED, &freed);
}

static void fz_udp_listener(const uint8_t *wire, size_t len, const bx_mb_opts *opts) {
  bool freed = false;
  bx__mb_conn *l = fz_conn(BX_MB_UDP, opts, &freed);
  l->listener = true;
  if ((l->remotes = bx__map_new_borrowing()) == NULL) abort();
  struct sockaddr_in any;
  uv_ip4_addr("127.0.0.1", 0, &any);
  if (bx__mb_udp_open(l, (const struct sockaddr *)&any, NULL) != 0) abort();
  bx__mb_opened(l, true);
  fz_datagrams(l, wire, len);
  fz_finish(l, BX_MB_LISTENING_ENDED, &freed);
}

static void fz_log(void *data, int level, const char *line) {
  (void)data;
  (void)level;
  fz_sum += (unsigned char)line[0];
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.log_level = BX_LOG_DEBUG; /* every log line is formatted, and dropped */
  o.log = fz_log;
  if (uv_loop_init(&fz_loop) != 0 || bx_ctx_new(&fz_loop, &o, &fz_ctx) != 0) abort();
  bx__st_ignore_sigpipe();
  for (int i = 0; i < 2; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any;
    uv_ip4_addr("127.0.0.1", 0, &any);
    socklen_t sl = sizeof fz_sink[i];
    if (fd < 0 || bind(fd, (const struct sockaddr *)&any, sizeof any) != 0 ||
        getsockname(fd, (struct sockaddr *)&fz_sink[i], &sl) != 0)
      abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  unsigned how = data[0];
  bx_mb_opts opts;
  bx_mb_opts_init(&opts);
  if (how & 0x40) opts.max_message = 16;
  if (how & 0x80) opts.heartbeat_ms = 60000;
  size_t chunk = how & 0x3f ? how & 0x3f : size;
  fz_gets = fz_outcomes = 0;
  fz_stream(data + 1, size - 1, chunk, &opts);
  fz_udp_client(data + 1, size - 1, &opts);
  fz_udp_listener(data + 1, size - 1, &opts);
  if (fz_outcomes != fz_gets) abort(); /* a get that never ended */
  return 0;
}
