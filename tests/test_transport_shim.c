/* A faulty shim transport (STYLE item 10): the inproc transport with its write op wrapped, to
 * count writes (frames sent in one burst leave in one write, in order) and to inject write
 * failures, synchronous and asynchronous (a reset mid-stream). Calls always complete exactly
 * once, and the next call reconnects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conformance/conformance.h"
#include "framework.h"

/* ---- the shim ----------------------------------------------------------------------------- */

static struct {
  int writes;     /* write ops called */
  int frames;     /* frames in them */
  int fail_sync;  /* fail the next N writes at once with UV_EPIPE */
  int fail_async; /* fail the next N writes later with UV_ECONNRESET */
  int max_batch;  /* most frames seen in one write */
} shim;

static int shim_count_frames(const char *buf, size_t len) {
  int n = 0;
  for (size_t off = 0; off + 4 <= len; n++) {
    const unsigned char *p = (const unsigned char *)buf + off;
    off += 4 + ((size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24);
  }
  return n;
}

static void shim_fail_task(void *a, void *b) {
  (void)b;
  bx__link_write_done(a, UV_ECONNRESET); /* the link lives until its close is reported, later */
}

static int shim_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  int n = shim_count_frames(buf, len);
  shim.writes++;
  shim.frames += n;
  if (n > shim.max_batch) shim.max_batch = n;
  if (shim.fail_sync > 0) {
    shim.fail_sync--;
    return UV_EPIPE;
  }
  if (shim.fail_async > 0) {
    shim.fail_async--;
    assert_int_equal(bx__defer(bx__conn_ctx(c), shim_fail_task, k, NULL), 0);
    return 0;
  }
  return bx__inproc_tran.write(k, c, buf, len);
}

static bx__tran shim_tran;

static int shim_setup(void **state) {
  (void)state;
  shim_tran = bx__inproc_tran;
  shim_tran.scheme = "shim";
  shim_tran.write = shim_write;
  return bx__tran_register(&shim_tran) == 0 ? 0 : -1;
}

static int counter;
static void shim_url(char *buf, size_t len) {
  snprintf(buf, len, "shim://shim-%d", ++counter);
}
static const bxc_tran shim_conf = {"shim", "shim", shim_url, false, NULL, 0, 0};

static void shim_reset(void) {
  memset(&shim, 0, sizeof shim);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* Frames sent in one burst leave in one write, in order. */
static void test_coalescing(void **state) {
  (void)state;
  bxc_env *e = bxc_env_new(&shim_conf, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  shim_reset();
  enum { N = 50 };
  bxc_res r[N];
  memset(r, 0, sizeof r);
  for (int i = 0; i < N; i++)
    assert_int_equal(bxc_start(calc, "add", bxc_args2(i, 0.5), &r[i]), 0);
  for (int i = 0; i < N; i++)
    bxc_wait_for(&e->loop, &r[i].calls, 1);
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].status, 0);
    assert_true(r[i].num == i + 0.5);
  }
  /* The handshake and 50 requests were queued while connecting: one write. The 50 replies
   * were made in one run of the server's queue: one write as well. */
  assert_int_equal(shim.frames, 1 + N + N);
  assert_int_equal(shim.writes, 2);
  assert_int_equal(shim.max_batch, 1 + N);

  /* Later bursts on the open connection: one write each way. */
  shim_reset();
  memset(r, 0, sizeof r);
  for (int i = 0; i < 10; i++)
    assert_int_equal(bxc_start(calc, "add", bxc_args2(i, i), &r[i]), 0);
  for (int i = 0; i < 10; i++)
    bxc_wait_for(&e->loop, &r[i].calls, 1);
  assert_int_equal(shim.writes, 2);
  assert_int_equal(shim.frames, 20);
  bx_box_unref(calc);
  bxc_env_free(e);
}

/* A write that fails at once or later closes the connection; queued calls fail once with
 * BX_ECONNLOST and the next call reconnects. */
static void test_write_failures(void **state) {
  (void)state;
  bxc_env *e = bxc_env_new(&shim_conf, 0, 0);
  bx_box *calc = bxc_service(e->client, e->url, "calc");
  bxc_res r;
  assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(1, 1), &r), 0);
  for (int round = 0; round < 2; round++) {
    shim_reset();
    if (round == 0)
      shim.fail_sync = 1;
    else
      shim.fail_async = 1;
    bxc_res a[3];
    memset(a, 0, sizeof a);
    for (int i = 0; i < 3; i++)
      assert_int_equal(bxc_start(calc, "add", bxc_args2(i, 1), &a[i]), 0);
    for (int i = 0; i < 3; i++) {
      bxc_wait_for(&e->loop, &a[i].calls, 1);
      assert_int_equal(a[i].status, BX_ECONNLOST);
    }
    bxc_spin(&e->loop);
    for (int i = 0; i < 3; i++)
      assert_int_equal(a[i].calls, 1);
    assert_int_equal(bxc_call(&e->loop, calc, "add", bxc_args2(2, 2), &r), 0);
    assert_true(r.num == 4);
  }
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->client)), 0);
  bx_box_unref(calc);
  bxc_env_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_coalescing),
      cmocka_unit_test(test_write_failures),
      /* and the whole conformance suite through the shim, faults off */
      BXC_TESTS(&shim_conf),
  };
  return cmocka_run_group_tests(tests, shim_setup, NULL);
}
