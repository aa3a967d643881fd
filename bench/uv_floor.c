/* A second reference for the Unix-socket round trip: the same ping-pong as the raw floor, but
 * both sides on a libuv loop (non-blocking socket, epoll, uv_read_start/uv_try_write) and no
 * encoding. It tells the event loop's share of a bx call from bx's own work. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "peers.h"

typedef struct uvp {
  uv_loop_t loop;
  uv_pipe_t pipe;
  uv_connect_t connect;
  uv_pipe_t server;
  char *buf;   /* the frame being read */
  size_t size; /* frame size: 4-byte length + payload */
  size_t have; /* bytes of the frame read */
  bool client;
  int warmup, ops, done;
  double start, t0, *lat;
} uvp;

static void uvp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  uvp *p = h->data;
  (void)suggested;
  *b = uv_buf_init(p->buf + p->have, (unsigned)(p->size - p->have));
}

static void uvp_send(uvp *p) {
  if (p->client) p->start = peer_now_us();
  uv_buf_t b;
  size_t off = 0;
  while (off < p->size) { /* a few hundred bytes: the socket takes them at once */
    b = uv_buf_init(p->buf + off, (unsigned)(p->size - off));
    int n = uv_try_write((uv_stream_t *)&p->pipe, &b, 1);
    if (n < 0 && n != UV_EAGAIN) exit(1);
    if (n > 0) off += (size_t)n;
  }
}

static void uvp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  uvp *p = s->data;
  (void)b;
  if (n < 0) {
    uv_close((uv_handle_t *)s, NULL);
    return;
  }
  p->have += (size_t)n;
  if (p->have < p->size) return;
  p->have = 0;
  if (p->client) {
    int i = p->done++ - p->warmup;
    if (i == 0) p->t0 = peer_now_us();
    if (i >= 0) p->lat[i] = peer_now_us() - p->start;
    if (p->done == p->warmup + p->ops) {
      uv_close((uv_handle_t *)s, NULL);
      return;
    }
  }
  uvp_send(p);
}

static void uvp_on_connect(uv_connect_t *req, int status) {
  uvp *p = req->data;
  if (status != 0) exit(1);
  uv_read_start((uv_stream_t *)&p->pipe, uvp_alloc, uvp_read);
  uvp_send(p);
}

static void uvp_on_connection(uv_stream_t *server, int status) {
  uvp *p = server->data;
  if (status != 0 || uv_pipe_init(&p->loop, &p->pipe, 0) != 0 ||
      uv_accept(server, (uv_stream_t *)&p->pipe) != 0)
    exit(1);
  p->pipe.data = p;
  uv_read_start((uv_stream_t *)&p->pipe, uvp_alloc, uvp_read);
  uv_close((uv_handle_t *)server, NULL);
}

int peer_uv_unix(const char *path, size_t size, int warmup, int ops, bool pinned, double *lat,
                 double *total_us) {
  unlink(path);
  int ready[2];
  if (pipe(ready) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) { /* the echo side */
    peer_pin(pinned);
    uvp s = {.size = size + 4, .client = false};
    s.buf = malloc(s.size);
    uv_loop_init(&s.loop);
    uv_pipe_init(&s.loop, &s.server, 0);
    s.server.data = &s;
    if (uv_pipe_bind(&s.server, path) != 0 ||
        uv_listen((uv_stream_t *)&s.server, 1, uvp_on_connection) != 0)
      _exit(1);
    if (write(ready[1], "r", 1) != 1) _exit(1);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    _exit(0);
  }
  char c;
  close(ready[1]);
  if (pid < 0 || read(ready[0], &c, 1) != 1) return -1;
  close(ready[0]);
  uvp p = {.size = size + 4, .client = true, .warmup = warmup, .ops = ops, .lat = lat};
  p.buf = calloc(1, p.size);
  uv_loop_init(&p.loop);
  uv_pipe_init(&p.loop, &p.pipe, 0);
  p.pipe.data = &p;
  p.connect.data = &p;
  uv_pipe_connect(&p.connect, &p.pipe, path, uvp_on_connect);
  uv_run(&p.loop, UV_RUN_DEFAULT);
  *total_us = peer_now_us() - p.t0;
  uv_loop_close(&p.loop);
  free(p.buf);
  int status = 0;
  waitpid(pid, &status, 0);
  unlink(path);
  return p.done == warmup + ops ? 0 : -1;
}
