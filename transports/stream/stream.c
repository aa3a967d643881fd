/* Shared plumbing of the libuv stream transports.
 *
 * Design notes
 * - One socket is one solo link carrying one peer; the socket state is the link's private
 *   state. Reads go straight into the peer's input buffer (bx__conn_read_space), so a frame is
 *   copied once, from the kernel.
 * - Closing a connection may find a host name lookup in flight: the lookup is cancelled, and
 *   framework hears bx__link_closed() only once both the handle has closed and the lookup's
 *   callback has run, since both point into the link.
 * - SIGPIPE: libuv writes with write(2), which raises SIGPIPE on a socket the peer closed.
 *   When that signal still has its default (fatal) disposition bx ignores it, once, so a peer
 *   that goes away cannot kill the process; the write then fails with EPIPE and the connection
 *   closes. An application that installed its own handler keeps it.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "stream.h"

bx__st_conn *bx__st(bx__conn *c) {
  return bx__link_priv(bx__conn_link(c));
}

static bx__st_conn *st_of(bx__link *k) {
  return bx__link_priv(k);
}

void bx__st_ignore_sigpipe(void) {
  static bool done;
  if (done) return;
  done = true;
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
}

/* ---- reading and writing ------------------------------------------------------------------ */

static void st_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  char *base;
  size_t len;
  bx__conn_read_space(st_of(h->data)->peer, suggested, &base, &len);
  *buf = uv_buf_init(base, (unsigned)(len > UINT32_MAX ? UINT32_MAX : len));
}

static void st_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  bx__st_conn *st = st_of(s->data);
  if (nread == 0 || st->closing) return;
  if (nread == UV_ENOBUFS) nread = BX_ENOMEM;
  bx__conn_read_done(st->peer, nread);
}

static int st_start(bx__conn *c) {
  bx__st_conn *s = bx__st(c);
  if (s->fill_peer) s->fill_peer(c);
  return uv_read_start(&s->h.stream, st_alloc_cb, st_read_cb);
}

void bx__st_read_pause(bx__link *k, bx__conn *c, bool pause) {
  (void)c;
  bx__st_conn *s = st_of(k);
  if (s->closing || !s->inited) return;
  if (pause)
    uv_read_stop(&s->h.stream);
  else if (uv_read_start(&s->h.stream, st_alloc_cb, st_read_cb) != 0)
    bx__conn_close(s->peer, BX_ECONNLOST);
}

static void st_write_cb(uv_write_t *req, int status) {
  bx__link *k = req->handle->data;
  if (st_of(k)->closing) return;
  bx__link_write_done(k, status);
}

/* Tries the write at once first: a small frame on an idle socket usually goes out whole,
 * which saves the write request's completion round through the loop (an extra epoll_wait and
 * an epoll_ctl per write). Whatever the socket does not take is queued as usual. */
int bx__st_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  (void)c;
  bx__st_conn *s = st_of(k);
  if (len > UINT32_MAX) return BX_EMSGSIZE;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int n = len <= INT32_MAX ? uv_try_write(&s->h.stream, &b, 1) : UV_EAGAIN;
  if (n >= 0 && (size_t)n == len) return BX__WRITTEN;
  if (n < 0 && n != UV_EAGAIN) return n;
  if (n > 0) b = uv_buf_init((char *)buf + n, (unsigned)(len - (size_t)n));
  return uv_write(&s->write, &s->h.stream, &b, 1, st_write_cb);
}

void bx__st_connect_cb(uv_connect_t *req, int status) {
  bx__st_conn *s = st_of(req->handle->data);
  if (s->closing) return;
  if (status == 0) status = st_start(s->peer);
  bx__conn_connected(s->peer, status);
}

bx__st_conn *bx__st_dial(bx__conn *c, void (*init_conn)(bx__st_conn *s, uv_loop_t *loop),
                         void (*fill_peer)(bx__conn *c)) {
  bx__link *k = bx__link_for(c);
  if (k == NULL) return NULL;
  bx__st_conn *s = st_of(k);
  bx__st_ignore_sigpipe();
  s->peer = c;
  s->fill_peer = fill_peer;
  init_conn(s, bx_ctx_loop(bx__link_ctx(k)));
  s->h.handle.data = k;
  s->inited = true;
  return s;
}

/* ---- closing ------------------------------------------------------------------------------ */

void bx__st_check_closed(bx__link *k) {
  bx__st_conn *s = st_of(k);
  if (s->resolving || s->inited) return;
  bx__link_closed(k);
}

static void st_closed_cb(uv_handle_t *h) {
  bx__link *k = h->data;
  st_of(k)->inited = false;
  bx__st_check_closed(k);
}

static void st_closed_task(void *a, void *b) {
  (void)b;
  bx__st_check_closed(a);
}

void bx__st_close(bx__link *k) {
  bx__st_conn *s = st_of(k);
  s->closing = true;
  if (s->resolving) uv_cancel((uv_req_t *)&s->gai); /* its callback still runs */
  if (s->inited) {
    uv_close(&s->h.handle, st_closed_cb);
    return;
  }
  if (!s->resolving && bx__defer(bx__link_ctx(k), st_closed_task, k, NULL) != 0)
    bx__link_closed(k); /* no run queue left: report now */
}

/* ---- listening ---------------------------------------------------------------------------- */

static void st_connection_cb(uv_stream_t *server, int status) {
  bx_listener *l = server->data;
  bx__st_listener *sl = bx__listener_priv(l);
  if (status < 0) {
    bx_log(l->ctx, BX_LOG_WARN, "%s: accept failed: %s", l->url, bx_strerror(status));
    return;
  }
  bx__link *k = bx__link_new(l->ts, l->tran, l, true);
  bx__conn *c = k ? bx__conn_accept(k) : NULL;
  if (c == NULL) { /* out of memory: refused (closed at once), so its dialler hears of it */
    if (k) bx__link_close(k, BX_ENOMEM);
    /* libuv has accepted the socket and waits for uv_accept() (which needs a handle there is
     * no memory for): closing it here lets the listener go on (libuv's unix stream.c). */
    if (server->accepted_fd >= 0) close(server->accepted_fd);
    server->accepted_fd = -1;
    bx_log(l->ctx, BX_LOG_WARN, "%s: refusing a connection: out of memory", l->url);
    return;
  }
  bx__st_conn *s = st_of(k);
  sl->init_conn(s, server->loop);
  s->h.handle.data = k;
  s->inited = true;
  s->peer = c;
  s->fill_peer = sl->fill_peer;
  int rc = uv_accept(server, &s->h.stream);
  if (rc == 0)
    rc = bx__conn_opened(c);
  else
    bx__conn_close(c, BX_ECONNLOST);
  if (rc == 0 && (rc = st_start(c)) != 0) bx__conn_close(c, BX_ECONNLOST);
}

int bx__st_listen(bx_listener *l) {
  bx__st_listener *sl = bx__listener_priv(l);
  bx__st_ignore_sigpipe();
  int rc = uv_listen(&sl->h->stream, 128, st_connection_cb);
  if (rc) {
    bx__st_discard(sl->h);
    sl->h = NULL;
    return rc;
  }
  sl->h->handle.data = l;
  return 0;
}

static void st_free_cb(uv_handle_t *h) {
  bx__free(h);
}

void bx__st_discard(bx__st_handle *h) {
  if (h) uv_close(&h->handle, st_free_cb);
}

static void st_listener_closed_cb(uv_handle_t *h) {
  bx_listener *l = h->data;
  bx__st_listener *sl = bx__listener_priv(l);
  bx__free(h);
  sl->h = NULL;
  if (sl->on_closed) sl->on_closed(l);
  bx__listener_closed(l);
}

void bx__st_listen_close(bx_listener *l) {
  bx__st_listener *sl = bx__listener_priv(l);
  uv_close(&sl->h->handle, st_listener_closed_cb);
}
