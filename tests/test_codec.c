/* The FOAM codec: the captured FOAM2 frames as golden vectors (decode all, re-encode HEAD ones
 * byte for byte), decoded box shapes, a table of malformed frames, the pre-scan's number and
 * UTF-8 rules, and encoding with exports, attributes, the size cap and the handshake. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "json_scan.h"
#include "testutil.h"

#define CAPTURES BX_SPEC_DIR "/foam/captures"

/* ---- captures ----------------------------------------------------------------------------- */

typedef struct cap_frame {
  char file[64];
  int line;
  char *payload;
} cap_frame;

typedef struct frames {
  cap_frame *v;
  size_t n, cap;
} frames;

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  assert_true(size >= 0);
  rewind(f);
  char *text = malloc((size_t)size + 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
  text[size] = '\0';
  fclose(f);
  return text;
}

static void add_frame(frames *fs, const char *file, int line, const char *payload) {
  if (fs->n == fs->cap) {
    fs->cap = fs->cap ? fs->cap * 2 : 32;
    fs->v = realloc(fs->v, fs->cap * sizeof *fs->v);
    assert_non_null(fs->v);
  }
  cap_frame *f = &fs->v[fs->n++];
  snprintf(f->file, sizeof f->file, "%s", file);
  f->line = line;
  f->payload = bx__strdup(payload);
  assert_non_null(f->payload);
}

static void load_file(frames *fs, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", CAPTURES, name);
  char *text = read_file(path);
  int line = 0;
  for (char *s = text, *nl; s && *s; s = nl ? nl + 1 : NULL) {
    nl = strchr(s, '\n');
    if (nl) *nl = '\0';
    line++;
    if (*s == '\0') continue;
    cJSON *rec = cJSON_Parse(s);
    assert_non_null(rec);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(rec, "payload");
    assert_true(cJSON_IsString(p));
    add_frame(fs, name, line, p->valuestring);
    cJSON_Delete(rec);
  }
  free(text);
}

/* Every frame of every capture file, in file order. */
static frames load_captures(void) {
  frames fs = {0};
  DIR *dir = opendir(CAPTURES);
  assert_non_null(dir);
  for (struct dirent *de; (de = readdir(dir)) != NULL;) {
    size_t n = strlen(de->d_name);
    if (n > 6 && strcmp(de->d_name + n - 6, ".jsonl") == 0) load_file(&fs, de->d_name);
  }
  closedir(dir);
  assert_true(fs.n >= 40);
  return fs;
}

static void free_captures(frames *fs) {
  for (size_t i = 0; i < fs->n; i++)
    free(fs->v[i].payload);
  free(fs->v);
}

/* The payload of line `line` (1-based) of capture `file`. */
static const char *capture(const frames *fs, const char *file, int line) {
  for (size_t i = 0; i < fs->n; i++)
    if (strcmp(fs->v[i].file, file) == 0 && fs->v[i].line == line) return fs->v[i].payload;
  fail_msg("no line %d in %s", line, file);
  return NULL;
}

static bxt_env *env_captures(void) {
  bxt_env *e = bxt_env_new(NULL);
  assert_int_equal(bx_ctx_allow_class(e->ctx, "test.rpc.Point"), 0); /* a generated class */
  return e;
}

static bx_msg *decode_ok(bx_ctx *ctx, const char *json, bx_box *origin) {
  bx_msg *m = NULL;
  bx_codec_error err;
  int rc = bx_decode(ctx, json, strlen(json), origin, &m, &err);
  if (rc != 0) fail_msg("decode failed (%s): %s\n  frame: %s", bx_err_name(rc), err.text, json);
  assert_non_null(m);
  return m;
}

/* Encodes m and returns the text (NUL-terminated, caller frees). */
static char *encode_text(bx_ctx *ctx, const bx_msg *m) {
  bx_buf b = {0};
  int rc = bx_encode(ctx, m, NULL, &b);
  if (rc != 0) fail_msg("encode failed: %s", bx_err_name(rc));
  assert_int_equal(bx_buf_append(&b, "", 1), 0);
  return b.base;
}

/* ---- golden ------------------------------------------------------------------------------- */

static void test_golden_decode_all(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  for (size_t i = 0; i < fs.n; i++) {
    bx_msg *m = decode_ok(e->ctx, fs.v[i].payload, NULL);
    assert_null(bx_msg_origin(m));
    bx_msg_unref(m);
  }
  free_captures(&fs);
  bxt_env_free(e);
}

static void test_golden_reencode_head(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  size_t checked = 0;
  for (size_t i = 0; i < fs.n; i++) {
    if (strstr(fs.v[i].file, "head") == NULL) continue;
    bx_msg *m = decode_ok(e->ctx, fs.v[i].payload, NULL);
    char *out = encode_text(e->ctx, m);
    if (strcmp(out, fs.v[i].payload) != 0)
      fail_msg("%s:%d re-encodes differently\n  want %s\n  got  %s", fs.v[i].file, fs.v[i].line,
               fs.v[i].payload, out);
    free(out);
    bx_msg_unref(m);
    checked++;
  }
  assert_true(checked >= 30);
  /* Nothing was exported: every box had a wire form. */
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->ctx)), 0);
  free_captures(&fs);
  bxt_env_free(e);
}

/* tests/data/codec/timestamp-vectors.jsonl: __Timestamp__ values as FOAM2 writes them over TCP
 * (ISO-8601 strings) and as numbers, each decoded on both roads and written back as the number
 * bx writes (byte for byte). */
static void test_golden_timestamp_strings(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  char *text = read_file(BX_TEST_DATA_DIR "/codec/timestamp-vectors.jsonl");
  int n = 0;
  for (char *s = text, *nl; s && *s; s = nl ? nl + 1 : NULL) {
    nl = strchr(s, '\n');
    if (nl) *nl = '\0';
    if (*s == '\0') continue;
    cJSON *rec = cJSON_Parse(s);
    assert_non_null(rec);
    const char *name = cJSON_GetObjectItemCaseSensitive(rec, "name")->valuestring;
    const char *frame = cJSON_GetObjectItemCaseSensitive(rec, "frame")->valuestring;
    const char *want = cJSON_GetObjectItemCaseSensitive(rec, "encodes_as")->valuestring;
    for (int road = 0; road < 2; road++) {
      bx_msg *m = NULL;
      bx_codec_error err;
      int rc = road ? bx__decode_general(e->ctx, frame, strlen(frame), NULL, &m, &err)
                    : bx_decode(e->ctx, frame, strlen(frame), NULL, &m, &err);
      if (rc != 0) fail_msg("%s (road %d): %s", name, road, err.text);
      char *out = encode_text(e->ctx, m);
      if (strcmp(out, want) != 0)
        fail_msg("%s (road %d)\n  want %s\n  got  %s", name, road, want, out);
      free(out);
      bx_msg_unref(m);
    }
    cJSON_Delete(rec);
    n++;
  }
  assert_true(n >= 10);
  free(text);
  bxt_env_free(e);
}

/* The 2018 tree writes "attributes":{} on nested objects: they stay in the payload as data. */
static void test_golden_2018_structure(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  bx_msg *m = decode_ok(e->ctx, capture(&fs, "ws-foam2-2018.jsonl", 1), NULL);
  assert_true(bx_msg_is(m, BX_CLASS_SUB_BOX_MESSAGE));
  const cJSON *sbm = bx_msg_object(m);
  assert_string_equal(cJSON_GetObjectItem(sbm, "name")->valuestring, "calc");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(sbm, "attributes")));
  const cJSON *rpc = cJSON_GetObjectItem(sbm, "object");
  assert_string_equal(bx_json_class(rpc), BX_CLASS_RPC_MESSAGE);
  assert_string_equal(cJSON_GetObjectItem(rpc, "name")->valuestring, "add");
  char *args = cJSON_PrintUnformatted(cJSON_GetObjectItem(rpc, "args"));
  assert_string_equal(args, "[1,2]");
  cJSON_free(args);
  assert_null(bx_msg_attrs(m)); /* "attributes":{} holds nothing but the reply box */
  assert_string_equal(bx_sub_box_name(bx_msg_reply_box(m)), "20");
  bx_msg_unref(m);

  /* A void reply with nested attributes; the register() reply carrying a box. */
  m = decode_ok(e->ctx, capture(&fs, "ws-foam2-2018.jsonl", 11), NULL);
  const cJSON *ret = cJSON_GetObjectItem(bx_msg_object(m), "object");
  assert_string_equal(bx_json_class(ret), BX_CLASS_RPC_RETURN);
  assert_null(cJSON_GetObjectItem(ret, "data"));
  assert_null(bx_msg_reply_box(m));
  bx_msg_unref(m);
  m = decode_ok(e->ctx, capture(&fs, "ws-foam2-2018.jsonl", 15), NULL);
  ret = cJSON_GetObjectItem(bx_msg_object(m), "object");
  bx_box *data = bx_msg_box_at(m, cJSON_GetObjectItem(ret, "data"));
  assert_non_null(data);
  assert_string_equal(bx_sub_box_name(data), "fromClient");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(ret, "attributes")));
  bx_msg_unref(m);

  /* The stream handshake of the 2018 tcp capture. */
  m = decode_ok(e->ctx, capture(&fs, "tcp-foam2-2018.jsonl", 1), NULL);
  assert_true(bx_msg_is(m, BX_CLASS_REGISTER_SELF));
  assert_string_equal(cJSON_GetObjectItem(bx_msg_object(m), "name")->valuestring, "/client");
  bx_msg_unref(m);

  /* Every 2018 frame re-encodes to its capture as well. */
  for (size_t i = 0; i < fs.n; i++) {
    if (strstr(fs.v[i].file, "2018") == NULL) continue;
    m = decode_ok(e->ctx, fs.v[i].payload, NULL);
    char *out = encode_text(e->ctx, m);
    assert_string_equal(out, fs.v[i].payload);
    free(out);
    bx_msg_unref(m);
  }
  free_captures(&fs);
  bxt_env_free(e);
}

/* ---- decoded shapes ----------------------------------------------------------------------- */

static void test_shape_reply_box(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  bx_msg *m = decode_ok(e->ctx, capture(&fs, "ws-foam2-head.jsonl", 1), NULL);
  bx_box *reply = bx_msg_reply_box(m);
  assert_non_null(reply);
  assert_string_equal(bx_box_type(reply), "sub");
  assert_string_equal(bx_sub_box_name(reply), "18");
  assert_string_equal(bx_box_type(bx_sub_box_delegate(reply)), "return");
  assert_null(bx__return_box_origin(bx_sub_box_delegate(reply)));
  assert_int_equal(bx_msg_box_count(m), 0);
  /* the payload is untouched data */
  const cJSON *rpc = cJSON_GetObjectItem(bx_msg_object(m), "object");
  assert_string_equal(cJSON_GetObjectItem(rpc, "name")->valuestring, "add");
  bx_msg_unref(m);
  free_captures(&fs);
  bxt_env_free(e);
}

static void test_shape_register_arg(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  bx_msg *m = decode_ok(e->ctx, capture(&fs, "ws-foam2-head.jsonl", 13), NULL);
  assert_true(bx_msg_is(m, BX_CLASS_RPC_MESSAGE));
  const cJSON *args = cJSON_GetObjectItem(bx_msg_object(m), "args");
  assert_int_equal(cJSON_GetArraySize(args), 3);
  assert_string_equal(cJSON_GetArrayItem(args, 0)->valuestring, "fromClient");
  assert_true(cJSON_IsNull(cJSON_GetArrayItem(args, 1)));
  const cJSON *ph = cJSON_GetArrayItem(args, 2);
  assert_string_equal(bx_json_class(ph), BX_CLASS_BOX_REF);
  bx_box *box = bx_msg_box_at(m, ph);
  assert_non_null(box);
  assert_string_equal(bx_box_type(box), "sub");
  assert_string_equal(bx_sub_box_name(box), "clientCalc");
  assert_string_equal(bx_box_type(bx_sub_box_delegate(box)), "return");
  assert_int_equal(bx_msg_box_count(m), 1);
  assert_string_equal(bx_sub_box_name(bx_msg_reply_box(m)), "26");
  bx_msg_unref(m);
  free_captures(&fs);
  bxt_env_free(e);
}

static void test_shape_named_delegate(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  bx_msg *m = decode_ok(e->ctx, capture(&fs, "tcp-foam2-head.jsonl", 2), NULL);
  bx_box *reply = bx_msg_reply_box(m);
  assert_string_equal(bx_sub_box_name(reply), "21");
  bx_box *named = bx_sub_box_delegate(reply);
  assert_string_equal(bx_box_type(named), "named");
  assert_string_equal(bx_named_box_path(named), "/client");
  bx_box *again = NULL;
  bx_named_box(e->ctx, "/client", &again); /* the context's shared box for the path */
  assert_ptr_equal(again, named);
  bx_box_unref(again);
  bx_msg_unref(m);
  free_captures(&fs);
  bxt_env_free(e);
}

static void test_shape_origin(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  bx_box *origin = NULL;
  bx_null_box_new(e->ctx, &origin);
  bx_msg *m = decode_ok(e->ctx, capture(&fs, "ws-foam2-head.jsonl", 13), origin);
  assert_ptr_equal(bx_msg_origin(m), origin);
  /* every ReturnBox of the frame answers over the origin */
  assert_ptr_equal(bx__return_box_origin(bx_sub_box_delegate(bx_msg_reply_box(m))), origin);
  const cJSON *args = cJSON_GetObjectItem(bx_msg_object(m), "args");
  bx_box *arg = bx_msg_box_at(m, cJSON_GetArrayItem(args, 2));
  assert_ptr_equal(bx__return_box_origin(bx_sub_box_delegate(arg)), origin);
  bx_msg_unref(m);
  m = decode_ok(e->ctx, capture(&fs, "tcp-foam2-head.jsonl", 1), origin); /* handshake too */
  assert_ptr_equal(bx_msg_origin(m), origin);
  bx_msg_unref(m);
  bx_box_unref(origin);
  free_captures(&fs);
  bxt_env_free(e);
}

/* Box references anywhere in the payload: at the root, in objects, nested in arrays. */
static void test_shape_payload_boxes(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  const char *json =
      "{\"class\":\"foam.box.Message\",\"object\":{\"class\":\"foam.box.RPCReturnMessage\","
      "\"data\":{\"a\":{\"class\":\"foam.box.NamedBox\",\"name\":\"/x/y\"},\"b\":[1,"
      "{\"class\":\"foam.box.ReturnBox\"},{\"class\":\"foam.box.SubBox\",\"name\":\"s\","
      "\"delegate\":{\"class\":\"foam.box.SubBox\",\"name\":\"t\",\"delegate\":"
      "{\"class\":\"foam.box.NamedBox\",\"name\":\"/hub\"}}}],\"c\":3}}}";
  bx_msg *m = decode_ok(e->ctx, json, NULL);
  assert_int_equal(bx_msg_box_count(m), 3);
  const cJSON *data = cJSON_GetObjectItem(bx_msg_object(m), "data");
  /* same keys, same order */
  const cJSON *c = data->child;
  assert_string_equal(c->string, "a");
  assert_string_equal(c->next->string, "b");
  assert_string_equal(c->next->next->string, "c");
  assert_string_equal(bx_named_box_path(bx_msg_box_at(m, c)), "/x/y");
  const cJSON *b = cJSON_GetObjectItem(data, "b");
  assert_int_equal(cJSON_GetArraySize(b), 3);
  assert_string_equal(bx_box_type(bx_msg_box_at(m, cJSON_GetArrayItem(b, 1))), "return");
  bx_box *s = bx_msg_box_at(m, cJSON_GetArrayItem(b, 2));
  assert_string_equal(bx_sub_box_name(s), "s");
  assert_string_equal(bx_sub_box_name(bx_sub_box_delegate(s)), "t");
  assert_string_equal(bx_named_box_path(bx_sub_box_delegate(bx_sub_box_delegate(s))), "/hub");
  char *out = encode_text(e->ctx, m);
  assert_string_equal(out, "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":"
                           "{\"class\":\"foam.box.RPCReturnMessage\",\"data\":{\"a\":"
                           "{\"class\":\"foam.box.NamedBox\",\"name\":\"/x/y\"},\"b\":[1,"
                           "{\"class\":\"foam.box.ReturnBox\"},{\"class\":\"foam.box.SubBox\","
                           "\"name\":\"s\",\"delegate\":{\"class\":\"foam.box.SubBox\",\"name\":"
                           "\"t\",\"delegate\":{\"class\":\"foam.box.NamedBox\",\"name\":"
                           "\"/hub\"}}}],\"c\":3}}}");
  free(out);
  bx_msg_unref(m);

  /* the payload itself a box */
  m = decode_ok(e->ctx,
                "{\"class\":\"foam.box.Message\",\"object\":{\"class\":\"foam.box.SubBox\","
                "\"name\":\"x\",\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}}",
                NULL);
  assert_string_equal(bx_json_class(bx_msg_object(m)), BX_CLASS_BOX_REF);
  assert_string_equal(bx_sub_box_name(bx_msg_box_at(m, bx_msg_object(m))), "x");
  out = encode_text(e->ctx, m);
  assert_string_equal(out, "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":"
                           "{\"class\":\"foam.box.SubBox\",\"name\":\"x\",\"delegate\":"
                           "{\"class\":\"foam.box.ReturnBox\"}}}");
  free(out);
  bx_msg_unref(m);
  bxt_env_free(e);
}

/* Attributes: replyBox becomes the reply box wherever it is, the rest stays in order; null and
 * absent mean none; "object":null is an empty payload. */
/* FOAM2 writes a Date as an ISO-8601 string on TCP: bx reads it (both decoder roads), turns it
 * into the number bx writes, and reads exactly the forms JavaScript's Date.parse does with a
 * zone. */
static void test_timestamp_strings(void **state) {
  (void)state;
  static const struct {
    const char *s;
    double ms;
  } ok[] = {
      {"2023-11-14T22:13:20.000Z", 1700000000000.0},
      {"2023-11-14T23:13:20.000+01:00", 1700000000000.0},
      {"2023-11-14T22:13:20Z", 1700000000000.0},
      {"2023-11-14T22:13Z", 1699999980000.0},
      {"1970-01-01T00:00:00.000Z", 0},
      {"1970-01-01", 0},
      {"1970-01", 0},
      {"1970", 0},
      {"1700", -8520336000000.0}, /* a year alone is a date to JavaScript too */
      {"1969-12-31T23:59:59.999Z", -1},
      {"2000-02-29T00:00:00.000Z", 951782400000.0},
      {"+275760-09-13T00:00:00.000Z", 8.64e15},
      {"-271821-04-20T00:00:00.000Z", -8.64e15},
      {"2023-11-14T24:00:00.000Z", 1700006400000.0},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    double ms = 42;
    if (!bx__iso_date_ms(ok[i].s, &ms)) fail_msg("refused %s", ok[i].s);
    if (ms != ok[i].ms) fail_msg("%s: %.0f, not %.0f", ok[i].s, ms, ok[i].ms);
  }
  static const char *const bad[] = {
      "",
      "17000",
      "2023-11-14T22:13:20.000",
      "2023-11-14 22:13:20Z",
      "2023-13-01",
      "2023-02-29",
      "2023-11-14T25:00Z",
      "2023-11-14T22:60Z",
      "2023-11-14T22:13:20.0Z",
      "+275760-09-13T00:00:00.001Z",
      "-000000-01-01T00:00Z",
      "2023-11-14T22:13:20.000Z ",
      "2023-11-14T22:13:20.000+1:00",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    double ms;
    if (bx__iso_date_ms(bad[i], &ms)) fail_msg("accepted '%s'", bad[i]);
  }
  /* In a frame: decoded as the number, written back as it. */
  bxt_env *e = bxt_env_new(NULL);
  const char *frame =
      "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":{\"class\":\"foam.box."
      "RPCMessage\",\"name\":\"at\",\"args\":[{\"class\":\"__Timestamp__\",\"value\":\"2023-11-"
      "14T22:13:20.000Z\"}]}}";
  for (int road = 0; road < 2; road++) {
    bx_msg *m = NULL;
    bx_codec_error err;
    int rc = road ? bx__decode_general(e->ctx, frame, strlen(frame), NULL, &m, &err)
                  : bx_decode(e->ctx, frame, strlen(frame), NULL, &m, &err);
    assert_int_equal(rc, 0);
    char *text = encode_text(e->ctx, m);
    assert_non_null(strstr(text, "{\"class\":\"__Timestamp__\",\"value\":1700000000000}"));
    free(text);
    bx_msg_unref(m);
  }
  bxt_env_free(e);
}

static void test_attributes(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_msg *m = decode_ok(e->ctx,
                        "{\"object\":null,\"attributes\":{\"x\":1,\"replyBox\":{\"class\":"
                        "\"foam.box.ReturnBox\"},\"y\":{\"k\":[\"s\"]},\"x2\":\"v\"},"
                        "\"class\":\"foam.box.Message\",\"extra\":true}",
                        NULL);
  assert_null(bx_msg_object(m));
  assert_string_equal(bx_box_type(bx_msg_reply_box(m)), "return");
  char *attrs = cJSON_PrintUnformatted(bx_msg_attrs(m));
  assert_string_equal(attrs, "{\"x\":1,\"y\":{\"k\":[\"s\"]},\"x2\":\"v\"}");
  cJSON_free(attrs);
  char *out = encode_text(e->ctx, m);
  assert_string_equal(out, "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":"
                           "{\"class\":\"foam.box.ReturnBox\"},\"x\":1,\"y\":{\"k\":[\"s\"]},"
                           "\"x2\":\"v\"},\"object\":null}");
  free(out);
  bx_msg_unref(m);

  m = decode_ok(e->ctx,
                "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":null},"
                "\"object\":{\"class\":\"foam.box.HelloMessage\"}}",
                NULL);
  assert_null(bx_msg_reply_box(m));
  assert_null(bx_msg_attrs(m));
  assert_true(bx_msg_is(m, BX_CLASS_HELLO));
  bx_msg_unref(m);

  /* no attributes at all; a duplicated attribute keeps the last value */
  m = decode_ok(e->ctx, "{\"class\":\"foam.box.Message\",\"object\":1}", NULL);
  assert_null(bx_msg_reply_box(m));
  assert_int_equal((int)cJSON_GetNumberValue(bx_msg_object(m)), 1);
  bx_msg_unref(m);
  m = decode_ok(e->ctx,
                "{\"class\":\"foam.box.Message\",\"attributes\":{\"d\":1,\"d\":2},"
                "\"object\":null}",
                NULL);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(bx_msg_attrs(m), "d")), 2);
  bx_msg_unref(m);
  bxt_env_free(e);
}

/* ---- malformed frames --------------------------------------------------------------------- */

typedef struct bad_case {
  const char *what;
  const char *json;
  int code;
  const char *text; /* a substring the error text must contain, or NULL */
} bad_case;

#define MSG_OBJ(o) "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":" o "}"
#define MSG_REPLY(r) \
  "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":" r "},\"object\":null}"
#define RET "{\"class\":\"foam.box.ReturnBox\"}"

static const bad_case bad_cases[] = {
    /* syntax */
    {"empty", "", BX_EBADJSON, "empty"},
    {"blank", "  \n ", BX_EBADJSON, "byte"},
    {"truncated", "{\"class\":\"foam.box.Message\",\"object\":", BX_EBADJSON, "byte"},
    {"truncated in object", "{\"class\":\"foam.box.Message\",\"object\":{\"a\":1", BX_EBADJSON,
     NULL},
    {"truncated in string", "{\"class\":\"foam.box.Message\",\"object\":\"ab", BX_EBADJSON,
     "unterminated"},
    {"trailing garbage", MSG_OBJ("null") " x", BX_EBADJSON, "byte 59"},
    {"two values", MSG_OBJ("null") MSG_OBJ("null"), BX_EBADJSON, NULL},
    {"missing comma", "{\"class\":\"foam.box.Message\" \"object\":null}", BX_EBADJSON, NULL},
    {"single quotes", "{'class':'foam.box.Message'}", BX_EBADJSON, NULL},
    {"leading zero", MSG_OBJ("01"), BX_EBADJSON, "malformed number"},
    {"bare dot", MSG_OBJ("1."), BX_EBADJSON, "malformed number"},
    {"lone minus", MSG_OBJ("-"), BX_EBADJSON, "malformed number"},
    {"empty exponent", MSG_OBJ("1e"), BX_EBADJSON, "malformed number"},
    {"hex", MSG_OBJ("0x10"), BX_EBADJSON, NULL},
    {"NaN", MSG_OBJ("NaN"), BX_EBADJSON, NULL},
    {"raw newline in string", MSG_OBJ("\"a\nb\""), BX_EBADJSON, "control character"},
    {"raw tab in string", MSG_OBJ("\"a\tb\""), BX_EBADJSON, "control character"},
    {"control char outside", MSG_OBJ("\x01null"), BX_EBADJSON, "control character"},
    {"bad escape", MSG_OBJ("\"\\x\""), BX_EBADJSON, "escape"},
    {"bad hex escape", MSG_OBJ("\"\\u12g4\""), BX_EBADJSON, "escape"},
    {"short hex escape", MSG_OBJ("\"\\u12\""), BX_EBADJSON, "escape"},
    {"NUL escape", MSG_OBJ("\"a\\u0000b\""), BX_EBADJSON, "\\u0000"},
    {"NUL escape in key", "{\"class\\u0000x\":\"foam.box.Message\",\"object\":null}", BX_EBADJSON,
     NULL},
    {"lone low surrogate escape", MSG_OBJ("\"\\udc00\""), BX_EBADJSON, NULL},
    {"lone high surrogate escape", MSG_OBJ("\"\\ud800x\""), BX_EBADJSON, NULL},
    /* top level */
    {"top-level array", "[1,2]", BX_EBADMSG, "array"},
    {"top-level number", "42", BX_EBADMSG, "number"},
    {"top-level string", "\"foam.box.Message\"", BX_EBADMSG, "string"},
    {"top-level null", "null", BX_EBADMSG, NULL},
    {"top-level true", "true", BX_EBADMSG, NULL},
    {"missing class", "{\"attributes\":{},\"object\":null}", BX_EBADMSG, "class"},
    {"class not a string", "{\"class\":5,\"object\":null}", BX_EBADMSG, "string"},
    {"class null", "{\"class\":null,\"object\":null}", BX_EBADMSG, "string"},
    {"duplicate class", "{\"class\":\"foam.box.Message\",\"class\":\"x.Y\",\"object\":null}",
     BX_EBADMSG, "duplicate"},
    {"top level not a Message", "{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\"}", BX_EBADMSG,
     "foam.box.RPCMessage"},
    {"top level HelloMessage", "{\"class\":\"foam.box.HelloMessage\"}", BX_EBADMSG, NULL},
    /* classes */
    {"unknown class top", "{\"class\":\"evil.Klass\",\"object\":null}", BX_EUNKNOWNCLASS,
     "unknown class 'evil.Klass'"},
    {"unknown class nested", MSG_OBJ("{\"class\":\"evil.Klass\"}"), BX_EUNKNOWNCLASS,
     "unknown class 'evil.Klass'"},
    {"unknown class deep",
     MSG_OBJ("{\"class\":\"foam.box.RPCMessage\",\"name\":\"f\",\"args\":[1,{\"p\":[{\"class\":"
             "\"java.lang.Runtime\"}]}]}"),
     BX_EUNKNOWNCLASS, "java.lang.Runtime"},
    {"unknown class in attributes",
     "{\"class\":\"foam.box.Message\",\"attributes\":{\"x\":{\"class\":\"evil.A\"}},\"object\":"
     "null}",
     BX_EUNKNOWNCLASS, "evil.A"},
    {"unknown class as delegate",
     MSG_REPLY("{\"class\":\"foam.box.SubBox\",\"name\":\"1\",\"delegate\":{\"class\":\"evil."
               "Box\"}}"),
     BX_EUNKNOWNCLASS, "evil.Box"},
    {"control chars in class name", MSG_OBJ("{\"class\":\"evil\\u000aKlass\"}"), BX_EUNKNOWNCLASS,
     "evil?Klass"},
    {"box ref from the wire", MSG_OBJ("{\"class\":\"bx.BoxRef\",\"ref\":0}"), BX_EUNKNOWNCLASS,
     "bx.BoxRef"},
    {"box ref as reply box", MSG_REPLY("{\"class\":\"bx.BoxRef\",\"ref\":0}"), BX_EUNKNOWNCLASS,
     "bx.BoxRef"},
    {"nested RegisterSelfMessage",
     MSG_OBJ("{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/c\"}"), BX_EBADMSG,
     "top level"},
    /* shapes */
    {"Message attributes array", "{\"class\":\"foam.box.Message\",\"attributes\":[],\"object\":1}",
     BX_EBADMSG, "foam.box.Message.attributes must be an object"},
    {"Message attributes string",
     "{\"class\":\"foam.box.Message\",\"attributes\":\"x\",\"object\":1}", BX_EBADMSG,
     "attributes"},
    {"Message without object", "{\"class\":\"foam.box.Message\",\"attributes\":{}}", BX_EBADMSG,
     "foam.box.Message.object is missing"},
    {"nested Message without object", MSG_OBJ("{\"class\":\"foam.box.Message\"}"), BX_EBADMSG,
     "object"},
    {"SubBoxMessage name number",
     MSG_OBJ("{\"class\":\"foam.box.SubBoxMessage\",\"name\":1,\"object\":null}"), BX_EBADMSG,
     "foam.box.SubBoxMessage.name must be a string"},
    {"SubBoxMessage name missing", MSG_OBJ("{\"class\":\"foam.box.SubBoxMessage\",\"object\":1}"),
     BX_EBADMSG, "foam.box.SubBoxMessage.name is missing"},
    {"SubBoxMessage object missing",
     MSG_OBJ("{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"calc\"}"), BX_EBADMSG,
     "foam.box.SubBoxMessage.object"},
    {"RPCMessage name missing", MSG_OBJ("{\"class\":\"foam.box.RPCMessage\",\"args\":[]}"),
     BX_EBADMSG, "foam.box.RPCMessage.name"},
    {"RPCMessage name null", MSG_OBJ("{\"class\":\"foam.box.RPCMessage\",\"name\":null}"),
     BX_EBADMSG, "foam.box.RPCMessage.name must be a string"},
    {"RPCMessage args object",
     MSG_OBJ("{\"class\":\"foam.box.RPCMessage\",\"name\":\"f\",\"args\":{}}"), BX_EBADMSG,
     "foam.box.RPCMessage.args must be an array"},
    {"RPCMessage args string",
     MSG_OBJ("{\"class\":\"foam.box.RPCMessage\",\"name\":\"f\",\"args\":\"1,2\"}"), BX_EBADMSG,
     "args"},
    {"NoSuchNameException name", MSG_OBJ("{\"class\":\"foam.box.NoSuchNameException\"}"),
     BX_EBADMSG, "foam.box.NoSuchNameException.name"},
    {"RegisterSelfMessage name", "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":7}",
     BX_EBADMSG, "foam.box.RegisterSelfMessage.name must be a string"},
    {"RegisterSelfMessage no name", "{\"class\":\"foam.box.RegisterSelfMessage\"}", BX_EBADMSG,
     "name"},
    {"Timestamp value not a date", MSG_OBJ("{\"class\":\"__Timestamp__\",\"value\":\"soon\"}"),
     BX_EBADMSG, "__Timestamp__.value must be a number or an ISO-8601 date"},
    {"Timestamp local time",
     MSG_OBJ("{\"class\":\"__Timestamp__\",\"value\":\"2023-11-14T22:13:20.000\"}"), BX_EBADMSG,
     "ISO-8601"},
    {"Timestamp February 30",
     MSG_OBJ("{\"class\":\"__Timestamp__\",\"value\":\"2023-02-30T00:00:00.000Z\"}"), BX_EBADMSG,
     "ISO-8601"},
    {"Timestamp value bool", MSG_OBJ("{\"class\":\"__Timestamp__\",\"value\":true}"), BX_EBADMSG,
     "ISO-8601"},
    {"Timestamp value missing", MSG_OBJ("[{\"class\":\"__Timestamp__\"}]"), BX_EBADMSG,
     "__Timestamp__.value"},
    {"RemoteException id number",
     MSG_OBJ("{\"class\":\"foam.box.RPCErrorMessage\",\"data\":{\"class\":\"foam.box."
             "RemoteException\",\"id\":3}}"),
     BX_EBADMSG, "foam.box.RemoteException.id must be a string"},
    {"RemoteException message bool",
     MSG_OBJ("{\"class\":\"foam.box.RemoteException\",\"message\":true}"), BX_EBADMSG,
     "foam.box.RemoteException.message"},
    {"SubBox name number",
     MSG_OBJ("{\"class\":\"foam.box.SubBox\",\"name\":1,\"delegate\":" RET "}"), BX_EBADMSG,
     "foam.box.SubBox.name must be a string"},
    {"SubBox without delegate", MSG_REPLY("{\"class\":\"foam.box.SubBox\",\"name\":\"18\"}"),
     BX_EBADMSG, "foam.box.SubBox.delegate is missing"},
    {"SubBox without delegate in payload",
     MSG_OBJ("[{\"class\":\"foam.box.SubBox\",\"name\":\"18\"}]"), BX_EBADMSG, "delegate"},
    {"SubBox delegate null",
     MSG_REPLY("{\"class\":\"foam.box.SubBox\",\"name\":\"18\",\"delegate\":null}"), BX_EBADMSG,
     "foam.box.SubBox.delegate must be a box reference"},
    {"SubBox delegate string",
     MSG_REPLY("{\"class\":\"foam.box.SubBox\",\"name\":\"18\",\"delegate\":\"x\"}"), BX_EBADMSG,
     "foam.box.SubBox.delegate must be a box reference"},
    {"SubBox delegate plain object",
     MSG_REPLY("{\"class\":\"foam.box.SubBox\",\"name\":\"18\",\"delegate\":{\"name\":\"x\"}}"),
     BX_EBADMSG, "box reference"},
    {"SubBox delegate not a box",
     MSG_OBJ("{\"class\":\"foam.box.SubBox\",\"name\":\"18\",\"delegate\":{\"class\":\"foam."
             "box.HelloMessage\"}}"),
     BX_EBADMSG, "box reference"},
    {"SubBox delegate without delegate",
     MSG_REPLY("{\"class\":\"foam.box.SubBox\",\"name\":\"1\",\"delegate\":{\"class\":\"foam."
               "box.SubBox\",\"name\":\"2\"}}"),
     BX_EBADMSG, "delegate is missing"},
    {"NamedBox without name", MSG_REPLY("{\"class\":\"foam.box.NamedBox\"}"), BX_EBADMSG,
     "foam.box.NamedBox.name"},
    {"NamedBox path without slash", MSG_REPLY("{\"class\":\"foam.box.NamedBox\",\"name\":\"c\"}"),
     BX_EBADMSG, "path 'c'"},
    {"NamedBox empty segment", MSG_OBJ("[{\"class\":\"foam.box.NamedBox\",\"name\":\"/a//b\"}]"),
     BX_EBADMSG, "malformed foam.box.NamedBox path"},
    {"NamedBox root", MSG_OBJ("{\"class\":\"foam.box.NamedBox\",\"name\":\"/\"}"), BX_EBADMSG,
     "path"},
    {"NamedBox empty path",
     MSG_REPLY("{\"class\":\"foam.box.SubBox\",\"name\":\"1\",\"delegate\":{\"class\":\"foam."
               "box.NamedBox\",\"name\":\"\"}}"),
     BX_EBADMSG, "path"},
    {"reply box a string", MSG_REPLY("\"18\""), BX_EBADMSG,
     "foam.box.Message.attributes.replyBox must be a box reference"},
    {"second reply box a string",
     "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":" RET ",\"replyBox\":\"x\"},"
     "\"object\":null}",
     BX_EBADMSG, "replyBox"},
    {"reply box plain object", MSG_REPLY("{\"name\":\"18\"}"), BX_EBADMSG, "replyBox"},
    {"reply box not a box", MSG_REPLY("{\"class\":\"foam.box.HelloMessage\"}"), BX_EBADMSG,
     "replyBox"},
    /* UTF-8 */
    {"overlong slash", MSG_OBJ("\"\xc0\xaf\""), BX_EBADUTF8, "invalid UTF-8 at byte 54"},
    {"overlong C1", MSG_OBJ("\"\xc1\xbf\""), BX_EBADUTF8, "byte 54"},
    {"overlong 3-byte", MSG_OBJ("\"\xe0\x80\xaf\""), BX_EBADUTF8, "byte 54"},
    {"overlong 4-byte", MSG_OBJ("\"\xf0\x80\x80\xaf\""), BX_EBADUTF8, "byte 54"},
    {"surrogate D800", MSG_OBJ("\"a\xed\xa0\x80\""), BX_EBADUTF8, "byte 55"},
    {"surrogate DFFF", MSG_OBJ("\"\xed\xbf\xbf\""), BX_EBADUTF8, NULL},
    {"above U+10FFFF", MSG_OBJ("\"\xf4\x90\x80\x80\""), BX_EBADUTF8, NULL},
    {"F5 lead", MSG_OBJ("\"\xf5\x80\x80\x80\""), BX_EBADUTF8, NULL},
    {"0xFF", MSG_OBJ("\"\xff\""), BX_EBADUTF8, "byte 54"},
    {"0xFE in key", "{\"class\":\"foam.box.Message\",\"\xfe\":1,\"object\":null}", BX_EBADUTF8,
     "byte 29"},
    {"stray continuation", MSG_OBJ("\"\x80\""), BX_EBADUTF8, NULL},
    {"truncated sequence", MSG_OBJ("\"\xe2\x82\""), BX_EBADUTF8, "byte 54"},
    {"truncated 4-byte", MSG_OBJ("\"\xf0\x9f\x98 \""), BX_EBADUTF8, NULL},
    {"truncated at end", MSG_OBJ("\"x\"") "\xe2\x82", BX_EBADUTF8, NULL},
    {"bad UTF-8 outside strings", MSG_OBJ("\xff"), BX_EBADUTF8, NULL},
    /* numbers */
    {"2^53+1", MSG_OBJ("9007199254740993"), BX_EINEXACT, "9007199254740993 at byte 53"},
    {"-(2^53+1)", MSG_OBJ("[-9007199254740993]"), BX_EINEXACT, "as a string"},
    {"int64 max", MSG_OBJ("{\"id\":9223372036854775807}"), BX_EINEXACT, NULL},
    {"2^64+1", MSG_OBJ("18446744073709551617"), BX_EINEXACT, NULL},
    {"near a JS rendering", MSG_OBJ("9223372036854776001"), BX_EINEXACT, NULL},
    {"10^24", MSG_OBJ("1000000000000000000000000"), BX_EINEXACT, NULL},
    {"30 digits", MSG_OBJ("123456789012345678901234567890"), BX_EINEXACT, NULL},
    {"inexact in attributes",
     "{\"class\":\"foam.box.Message\",\"attributes\":{\"n\":12345678901234567},\"object\":1}",
     BX_EINEXACT, NULL},
    {"overflow to infinity", MSG_OBJ("1e400"), BX_EINEXACT, "range"},
    {"negative overflow", MSG_OBJ("-1.5E+999"), BX_EINEXACT, "range"},
    {"too long literal",
     MSG_OBJ("1.0000000000000000000000000000000000000000000000000000000000000001"), BX_EBADJSON,
     "too long"},
};

static void check_bad(bx_ctx *ctx, const bad_case *c, size_t len) {
  bx_msg *m = (bx_msg *)&m; /* must be cleared */
  bx_codec_error err;
  memset(&err, 0x55, sizeof err);
  int rc = bx_decode(ctx, c->json, len, NULL, &m, &err);
  if (rc != c->code)
    fail_msg("%s: got %s (%s), want %s", c->what, bx_err_name(rc), rc ? err.text : "",
             bx_err_name(c->code));
  assert_null(m);
  assert_int_equal(err.code, rc);
  assert_true(strlen(err.text) > 0);
  assert_null(strchr(err.text, '\n'));
  if (c->text && strstr(err.text, c->text) == NULL)
    fail_msg("%s: error text \"%s\" lacks \"%s\"", c->what, err.text, c->text);
  /* err is optional */
  m = (bx_msg *)&m;
  assert_int_equal(bx_decode(ctx, c->json, len, NULL, &m, NULL), rc);
  assert_null(m);
}

/* Integers as JavaScript writes large doubles (shortest digits padded with zeros) carry exactly
 * the value their sender had, so they decode to that double. */
static void test_js_rendered_integers(void **state) {
  (void)state;
  static const struct {
    const char *literal;
    double value;
  } ok[] = {
      {"9223372036854776000", 9223372036854775808.0},
      {"18446744073709552000", 18446744073709551616.0},
      {"100000000000000000000", 1e20},
      {"-9007199254740994", -9007199254740994.0},
  };
  bxt_env *e = bxt_env_new(NULL);
  char frame[160];
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    snprintf(frame, sizeof frame, MSG_OBJ("%s"), ok[i].literal);
    bx_msg *m = NULL;
    bx_codec_error err;
    assert_int_equal(bx_decode(e->ctx, frame, strlen(frame), NULL, &m, &err), 0);
    assert_true(bx_msg_object(m)->valuedouble == ok[i].value);
    bx_msg_unref(m);
  }
  bxt_env_free(e);
}

static void test_malformed(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *origin = NULL;
  bx_null_box_new(e->ctx, &origin);
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
    check_bad(e->ctx, &bad_cases[i], strlen(bad_cases[i].json));
  /* a NUL byte inside the frame, and a frame cut inside a reply box */
  const bad_case nul = {"NUL byte", MSG_OBJ("null") "\0", BX_EBADJSON, NULL};
  check_bad(e->ctx, &nul, strlen(nul.json) + 1);
  const bad_case nul_str = {"NUL in string", MSG_OBJ("\"a\0b\""), BX_EBADJSON, "control"};
  check_bad(e->ctx, &nul_str, strlen(MSG_OBJ("\"a")) + 4);
  /* nothing was registered or left behind by the failures */
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->ctx)), 0);
  bx_box_unref(origin);
  bxt_env_free(e);
}

/* Every proper prefix of a valid frame is refused cleanly (and nothing leaks). */
static void test_truncations(void **state) {
  (void)state;
  bxt_env *e = env_captures();
  frames fs = load_captures();
  const char *picks[][2] = {{"ws-foam2-head.jsonl", "3"},
                            {"ws-foam2-head.jsonl", "12"},
                            {"tcp-foam2-2018.jsonl", "2"},
                            {"ws-foam2-head-types.jsonl", "19"}};
  for (size_t p = 0; p < sizeof picks / sizeof picks[0]; p++) {
    const char *json = capture(&fs, picks[p][0], atoi(picks[p][1]));
    for (size_t len = 0; len < strlen(json); len++) {
      bx_msg *m = (bx_msg *)&m;
      bx_codec_error err;
      int rc = bx_decode(e->ctx, json, len, NULL, &m, &err);
      assert_true(rc == BX_EBADJSON || rc == BX_EBADUTF8);
      assert_null(m);
    }
  }
  free_captures(&fs);
  bxt_env_free(e);
}

static char *nested(const char *head, int levels, const char *tail) {
  size_t n = strlen(head) + 2 * (size_t)levels + strlen(tail) + 8;
  char *s = malloc(n), *o = s;
  assert_non_null(s);
  o += sprintf(o, "%s", head);
  for (int i = 0; i < levels; i++)
    *o++ = '[';
  *o++ = '1';
  for (int i = 0; i < levels; i++)
    *o++ = ']';
  sprintf(o, "%s", tail);
  return s;
}

static int decode_rc(bx_ctx *ctx, const char *json, bx_codec_error *err) {
  bx_msg *m = NULL;
  int rc = bx_decode(ctx, json, strlen(json), NULL, &m, err);
  if (rc == 0) assert_non_null(m);
  if (rc != 0) assert_null(m);
  bx_msg_unref(m);
  return rc;
}

static void test_depth(void **state) {
  (void)state;
  bx_codec_error err;
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.max_depth = 4;
  bxt_env *small = bxt_env_new(&o);
  const char *head = "{\"class\":\"foam.box.Message\",\"object\":";
  char *s = nested(head, 3, "}"); /* 1 object + 3 arrays */
  assert_int_equal(decode_rc(small->ctx, s, &err), 0);
  free(s);
  s = nested(head, 4, "}");
  assert_int_equal(decode_rc(small->ctx, s, &err), BX_ETOODEEP);
  assert_non_null(strstr(err.text, "nesting deeper than 4 levels"));
  free(s);
  assert_int_equal(decode_rc(small->ctx,
                             "{\"class\":\"foam.box.Message\",\"attributes\":{\"a\":{\"b\":{\"c\":"
                             "{}}}},\"object\":null}",
                             &err),
                   BX_ETOODEEP);
  bxt_env_free(small);

  bxt_env *e = bxt_env_new(NULL);
  s = nested(head, BX_DEFAULT_MAX_DEPTH - 1, "}");
  assert_int_equal(decode_rc(e->ctx, s, &err), 0);
  free(s);
  s = nested(head, BX_DEFAULT_MAX_DEPTH, "}");
  assert_int_equal(decode_rc(e->ctx, s, &err), BX_ETOODEEP);
  free(s);
  s = nested(head, 2000, "}");
  assert_int_equal(decode_rc(e->ctx, s, &err), BX_ETOODEEP);
  assert_non_null(strstr(err.text, "nesting deeper than 64 levels"));
  free(s);
  /* 200000 unclosed brackets: refused by the scan, never handed to the recursive parser */
  size_t n = 200000;
  char *deep = malloc(n + 1);
  memset(deep, '[', n);
  deep[n] = '\0';
  assert_int_equal(decode_rc(e->ctx, deep, &err), BX_ETOODEEP);
  memset(deep, '{', n);
  assert_int_equal(decode_rc(e->ctx, deep, &err), BX_ETOODEEP);
  free(deep);
  bxt_env_free(e);
}

static void test_size_cap(void **state) {
  (void)state;
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.max_frame = 100;
  bxt_env *e = bxt_env_new(&o);
  char frame[128];
  const char *head = "{\"class\":\"foam.box.Message\",\"object\":\"";
  memset(frame, 'x', sizeof frame);
  memcpy(frame, head, strlen(head));
  memcpy(frame + 98, "\"}", 2); /* exactly 100 bytes */
  bx_msg *m = NULL;
  bx_codec_error err;
  assert_int_equal(bx_decode(e->ctx, frame, 100, NULL, &m, &err), 0);
  bx_msg_unref(m);
  memcpy(frame + 98, "x\"}", 3); /* 101 bytes */
  m = (bx_msg *)&m;
  assert_int_equal(bx_decode(e->ctx, frame, 101, NULL, &m, &err), BX_EMSGSIZE);
  assert_null(m);
  assert_non_null(strstr(err.text, "101"));
  /* the size is checked before anything else looks at the bytes */
  memset(frame, 0xff, sizeof frame);
  assert_int_equal(bx_decode(e->ctx, frame, sizeof frame, NULL, &m, &err), BX_EMSGSIZE);
  bxt_env_free(e);
}

static void test_bad_arguments(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_msg *m = (bx_msg *)&m;
  bx_codec_error err;
  assert_int_equal(bx_decode(NULL, "{}", 2, NULL, &m, &err), BX_EINVAL);
  assert_null(m);
  assert_int_equal(bx_decode(e->ctx, NULL, 2, NULL, &m, &err), BX_EINVAL);
  assert_int_equal(bx_decode(e->ctx, "{}", 2, NULL, NULL, &err), BX_EINVAL);
  assert_int_equal(bx_decode(e->ctx, NULL, 0, NULL, &m, &err), BX_EBADJSON);
  bx_buf b = {0};
  bx_msg *msg = NULL;
  bx_msg_new(NULL, &msg);
  assert_int_equal(bx_encode(NULL, msg, NULL, &b), BX_EINVAL);
  assert_int_equal(bx_encode(e->ctx, NULL, NULL, &b), BX_EINVAL);
  assert_int_equal(bx_encode(e->ctx, msg, NULL, NULL), BX_EINVAL);
  bx_msg_unref(msg);
  bxt_env_free(e);
}

/* ---- what the scan accepts ---------------------------------------------------------------- */

static void test_numbers_accepted(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  const char *json = MSG_OBJ("[0,-0,1,-1,9007199254740992,-9007199254740992,9007199254740994,"
                             "123456789012345,9223372036854775808,-9223372036854775808,"
                             "18446744073709551616,100000000000000000000,"
                             "10000000000000000000000,1.5,9007199254740993.0,1e21,1E-400,"
                             "2.5e+3,-0.0]");
  bx_msg *m = decode_ok(e->ctx, json, NULL);
  const cJSON *a = bx_msg_object(m);
  const double want[] = {0,
                         0,
                         1,
                         -1,
                         9007199254740992.0,
                         -9007199254740992.0,
                         9007199254740994.0,
                         123456789012345.0,
                         9223372036854775808.0,
                         -9223372036854775808.0,
                         18446744073709551616.0,
                         1e20,
                         1e22,
                         1.5,
                         9007199254740992.0,
                         1e21,
                         0,
                         2500,
                         0};
  assert_int_equal(cJSON_GetArraySize(a), sizeof want / sizeof want[0]);
  for (int i = 0; i < cJSON_GetArraySize(a); i++)
    assert_true(cJSON_GetArrayItem(a, i)->valuedouble == want[i]);
  char *out = encode_text(e->ctx, m);
  assert_string_equal(out, MSG_OBJ("[0,0,1,-1,9007199254740992,-9007199254740992,"
                                   "9007199254740994,123456789012345,9223372036854775808,"
                                   "-9223372036854775808,18446744073709551616,"
                                   "100000000000000000000,1e+22,1.5,9007199254740992,1e+21,0,"
                                   "2500,0]"));
  free(out);
  bx_msg_unref(m);
  bxt_env_free(e);
}

static void test_strings_accepted(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  const char *json = MSG_OBJ("[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                             "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\",\"\\u00e9\\ud83d\\ude00\\/\\b\\f"
                             "\\n\\r\\t\\\"\\\\\\u001F\",\"\xe2\x80\xa8\"]");
  bx_msg *m = decode_ok(e->ctx, json, NULL);
  const cJSON *a = bx_msg_object(m);
  assert_string_equal(cJSON_GetArrayItem(a, 0)->valuestring,
                      "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                      "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
  assert_string_equal(cJSON_GetArrayItem(a, 1)->valuestring,
                      "\xc3\xa9\xf0\x9f\x98\x80/\b\f\n\r\t\"\\\x1f");
  char *out = encode_text(e->ctx, m);
  assert_string_equal(out, MSG_OBJ("[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
                                   "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\",\"\xc3\xa9"
                                   "\xf0\x9f\x98\x80/\\u0008\\u000c\\u000a\\u000d\\u0009\\\"\\\\"
                                   "\\u001f\",\"\xe2\x80\xa8\"]"));
  free(out);
  bx_msg_unref(m);
  /* a byte-order mark before the frame, whitespace around it */
  m = decode_ok(e->ctx, "\xef\xbb\xbf \r\n\t" MSG_OBJ("1") " \n", NULL);
  bx_msg_unref(m);
  bxt_env_free(e);
}

/* bx__utf8_valid() (the WebSocket transport's check of text messages) skips ASCII eight bytes
 * at a time: a bad sequence is found at every position, a good one accepted. */
static void test_utf8_valid_every_position(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    bool valid;
  } probes[] = {
      {"\xc3\xa9", true},  {"\xf0\x9f\x98\x80", true}, {"\xe2\x82\xac", true},      {"\xff", false},
      {"\xc0\xaf", false}, {"\xed\xa0\x80", false},    {"\xf4\x90\x80\x80", false}, {"\x80", false},
      {"\xe2\x82", false},
  };
  unsigned char buf[64];
  for (size_t len = 0; len < 40; len++)
    for (size_t at = 0; at <= len; at++)
      for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
        size_t n = strlen(probes[p].bytes);
        memset(buf, 'a', sizeof buf);
        memcpy(buf + at, probes[p].bytes, n);
        size_t total = len + n; /* "\xe2\x82" is cut short by the end or by an 'a' */
        bool want = probes[p].valid;
        if (bx__utf8_valid(buf, total) != want)
          fail_msg("probe %zu at %zu of %zu: expected %s", p, at, total,
                   want ? "valid" : "invalid");
      }
  assert_true(bx__utf8_valid((const unsigned char *)"", 0));
}

/* The scan skips string bodies eight bytes at a time: every special byte must be seen at every
 * position, however the string is aligned. */
static void test_scan_alignment(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  const char *head = "{\"class\":\"foam.box.Message\",\"object\":\"";
  const size_t hl = strlen(head);
  char frame[128], want[128];
  for (size_t len = 0; len < 40; len++) {
    for (size_t at = 0; at < len; at++) {
      struct {
        const char *bytes;
        size_t n;
        int code;
        const char *value; /* decoded string for accepted bytes */
      } probes[] = {
          {"\\\"", 2, 0, "\""},           {"\\\\", 2, 0, "\\"},
          {"\xc3\xa9", 2, 0, "\xc3\xa9"}, {"\xff", 1, BX_EBADUTF8, NULL},
          {"\x1f", 1, BX_EBADJSON, NULL}, {"\xed\xa0\x80", 3, BX_EBADUTF8, NULL},
      };
      for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
        size_t o = hl;
        memcpy(frame, head, hl);
        memset(frame + o, 'a', at);
        o += at;
        memcpy(frame + o, probes[p].bytes, probes[p].n);
        o += probes[p].n;
        memset(frame + o, 'b', len - at);
        o += len - at;
        memcpy(frame + o, "\"}", 2);
        o += 2;
        bx_msg *m = NULL;
        bx_codec_error err;
        int rc = bx_decode(e->ctx, frame, o, NULL, &m, &err);
        assert_int_equal(rc, probes[p].code);
        if (rc != 0) {
          char where[32];
          snprintf(where, sizeof where, "byte %zu", hl + at);
          if (strstr(err.text, where) == NULL) fail_msg("'%s' lacks '%s'", err.text, where);
          continue;
        }
        snprintf(want, sizeof want, "%.*s%s%.*s", (int)at,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", probes[p].value, (int)(len - at),
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        assert_string_equal(bx_msg_object(m)->valuestring, want);
        bx_msg_unref(m);
      }
    }
  }
  bxt_env_free(e);
}

/* ---- encoding ----------------------------------------------------------------------------- */

static void noop_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  (void)msg;
  (void)data;
}

/* Checks that wire is SubBox{name, ReturnBox} and returns the name. */
static const char *exported_name(const cJSON *wire) {
  assert_string_equal(bx_json_class(wire), BX_CLASS_SUB_BOX);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(wire, "name");
  assert_true(cJSON_IsString(name));
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(wire, "delegate");
  assert_string_equal(bx_json_class(d), BX_CLASS_RETURN_BOX);
  assert_int_equal(cJSON_GetArraySize(d), 1);
  return name->valuestring;
}

static void test_encode_exports_reply(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *reg = bx_ctx_registry(e->ctx);
  bx_box *boxes[2];
  assert_int_equal(bx_function_box_new(e->ctx, noop_fn, NULL, NULL, &boxes[0]), 0);
  assert_int_equal(bx_null_box_new(e->ctx, &boxes[1]), 0);
  for (int i = 0; i < 2; i++) {
    bx_msg *m = bxt_msg("{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"calc\",\"object\":"
                        "{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2]}}");
    bx_msg_set_reply_box(m, boxes[i]);
    char *out = encode_text(e->ctx, m);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(j->child->string, "class");
    assert_string_equal(j->child->next->string, "attributes");
    assert_string_equal(j->child->next->next->string, "object");
    const cJSON *rb = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "attributes"), "replyBox");
    const char *name = exported_name(rb);
    assert_ptr_equal(bx_lookup(reg, name), boxes[i]);
    /* the rest of the frame is the payload as given */
    char *payload = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "object"));
    char *given = bxt_json(m);
    assert_string_equal(payload, given);
    cJSON_free(payload);
    cJSON_free(given);
    /* the frame decodes back to a Sub box of that name over a Return box */
    bx_msg *back = decode_ok(e->ctx, out, NULL);
    assert_string_equal(bx_sub_box_name(bx_msg_reply_box(back)), name);
    bx_msg_unref(back);
    cJSON_Delete(j);
    free(out);
    bx_msg_unref(m);
  }
  assert_int_equal(bx_registry_size(reg), 2);
  bx_box_unref(boxes[0]);
  bx_box_unref(boxes[1]);
  bxt_env_free(e);
}

static void test_encode_exports_payload_box(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *reg = bx_ctx_registry(e->ctx);
  bx_box *cb = NULL;
  bx_function_box_new(e->ctx, noop_fn, NULL, NULL, &cb);
  bx_box *named = NULL;
  bx_named_box(e->ctx, "/peer/svc", &named);
  bx_msg *m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"register\",\"args\":"
                      "[\"cb\",null]}");
  cJSON *args = cJSON_GetObjectItem(bx_msg_object(m), "args");
  cJSON_AddItemToArray(args, bx_msg_box_ref(m, cb));
  cJSON_AddItemToArray(args, bx_msg_box_ref(m, named));
  char *before = bxt_json(m);
  unsigned refs = bx_msg_refcount(m);

  char *out = encode_text(e->ctx, m);
  cJSON *j = cJSON_Parse(out);
  const cJSON *wargs = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "object"), "args");
  assert_int_equal(cJSON_GetArraySize(wargs), 4);
  const char *name = exported_name(cJSON_GetArrayItem(wargs, 2));
  assert_ptr_equal(bx_lookup(reg, name), cb);
  char *nb = cJSON_PrintUnformatted(cJSON_GetArrayItem(wargs, 3));
  assert_string_equal(nb, "{\"class\":\"foam.box.NamedBox\",\"name\":\"/peer/svc\"}");
  cJSON_free(nb);
  /* no reply box: attributes are still written, empty */
  assert_true(strstr(out, "\"attributes\":{},") != NULL);

  /* encoding changed nothing in the message */
  char *after = bxt_json(m);
  assert_string_equal(before, after);
  assert_int_equal(bx_msg_refcount(m), refs);
  assert_int_equal(bx_msg_box_count(m), 2);
  assert_null(bx_msg_reply_box(m));
  assert_null(bx_msg_attrs(m));
  cJSON_free(before);
  cJSON_free(after);
  cJSON_Delete(j);
  free(out);
  bx_msg_unref(m);
  bx_box_unref(named);
  bx_box_unref(cb);
  bxt_env_free(e);
}

/* A placeholder that is not the message's own cannot be written. */
static void test_encode_foreign_placeholder(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_msg *m = bxt_msg("[{\"class\":\"bx.BoxRef\",\"ref\":0}]");
  bx_buf b = {0};
  assert_int_equal(bx_buf_append(&b, "keep", 4), 0);
  assert_int_equal(bx_encode(e->ctx, m, NULL, &b), BX_EINVAL);
  assert_int_equal(b.len, 4);
  bx_buf_free(&b);
  bx_msg_unref(m);
  bxt_env_free(e);
}

static void test_encode_size_cap(void **state) {
  (void)state;
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.max_frame = 200;
  bxt_env *e = bxt_env_new(&o);
  bx_box *reg = bx_ctx_registry(e->ctx);
  bx_box *cb = NULL;
  bx_function_box_new(e->ctx, noop_fn, NULL, NULL, &cb);
  char json[512];
  snprintf(json, sizeof json, "{\"class\":\"foam.box.RPCReturnMessage\",\"data\":\"%0300d\"}", 0);
  bx_msg *m = bxt_msg(json);
  bx_msg_set_reply_box(m, cb);
  bx_buf b = {0};
  assert_int_equal(bx_buf_append(&b, "previous frame", 14), 0);
  assert_int_equal(bx_encode(e->ctx, m, NULL, &b), BX_EMSGSIZE);
  assert_int_equal(b.len, 14);
  assert_memory_equal(b.base, "previous frame", 14);
  assert_int_equal(bx_registry_size(reg), 0); /* the reply box export was undone */
  bx_msg_unref(m);

  /* a payload box exported before the frame overflows is undone too */
  m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"f\",\"args\":[]}");
  cJSON *args = cJSON_GetObjectItem(bx_msg_object(m), "args");
  cJSON_AddItemToArray(args, bx_msg_box_ref(m, cb));
  cJSON_AddItemToArray(args, cJSON_CreateString(json));
  assert_int_equal(bx_encode(e->ctx, m, NULL, &b), BX_EMSGSIZE);
  assert_int_equal(b.len, 14);
  assert_int_equal(bx_registry_size(reg), 0);
  bx_msg_unref(m);

  /* at the cap exactly is fine */
  m = bxt_msg("{\"class\":\"foam.box.HelloMessage\"}");
  b.len = 0;
  assert_int_equal(bx_encode(e->ctx, m, NULL, &b), 0);
  size_t exact = b.len;
  bx_msg_unref(m);
  o.max_frame = exact;
  bxt_env *e2 = bxt_env_new(&o);
  m = bxt_msg("{\"class\":\"foam.box.HelloMessage\"}");
  b.len = 0;
  assert_int_equal(bx_encode(e2->ctx, m, NULL, &b), 0);
  assert_int_equal(b.len, exact);
  bx_msg_set_attr(m, "x", cJSON_CreateNumber(1));
  b.len = 0;
  assert_int_equal(bx_encode(e2->ctx, m, NULL, &b), BX_EMSGSIZE);
  assert_int_equal(b.len, 0);
  bx_msg_unref(m);
  bxt_env_free(e2);

  bx_buf_free(&b);
  bx_box_unref(cb);
  bxt_env_free(e);
}

static void test_encode_null_payload(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_msg *m = NULL;
  bx_msg_new(NULL, &m);
  char *out = encode_text(e->ctx, m);
  assert_string_equal(out, "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":null}");
  free(out);
  bx_msg_unref(m);
  bxt_env_free(e);
}

/* ---- long strings ------------------------------------------------------------------------- */

/* Appends n copies of the UTF-8 text unit to b. */
static void put_repeat(bx_buf *b, const char *unit, size_t n) {
  for (size_t i = 0; i < n; i++)
    assert_int_equal(bx_buf_append(b, unit, strlen(unit)), 0);
}

static void put_str(bx_buf *b, const char *s) {
  assert_int_equal(bx_buf_append(b, s, strlen(s)), 0);
}

/* Long strings reach cJSON as stand-ins and come back as the original bytes: values, keys,
 * UTF-8, more of them than the scan records, next to long strings with escapes. The result
 * must be what cJSON makes of the frame itself. */
static void test_long_strings(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_buf b = {0};
  put_str(&b, "{\"class\":\"foam.box.Message\",\"object\":{\"a\":\"");
  put_repeat(&b, "x", BX__JSON_SPAN_MIN); /* exactly at the threshold */
  put_str(&b, "\",\"");
  put_repeat(&b, "k", 150); /* a key */
  put_str(&b, "\":\"");
  put_repeat(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 40); /* two-, three-, four-byte UTF-8 */
  put_str(&b, "\",\"esc\":\"");
  put_repeat(&b, "y", 200);
  put_str(&b, "\\n\\u00e9");
  put_repeat(&b, "y", 200);
  put_str(&b, "\",\"short\":\"");
  put_repeat(&b, "z", BX__JSON_SPAN_MIN - 1);
  put_str(&b, "\",\"many\":[");
  for (int i = 0; i < BX__JSON_SPANS_MAX + 5; i++) {
    char head[16];
    snprintf(head, sizeof head, "%s\"%02d", i ? "," : "", i);
    put_str(&b, head);
    put_repeat(&b, "m", 300 + (size_t)i);
    put_str(&b, "\"");
  }
  put_str(&b, "]}}");
  assert_int_equal(bx_buf_append(&b, "", 1), 0);

  bx_msg *m = decode_ok(e->ctx, b.base, NULL);
  cJSON *ref = cJSON_Parse(b.base);
  assert_non_null(ref);
  cJSON *want = cJSON_GetObjectItem(ref, "object");
  char *got_text = cJSON_PrintUnformatted(bx_msg_object(m));
  char *want_text = cJSON_PrintUnformatted(want);
  assert_string_equal(got_text, want_text);
  assert_int_equal(strlen(cJSON_GetObjectItem(bx_msg_object(m), "a")->valuestring),
                   BX__JSON_SPAN_MIN);
  cJSON_free(got_text);
  cJSON_free(want_text);
  cJSON_Delete(ref);
  bx_msg_unref(m);
  bx_buf_free(&b);
  bxt_env_free(e);
}

/* Errors after a long string report offsets in the frame, not in the text cJSON parsed. */
static void test_long_string_error_offsets(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  size_t lens[2] = {BX__JSON_SPAN_MIN - 1, 1000}; /* without and with a stand-in */
  bx_codec_error err[2][2];
  for (int k = 0; k < 2; k++) {
    for (int bad = 0; bad < 2; bad++) {
      bx_buf b = {0};
      put_str(&b, "{\"class\":\"foam.box.Message\",\"object\":\"");
      put_repeat(&b, "x", lens[k]);
      put_str(&b, bad ? "\" x}" : "\",\"b\":\"q\"} x");
      assert_int_equal(bx_buf_append(&b, "", 1), 0);
      assert_int_equal(decode_rc(e->ctx, b.base, &err[k][bad]), BX_EBADJSON);
      bx_buf_free(&b);
    }
  }
  for (int bad = 0; bad < 2; bad++) {
    size_t at[2];
    for (int k = 0; k < 2; k++) {
      const char *byte = strstr(err[k][bad].text, "byte ");
      assert_non_null(byte);
      at[k] = (size_t)strtoul(byte + 5, NULL, 10);
    }
    assert_int_equal(at[1], at[0] + (lens[1] - lens[0]));
  }
  bxt_env_free(e);
}

/* ---- lazy payloads ------------------------------------------------------------------------ */

/* A box that keeps the last message sent to it. */
static int keep_send(bx_box *self, bx_msg *msg) {
  bx_msg **slot = bx_box_priv(self);
  bx_msg_unref(*slot);
  *slot = msg;
  return 0;
}

static void keep_destroy(bx_box *self) {
  bx_msg **slot = bx_box_priv(self);
  bx_msg_unref(*slot);
}

static const bx_box_ops keep_ops = {
    .version = BX_BOX_OPS_VERSION, .type = "keep", .send = keep_send, .destroy = keep_destroy};

/* Blanks the names of exports (SubBox over a ReturnBox) everywhere under node. */
static void forget_export_names(cJSON *node) {
  const char *cls = bx_json_class(node);
  if (cls && strcmp(cls, BX_CLASS_SUB_BOX) == 0 &&
      strcmp(bx_json_class(cJSON_GetObjectItem(node, "delegate")), BX_CLASS_RETURN_BOX) == 0)
    cJSON_ReplaceItemInObject(node, "name", cJSON_CreateString("-"));
  for (cJSON *c = node ? node->child : NULL; c != NULL; c = c->next)
    forget_export_names(c);
}

/* Sends a lazy message through `layers` SubBoxes (outermost named s0, names with characters
 * that need escapes) into a keeping box, and checks that what arrives encodes to the same bytes
 * before and after its tree is built. */
static void lazy_case(bxt_env *e, const char *cls, const char *name, const char *key,
                      const char *body, int layers, bool box_arg) {
  bx_box *keep = NULL;
  bx_box_new(e->ctx, &keep_ops, sizeof(bx_msg *), &keep);
  bx_box *first = bx_box_ref(keep);
  for (int i = layers - 1; i >= 0; i--) {
    char sub[32];
    snprintf(sub, sizeof sub, "s%d \"q\"\n\\", i);
    bx_box *s = NULL;
    bx_sub_box_new(e->ctx, sub, first, &s);
    bx_box_unref(first);
    first = s;
  }
  bx_msg *m = bx__msg_new_lazy(cls, name, key);
  assert_non_null(m);
  bx_box *fn = NULL;
  bx_function_box_new(e->ctx, noop_fn, NULL, NULL, &fn);
  cJSON *b = body ? cJSON_Parse(body) : NULL;
  if (box_arg) cJSON_AddItemToArray(b, bx_msg_box_ref(m, fn));
  bx__msg_lazy_body(m, b);
  bx_msg_set_reply_box(m, fn);
  assert_int_equal(bx_send(first, m), 0);
  bx_msg *got = *(bx_msg **)bx_box_priv(keep);
  assert_non_null(got);
  assert_int_equal(got->lazy != NULL, layers <= BX__LAZY_SUBS);
  const char *cls_before = bx_msg_class(got);
  char *lazy = encode_text(e->ctx, got);
  assert_non_null(bx_msg_object(got)); /* builds the tree */
  assert_null(got->lazy);
  assert_string_equal(bx_msg_class(got), cls_before);
  char *tree = encode_text(e->ctx, got);
  /* the exported names differ from one encode to the next; everything else must not */
  cJSON *a = cJSON_Parse(lazy), *t = cJSON_Parse(tree);
  assert_non_null(a);
  assert_non_null(t);
  forget_export_names(a);
  forget_export_names(t);
  char *pa = cJSON_PrintUnformatted(a), *pt = cJSON_PrintUnformatted(t);
  assert_string_equal(pa, pt);
  /* and byte for byte after the reply box */
  if (!box_arg) assert_string_equal(lazy + strcspn(lazy, "}"), tree + strcspn(tree, "}"));
  cJSON_free(pa);
  cJSON_free(pt);
  cJSON_Delete(a);
  cJSON_Delete(t);
  free(lazy);
  free(tree);
  bx_box_unref(fn);
  bx_box_unref(first);
  bx_box_unref(keep);
}

static void test_lazy_payload_encodes_as_its_tree(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  const char *long_name = "a_method_name_longer_than_the_inline_buffer_of_a_lazy_payload";
  for (int layers = 0; layers <= BX__LAZY_SUBS + 1; layers++) {
    lazy_case(e, BX_CLASS_RPC_MESSAGE, "add", "args", "[1,\"x\\u0001\"]", layers, false);
    lazy_case(e, BX_CLASS_RPC_MESSAGE, "q\"\\\n", "args", NULL, layers, false);
    lazy_case(e, BX_CLASS_RPC_MESSAGE, long_name, "args", "[]", layers, false);
    lazy_case(e, BX_CLASS_RPC_MESSAGE, "f", "args", "[2]", layers, true);
    lazy_case(e, BX_CLASS_RPC_RETURN, NULL, "data", "{\"k\":[null,true,1.5]}", layers, false);
    lazy_case(e, BX_CLASS_RPC_RETURN, NULL, "data", NULL, layers, false);
  }
  bxt_env_free(e);
}

/* One exact frame, and the sharing rules: a shared lazy message is copied before it is
 * wrapped, and the copy is what changes. */
static void test_lazy_payload_exact_and_shared(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *keep = NULL;
  bx_box_new(e->ctx, &keep_ops, sizeof(bx_msg *), &keep);
  bx_box *sub = NULL;
  bx_sub_box_new(e->ctx, "calc", keep, &sub);
  bx_msg *m = bx__msg_new_lazy(BX_CLASS_RPC_MESSAGE, "add", "args");
  bx__msg_lazy_body(m, cJSON_Parse("[1,2]"));
  assert_string_equal(bx_msg_class(m), BX_CLASS_RPC_MESSAGE);
  bx_msg_ref(m); /* shared */
  assert_int_equal(bx_send(sub, m), 0);
  bx_msg *got = *(bx_msg **)bx_box_priv(keep);
  assert_ptr_not_equal(got, m);
  assert_true(bx_msg_is(got, BX_CLASS_SUB_BOX_MESSAGE));
  char *out = encode_text(e->ctx, got);
  assert_string_equal(out, "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":"
                           "{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"calc\",\"object\":"
                           "{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2]}}}");
  free(out);
  out = encode_text(e->ctx, m); /* the original still stands for RPCMessage */
  assert_string_equal(out, "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":"
                           "{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2]}}");
  free(out);
  /* replacing the payload drops the parts */
  bx_msg_set_object(m, cJSON_CreateNumber(7));
  assert_null(m->lazy);
  out = encode_text(e->ctx, m);
  assert_string_equal(out, "{\"class\":\"foam.box.Message\",\"attributes\":{},\"object\":7}");
  free(out);
  bx_msg_unref(m);
  bx_box_unref(sub);
  bx_box_unref(keep);
  bxt_env_free(e);
}

static void test_register_self_round_trip(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  const char *wire = "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/client\","
                     "\"attributes\":{}}";
  bx_msg *m = decode_ok(e->ctx, wire, NULL);
  assert_true(bx_msg_is(m, BX_CLASS_REGISTER_SELF));
  assert_null(bx_msg_reply_box(m));
  char *out = encode_text(e->ctx, m);
  assert_string_equal(out, wire);
  free(out);
  bx_msg_unref(m);
  /* built locally, written bare: the handshake is never wrapped in a Message */
  m = bxt_msg("{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/proc/7\"}");
  out = encode_text(e->ctx, m);
  assert_string_equal(out, "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/proc/7\"}");
  free(out);
  bx_msg_unref(m);
  bxt_env_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_decode_all),
      cmocka_unit_test(test_golden_reencode_head),
      cmocka_unit_test(test_golden_2018_structure),
      cmocka_unit_test(test_golden_timestamp_strings),
      cmocka_unit_test(test_shape_reply_box),
      cmocka_unit_test(test_shape_register_arg),
      cmocka_unit_test(test_shape_named_delegate),
      cmocka_unit_test(test_shape_origin),
      cmocka_unit_test(test_shape_payload_boxes),
      cmocka_unit_test(test_attributes),
      cmocka_unit_test(test_timestamp_strings),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_size_cap),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_numbers_accepted),
      cmocka_unit_test(test_strings_accepted),
      cmocka_unit_test(test_scan_alignment),
      cmocka_unit_test(test_utf8_valid_every_position),
      cmocka_unit_test(test_encode_exports_reply),
      cmocka_unit_test(test_encode_exports_payload_box),
      cmocka_unit_test(test_encode_foreign_placeholder),
      cmocka_unit_test(test_encode_size_cap),
      cmocka_unit_test(test_encode_null_payload),
      cmocka_unit_test(test_register_self_round_trip),
      cmocka_unit_test(test_long_strings),
      cmocka_unit_test(test_long_string_error_offsets),
      cmocka_unit_test(test_lazy_payload_encodes_as_its_tree),
      cmocka_unit_test(test_lazy_payload_exact_and_shared),
      cmocka_unit_test(test_js_rendered_integers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
