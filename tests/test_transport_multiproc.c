/* Real processes over real sockets: this program re-executes itself as a `calc` server
 * (`--serve URL`, see transport/calc_server.h), calls it over unix:// and tcp://, kills it
 * with a call in flight (the call completes with BX_ECONNLOST), restarts it on the same
 * address (a Unix socket file left by the killed server is replaced) and calls again through
 * the same client box, which reconnects. Finally SIGTERM stops the server, which must exit 0
 * (in a sanitizer build that includes its leak check). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <cmocka.h>

#include "conformance/conformance.h"
#include "transport/calc_server.h"

static char self_exe[1024];

typedef struct mp_server {
  uv_process_t proc;
  uv_pipe_t out;
  char buf[512];
  size_t len;
  char url[256];
  int ready; /* 1: READY read; -1: EOF first */
  int exited, proc_closed, out_closed;
  int64_t status;
  int term_signal;
} mp_server;

static void mp_proc_closed(uv_handle_t *h) {
  ((mp_server *)h->data)->proc_closed = 1;
}

static void mp_exit_cb(uv_process_t *p, int64_t status, int term_signal) {
  mp_server *s = p->data;
  s->exited = 1;
  s->status = status;
  s->term_signal = term_signal;
  uv_close((uv_handle_t *)p, mp_proc_closed);
}

static void mp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  mp_server *s = h->data;
  *buf = uv_buf_init(s->buf + s->len, (unsigned)(sizeof s->buf - 1 - s->len));
}

static void mp_out_closed(uv_handle_t *h) {
  ((mp_server *)h->data)->out_closed = 1;
}

static void mp_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  mp_server *s = st->data;
  if (nread < 0) {
    if (s->ready == 0) s->ready = -1;
    uv_close((uv_handle_t *)st, mp_out_closed);
    return;
  }
  s->len += (size_t)nread;
  s->buf[s->len] = '\0';
  char *nl = strchr(s->buf, '\n');
  if (s->ready == 0 && nl != NULL) {
    *nl = '\0';
    assert_int_equal(strncmp(s->buf, "READY ", 6), 0);
    snprintf(s->url, sizeof s->url, "%s", s->buf + 6);
    s->ready = 1;
  }
  if (s->len >= sizeof s->buf - 1) s->len = 0; /* nothing else is expected */
}

static void mp_spawn(uv_loop_t *loop, mp_server *s, const char *url) {
  memset(s, 0, sizeof *s);
  assert_int_equal(uv_pipe_init(loop, &s->out, 0), 0);
  s->out.data = s;
  s->proc.data = s;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&s->out;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  char *args[] = {self_exe, "--serve", (char *)url, NULL};
  uv_process_options_t o = {0};
  o.exit_cb = mp_exit_cb;
  o.file = self_exe;
  o.args = args;
  o.stdio_count = 3;
  o.stdio = stdio;
  assert_int_equal(uv_spawn(loop, &s->proc, &o), 0);
  assert_int_equal(uv_read_start((uv_stream_t *)&s->out, mp_alloc, mp_read), 0);
  while (s->ready == 0)
    if (!uv_run(loop, UV_RUN_ONCE) && s->ready == 0) break;
  if (s->ready != 1)
    fail_msg("the server did not start: ready %d exited %d status %ld signal %d", s->ready,
             s->exited, (long)s->status, s->term_signal);
}

/* Waits for the server process to end and its handles to close. */
static void mp_wait_gone(uv_loop_t *loop, mp_server *s) {
  while (!s->proc_closed || !s->out_closed)
    if (!uv_run(loop, UV_RUN_ONCE) && (!s->proc_closed || !s->out_closed))
      fail_msg("idle: exited %d proc_closed %d out_closed %d", s->exited, s->proc_closed,
               s->out_closed);
}

static void mp_run(const char *listen_url) {
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  bxc_log log = {0};
  bx_ctx *ctx = bxc_ctx_new(&loop, "/bxt/mp-client", &log, 0);

  mp_server s1;
  mp_spawn(&loop, &s1, listen_url);
  bx_box *calc = bxc_service(ctx, s1.url, "calc");
  bxc_res r, hang = {0};
  assert_int_equal(bxc_call(&loop, calc, "add", bxc_args2(1, 2), &r), 0);
  assert_true(r.num == 3);
  assert_int_equal(bxc_call(&loop, calc, "pid", NULL, &r), 0);
  assert_true(r.num == s1.proc.pid);

  /* A call in flight when the server dies. The add() after it is answered in order, so by
   * then the server holds the hung call. */
  assert_int_equal(bxc_start(calc, "hang", NULL, &hang), 0);
  assert_int_equal(bxc_call(&loop, calc, "add", bxc_args2(3, 4), &r), 0);
  assert_int_equal(hang.calls, 0);
  assert_int_equal(uv_process_kill(&s1.proc, SIGKILL), 0);
  bxc_wait_for(&loop, &hang.calls, 1);
  assert_int_equal(hang.status, BX_ECONNLOST);
  mp_wait_gone(&loop, &s1);
  assert_int_equal(s1.term_signal, SIGKILL);

  /* Restarted on the same address: the same client box reconnects. */
  mp_server s2;
  mp_spawn(&loop, &s2, s1.url);
  assert_string_equal(s2.url, s1.url);
  assert_int_equal(bxc_call(&loop, calc, "add", bxc_args2(5, 6), &r), 0);
  assert_true(r.num == 11);
  assert_int_equal(bxc_call(&loop, calc, "pid", NULL, &r), 0);
  assert_true(r.num == s2.proc.pid);
  bxc_spin(&loop);
  assert_int_equal(hang.calls, 1);

  /* A clean stop: the server exits 0, and the client's connection drops without a call. */
  assert_int_equal(uv_process_kill(&s2.proc, SIGTERM), 0);
  mp_wait_gone(&loop, &s2);
  assert_int_equal(s2.term_signal, 0);
  assert_int_equal(s2.status, 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(ctx)), 0);

  bx_box_unref(calc);
  int closed = 0;
  assert_int_equal(bx_ctx_close(ctx, bxc_on_ctx_closed, &closed), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_unix(void **state) {
  (void)state;
  char url[128];
  snprintf(url, sizeof url, "unix:///tmp/bxt-mp-%ld.sock", (long)getpid());
  mp_run(url);
  unlink(url + 7);
}

static void test_tcp(void **state) {
  (void)state;
  mp_run("tcp://127.0.0.1:0");
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--serve") == 0) return bxt_serve(argv[2]);
  signal(SIGPIPE, SIG_IGN);
  size_t n = sizeof self_exe;
  if (uv_exepath(self_exe, &n) != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unix),
      cmocka_unit_test(test_tcp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
