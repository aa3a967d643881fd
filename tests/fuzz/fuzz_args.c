/* libFuzzer target for the RPC argument decoder (rpc/value.c), the one place untrusted
 * arguments are checked: bx_args_decode() on any JSON must either fail cleanly or produce a
 * value that encodes and decodes back to the same JSON; nothing may crash or leak, in borrow
 * and copy mode alike. A deep copy of the decoded value (bx__struct_copy, the direct path of
 * in-process calls) must encode to the same JSON too. Built by tests/fuzz/CMakeLists.txt (libFuzzer
 * with clang, or a corpus replay elsewhere). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef enum fz_color { FZ_RED, FZ_GREEN = 5, FZ_BLUE = -3 } fz_color;

typedef struct fz_inner {
  int16_t a;
  char *s;
  struct fz_inner *next;
} fz_inner;

typedef struct fz_args {
  bool b;
  int8_t i8;
  uint16_t u16;
  int32_t i32;
  int64_t i64;
  uint64_t u64;
  float f;
  double d;
  char *str;
  fz_color color;
  fz_inner inner;
  uint32_t *xs;
  uint8_t nxs;
  fz_inner *opt;
  cJSON *json;
  bx_box *box;
  char *maybe;
} fz_args;

static const bx_enum_value fz_colors[] = {{"RED", FZ_RED}, {"GREEN", FZ_GREEN}, {"BLUE", FZ_BLUE}};
static const bx_type fz_color_t = {.kind = BX_KIND_ENUM,
                                   .name = "fz_color",
                                   .size = sizeof(fz_color),
                                   .values = fz_colors,
                                   .nvalues = 3};
static const bx_type fz_inner_t;
static const bx_type fz_inner_ptr = {
    .kind = BX_KIND_NULLABLE, .name = "fz_inner *", .size = sizeof(void *), .elem = &fz_inner_t};
static const bx_field fz_inner_f[] = {
    {"a", &bx_type_int16, offsetof(fz_inner, a), NULL, 0},
    {"s", &bx_type_string, offsetof(fz_inner, s), NULL, 0},
    {"next", &fz_inner_ptr, offsetof(fz_inner, next), NULL, 0},
};
static const bx_type fz_inner_t = {.kind = BX_KIND_STRUCT,
                                   .name = "fz_inner",
                                   .size = sizeof(fz_inner),
                                   .class_name = "fz.Inner",
                                   .fields = fz_inner_f,
                                   .nfields = 3};
static const bx_type fz_u32s = {
    .kind = BX_KIND_ARRAY, .name = "uint32_t[]", .size = sizeof(void *), .elem = &bx_type_uint32};
static const bx_type fz_maybe_str = {
    .kind = BX_KIND_NULLABLE, .name = "char *", .size = sizeof(char *), .elem = &bx_type_string};
static const bx_field fz_args_f[] = {
    {"b", &bx_type_bool, offsetof(fz_args, b), NULL, 0},
    {"i8", &bx_type_int8, offsetof(fz_args, i8), NULL, 0},
    {"u16", &bx_type_uint16, offsetof(fz_args, u16), NULL, 0},
    {"i32", &bx_type_int32, offsetof(fz_args, i32), NULL, 0},
    {"i64", &bx_type_int64, offsetof(fz_args, i64), NULL, 0},
    {"u64", &bx_type_uint64, offsetof(fz_args, u64), NULL, 0},
    {"f", &bx_type_float, offsetof(fz_args, f), NULL, 0},
    {"d", &bx_type_double, offsetof(fz_args, d), NULL, 0},
    {"str", &bx_type_string, offsetof(fz_args, str), NULL, 0},
    {"color", &fz_color_t, offsetof(fz_args, color), NULL, 0},
    {"inner", &fz_inner_t, offsetof(fz_args, inner), NULL, 0},
    {"xs", &fz_u32s, offsetof(fz_args, xs), &bx_type_uint8, offsetof(fz_args, nxs)},
    {"opt", &fz_inner_ptr, offsetof(fz_args, opt), NULL, 0},
    {"json", &bx_type_json, offsetof(fz_args, json), NULL, 0},
    {"box", &bx_type_box, offsetof(fz_args, box), NULL, 0},
    {"maybe", &fz_maybe_str, offsetof(fz_args, maybe), NULL, 0},
};
static const bx_type fz_args_t = {.kind = BX_KIND_STRUCT,
                                  .name = "fz_args",
                                  .size = sizeof(fz_args),
                                  .fields = fz_args_f,
                                  .nfields = 16};
static const bx_method fz_method = {"fuzz", &fz_args_t, &fz_args_t, 0, NULL};

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;
static bx_box *fz_box;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  if (uv_loop_init(&fz_loop) != 0 || bx_ctx_new(&fz_loop, NULL, &fz_ctx) != 0) abort();
  bx_null_box_new(fz_ctx, &fz_box);
  return 0;
}

/* A message whose box table holds fz_box, with {"class":"bx.BoxRef","ref":0} resolving to it. */
static bx_msg *fz_msg(void) {
  bx_msg *m = NULL;
  bx_msg_new(NULL, &m);
  cJSON_Delete(bx_msg_box_ref(m, fz_box));
  return m;
}

/* Decode, and on success: encode, decode that, encode again: both encodings must agree. */
static void fz_round_trip(const cJSON *args, bool borrow) {
  bx_msg *msg = fz_msg();
  fz_args v;
  memset(&v, 0, sizeof v);
  bx_value_error err;
  if (bx_args_decode(&fz_method, args, msg, &v, borrow, &err) != 0) {
    if (err.text[0] == '\0') abort(); /* every refusal says why */
    bx_msg_unref(msg);
    return;
  }
  bx_msg *out1 = NULL, *out2 = NULL;
  bx_msg_new(NULL, &out1);
  bx_msg_new(NULL, &out2);
  cJSON *enc1 = NULL, *enc2 = NULL;
  fz_args again;
  memset(&again, 0, sizeof again);
  if (bx_args_encode(&fz_method, &v, out1, &enc1) != 0) abort();
  if (bx_args_decode(&fz_method, enc1, out1, &again, false, &err) != 0) abort();
  if (bx_args_encode(&fz_method, &again, out2, &enc2) != 0) abort();
  char *a = cJSON_PrintUnformatted(enc1), *b = cJSON_PrintUnformatted(enc2);
  if (a == NULL || b == NULL || strcmp(a, b) != 0) abort();
  /* The direct path's copy: anything decoded copies, and says the same. */
  fz_args copy;
  memset(&copy, 0, sizeof copy);
  bx_msg *out3 = NULL;
  bx_msg_new(NULL, &out3);
  cJSON *enc3 = NULL;
  if (bx__struct_copy(&fz_args_t, &copy, &v) != 0) abort();
  if (bx_args_encode(&fz_method, &copy, out3, &enc3) != 0) abort();
  char *c = cJSON_PrintUnformatted(enc3);
  if (c == NULL || strcmp(a, c) != 0) abort();
  free(c);
  cJSON_Delete(enc3);
  bx__struct_release(&fz_args_t, &copy, false);
  bx_msg_unref(out3);
  free(a);
  free(b);
  cJSON_Delete(enc1);
  cJSON_Delete(enc2);
  bx__struct_release(&fz_args_t, &v, borrow);
  bx__struct_release(&fz_args_t, &again, false);
  bx_msg_unref(out1);
  bx_msg_unref(out2);
  bx_msg_unref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *args = cJSON_ParseWithLength((const char *)data, size);
  if (args == NULL) return 0;
  fz_round_trip(args, true);
  fz_round_trip(args, false);
  cJSON_Delete(args);
  return 0;
}
