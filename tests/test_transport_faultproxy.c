/* A faulty proxy between real Unix sockets (the shim's faults on the wire): every byte between
 * client and server goes through a proxy on the same loop that cuts it into short writes of 1
 * to 7 bytes, delays each piece by a random 0 to 3 ms (differently per connection, so the
 * requests of several connections reach the server in a shuffled interleaving), or closes both
 * sides in the middle of a frame.
 *
 * - Short writes, delays and reordering across 4 connections: 4 x 40 calls, each answered
 *   exactly once with the right sum.
 * - A reset mid-frame, in each direction: the calls in flight fail exactly once with
 *   BX_ECONNLOST, and the next call reconnects and succeeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conformance/conformance.h"

static int counter;
static void unix_url(char *buf, size_t len) {
  snprintf(buf, len, "unix:///tmp/bxt-fp-%ld-%d.sock", (long)getpid(), ++counter);
}
static const bxc_tran unix_tran = {"unix", "unix", unix_url, false, NULL, 0, 0};

/* ---- the proxy ------------------------------------------------------------------------------ */

typedef struct fp_pair fp_pair;

typedef struct fp_dir { /* one direction of a proxied connection */
  fp_pair *pair;
  uv_pipe_t *from, *to;
  char *q; /* bytes waiting to be forwarded */
  size_t qlen, qcap;
  uv_timer_t timer;
  size_t forwarded;
  size_t reset_after; /* close both sides after this many bytes (0: never) */
} fp_dir;

struct fp_pair {
  uv_pipe_t down, up; /* the client's connection, ours to the server */
  fp_dir c2s, s2c;
  uint32_t rng;
  int open_handles;
  bool closing;
};

typedef struct fp_proxy {
  uv_pipe_t server;
  char path[128], target[128];
  size_t reset_c2s, reset_s2c; /* for the next connections */
  int pairs;
} fp_proxy;

static uint32_t fp_rand(fp_pair *p) {
  p->rng = p->rng * 1103515245u + 12345u;
  return p->rng >> 8;
}

static void fp_freed(uv_handle_t *h) {
  fp_pair *p = h->data;
  if (--p->open_handles == 0) {
    free(p->c2s.q);
    free(p->s2c.q);
    free(p);
  }
}

static void fp_close(fp_pair *p) {
  if (p->closing) return;
  p->closing = true;
  p->down.data = p->up.data = p->c2s.timer.data = p->s2c.timer.data = p; /* for fp_freed */
  uv_close((uv_handle_t *)&p->down, fp_freed);
  uv_close((uv_handle_t *)&p->up, fp_freed);
  uv_close((uv_handle_t *)&p->c2s.timer, fp_freed);
  uv_close((uv_handle_t *)&p->s2c.timer, fp_freed);
}

typedef struct fp_write {
  uv_write_t req;
  char bytes[8];
} fp_write;

static void fp_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void fp_tick(uv_timer_t *t);

static void fp_arm(fp_dir *d) {
  if (d->qlen == 0 || uv_is_active((uv_handle_t *)&d->timer) || d->pair->closing) return;
  uv_timer_start(&d->timer, fp_tick, fp_rand(d->pair) % 4, 0);
}

/* Forwards the next piece: 1 to 7 bytes, after a random delay; a reset point closes both. */
static void fp_tick(uv_timer_t *t) {
  fp_dir *d = t->data;
  fp_pair *p = d->pair;
  if (p->closing || d->qlen == 0) return;
  size_t n = 1 + fp_rand(p) % 7;
  if (n > d->qlen) n = d->qlen;
  if (d->reset_after && d->forwarded + n > d->reset_after) {
    fp_close(p); /* in the middle of whatever frame this is */
    return;
  }
  fp_write *w = malloc(sizeof *w);
  memcpy(w->bytes, d->q, n);
  uv_buf_t b = uv_buf_init(w->bytes, (unsigned)n);
  if (uv_write(&w->req, (uv_stream_t *)d->to, &b, 1, fp_written) != 0) free(w);
  memmove(d->q, d->q + n, d->qlen - n);
  d->qlen -= n;
  d->forwarded += n;
  fp_arm(d);
}

static void fp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static void fp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  fp_dir *d = s->data;
  if (nread < 0) {
    free(buf->base);
    fp_close(d->pair);
    return;
  }
  if (d->qlen + (size_t)nread > d->qcap) {
    d->qcap = (d->qlen + (size_t)nread) * 2;
    d->q = realloc(d->q, d->qcap);
  }
  memcpy(d->q + d->qlen, buf->base, (size_t)nread);
  d->qlen += (size_t)nread;
  free(buf->base);
  fp_arm(d);
}

static void fp_dir_init(fp_pair *p, fp_dir *d, uv_pipe_t *from, uv_pipe_t *to, size_t reset) {
  d->pair = p;
  d->from = from;
  d->to = to;
  d->reset_after = reset;
  uv_timer_init(from->loop, &d->timer);
  d->timer.data = d;
  p->open_handles++;
}

static void fp_connected(uv_connect_t *req, int status) {
  fp_pair *p = req->data;
  free(req);
  if (status < 0 || p->closing) {
    fp_close(p);
    return;
  }
  p->down.data = &p->c2s;
  p->up.data = &p->s2c;
  uv_read_start((uv_stream_t *)&p->down, fp_alloc, fp_read);
  uv_read_start((uv_stream_t *)&p->up, fp_alloc, fp_read);
}

static void fp_accept(uv_stream_t *server, int status) {
  fp_proxy *fp = server->data;
  if (status < 0) return;
  fp_pair *p = calloc(1, sizeof *p);
  p->rng = 0x9e3779b9u * (uint32_t)++fp->pairs;
  uv_pipe_init(server->loop, &p->down, 0);
  uv_pipe_init(server->loop, &p->up, 0);
  p->down.data = p->up.data = p;
  p->open_handles = 2;
  fp_dir_init(p, &p->c2s, &p->down, &p->up, fp->reset_c2s);
  fp_dir_init(p, &p->s2c, &p->up, &p->down, fp->reset_s2c);
  assert_int_equal(uv_accept(server, (uv_stream_t *)&p->down), 0);
  uv_connect_t *req = malloc(sizeof *req);
  req->data = p;
  uv_pipe_connect(req, &p->up, fp->target, fp_connected);
}

/* A proxy in front of the server URL target_url ("unix://PATH"). */
static void fp_start(fp_proxy *fp, uv_loop_t *loop, const char *target_url) {
  memset(fp, 0, sizeof *fp);
  snprintf(fp->target, sizeof fp->target, "%s", target_url + strlen("unix://"));
  snprintf(fp->path, sizeof fp->path, "/tmp/bxt-fp-proxy-%ld.sock", (long)getpid());
  unlink(fp->path);
  assert_int_equal(uv_pipe_init(loop, &fp->server, 0), 0);
  fp->server.data = fp;
  assert_int_equal(uv_pipe_bind(&fp->server, fp->path), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&fp->server, 16, fp_accept), 0);
}

static void fp_stop(fp_proxy *fp, uv_loop_t *loop) {
  uv_close((uv_handle_t *)&fp->server, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  unlink(fp->path);
}

/* ---- the tests --------------------------------------------------------------------------------
 */

enum { NCONN = 4, NCALLS = 40 };

/* Short writes, delays and reordering across connections: every call right, exactly once. */
static void test_short_writes_delays_reordering(void **state) {
  (void)state;
  bxc_env *e = bxc_env_new(&unix_tran, 0, 0);
  fp_proxy fp;
  fp_start(&fp, &e->loop, e->url);
  char url[160];
  snprintf(url, sizeof url, "unix://%s", fp.path);
  bxc_log logs[NCONN];
  memset(logs, 0, sizeof logs);
  bx_ctx *clients[NCONN];
  bx_box *svc[NCONN];
  static bxc_res r[NCONN][NCALLS];
  memset(r, 0, sizeof r);
  for (int i = 0; i < NCONN; i++) {
    char name[32];
    snprintf(name, sizeof name, "/bxt/fp%d", i);
    clients[i] = bxc_ctx_new(&e->loop, name, &logs[i], 0);
    svc[i] = bxc_service(clients[i], url, "calc");
  }
  for (int j = 0; j < NCALLS; j++) /* pipelined on every connection at once */
    for (int i = 0; i < NCONN; i++)
      assert_int_equal(bxc_start(svc[i], "add", bxc_args2(i * 1000, j), &r[i][j]), 0);
  for (int i = 0; i < NCONN; i++)
    for (int j = 0; j < NCALLS; j++)
      bxc_wait_for(&e->loop, &r[i][j].calls, 1);
  bxc_spin(&e->loop);
  for (int i = 0; i < NCONN; i++)
    for (int j = 0; j < NCALLS; j++) {
      assert_int_equal(r[i][j].calls, 1);
      assert_int_equal(r[i][j].status, 0);
      assert_true(r[i][j].num == i * 1000 + j);
    }
  int closed = 0;
  for (int i = 0; i < NCONN; i++) {
    bx_box_unref(svc[i]);
    assert_int_equal(bx_ctx_close(clients[i], bxc_on_ctx_closed, &closed), 0);
  }
  bxc_wait_for(&e->loop, &closed, NCONN);
  fp_stop(&fp, &e->loop);
  bxc_env_free(e);
}

/* The proxy closes both sides mid-frame (client to server, then server to client): the calls
 * in flight fail exactly once with BX_ECONNLOST; the next call reconnects and succeeds. */
static void test_reset_mid_frame(void **state) {
  (void)state;
  for (int dir = 0; dir < 2; dir++) {
    bxc_env *e = bxc_env_new(&unix_tran, 0, 0);
    fp_proxy fp;
    fp_start(&fp, &e->loop, e->url);
    if (dir == 0)
      fp.reset_c2s = 200; /* inside the first request (the handshake is ~80 bytes) */
    else
      fp.reset_s2c = 60; /* inside the first reply */
    char url[160];
    snprintf(url, sizeof url, "unix://%s", fp.path);
    bx_box *svc = bxc_service(e->client, url, "calc");
    bxc_res r[5];
    memset(r, 0, sizeof r);
    for (int j = 0; j < 5; j++)
      assert_int_equal(bxc_start(svc, "add", bxc_args2(j, 1), &r[j]), 0);
    for (int j = 0; j < 5; j++)
      bxc_wait_for(&e->loop, &r[j].calls, 1);
    bxc_spin(&e->loop);
    int lost = 0;
    for (int j = 0; j < 5; j++) {
      assert_int_equal(r[j].calls, 1);
      if (r[j].status == BX_ECONNLOST)
        lost++;
      else
        assert_int_equal(r[j].status, 0);
    }
    assert_true(lost > 0);
    fp.reset_c2s = fp.reset_s2c = 0; /* the next connection goes through cleanly */
    bxc_res again;
    assert_int_equal(bxc_call(&e->loop, svc, "add", bxc_args2(20, 22), &again), 0);
    assert_true(again.num == 42);
    bx_box_unref(svc);
    fp_stop(&fp, &e->loop);
    bxc_env_free(e);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_short_writes_delays_reordering),
      cmocka_unit_test(test_reset_mid_frame),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
