/* libFuzzer target for the telehash box host's packet handler (transports/telehash
 * th_box_host.c, spec/telehash section 6): arbitrary channel packets from two clients go
 * through the channel layer's input (bx__th_chan_in, what a decrypted packet runs) into a box
 * host, opens, stores, removals, clears, ends and errors alike; the host answers into links
 * that have no session (kept, never sent).
 *
 * Input: a run of records [byte: bit 0 the client, bit 1 advance the host's clock by an hour,
 * bit 2 run expiry][2-byte big-endian length][that many bytes: an inner channel packet, a LOB
 * with a JSON head]. A record cut short ends the input.
 *
 * Checked besides memory safety: the host's counts agree with its store (messages <= total,
 * every box within its capacity), and everything is freed at the end of each input (the host;
 * the links' channels are closed and their tasks run).
 *
 * Built by tests/fuzz/CMakeLists.txt: a libFuzzer program with `make fuzz` (clang), else a
 * replay of corpus/th_box/ as an ordinary test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;
static bx_th_endpoint *fz_ep;
static bx_th_link *fz_links[2];
static uint64_t fz_clock;

static uint64_t fz_now(void *data) {
  (void)data;
  return fz_clock;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  uint8_t sk[BX_TH_KEY_BYTES];
  memset(sk, 0x42, sizeof sk);
  bx_th_identity *id = NULL;
  bx_ctx_options co;
  bx_ctx_options_init(&co);
  co.log_level = BX_LOG_ERROR - 1; /* quiet: the host logs what it refuses */
  if (uv_loop_init(&fz_loop) != 0 || bx_ctx_new(&fz_loop, &co, &fz_ctx) != 0 ||
      bx_th_identity_from_secret(sk, &id) != 0 || bx_th_endpoint_new(fz_ctx, id, NULL, &fz_ep) != 0)
    abort();
  bx_th_identity_free(id);
  for (int i = 0; i < 2; i++) {
    uint8_t key[BX__TH_KEY];
    memset(key, 0x10 + i, sizeof key); /* two clients' keys (seeds use these) */
    if (bx__th_link_make(fz_ep, key, &fz_links[i]) != 0) abort();
  }
  return 0;
}

/* The host's bookkeeping agrees with itself. */
static void fz_check(bx_th_box_host *h) {
  bx__bs *s = bx__th_box_host_store(h);
  if (s->n > s->total) abort();
  size_t n = 0;
  for (bx__tlink *it = s->all.next; it != &s->all; it = it->next) {
    bx__bs_msg *m = (bx__bs_msg *)it;
    if (m->box->n > s->cap || m->len == 0 || m->len > BX_TH_BOX_MAX_MSG) abort();
    n++;
  }
  if (n != s->n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_clock = 1000000;
  bx_th_box_host_opts ho = {.cap = 4, .total = 8, .expire_max_s = 7200, .now_ms = fz_now};
  bx_th_box_host *h = NULL;
  if (bx_th_box_host_new(fz_ep, &ho, &h) != 0) abort();
  size_t off = 0;
  while (off + 3 <= size) {
    uint8_t ctl = data[off];
    size_t len = ((size_t)data[off + 1] << 8) | data[off + 2];
    off += 3;
    if (len > size - off) break;
    bx_th_link *k = fz_links[ctl & 1];
    if (ctl & 2) fz_clock += 3600 * 1000;
    if (ctl & 4) bx_th_box_host_expire(h);
    bx__th_lob lob;
    if (bx__th_lob_parse(data + off, len, &lob) == 0 && lob.json != NULL) bx__th_chan_in(k, &lob);
    bx__th_lob_clear(&lob);
    off += len;
    uv_run(&fz_loop, UV_RUN_NOWAIT);
    fz_check(h);
  }
  bx_th_box_host_free(h);
  for (int i = 0; i < 2; i++) {
    bx__th_chans_close_all(fz_links[i], BX_ECANCELED);
    fz_links[i]->max_in_cid = 0;
  }
  for (int i = 0; i < 4; i++)
    uv_run(&fz_loop, UV_RUN_NOWAIT);
  return 0;
}
