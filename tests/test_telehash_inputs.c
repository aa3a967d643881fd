/* telehash primitives on inputs no peer should send: short, unknown CSID, bad MAC, bad token,
 * oversize, bad JSON heads, malformed handshakes, base32 and chunk streams; each is refused with
 * its error code. Then identity files: round trip, mode 0600, atomic replacement, corrupt files
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "th_testutil.h"

/* ---- LOB --------------------------------------------------------------------------------- */

/* Parses a LOB of head text `head` (raw bytes) with no body. */
static int lob_of(const char *head, size_t n) {
  uint8_t *p = malloc(n + 2);
  assert_non_null(p);
  p[0] = (uint8_t)(n >> 8);
  p[1] = (uint8_t)n;
  memcpy(p + 2, head, n);
  bx__th_lob lob;
  int rc = bx__th_lob_parse(p, n + 2, &lob);
  if (rc != 0) {
    assert_null(lob.json);
    assert_null(lob.head);
  }
  bx__th_lob_clear(&lob);
  free(p);
  return rc;
}

#define LOB(text) lob_of(text, sizeof text - 1)

static void test_lob_malformed(void **state) {
  (void)state;
  bx__th_lob lob;
  const uint8_t shorts[][3] = {{0}, {0, 1}, {0, 2, 0x3a}, {0xff, 0xff, 0}};
  assert_int_equal(bx__th_lob_parse(shorts[0], 0, &lob), BX_EBADMSG);
  assert_int_equal(bx__th_lob_parse(shorts[0], 1, &lob), BX_EBADMSG);
  assert_int_equal(bx__th_lob_parse(shorts[1], 2, &lob), BX_EBADMSG); /* head 1, none there */
  assert_int_equal(bx__th_lob_parse(shorts[2], 3, &lob), BX_EBADMSG);
  assert_int_equal(bx__th_lob_parse(shorts[3], 3, &lob), BX_EBADMSG);
  assert_int_equal(bx__th_lob_parse(NULL, 3, &lob), BX_EINVAL);
  assert_int_equal(bx__th_lob_parse(shorts[0], 3, NULL), BX_EINVAL);

  assert_int_equal(LOB("{\"a\":1}"), 0);
  assert_int_equal(LOB(" {\"a\":1} \n"), 0);
  assert_int_equal(LOB("abcdefg"), BX_EBADJSON);
  assert_int_equal(LOB("[1,2,3,4]"), BX_EBADJSON); /* JSON, but not an object */
  assert_int_equal(LOB("\"string\""), BX_EBADJSON);
  assert_int_equal(LOB("123456789"), BX_EBADJSON);
  assert_int_equal(LOB("{\"a\":1}x"), BX_EBADJSON);
  assert_int_equal(LOB("{\"a\":1}{}"), BX_EBADJSON);
  assert_int_equal(LOB("{\"ab\":1"), BX_EBADJSON);
  assert_int_equal(LOB("{\"ab\":\"1"), BX_EBADJSON);
  assert_int_equal(LOB("{\"ab\":[1}"), BX_EBADJSON);
  assert_int_equal(LOB("}}}}}}}}"), BX_EBADJSON);
  assert_int_equal(LOB("{\"a\":\"\x01\"}"), BX_EBADJSON); /* raw control character */
  assert_int_equal(LOB("{\"a\":\"b\0c\"}"), BX_EBADJSON); /* raw NUL */
  assert_int_equal(LOB("{\"a\":\"\xc3\x28\"}"), BX_EBADUTF8);
  assert_int_equal(LOB("{\"a\":\"\xed\xa0\x80\"}"), BX_EBADUTF8); /* a surrogate */
  assert_int_equal(LOB("{\"a\":\"\xc3\xa9\"}"), 0);
  /* 6 bytes or fewer: binary, whatever they hold */
  assert_int_equal(LOB("garbag"), 0);

  /* depth: 16 levels pass, 17 do not; brackets inside strings do not count */
  char deep[64];
  for (int levels = 15; levels <= 17; levels++) {
    size_t n = 0;
    deep[n++] = '{';
    memcpy(deep + n, "\"a\":", 4);
    n += 4;
    for (int i = 1; i < levels; i++)
      deep[n++] = '[';
    for (int i = 1; i < levels; i++)
      deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(lob_of(deep, n), levels <= BX__TH_MAX_DEPTH ? 0 : BX_ETOODEEP);
  }
  assert_int_equal(LOB("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[\"}"), 0);
  assert_int_equal(LOB("{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[\"}"), 0);

  /* writing: sizes are checked */
  uint8_t out[16];
  size_t len = 0;
  assert_int_equal(bx__th_lob_write((const uint8_t *)"\x3a", 1, NULL, 0, out, 3, &len), 0);
  assert_int_equal(len, 3);
  assert_int_equal(bx__th_lob_write((const uint8_t *)"\x3a", 1, NULL, 0, out, 2, &len),
                   BX_EMSGSIZE);
  assert_int_equal(bx__th_lob_write(NULL, 1, NULL, 0, out, sizeof out, &len), BX_EINVAL);
  uint8_t *big = calloc(1, 0x10000);
  assert_int_equal(bx__th_lob_write(big, 0x10000, NULL, 0, big, 0x10000, &len), BX_EMSGSIZE);
  free(big);
  bx_buf buf = {0};
  cJSON *tiny = cJSON_CreateObject();
  assert_int_equal(bx__th_lob_append_json(&buf, tiny, NULL, 0), BX_EINVAL); /* "{}" */
  assert_int_equal(buf.len, 0);
  cJSON *arr = cJSON_CreateArray();
  assert_int_equal(bx__th_lob_append_json(&buf, arr, NULL, 0), BX_EINVAL);
  cJSON_Delete(arr);
  cJSON_AddStringToObject(tiny, "a", "bc");
  assert_int_equal(bx__th_lob_append_json(&buf, tiny, (const uint8_t *)"xy", 2), 0);
  assert_int_equal(buf.len, 2 + 10 + 2);
  cJSON_Delete(tiny);
  bx_buf_free(&buf);
}

/* ---- base32 and hashnames ---------------------------------------------------------------- */

static void test_base32_malformed(void **state) {
  (void)state;
  uint8_t out[64];
  size_t len = 0;
  assert_int_equal(bx__th_b32_decode("MY", 2, out, sizeof out, &len), 0); /* upper case */
  assert_int_equal(len, 1);
  assert_int_equal(out[0], 0x66);
  assert_int_equal(bx__th_b32_decode("m", 1, out, sizeof out, &len), BX_EBADMSG);
  assert_int_equal(bx__th_b32_decode("mzx", 3, out, sizeof out, &len), BX_EBADMSG);
  assert_int_equal(bx__th_b32_decode("mzxw6y", 6, out, sizeof out, &len), BX_EBADMSG);
  assert_int_equal(bx__th_b32_decode("mz", 2, out, sizeof out, &len), BX_EBADMSG); /* bits */
  assert_int_equal(bx__th_b32_decode("m1", 2, out, sizeof out, &len), BX_EBADMSG);
  assert_int_equal(bx__th_b32_decode("my==", 4, out, sizeof out, &len), BX_EBADMSG);
  assert_int_equal(bx__th_b32_decode("m y", 3, out, sizeof out, &len), BX_EBADMSG);
  assert_int_equal(bx__th_b32_decode("mzxw6ytb", 8, out, 4, &len), BX_EMSGSIZE);
  assert_int_equal(bx__th_b32_decode(NULL, 2, out, sizeof out, &len), BX_EINVAL);

  assert_false(bx__th_hashname_valid(NULL));
  assert_false(bx__th_hashname_valid("i6nlv7pd7ilg2spvkanir4z22ngveu7i6zgewuvo7t5uqid362m"));
  assert_false(bx__th_hashname_valid("I6NLV7PD7ILG2SPVKANIR4Z22NGVEU7I6ZGEWUVO7T5UQID362MQ"));
  assert_false(bx__th_hashname_valid("i6nlv7pd7ilg2spvkanir4z22ngveu7i6zgewuvo7t5uqid362mr"));
  assert_true(bx__th_hashname_valid("i6nlv7pd7ilg2spvkanir4z22ngveu7i6zgewuvo7t5uqid362mq"));

  char hn[BX_TH_HASHNAME_LEN + 1];
  const char *bad[] = {
      "{}",              /* no parts */
      "{\"3A\":\"my\"}", /* upper-case CSID */
      "{\"3\":\"my\"}",
      "{\"00\":\"my\"}",
      "{\"3g\":\"my\"}", /* malformed CSIDs */
      "{\"3a\":\"m1\"}", /* bad base32 */
      "{\"3a\":\"\"}",   /* an empty key */
      "{\"3a\":1}",      /* not a string */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *keys = cJSON_Parse(bad[i]);
    int rc = bx__th_hashname_of_parts(keys, NULL, hn);
    assert_true(rc == BX_EBADMSG || rc == BX_EINVAL);
    assert_string_equal(hn, "");
    cJSON_Delete(keys);
  }
  cJSON *inter = cJSON_Parse("{\"1a\":\"my\"}"); /* an intermediate is 32 bytes */
  assert_int_equal(bx__th_hashname_of_parts(NULL, inter, hn), BX_EBADMSG);
  cJSON_Delete(inter);
  bx__th_part twice[2] = {{.csid = 0x3a}, {.csid = 0x3a}};
  uint8_t bin[32];
  assert_int_equal(bx__th_rollup(twice, 2, bin), BX_EINVAL);
  assert_int_equal(bx__th_rollup(twice, 0, bin), BX_EINVAL);
  assert_int_equal(bx_th_hashname_of_key(NULL, hn), BX_EINVAL);
}

/* ---- CS3a messages ----------------------------------------------------------------------- */

typedef struct th_pair {
  uint8_t pk[32], sk[32];
} th_pair;

static th_pair pair_new(void) {
  th_pair p;
  assert_int_equal(bx__th_sodium(), 0);
  crypto_box_keypair(p.pk, p.sk);
  return p;
}

static void test_message_malformed(void **state) {
  (void)state;
  th_pair a = pair_new(), b = pair_new();
  uint8_t msg[256], inner[256];
  size_t len = 0, ilen = 0;
  const uint8_t hello[] = "\0\0hello";
  assert_int_equal(bx__th_cs3a_seal(hello, 7, b.pk, a.sk, NULL, NULL, msg, sizeof msg, &len), 0);
  assert_int_equal(len, 7 + BX__TH_MSG_OVERHEAD);
  assert_int_equal(bx__th_cs3a_open(msg, len, b.sk, inner, sizeof inner, &ilen), 0);
  assert_int_equal(ilen, 7);
  assert_memory_equal(inner, hello, 7);
  assert_int_equal(bx__th_cs3a_verify(msg, len, b.sk, a.pk), 0);
  /* two seals of the same packet differ (fresh ephemeral key and nonce) */
  uint8_t again[256];
  assert_int_equal(bx__th_cs3a_seal(hello, 7, b.pk, a.sk, NULL, NULL, again, sizeof again, NULL),
                   0);
  assert_memory_not_equal(msg, again, len);

  /* every truncation is refused */
  for (size_t n = 0; n < len; n++) {
    int rc = bx__th_cs3a_open(msg, n, b.sk, inner, sizeof inner, &ilen);
    assert_true(rc == BX_EBADMSG || rc == BX_EAUTH);
    rc = bx__th_cs3a_verify(msg, n, b.sk, a.pk);
    assert_true(rc == BX_EBADMSG || rc == BX_EAUTH);
  }
  /* the shortest message: an empty inner packet */
  assert_int_equal(bx__th_cs3a_seal(NULL, 0, b.pk, a.sk, NULL, NULL, msg, sizeof msg, &len), 0);
  assert_int_equal(len, BX__TH_MSG_OVERHEAD);
  assert_int_equal(bx__th_cs3a_open(msg, len, b.sk, inner, 0, &ilen), 0);
  assert_int_equal(ilen, 0);
  assert_int_equal(bx__th_cs3a_open(msg, len - 1, b.sk, inner, 0, &ilen), BX_EBADMSG);

  /* other cipher sets, other heads */
  msg[2] = 0x1a;
  assert_int_equal(bx__th_cs3a_open(msg, len, b.sk, inner, sizeof inner, &ilen), BX_ENOTSUP);
  uint8_t key[32];
  assert_int_equal(bx__th_cs3a_key(msg, len, key), BX_ENOTSUP);
  msg[2] = 0x3a;
  msg[1] = 2;
  assert_int_equal(bx__th_cs3a_open(msg, len, b.sk, inner, sizeof inner, &ilen), BX_EBADMSG);
  msg[1] = 0;
  assert_int_equal(bx__th_cs3a_open(msg, len, b.sk, inner, sizeof inner, &ilen), BX_EBADMSG);

  /* output too small; a low-order recipient key */
  assert_int_equal(bx__th_cs3a_seal(hello, 7, b.pk, a.sk, NULL, NULL, msg, 7 + 90, &len),
                   BX_EMSGSIZE);
  uint8_t zero[32] = {0};
  assert_int_equal(bx__th_cs3a_seal(hello, 7, zero, a.sk, NULL, NULL, msg, sizeof msg, &len),
                   BX_EAUTH);
  assert_int_equal(bx__th_cs3a_seal(hello, 7, NULL, a.sk, NULL, NULL, msg, sizeof msg, &len),
                   BX_EINVAL);
  assert_int_equal(bx__th_cs3a_open(msg, len, NULL, inner, sizeof inner, &ilen), BX_EINVAL);
  assert_int_equal(bx__th_token_of(msg, 2, key), BX_EBADMSG);
  assert_int_equal(bx__th_token_of((const uint8_t *)"\0\0abcdefghijklmno", 17, key), BX_EBADMSG);
  assert_int_equal(bx__th_token_of((const uint8_t *)"\0\0abcdefghijklmnop", 18, key), 0);
}

/* ---- handshakes -------------------------------------------------------------------------- */

/* Parses a handshake made of head text and an attached LOB of attached head text and a key of
 * key_len bytes. */
static int hs_of(const char *head, const char *att_head, size_t key_len) {
  uint8_t att[512], pkt[1024], key[64] = {1, 2, 3};
  size_t alen = 0, plen = 0;
  assert_int_equal(bx__th_lob_write((const uint8_t *)att_head, strlen(att_head), key, key_len, att,
                                    sizeof att, &alen),
                   0);
  assert_int_equal(
      bx__th_lob_write((const uint8_t *)head, strlen(head), att, alen, pkt, sizeof pkt, &plen), 0);
  bx__th_handshake hs;
  int rc = bx__th_handshake_parse(pkt, plen, &hs);
  if (rc != 0) assert_null(hs.head);
  bx__th_handshake_clear(&hs);
  return rc;
}

static void test_handshake_malformed(void **state) {
  (void)state;
  const char *ok_att = "{\"3a\":true}";
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3}", ok_att, 32), 0);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":4294967295}", ok_att, 32), 0);
  /* unknown head fields and other CSIDs are ignored */
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3,\"box\":[2,10],\"x\":{}}", ok_att, 32), 0);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3}", "{\"1a\":\"abcd\",\"3a\":null}", 32), 0);

  assert_int_equal(hs_of("{\"type\":\"key\",\"at\":3}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"at\":3,\"typ\":\"link\"}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\"}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":0}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":-1}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":1.5}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":4294967296}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":\"3\"}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3,\"at\":5}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"type\":\"x\",\"at\":3}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":1,\"at\":3}", ok_att, 32), BX_EBADMSG);
  assert_int_equal(hs_of("\x3a", ok_att, 32), BX_EBADMSG); /* a binary head */
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3}", "{\"1a\":true}", 32), BX_ENOTSUP);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3}", "\x3a", 32), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3}", ok_att, 31), BX_EBADMSG);
  assert_int_equal(hs_of("{\"type\":\"link\",\"at\":3}", ok_att, 33), BX_EBADMSG);
  assert_int_equal(
      hs_of("{\"type\":\"link\",\"at\":3}", "{\"3a\":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}", 32),
      BX_ETOODEEP);
  bx__th_handshake hs;
  const uint8_t no_body[] = "\0\x17{\"type\":\"link\",\"at\":3}";
  assert_int_equal(bx__th_handshake_parse(no_body, sizeof no_body - 1, &hs), BX_EBADMSG);

  /* writing: extra fields, and the ones it may not override */
  uint8_t key[32] = {9};
  bx_buf buf = {0};
  cJSON *extra = cJSON_Parse("{\"box\":[2,10]}");
  assert_int_equal(bx__th_handshake_append(&buf, 7, key, extra), 0);
  assert_int_equal(bx__th_handshake_parse((const uint8_t *)buf.base, buf.len, &hs), 0);
  assert_int_equal(hs.at, 7);
  assert_memory_equal(hs.key, key, 32);
  assert_true(
      cJSON_Compare(cJSON_GetObjectItem(hs.head, "box"), cJSON_GetObjectItem(extra, "box"), true));
  bx__th_handshake_clear(&hs);
  cJSON_Delete(extra);
  size_t before = buf.len;
  extra = cJSON_Parse("{\"at\":9}");
  assert_int_equal(bx__th_handshake_append(&buf, 7, key, extra), BX_EINVAL);
  assert_int_equal(buf.len, before);
  cJSON_Delete(extra);
  assert_int_equal(bx__th_handshake_append(&buf, 0, key, NULL), BX_EINVAL);
  bx_buf_free(&buf);

  uint8_t k1[32] = {1}, k2[32] = {2};
  assert_int_equal(bx__th_order_of(k2, k1), BX__TH_ODD);
  assert_int_equal(bx__th_order_of(k1, k2), BX__TH_EVEN);
  assert_true(bx__th_at_fits(BX__TH_ODD, 1));
  assert_false(bx__th_at_fits(BX__TH_ODD, 2));
  assert_true(bx__th_at_fits(BX__TH_EVEN, 2));
}

/* ---- channels, cloaks, chunks ------------------------------------------------------------ */

static void test_channel_malformed(void **state) {
  (void)state;
  th_pair a = pair_new(), b = pair_new();
  bx__th_chankeys ka, kb;
  assert_int_equal(bx__th_channel_keys(a.sk, a.pk, b.pk, &ka), 0);
  assert_int_equal(bx__th_channel_keys(b.sk, b.pk, a.pk, &kb), 0);
  uint8_t zero[32] = {0};
  assert_int_equal(bx__th_channel_keys(a.sk, a.pk, zero, &ka), BX_EAUTH);
  assert_int_equal(bx__th_channel_keys(a.sk, a.pk, b.pk, &ka), 0);
  uint8_t token[16] = {7}, pkt[128], inner[128];
  size_t len = 0, ilen = 0;
  assert_int_equal(
      bx__th_channel_seal((const uint8_t *)"\0\0", 2, token, ka.enc, NULL, pkt, sizeof pkt, &len),
      0);
  assert_int_equal(len, 2 + BX__TH_CHAN_OVERHEAD);
  assert_int_equal(bx__th_channel_open(pkt, len, token, kb.dec, inner, sizeof inner, &ilen), 0);
  for (size_t n = 0; n < len; n++) {
    int rc = bx__th_channel_open(pkt, n, token, kb.dec, inner, sizeof inner, &ilen);
    assert_true(rc == BX_EBADMSG || rc == BX_EAUTH);
  }
  uint8_t other[16] = {8};
  assert_int_equal(bx__th_channel_open(pkt, len, other, kb.dec, inner, sizeof inner, &ilen),
                   BX_EAUTH);
  assert_int_equal(bx__th_channel_open(pkt, len, token, kb.enc, inner, sizeof inner, &ilen),
                   BX_EAUTH);
  assert_int_equal(bx__th_channel_open(pkt, len, token, kb.dec, inner, 1, &ilen), BX_EMSGSIZE);
  assert_int_equal(bx__th_channel_open(pkt, len, token, kb.dec, NULL, 0, &ilen), BX_EINVAL);
}

static void test_cloak_malformed(void **state) {
  (void)state;
  uint8_t buf[64] = {0}, out[128];
  size_t off = 0, len = 0;
  assert_int_equal(bx__th_uncloak(buf, 0, &off), BX_EBADMSG);
  assert_int_equal(bx__th_uncloak(buf, 1, &off), BX_EBADMSG);
  assert_int_equal(bx__th_uncloak(buf, 2, &off), 0); /* not cloaked */
  assert_int_equal(off, 0);
  buf[0] = 1;
  assert_int_equal(bx__th_uncloak(buf, 9, &off), BX_EBADMSG); /* a nonce and 1 byte */
  (void)bx__th_uncloak(buf, 64, &off); /* whatever it peels, it stays inside the buffer */
  const uint8_t pkt[] = {0, 0, 1, 2, 3};
  const uint8_t zero_nonce[8] = {0, 1};
  assert_int_equal(bx__th_cloak(pkt, sizeof pkt, 1, zero_nonce, out, sizeof out, &len), BX_EINVAL);
  assert_int_equal(bx__th_cloak(pkt, sizeof pkt, 0, NULL, out, sizeof out, &len), BX_EINVAL);
  assert_int_equal(bx__th_cloak(pkt, sizeof pkt, 17, NULL, out, sizeof out, &len), BX_EINVAL);
  assert_int_equal(bx__th_cloak(pkt, sizeof pkt, 16, NULL, out, sizeof out, &len), BX_EMSGSIZE);
  assert_int_equal(bx__th_cloak(pkt, sizeof pkt, 15, NULL, out, sizeof out, &len), 0);
  assert_int_equal(bx__th_uncloak(out, len, &off), 0);
  assert_int_equal(off, 15 * 8);
  assert_memory_equal(out + off, pkt, sizeof pkt);
}

static void test_chunk_malformed(void **state) {
  (void)state;
  size_t used = 0, size = 0, len = 0;
  /* a bare terminator is an empty packet */
  assert_int_equal(bx__th_chunk_scan((const uint8_t *)"\0", 1, 100, &used, &size), 1);
  assert_int_equal(used, 1);
  assert_int_equal(size, 0);
  assert_int_equal(bx__th_chunk_scan(NULL, 0, 100, &used, &size), 0);
  /* a declared chunk over the limit is refused before its bytes arrive */
  assert_int_equal(bx__th_chunk_scan((const uint8_t *)"\xff", 1, 100, &used, &size), BX_EMSGSIZE);
  /* exactly 255 bytes: one full chunk, then a terminator of its own */
  uint8_t pkt[600], out[700], got[600];
  for (size_t i = 0; i < sizeof pkt; i++)
    pkt[i] = (uint8_t)i;
  assert_int_equal(bx__th_chunk_write(pkt, 255, out, sizeof out, &len), 0);
  assert_int_equal(len, 257);
  assert_int_equal(out[0], 255);
  assert_int_equal(out[256], 0);
  /* two packets back to back */
  size_t len2 = 0;
  assert_int_equal(bx__th_chunk_write(pkt, 3, out + len, sizeof out - len, &len2), 0);
  assert_int_equal(bx__th_chunk_scan(out, len + len2, 1000, &used, &size), 1);
  assert_int_equal(used, len);
  assert_int_equal(size, 255);
  bx__th_chunk_gather(out, used, got);
  assert_memory_equal(got, pkt, 255);
  assert_int_equal(bx__th_chunk_scan(out + used, len2, 1000, &used, &size), 1);
  assert_int_equal(size, 3);
  assert_int_equal(bx__th_chunk_write(pkt, 0, out, sizeof out, &len), BX_EINVAL);
  assert_int_equal(bx__th_chunk_write(pkt, 600, out, 600 + 3, &len), BX_EMSGSIZE);
  assert_int_equal(bx__th_chunk_write(pkt, 600, out, 600 + 4, &len), 0);
}

/* ---- identity files ---------------------------------------------------------------------- */

static char dir[64];

static void path_in(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int files_in_dir(void) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void test_identity_files(void **state) {
  (void)state;
  strcpy(dir, "/tmp/bx-th-id-XXXXXX");
  assert_non_null(mkdtemp(dir));
  char path[128];
  path_in(path, sizeof path, "id.json");

  bx_th_identity *id = NULL, *back = NULL;
  assert_int_equal(bx_th_identity_new(&id), 0);
  assert_true(bx__th_hashname_valid(bx_th_identity_hashname(id)));
  write_file(path, "old"); /* replaced, and its looser mode with it */
  chmod(path, 0644);
  assert_int_equal(bx_th_identity_save(id, path), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(files_in_dir(), 1); /* no temporary file left */
  assert_int_equal(bx_th_identity_load(path, &back), 0);
  assert_string_equal(bx_th_identity_hashname(back), bx_th_identity_hashname(id));
  assert_memory_equal(bx_th_identity_public_key(back), bx_th_identity_public_key(id), 32);
  assert_memory_equal(bx__th_identity_secret(back), bx__th_identity_secret(id), 32);
  bx_th_identity_free(back);

  /* the file is telehash-js's shape */
  FILE *f = fopen(path, "rb");
  char text[512] = {0};
  assert_true(fread(text, 1, sizeof text - 1, f) > 0);
  fclose(f);
  cJSON *json = cJSON_Parse(text);
  assert_string_equal(tht_str(json, "hashname", NULL), bx_th_identity_hashname(id));
  assert_non_null(tht_at(json, "keys", "3a", NULL));
  assert_non_null(tht_at(json, "secrets", "3a", NULL));
  cJSON_Delete(json);

  /* corrupt files */
  char pk[64], sk[64], other_sk[64];
  bx__th_b32_encode(bx_th_identity_public_key(id), 32, pk);
  bx__th_b32_encode(bx__th_identity_secret(id), 32, sk);
  bx_th_identity *other = NULL;
  assert_int_equal(bx_th_identity_new(&other), 0);
  bx__th_b32_encode(bx__th_identity_secret(other), 32, other_sk);
  char bad[8][512];
  snprintf(bad[0], sizeof bad[0], "%.*s", 40, text); /* truncated */
  snprintf(bad[1], sizeof bad[1], "not json");
  snprintf(bad[2], sizeof bad[2], "{\"keys\":{\"3a\":\"%s\"},\"secrets\":{\"3a\":\"%s\"}}", pk,
           other_sk); /* a key of another secret */
  snprintf(bad[3], sizeof bad[3],
           "{\"keys\":{\"3a\":\"%s\"},\"secrets\":{\"3a\":\"%s\"},\"hashname\":\"%s\"}", pk, sk,
           bx_th_identity_hashname(other)); /* another hashname */
  snprintf(bad[4], sizeof bad[4], "{\"keys\":{\"3a\":\"%.51s1\"},\"secrets\":{\"3a\":\"%s\"}}", pk,
           sk); /* bad base32 */
  snprintf(bad[5], sizeof bad[5], "{\"keys\":{\"3a\":\"my\"},\"secrets\":{\"3a\":\"my\"}}");
  snprintf(bad[6], sizeof bad[6], "[]");
  snprintf(bad[7], sizeof bad[7], "{\"secrets\":{\"3a\":\"%s\"}}", sk);
  for (size_t i = 0; i < 8; i++) {
    write_file(path, bad[i]);
    back = (bx_th_identity *)&back;
    assert_int_equal(bx_th_identity_load(path, &back), BX_EBADMSG);
    assert_null(back);
  }
  write_file(path, "");
  assert_int_equal(bx_th_identity_load(path, &back), BX_EBADMSG);
  char multi[512];
  snprintf(multi, sizeof multi,
           "{\"keys\":{\"1a\":\"my\",\"3a\":\"%s\"},\"secrets\":{\"3a\":\"%s\"}}", pk, sk);
  write_file(path, multi);
  assert_int_equal(bx_th_identity_load(path, &back), BX_ENOTSUP);
  /* without "hashname" it loads */
  snprintf(multi, sizeof multi, "{\"keys\":{\"3a\":\"%s\"},\"secrets\":{\"3a\":\"%s\"}}", pk, sk);
  write_file(path, multi);
  assert_int_equal(bx_th_identity_load(path, &back), 0);
  assert_string_equal(bx_th_identity_hashname(back), bx_th_identity_hashname(id));
  bx_th_identity_free(back);
  /* too big */
  char *huge = malloc(70000);
  memset(huge, ' ', 69999);
  huge[69999] = '\0';
  write_file(path, huge);
  free(huge);
  assert_int_equal(bx_th_identity_load(path, &back), BX_EBADMSG);
  /* file-system errors pass through as libuv codes */
  char missing[128];
  path_in(missing, sizeof missing, "missing.json");
  assert_int_equal(bx_th_identity_load(missing, &back), UV_ENOENT);
  assert_int_equal(bx_th_identity_load(dir, &back), BX_EBADMSG); /* a directory */
  char nodir[160];
  path_in(nodir, sizeof nodir, "no/such/dir/id.json");
  assert_int_equal(bx_th_identity_save(id, nodir), UV_ENOENT);
  assert_int_equal(bx_th_identity_save(NULL, path), BX_EINVAL);
  assert_int_equal(bx_th_identity_load(NULL, &back), BX_EINVAL);
  assert_int_equal(bx_th_identity_new(NULL), BX_EINVAL);
  assert_int_equal(bx_th_identity_from_secret(NULL, &back), BX_EINVAL);
  assert_null(back);
  bx_th_identity_free(NULL);
  assert_null(bx_th_identity_hashname(NULL));
  assert_null(bx_th_identity_public_key(NULL));

  unlink(path);
  assert_int_equal(files_in_dir(), 0);
  rmdir(dir);
  bx_th_identity_free(other);
  bx_th_identity_free(id);
  assert_string_equal(bx_err_name(BX_EAUTH), "BX_EAUTH");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lob_malformed),     cmocka_unit_test(test_base32_malformed),
      cmocka_unit_test(test_message_malformed), cmocka_unit_test(test_handshake_malformed),
      cmocka_unit_test(test_channel_malformed), cmocka_unit_test(test_cloak_malformed),
      cmocka_unit_test(test_chunk_malformed),   cmocka_unit_test(test_identity_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
