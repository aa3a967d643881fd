/* libFuzzer target for the stream framer and the message core's input path: arbitrary bytes
 * arrive on an accepted peer of a stream transport, cut into reads at arbitrary points, the way
 * a socket's reads come (bx__conn_read_space, then bx__conn_read_done).
 *
 * Input: the first byte picks how the rest is cut into reads (0: one read; n: reads of 1..n
 * bytes from a generator seeded with n); the rest is the byte stream, length-prefixed JSON
 * frames (spec/foam section 4) or anything else.
 *
 * Checked for every input, against a reference reading of the same bytes (fz_expect):
 * - every complete frame before the first bad length (negative, or over the peer's frame cap)
 *   is dispatched, whatever the cuts: the bytes dispatched (bx_transport_stats.bytes_in) are
 *   exactly those frames' bytes;
 * - a bad length closes the peer, and nothing else does;
 * - no single allocation while reading is larger than the frame cap allows (the input buffer
 *   grows to one frame and a read chunk, doubled): a length prefix of 2^31 - 1 allocates
 *   nothing for it. Seen through the sanitizer's malloc hook (fuzzing, ASan builds); a plain
 *   build replays without this check;
 * - no crash or leak, and the peer's close completes on the loop.
 *
 * The transport is a stand-in registered as fuzzstream://: the framework's real prefix framer
 * and message core, with a listener that accepts nothing by itself and writes that go nowhere.
 *
 * Built by tests/fuzz/CMakeLists.txt: a libFuzzer program with `make fuzz` (clang), else a
 * replay of corpus/stream/ (tests/fuzz/stream_corpus.py made it) as an ordinary test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "fuzz_alloc_watch.h"

#define FZ_MAX_FRAME 8192u
#define FZ_READ_CHUNK (64u * 1024u) /* peer.c's CN_READ_CHUNK */
/* The input buffer holds at most one frame and a read chunk; doubling may overshoot by 2. */
#define FZ_MAX_ALLOC (2u * (4u + FZ_MAX_FRAME + FZ_READ_CHUNK))

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;
static bx_listener *fz_listener;

/* ---- the stand-in transport --------------------------------------------------------------- */

static int fzt_listen(bx_listener *l, const char *addr, const bx_listen_opts *opts) {
  (void)addr;
  (void)opts;
  fz_listener = l;
  return 0;
}

static void fzt_listener_closed_task(void *a, void *b) {
  (void)b;
  bx__listener_closed(a);
}

static void fzt_listen_close(bx_listener *l) {
  if (bx__defer(l->ctx, fzt_listener_closed_task, l, NULL) != 0) bx__listener_closed(l);
}

static int fzt_dial(bx__conn *c, const char *addr) {
  (void)c;
  (void)addr;
  return BX_ENOTSUP;
}

static int fzt_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  (void)k;
  (void)c;
  (void)buf;
  (void)len;
  return BX__WRITTEN; /* replies go nowhere, at once */
}

static void fzt_link_closed_task(void *a, void *b) {
  (void)b;
  bx__link_closed(a);
}

static void fzt_link_close(bx__link *k) {
  if (bx__defer(bx__link_ctx(k), fzt_link_closed_task, k, NULL) != 0) bx__link_closed(k);
}

static const bx__tran fz_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "fuzzstream",
    .framer = &bx__framer_prefix,
    .listen = fzt_listen,
    .listen_close = fzt_listen_close,
    .dial = fzt_dial,
    .write = fzt_write,
    .link_close = fzt_link_close,
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (bx__tran_register(&fz_tran) != 0) abort();
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.log_level = BX_LOG_ERROR;
  if (uv_loop_init(&fz_loop) != 0 || bx_ctx_new(&fz_loop, &opts, &fz_ctx) != 0) abort();
  bx_listen_opts lo;
  memset(&lo, 0, sizeof lo);
  bx_transport_limits_init(&lo.limits);
  lo.limits.max_frame = FZ_MAX_FRAME;
  if (bx_listen(fz_ctx, "fuzzstream://fuzz", &lo, &fz_listener) != 0) abort();
  if (fz_listener->limits.max_frame != FZ_MAX_FRAME) abort();
  fz_watch_install();
  return 0;
}

/* ---- the reference reading ---------------------------------------------------------------- */

typedef struct fz_expect {
  size_t bytes; /* JSON bytes of the complete frames before a bad length */
  bool bad;     /* a complete length prefix says a negative length or one over the cap */
} fz_expect;

static fz_expect fz_read_reference(const uint8_t *p, size_t n) {
  fz_expect e = {0, false};
  size_t at = 0;
  while (n - at >= 4) {
    int32_t len = (int32_t)((uint32_t)p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16 |
                            (uint32_t)p[at + 3] << 24);
    if (len < 0 || (uint32_t)len > FZ_MAX_FRAME) {
      e.bad = true;
      break;
    }
    if (n - at - 4 < (size_t)len) break; /* an incomplete frame: it waits for more */
    e.bytes += (size_t)len;
    at += 4 + (size_t)len;
  }
  return e;
}

/* ---- feeding a peer ----------------------------------------------------------------------- */

/* The next read's size: all that is left (seed 0), or 1..seed bytes from a xorshift. */
static size_t fz_next_cut(uint32_t *state, unsigned seed, size_t left) {
  if (seed == 0) return left;
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  size_t n = 1 + *state % seed;
  return n < left ? n : left;
}

/* Gives the peer the bytes as a socket's reads would come, while it stays open. */
static void fz_feed(bx__conn *c, const uint8_t *p, size_t n, unsigned seed) {
  uint32_t state = 2463534242u ^ seed;
  size_t at = 0;
  while (at < n && bx__conn_is_open(c)) {
    size_t want = fz_next_cut(&state, seed, n - at);
    char *base;
    size_t room;
    bx__conn_read_space(c, want, &base, &room);
    if (base == NULL || room == 0) abort(); /* out of memory for one read chunk */
    size_t got = want < room ? want : room;
    memcpy(base, p + at, got);
    at += got;
    bx__conn_read_done(c, (ssize_t)got);
    uv_run(&fz_loop, UV_RUN_NOWAIT); /* replies are flushed between reads, as on a loop */
  }
}

/* Runs the loop until the context's run queue is empty (the peer's close has completed). */
static void fz_settle(void) {
  for (int i = 0; i < 1000; i++)
    if (uv_run(&fz_loop, UV_RUN_NOWAIT) == 0) return;
  fprintf(stderr, "the loop does not settle\n");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  unsigned seed = data[0];
  const uint8_t *stream = data + 1;
  size_t n = size - 1;
  fz_expect want = fz_read_reference(stream, n);

  bx_transport_stats before, after;
  bx_transport_stats_get(fz_ctx, &before);
  bx__link *k = bx__link_new(fz_listener->ts, &fz_tran, fz_listener, true);
  bx__conn *c = k ? bx__conn_accept(k) : NULL;
  if (c == NULL || bx__conn_opened(c) != 0) abort();
  bx_box *box = bx_box_ref(bx__conn_box(c)); /* c stays readable after it closes */

  fz_watch_begin();
  fz_feed(c, stream, n, seed);
  size_t largest = fz_watch_end();

  bx_transport_stats_get(fz_ctx, &after);
  size_t dispatched = (size_t)(after.bytes_in - before.bytes_in);
  if (dispatched != want.bytes) {
    fprintf(stderr, "dispatched %zu bytes of frames, the reference reads %zu (cuts seed %u)\n",
            dispatched, want.bytes, seed);
    abort();
  }
  if (bx__conn_is_open(c) == want.bad) {
    fprintf(stderr, "the peer is %s, the reference reads %s\n",
            bx__conn_is_open(c) ? "open" : "closed", want.bad ? "a bad length" : "none");
    abort();
  }
  if (largest > FZ_MAX_ALLOC) {
    fprintf(stderr, "an allocation of %zu bytes while reading (cap %u)\n", largest, FZ_MAX_ALLOC);
    abort();
  }
  bx__conn_close(c, BX_ECONNLOST);
  bx_box_unref(box);
  fz_settle();
  return 0;
}
