/* telehash rows of bx-bench, each next to its floor in the same run:
 *
 * - th-seal+open: bx's CS3a message of `size` bytes sealed by A to B, opened by B and its
 *   sender verified, with the keys a link keeps per peer (th_cs3a_remote.c; e3x's Remote keeps
 *   one ephemeral key per peer likewise): A seals with no X25519, B opens with one (the KEY
 *   in the message) and verifies with the static secret it keeps for A. Next to libsodium's
 *   crypto_box_easy + crypto_box_open_easy (seal+open, sodium.c), one X25519 each side, which
 *   authenticates its sender too.
 * - th-seal+open-1x: the same message as a one-off (th_cs3a.c): a fresh ephemeral key and
 *   nothing kept, so 4 X25519 and a key generation (CS3a keys its secretbox and its AUTH from
 *   two agreements each side); next to seal+open as well.
 * - th-chan: a channel packet (th_channel.c) sealed with the link's key and opened; next to
 *   crypto_secretbox_easy + crypto_secretbox_open_easy with a precomputed key (secretbox).
 * - th-rtt: a reliable-channel round trip between two bx endpoints in two processes over UDP
 *   loopback (the public API, bx/telehash.h): the client sends `size` bytes on a reliable
 *   channel, the server echoes them, the next goes from the client's packet callback; next to
 *   raw-udp. Acks ride on the packets both ways (the echo acknowledges the request, the next
 *   request the echo), so each round trip is one datagram each way, as the floor's.
 * The crypto rows run bx's primitive functions compiled into this program from the transport's
 * sources (they are internal to libbx), with the same flags as the library. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peers.h"
#include "th_internal.h"

/* ---- th-seal+open and th-chan ---------------------------------------------------------------- */

static int th_seal(bool kept, size_t size, int warmup, int ops, double *lat, double *total_us) {
  if (bx__th_sodium() != 0) return -1;
  uint8_t apk[32], ask[32], bpk[32], bsk[32], k_static[32];
  crypto_box_keypair(apk, ask);
  crypto_box_keypair(bpk, bsk);
  bx__th_cs3a_remote to_b; /* A's keys for B, as a link to B holds them */
  if (bx__th_cs3a_remote_init(bpk, ask, NULL, &to_b) != 0 ||
      bx__th_cs3a_static(apk, bsk, k_static) != 0) /* B's for A */
    return -1;
  uint8_t *msg = malloc(size + 1), *sealed = malloc(size + BX__TH_MSG_OVERHEAD),
          *opened = malloc(size + 1);
  int rc = msg && sealed && opened ? 0 : -1;
  if (rc == 0) {
    memset(msg, 'x', size);
    double t0 = 0;
    for (int i = -warmup; i < ops && rc == 0; i++) {
      if (i == 0) t0 = peer_now_us();
      double s = peer_now_us();
      size_t len = 0, n = 0;
      size_t cap = size + BX__TH_MSG_OVERHEAD;
      rc = kept ? bx__th_cs3a_seal_to(&to_b, msg, size, NULL, sealed, cap, &len)
                : bx__th_cs3a_seal(msg, size, bpk, ask, NULL, NULL, sealed, cap, &len);
      if (rc == 0) rc = bx__th_cs3a_open(sealed, len, bsk, opened, size, &n);
      if (rc == 0)
        rc = kept ? bx__th_cs3a_verify_static(sealed, len, k_static)
                  : bx__th_cs3a_verify(sealed, len, bsk, apk);
      if (i >= 0) lat[i] = peer_now_us() - s;
    }
    *total_us = peer_now_us() - t0;
    if (rc == 0 && memcmp(msg, opened, size) != 0) rc = -1;
  }
  free(msg);
  free(sealed);
  free(opened);
  bx__th_cs3a_remote_clear(&to_b);
  return rc ? -1 : 0;
}

int peer_th_seal(size_t size, int warmup, int ops, double *lat, double *total_us) {
  return th_seal(true, size, warmup, ops, lat, total_us);
}

int peer_th_seal_1x(size_t size, int warmup, int ops, double *lat, double *total_us) {
  return th_seal(false, size, warmup, ops, lat, total_us);
}

int peer_th_chan(size_t size, int warmup, int ops, double *lat, double *total_us) {
  if (bx__th_sodium() != 0) return -1;
  uint8_t key[32], token[BX__TH_TOKEN];
  randombytes_buf(key, sizeof key);
  randombytes_buf(token, sizeof token);
  uint8_t *msg = malloc(size + 1), *sealed = malloc(size + BX__TH_CHAN_OVERHEAD),
          *opened = malloc(size + 1);
  int rc = msg && sealed && opened ? 0 : -1;
  if (rc == 0) {
    memset(msg, 'x', size);
    double t0 = 0;
    for (int i = -warmup; i < ops && rc == 0; i++) {
      if (i == 0) t0 = peer_now_us();
      double s = peer_now_us();
      size_t len = 0, n = 0;
      rc = bx__th_channel_seal(msg, size, token, key, NULL, sealed, size + BX__TH_CHAN_OVERHEAD,
                               &len);
      if (rc == 0) rc = bx__th_channel_open(sealed, len, token, key, opened, size, &n);
      if (i >= 0) lat[i] = peer_now_us() - s;
    }
    *total_us = peer_now_us() - t0;
    if (rc == 0 && memcmp(msg, opened, size) != 0) rc = -1;
  }
  free(msg);
  free(sealed);
  free(opened);
  return rc ? -1 : 0;
}

/* ---- th-rtt: the server ------------------------------------------------------------------------
 */

static void ths_echo(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)data;
  if (ev->type == BX_TH_CHAN_PACKET && ev->len > 0)
    bx_th_channel_send(ch, NULL, ev->body, ev->len, false);
}

static void ths_open(bx_th_channel *ch, const bx_th_chan_event *first, void *data) {
  bx_th_channel_set_cb(ch, ths_echo, data);
  ths_echo(ch, first, data);
}

/* Forks the server; its peer JSON comes back through a pipe into json. noinline: callgrind
 * counts the server's instructions inside it (bench/instructions.c). */
__attribute__((noinline)) static pid_t ths_start(bool pinned, char *json, size_t cap) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    peer_pin(pinned);
    close(fds[0]);
    uv_loop_t loop;
    bx_ctx *ctx;
    bx_th_identity *id;
    bx_th_endpoint *ep;
    if (uv_loop_init(&loop) != 0 || bx_ctx_new(&loop, NULL, &ctx) != 0 ||
        bx_th_identity_new(&id) != 0 || bx_th_endpoint_new(ctx, id, NULL, &ep) != 0 ||
        bx_th_endpoint_handle(ep, "echo", ths_open, NULL) != 0)
      _exit(1);
    char *j = bx_th_endpoint_json(ep);
    if (j == NULL || write(fds[1], j, strlen(j) + 1) <= 0) _exit(1);
    close(fds[1]);
    free(j);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(0);
  }
  close(fds[1]);
  ssize_t n = pid > 0 ? read(fds[0], json, cap - 1) : -1;
  close(fds[0]);
  if (n <= 0) {
    if (pid > 0) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
    return -1;
  }
  json[n] = '\0';
  return pid;
}

/* ---- th-rtt: the client ------------------------------------------------------------------------
 */

typedef struct thc {
  bx_ctx *ctx;
  bx_th_endpoint *ep;
  bx_th_channel *ch;
  uint8_t *payload;
  size_t size;
  int warmup, total, done, rc;
  double start, t0, *lat;
} thc;

static void thc_stop(thc *c, int rc) {
  if (rc != 0) c->rc = -1;
  bx_ctx_close(c->ctx, NULL, NULL);
}

static void thc_send(thc *c) {
  c->start = peer_now_us();
  int rc = bx_th_channel_send(c->ch, NULL, c->payload, c->size, false);
  if (rc != 0) {
    fprintf(stderr, "bx-bench: th-rtt: send: %s\n", bx_strerror(rc));
    thc_stop(c, -1);
  }
}

static void thc_event(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)ch;
  thc *c = data;
  if (ev->type == BX_TH_CHAN_CLOSED) {
    if (c->done < c->total) thc_stop(c, -1);
    return;
  }
  if (ev->len != c->size) return;
  int i = c->done++ - c->warmup;
  if (i == 0) c->t0 = c->start;
  if (i >= 0) c->lat[i] = peer_now_us() - c->start;
  if (c->done == c->total)
    thc_stop(c, 0);
  else
    thc_send(c);
}

static void thc_link(bx_th_link *link, bx_th_link_event ev, int status, void *data) {
  thc *c = data;
  if (ev != BX_TH_LINK_UP || c->ch != NULL) {
    if (ev == BX_TH_LINK_DOWN) fprintf(stderr, "bx-bench: th-rtt: link down: %d\n", status);
    return;
  }
  c->start = peer_now_us();
  int rc = bx_th_channel_open(link, "echo", true, NULL, c->payload, c->size, thc_event, c, &c->ch);
  if (rc != 0) thc_stop(c, -1);
}

__attribute__((noinline)) int peer_th_rtt(size_t size, int warmup, int ops, bool pinned,
                                          double *lat, double *total_us) {
  char json[1024];
  pid_t pid = ths_start(pinned, json, sizeof json);
  if (pid < 0) return -1;
  uv_loop_t loop;
  thc c = {.size = size, .warmup = warmup, .total = warmup + ops, .lat = lat};
  c.payload = malloc(size);
  memset(c.payload, 'x', size);
  uv_loop_init(&loop);
  bx_th_identity *id = NULL;
  bx_th_endpoint_opts o = {.link_cb = thc_link, .link_data = &c};
  bx_th_link *link;
  if (bx_ctx_new(&loop, NULL, &c.ctx) != 0 || bx_th_identity_new(&id) != 0 ||
      bx_th_endpoint_new(c.ctx, id, &o, &c.ep) != 0 || bx_th_link_new(c.ep, json, &link) != 0)
    c.rc = -1;
  else
    uv_run(&loop, UV_RUN_DEFAULT);
  *total_us = peer_now_us() - c.t0;
  uv_loop_close(&loop);
  bx_th_identity_free(id);
  free(c.payload);
  kill(pid, SIGTERM); /* not SIGKILL: under callgrind the server's counts are written */
  waitpid(pid, NULL, 0);
  return c.rc;
}
