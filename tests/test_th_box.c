/* telehash boxes (spec/telehash section 6), one rule at a time: a box host and clients as real
 * endpoints over UDP on loopback in one loop; the host's clock is the test's, moved by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "testutil.h"
#include "th_internal.h"

#include "th_box_testutil.h"

/* ---- the modes (6.2) ------------------------------------------------------------------------ */

/* Peer mode stores to the recipient; self mode collects everything, oldest first, with from;
 * removing by key empties the box. */
static void test_store_then_collect_self(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  assert_int_equal(tb_store(&w, ALICE, BOB, "hello bob", NULL, 0), 9);
  assert_int_equal(tb_store(&w, CAROL, BOB, "from carol", NULL, 0), 9);
  assert_int_equal(tb_stats(&w).stored, 2);
  assert_int_equal(tb_stats(&w).boxes, 2);
  tb_col col;
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 2);
  assert_int_equal(col.cap, 10);
  assert_false(col.has_key);
  assert_string_equal(col.from[0], tb_hn(&w, ALICE));
  assert_string_equal(col.from[1], tb_hn(&w, CAROL));
  char text[64];
  tb_text(&w, &col, 0, BOB, ALICE, text, sizeof text);
  assert_string_equal(text, "hello bob");
  tb_text(&w, &col, 1, BOB, CAROL, text, sizeof text);
  assert_string_equal(text, "from carol");
  /* the id is SHA-256 of the message when stored without "key" */
  char id[BX_TH_BOX_ID_LEN + 1];
  bx_th_box_id(col.msgs[0], col.lens[0], id);
  assert_string_equal(col.ids[0], id);
  bx_th_box_op rm = {.id = col.ids[0]};
  tb_send(&w, &col, &rm);
  rm.id = col.ids[1];
  tb_send(&w, &col, &rm);
  tb_end(&w, &col);
  assert_int_equal(tb_stats(&w).stored, 0);
  assert_int_equal(tb_stats(&w).removed, 2);
  assert_int_equal(tb_stats(&w).boxes, 0);
  tb_teardown(&w);
}

/* Peer mode collects only the named sender's messages; its key/clear act on both directions
 * between the two. */
static void test_peer_mode(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_store(&w, ALICE, BOB, "a1", NULL, 0);
  tb_store(&w, CAROL, BOB, "c1", NULL, 0);
  tb_store(&w, BOB, ALICE, "b1", NULL, 0);
  tb_col col;
  tb_open(&w, BOB, tb_hn(&w, ALICE), true, false, &col);
  assert_int_equal(col.waiting, 1);
  assert_int_equal(col.cap, 9); /* bob's own message to alice takes room */
  assert_string_equal(col.from[0], tb_hn(&w, ALICE));
  bx_th_box_op clear = {.clear = true};
  tb_send(&w, &col, &clear);
  assert_int_equal(col.last_cap, 10);
  tb_end(&w, &col);
  /* both directions between bob and alice are gone; carol's message stays */
  assert_int_equal(tb_stats(&w).stored, 1);
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 1);
  assert_string_equal(col.from[0], tb_hn(&w, CAROL));
  tb_end(&w, &col);
  tb_teardown(&w);
}

/* Pick mode: the sender of the oldest message, its key info; nothing waiting: no box, cap 0,
 * and a store is err "no box". */
static void test_pick_mode(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_store(&w, CAROL, BOB, "c1", NULL, 0);
  tb_store(&w, ALICE, BOB, "a1", NULL, 0);
  tb_store(&w, CAROL, BOB, "c2", NULL, 0);
  tb_col col;
  tb_open(&w, BOB, NULL, true, false, &col);
  assert_string_equal(col.box, tb_hn(&w, CAROL));
  assert_true(col.has_key);
  assert_memory_equal(col.key, bx_th_identity_public_key(w.id[CAROL]), BX__TH_KEY);
  assert_int_equal(col.waiting, 2);
  bx_th_box_op clear = {.clear = true, .end = true};
  tb_send(&w, &col, &clear);
  assert_true(tb_run_until(w.e, tb_closed, &col, 5000));
  tb_open(&w, BOB, NULL, true, false, &col);
  assert_string_equal(col.box, tb_hn(&w, ALICE));
  assert_int_equal(col.waiting, 1);
  bx_th_box_op rm = {.id = col.ids[0], .end = true};
  tb_send(&w, &col, &rm);
  assert_true(tb_run_until(w.e, tb_closed, &col, 5000));
  /* nothing waiting */
  tb_open(&w, BOB, NULL, true, false, &col);
  assert_true(col.responded);
  assert_string_equal(col.box, "");
  assert_int_equal(col.cap, 0);
  assert_int_equal(col.waiting, 0);
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  bx_th_box_op op = {.msg = msg};
  op.len = tb_seal(&w, BOB, ALICE, "x", msg);
  assert_int_equal(bx_th_box_client_send(col.c, &op), 0);
  assert_true(tb_run_until(w.e, tb_closed, &col, 5000));
  assert_int_equal(col.status, BX_EREMOTE);
  assert_string_equal(col.err, "no box");
  assert_int_equal(tb_stats(&w).stored, 0);
  tb_teardown(&w);
}

/* An open without csid asks for the box hashname's key: key info that hashes to it. */
static void test_key_info(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_col col;
  tb_open(&w, BOB, tb_hn(&w, ALICE), false, false, &col);
  assert_true(col.has_key);
  assert_memory_equal(col.key, bx_th_identity_public_key(w.id[ALICE]), BX__TH_KEY);
  tb_end(&w, &col);
  /* the key of a hashname the host never met: no key info */
  bx_th_identity *stranger = NULL;
  assert_int_equal(bx_th_identity_new(&stranger), 0);
  tb_open(&w, BOB, bx_th_identity_hashname(stranger), false, false, &col);
  assert_true(col.responded);
  assert_false(col.has_key);
  tb_end(&w, &col);
  bx_th_identity_free(stranger);
  tb_teardown(&w);
}

/* A host sends at most a batch (32) after the response; the rest after removing those. */
static void test_batch(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.cap = 50};
  tb_setup(&w, &ho);
  tb_col col;
  tb_open(&w, ALICE, tb_hn(&w, BOB), true, false, &col);
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  for (int i = 0; i < 40; i++) {
    char text[16];
    snprintf(text, sizeof text, "m%d", i);
    bx_th_box_op op = {.msg = msg};
    op.len = tb_seal(&w, ALICE, BOB, text, msg);
    tb_send(&w, &col, &op);
  }
  tb_end(&w, &col);
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 32);
  assert_int_equal(col.nmsg, 32);
  char text[64];
  tb_text(&w, &col, 0, BOB, ALICE, text, sizeof text);
  assert_string_equal(text, "m0");
  for (int i = 0; i < 32; i++) {
    bx_th_box_op rm = {.id = col.ids[i]};
    tb_send(&w, &col, &rm);
  }
  tb_end(&w, &col);
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 8);
  tb_text(&w, &col, 0, BOB, ALICE, text, sizeof text);
  assert_string_equal(text, "m32");
  tb_end(&w, &col);
  tb_teardown(&w);
}

/* An id already stored in the box is not stored again; the first copy stays. */
static void test_duplicates(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  const char *id = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
  tb_store(&w, ALICE, BOB, "first", id, 0);
  tb_store(&w, ALICE, BOB, "second", id, 0);
  assert_int_equal(tb_stats(&w).stored, 1);
  assert_int_equal(tb_stats(&w).duplicate, 1);
  tb_col col;
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 1);
  char text[64];
  tb_text(&w, &col, 0, BOB, ALICE, text, sizeof text);
  assert_string_equal(text, "first");
  assert_string_equal(col.ids[0],
                      "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  tb_end(&w, &col);
  /* the same id from another sender is another box's */
  tb_store(&w, CAROL, BOB, "carol", id, 0);
  assert_int_equal(tb_stats(&w).stored, 2);
  tb_teardown(&w);
}

/* Over the per-box capacity the box's oldest goes; over the total, the host's oldest. */
static void test_eviction(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.cap = 3, .total = 5};
  tb_setup(&w, &ho);
  tb_store(&w, ALICE, BOB, "a1", NULL, 0);
  tb_store(&w, ALICE, BOB, "a2", NULL, 0);
  assert_int_equal(tb_store(&w, ALICE, BOB, "a3", NULL, 0), 0);
  tb_store(&w, ALICE, BOB, "a4", NULL, 0); /* a1 goes */
  assert_int_equal(tb_stats(&w).evicted, 1);
  tb_store(&w, CAROL, BOB, "c1", NULL, 0);
  tb_store(&w, CAROL, BOB, "c2", NULL, 0);
  tb_store(&w, CAROL, BOB, "c3", NULL, 0); /* total 5 reached: a2 (the host's oldest) goes */
  assert_int_equal(tb_stats(&w).evicted, 2);
  assert_int_equal(tb_stats(&w).stored, 5);
  tb_col col;
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 5);
  const char *want[] = {"a3", "a4", "c1", "c2", "c3"};
  for (int i = 0; i < 5; i++) {
    char text[64];
    tb_text(&w, &col, i, BOB, i < 2 ? ALICE : CAROL, text, sizeof text);
    assert_string_equal(text, want[i]);
  }
  tb_end(&w, &col);
  tb_teardown(&w);
}

/* expire: per message, the host's default, the maximum; the clock is the test's. */
static void test_expiry(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.expire_default_s = 100, .expire_max_s = 1000};
  tb_setup(&w, &ho);
  tb_store(&w, ALICE, BOB, "ten", NULL, 10);
  tb_store(&w, ALICE, BOB, "default", NULL, 0);
  tb_store(&w, CAROL, BOB, "thousand", NULL, 1000);
  w.clock += 10000;
  assert_int_equal(bx_th_box_host_expire(w.host), 1);
  assert_int_equal(tb_stats(&w).expired, 1);
  w.clock += 90000;
  /* the next open sees the default-expiry one gone too */
  tb_col col;
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 1);
  assert_string_equal(col.from[0], tb_hn(&w, CAROL));
  tb_end(&w, &col);
  assert_int_equal(tb_stats(&w).expired, 2);
  tb_teardown(&w);
}

/* A message stored while the recipient's channel is open arrives live. */
static void test_live(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_col bob;
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &bob);
  assert_int_equal(bob.waiting, 0);
  tb_store(&w, ALICE, BOB, "live", NULL, 0);
  tb_wait wt = {&bob, 1};
  assert_true(tb_run_until(w.e, tb_has_msgs, &wt, 5000));
  char text[64];
  tb_text(&w, &bob, 0, BOB, ALICE, text, sizeof text);
  assert_string_equal(text, "live");
  tb_end(&w, &bob);
  tb_teardown(&w);
}

/* clear and a BODY in one packet: the scope is emptied, then the message stored. */
static void test_clear_then_store(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_store(&w, ALICE, BOB, "old1", NULL, 0);
  tb_store(&w, ALICE, BOB, "old2", NULL, 0);
  tb_col col;
  tb_open(&w, ALICE, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.cap, 8);
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  bx_th_box_op op = {.clear = true, .msg = msg};
  op.len = tb_seal(&w, ALICE, BOB, "new", msg);
  tb_send(&w, &col, &op);
  assert_int_equal(col.last_cap, 9);
  tb_end(&w, &col);
  assert_int_equal(tb_stats(&w).stored, 1);
  /* clear in the open: before the response */
  tb_open(&w, ALICE, tb_hn(&w, BOB), true, true, &col);
  assert_int_equal(col.cap, 10);
  tb_end(&w, &col);
  assert_int_equal(tb_stats(&w).stored, 0);
  tb_teardown(&w);
}

/* ---- errors (6.1, 6.3, 6.4): raw channels -----------------------------------------------------
 */

typedef struct tb_raw {
  bool closed;
  int status, packets;
  char err[128];
} tb_raw;

static void tb_raw_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)ch;
  tb_raw *r = data;
  if (ev->type == BX_TH_CHAN_PACKET) {
    r->packets++;
    return;
  }
  r->closed = true;
  r->status = ev->status;
  if (ev->err) snprintf(r->err, sizeof r->err, "%s", ev->err);
}

static bool tb_raw_closed(void *arg) {
  return ((tb_raw *)arg)->closed;
}

static bool tb_raw_packets(void *arg) {
  return ((tb_raw *)arg)->packets > 0 || ((tb_raw *)arg)->closed;
}

/* Opens a box channel from who with head (JSON text) and body; when then_head is given, sends
 * that packet after the response. Returns the err the host closed it with (static). */
static const char *tb_raw_err(tb_world *w, int who, bool reliable, const char *head,
                              const uint8_t *body, size_t len, const char *then_head,
                              const uint8_t *then_body, size_t then_len) {
  static tb_raw r;
  memset(&r, 0, sizeof r);
  cJSON *h = cJSON_Parse(head);
  assert_non_null(h);
  bx_th_channel *ch = NULL;
  assert_int_equal(
      bx_th_channel_open(w->link[who], "box", reliable, h, body, len, tb_raw_cb, &r, &ch), 0);
  cJSON_Delete(h);
  if (then_head != NULL) {
    assert_true(tb_run_until(w->e, tb_raw_packets, &r, 5000));
    assert_false(r.closed);
    cJSON *t = cJSON_Parse(then_head);
    assert_non_null(t);
    assert_int_equal(bx_th_channel_send(ch, t, then_body, then_len, false), 0);
    cJSON_Delete(t);
  }
  assert_true(tb_run_until(w->e, tb_raw_closed, &r, 5000));
  assert_int_equal(r.status, BX_EREMOTE);
  return r.err;
}

static void test_errors(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.expire_max_s = 100};
  tb_setup(&w, &ho);
  char open[256];
  const char *bob = tb_hn(&w, BOB);
  const uint8_t *apk = bx_th_identity_public_key(w.id[ALICE]);
  snprintf(open, sizeof open, "{\"box\":\"%s\",\"csid\":\"3a\"}", bob);
  assert_string_equal(tb_raw_err(&w, ALICE, false, open, apk, 32, NULL, NULL, 0),
                      "box needs a reliable channel (seq 0 or 1)");
  assert_string_equal(
      tb_raw_err(&w, ALICE, true, "{\"box\":\"nope\",\"csid\":\"3a\"}", apk, 32, NULL, NULL, 0),
      "invalid box");
  char bad[256];
  snprintf(bad, sizeof bad, "{\"box\":\"%s\",\"csid\":\"1a\"}", bob);
  assert_string_equal(tb_raw_err(&w, ALICE, true, bad, apk, 32, NULL, NULL, 0), "unsupported csid");
  assert_string_equal(tb_raw_err(&w, ALICE, true, open, apk, 31, NULL, NULL, 0),
                      "invalid client key");
  assert_string_equal(
      tb_raw_err(&w, ALICE, true, open, bx_th_identity_public_key(w.id[BOB]), 32, NULL, NULL, 0),
      "client key does not match the link");
  uint8_t big[BX_TH_BOX_MAX_MSG + 1];
  memset(big, 7, sizeof big);
  assert_string_equal(tb_raw_err(&w, ALICE, true, open, apk, 32, "{\"x\":1}", big, sizeof big),
                      "message too large");
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  size_t n = tb_seal(&w, ALICE, BOB, "m", msg);
  assert_string_equal(tb_raw_err(&w, ALICE, true, open, apk, 32, "{\"key\":\"abc\"}", msg, n),
                      "invalid key");
  assert_string_equal(tb_raw_err(&w, ALICE, true, open, apk, 32, "{\"expire\":0}", msg, n),
                      "invalid expire");
  assert_string_equal(tb_raw_err(&w, ALICE, true, open, apk, 32, "{\"expire\":101}", msg, n),
                      "invalid expire");
  assert_string_equal(tb_raw_err(&w, ALICE, true, open, apk, 32, "{\"expire\":\"1\"}", msg, n),
                      "invalid expire");
  /* an err leaves the store as it was: clear with a bad expire clears nothing */
  tb_store(&w, ALICE, BOB, "keep", NULL, 0);
  assert_string_equal(
      tb_raw_err(&w, ALICE, true, open, apk, 32, "{\"clear\":true,\"expire\":-1}", msg, n),
      "invalid expire");
  assert_int_equal(tb_stats(&w).stored, 1);
  assert_true(tb_stats(&w).errors >= 10);
  /* the v2 spelling of a box (64 hex) is the same box */
  char hexbox[65];
  uint8_t bin[32];
  size_t bl = 0;
  assert_int_equal(bx__th_b32_decode(bob, strlen(bob), bin, sizeof bin, &bl), 0);
  sodium_bin2hex(hexbox, sizeof hexbox, bin, sizeof bin);
  tb_col col;
  memset(&col, 0, sizeof col);
  /* the host still serves */
  tb_open(&w, BOB, bob, true, false, &col);
  assert_int_equal(col.waiting, 1);
  tb_end(&w, &col);
  snprintf(open, sizeof open, "{\"box\":\"%s\",\"csid\":\"3a\"}", hexbox);
  static tb_raw r;
  memset(&r, 0, sizeof r);
  cJSON *h = cJSON_Parse(open);
  bx_th_channel *ch = NULL;
  assert_int_equal(bx_th_channel_open(w.link[ALICE], "box", true, h, apk, 32, tb_raw_cb, &r, &ch),
                   0);
  cJSON_Delete(h);
  assert_true(tb_run_until(w.e, tb_raw_packets, &r, 5000));
  assert_false(r.closed);
  bx_th_channel_fail(ch, NULL);
  assert_true(tb_run_until(w.e, tb_raw_closed, &r, 5000));
  tb_teardown(&w);
}

/* ---- messages, the advertisement, direct delivery ------------------------------------------- */

/* Opened without the sender's key a message is unverified; with a wrong key it fails. */
static void test_unverified(void **state) {
  (void)state;
  bx_th_identity *a = NULL, *b = NULL, *c = NULL;
  assert_int_equal(bx_th_identity_new(&a), 0);
  assert_int_equal(bx_th_identity_new(&b), 0);
  assert_int_equal(bx_th_identity_new(&c), 0);
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  size_t n = 0;
  assert_int_equal(bx_th_box_seal(a, bx_th_identity_public_key(b), "text", (const uint8_t *)"hi", 2,
                                  msg, sizeof msg, &n),
                   0);
  assert_int_equal(n, 2 + 15 + 2 + BX__TH_MSG_OVERHEAD); /* {"type":"text"} */
  bx_th_box_letter *l = NULL;
  assert_int_equal(bx_th_box_unseal(b, msg, n, NULL, &l), 0);
  assert_false(l->verified);
  bx_th_box_letter_free(l);
  assert_int_equal(bx_th_box_unseal(b, msg, n, bx_th_identity_public_key(c), &l), BX_EAUTH);
  assert_null(l);
  assert_int_equal(bx_th_box_unseal(c, msg, n, NULL, &l), BX_EAUTH);
  /* the size limit: 933 bytes of inner packet */
  uint8_t body[BX_TH_BOX_MAX_INNER];
  memset(body, 'x', sizeof body);
  size_t fits = BX_TH_BOX_MAX_INNER - 2 - 15;
  assert_int_equal(
      bx_th_box_seal(a, bx_th_identity_public_key(b), "text", body, fits, msg, sizeof msg, &n), 0);
  assert_int_equal(n, BX_TH_BOX_MAX_MSG);
  assert_int_equal(
      bx_th_box_seal(a, bx_th_identity_public_key(b), "text", body, fits + 1, msg, sizeof msg, &n),
      BX_EMSGSIZE);
  bx_th_identity_free(a);
  bx_th_identity_free(b);
  bx_th_identity_free(c);
}

typedef struct tb_adv {
  bx_th_link *link;
  uint32_t want;
} tb_adv;

static bool tb_adv_is(void *arg) {
  tb_adv *a = arg;
  uint32_t wv = 0, c = 0;
  return bx_th_link_box_advert(a->link, &wv, &c) && wv == a->want && c == 10;
}

/* "box":[W,C] in the host's handshakes, and one more handshake when W changes. */
static void test_advert(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_adv a = {w.link[BOB], 0};
  assert_true(tb_run_until(w.e, tb_adv_is, &a, 5000));
  tb_store(&w, ALICE, BOB, "a", NULL, 0);
  a.want = 1;
  assert_true(tb_run_until(w.e, tb_adv_is, &a, 5000));
  tb_store(&w, CAROL, BOB, "c", NULL, 0);
  a.want = 2;
  assert_true(tb_run_until(w.e, tb_adv_is, &a, 5000));
  tb_col col;
  tb_open(&w, BOB, tb_hn(&w, BOB), true, true, &col);
  tb_end(&w, &col);
  a.want = 0;
  assert_true(tb_run_until(w.e, tb_adv_is, &a, 5000));
  tb_teardown(&w);
}

static bool tb_delivered(void *arg) {
  return ((tb_world *)arg)->delivered > 0;
}

/* box = the host's own hashname: the host opens, verifies and hands the message over. */
static void test_direct(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.deliver = tb_on_deliver};
  ho.deliver_data = &w; /* tb_setup zeroes w, never moves it */
  tb_setup(&w, &ho);
  tb_store(&w, ALICE, HOST, "to the host", NULL, 0);
  assert_true(tb_run_until(w.e, tb_delivered, &w, 5000));
  assert_true(w.delivered_verified);
  assert_string_equal(w.delivered_text, "to the host");
  assert_int_equal(tb_stats(&w).stored, 0);
  tb_teardown(&w);
}

static bool tb_no_channels(void *arg) {
  return tb_stats(arg).channels == 0;
}

/* The end: a packet with end gets a status with end, and the channel closes cleanly. */
static void test_end(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_col col;
  tb_open(&w, ALICE, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(tb_stats(&w).channels, 1);
  tb_end(&w, &col);
  assert_true(tb_run_until(w.e, tb_no_channels, &w, 5000)); /* the host's side closed too */
  tb_teardown(&w);
}

/* ---- hostile input (rejected or bounded, counted; the host keeps serving) ------------------- */

/* A message re-stored by another sender: the recipient's check against that sender's key
 * fails, and without a key it is only ever unverified. */
static void test_forged_sender(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.deliver = tb_on_deliver};
  ho.deliver_data = &w;
  tb_setup(&w, &ho);
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  size_t n = tb_seal(&w, ALICE, BOB, "from alice", msg);
  tb_col col;
  tb_open(&w, CAROL, tb_hn(&w, BOB), true, false, &col); /* carol replays alice's message */
  bx_th_box_op op = {.msg = msg, .len = n};
  tb_send(&w, &col, &op);
  tb_end(&w, &col);
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 1);
  assert_string_equal(col.from[0], tb_hn(&w, CAROL));
  bx_th_box_letter *l = NULL;
  assert_int_equal(bx_th_box_unseal(w.id[BOB], col.msgs[0], col.lens[0],
                                    bx_th_identity_public_key(w.id[CAROL]), &l),
                   BX_EAUTH);
  assert_int_equal(bx_th_box_unseal(w.id[BOB], col.msgs[0], col.lens[0], NULL, &l), 0);
  assert_false(l->verified);
  bx_th_box_letter_free(l);
  tb_end(&w, &col);
  /* to the host itself: not delivered, counted */
  n = tb_seal(&w, ALICE, HOST, "forged", msg);
  tb_open(&w, CAROL, tb_hn(&w, HOST), true, false, &col);
  op.msg = msg;
  op.len = n;
  tb_send(&w, &col, &op);
  tb_end(&w, &col);
  assert_int_equal(w.delivered, 0);
  assert_int_equal(tb_stats(&w).errors, 1);
  tb_teardown(&w);
}

/* Boxes nobody collects: bounded by the host's total, the oldest evicted and counted. */
static void test_unknown_boxes(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.total = 20};
  tb_setup(&w, &ho);
  for (int i = 0; i < 30; i++) {
    bx_th_identity *nobody = NULL;
    assert_int_equal(bx_th_identity_new(&nobody), 0);
    tb_col col;
    tb_open(&w, ALICE, bx_th_identity_hashname(nobody), true, false, &col);
    uint8_t msg[BX_TH_BOX_MAX_MSG];
    size_t n = 0;
    assert_int_equal(bx_th_box_seal(w.id[ALICE], bx_th_identity_public_key(nobody), "text",
                                    (const uint8_t *)"x", 1, msg, sizeof msg, &n),
                     0);
    bx_th_box_op op = {.msg = msg, .len = n, .end = true};
    tb_send(&w, &col, &op);
    assert_true(tb_run_until(w.e, tb_closed, &col, 5000));
    bx_th_identity_free(nobody);
  }
  assert_int_equal(tb_stats(&w).stored, 20);
  assert_int_equal(tb_stats(&w).boxes, 20);
  assert_int_equal(tb_stats(&w).evicted, 10);
  assert_int_equal(tb_store(&w, BOB, ALICE, "still serving", NULL, 0), 9);
  tb_teardown(&w);
}

/* A flood of opens from one client: max_per_link at once, the rest "busy", counted. */
static void test_open_flood(void **state) {
  (void)state;
  tb_world w;
  bx_th_box_host_opts ho = {.max_per_link = 4};
  tb_setup(&w, &ho);
  enum { N = 12 };
  static tb_col cols[N];
  for (int i = 0; i < N; i++) {
    memset(&cols[i], 0, sizeof cols[i]);
    assert_int_equal(bx_th_box_client_open(w.link[ALICE], tb_hn(&w, BOB), true, false, tb_cb,
                                           &cols[i], &cols[i].c),
                     0);
  }
  for (int i = 0; i < N; i++)
    assert_true(tb_run_until(w.e, tb_responded, &cols[i], 5000));
  int busy = 0, open = 0;
  for (int i = 0; i < N; i++) {
    if (cols[i].closed) {
      assert_string_equal(cols[i].err, "busy");
      busy++;
    } else {
      open++;
    }
  }
  assert_int_equal(open, 4);
  assert_int_equal(busy, N - 4);
  assert_int_equal(tb_stats(&w).busy, N - 4);
  /* others are served meanwhile */
  tb_store(&w, CAROL, BOB, "carol", NULL, 0);
  for (int i = 0; i < N; i++)
    if (!cols[i].closed) tb_end(&w, &cols[i]);
  tb_teardown(&w);
}

static bool tb_host_idle(void *arg) {
  return tb_stats(arg).channels == 0;
}

/* A client that stops acknowledging (gone without a word): its channel times out at the host,
 * the messages stay stored. */
static void test_never_acks(void **state) {
  (void)state;
  tb_world w;
  tb_setup(&w, NULL);
  tb_store(&w, ALICE, BOB, "one", NULL, 0);
  tb_store(&w, CAROL, BOB, "two", NULL, 0);
  /* bob's open, then bob's endpoint goes silent (its socket closes) */
  static tb_col col;
  memset(&col, 0, sizeof col);
  assert_int_equal(
      bx_th_box_client_open(w.link[BOB], tb_hn(&w, BOB), true, false, tb_cb, &col, &col.c), 0);
  assert_true(tb_run_until(w.e, tb_responded, &col, 5000));
  assert_int_equal(tb_stats(&w).channels, 1);
  assert_int_equal(bx_th_endpoint_close(w.ep[BOB], tb_ep_closed, &w), 0);
  w.ep[BOB] = NULL;
  /* the host's next packets (a live message) go unacknowledged */
  tb_store(&w, ALICE, BOB, "three", NULL, 0);
  assert_true(tb_run_until(w.e, tb_host_idle, &w, 10000));
  assert_int_equal(tb_stats(&w).stored, 3);
  tb_teardown(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_store_then_collect_self),
      cmocka_unit_test(test_peer_mode),
      cmocka_unit_test(test_pick_mode),
      cmocka_unit_test(test_key_info),
      cmocka_unit_test(test_batch),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_eviction),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_live),
      cmocka_unit_test(test_clear_then_store),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_unverified),
      cmocka_unit_test(test_advert),
      cmocka_unit_test(test_direct),
      cmocka_unit_test(test_end),
      cmocka_unit_test(test_forged_sender),
      cmocka_unit_test(test_unknown_boxes),
      cmocka_unit_test(test_open_flood),
      cmocka_unit_test(test_never_acks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
