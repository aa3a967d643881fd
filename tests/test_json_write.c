/* The FOAM JSON writer (bx_json_write and its internal variant) and bx_buf: escaping, number
 * forms, containers, the placeholder hook and the size limit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "json_write.h"
#include "testutil.h"

/* Writes json and returns the text (NUL-terminated, caller frees). */
static char *write_text(const cJSON *json) {
  bx_buf b = {0};
  assert_int_equal(bx_json_write(&b, json), 0);
  assert_int_equal(bx_buf_append(&b, "", 1), 0);
  return b.base;
}

static void expect_written(const cJSON *json, const char *want) {
  char *got = write_text(json);
  assert_string_equal(got, want);
  free(got);
}

/* ---- bx_buf ------------------------------------------------------------------------------- */

static void test_buf(void **state) {
  (void)state;
  bx_buf b = {0};
  assert_int_equal(bx_buf_append(&b, NULL, 0), 0);
  assert_int_equal(b.len, 0);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(bx_buf_append(&b, "abc", 3), 0);
  assert_int_equal(b.len, 3000);
  assert_true(b.cap >= 3000 && b.cap < 3000 * 4);
  assert_memory_equal(b.base + 2997, "abc", 3);
  assert_int_equal(bx_buf_reserve(&b, 0), 0);
  assert_int_equal(bx_buf_reserve(&b, SIZE_MAX), BX_ENOMEM); /* len + extra overflows */
  assert_int_equal(bx_buf_reserve(&b, SIZE_MAX - b.len), BX_ENOMEM);
  assert_int_equal(b.len, 3000);
  bx_buf_free(&b);
  assert_null(b.base);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.cap, 0);
  bx_buf_free(&b); /* twice is fine */
}

/* ---- strings ------------------------------------------------------------------------------ */

typedef struct str_case {
  const char *in;
  const char *out;
} str_case;

static const str_case str_cases[] = {
    {"", "\"\""},
    {"plain text", "\"plain text\""},
    {"quote \" here", "\"quote \\\" here\""},
    {"back\\slash", "\"back\\\\slash\""},
    {"slash /", "\"slash /\""},
    {"new\nline", "\"new\\u000aline\""},
    {"\t\r\b\f", "\"\\u0009\\u000d\\u0008\\u000c\""},
    {"\x01\x1f\x1b", "\"\\u0001\\u001f\\u001b\""},
    {"del \x7f", "\"del \x7f\""},
    {"h\xc3\xa9llo \xe2\x82\xac", "\"h\xc3\xa9llo \xe2\x82\xac\""},
    {"line sep \xe2\x80\xa8 para \xe2\x80\xa9", "\"line sep \xe2\x80\xa8 para \xe2\x80\xa9\""},
    {"emoji \xf0\x9f\x98\x80", "\"emoji \xf0\x9f\x98\x80\""},
    /* the capture's echo argument */
    {"h\xc3\xa9llo \"q\" \xe2\x82\xac\n", "\"h\xc3\xa9llo \\\"q\\\" \xe2\x82\xac\\u000a\""},
    {"0123456789abcdef\"0123456789abcdef\\", "\"0123456789abcdef\\\"0123456789abcdef\\\\\""},
};

static void test_escaping(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof str_cases / sizeof str_cases[0]; i++) {
    cJSON *s = cJSON_CreateString(str_cases[i].in);
    expect_written(s, str_cases[i].out);
    cJSON_Delete(s);
  }
}

/* The writer skips plain text eight bytes at a time: a byte to escape (or a UTF-8 byte that
 * must not be) at every position of strings around those boundaries, against a plain
 * byte-by-byte escaper. */
static void test_escaping_every_position(void **state) {
  (void)state;
  static const char *const specials[] = {"\"", "\\", "\n", "\x1f", "\x7f", "\xc3\xa9"};
  for (size_t len = 1; len <= 40; len++)
    for (size_t pos = 0; pos < len; pos++)
      for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        char in[64], want[128];
        memset(in, 'a', len);
        size_t sl = strlen(specials[k]);
        memcpy(in + pos, specials[k], sl);
        size_t n = pos + sl < len ? len : pos + sl;
        in[n] = '\0';
        size_t o = 0;
        want[o++] = '"';
        for (size_t i = 0; i < n; i++) {
          unsigned char c = (unsigned char)in[i];
          if (c == '"' || c == '\\') {
            want[o++] = '\\';
            want[o++] = (char)c;
          } else if (c < 0x20) {
            o += (size_t)snprintf(want + o, sizeof want - o, "\\u%04x", c);
          } else {
            want[o++] = (char)c;
          }
        }
        want[o++] = '"';
        want[o] = '\0';
        cJSON *j = cJSON_CreateString(in);
        expect_written(j, want);
        cJSON_Delete(j);
      }
}

static void test_key_escaping(void **state) {
  (void)state;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "a\nb", 1);
  cJSON_AddStringToObject(o, "q\"\\", "v");
  cJSON_AddNullToObject(o, "\xc3\xa9");
  expect_written(o, "{\"a\\u000ab\":1,\"q\\\"\\\\\":\"v\",\"\xc3\xa9\":null}");
  cJSON_Delete(o);
}

/* ---- numbers ------------------------------------------------------------------------------ */

typedef struct num_case {
  double in;
  const char *out;
} num_case;

static void test_numbers(void **state) {
  (void)state;
  const num_case cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-1, "-1"},
      {3, "3"},
      {1.5, "1.5"},
      {-2.25, "-2.25"},
      {0.1, "0.1"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.0 / 3.0, "0.3333333333333333"},
      {123.456, "123.456"},
      {1e20, "100000000000000000000"},
      {-1e20, "-100000000000000000000"},
      {9007199254740992.0, "9007199254740992"},
      {-9007199254740992.0, "-9007199254740992"},
      {1700000000000.0, "1700000000000"},
      {9223372036854775808.0, "9223372036854775808"},   /* 2^63, exactly */
      {-9223372036854775808.0, "-9223372036854775808"}, /* -2^63 */
      {18446744073709551616.0, "18446744073709551616"}, /* 2^64 */
      {1e21, "1e+21"},
      {-1e21, "-1e+21"},
      {1e300, "1e+300"},
      {1e-7, "1e-7"},
      {-1.5e-10, "-1.5e-10"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {2.5e-308, "2.5e-308"},
      {NAN, "null"},
      {INFINITY, "null"},
      {-INFINITY, "null"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *n = cJSON_CreateNumber(cases[i].in);
    expect_written(n, cases[i].out);
    cJSON_Delete(n);
  }
}

/* Every finite double printed reads back as the same double. */
static void test_numbers_read_back(void **state) {
  (void)state;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double v;
    memcpy(&v, &x, sizeof v);
    if (!isfinite(v)) continue;
    cJSON *n = cJSON_CreateNumber(v);
    char *s = write_text(n);
    assert_null(strchr(s, ','));
    assert_true(strtod(s, NULL) == v);
    free(s);
    cJSON_Delete(n);
  }
}

/* ---- containers --------------------------------------------------------------------------- */

static void test_containers(void **state) {
  (void)state;
  cJSON *a = cJSON_CreateArray();
  expect_written(a, "[]");
  cJSON *o = cJSON_CreateObject();
  expect_written(o, "{}");
  cJSON_AddItemToArray(a, o);
  cJSON_AddItemToArray(a, cJSON_CreateArray());
  cJSON_AddItemToArray(a, cJSON_CreateTrue());
  cJSON_AddItemToArray(a, cJSON_CreateFalse());
  cJSON_AddItemToArray(a, cJSON_CreateNull());
  cJSON *inner = cJSON_AddObjectToObject(o, "plain");
  cJSON *nested = cJSON_AddArrayToObject(inner, "nested");
  cJSON_AddItemToArray(nested, cJSON_CreateNumber(1));
  cJSON_AddItemToArray(nested, cJSON_CreateNumber(2));
  cJSON_AddItemToArray(nested, cJSON_CreateArray());
  cJSON_AddStringToObject(o, "k", "v");
  cJSON_AddObjectToObject(o, "e");
  expect_written(a, "[{\"plain\":{\"nested\":[1,2,[]]},\"k\":\"v\",\"e\":{}},[],true,false,null]");
  /* a member written alone: its key and siblings are not part of it */
  expect_written(inner, "{\"nested\":[1,2,[]]}");
  expect_written(cJSON_GetObjectItem(o, "k"), "\"v\"");
  cJSON_Delete(a);
}

/* Parsed FOAM text comes back byte for byte, key order kept. */
static void test_reparse_identical(void **state) {
  (void)state;
  const char *text =
      "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":\"foam.box.SubBox\","
      "\"name\":\"18\",\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}},\"object\":{\"class\":"
      "\"foam.box.SubBoxMessage\",\"name\":\"calc\",\"object\":{\"class\":\"foam.box.RPCMessage\","
      "\"name\":\"echo\",\"args\":[{\"plain\":{\"nested\":[1,2]},\"k\":\"v\"},1.5,0,"
      "9007199254740992,null,true,\"h\xc3\xa9llo \\\"q\\\" \xe2\x82\xac\\u000a\"]}}}";
  cJSON *j = cJSON_Parse(text);
  assert_non_null(j);
  expect_written(j, text);
  cJSON_Delete(j);
}

/* Placeholders are ordinary objects to bx_json_write. */
static void test_placeholder_plain(void **state) {
  (void)state;
  cJSON *ph = cJSON_Parse("{\"class\":\"bx.BoxRef\",\"ref\":0}");
  expect_written(ph, "{\"class\":\"bx.BoxRef\",\"ref\":0}");
  cJSON_Delete(ph);
}

static void test_deep_tree(void **state) {
  (void)state;
  const int depth = 5000;
  cJSON *root = cJSON_CreateArray(), *cur = root;
  for (int i = 1; i < depth; i++) {
    cJSON *next = cJSON_CreateArray();
    cJSON_AddItemToArray(cur, next);
    cur = next;
  }
  char *s = write_text(root);
  assert_int_equal(strlen(s), 2 * depth);
  assert_int_equal(s[depth - 1], '[');
  assert_int_equal(s[depth], ']');
  free(s);
  /* cJSON_Delete recurses; unlink level by level to keep the test's own stack small. */
  while (root) {
    cJSON *child = root->child;
    root->child = NULL;
    cJSON_Delete(root);
    root = child;
  }
}

static void test_invalid_input(void **state) {
  (void)state;
  bx_buf b = {0};
  assert_int_equal(bx_json_write(&b, NULL), BX_EINVAL);
  cJSON bad = {0}; /* cJSON_Invalid */
  assert_int_equal(bx_buf_append(&b, "x", 1), 0);
  assert_int_equal(bx_json_write(&b, &bad), BX_EINVAL);
  assert_int_equal(b.len, 1);
  cJSON *a = cJSON_CreateArray();
  cJSON_AddItemToArray(a, cJSON_CreateNumber(1));
  cJSON bad2 = {0};
  cJSON_AddItemReferenceToArray(a, &bad2); /* a reference node copies the invalid type */
  assert_int_equal(bx_json_write(&b, a), BX_EINVAL);
  assert_int_equal(b.len, 1); /* restored */
  cJSON_Delete(a);
  bx_buf_free(&b);
}

/* ---- the internal variant ------------------------------------------------------------------ */

static int hook_calls;

static int hook(void *data, bx_buf *out, const cJSON *node) {
  size_t i;
  assert_true(bx__json_is_box_ref(node, &i));
  hook_calls++;
  char text[32];
  snprintf(text, sizeof text, "\"%s#%zu\"", (const char *)data, i);
  return bx_buf_append(out, text, strlen(text));
}

static int failing_hook(void *data, bx_buf *out, const cJSON *node) {
  (void)data;
  (void)node;
  bx_buf_append(out, "junk", 4);
  return BX_ENOROUTE;
}

static void test_write_ex_hook(void **state) {
  (void)state;
  cJSON *j = cJSON_Parse("{\"args\":[{\"class\":\"bx.BoxRef\",\"ref\":0},1,"
                         "{\"x\":{\"class\":\"bx.BoxRef\",\"ref\":3}}]}");
  bx_buf b = {0};
  hook_calls = 0;
  assert_int_equal(bx__json_write_ex(&b, j, SIZE_MAX, hook, "box"), 0);
  assert_int_equal(hook_calls, 2);
  assert_int_equal(bx_buf_append(&b, "", 1), 0);
  assert_string_equal(b.base, "{\"args\":[\"box#0\",1,{\"x\":\"box#3\"}]}");
  /* a placeholder at the root */
  b.len = 0;
  assert_int_equal(bx__json_write_ex(&b, cJSON_GetArrayItem(cJSON_GetObjectItem(j, "args"), 0),
                                     SIZE_MAX, hook, "r"),
                   0);
  assert_int_equal(b.len, 5);
  assert_memory_equal(b.base, "\"r#0\"", 5);
  /* the hook's error stops the write and the buffer is restored */
  b.len = 2;
  assert_int_equal(bx__json_write_ex(&b, j, SIZE_MAX, failing_hook, NULL), BX_ENOROUTE);
  assert_int_equal(b.len, 2);
  bx_buf_free(&b);
  cJSON_Delete(j);
}

static void test_write_ex_limit(void **state) {
  (void)state;
  cJSON *j = cJSON_Parse("{\"k\":\"0123456789\",\"n\":[1,2,3]}"); /* 30 bytes */
  bx_buf b = {0};
  assert_int_equal(bx_buf_append(&b, "prefix", 6), 0);
  assert_int_equal(bx__json_write_ex(&b, j, 30, NULL, NULL), 0);
  assert_int_equal(b.len, 36);
  for (size_t limit = 0; limit < 30; limit++) {
    b.len = 6;
    assert_int_equal(bx__json_write_ex(&b, j, limit, NULL, NULL), BX_EMSGSIZE);
    assert_int_equal(b.len, 6);
  }
  /* output of the hook counts too */
  cJSON *ph = cJSON_Parse("[{\"class\":\"bx.BoxRef\",\"ref\":1}]"); /* hook writes "b#1" */
  b.len = 0;
  assert_int_equal(bx__json_write_ex(&b, ph, 7, hook, "b"), 0);
  b.len = 0;
  assert_int_equal(bx__json_write_ex(&b, ph, 6, hook, "b"), BX_EMSGSIZE);
  assert_int_equal(b.len, 0);
  cJSON_Delete(ph);
  cJSON_Delete(j);
  bx_buf_free(&b);
}

static void test_helpers(void **state) {
  (void)state;
  bx_buf b = {0};
  assert_int_equal(bx__json_write_string(&b, "a\"\n"), 0);
  assert_int_equal(bx__json_write_number(&b, 2.5), 0);
  assert_int_equal(bx__json_write_number(&b, 1e21), 0);
  assert_int_equal(bx_buf_append(&b, "", 1), 0);
  assert_string_equal(b.base, "\"a\\\"\\u000a\"2.51e+21");
  bx_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_escaping_every_position),
      cmocka_unit_test(test_key_escaping),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_numbers_read_back),
      cmocka_unit_test(test_containers),
      cmocka_unit_test(test_reparse_identical),
      cmocka_unit_test(test_placeholder_plain),
      cmocka_unit_test(test_deep_tree),
      cmocka_unit_test(test_invalid_input),
      cmocka_unit_test(test_write_ex_hook),
      cmocka_unit_test(test_write_ex_limit),
      cmocka_unit_test(test_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
