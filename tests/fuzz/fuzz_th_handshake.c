/* libFuzzer target for a telehash endpoint's packet input (transports/telehash): arbitrary bytes
 * go through the code a UDP datagram runs after it is read (bx__th_uncloak, then the dispatch of
 * bx__th_ep_recv), on an endpoint whose identity is vectors.json's B. So the handshake A sent B
 * in the vectors opens, verifies and makes a link, and what follows it in the same input meets
 * that link: its `at` (an older one is a replay), its ephemeral key (a new one is a restart),
 * its token (channel packets), and the cap on links made by strangers (max_links is 2 here).
 *
 * Input: packets, each after a 2-byte big-endian length (a length past the end takes what is
 * left). Each packet is uncloaked in place, as a datagram is, and handed to the endpoint from
 * one of two loopback addresses (the length's top bit picks it), so paths change as well. The
 * endpoint's answers go to sockets this program owns and never reads.
 *
 * Checked besides memory safety: every packet is counted in packets_in, a drop is counted
 * under its reason (dropped never exceeds packets_in), the links stay within max_links, no
 * single allocation while a packet is read is larger than the packet plus a fixed amount
 * (with a sanitizer's allocation hook: libFuzzer builds), and the endpoint closes and frees
 * everything (LeakSanitizer sees the rest).
 *
 * Built by tests/fuzz/CMakeLists.txt: a libFuzzer program with `make fuzz` (clang), else a
 * replay of corpus/th_handshake/ as an ordinary test. */
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

#define FZ_MAX_LINKS 2

/* vectors.json keys.B.secret_hex: the recipient of the vectors' A_to_B handshake */
static const uint8_t fz_secret_b[32] = {
    0x5b, 0x08, 0xe8, 0x93, 0x0d, 0x54, 0xe5, 0x78, 0xcd, 0x19, 0xcf, 0x1f, 0x8e, 0x7f, 0x24, 0xaf,
    0x86, 0xf2, 0xe2, 0x94, 0x99, 0xc5, 0x68, 0xd1, 0x4a, 0xa1, 0x00, 0x58, 0x4b, 0x89, 0xea, 0x52};

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;
static bx_th_identity *fz_id;
static struct sockaddr_storage fz_sink[2]; /* where answers go; never read */
static uint8_t *fz_pkt;                    /* one packet's copy: uncloaked in place */

static void fz_closed(bx_th_endpoint *ep, void *data) {
  (void)ep;
  *(bool *)data = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (bx__th_sodium() != 0 || uv_loop_init(&fz_loop) != 0 ||
      bx_ctx_new(&fz_loop, NULL, &fz_ctx) != 0 || bx_th_identity_from_secret(fz_secret_b, &fz_id))
    abort();
  for (int i = 0; i < 2; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any;
    uv_ip4_addr("127.0.0.1", 0, &any);
    socklen_t sl = sizeof fz_sink[i];
    if (fd < 0 || bind(fd, (const struct sockaddr *)&any, sizeof any) != 0 ||
        getsockname(fd, (struct sockaddr *)&fz_sink[i], &sl) != 0)
      abort();
  }
  fz_pkt = malloc(BX__TH_MAX_PACKET + 1024);
  if (fz_pkt == NULL) abort();
  fz_watch_install();
  return 0;
}

static int fz_count_links(bx_th_endpoint *ep) {
  int n = 0;
  for (bx__tlink *l = ep->links.next; l != &ep->links; l = l->next)
    n++;
  return n;
}

static void fz_check(bx_th_endpoint *ep, uint64_t packets) {
  const bx_th_endpoint_stats *s = &ep->stats;
  if (s->packets_in != packets || s->dropped > s->packets_in) abort();
  uint64_t reasons = s->short_packets + s->unknown_csid + s->bad_auth + s->bad_token + s->oversize +
                     s->bad_json + s->stale_handshake + s->bad_channel + s->links_refused;
  if (reasons > s->dropped) abort(); /* one reason per drop at most */
  if (ep->stranger_links > FZ_MAX_LINKS || fz_count_links(ep) > FZ_MAX_LINKS) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bx_th_endpoint_opts o = {.no_cloak = true, .max_links = FZ_MAX_LINKS};
  bx_th_endpoint *ep = NULL;
  if (bx_th_endpoint_new(fz_ctx, fz_id, &o, &ep) != 0) abort();
  uint64_t packets = 0;
  for (size_t off = 0; off + 2 <= size && !ep->closing;) {
    size_t n = ((size_t)(data[off] & 0x7f) << 8) | data[off + 1];
    int which = data[off] >> 7;
    off += 2;
    if (n > size - off) n = size - off;
    memcpy(fz_pkt, data + off, n);
    off += n;
    bx__th_path from = {.kind = BX__TH_UDP, .addr = fz_sink[which]};
    size_t at = 0;
    if (bx__th_uncloak(fz_pkt, n, &at) != 0) continue; /* th_udp.c counts it; not this path */
    fz_watch_begin();
    bx__th_ep_recv(ep, &from, fz_pkt + at, n - at);
    if (fz_watch_end() > n + FZ_FIXED) abort(); /* more than the packet's size */
    packets++;
    fz_check(ep, packets);
    uv_run(&fz_loop, UV_RUN_NOWAIT); /* sends complete, queued tasks run */
  }
  bool closed = false;
  if (bx_th_endpoint_close(ep, fz_closed, &closed) != 0) abort();
  for (int i = 0; !closed; i++) {
    if (i > 1000) abort(); /* an endpoint that never goes */
    uv_run(&fz_loop, UV_RUN_ONCE);
  }
  return 0;
}
