/* The decoder's two roads: calls and returns of the common shapes are read by the envelope
 * reader into lazy messages, everything else by cJSON and the tree check. For every frame here
 * both roads must agree: the same result code and error text, the same payload, reply box and
 * attributes, the same bytes when encoded again. The tables also say which road each frame
 * must take, so a reader that stopped recognising anything (or recognised too much) fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "envelope.h"
#include "registry_internal.h"
#include "testutil.h"

/* Frame pieces */
#define MSG_HEAD "{\"class\":\"foam.box.Message\","
#define REPLY(name, delegate)                                                    \
  "\"attributes\":{\"replyBox\":{\"class\":\"foam.box.SubBox\",\"name\":\"" name \
  "\",\"delegate\":" delegate "}},"
#define RET "{\"class\":\"foam.box.ReturnBox\"}"
#define NAMED(path) "{\"class\":\"foam.box.NamedBox\",\"name\":\"" path "\"}"
#define SUB(name, inner) \
  "{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"" name "\",\"object\":" inner "}"
#define RPC(method, args) "{\"class\":\"foam.box.RPCMessage\",\"name\":\"" method "\"" args "}"
#define RETURN(data) "{\"class\":\"foam.box.RPCReturnMessage\"" data "}"
#define CALL(payload) MSG_HEAD REPLY("7", RET) "\"object\":" payload "}"
#define ANSWER(payload) MSG_HEAD "\"attributes\":{},\"object\":" payload "}"

#define LONG64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LONG LONG64 LONG64 LONG64 /* 192 bytes: a long string the pre-scan records */

typedef struct road_case {
  const char *what;
  const char *json;
  bool envelope; /* the envelope road takes it (else the general road decodes it) */
} road_case;

/* Frames both roads decode. */
static const road_case good[] = {
    /* the envelope road */
    {"bx call", CALL(SUB("calc", RPC("add", ",\"args\":[1,1]"))), true},
    {"bx return", ANSWER(SUB("2", RETURN(",\"data\":2"))), true},
    {"no attributes", MSG_HEAD "\"object\":" SUB("c", RPC("m", ",\"args\":[]")) "}", true},
    {"no layer", CALL(RPC("add", ",\"args\":[2,3]")), true},
    {"two layers", CALL(SUB("a", SUB("b", RPC("m", ",\"args\":[true,null]")))), true},
    {"no args", CALL(SUB("calc", RPC("ping", ""))), true},
    {"no data", ANSWER(SUB("9", RETURN(""))), true},
    {"data null", ANSWER(SUB("9", RETURN(",\"data\":null"))), true},
    {"data false", ANSWER(SUB("9", RETURN(",\"data\":false"))), true},
    {"data a string with escapes", ANSWER(SUB("9", RETURN(",\"data\":\"a\\\"}]\\u00e9\\n\""))),
     true},
    {"data an object", ANSWER(SUB("9", RETURN(",\"data\":{\"a\":[1,{\"b\":\"}\"}],\"c\":{}}"))),
     true},
    {"data an allowed class", ANSWER(SUB("9", RETURN(",\"data\":{\"class\":\"test.rpc.Point\"}"))),
     true},
    {"data a long string", ANSWER(SUB("9", RETURN(",\"data\":\"" LONG "\""))), true},
    {"args with long strings and brackets",
     CALL(SUB("calc", RPC("echo", ",\"args\":[\"" LONG "\",\"]}\",[[\"" LONG "\"]]]"))), true},
    {"args of UTF-8",
     CALL(SUB("calc", RPC("echo", ",\"args\":[\"h\xc3\xa9llo \xf0\x9f\x98\x80\"]"))), true},
    {"UTF-8 names", CALL(SUB("c\xc3\xa1lc", RPC("\xe2\x82\xac", ",\"args\":[1]"))), true},
    {"long names", CALL(SUB(LONG, RPC(LONG, ",\"args\":[1]"))), true},
    {"empty names", CALL(SUB("", RPC("", ",\"args\":[1]"))), true},
    {"NamedBox delegate", MSG_HEAD REPLY("5", NAMED("/client")) "\"object\":" RPC("m", "") "}",
     true},
    {"NamedBox delegate, name first",
     MSG_HEAD REPLY("5", "{\"name\":\"/c\",\"class\":\"foam.box.NamedBox\"}") "\"object\":" RPC(
         "m", "") "}",
     true},
    {"reply box members in another order",
     MSG_HEAD "\"attributes\":{\"replyBox\":{\"delegate\":" RET
              ",\"name\":\"x\",\"class\":\"foam.box.SubBox\"}},\"object\":" RPC("m", "") "}",
     true},
    {"top-level members in another order",
     "{\"object\":" RPC("m", ",\"args\":[1]") ",\"attributes\":{},\"class\":\"foam.box.Message\"}",
     true},
    {"whitespace everywhere",
     " \r\n{ \"class\" : \"foam.box.Message\" ,\n\t\"attributes\" : { \"replyBox\" : { \"class\" : "
     "\"foam.box.SubBox\" , \"name\" : \"1\" , \"delegate\" : { \"class\" : "
     "\"foam.box.ReturnBox\" } } } , \"object\" : { \"class\" : \"foam.box.SubBoxMessage\" , "
     "\"name\" : \"c\" , \"object\" : { \"class\" : \"foam.box.RPCMessage\" , \"name\" : \"m\" , "
     "\"args\" : [ 1 , \"x\" , { } ] } } }\n ",
     true},
    /* the general road */
    {"FOAM2 TCP form (inner attributes)",
     CALL("{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"calc\",\"attributes\":{},\"object\":"
          "{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2],\"attributes\":{}}"
          "}"),
     false},
    {"three layers", CALL(SUB("a", SUB("b", SUB("c", RPC("m", ""))))), false},
    {"args null", CALL(RPC("m", ",\"args\":null")), false},
    {"escaped method name", CALL(RPC("a\\u0062", "")), false},
    {"escaped key", CALL("{\"class\":\"foam.box.RPCMessage\",\"n\\u0061me\":\"m\"}"), false},
    {"escaped class", CALL("{\"class\":\"foam.box.RPC\\u004dessage\",\"name\":\"m\"}"), false},
    {"name before class", CALL("{\"name\":\"m\",\"class\":\"foam.box.RPCMessage\"}"), false},
    {"an extra payload member", CALL(RPC("m", ",\"args\":[],\"x\":1")), false},
    {"reply box null", MSG_HEAD "\"attributes\":{\"replyBox\":null},\"object\":" RPC("m", "") "}",
     false},
    {"another attribute", MSG_HEAD "\"attributes\":{\"t\":1},\"object\":" RPC("m", "") "}", false},
    {"an extra top-level member", MSG_HEAD "\"x\":1,\"object\":" RPC("m", "") "}", false},
    {"a box in the arguments", CALL(RPC("m", ",\"args\":[" NAMED("/a") "]")), false},
    {"a box as the data", ANSWER(SUB("1", RETURN(",\"data\":" RET))), false},
    {"an error reply",
     ANSWER(SUB("1", "{\"class\":\"foam.box.RPCErrorMessage\",\"data\":{\"class\":\"foam.box."
                     "RemoteException\",\"id\":\"x\",\"message\":\"m\"}}")),
     false},
    {"null payload", MSG_HEAD "\"attributes\":{},\"object\":null}", false},
    {"a SubBox delegating to a SubBox",
     MSG_HEAD REPLY("5", "{\"class\":\"foam.box.SubBox\",\"name\":\"i\",\"delegate\":" RET
                         "}") "\"object\":" RPC("m", "") "}",
     false},
};

/* Frames both roads refuse, with the same code and text. */
static const struct {
  const char *what, *json;
} bad[] = {
    {"invalid UTF-8 in the arguments", CALL(SUB("c", RPC("m", ",\"args\":[\"\xff\"]")))},
    {"invalid UTF-8 in a name", CALL(SUB("c", RPC("m\xc0\xaf", "")))},
    {"invalid UTF-8 in a layer name", CALL(SUB("c\xed\xa0\x80", RPC("m", "")))},
    {"a control character in a name", CALL(SUB("c", RPC("m\x01", "")))},
    {"an unknown class in the arguments",
     CALL(SUB("c", RPC("m", ",\"args\":[{\"class\":\"evil.Thing\"}]")))},
    {"a placeholder in the data", ANSWER(SUB("1", RETURN(",\"data\":{\"class\":\"bx.BoxRef\"}")))},
    {"a handshake in the arguments",
     CALL(RPC("m", ",\"args\":[{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/x\"}]"))},
    {"an inexact integer", CALL(RPC("m", ",\"args\":[9007199254740993]"))},
    {"a malformed number", CALL(RPC("m", ",\"args\":[01]"))},
    {"not JSON in the arguments", CALL(RPC("m", ",\"args\":[1,,2]"))},
    {"mismatched brackets", CALL(RPC("m", ",\"args\":[1}"))},
    {"a bare word as data", ANSWER(SUB("1", RETURN(",\"data\":nul")))},
    {"an unterminated string in the arguments", MSG_HEAD "\"object\":" RPC("m", ",\"args\":[\"a")},
    {"trailing bytes", CALL(RPC("m", "")) "x"},
    {"a second top level", CALL(RPC("m", "")) "{}"},
    {"a missing comma", "{\"class\":\"foam.box.Message\" \"object\":" RPC("m", "") "}"},
    {"a missing colon", "{\"class\":\"foam.box.Message\",\"object\"" RPC("m", "") "}"},
    {"no object", "{\"class\":\"foam.box.Message\",\"attributes\":{}}"},
    {"another top-level class", "{\"class\":\"foam.box.Hello\",\"object\":" RPC("m", "") "}"},
    {"a duplicate class", "{\"class\":\"foam.box.Message\",\"class\":\"foam.box.Message\","
                          "\"object\":" RPC("m", "") "}"},
    {"a malformed NamedBox path",
     MSG_HEAD REPLY("5", NAMED("nope")) "\"object\":" RPC("m", "") "}"},
    {"a SubBoxMessage without a name", CALL("{\"class\":\"foam.box.SubBoxMessage\",\"object\":1}")},
    {"an RPCMessage without a name", CALL("{\"class\":\"foam.box.RPCMessage\",\"args\":[]}")},
    {"args an object", CALL(RPC("m", ",\"args\":{}"))},
};

static bxt_env *env_new(int max_depth) {
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  if (max_depth) opts.max_depth = max_depth;
  opts.log_level = BX_LOG_ERROR;
  bxt_env *e = bxt_env_new(&opts);
  assert_int_equal(bx_ctx_allow_class(e->ctx, "test.rpc.Point"), 0);
  return e;
}

static char *encode_text(bx_ctx *ctx, const bx_msg *m) {
  bx_buf b = {0};
  int rc = bx_encode(ctx, m, NULL, &b);
  if (rc != 0) fail_msg("encode failed: %s", bx_err_name(rc));
  assert_int_equal(bx_buf_append(&b, "", 1), 0);
  return b.base;
}

static void same_box(const char *what, bx_box *a, bx_box *b) {
  if ((a == NULL) != (b == NULL)) fail_msg("%s: a reply box on one road only", what);
  if (a == NULL) return;
  assert_string_equal(bx_box_type(a), bx_box_type(b));
  assert_string_equal(bx_sub_box_name(a), bx_sub_box_name(b));
  assert_string_equal(bx_box_type(bx_sub_box_delegate(a)), bx_box_type(bx_sub_box_delegate(b)));
}

/* Decodes json both ways; returns the shared result code. On success *fast and *slow hold the
 * messages; on failure the error texts have been compared. */
static int both_roads(bx_ctx *ctx, const char *what, const char *json, size_t len, bx_box *origin,
                      bx_msg **fast, bx_msg **slow) {
  bx_codec_error ef, es;
  int rf = bx_decode(ctx, json, len, origin, fast, &ef);
  int rs = bx__decode_general(ctx, json, len, origin, slow, &es);
  if (rf != rs)
    fail_msg("%s: the roads differ: %s (%s) against %s (%s)", what, bx_err_name(rf),
             rf ? ef.text : "", bx_err_name(rs), rs ? es.text : "");
  if (rf != 0 && strcmp(ef.text, es.text) != 0)
    fail_msg("%s: error texts differ:\n  %s\n  %s", what, ef.text, es.text);
  return rf;
}

static void compare_messages(bx_ctx *ctx, const road_case *c, bx_msg *fast, bx_msg *slow) {
  if ((fast->lazy != NULL) != c->envelope)
    fail_msg("%s: took the %s road", c->what, fast->lazy ? "envelope" : "general");
  assert_null(slow->lazy);
  char *ef = encode_text(ctx, fast), *es = encode_text(ctx, slow);
  if (strcmp(ef, es) != 0) fail_msg("%s: encodings differ:\n  %s\n  %s", c->what, ef, es);
  free(ef);
  free(es);
  same_box(c->what, bx_msg_reply_box(fast), bx_msg_reply_box(slow));
  assert_true(bx_msg_origin(fast) == bx_msg_origin(slow));
  assert_int_equal(bx_msg_box_count(fast), bx_msg_box_count(slow));
  assert_true(cJSON_Compare(bx_msg_attrs(fast), bx_msg_attrs(slow), true) ||
              (bx_msg_attrs(fast) == NULL && bx_msg_attrs(slow) == NULL));
  /* the tree a lazy payload builds is the general road's, members in the same order */
  char *pf = bxt_json(fast), *ps = bxt_json(slow);
  if ((pf == NULL) != (ps == NULL) || (pf && strcmp(pf, ps) != 0))
    fail_msg("%s: payloads differ:\n  %s\n  %s", c->what, pf ? pf : "(none)", ps ? ps : "(none)");
  cJSON_free(pf);
  cJSON_free(ps);
}

static void test_roads_agree_on_good_frames(void **state) {
  (void)state;
  bxt_env *e = env_new(0);
  bx_box *origin = NULL;
  bx_null_box_new(e->ctx, &origin);
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    bx_msg *fast = NULL, *slow = NULL;
    int rc =
        both_roads(e->ctx, good[i].what, good[i].json, strlen(good[i].json), origin, &fast, &slow);
    if (rc != 0) fail_msg("%s: refused: %s", good[i].what, bx_err_name(rc));
    compare_messages(e->ctx, &good[i], fast, slow);
    bx_msg_unref(fast);
    bx_msg_unref(slow);
  }
  bx_box_unref(origin);
  bxt_env_free(e);
}

static void test_roads_agree_on_bad_frames(void **state) {
  (void)state;
  bxt_env *e = env_new(0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bx_msg *fast = (bx_msg *)&fast, *slow = (bx_msg *)&slow;
    if (both_roads(e->ctx, bad[i].what, bad[i].json, strlen(bad[i].json), NULL, &fast, &slow) == 0)
      fail_msg("%s: accepted", bad[i].what);
    assert_null(fast);
    assert_null(slow);
  }
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->ctx)), 0);
  bxt_env_free(e);
}

/* Every prefix of envelope-road frames, and every single-byte change to them, gets the same
 * answer from both roads. */
static void test_roads_agree_on_mutations(void **state) {
  (void)state;
  bxt_env *e = env_new(0);
  static const char *const seeds[] = {
      CALL(SUB("calc", RPC("add", ",\"args\":[1,\"x\"]"))),
      ANSWER(SUB("2", RETURN(",\"data\":{\"a\":[true]}"))),
      MSG_HEAD REPLY("5", NAMED("/c")) "\"object\":" SUB("a", SUB("b", RPC("m", ""))) "}",
  };
  static const char subst[] = {'"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'x', '\x01', '\xff'};
  char buf[512];
  for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
    size_t n = strlen(seeds[s]);
    assert_true(n < sizeof buf);
    for (size_t at = 0; at <= n; at++) {
      for (size_t k = 0; k <= sizeof subst; k++) {
        memcpy(buf, seeds[s], n);
        size_t len = at; /* k == sizeof subst: the prefix of at bytes */
        if (k < sizeof subst) {
          if (at == n) break;
          buf[at] = subst[k];
          len = n;
        }
        road_case c = {"mutation", buf, false};
        bx_msg *fast = NULL, *slow = NULL;
        if (both_roads(e->ctx, c.what, buf, len, NULL, &fast, &slow) == 0) {
          c.envelope = fast->lazy != NULL; /* either road may take a changed frame */
          compare_messages(e->ctx, &c, fast, slow);
          bx_msg_unref(fast);
          bx_msg_unref(slow);
        }
      }
    }
  }
  bxt_env_free(e);
}

/* The nesting limit counts the envelope: a body too deep for where it sits, or an envelope
 * deeper than the limit, is refused by both roads alike. */
static void test_roads_agree_on_depth(void **state) {
  (void)state;
  static const struct {
    const char *what, *json;
    int depth; /* of the deepest value */
  } cases[] = {
      {"no reply, no layer", MSG_HEAD "\"object\":" RPC("m", ",\"args\":[1]") "}", 3},
      {"a reply box", CALL(RPC("m", ",\"args\":[[1]]")), 4},
      {"only a reply box", CALL(RPC("m", "")), 4},
      {"a layer", CALL(SUB("c", RPC("m", ",\"args\":[[[1]]]"))), 6},
      {"a layer, deeper", CALL(SUB("c", RPC("m", ",\"args\":[[[[1]]]]"))), 7},
      {"two layers", ANSWER(SUB("a", SUB("b", RETURN(",\"data\":[1]")))), 5},
      {"two layers, deeper", ANSWER(SUB("a", SUB("b", RETURN(",\"data\":[[1]]")))), 6},
  };
  for (int max = 2; max <= 7; max++) {
    bxt_env *e = env_new(max);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      road_case c = {cases[i].what, cases[i].json, true};
      bx_msg *fast = NULL, *slow = NULL;
      int rc = both_roads(e->ctx, c.what, c.json, strlen(c.json), NULL, &fast, &slow);
      if ((rc == 0) != (cases[i].depth <= max))
        fail_msg("%s at depth limit %d: %s", c.what, max, bx_err_name(rc));
      if (rc == 0) {
        compare_messages(e->ctx, &c, fast, slow);
        bx_msg_unref(fast);
        bx_msg_unref(slow);
      } else {
        assert_int_equal(rc, BX_ETOODEEP);
      }
    }
    bxt_env_free(e);
  }
}

/* What the reader makes of a call: names, layers (outermost first) and the body's text. */
static void test_reader_fields(void **state) {
  (void)state;
  const char *call = MSG_HEAD REPLY("21", NAMED("/client")) "\"object\":" SUB(
      "outer", SUB("inner", RPC("add", ",\"args\":[1, [2]]"))) "}";
  bx__envelope env;
  assert_true(bx__envelope_read(call, strlen(call), &env));
  assert_true(env.reply && env.reply_named);
  assert_int_equal(env.reply_name.n, 2);
  assert_memory_equal(env.reply_name.p, "21", 2);
  assert_int_equal(env.reply_path.n, 7);
  assert_memory_equal(env.reply_path.p, "/client", 7);
  assert_int_equal(env.nlayers, 2);
  assert_memory_equal(env.layer[0].p, "outer", 5);
  assert_memory_equal(env.layer[1].p, "inner", 5);
  assert_string_equal(env.cls, BX_CLASS_RPC_MESSAGE);
  assert_string_equal(env.key, "args");
  assert_true(env.has_name && env.name.n == 3);
  assert_true(env.has_body);
  assert_int_equal(env.body.n, strlen("[1, [2]]"));
  assert_memory_equal(env.body.p, "[1, [2]]", env.body.n);

  const char *answer = ANSWER(SUB("2", RETURN(",\"data\":\"x\\\"y\"")));
  assert_true(bx__envelope_read(answer, strlen(answer), &env));
  assert_false(env.reply);
  assert_string_equal(env.cls, BX_CLASS_RPC_RETURN);
  assert_false(env.has_name);
  assert_int_equal(env.body.n, strlen("\"x\\\"y\""));
  /* not the reader's: a cut frame, an escape in a name */
  assert_false(bx__envelope_read(answer, strlen(answer) - 1, &env));
  const char *escaped = CALL(RPC("a\\n", ""));
  assert_false(bx__envelope_read(escaped, strlen(escaped), &env));
}

/* A decoded call with two layers goes through two registries to its service without its
 * payload being built, and reads the same as the general road's tree once it is. */
static void test_lazy_layers_through_registries(void **state) {
  (void)state;
  bxt_env *e = env_new(0);
  bxt_sink sink;
  bxt_sink_init(&sink, e->ctx);
  bx_box *inner = NULL;
  bx_registry_new(e->ctx, &inner);
  assert_int_equal(bx_register(bx_ctx_registry(e->ctx), "outer", inner, NULL), 0);
  assert_int_equal(bx_register(inner, "svc", sink.box, NULL), 0);
  const char *json = CALL(SUB("outer", SUB("svc", RPC("add", ",\"args\":[4,5]"))));
  bx_msg *m = NULL;
  assert_int_equal(bx_decode(e->ctx, json, strlen(json), NULL, &m, NULL), 0);
  assert_true(bx_msg_is(m, BX_CLASS_SUB_BOX_MESSAGE));
  assert_string_equal(bx__msg_name(m), "outer");
  assert_int_equal(bx_send(bx_ctx_registry(e->ctx), m), 0);
  bxt_spin(e);
  assert_int_equal(sink.n, 1);
  bx_msg *got = sink.msgs[0];
  assert_non_null(got->lazy); /* peeled, not built */
  assert_true(bx_msg_is(got, BX_CLASS_RPC_MESSAGE));
  assert_string_equal(bx__msg_name(got), "add");
  const cJSON *args = bx__msg_member(got, "args");
  assert_true(cJSON_IsArray(args) && cJSON_GetArraySize(args) == 2);
  assert_null(bx__msg_member(got, "data"));
  assert_non_null(bx_msg_reply_box(got));
  char *text = bxt_json(got);
  assert_string_equal(text, "{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[4,5]}");
  cJSON_free(text);
  assert_null(got->lazy); /* built now */
  assert_true(bx__msg_member(got, "args") == cJSON_GetObjectItem(bx_msg_object(got), "args"));
  bxt_sink_free(&sink);
  bx_box_unref(inner);
  bxt_env_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reader_fields),
      cmocka_unit_test(test_roads_agree_on_good_frames),
      cmocka_unit_test(test_roads_agree_on_bad_frames),
      cmocka_unit_test(test_roads_agree_on_mutations),
      cmocka_unit_test(test_roads_agree_on_depth),
      cmocka_unit_test(test_lazy_layers_through_registries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
