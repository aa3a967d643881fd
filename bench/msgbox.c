/* msgbox's native API (include/bx/msgbox.h) round trips for bx-bench, and their UDP floors.
 *
 * - peer_msgbox: a server process answering every request with its bytes, and a client here
 *   doing one bx_mb_get at a time, the next from the REPLY callback: the msgbox-tcp and
 *   msgbox-udp rows, next to raw-tcp and raw-udp.
 * - peer_raw_udp: the UDP floor: two processes ping-ponging one datagram of the same bytes as
 *   msgbox puts on the wire (its 8-byte header and the payload) with blocking sockets.
 * - peer_uv_udp: the same ping-pong on libuv loops (the uv-udp row): the event loop's share.
 * A lost datagram (loopback: rare) is sent again, after 1 s for a get (its timeout) and after
 * 200 ms for the floor; its round trip is then in the figures, as it happened. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bx.h>

#include "peers.h"

/* ---- msgbox: the server ---------------------------------------------------------------------- */

typedef struct mbs {
  int ready; /* the pipe the bound URL goes to */
} mbs;

static void mbs_event(const bx_mb_event *ev) {
  mbs *s = ev->context;
  if (ev->type == BX_MB_REQUEST) {
    bx_mb_reply_send(ev->reply, ev->data, ev->len);
  } else if (ev->type == BX_MB_LISTENING) {
    const char *url = bx_mb_url(ev->conn);
    if (write(s->ready, url, strlen(url) + 1) <= 0) _exit(1);
    close(s->ready);
  } else if (ev->type == BX_MB_LISTENING_ERROR) {
    _exit(1);
  }
}

/* Forks the server on url (port 0) and reads back the URL it bound. */
static pid_t mbs_start(const char *url, bool pinned, char *bound, size_t len) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    peer_pin(pinned);
    close(fds[0]);
    uv_loop_t loop;
    bx_ctx *ctx;
    bx_mb_conn *l;
    mbs s = {fds[1]};
    if (uv_loop_init(&loop) != 0 || bx_ctx_new(&loop, NULL, &ctx) != 0 ||
        bx_mb_listen(ctx, url, NULL, mbs_event, &s, &l) != 0)
      _exit(1);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(0);
  }
  close(fds[1]);
  ssize_t n = pid > 0 ? read(fds[0], bound, len - 1) : -1;
  close(fds[0]);
  if (n <= 0) {
    if (pid > 0) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
    return -1;
  }
  bound[n] = '\0';
  return pid;
}

/* ---- msgbox: the client ---------------------------------------------------------------------- */

typedef struct mbc {
  bx_ctx *ctx;
  char *payload;
  size_t size;
  int warmup, total, done, lost;
  double start, t0, *lat;
  int rc;
} mbc;

static void mbc_get(mbc *c, bx_mb_conn *conn) {
  c->start = peer_now_us();
  if (bx_mb_get(conn, c->payload, c->size, 0, NULL) != 0) {
    c->rc = -1;
    bx_mb_disconnect(conn);
  }
}

static void mbc_event(const bx_mb_event *ev) {
  mbc *c = ev->context;
  switch (ev->type) {
  case BX_MB_CONNECTION_SETUP:
    mbc_get(c, ev->conn);
    break;
  case BX_MB_REPLY: {
    int i = c->done++ - c->warmup;
    if (i == 0) c->t0 = c->start;
    if (i >= 0) c->lat[i] = peer_now_us() - c->start;
    if (c->done == c->total)
      bx_mb_disconnect(ev->conn);
    else
      mbc_get(c, ev->conn);
    break;
  }
  case BX_MB_REPLY_MISSING:
    if (ev->status != BX_ETIMEDOUT) break; /* the connection is ending */
    if (++c->lost > 100) {
      c->rc = -1;
      bx_mb_disconnect(ev->conn);
      break;
    }
    mbc_get(c, ev->conn); /* a lost datagram: the same round trip again */
    break;
  case BX_MB_CONNECTION_SETUP_ERROR:
  case BX_MB_CONNECTION_CLOSED:
  case BX_MB_CONNECTION_LOST:
    if (c->done < c->total) c->rc = -1;
    bx_ctx_close(c->ctx, NULL, NULL);
    break;
  default:
    break;
  }
}

int peer_msgbox(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
                double *total_us) {
  char bound[128];
  pid_t pid = mbs_start(url, pinned, bound, sizeof bound);
  if (pid < 0) return -1;
  uv_loop_t loop;
  mbc c = {.size = size, .warmup = warmup, .total = warmup + ops, .lat = lat};
  c.payload = calloc(1, size);
  uv_loop_init(&loop);
  bx_mb_conn *conn;
  if (bx_ctx_new(&loop, NULL, &c.ctx) != 0 ||
      bx_mb_connect(c.ctx, bound, NULL, mbc_event, &c, &conn) != 0)
    c.rc = -1;
  else
    uv_run(&loop, UV_RUN_DEFAULT);
  *total_us = peer_now_us() - c.t0;
  uv_loop_close(&loop);
  free(c.payload);
  if (c.lost) fprintf(stderr, "bx-bench: %s: %d datagram(s) lost and sent again\n", url, c.lost);
  kill(pid, SIGTERM); /* not SIGKILL: under callgrind the server's figures are written */
  waitpid(pid, NULL, 0);
  return c.rc;
}

/* ---- the UDP floor --------------------------------------------------------------------------- */

static int udp_socket(double timeout_s) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (int)timeout_s) * 1e6)};
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/* Echoes every datagram to its sender until an empty one (or 5 s of silence). */
static void udp_echo(int fd, size_t size) {
  char *buf = malloc(size);
  for (;;) {
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, size, 0, (struct sockaddr *)&from, &fl);
    if (n <= 0) break;
    sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
  }
  free(buf);
}

int peer_raw_udp(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
                 double *total_us) {
  (void)url;
  size += 8; /* msgbox's header: the bytes msgbox-udp puts in each datagram */
  int sfd = udp_socket(5), total = warmup + ops;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof addr;
  if (sfd < 0 || bind(sfd, (struct sockaddr *)&addr, al) != 0 ||
      getsockname(sfd, (struct sockaddr *)&addr, &al) != 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    peer_pin(pinned);
    udp_echo(sfd, size);
    _exit(0);
  }
  close(sfd);
  int fd = udp_socket(0.2), rc = 0, lost = 0;
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, al) != 0) rc = -1;
  char *buf = calloc(1, size);
  double t0 = 0;
  for (int i = 0; rc == 0 && i < total; i++) {
    if (i == warmup) t0 = peer_now_us();
    double start = peer_now_us();
    while (rc == 0 && (send(fd, buf, size, 0) != (ssize_t)size || recv(fd, buf, size, 0) <= 0))
      if (++lost > 100) rc = -1; /* lost: the same round trip again */
    if (i >= warmup) lat[i - warmup] = peer_now_us() - start;
  }
  *total_us = peer_now_us() - t0;
  if (fd >= 0) send(fd, buf, 0, 0); /* the end */
  if (fd >= 0) close(fd);
  free(buf);
  if (lost) fprintf(stderr, "bx-bench: raw-udp: %d datagram(s) lost and sent again\n", lost);
  if (rc) kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return rc;
}

/* ---- the UDP floor on libuv loops ------------------------------------------------------------ */

/* uv-udp: the raw-udp ping-pong with both sides on libuv loops (uv_udp_recv_start,
 * uv_udp_try_send, epoll) and no encoding: the event loop's share of msgbox-udp, as uv-unix is
 * for Unix sockets. A lost datagram is sent again by a 200 ms timer that saw no progress. */
typedef struct uvu {
  uv_loop_t loop;
  uv_udp_t udp;
  uv_timer_t retry;
  char *buf;
  size_t size;
  bool client;
  int warmup, total, done, seen, lost;
  double start, t0, *lat;
} uvu;

static void uvu_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  uvu *p = h->data;
  *b = uv_buf_init(p->buf, (unsigned)p->size);
}

static void uvu_send(uvu *p, const struct sockaddr *to, size_t len) {
  uv_buf_t b = uv_buf_init(p->buf, (unsigned)len);
  if (uv_udp_try_send(&p->udp, &b, 1, to) < 0) p->lost++; /* the retry timer sends again */
}

static void uvu_end(uvu *p) {
  uv_close((uv_handle_t *)&p->udp, NULL);
  if (p->client) uv_close((uv_handle_t *)&p->retry, NULL);
}

static void uvu_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                     unsigned flags) {
  (void)b;
  (void)flags;
  uvu *p = h->data;
  if (n < 0) exit(1);
  if (from == NULL) return; /* nothing more to read */
  if (!p->client) {         /* the echo side; an empty datagram ends it */
    if (n == 0)
      uvu_end(p);
    else
      uvu_send(p, from, (size_t)n);
    return;
  }
  int i = p->done++ - p->warmup;
  if (i == 0) p->t0 = p->start;
  if (i >= 0) p->lat[i] = peer_now_us() - p->start;
  if (p->done == p->total) {
    uvu_send(p, NULL, 0);
    uvu_end(p);
    return;
  }
  p->start = peer_now_us();
  uvu_send(p, NULL, p->size);
}

static void uvu_retry(uv_timer_t *t) {
  uvu *p = t->data;
  if (p->done == p->seen && ++p->lost > 100) {
    uvu_end(p); /* not a loss: nobody answers */
    return;
  }
  if (p->done == p->seen) uvu_send(p, NULL, p->size);
  p->seen = p->done;
}

int peer_uv_udp(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
                double *total_us) {
  (void)url;
  size += 8; /* msgbox's header, as raw-udp */
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int sfd = socket(AF_INET, SOCK_DGRAM, 0);
  socklen_t al = sizeof addr;
  if (sfd < 0 || bind(sfd, (struct sockaddr *)&addr, al) != 0 ||
      getsockname(sfd, (struct sockaddr *)&addr, &al) != 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) { /* the echo side, on the socket bound above */
    peer_pin(pinned);
    uvu s = {.size = size};
    s.buf = malloc(size);
    uv_loop_init(&s.loop);
    uv_udp_init(&s.loop, &s.udp);
    s.udp.data = &s;
    if (uv_udp_open(&s.udp, sfd) != 0 || uv_udp_recv_start(&s.udp, uvu_alloc, uvu_recv) != 0)
      _exit(1);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    _exit(0);
  }
  close(sfd);
  uvu p = {.size = size, .client = true, .warmup = warmup, .total = warmup + ops, .lat = lat};
  p.buf = calloc(1, size);
  uv_loop_init(&p.loop);
  uv_udp_init(&p.loop, &p.udp);
  uv_timer_init(&p.loop, &p.retry);
  p.udp.data = p.retry.data = &p;
  int rc = uv_udp_connect(&p.udp, (struct sockaddr *)&addr);
  if (rc == 0) rc = uv_udp_recv_start(&p.udp, uvu_alloc, uvu_recv);
  if (rc == 0) {
    uv_timer_start(&p.retry, uvu_retry, 200, 200);
    p.start = peer_now_us();
    uvu_send(&p, NULL, p.size);
  } else {
    uvu_end(&p);
  }
  uv_run(&p.loop, UV_RUN_DEFAULT);
  *total_us = peer_now_us() - p.t0;
  uv_loop_close(&p.loop);
  free(p.buf);
  if (p.lost) fprintf(stderr, "bx-bench: uv-udp: %d datagram(s) lost and sent again\n", p.lost);
  if (rc || p.done < p.total) kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return rc == 0 && p.done == p.total ? 0 : -1;
}
