/* libFuzzer target for telehash channels (transports/telehash/th_channel_rt.c): arbitrary inner
 * packets (what a channel packet holds once its secretbox is open) go into the channel input
 * of an established link, the way bx__th_link_channel_in() hands them on after the crypto: a
 * LOB parse, then bx__th_chan_in(). The link is UP with a session (its keys are zeros: the
 * answers are sealed and sent all the same, to a socket this program owns and never reads).
 *
 * Before the input: the endpoint handles channel type "a" (accepted; its packets are echoed
 * while the channel is open, and an end is answered with an end) and type "f" (refused by
 * its handler, which does not keep it); every other type is unknown. We open one reliable
 * channel of type "x" and send 5 packets on it, so the peer's ack and miss meet packets
 * waiting to be acknowledged, and one unreliable channel of type "u".
 *
 * Input: byte 0 picks the link's order (bit 0: we are ODD, our channels 1, 3; else EVEN,
 * channels 2, 4) and whether our channels end at the end of the input (bit 1); the rest is
 * inner packets, each after a 2-byte big-endian length (a length past the end takes what is
 * left). The loop runs between packets, so acks and CLOSED events go out as they would.
 *
 * Checked besides memory safety: no event after a channel's CLOSED, exactly one CLOSED for
 * each channel (each channel's state is freed by it: LeakSanitizer sees a missing one), no
 * single allocation while a packet is read is larger than the packet plus a fixed amount
 * (with a sanitizer's allocation hook: libFuzzer builds), and the endpoint closes.
 *
 * Built by tests/fuzz/CMakeLists.txt: a libFuzzer program with `make fuzz` (clang), else a
 * replay of corpus/th_channel/ as an ordinary test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz_alloc_watch.h"
#include "th_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one packet may make the endpoint allocate at once: its own size (a copy of it, or of a
 * part) plus a fixed amount (a link is the largest fixed-size object), never a size read from
 * the packet. */
#define FZ_FIXED (sizeof(bx_th_link) + 1024)

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;
static bx_th_identity *fz_id;
static uint8_t fz_low[32], fz_high[32]; /* peer keys below and above ours: both orders */
static struct sockaddr_storage fz_sink;
static long fz_open; /* channels whose CLOSED has not come */
static unsigned fz_sum;

typedef struct fz_chan {
  bool closed;
} fz_chan;

static void fz_event(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  fz_chan *c = data;
  if (c->closed) abort(); /* an event after CLOSED */
  if (ev->type == BX_TH_CHAN_CLOSED) {
    c->closed = true;
    fz_open--;
    free(c);
    return;
  }
  for (size_t i = 0; i < ev->len; i++)
    fz_sum += ev->body[i];
  if (ev->head == NULL) abort();
  if (strcmp(bx_th_channel_type(ch), "a") == 0 && (ev->len > 0 || ev->end))
    (void)bx_th_channel_send(ch, NULL, ev->body, ev->len, ev->end); /* may be full or ended */
}

static fz_chan *fz_chan_new(void) {
  fz_chan *c = calloc(1, sizeof *c);
  if (c == NULL) abort();
  fz_open++;
  return c;
}

static void fz_accept(bx_th_channel *ch, const bx_th_chan_event *first, void *data) {
  (void)data;
  fz_chan *c = fz_chan_new();
  bx_th_channel_set_cb(ch, fz_event, c);
  fz_event(ch, first, c);
}

static void fz_refuse(bx_th_channel *ch, const bx_th_chan_event *first, void *data) {
  (void)ch, (void)first, (void)data; /* not kept: the endpoint ends it with "refused" */
}

static void fz_closed(bx_th_endpoint *ep, void *data) {
  (void)ep;
  *(bool *)data = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static const uint8_t secret[32] = {0x42, 0x42, 0x42};
  if (bx__th_sodium() != 0 || uv_loop_init(&fz_loop) != 0 ||
      bx_ctx_new(&fz_loop, NULL, &fz_ctx) != 0 || bx_th_identity_from_secret(secret, &fz_id))
    abort();
  const uint8_t *pk = bx_th_identity_public_key(fz_id);
  memcpy(fz_low, pk, 32);
  memcpy(fz_high, pk, 32);
  if (pk[0] == 0 || pk[0] == 0xff) abort(); /* the fixed key is neither */
  fz_low[0] = 0;
  fz_high[0] = 0xff;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in any;
  uv_ip4_addr("127.0.0.1", 0, &any);
  socklen_t sl = sizeof fz_sink;
  if (fd < 0 || bind(fd, (const struct sockaddr *)&any, sizeof any) != 0 ||
      getsockname(fd, (struct sockaddr *)&fz_sink, &sl) != 0)
    abort();
  fz_watch_install();
  return 0;
}

/* A link to a peer of key that is UP, as after a handshake in each direction. */
static bx_th_link *fz_link(bx_th_endpoint *ep, const uint8_t key[32]) {
  bx_th_link *k = NULL;
  if (bx__th_link_make(ep, key, &k) != 0) abort();
  k->dialed = true;
  k->session = true;
  k->synced = k->up = k->ever_up = true;
  k->in_at = k->out_at;
  memset(k->token_out, 0x77, sizeof k->token_out);
  bx__th_path p = {.kind = BX__TH_UDP, .addr = fz_sink, .heard = 1};
  bx__th_link_add_path(k, &p);
  return k;
}

static void fz_packet(bx_th_link *k, const uint8_t *p, size_t n) {
  bx_th_endpoint *ep = k->ep;
  bx__th_lob lob;
  if (bx__th_lob_parse(p, n, &lob) != 0 || lob.json == NULL) {
    bx__th_drop(ep, k, &ep->stats.bad_json); /* as bx__th_link_channel_in() does */
    bx__th_lob_clear(&lob);
    return;
  }
  bx__th_chan_in(k, &lob);
  bx__th_lob_clear(&lob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  unsigned how = data[0];
  bx_th_endpoint_opts o = {.no_cloak = true};
  bx_th_endpoint *ep = NULL;
  if (bx_th_endpoint_new(fz_ctx, fz_id, &o, &ep) != 0 ||
      bx_th_endpoint_handle(ep, "a", fz_accept, NULL) != 0 ||
      bx_th_endpoint_handle(ep, "f", fz_refuse, NULL) != 0)
    abort();
  bx_th_link *k = fz_link(ep, how & 1 ? fz_low : fz_high); /* a lower peer key: we are ODD */
  bx_th_channel *mine = NULL, *unrel = NULL;
  fz_chan *c = fz_chan_new();
  if (bx_th_channel_open(k, "x", true, NULL, (const uint8_t *)"hi", 2, fz_event, c, &mine) != 0)
    abort();
  for (int i = 0; i < 5; i++)
    if (bx_th_channel_send(mine, NULL, (const uint8_t *)"data", 4, false) != 0) abort();
  c = fz_chan_new();
  if (bx_th_channel_open(k, "u", false, NULL, NULL, 0, fz_event, c, &unrel) != 0) abort();
  uv_run(&fz_loop, UV_RUN_NOWAIT);

  for (size_t off = 1; off + 2 <= size && !ep->closing;) {
    size_t n = ((size_t)data[off] << 8) | data[off + 1];
    off += 2;
    if (n > size - off) n = size - off;
    fz_watch_begin();
    fz_packet(k, data + off, n);
    if (fz_watch_end() > n + FZ_FIXED) abort(); /* more than the packet's size */
    off += n;
    uv_run(&fz_loop, UV_RUN_NOWAIT);
  }
  if (how & 2) { /* our ends: channels that got theirs close with 0 */
    for (bx__tlink *l = k->chans.next; l != &k->chans;) {
      bx_th_channel *ch = (bx_th_channel *)l;
      l = l->next;
      (void)bx_th_channel_send(ch, NULL, NULL, 0, true);
    }
    uv_run(&fz_loop, UV_RUN_NOWAIT);
  }
  bool closed = false;
  if (bx_th_endpoint_close(ep, fz_closed, &closed) != 0) abort();
  for (int i = 0; !closed; i++) {
    if (i > 1000) abort(); /* an endpoint that never goes */
    uv_run(&fz_loop, UV_RUN_ONCE);
  }
  if (fz_open != 0) abort(); /* a channel without its CLOSED */
  return 0;
}
