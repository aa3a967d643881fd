/* The transport conformance suite (tests/conformance/conformance.h) for every built-in
 * scheme: unix, tcp over IPv4 and IPv6, and inproc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <cmocka.h>

#include "conformance/conformance.h"

static int url_counter;

static void unix_url(char *buf, size_t len) {
  snprintf(buf, len, "unix:///tmp/bxt-conf-%ld-%d.sock", (long)getpid(), ++url_counter);
}
static void tcp4_url(char *buf, size_t len) {
  snprintf(buf, len, "tcp://127.0.0.1:0");
}
static void tcp6_url(char *buf, size_t len) {
  snprintf(buf, len, "tcp://[::1]:0");
}
static void inproc_url(char *buf, size_t len) {
  snprintf(buf, len, "inproc://conformance-%d", ++url_counter);
}

static const bxc_tran unix_tran = {"unix", "unix", unix_url, false, NULL, 0, 0};
static const bxc_tran tcp4_tran = {"tcp4", "tcp", tcp4_url, false, NULL, 0, 0};
static const bxc_tran tcp6_tran = {"tcp6", "tcp", tcp6_url, false, NULL, 0, 0};
static const bxc_tran inproc_tran = {"inproc", "inproc", inproc_url, false, NULL, 0, 0};

/* Is IPv6 loopback usable here? (containers sometimes have none) */
static bool have_ipv6(void) {
  uv_loop_t loop;
  uv_tcp_t h;
  struct sockaddr_in6 sa;
  uv_loop_init(&loop);
  uv_tcp_init(&loop, &h);
  uv_ip6_addr("::1", 0, &sa);
  int rc = uv_tcp_bind(&h, (const struct sockaddr *)&sa, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&h, 1, NULL);
  uv_close((uv_handle_t *)&h, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return rc == 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest unix_tests[] = {BXC_TESTS(&unix_tran)};
  const struct CMUnitTest tcp4_tests[] = {BXC_TESTS(&tcp4_tran)};
  const struct CMUnitTest tcp6_tests[] = {BXC_TESTS(&tcp6_tran)};
  const struct CMUnitTest inproc_tests[] = {BXC_TESTS(&inproc_tran)};
  int failed = 0;
  failed += cmocka_run_group_tests_name("unix", unix_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("tcp4", tcp4_tests, NULL, NULL);
  if (have_ipv6())
    failed += cmocka_run_group_tests_name("tcp6", tcp6_tests, NULL, NULL);
  else
    fprintf(stderr, "tcp6: no IPv6 loopback here; skipped\n");
  failed += cmocka_run_group_tests_name("inproc", inproc_tests, NULL, NULL);
  return failed;
}
