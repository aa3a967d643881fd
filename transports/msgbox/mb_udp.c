/* msgbox over UDP ("udp://host:port"): one datagram per message, connections in the
 * application's head.
 *
 * Design notes
 * - A client has a connected UDP socket of its own: connecting sends nothing, and SETUP comes
 *   as soon as the socket is ready (the remote may not exist). The kernel reports an ICMP "port
 *   unreachable" on that socket as ECONNREFUSED: its pending gets end at once in REPLY_MISSING
 *   with UV_ECONNREFUSED, each exactly once (the get leaves its conn's list before the event),
 *   and the connection stays: the remote may come up later.
 * - A listener has one socket for every remote and a table of remotes by address; a remote's
 *   conn is made, and announced with CONNECTION_READY, on its first datagram. A `close`
 *   datagram is received (so consumed) once: it ends its remote in CONNECTION_CLOSED and takes
 *   it out of the table; a `close` from an address the table does not hold is dropped. The
 *   remote of the last datagram is remembered (its address compared as bytes), so the usual
 *   run of datagrams from one remote neither formats a key nor looks it up.
 * - The socket is watched with a uv_poll_t and read with recvmmsg(), UD_BATCH datagrams per
 *   call into a buffer of UD_BATCH * 64 KiB made once (virtual memory: only the pages written
 *   are touched). A call that returns fewer than UD_BATCH has emptied the queue, so the usual
 *   wake-up costs one read, where uv_udp_t reads until EAGAIN (two per datagram); every
 *   datagram waiting is still delivered in the same loop pass (up to UD_MAX_READ per wake-up,
 *   as libuv bounds its reads too). The header's length is only compared with the datagram's
 *   size and max_message, never used to allocate. A datagram whose header disagrees with its
 *   size is dropped with a log line (a datagram socket has no stream to lose).
 * - Every UDP socket asks for 1 MiB of receive buffer (the kernel grants at most
 *   net.core.rmem_max): a burst of datagrams sent in one loop pass must fit in it, or the
 *   kernel drops what does not.
 * - Sends copy: sendmsg() at once (header and payload as two pieces) when nothing is queued on
 *   the socket, else a copy at the end of the socket's queue (a listener's is shared by its
 *   remotes), written when the socket is writable again; bounded by max_queued per conn. A
 *   message that does not fit one datagram fails at send time with BX_EMSGSIZE.
 * - libuv reports a socket error (an ICMP refusal on a connected socket: EPOLLERR) by stopping
 *   the poll handle; the error is taken with SO_ERROR (which clears it, so epoll stops
 *   reporting it) and the handle started again.
 */
#define _GNU_SOURCE /* recvmmsg */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mb_internal.h"

#define UD_DGRAM 65536
#define UD_MAX_DATAGRAM 65507 /* header and payload: the largest IPv4 UDP payload */
#define UD_RCVBUF (1 << 20)
#define UD_BATCH 4     /* datagrams per recvmmsg() */
#define UD_MAX_READ 32 /* datagrams per wake-up, at most */

typedef struct ud_send {
  bx__tlink node;    /* on the socket owner's sendq */
  bx__mb_conn *conn; /* referenced: whose max_queued it counts against */
  struct sockaddr_storage to;
  bool has_to; /* a listener's remote: sent to `to`; a client's socket is connected */
  size_t len;
  char data[];
} ud_send;

static void ud_poll_cb(uv_poll_t *h, int status, int events);

/* The conn that owns the socket c sends on: its listener for a remote. */
static bx__mb_conn *ud_owner(bx__mb_conn *c) {
  return c->parent ? c->parent : c;
}

static socklen_t ud_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int ud_errno(void) {
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS
             ? UV_EAGAIN
             : uv_translate_sys_error(errno);
}

/* Watches o's socket for reading, and for writing while something is queued. */
static void ud_poll_update(bx__mb_conn *o) {
  if (!o->handle_inited || o->handle_closing) return;
  int events = UV_READABLE | (bx__tlink_listed(&o->sendq) && !o->held ? UV_WRITABLE : 0);
  if (events == o->poll_events) return;
  int rc = uv_poll_start(&o->h.poll, events, ud_poll_cb);
  if (rc == 0)
    o->poll_events = events;
  else
    bx__mb_log(o, BX_LOG_ERROR, "poll: %s", uv_strerror(rc));
}

int bx__mb_udp_open(bx__mb_conn *c, const struct sockaddr *bind_to,
                    const struct sockaddr *connect_to) {
  const struct sockaddr *sa = bind_to ? bind_to : connect_to;
  int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return uv_translate_sys_error(errno);
  int size = UD_RCVBUF; /* best effort: capped by rmem_max */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if ((bind_to && bind(fd, bind_to, ud_len(bind_to)) != 0) ||
      (connect_to && connect(fd, connect_to, ud_len(connect_to)) != 0)) {
    int rc = uv_translate_sys_error(errno);
    close(fd);
    return rc;
  }
  int rc = uv_poll_init_socket(bx_ctx_loop(c->ctx), &c->h.poll, fd);
  if (rc) {
    close(fd);
    return rc;
  }
  c->h.handle.data = c;
  c->handle_inited = true;
  c->fd = fd;
  bx__tlink_init(&c->sendq);
  c->poll_events = 0;
  ud_poll_update(c);
  return c->poll_events ? 0 : UV_EIO;
}

/* ---- input ------------------------------------------------------------------------------------
 */

/* Checks one datagram's header against its size; logs and returns false to drop it. */
static bool ud_check(bx__mb_conn *c, size_t len, const char *p, bool truncated, unsigned *type,
                     unsigned *id, uint32_t *n) {
  const char *why = NULL;
  int rc = 0;
  if (truncated)
    why = "truncated";
  else if (len < MB_HEADER)
    why = "shorter than a header";
  else if ((rc = bx__mb_header(c, p, type, id, n)) != 0)
    why = bx_strerror(rc);
  else if ((size_t)*n != len - MB_HEADER)
    why = "length disagrees with its size";
  if (why) bx__mb_log(c, BX_LOG_WARN, "datagram of %zu bytes dropped: %s", len, why);
  return why == NULL;
}

static bx__mb_conn *ud_remote_new(bx__mb_conn *l, const struct sockaddr *addr, const char *key) {
  bx__mb_conn *r = bx__mb_conn_new(l->ctx, BX_MB_UDP, &l->opts, l->cb, l->context);
  if (r == NULL) return NULL;
  r->parent = l;
  bx__mb_ref(l);
  memcpy(&r->addr, addr, ud_len(addr));
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

/* One datagram on a listener's socket: to its remote (made on its first datagram). */
static void ud_listener_datagram(bx__mb_conn *l, const char *p, size_t len,
                                 const struct sockaddr *addr, bool truncated) {
  unsigned type, id;
  uint32_t n;
  if (!ud_check(l, len, p, truncated, &type, &id, &n)) return;
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
  bx__mb_frame(r, type, id, p + MB_HEADER, n);
  bx__mb_unref(r);
}

static void ud_datagram(bx__mb_conn *c, const char *p, size_t len, const struct sockaddr *from,
                        bool truncated) {
  if (c->state != MB_OPEN) return;
  if (c->listener) {
    ud_listener_datagram(c, p, len, from, truncated);
    return;
  }
  unsigned type, id;
  uint32_t n;
  if (ud_check(c, len, p, truncated, &type, &id, &n)) bx__mb_frame(c, type, id, p + MB_HEADER, n);
}

/* A socket error: for a client, an ICMP error for an earlier send (UV_ECONNREFUSED). */
static void ud_error(bx__mb_conn *c, int rc) {
  if (c->listener) {
    bx__mb_log(c, BX_LOG_DEBUG, "receive: %s", uv_strerror(rc));
    return;
  }
  bx__mb_log(c, BX_LOG_INFO, "receive: %s", uv_strerror(rc));
  bx__mb_fail_gets(c, rc, true);
}

static bool ud_reading(const bx__mb_conn *c) {
  return c->state == MB_OPEN && c->handle_inited && !c->handle_closing;
}

/* A socket's receive side, made on its first read and set up once: recvmmsg()'s headers and
 * UD_BATCH datagram buffers (c->dgram). */
typedef struct ud_rx {
  struct mmsghdr m[UD_BATCH];
  struct iovec iov[UD_BATCH];
  struct sockaddr_storage from[UD_BATCH];
  char data[UD_BATCH][UD_DGRAM];
} ud_rx;

static ud_rx *ud_buffers(bx__mb_conn *c) {
  if (c->dgram) return (ud_rx *)(void *)c->dgram;
  ud_rx *rx = malloc(sizeof *rx);
  if (rx == NULL) {
    bx__mb_log(c, BX_LOG_ERROR, "out of memory: not reading");
    return NULL;
  }
  memset(rx->m, 0, sizeof rx->m);
  for (int i = 0; i < UD_BATCH; i++) {
    rx->iov[i] = (struct iovec){rx->data[i], UD_DGRAM};
    rx->m[i].msg_hdr.msg_iov = &rx->iov[i];
    rx->m[i].msg_hdr.msg_iovlen = 1;
    rx->m[i].msg_hdr.msg_name = &rx->from[i];
  }
  c->dgram = (char *)rx;
  return rx;
}

/* Reads what waits on c's socket, UD_BATCH datagrams per call, and delivers it. */
static void ud_read(bx__mb_conn *c) {
  ud_rx *rx = ud_buffers(c);
  if (rx == NULL) return;
  struct mmsghdr *m = rx->m;
  for (int got = 0; got < UD_MAX_READ && ud_reading(c);) {
    for (int i = 0; i < UD_BATCH; i++) /* in and out: the rest only comes out */
      m[i].msg_hdr.msg_namelen = sizeof rx->from[i];
    int k = recvmmsg(c->fd, m, UD_BATCH, MSG_DONTWAIT, NULL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      int rc = ud_errno();
      if (rc != UV_EAGAIN) ud_error(c, rc);
      return;
    }
    for (int i = 0; i < k && ud_reading(c); i++)
      ud_datagram(c, rx->data[i], m[i].msg_len, (const struct sockaddr *)&rx->from[i],
                  (m[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
    if (k < UD_BATCH) return; /* the queue is empty */
    got += k;
  }
}

void bx__mb_udp_input(bx__mb_conn *c, const char *data, size_t len, const struct sockaddr *from) {
  ud_rx *rx = ud_buffers(c);
  if (rx == NULL) return;
  size_t n = len < UD_DGRAM ? len : UD_DGRAM; /* the kernel truncates the same way */
  if (n) memcpy(rx->data[0], data, n);
  bx__mb_ref(c);
  ud_datagram(c, rx->data[0], n, from, n < len);
  bx__mb_unref(c);
}

/* ---- sending ----------------------------------------------------------------------------------
 */

/* One datagram of a and b (b may be empty) to `to` (NULL: the connected peer). 0, UV_EAGAIN
 * (the socket's buffer is full: try again when writable) or an error. */
static int ud_sendmsg(int fd, const struct sockaddr *to, const void *a, size_t alen, const void *b,
                      size_t blen) {
  struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = blen ? 2 : 1};
  if (to) {
    m.msg_name = (void *)to;
    m.msg_namelen = ud_len(to);
  }
  ssize_t r;
  do
    r = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  return r < 0 ? ud_errno() : 0;
}

/* A queued datagram is done (sent, failed or dropped): its conn's backlog shrinks. */
static void ud_send_done(ud_send *s) {
  bx__mb_conn *c = s->conn;
  bx__tlink_remove(&s->node);
  c->queued -= s->len;
  free(s);
  bx__mb_check_drained(c);
  bx__mb_unref(c);
}

/* The socket is writable: sends what is queued on it, in order. */
static void ud_flush(bx__mb_conn *o) {
  while (bx__tlink_listed(&o->sendq) && o->handle_inited && !o->handle_closing && !o->held) {
    ud_send *s = (ud_send *)(void *)((char *)o->sendq.next - offsetof(ud_send, node));
    int rc = ud_sendmsg(o->fd, s->has_to ? (const struct sockaddr *)&s->to : NULL, s->data, s->len,
                        NULL, 0);
    if (rc == UV_EAGAIN) break;
    if (rc) bx__mb_log(s->conn, BX_LOG_DEBUG, "send: %s", uv_strerror(rc));
    ud_send_done(s);
  }
  ud_poll_update(o);
}

void bx__mb_udp_hold(bx__mb_conn *c, bool hold) {
  c->held = hold;
  if (!hold) {
    bx__mb_ref(c);
    ud_flush(c);
    bx__mb_unref(c);
  }
}

static bool ud_can_send(bx__mb_conn *c) {
  bx__mb_conn *o = ud_owner(c);
  return o->handle_inited && !o->handle_closing;
}

int bx__mb_udp_send(bx__mb_conn *c, unsigned type, unsigned id, const void *data, size_t len) {
  size_t total = MB_HEADER + len;
  if (total > UD_MAX_DATAGRAM) return BX_EMSGSIZE;
  if (!ud_can_send(c)) return BX_ECLOSED;
  bx__mb_conn *o = ud_owner(c);
  char hdr[MB_HEADER];
  bx__mb_put_header(hdr, type, id, (uint32_t)len);
  const struct sockaddr *to = c->parent ? (const struct sockaddr *)&c->addr : NULL;
  if (!bx__tlink_listed(&o->sendq) && !o->held) { /* nothing ahead: straight to the kernel */
    int rc = ud_sendmsg(o->fd, to, hdr, MB_HEADER, data, len);
    if (rc != UV_EAGAIN) return rc;
  }
  if (c->queued + total > c->opts.max_queued) return BX_EQUEUEFULL;
  ud_send *s = malloc(sizeof *s + total);
  if (s == NULL) return BX_ENOMEM;
  memcpy(s->data, hdr, MB_HEADER);
  if (len) memcpy(s->data + MB_HEADER, data, len);
  s->conn = c;
  s->len = total;
  s->has_to = to != NULL;
  if (to) memcpy(&s->to, to, ud_len(to));
  bx__mb_ref(c);
  c->queued += total;
  bx__tlink_append(&o->sendq, &s->node);
  ud_poll_update(o);
  return 0;
}

/* ---- the socket's events ----------------------------------------------------------------------
 */

static void ud_poll_cb(uv_poll_t *h, int status, int events) {
  bx__mb_conn *c = h->data;
  bx__mb_ref(c);
  if (status < 0) { /* libuv stopped the handle: a socket error (EPOLLERR) */
    c->poll_events = 0;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0) {
      /* 0: a send in this pass took the error already (and returned it); the socket has no
       * error left, so epoll does not report it again */
      if (err) ud_error(c, uv_translate_sys_error(err));
      ud_poll_update(c);
    } else {
      bx__mb_log(c, BX_LOG_ERROR, "poll: %s: the socket is given up", uv_strerror(status));
      bx__mb_end(c, c->listener ? BX_MB_LISTENING_ENDED : BX_MB_CONNECTION_LOST, status, NULL,
                 true);
    }
    bx__mb_unref(c);
    return;
  }
  if (events & UV_WRITABLE) ud_flush(c);
  if (events & UV_READABLE) ud_read(c);
  bx__mb_unref(c);
}

/* ---- a listener -------------------------------------------------------------------------------
 */

void bx__mb_udp_listen(bx__mb_conn *l, const bx__mb_addr *a) {
  struct sockaddr_storage ss;
  const char *op = "resolve";
  int rc = bx__mb_resolve_now(l, a, SOCK_DGRAM, &ss);
  if (rc == 0) {
    op = "bind";
    rc = bx__mb_udp_open(l, (struct sockaddr *)&ss, NULL);
  }
  if (rc == 0) {
    socklen_t len = sizeof ss;
    rc = getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0 ? 0 : uv_translate_sys_error(errno);
    if (rc == 0) rc = bx__mb_set_url(l, "udp", (struct sockaddr *)&ss);
  }
  if (rc) {
    bx__mb_end(l, BX_MB_LISTENING_ERROR, rc, op, false);
    return;
  }
  bx__mb_opened(l, false);
}

/* ---- a client ---------------------------------------------------------------------------------
 */

static void ud_start(bx__mb_conn *c, const struct sockaddr *sa, bool now) {
  int rc = bx__mb_udp_open(c, NULL, sa);
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

/* ---- ending -----------------------------------------------------------------------------------
 */

/* The handle has closed: what is still queued is dropped (as libuv cancels a closing uv_udp_t's
 * sends), then the socket is closed. */
static void ud_close_cb(uv_handle_t *h) {
  bx__mb_conn *c = h->data;
  bx__mb_ref(c);
  while (bx__tlink_listed(&c->sendq))
    ud_send_done((ud_send *)(void *)((char *)c->sendq.next - offsetof(ud_send, node)));
  close(c->fd);
  c->fd = -1;
  bx__mb_handle_closed(c);
  bx__mb_unref(c);
}

void bx__mb_udp_close(bx__mb_conn *c, bool orderly) {
  if (orderly && c->announced && !c->listener) /* best effort, behind what is queued */
    bx__mb_udp_send(c, MB_CLOSE, 0, NULL, 0);
  if (c->parent || !c->handle_inited || c->handle_closing) return; /* a remote has no socket */
  c->handle_closing = true;
  uv_close(&c->h.handle, ud_close_cb);
}
