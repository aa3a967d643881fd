/* telehash v3 against the JavaScript reference: every vector of
 * tests/data/spec/telehash/vectors.json (keys, published hashnames, base32, LOB, message, both
 * handshakes, channel keys and packets, cloak, chunking) reproduced byte for byte or opened, and
 * for each encrypted vector one flipped bit in KEY, NONCE, ciphertext, AUTH and token refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "th_testutil.h"

static cJSON *vec;

static int setup(void **state) {
  (void)state;
  vec = tht_vectors();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  cJSON_Delete(vec);
  return 0;
}

/* ---- keys and hashnames ------------------------------------------------------------------ */

static void check_key(const char *who) {
  const cJSON *k = tht_at(vec, "keys", who, NULL);
  tht_bytes sk = tht_hex(tht_str(k, "secret_hex", NULL));
  /* the derivation: secret = sha256(label) */
  const char *label = tht_str(k, "label", NULL);
  uint8_t h[32];
  crypto_hash_sha256(h, (const uint8_t *)label, strlen(label));
  assert_memory_equal(h, sk.p, 32);

  bx_th_identity *id = NULL;
  assert_int_equal(bx_th_identity_from_secret(sk.p, &id), 0);
  tht_same(bx_th_identity_public_key(id), 32, tht_str(k, "public_hex", NULL));
  assert_string_equal(bx_th_identity_hashname(id), tht_str(k, "hashname", NULL));

  char b32[64];
  bx__th_b32_encode(sk.p, 32, b32);
  assert_string_equal(b32, tht_str(k, "secret_b32", NULL));
  bx__th_b32_encode(bx_th_identity_public_key(id), 32, b32);
  assert_string_equal(b32, tht_str(k, "public_b32", NULL));

  uint8_t inter[32];
  bx__th_intermediate(bx_th_identity_public_key(id), 32, inter);
  tht_same(inter, 32, tht_str(k, "intermediate_3a_hex", NULL));
  bx__th_b32_encode(inter, 32, b32);
  assert_string_equal(b32, tht_str(k, "intermediate_3a_b32", NULL));

  uint8_t csid = 0x3a, roll[32];
  crypto_hash_sha256(roll, &csid, 1);
  tht_same(roll, 32, tht_str(k, "rollup_after_csid_hex", NULL));
  bx__th_part part = {.csid = 0x3a};
  memcpy(part.hash, inter, 32);
  assert_int_equal(bx__th_rollup(&part, 1, roll), 0);
  tht_same(roll, 32, tht_str(k, "hashname_bin_hex", NULL));

  char hn[BX_TH_HASHNAME_LEN + 1];
  assert_int_equal(bx_th_hashname_of_key(bx_th_identity_public_key(id), hn), 0);
  assert_string_equal(hn, tht_str(k, "hashname", NULL));
  assert_true(bx__th_hashname_valid(hn));

  /* id_json: the identity file telehash-js writes loads into the same identity */
  char path[] = "/tmp/bx-th-vec-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  char *text = cJSON_PrintUnformatted(tht_at(k, "id_json", NULL));
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  cJSON_free(text);
  bx_th_identity *loaded = NULL;
  assert_int_equal(bx_th_identity_load(path, &loaded), 0);
  assert_string_equal(bx_th_identity_hashname(loaded), tht_str(k, "hashname", NULL));
  assert_memory_equal(bx__th_identity_secret(loaded), sk.p, 32);
  unlink(path);
  bx_th_identity_free(loaded);
  bx_th_identity_free(id);
  tht_free(&sk);
}

static void test_keys(void **state) {
  (void)state;
  check_key("A");
  check_key("B");
}

static void test_hashname_published(void **state) {
  (void)state;
  const cJSON *list = tht_at(vec, "hashname_published", NULL);
  assert_int_equal(cJSON_GetArraySize(list), 2);
  const cJSON *v;
  cJSON_ArrayForEach(v, list) {
    const char *expect = tht_str(v, "expect", NULL);
    assert_string_equal(tht_str(v, "js_result", NULL), expect);
    char hn[BX_TH_HASHNAME_LEN + 1];
    const cJSON *keys = tht_at(v, "keys", NULL);
    const cJSON *inters = cJSON_GetObjectItemCaseSensitive(v, "intermediates");
    assert_int_equal(bx__th_hashname_of_parts(keys, NULL, hn), 0);
    assert_string_equal(hn, expect);
    if (inters == NULL) continue;
    /* the intermediates alone, and each key with the other's intermediate, give the same */
    assert_int_equal(bx__th_hashname_of_parts(NULL, inters, hn), 0);
    assert_string_equal(hn, expect);
    assert_int_equal(bx__th_hashname_of_parts(keys, inters, hn), 0);
    assert_string_equal(hn, expect);
    cJSON *mixed = cJSON_CreateObject(), *mixed_i = cJSON_CreateObject();
    cJSON_AddStringToObject(mixed, "3a", tht_str(keys, "3a", NULL));
    cJSON_AddStringToObject(mixed_i, "1a", tht_str(inters, "1a", NULL));
    assert_int_equal(bx__th_hashname_of_parts(mixed, mixed_i, hn), 0);
    assert_string_equal(hn, expect);
    /* an intermediate that disagrees with its key */
    cJSON_AddStringToObject(mixed_i, "3a", tht_str(inters, "1a", NULL));
    assert_int_equal(bx__th_hashname_of_parts(mixed, mixed_i, hn), BX_EBADMSG);
    cJSON_Delete(mixed);
    cJSON_Delete(mixed_i);
  }
}

static void test_base32_published(void **state) {
  (void)state;
  const cJSON *v;
  int count = 0;
  cJSON_ArrayForEach(v, tht_at(vec, "base32_published", "vectors", NULL)) {
    tht_bytes raw = tht_hex(v->string);
    char enc[128];
    bx__th_b32_encode(raw.p, raw.len, enc);
    assert_string_equal(enc, v->valuestring);
    assert_int_equal(strlen(enc), bx__th_b32_len(raw.len));
    uint8_t dec[64];
    size_t len = 99;
    assert_int_equal(bx__th_b32_decode(enc, strlen(enc), dec, sizeof dec, &len), 0);
    assert_int_equal(len, raw.len);
    if (len > 0) assert_memory_equal(dec, raw.p, len);
    tht_free(&raw);
    count++;
  }
  assert_int_equal(count, 7);
}

/* ---- LOB --------------------------------------------------------------------------------- */

static void test_lob(void **state) {
  (void)state;
  const cJSON *v;
  int count = 0;
  cJSON_ArrayForEach(v, tht_at(vec, "lob", NULL)) {
    tht_bytes pkt = tht_hex(tht_str(v, "hex", NULL));
    bx__th_lob lob;
    assert_int_equal(bx__th_lob_parse(pkt.p, pkt.len, &lob), 0);
    assert_int_equal(lob.head_len, (size_t)tht_at(v, "head_len", NULL)->valuedouble);
    tht_same(lob.head, lob.head_len, tht_str(v, "head_hex", NULL));
    tht_same(lob.body, lob.body_len, tht_str(v, "body_hex", NULL));
    const cJSON *json = tht_at(v, "json", NULL);
    uint8_t out[256];
    size_t len = 0;
    if (cJSON_IsNull(json)) {
      assert_null(lob.json);
      assert_int_equal(
          bx__th_lob_write(lob.head, lob.head_len, lob.body, lob.body_len, out, sizeof out, &len),
          0);
      assert_int_equal(len, bx__th_lob_size(lob.head_len, lob.body_len));
      tht_same(out, len, tht_str(v, "hex", NULL));
    } else {
      assert_true(cJSON_Compare(lob.json, json, true));
      bx_buf buf = {0};
      assert_int_equal(bx__th_lob_append_json(&buf, json, lob.body, lob.body_len), 0);
      tht_same((const uint8_t *)buf.base, buf.len, tht_str(v, "hex", NULL));
      bx_buf_free(&buf);
    }
    if (strcmp(tht_str(v, "name", NULL), "attached packet as body") == 0) {
      bx__th_lob att;
      assert_int_equal(bx__th_lob_parse(lob.body, lob.body_len, &att), 0);
      assert_string_equal(cJSON_GetObjectItemCaseSensitive(att.json, "1a")->valuestring, "xx");
      tht_same(att.body, att.body_len, "0102");
      bx__th_lob_clear(&att);
    }
    bx__th_lob_clear(&lob);
    tht_free(&pkt);
    count++;
  }
  assert_int_equal(count, 6);
}

/* ---- messages and handshakes ------------------------------------------------------------- */

static tht_bytes key_of(const char *who, const char *field) {
  return tht_hex(tht_str(vec, "keys", who, field, NULL));
}

/* One bit flipped in each part of a sealed message (outer[0..n)) is refused: KEY, NONCE and
 * ciphertext make it impossible to open or to verify, AUTH to verify. */
static void check_message_flips(const tht_bytes *outer, const uint8_t *rsk, const uint8_t *spk) {
  size_t n = outer->len, inner_cap = n;
  uint8_t *inner = malloc(inner_cap);
  assert_non_null(inner);
  const size_t key = 3, nonce = 3 + 32, ct = 3 + 32 + 24, auth = n - 16;
  const size_t spots[] = {key, key + 30, nonce, nonce + 23, ct, auth - 1, auth, n - 1};
  for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
    for (int bit = 0; bit < 8; bit += 7) {
      tht_bytes bad = tht_flip(outer, spots[i], bit);
      int opened = bx__th_cs3a_open(bad.p, bad.len, rsk, inner, inner_cap, NULL);
      int verified = bx__th_cs3a_verify(bad.p, bad.len, rsk, spk);
      assert_int_equal(verified, BX_EAUTH);
      if (spots[i] < auth)
        assert_int_equal(opened, BX_EAUTH);
      else
        assert_int_equal(opened, 0); /* AUTH is the sender's proof, not the box's */
      tht_free(&bad);
    }
  }
  /* X25519 ignores a public key's top bit, so that flip opens (to the same inner packet):
   * only AUTH, which covers KEY's bytes, catches it */
  tht_bytes top = tht_flip(outer, key + 31, 7);
  assert_int_equal(bx__th_cs3a_open(top.p, top.len, rsk, inner, inner_cap, NULL), 0);
  assert_int_equal(bx__th_cs3a_verify(top.p, top.len, rsk, spk), BX_EAUTH);
  tht_free(&top);
  /* the CSID and the head length */
  tht_bytes bad = tht_flip(outer, 2, 0);
  assert_int_equal(bx__th_cs3a_open(bad.p, bad.len, rsk, inner, inner_cap, NULL), BX_ENOTSUP);
  assert_int_equal(bx__th_cs3a_verify(bad.p, bad.len, rsk, spk), BX_ENOTSUP);
  tht_free(&bad);
  bad = tht_flip(outer, 1, 1);
  assert_int_equal(bx__th_cs3a_open(bad.p, bad.len, rsk, inner, inner_cap, NULL), BX_EBADMSG);
  tht_free(&bad);
  free(inner);
}

/* Seals v's inner from `from` to `to` with v's ephemeral key and nonce, compares with v's outer,
 * opens it, verifies the sender, and refuses flipped bits. */
static void check_sealed(const cJSON *v, const char *from, const char *to) {
  tht_bytes ssk = key_of(from, "secret_hex"), spk = key_of(from, "public_hex");
  tht_bytes rsk = key_of(to, "secret_hex"), rpk = key_of(to, "public_hex");
  tht_bytes esk = tht_hex(tht_str(v, "ephemeral_secret_hex", NULL));
  tht_bytes nonce = tht_hex(tht_str(v, "nonce_hex", NULL));
  tht_bytes inner = tht_hex(tht_str(v, "inner_hex", NULL));
  tht_bytes outer = tht_hex(tht_str(v, "outer_hex", NULL));

  size_t cap = inner.len + BX__TH_MSG_OVERHEAD, len = 0;
  uint8_t *out = malloc(cap);
  assert_int_equal(
      bx__th_cs3a_seal(inner.p, inner.len, rpk.p, ssk.p, esk.p, nonce.p, out, cap, &len), 0);
  assert_int_equal(len, inner.len + 91);
  tht_same(out, len, tht_str(v, "outer_hex", NULL));
  assert_int_equal(
      bx__th_cs3a_seal(inner.p, inner.len, rpk.p, ssk.p, esk.p, nonce.p, out, cap - 1, &len),
      BX_EMSGSIZE);

  uint8_t key[32];
  assert_int_equal(bx__th_cs3a_key(outer.p, outer.len, key), 0);
  tht_same(key, 32, tht_str(v, "ephemeral_public_hex", NULL));

  uint8_t *opened = malloc(outer.len);
  size_t olen = 0;
  assert_int_equal(bx__th_cs3a_open(outer.p, outer.len, rsk.p, opened, outer.len, &olen), 0);
  tht_same(opened, olen, tht_str(v, "inner_hex", NULL));
  assert_int_equal(bx__th_cs3a_open(outer.p, outer.len, rsk.p, opened, olen - 1, &olen),
                   BX_EMSGSIZE);
  assert_int_equal(bx__th_cs3a_verify(outer.p, outer.len, rsk.p, spk.p), 0);
  /* the wrong recipient cannot open it; the wrong sender is not verified */
  assert_int_equal(bx__th_cs3a_open(outer.p, outer.len, ssk.p, opened, outer.len, &olen), BX_EAUTH);
  assert_int_equal(bx__th_cs3a_verify(outer.p, outer.len, rsk.p, rpk.p), BX_EAUTH);
  check_message_flips(&outer, rsk.p, spk.p);

  /* the same bytes with the keys kept per peer (th_cs3a_remote.c), and the AUTH checked with
   * the recipient's kept static secret; a flipped bit in KEY, NONCE, ciphertext or AUTH fails */
  bx__th_cs3a_remote r;
  assert_int_equal(bx__th_cs3a_remote_init(rpk.p, ssk.p, esk.p, &r), 0);
  assert_int_equal(bx__th_cs3a_seal_to(&r, inner.p, inner.len, nonce.p, out, cap, &len), 0);
  tht_same(out, len, tht_str(v, "outer_hex", NULL));
  assert_int_equal(bx__th_cs3a_seal_to(&r, inner.p, inner.len, nonce.p, out, cap - 1, &len),
                   BX_EMSGSIZE);
  uint8_t k_static[32];
  assert_int_equal(bx__th_cs3a_static(spk.p, rsk.p, k_static), 0);
  assert_memory_equal(k_static, r.k_static, 32); /* the same on both sides */
  assert_int_equal(bx__th_cs3a_verify_static(outer.p, outer.len, k_static), 0);
  size_t flips[] = {3, 3 + 32, 3 + 56, outer.len - 1};
  for (size_t i = 0; i < 4; i++) {
    tht_bytes bad = tht_flip(&outer, flips[i], 3);
    assert_int_equal(bx__th_cs3a_verify_static(bad.p, bad.len, k_static), BX_EAUTH);
    tht_free(&bad);
  }
  assert_int_equal(bx__th_cs3a_verify_static(outer.p, 90, k_static), BX_EBADMSG);
  assert_int_equal(bx__th_cs3a_static(rpk.p, rsk.p, k_static), 0); /* another sender's */
  assert_int_equal(bx__th_cs3a_verify_static(outer.p, outer.len, k_static), BX_EAUTH);
  uint8_t zero[32] = {0};
  assert_int_equal(bx__th_cs3a_remote_init(zero, ssk.p, NULL, &r), BX_EAUTH);
  assert_int_equal(bx__th_cs3a_remote_init(rpk.p, ssk.p, NULL, &r), 0); /* a fresh ephemeral */
  assert_int_equal(bx__th_cs3a_seal_to(&r, inner.p, inner.len, NULL, out, cap, &len), 0);
  assert_int_equal(bx__th_cs3a_open(out, len, rsk.p, opened, outer.len, &olen), 0);
  tht_same(opened, olen, tht_str(v, "inner_hex", NULL));
  bx__th_cs3a_remote_clear(&r);

  free(opened);
  free(out);
  tht_free(&ssk);
  tht_free(&spk);
  tht_free(&rsk);
  tht_free(&rpk);
  tht_free(&esk);
  tht_free(&nonce);
  tht_free(&inner);
  tht_free(&outer);
}

static void test_message(void **state) {
  (void)state;
  const cJSON *m = tht_at(vec, "message", NULL);
  assert_string_equal(tht_str(m, "sender", NULL), "A");
  assert_string_equal(tht_str(m, "recipient", NULL), "B");
  check_sealed(m, "A", "B");

  /* the parts and the derived secrets, as the spec writes them */
  tht_bytes outer = tht_hex(tht_str(m, "outer_hex", NULL));
  tht_same(outer.p + 3, 32, tht_str(m, "parts", "KEY", NULL));
  tht_same(outer.p + 35, 24, tht_str(m, "parts", "NONCE", NULL));
  tht_same(outer.p + 59, outer.len - 59 - 16, tht_str(m, "parts", "SECRETBOX", NULL));
  tht_same(outer.p + outer.len - 16, 16, tht_str(m, "parts", "AUTH", NULL));
  tht_bytes bpk = key_of("B", "public_hex"), ask = key_of("A", "secret_hex");
  tht_bytes esk = tht_hex(tht_str(m, "ephemeral_secret_hex", NULL));
  uint8_t k[32], mac_key[32];
  assert_int_equal(crypto_box_beforenm(k, bpk.p, esk.p), 0);
  tht_same(k, 32, tht_str(m, "derived", "box_secret_hex", NULL));
  assert_int_equal(crypto_box_beforenm(k, bpk.p, ask.p), 0);
  tht_same(k, 32, tht_str(m, "derived", "mac_secret_hex", NULL));
  bx__th_sha256_2(outer.p + 35, 24, k, 32, mac_key);
  tht_same(mac_key, 32, tht_str(m, "derived", "mac_key_hex", NULL));

  uint8_t token[16];
  assert_int_equal(bx__th_token_of(outer.p, outer.len, token), 0);
  tht_same(token, 16, tht_str(m, "routing_token_hex", NULL));

  /* the inner packet */
  tht_bytes inner = tht_hex(tht_str(m, "inner_hex", NULL));
  bx__th_lob lob;
  assert_int_equal(bx__th_lob_parse(inner.p, inner.len, &lob), 0);
  assert_true(cJSON_Compare(lob.json, tht_at(m, "inner_json", NULL), true));
  const char *body = tht_str(m, "inner_body_utf8", NULL);
  assert_int_equal(lob.body_len, strlen(body));
  assert_memory_equal(lob.body, body, lob.body_len);
  bx__th_lob_clear(&lob);
  tht_free(&inner);
  tht_free(&outer);
  tht_free(&bpk);
  tht_free(&ask);
  tht_free(&esk);
}

static void check_handshake(const char *dir, const char *from, const char *to, uint32_t want_at,
                            bx__th_order order) {
  const cJSON *h = tht_at(vec, "handshake", dir, NULL);
  check_sealed(h, from, to);

  tht_bytes inner = tht_hex(tht_str(h, "inner_hex", NULL));
  tht_bytes spk = key_of(from, "public_hex");
  bx__th_handshake hs;
  assert_int_equal(bx__th_handshake_parse(inner.p, inner.len, &hs), 0);
  assert_int_equal(hs.at, want_at);
  assert_true(bx__th_at_fits(order, hs.at));
  assert_memory_equal(hs.key, spk.p, 32);
  assert_true(cJSON_Compare(hs.head, tht_at(h, "inner_json", NULL), true));
  bx__th_handshake_clear(&hs);

  bx__th_lob lob;
  assert_int_equal(bx__th_lob_parse(inner.p, inner.len, &lob), 0);
  tht_same(lob.body, lob.body_len, tht_str(h, "attached_hex", NULL));
  bx__th_lob_clear(&lob);

  /* bx writes the attached head as {"3a":true} (same length as telehash-js's {"3a":null}) */
  bx_buf buf = {0};
  assert_int_equal(bx__th_handshake_append(&buf, want_at, spk.p, NULL), 0);
  assert_int_equal(buf.len, inner.len);
  size_t head_len = ((size_t)inner.p[0] << 8) | inner.p[1];
  uint8_t *spot = inner.p + 2 + head_len + 2 + 6; /* {"3a":null} */
  assert_memory_equal(spot, "null", 4);
  memcpy(spot, "true", 4);
  assert_memory_equal(buf.base, inner.p, inner.len);
  bx_buf_free(&buf);

  tht_bytes outer = tht_hex(tht_str(h, "outer_hex", NULL));
  uint8_t token[16];
  assert_int_equal(bx__th_token_of(outer.p, outer.len, token), 0);
  tht_same(token, 16, tht_str(h, "routing_token_hex", NULL));
  tht_free(&outer);
  tht_free(&inner);
  tht_free(&spk);
}

static void test_handshake(void **state) {
  (void)state;
  tht_bytes apk = key_of("A", "public_hex"), bpk = key_of("B", "public_hex");
  assert_string_equal(tht_str(vec, "handshake", "order", "A", NULL), "ODD");
  assert_string_equal(tht_str(vec, "handshake", "order", "B", NULL), "EVEN");
  assert_int_equal(bx__th_order_of(apk.p, bpk.p), BX__TH_ODD);
  assert_int_equal(bx__th_order_of(bpk.p, apk.p), BX__TH_EVEN);
  assert_int_equal(bx__th_order_of(apk.p, apk.p), BX_EINVAL);
  check_handshake("A_to_B", "A", "B", 1700000001u, BX__TH_ODD);
  check_handshake("B_to_A", "B", "A", 1700000000u, BX__TH_EVEN);
  /* e3x's sync: the two `at`s differ, so both sides answer with the higher one */
  assert_false(cJSON_IsTrue(tht_at(vec, "handshake", "js_sync_results", "A_sync_B", NULL)));
  assert_false(cJSON_IsTrue(tht_at(vec, "handshake", "js_sync_results", "B_sync_A", NULL)));
  tht_free(&apk);
  tht_free(&bpk);
}

/* ---- channels ---------------------------------------------------------------------------- */

typedef struct th_side {
  tht_bytes esk, epk;
  bx__th_chankeys keys;
  uint8_t token[16]; /* the token of the handshake this side sent: what it expects */
} th_side;

static void side_init(th_side *s, const char *sent) {
  const cJSON *h = tht_at(vec, "handshake", sent, NULL);
  s->esk = tht_hex(tht_str(h, "ephemeral_secret_hex", NULL));
  s->epk = tht_hex(tht_str(h, "ephemeral_public_hex", NULL));
  uint8_t check[32];
  crypto_scalarmult_base(check, s->esk.p);
  assert_memory_equal(check, s->epk.p, 32);
  tht_bytes got = tht_hex(tht_str(h, "outer_hex", NULL));
  assert_int_equal(bx__th_token_of(got.p, got.len, s->token), 0);
  tht_free(&got);
}

static void check_channel_flips(const tht_bytes *pkt, const th_side *to) {
  uint8_t inner[256];
  const size_t spots[] = {2, 17, 18, 41, 42, pkt->len - 17, pkt->len - 16, pkt->len - 1};
  for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
    tht_bytes bad = tht_flip(pkt, spots[i], 3);
    assert_int_equal(
        bx__th_channel_open(bad.p, bad.len, to->token, to->keys.dec, inner, sizeof inner, NULL),
        BX_EAUTH);
    tht_free(&bad);
  }
  tht_bytes bad = tht_flip(pkt, 1, 0); /* a head: not a channel packet */
  assert_int_equal(
      bx__th_channel_open(bad.p, bad.len, to->token, to->keys.dec, inner, sizeof inner, NULL),
      BX_EBADMSG);
  tht_free(&bad);
  /* the wrong key: the sender's own dec key */
  uint8_t wrong[32];
  memcpy(wrong, to->keys.enc, 32);
  assert_int_equal(
      bx__th_channel_open(pkt->p, pkt->len, to->token, wrong, inner, sizeof inner, NULL), BX_EAUTH);
}

static void check_channel_packet(const char *dir, const th_side *from, const th_side *to) {
  const cJSON *c = tht_at(vec, "channel", dir, NULL);
  tht_same(to->token, 16, tht_str(c, "token_hex", NULL));
  tht_bytes nonce = tht_hex(tht_str(c, "nonce_hex", NULL));
  tht_bytes inner = tht_hex(tht_str(c, "inner_hex", NULL));
  tht_bytes outer = tht_hex(tht_str(c, "outer_hex", NULL));
  uint8_t out[256];
  size_t len = 0;
  assert_int_equal(bx__th_channel_seal(inner.p, inner.len, to->token, from->keys.enc, nonce.p, out,
                                       sizeof out, &len),
                   0);
  assert_int_equal(len, inner.len + BX__TH_CHAN_OVERHEAD);
  tht_same(out, len, tht_str(c, "outer_hex", NULL));
  assert_int_equal(bx__th_channel_seal(inner.p, inner.len, to->token, from->keys.enc, nonce.p, out,
                                       len - 1, &len),
                   BX_EMSGSIZE);

  uint8_t got[256];
  size_t glen = 0;
  assert_int_equal(
      bx__th_channel_open(outer.p, outer.len, to->token, to->keys.dec, got, sizeof got, &glen), 0);
  tht_same(got, glen, tht_str(c, "inner_hex", NULL));
  assert_int_equal(
      bx__th_channel_open(outer.p, outer.len, to->token, to->keys.dec, got, glen - 1, &glen),
      BX_EMSGSIZE);
  bx__th_lob lob;
  assert_int_equal(bx__th_lob_parse(got, glen, &lob), 0);
  assert_true(cJSON_Compare(lob.json, tht_at(c, "inner_json", NULL), true));
  bx__th_lob_clear(&lob);
  /* the packet for one side is not for the other */
  assert_int_equal(
      bx__th_channel_open(outer.p, outer.len, from->token, to->keys.dec, got, sizeof got, &glen),
      BX_EAUTH);
  check_channel_flips(&outer, to);
  tht_free(&nonce);
  tht_free(&inner);
  tht_free(&outer);
}

static void test_channel(void **state) {
  (void)state;
  th_side a, b;
  side_init(&a, "A_to_B");
  side_init(&b, "B_to_A");
  uint8_t shared[32];
  assert_int_equal(crypto_box_beforenm(shared, b.epk.p, a.esk.p), 0);
  tht_same(shared, 32, tht_str(vec, "channel", "ecdh_shared_hex", NULL));
  assert_int_equal(bx__th_channel_keys(a.esk.p, a.epk.p, b.epk.p, &a.keys), 0);
  assert_int_equal(bx__th_channel_keys(b.esk.p, b.epk.p, a.epk.p, &b.keys), 0);
  tht_same(a.keys.enc, 32, tht_str(vec, "channel", "A_encrypt_key_hex", NULL));
  tht_same(a.keys.dec, 32, tht_str(vec, "channel", "A_decrypt_key_hex", NULL));
  assert_memory_equal(b.keys.enc, a.keys.dec, 32);
  assert_memory_equal(b.keys.dec, a.keys.enc, 32);

  check_channel_packet("A_to_B", &a, &b);
  check_channel_packet("B_to_A", &b, &a);

  /* random nonces round trip */
  uint8_t pkt[128], got[128];
  size_t len = 0, glen = 0;
  assert_int_equal(bx__th_channel_seal((const uint8_t *)"\0\0hi", 4, b.token, a.keys.enc, NULL, pkt,
                                       sizeof pkt, &len),
                   0);
  assert_int_equal(bx__th_channel_open(pkt, len, b.token, b.keys.dec, got, sizeof got, &glen), 0);
  assert_int_equal(glen, 4);
  assert_memory_equal(got, "\0\0hi", 4);
  tht_free(&a.esk);
  tht_free(&a.epk);
  tht_free(&b.esk);
  tht_free(&b.epk);
}

/* ---- UDP cloaking, TCP chunking ---------------------------------------------------------- */

static void test_cloak(void **state) {
  (void)state;
  const cJSON *c = tht_at(vec, "cloak", NULL);
  const char label[] = "telehash";
  uint8_t key[32];
  crypto_hash_sha256(key, (const uint8_t *)label, 8);
  tht_same(key, 32, tht_str(c, "key_hex", NULL));
  /* the cloaked packet is the A_to_B channel packet */
  assert_string_equal(tht_str(c, "packet_hex", NULL),
                      tht_str(vec, "channel", "A_to_B", "outer_hex", NULL));

  tht_bytes nonce = tht_hex(tht_str(c, "nonce_hex", NULL));
  tht_bytes pkt = tht_hex(tht_str(c, "packet_hex", NULL));
  tht_bytes cloaked = tht_hex(tht_str(c, "cloaked_hex", NULL));
  uint8_t out[512];
  size_t len = 0, off = 99;
  assert_int_equal(bx__th_cloak(pkt.p, pkt.len, 1, nonce.p, out, sizeof out, &len), 0);
  tht_same(out, len, tht_str(c, "cloaked_hex", NULL));
  assert_int_equal(bx__th_cloak(pkt.p, pkt.len, 1, nonce.p, out, len - 1, &len), BX_EMSGSIZE);
  memcpy(out, cloaked.p, cloaked.len);
  assert_int_equal(bx__th_uncloak(out, cloaked.len, &off), 0);
  assert_int_equal(off, 8);
  tht_same(out + off, cloaked.len - off, tht_str(c, "packet_hex", NULL));

  /* a flipped bit under the cloak reaches the channel packet, which refuses it; a flipped
   * nonce bit garbles the whole packet */
  th_side b;
  side_init(&b, "B_to_A");
  th_side a;
  side_init(&a, "A_to_B");
  assert_int_equal(bx__th_channel_keys(b.esk.p, b.epk.p, a.epk.p, &b.keys), 0);
  uint8_t inner[256];
  const size_t spots[] = {0, 7, 8 + 2, 8 + 18, 8 + 42, cloaked.len - 1};
  for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
    tht_bytes bad = tht_flip(&cloaked, spots[i], 1);
    int rc = bx__th_uncloak(bad.p, bad.len, &off);
    if (rc == 0)
      rc = bx__th_channel_open(bad.p + off, bad.len - off, b.token, b.keys.dec, inner, sizeof inner,
                               NULL);
    assert_true(rc == BX_EAUTH || rc == BX_EBADMSG);
    tht_free(&bad);
  }
  assert_int_equal(
      bx__th_channel_open(out + 8, cloaked.len - 8, b.token, b.keys.dec, inner, sizeof inner, NULL),
      0);

  /* several rounds, random nonces */
  assert_int_equal(bx__th_cloak(pkt.p, pkt.len, 3, NULL, out, sizeof out, &len), 0);
  assert_int_equal(len, pkt.len + 24);
  assert_int_equal(bx__th_uncloak(out, len, &off), 0);
  assert_int_equal(off, 24);
  assert_memory_equal(out + off, pkt.p, pkt.len);
  tht_free(&a.esk);
  tht_free(&a.epk);
  tht_free(&b.esk);
  tht_free(&b.epk);
  tht_free(&nonce);
  tht_free(&pkt);
  tht_free(&cloaked);
}

static void test_chunking(void **state) {
  (void)state;
  const cJSON *c = tht_at(vec, "chunking", NULL);
  tht_bytes pkt = tht_hex(tht_str(c, "packet_hex", NULL));
  tht_bytes framed = tht_hex(tht_str(c, "framed_hex", NULL));
  assert_int_equal(pkt.len, (size_t)tht_at(c, "packet_len", NULL)->valuedouble);
  assert_int_equal(framed.len, (size_t)tht_at(c, "framed_len", NULL)->valuedouble);
  assert_int_equal(bx__th_chunk_size(pkt.len), framed.len);
  uint8_t out[512];
  size_t len = 0, used = 0, size = 0;
  assert_int_equal(bx__th_chunk_write(pkt.p, pkt.len, out, sizeof out, &len), 0);
  tht_same(out, len, tht_str(c, "framed_hex", NULL));
  assert_int_equal(bx__th_chunk_write(pkt.p, pkt.len, out, len - 1, &len), BX_EMSGSIZE);

  assert_int_equal(bx__th_chunk_scan(framed.p, framed.len, 4096, &used, &size), 1);
  assert_int_equal(used, framed.len);
  assert_int_equal(size, pkt.len);
  uint8_t got[512];
  bx__th_chunk_gather(framed.p, used, got);
  assert_memory_equal(got, pkt.p, pkt.len);
  for (size_t n = 0; n < framed.len; n++) /* every prefix needs more */
    assert_int_equal(bx__th_chunk_scan(framed.p, n, 4096, &used, &size), 0);
  assert_int_equal(bx__th_chunk_scan(framed.p, framed.len, pkt.len - 1, &used, &size), BX_EMSGSIZE);
  assert_int_equal(bx__th_chunk_scan(framed.p, framed.len, pkt.len, &used, &size), 1);
  tht_free(&pkt);
  tht_free(&framed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys),
      cmocka_unit_test(test_hashname_published),
      cmocka_unit_test(test_base32_published),
      cmocka_unit_test(test_lob),
      cmocka_unit_test(test_message),
      cmocka_unit_test(test_handshake),
      cmocka_unit_test(test_channel),
      cmocka_unit_test(test_cloak),
      cmocka_unit_test(test_chunking),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
