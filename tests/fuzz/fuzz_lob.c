/* libFuzzer target for the telehash LOB parser (spec/telehash section 1) and the parsers built
 * on it: bx__th_lob_parse() on arbitrary bytes must refuse them or give a head and body that
 * lie inside the input and add up to it; a JSON head written back by bx__th_lob_append_json()
 * must read back to a tree that writes the same text; and the handshake, message, channel,
 * uncloak and chunk readers must refuse or accept the same bytes without reading outside them.
 *
 * Built by tests/fuzz/CMakeLists.txt: a libFuzzer program with `make fuzz` (clang), else a
 * replay of corpus/lob/ as an ordinary test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (bx__th_sodium() != 0) abort();
  return 0;
}

static const uint8_t fz_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void fz_lob(const uint8_t *data, size_t size) {
  bx__th_lob lob;
  if (bx__th_lob_parse(data, size, &lob) != 0) {
    if (lob.json != NULL || lob.head != NULL) abort();
    return;
  }
  if (lob.head != data + 2 || 2 + lob.head_len + lob.body_len != size ||
      lob.body != lob.head + lob.head_len)
    abort();
  if ((lob.head_len >= 7) != (lob.json != NULL)) abort();
  if (lob.json != NULL) { /* written back and read again, the head writes the same text */
    bx_buf buf = {0}, again_text = {0};
    int rc = bx__th_lob_append_json(&buf, lob.json, lob.body, lob.body_len);
    if (rc == 0) {
      bx__th_lob again;
      if (bx__th_lob_parse((const uint8_t *)buf.base, buf.len, &again) != 0) abort();
      /* text, not cJSON_Compare, which reads a duplicate key as its first copy */
      if (bx__th_lob_append_json(&again_text, again.json, again.body, again.body_len) != 0 ||
          again_text.len != buf.len || memcmp(again_text.base, buf.base, buf.len) != 0)
        abort();
      bx__th_lob_clear(&again);
    } else if (rc != BX_EINVAL && rc != BX_EMSGSIZE && rc != BX_ENOMEM) {
      abort();
    }
    bx_buf_free(&buf);
    bx_buf_free(&again_text);
  }
  bx__th_lob_clear(&lob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_lob(data, size);

  bx__th_handshake hs;
  if (bx__th_handshake_parse(data, size, &hs) == 0 && (hs.head == NULL || hs.at == 0)) abort();
  bx__th_handshake_clear(&hs);

  uint8_t *out = malloc(size + 1), token[16] = {0};
  size_t len = 0, off = 0;
  if (out == NULL) return 0;
  int rc = bx__th_cs3a_open(data, size, fz_key, out, size, &len);
  if (rc == 0 && len + BX__TH_MSG_OVERHEAD != size) abort();
  rc = bx__th_channel_open(data, size, token, fz_key, out, size, &len);
  if (rc == 0 && len + BX__TH_CHAN_OVERHEAD != size) abort();
  (void)bx__th_token_of(data, size, token);

  if (size > 0) memcpy(out, data, size);
  if (bx__th_uncloak(out, size, &off) == 0 && (off > size - 2 || out[off] != 0)) abort();

  size_t used = 0, psize = 0;
  rc = bx__th_chunk_scan(data, size, 4096, &used, &psize);
  if (rc == 1) {
    if (used > size || psize >= used || psize > 4096) abort();
    bx__th_chunk_gather(data, used, out);
  }
  free(out);
  return 0;
}
