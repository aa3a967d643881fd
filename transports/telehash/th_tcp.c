/* telehash over TCP (spec/telehash section 5): packets as chunks, never cloaked.
 *
 * Design notes
 * - A connection (bx__th_tcp) is either accepted by one of the endpoint's listeners or dialled
 *   to a path of a peer's JSON ("tcp4"/"tcp6"); either way it carries packets of any link, and
 *   a link's path points at it. A path without a connection dials when something is sent on
 *   it; libuv queues writes made while connecting.
 * - Input collects in the connection's buffer; bx__th_chunk_scan() finds each whole packet,
 *   which is gathered into ep->ubuf and dispatched with the connection as its path. A packet
 *   that grows past the size limit, EOF or an error closes the connection.
 * - A closing connection leaves the endpoint's list and every link's paths at once (links
 *   keep a dialable address and dial again), and is freed by its handle's close callback.
 */
#include "th_internal.h"

struct bx__th_tcp {
  bx__tlink node; /* in ep->tcps while open */
  bx_th_endpoint *ep;
  uv_tcp_t h;
  uv_connect_t connect;
  struct sockaddr_storage remote;
  bx_buf in;
  bool closing;
};

typedef struct tc_req {
  uv_write_t req; /* first */
  uint8_t data[];
} tc_req;

static void tc_closed(uv_handle_t *h) {
  bx__th_tcp *c = h->data;
  bx_th_endpoint *ep = c->ep;
  bx_buf_free(&c->in);
  free(c);
  bx__th_ep_handle_gone(ep);
}

static void tc_close(bx__th_tcp *c) {
  if (c->closing) return;
  c->closing = true;
  bx__tlink_remove(&c->node);
  bx_th_endpoint *ep = c->ep;
  for (bx__tlink *n = ep->links.next; n != &ep->links; n = n->next)
    bx__th_link_conn_gone((bx_th_link *)n, c);
  uv_close((uv_handle_t *)&c->h, tc_closed);
}

void bx__th_tcp_close_all(bx_th_endpoint *ep) {
  while (bx__tlink_listed(&ep->tcps))
    tc_close((bx__th_tcp *)ep->tcps.next);
}

static bx__th_tcp *tc_new(bx_th_endpoint *ep) {
  bx__th_tcp *c = bx__zalloc(sizeof *c);
  if (c == NULL) return NULL;
  c->ep = ep;
  if (uv_tcp_init(bx_ctx_loop(ep->ctx), &c->h) != 0) {
    free(c);
    return NULL;
  }
  c->h.data = c;
  ep->handles++;
  bx__tlink_append(&ep->tcps, &c->node);
  return c;
}

static void tc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  bx__th_tcp *c = h->data;
  if (bx_buf_reserve(&c->in, 65536) != 0) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(c->in.base + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void tc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  bx__th_tcp *c = s->data;
  bx_th_endpoint *ep = c->ep;
  if (nread < 0) {
    tc_close(c);
    return;
  }
  c->in.len += (size_t)nread;
  size_t off = 0;
  while (!c->closing && !ep->closing) {
    size_t used = 0, size = 0;
    int rc = bx__th_chunk_scan((uint8_t *)c->in.base + off, c->in.len - off, BX__TH_MAX_PACKET,
                               &used, &size);
    if (rc == 0) break;
    if (rc < 0) {
      ep->stats.packets_in++;
      bx__th_drop(ep, NULL, &ep->stats.oversize);
      tc_close(c);
      return;
    }
    if (size > 0) {
      bx__th_chunk_gather((uint8_t *)c->in.base + off, used, ep->ubuf);
      bx__th_path from = {.kind = BX__TH_TCP, .conn = c};
      from.addr = c->remote;
      bx__th_ep_recv(ep, &from, ep->ubuf, size);
    }
    off += used;
  }
  if (c->closing) return;
  memmove(c->in.base, c->in.base + off, c->in.len - off);
  c->in.len -= off;
}

static void tc_accept(uv_stream_t *server, int status) {
  bx_th_endpoint *ep = server->data;
  if (status != 0 || ep->closing) return;
  bx__th_tcp *c = tc_new(ep);
  if (c == NULL) return;
  int len = sizeof c->remote;
  int rc = uv_accept(server, (uv_stream_t *)&c->h);
  if (rc == 0) rc = uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->remote, &len);
  if (rc == 0) rc = uv_read_start((uv_stream_t *)&c->h, tc_alloc, tc_read);
  if (rc != 0) tc_close(c);
}

int bx__th_tcp_listen(bx_th_endpoint *ep, unsigned i, const struct sockaddr *sa) {
  uv_tcp_t *h = malloc(sizeof *h);
  if (h == NULL) return BX_ENOMEM;
  int rc = uv_tcp_init(bx_ctx_loop(ep->ctx), h);
  if (rc != 0) {
    free(h);
    return rc;
  }
  h->data = ep;
  ep->listen[i] = h;
  ep->handles++;
  rc = uv_tcp_bind(h, sa, sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)h, 64, tc_accept);
  int len = sizeof ep->bound[i];
  if (rc == 0) rc = uv_tcp_getsockname(h, (struct sockaddr *)&ep->bound[i], &len);
  return rc;
}

static void tc_connected(uv_connect_t *req, int status) {
  bx__th_tcp *c = req->data;
  if (c->closing) return;
  if (status == 0) status = uv_read_start((uv_stream_t *)&c->h, tc_alloc, tc_read);
  if (status != 0) tc_close(c);
}

static bool tc_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

bool bx__th_addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  return tc_same(a, b);
}

static bx__th_tcp *tc_dial(bx_th_endpoint *ep, const struct sockaddr_storage *to) {
  for (bx__tlink *n = ep->tcps.next; n != &ep->tcps; n = n->next) {
    bx__th_tcp *c = (bx__th_tcp *)n;
    if (tc_same(&c->remote, to)) return c;
  }
  bx__th_tcp *c = tc_new(ep);
  if (c == NULL) return NULL;
  c->remote = *to;
  c->connect.data = c;
  if (uv_tcp_connect(&c->connect, &c->h, (const struct sockaddr *)to, tc_connected) != 0) {
    tc_close(c);
    return NULL;
  }
  return c;
}

static void tc_written(uv_write_t *req, int status) {
  (void)status; /* a failed write shows as a read error or EOF, which closes the connection */
  free(req);
}

int bx__th_tcp_send(bx_th_endpoint *ep, bx__th_path *path, const uint8_t *p, size_t n) {
  if (path->conn == NULL) {
    if (!path->dialable) return BX_ECONNLOST;
    path->conn = tc_dial(ep, &path->addr);
    if (path->conn == NULL) return BX_ECONNLOST;
  }
  tc_req *r = malloc(sizeof *r + n);
  if (r == NULL) return BX_ENOMEM;
  memcpy(r->data, p, n);
  uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)n);
  int rc = uv_write(&r->req, (uv_stream_t *)&path->conn->h, &b, 1, tc_written);
  if (rc != 0) free(r);
  return rc;
}
