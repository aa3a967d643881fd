/* msgbox over UDP ("udp://host:port"): one datagram per message, connections in the
 * application's head.
 *
 * Design notes
 * - A client has a connected UDP socket of its own: connecting sends nothing, and SETUP comes
 *   as soon as the socket is ready (the remote may not exist). The kernel reports an ICMP "port
 *   unreachable" on that socket as UV_ECONNREFUSED: its pending gets end at once in
 *   REPLY_MISSING with that status, each exactly once (the get leaves its conn's list before
 *   the event), and the connection stays: the remote may come up later.
 * - A listener has one socket for every remote and a table of remotes by address; a remote's
 *   conn is made, and announced with CONNECTION_READY, on its first datagram. A `close`
 *   datagram is received (so consumed) once: it ends its remote in CONNECTION_CLOSED and takes
 *   it out of the table; a `close` from an address the table does not hold is dropped. The
 *   remote of the last datagram is remembered (its address compared as bytes), so the usual
 *   run of datagrams from one remote neither formats a key nor looks it up.
 * - A datagram's buffer is the receiving socket's, 64 KiB, made once: the header's length is
 *   only compared with the datagram's size and max_message, never used to allocate. A datagram
 *   whose header disagrees with its size is dropped with a log line (a datagram socket has no
 *   stream to lose).
 * - Every UDP socket asks for 1 MiB of receive buffer (the kernel grants at most
 *   net.core.rmem_max): a burst of datagrams sent in one loop pass must fit in it, or the
 *   kernel drops what does not.
 * - Sends copy: uv_udp_try_send first, a send request with its own copy when the socket would
 *   block, bounded by max_queued. A message that does not fit one datagram fails at send time
 *   with BX_EMSGSIZE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_internal.h"

#define UD_DGRAM 65536
#define UD_MAX_DATAGRAM 65507 /* header and payload: the largest IPv4 UDP payload */
#define UD_RCVBUF (1 << 20)

static void ud_grow_rcvbuf(uv_udp_t *h) {
  int size = UD_RCVBUF;
  uv_recv_buffer_size((uv_handle_t *)h, &size); /* best effort: capped by rmem_max */
}

typedef struct ud_send {
  uv_udp_send_t req; /* first */
  bx__mb_conn *conn; /* referenced */
  size_t len;
  char data[];
} ud_send;

static uv_udp_t *ud_handle(bx__mb_conn *c) {
  return c->parent ? &c->parent->h.udp : &c->h.udp;
}

static void ud_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  bx__mb_conn *c = h->data;
  if (c->dgram == NULL) c->dgram = malloc(UD_DGRAM);
  *buf = uv_buf_init(c->dgram, c->dgram ? UD_DGRAM : 0);
}

/* Checks one datagram's header against its size; logs and returns false to drop it. */
static bool ud_check(bx__mb_conn *c, ssize_t nread, const char *p, unsigned flags, unsigned *type,
                     unsigned *id, uint32_t *n) {
  const char *why = NULL;
  int rc = 0;
  if (flags & UV_UDP_PARTIAL)
    why = "truncated";
  else if (nread < MB_HEADER)
    why = "shorter than a header";
  else if ((rc = bx__mb_header(c, p, type, id, n)) != 0)
    why = bx_strerror(rc);
  else if ((size_t)*n != (size_t)nread - MB_HEADER)
    why = "length disagrees with its size";
  if (why) bx__mb_log(c, BX_LOG_WARN, "datagram of %ld bytes dropped: %s", (long)nread, why);
  return why == NULL;
}

/* ---- a listener and its remotes ------------------------------------------------------------- */

static bx__mb_conn *ud_remote_new(bx__mb_conn *l, const struct sockaddr *addr, const char *key) {
  bx__mb_conn *r = bx__mb_conn_new(l->ctx, BX_MB_UDP, &l->opts, l->cb, l->context);
  if (r == NULL) return NULL;
  r->parent = l;
  bx__mb_ref(l);
  memcpy(&r->addr, addr,
         addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  snprintf(r->remote, sizeof r->remote, "%s", key);
  if (bx__map_put(l->remotes, r->remote, r, NULL) != 0) {
    r->state = MB_ENDED; /* never announced: goes without an event */
    bx__mb_handle_closed(r);
    return NULL;
  }
  bx__mb_ref(r); /* the table's */
  bx__mb_opened(r, true);
  return r;
}

/* Whether a remote's address (as stored) is from's: family, address and port. */
static bool ud_same_addr(const struct sockaddr_storage *a, const struct sockaddr *from) {
  if (a->ss_family != from->sa_family) return false;
  if (from->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a,
                             *y = (const struct sockaddr_in *)from;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (from->sa_family != AF_INET6) return false;
  const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a,
                            *y = (const struct sockaddr_in6 *)from;
  return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

static void ud_listener_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                             const struct sockaddr *addr, unsigned flags) {
  bx__mb_conn *l = h->data;
  unsigned type, id;
  uint32_t n;
  if (l->state != MB_OPEN || addr == NULL) return;
  if (nread < 0) {
    bx__mb_log(l, BX_LOG_DEBUG, "receive: %s", uv_strerror((int)nread));
    return;
  }
  if (!ud_check(l, nread, buf->base, flags, &type, &id, &n)) return;
  bx__mb_conn *r = l->last_remote;
  if (r == NULL || !ud_same_addr(&r->addr, addr)) {
    char key[128];
    bx__mb_format(addr, key, sizeof key);
    r = bx__map_get(l->remotes, key);
    if (r == NULL && type == MB_CLOSE) return; /* nothing open to close */
    if (r == NULL && (r = ud_remote_new(l, addr, key)) == NULL) {
      bx__mb_log(l, BX_LOG_ERROR, "out of memory: datagram from %s dropped", key);
      return;
    }
    l->last_remote = r;
  }
  bx__mb_ref(r);
  bx__mb_frame(r, type, id, buf->base + MB_HEADER, n);
  bx__mb_unref(r);
}

void bx__mb_udp_listen(bx__mb_conn *l, const bx__mb_addr *a) {
  struct sockaddr_storage ss;
  const char *op = "resolve";
  int rc = bx__mb_resolve_now(l, a, SOCK_DGRAM, &ss);
  if (rc == 0) {
    uv_udp_init(bx_ctx_loop(l->ctx), &l->h.udp);
    l->handle_inited = true;
    op = "bind";
    rc = uv_udp_bind(&l->h.udp, (struct sockaddr *)&ss, 0);
  }
  if (rc == 0) {
    op = "listen";
    ud_grow_rcvbuf(&l->h.udp);
    rc = uv_udp_recv_start(&l->h.udp, ud_alloc_cb, ud_listener_recv);
  }
  if (rc == 0) {
    int len = sizeof ss;
    rc = uv_udp_getsockname(&l->h.udp, (struct sockaddr *)&ss, &len);
    if (rc == 0) rc = bx__mb_set_url(l, "udp", (struct sockaddr *)&ss);
  }
  if (rc) {
    bx__mb_end(l, BX_MB_LISTENING_ERROR, rc, op, false);
    return;
  }
  bx__mb_opened(l, false);
}

/* ---- a client ------------------------------------------------------------------------------- */

static void ud_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  bx__mb_conn *c = h->data;
  unsigned type, id;
  uint32_t n;
  if (c->state != MB_OPEN) return;
  if (nread < 0) { /* an ICMP error for an earlier send: UV_ECONNREFUSED */
    bx__mb_log(c, BX_LOG_INFO, "receive: %s", uv_strerror((int)nread));
    bx__mb_fail_gets(c, (int)nread, true);
    return;
  }
  if (addr == NULL) return;
  if (!ud_check(c, nread, buf->base, flags, &type, &id, &n)) return;
  bx__mb_frame(c, type, id, buf->base + MB_HEADER, n);
}

void bx__mb_udp_input(bx__mb_conn *c, const char *data, size_t len, const struct sockaddr *from) {
  uv_buf_t buf;
  ud_alloc_cb(&c->h.handle, UD_DGRAM, &buf);
  if (buf.len == 0) return;
  size_t n = len < buf.len ? len : buf.len; /* the kernel truncates the same way */
  if (n) memcpy(buf.base, data, n);
  unsigned flags = n < len ? UV_UDP_PARTIAL : 0;
  if (c->listener)
    ud_listener_recv(&c->h.udp, (ssize_t)n, &buf, from, flags);
  else
    ud_client_recv(&c->h.udp, (ssize_t)n, &buf, from, flags);
}

static void ud_start(bx__mb_conn *c, const struct sockaddr *sa, bool now) {
  uv_udp_init(bx_ctx_loop(c->ctx), &c->h.udp);
  c->handle_inited = true;
  int rc = uv_udp_connect(&c->h.udp, sa);
  if (rc == 0) ud_grow_rcvbuf(&c->h.udp);
  if (rc == 0) rc = uv_udp_recv_start(&c->h.udp, ud_alloc_cb, ud_client_recv);
  if (rc) {
    bx__mb_end(c, BX_MB_CONNECTION_SETUP_ERROR, rc, "connect", now);
    return;
  }
  bx__mb_format(sa, c->remote, sizeof c->remote);
  bx__mb_opened(c, now);
}

static void ud_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  bx__mb_conn *c = req->data;
  if (c->state == MB_CONNECTING) {
    if (status == 0 && res == NULL) status = UV_EAI_NONAME;
    if (status)
      bx__mb_end(c, BX_MB_CONNECTION_SETUP_ERROR, status, "resolve", true);
    else
      ud_start(c, res->ai_addr, true);
  }
  uv_freeaddrinfo(res);
  bx__mb_resolved(c);
}

void bx__mb_udp_connect(bx__mb_conn *c, const bx__mb_addr *a) {
  struct sockaddr_storage ss;
  if (bx__mb_numeric(a, &ss) == 0) {
    ud_start(c, (struct sockaddr *)&ss, false);
    return;
  }
  int rc = bx__mb_resolve(c, a, SOCK_DGRAM, ud_resolved_cb);
  if (rc) bx__mb_end(c, BX_MB_CONNECTION_SETUP_ERROR, rc, "resolve", false);
}

/* ---- sending and ending --------------------------------------------------------------------- */

static void ud_send_cb(uv_udp_send_t *req, int status) {
  ud_send *s = (ud_send *)req;
  bx__mb_conn *c = s->conn;
  c->queued -= s->len;
  if (status < 0 && status != UV_ECANCELED)
    bx__mb_log(c, BX_LOG_DEBUG, "send: %s", uv_strerror(status));
  bx__mb_check_drained(c);
  bx__mb_unref(c);
  free(s);
}

static bool ud_can_send(bx__mb_conn *c) {
  bx__mb_conn *owner = c->parent ? c->parent : c;
  return owner->handle_inited && !owner->handle_closing;
}

int bx__mb_udp_send(bx__mb_conn *c, unsigned type, unsigned id, const void *data, size_t len) {
  size_t total = MB_HEADER + len;
  if (total > UD_MAX_DATAGRAM) return BX_EMSGSIZE;
  if (!ud_can_send(c)) return BX_ECLOSED;
  char hdr[MB_HEADER];
  bx__mb_put_header(hdr, type, id, (uint32_t)len);
  const struct sockaddr *to = c->parent ? (const struct sockaddr *)&c->addr : NULL;
  if (c->queued == 0) {
    uv_buf_t b[2] = {uv_buf_init(hdr, MB_HEADER), uv_buf_init((char *)data, (unsigned)len)};
    int rc = uv_udp_try_send(ud_handle(c), b, len ? 2 : 1, to);
    if (rc >= 0) return 0;
    if (rc != UV_EAGAIN) return rc;
  }
  if (c->queued + total > c->opts.max_queued) return BX_EQUEUEFULL;
  ud_send *s = malloc(sizeof *s + total);
  if (s == NULL) return BX_ENOMEM;
  memcpy(s->data, hdr, MB_HEADER);
  if (len) memcpy(s->data + MB_HEADER, data, len);
  s->conn = c;
  s->len = total;
  uv_buf_t b = uv_buf_init(s->data, (unsigned)total);
  int rc = uv_udp_send(&s->req, ud_handle(c), &b, 1, to, ud_send_cb);
  if (rc) {
    free(s);
    return rc;
  }
  bx__mb_ref(c);
  c->queued += total;
  return 0;
}

static void ud_close_cb(uv_handle_t *h) {
  bx__mb_handle_closed(h->data);
}

void bx__mb_udp_close(bx__mb_conn *c, bool orderly) {
  if (orderly && c->announced && !c->listener) /* best effort, behind what is queued */
    bx__mb_udp_send(c, MB_CLOSE, 0, NULL, 0);
  if (c->parent || !c->handle_inited || c->handle_closing) return; /* a remote has no socket */
  c->handle_closing = true;
  uv_udp_recv_stop(&c->h.udp);
  uv_close(&c->h.handle, ud_close_cb);
}
