/* msgbox over byte streams: TCP ("tcp://host:port") and Unix sockets ("unix:///path").
 *
 * Design notes
 * - The wire is a stream of frames, each an 8-byte header and its payload. A header is checked
 *   (type, and length against max_message) as soon as its 8 bytes are in, before the input
 *   buffer grows for its payload: a bad one loses the connection with a logged reason, so a
 *   4 GiB length allocates nothing.
 * - Reads go into the conn's input buffer; every whole frame in it is delivered in the read
 *   callback, so messages that arrived together are delivered in one loop pass. Payloads are
 *   borrowed from that buffer for the callback.
 * - Sends copy: uv_try_write first (a small frame on an idle socket goes out at once), and the
 *   rest into a write request of its own. `queued` counts what libuv still holds; a send that
 *   would take it over max_queued fails with BX_EQUEUEFULL (backpressure, never a spin).
 * - Ending: an orderly close writes a `close` frame behind what is queued, shuts the write side
 *   down and closes once the shutdown completes; a lost connection or a closing context closes
 *   at once (a closing context still tries the `close` frame, without waiting).
 * - A Unix listener's socket file is given its mode (bx_mb_opts.unix_mode, default 0600)
 *   between bind and listen, as the unix:// box transport does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb_internal.h"

#define ST_READ_CHUNK 65536
#define ST_KEEP_INPUT (1u << 20) /* an idle input buffer larger than this is freed */

typedef struct st_write {
  uv_write_t req;
  size_t len;
  char data[];
} st_write;

static void st_close_cb(uv_handle_t *h) {
  bx__mb_handle_closed(h->data);
}

static void st_close_now(bx__mb_conn *c) {
  if (!c->handle_inited || c->handle_closing) return;
  c->handle_closing = true;
  uv_close(&c->h.handle, st_close_cb);
}

/* ---- input ---------------------------------------------------------------------------------- */

static void st_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  bx__mb_conn *c = h->data;
  size_t want = c->in_len + ST_READ_CHUNK;
  if (c->in_need > want) want = c->in_need; /* the frame in progress, checked already */
  if (c->in_cap < want) {
    char *p = realloc(c->in, want);
    if (p == NULL) {
      *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
      return;
    }
    c->in = p;
    c->in_cap = want;
  }
  size_t room = c->in_cap - c->in_len;
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(room > UINT32_MAX ? UINT32_MAX : room));
}

/* Delivers every whole frame in the input buffer; ends c on a bad header. */
static void st_take_frames(bx__mb_conn *c) {
  size_t off = 0;
  bx__mb_ref(c);
  c->in_need = 0;
  while (c->state == MB_OPEN && c->in_len - off >= MB_HEADER) {
    unsigned type, id;
    uint32_t n;
    int rc = bx__mb_header(c, c->in + off, &type, &id, &n);
    if (rc) {
      bx__mb_log(c, BX_LOG_WARN, "lost: bad header (type %u, %lu bytes): %s", type,
                 (unsigned long)n, bx_strerror(rc));
      bx__mb_end(c, BX_MB_CONNECTION_LOST, rc, NULL, true);
      break;
    }
    if (c->in_len - off < MB_HEADER + (size_t)n) {
      c->in_need = MB_HEADER + (size_t)n;
      break;
    }
    off += MB_HEADER + n;
    bx__mb_frame(c, type, id, c->in + off - n, n);
  }
  if (c->state == MB_OPEN && off > 0) {
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
  }
  if (c->in_len == 0 && c->in_cap > ST_KEEP_INPUT) {
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
  }
  bx__mb_unref(c);
}

static void st_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  bx__mb_conn *c = s->data;
  if (nread == 0 || c->state != MB_OPEN) return;
  if (nread < 0) {
    if (nread != UV_EOF) bx__mb_log(c, BX_LOG_INFO, "lost: %s", uv_strerror((int)nread));
    bx__mb_end(c, BX_MB_CONNECTION_LOST, (int)nread, NULL, true);
    return;
  }
  c->in_len += (size_t)nread;
  st_take_frames(c);
}

void bx__mb_stream_input(bx__mb_conn *c, const char *data, size_t len) {
  bx__mb_ref(c);
  while (len > 0 && c->state == MB_OPEN) {
    uv_buf_t buf;
    st_alloc_cb(&c->h.handle, len, &buf);
    if (buf.len == 0) {
      st_read_cb(&c->h.stream, UV_ENOBUFS, &buf);
      break;
    }
    size_t n = len < buf.len ? len : buf.len;
    memcpy(buf.base, data, n);
    st_read_cb(&c->h.stream, (ssize_t)n, &buf);
    data += n;
    len -= n;
  }
  bx__mb_unref(c);
}

static void st_fill_remote(bx__mb_conn *c, const char *path) {
  if (c->proto == BX_MB_UNIX) {
    snprintf(c->remote, sizeof c->remote, "%s", path);
    return;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_nodelay(&c->h.tcp, 1); /* frames are whole already */
  if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0)
    bx__mb_format((struct sockaddr *)&ss, c->remote, sizeof c->remote);
}

/* ---- output --------------------------------------------------------------------------------- */

static void st_write_cb(uv_write_t *req, int status) {
  st_write *w = (st_write *)req; /* req is first */
  bx__mb_conn *c = req->handle->data;
  c->queued -= w->len;
  free(w);
  if (status < 0 && status != UV_ECANCELED && c->state == MB_OPEN) {
    bx__mb_log(c, BX_LOG_INFO, "lost: write: %s", uv_strerror(status));
    bx__mb_end(c, BX_MB_CONNECTION_LOST, status, NULL, true);
    return;
  }
  bx__mb_check_drained(c);
}

/* Writes header + data; `bounded`: refuse what would take the queue over max_queued. */
static int st_write_frame(bx__mb_conn *c, const char *hdr, const void *data, size_t len,
                          bool bounded) {
  size_t total = MB_HEADER + len, n = 0;
  if (bounded && c->queued + total > c->opts.max_queued) return BX_EQUEUEFULL;
  if (c->queued == 0) {
    uv_buf_t b[2] = {uv_buf_init((char *)hdr, MB_HEADER), uv_buf_init((char *)data, (unsigned)len)};
    int rc = uv_try_write(&c->h.stream, b, len ? 2 : 1);
    if (rc < 0 && rc != UV_EAGAIN) return rc;
    if (rc > 0) n = (size_t)rc;
    if (n == total) return 0;
  }
  st_write *w = malloc(sizeof *w + (total - n));
  if (w == NULL) return BX_ENOMEM;
  w->len = total - n;
  size_t k = 0, skip = n > MB_HEADER ? n - MB_HEADER : 0; /* what went of the header, data */
  if (n < MB_HEADER) {
    k = MB_HEADER - n;
    memcpy(w->data, hdr + n, k);
  }
  if (len > skip) memcpy(w->data + k, (const char *)data + skip, len - skip);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
  int rc = uv_write(&w->req, &c->h.stream, &b, 1, st_write_cb);
  if (rc) {
    free(w);
    return rc;
  }
  c->queued += w->len;
  return 0;
}

int bx__mb_stream_send(bx__mb_conn *c, unsigned type, unsigned id, const void *data, size_t len) {
  char hdr[MB_HEADER];
  bx__mb_put_header(hdr, type, id, (uint32_t)len);
  return st_write_frame(c, hdr, data, len, true);
}

/* ---- ending --------------------------------------------------------------------------------- */

static void st_shutdown_cb(uv_shutdown_t *req, int status) {
  (void)status;
  st_close_now(req->handle->data);
}

void bx__mb_stream_close(bx__mb_conn *c, bool orderly) {
  if (!c->handle_inited || c->handle_closing) return;
  if (c->listener) {
    if (c->unix_path) unlink(c->unix_path);
    st_close_now(c);
    return;
  }
  if (!orderly || !c->announced || c->shutting) {
    st_close_now(c);
    return;
  }
  char hdr[MB_HEADER];
  bx__mb_put_header(hdr, MB_CLOSE, 0, 0);
  uv_read_stop(&c->h.stream);
  if (bx_ctx_is_closing(c->ctx)) { /* no waiting now: the close frame only if it goes at once */
    uv_buf_t b = uv_buf_init(hdr, MB_HEADER);
    if (c->queued == 0) uv_try_write(&c->h.stream, &b, 1);
    st_close_now(c);
    return;
  }
  c->shutting = true;
  if (st_write_frame(c, hdr, NULL, 0, false) != 0 ||
      uv_shutdown(&c->shutdown, &c->h.stream, st_shutdown_cb) != 0)
    st_close_now(c);
}

/* ---- listening ------------------------------------------------------------------------------ */

/* A new remote that could not be set up: closed without any event. */
static void st_discard(bx__mb_conn *c) {
  c->state = MB_ENDED;
  st_close_now(c);
}

static void st_accept_cb(uv_stream_t *server, int status) {
  bx__mb_conn *l = server->data;
  if (l->state != MB_OPEN) return;
  if (status < 0) {
    bx__mb_log(l, BX_LOG_WARN, "accept: %s", uv_strerror(status));
    return;
  }
  bx__mb_conn *c = bx__mb_conn_new(l->ctx, l->proto, &l->opts, l->cb, l->context);
  if (c == NULL) {
    bx__mb_log(l, BX_LOG_ERROR, "accept: out of memory");
    return;
  }
  c->parent = l;
  bx__mb_ref(l);
  uv_loop_t *loop = bx_ctx_loop(l->ctx);
  if (l->proto == BX_MB_UNIX)
    uv_pipe_init(loop, &c->h.pipe, 0);
  else
    uv_tcp_init(loop, &c->h.tcp);
  c->handle_inited = true;
  int rc = uv_accept(server, &c->h.stream);
  if (rc == 0) rc = uv_read_start(&c->h.stream, st_alloc_cb, st_read_cb);
  if (rc) {
    bx__mb_log(l, BX_LOG_WARN, "accept: %s", uv_strerror(rc));
    st_discard(c);
    return;
  }
  st_fill_remote(c, l->unix_path ? l->unix_path : "");
  bx__mb_opened(c, true);
}

/* A Unix listener's socket file gets its mode before listen(): until then nobody can connect,
 * so no user the mode leaves out ever could. 0 or a libuv error. */
static int st_unix_mode(bx__mb_conn *l) {
  mode_t mode = l->opts.unix_mode ? (mode_t)(l->opts.unix_mode & 0777) : 0600;
  return chmod(l->unix_path, mode) == 0 ? 0 : uv_translate_sys_error(errno);
}

void bx__mb_stream_listen(bx__mb_conn *l, const bx__mb_addr *a) {
  uv_loop_t *loop = bx_ctx_loop(l->ctx);
  struct sockaddr_storage ss;
  const char *op = "bind";
  int rc;
  if (a->proto == BX_MB_UNIX) {
    uv_pipe_init(loop, &l->h.pipe, 0);
    l->handle_inited = true;
    rc = uv_pipe_bind(&l->h.pipe, a->path);
    if (rc == 0 && (l->unix_path = bx__strdup(a->path)) == NULL) rc = BX_ENOMEM;
    if (rc == 0 && (rc = st_unix_mode(l)) != 0) op = "chmod";
  } else if ((rc = bx__mb_resolve_now(l, a, SOCK_STREAM, &ss)) != 0) {
    op = "resolve";
  } else {
    uv_tcp_init(loop, &l->h.tcp);
    l->handle_inited = true;
    rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
  }
  if (rc == 0) {
    rc = uv_listen(&l->h.stream, 128, st_accept_cb);
    if (rc != UV_EADDRINUSE) op = "listen"; /* libuv reports a taken port here, not at bind */
  }
  if (rc == 0 && a->proto == BX_MB_TCP) {
    int len = sizeof ss;
    rc = uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len);
    if (rc == 0) rc = bx__mb_set_url(l, "tcp", (struct sockaddr *)&ss);
  }
  if (rc) {
    bx__mb_end(l, BX_MB_LISTENING_ERROR, rc, op, false);
    return;
  }
  bx__mb_opened(l, false);
}

/* ---- connecting ----------------------------------------------------------------------------- */

static void st_connect_cb(uv_connect_t *req, int status) {
  bx__mb_conn *c = req->handle->data;
  if (c->state != MB_CONNECTING) return;
  if (status == 0) status = uv_read_start(&c->h.stream, st_alloc_cb, st_read_cb);
  if (status) {
    bx__mb_end(c, BX_MB_CONNECTION_SETUP_ERROR, status, "connect", true);
    return;
  }
  st_fill_remote(c, c->url + 7);
  bx__mb_opened(c, true);
}

static void st_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  bx__mb_conn *c = req->data;
  if (c->state == MB_CONNECTING) {
    if (status == 0 && res == NULL) status = UV_EAI_NONAME;
    if (status)
      bx__mb_end(c, BX_MB_CONNECTION_SETUP_ERROR, status, "resolve", true);
    else if ((status = uv_tcp_connect(&c->connect, &c->h.tcp, res->ai_addr, st_connect_cb)))
      bx__mb_end(c, BX_MB_CONNECTION_SETUP_ERROR, status, "connect", true);
  }
  uv_freeaddrinfo(res);
  bx__mb_resolved(c);
}

void bx__mb_stream_connect(bx__mb_conn *c, const bx__mb_addr *a) {
  uv_loop_t *loop = bx_ctx_loop(c->ctx);
  if (a->proto == BX_MB_UNIX) {
    uv_pipe_init(loop, &c->h.pipe, 0);
    c->handle_inited = true;
    uv_pipe_connect(&c->connect, &c->h.pipe, a->path, st_connect_cb); /* reports in its cb */
    return;
  }
  uv_tcp_init(loop, &c->h.tcp);
  c->handle_inited = true;
  struct sockaddr_storage ss;
  const char *op = "connect";
  int rc;
  if (bx__mb_numeric(a, &ss) == 0) {
    rc = uv_tcp_connect(&c->connect, &c->h.tcp, (struct sockaddr *)&ss, st_connect_cb);
  } else {
    op = "resolve";
    rc = bx__mb_resolve(c, a, SOCK_STREAM, st_resolved_cb);
  }
  if (rc) bx__mb_end(c, BX_MB_CONNECTION_SETUP_ERROR, rc, op, false);
}
