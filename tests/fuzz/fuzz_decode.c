/* libFuzzer target for the FOAM codec: bx_decode() on arbitrary bytes must return an error or
 * a message, never crash or leak; the general road alone (bx__decode_general) must give the
 * same answer as the envelope road; a decoded payload without boxes must be what cJSON alone
 * makes of the frame (long strings take a different road through the decoder); and a decoded
 * message must survive a round trip: encoding it, decoding that and encoding again gives the same
 * bytes.
 *
 * Built by tests/fuzz/CMakeLists.txt: a libFuzzer program with `make fuzz` (clang), else a
 * replay of corpus/decode/ (the capture payloads) as an ordinary test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.max_depth = 32;
  opts.log_level = BX_LOG_ERROR;
  if (uv_loop_init(&fz_loop) != 0 || bx_ctx_new(&fz_loop, &opts, &fz_ctx) != 0) abort();
  bx_ctx_allow_class(fz_ctx, "test.rpc.Point");
  return 0;
}

static void fz_encode(const bx_msg *m, bx_buf *out) {
  out->len = 0;
  if (bx_encode(fz_ctx, m, NULL, out) != 0) abort(); /* every decoded box has a wire form */
}

/* A Message's payload without box references equals cJSON's own parse of its "object". */
static void fz_same_payload(const bx_msg *m, const uint8_t *data, size_t size) {
  if (!bx_msg_object(m) || bx_msg_box_count(m) != 0 || bx_msg_is(m, BX_CLASS_REGISTER_SELF)) return;
  cJSON *ref = cJSON_ParseWithLength((const char *)data, size);
  if (ref == NULL) abort(); /* the decoder accepted it */
  char *want = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ref, "object"));
  char *got = cJSON_PrintUnformatted(bx_msg_object(m));
  if (want == NULL || got == NULL || strcmp(want, got) != 0) {
    fprintf(stderr, "payload differs from cJSON's parse:\n%s\n%s\n", got, want);
    abort();
  }
  cJSON_free(want);
  cJSON_free(got);
  cJSON_Delete(ref);
}

/* The general road alone gives the same answer: result code and error text, or a message that
 * encodes to the same bytes with the same payload tree. */
static void fz_same_road(const bx_msg *m, int rc, const bx_codec_error *err, const uint8_t *data,
                         size_t size) {
  bx_msg *g = NULL;
  bx_codec_error gerr;
  int grc = bx__decode_general(fz_ctx, (const char *)data, size, NULL, &g, &gerr);
  if (grc != rc || (rc != 0 && strcmp(err->text, gerr.text) != 0)) {
    fprintf(stderr, "the roads differ: %d (%s) against %d (%s)\n", rc, rc ? err->text : "", grc,
            grc ? gerr.text : "");
    abort();
  }
  if (rc != 0) return;
  bx_buf a = {0}, b = {0};
  fz_encode(m, &a);
  fz_encode(g, &b);
  char *pa = cJSON_PrintUnformatted(bx_msg_object(m)),
       *pb = cJSON_PrintUnformatted(bx_msg_object(g));
  if (a.len != b.len || memcmp(a.base, b.base, a.len) != 0 || (pa == NULL) != (pb == NULL) ||
      (pa != NULL && strcmp(pa, pb) != 0)) {
    fprintf(stderr, "the roads made different messages:\n%.*s\n%.*s\n", (int)a.len, a.base,
            (int)b.len, b.base);
    abort();
  }
  cJSON_free(pa);
  cJSON_free(pb);
  bx_buf_free(&a);
  bx_buf_free(&b);
  bx_msg_unref(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bx_msg *m = NULL;
  bx_codec_error err;
  int rc = bx_decode(fz_ctx, (const char *)data, size, NULL, &m, &err);
  fz_same_road(m, rc, &err, data, size);
  if (rc != 0) {
    if (m != NULL || err.code != rc || err.text[0] == '\0') abort();
    return 0;
  }
  fz_same_payload(m, data, size);
  bx_buf first = {0}, second = {0};
  fz_encode(m, &first);
  bx_msg *again = NULL;
  rc = bx_decode(fz_ctx, first.base, first.len, NULL, &again, &err);
  if (rc != 0) {
    fprintf(stderr, "re-decode failed: %s\n%.*s\n", err.text, (int)first.len, first.base);
    abort();
  }
  fz_encode(again, &second);
  if (first.len != second.len || memcmp(first.base, second.base, first.len) != 0) abort();
  bx_msg_unref(again);
  bx_msg_unref(m);
  bx_buf_free(&first);
  bx_buf_free(&second);
  return 0;
}
