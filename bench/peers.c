/* nng and ZeroMQ REQ/REP peers for bx-bench (see peers.h). Each server runs in a forked child
 * that echoes every request; the parent measures round trips. */
#define _GNU_SOURCE
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "peers.h"

double peer_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

void peer_pin(bool pinned) {
  if (!pinned) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
}

/* Starts the echo server as a fresh process running this program again (nng may not be used
 * across fork()); the parent waits for its "ready" byte on a pipe. */
int peer_start(const char *kind, const char *url, int n, bool pinned) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    char count[16], fd[16];
    snprintf(count, sizeof count, "%d", n);
    snprintf(fd, sizeof fd, "%d", fds[1]);
    execl("/proc/self/exe", "bx-bench", "--peer-serve", kind, url, count, fd,
          pinned ? "pinned" : "unpinned", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char c;
  if (read(fds[0], &c, 1) != 1) pid = -1;
  close(fds[0]);
  return pid;
}

static void peer_ready(int fd) {
  if (write(fd, "r", 1) != 1) _exit(1);
  close(fd);
}

/* ---- nng ----------------------------------------------------------------------------------- */

static void nng_serve(const char *url, int n, int ready) {
  nng_socket s;
  if (nng_rep0_open(&s) != 0 || nng_listen(s, url, NULL, 0) != 0) _exit(1);
  peer_ready(ready);
  for (int i = 0; i < n; i++) {
    nng_msg *m;
    if (nng_recvmsg(s, &m, 0) != 0 || nng_sendmsg(s, m, 0) != 0) _exit(1);
  }
  nng_msleep(100); /* let the last reply leave */
  nng_close(s);
}

int peer_nng(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
             double *total_us) {
  int n = warmup + ops;
  pid_t pid = peer_start("nng", url, n, pinned);
  if (pid < 0) return -1;
  nng_socket s;
  int rc = nng_req0_open(&s);
  if (rc == 0) rc = nng_dial(s, url, NULL, 0);
  char *buf = calloc(1, size);
  double t0 = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    if (i == warmup) t0 = peer_now_us();
    double start = peer_now_us();
    nng_msg *m;
    rc = nng_msg_alloc(&m, 0);
    if (rc == 0) rc = nng_msg_append(m, buf, size);
    if (rc == 0) rc = nng_sendmsg(s, m, 0);
    if (rc == 0) rc = nng_recvmsg(s, &m, 0);
    if (rc == 0) nng_msg_free(m);
    if (i >= warmup) lat[i - warmup] = peer_now_us() - start;
  }
  *total_us = peer_now_us() - t0;
  nng_close(s);
  free(buf);
  if (rc) kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return rc ? -1 : 0;
}

/* ---- ZeroMQ -------------------------------------------------------------------------------- */

static void zmq_serve(const char *url, int n, int ready) {
  void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_REP);
  if (zmq_bind(s, url) != 0) _exit(1);
  peer_ready(ready);
  zmq_msg_t m;
  for (int i = 0; i < n; i++) {
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0 || zmq_msg_send(&m, s, 0) < 0) _exit(1);
  }
  zmq_close(s);
  zmq_ctx_term(ctx);
}

int peer_zmq(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
             double *total_us) {
  int n = warmup + ops;
  pid_t pid = peer_start("zmq", url, n, pinned);
  if (pid < 0) return -1;
  void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_REQ);
  int rc = zmq_connect(s, url);
  char *buf = calloc(1, size);
  double t0 = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    if (i == warmup) t0 = peer_now_us();
    double start = peer_now_us();
    if (zmq_send(s, buf, size, 0) < 0 || zmq_recv(s, buf, size, 0) < 0) rc = -1;
    if (i >= warmup) lat[i - warmup] = peer_now_us() - start;
  }
  *total_us = peer_now_us() - t0;
  int linger = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(s);
  zmq_ctx_term(ctx);
  free(buf);
  if (rc) kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return rc;
}

int peer_serve_main(int argc, char **argv) {
  if (argc != 7) return 2;
  peer_pin(strcmp(argv[6], "pinned") == 0);
  int n = atoi(argv[4]), fd = atoi(argv[5]);
  if (strcmp(argv[2], "lws") == 0)
    lws_serve(argv[3], n, fd);
  else if (strcmp(argv[2], "nng") == 0)
    nng_serve(argv[3], n, fd);
  else
    zmq_serve(argv[3], n, fd);
  return 0;
}
