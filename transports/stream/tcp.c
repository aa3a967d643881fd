/* tcp://host:port — TCP over IPv4 and IPv6 ("tcp://127.0.0.1:7301", "tcp://[::1]:7301",
 * "tcp://localhost:7301"). Numeric addresses are used as they are; host names are resolved
 * with uv_getaddrinfo, asynchronously when connecting (synchronously in bx_listen(), which
 * returns its result at once). Port 0 when listening picks a free port; the listener's URL
 * then names the port actually bound. Connections run with TCP_NODELAY: frames are already
 * coalesced by the connection core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

typedef struct tc_addr {
  char host[256];
  char port[8];
} tc_addr;

static bool tc_digits(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 5) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return atoi(s) <= 65535;
}

/* Splits "host:port" or "[v6]:port". Returns 0 or BX_EINVAL. */
static int tc_parse(const char *addr, tc_addr *out) {
  int rc = bx__addr_split(addr, out->host, sizeof out->host, out->port, sizeof out->port);
  if (rc) return rc;
  return tc_digits(out->port) ? 0 : BX_EINVAL;
}

static int tc_check(const char *addr) {
  tc_addr a;
  return tc_parse(addr, &a);
}

/* A numeric address, or UV_EINVAL when host is a name. */
static int tc_numeric(const tc_addr *a, struct sockaddr_storage *ss) {
  int port = atoi(a->port);
  if (uv_ip4_addr(a->host, port, (struct sockaddr_in *)ss) == 0) return 0;
  return uv_ip6_addr(a->host, port, (struct sockaddr_in6 *)ss);
}

/* "127.0.0.1:80" or "[::1]:80" */
static void tc_format(const struct sockaddr *sa, char *buf, size_t len) {
  char ip[64] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    uv_ip6_name(s6, ip, sizeof ip);
    port = ntohs(s6->sin6_port);
    snprintf(buf, len, "[%s]:%d", ip, port);
    return;
  }
  const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
  uv_ip4_name(s4, ip, sizeof ip);
  port = ntohs(s4->sin_port);
  snprintf(buf, len, "%s:%d", ip, port);
}

static void tc_fill_peer(bx__conn *c) {
  bx__st_conn *s = bx__st(c);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_nodelay(&s->h.tcp, 1);
  if (uv_tcp_getpeername(&s->h.tcp, (struct sockaddr *)&ss, &len) == 0) {
    bx_peer_info *p = bx__conn_peer(c);
    tc_format((struct sockaddr *)&ss, p->address, sizeof p->address);
  }
}

static void tc_init_conn(bx__st_conn *s, uv_loop_t *loop) {
  uv_tcp_init(loop, &s->h.tcp);
}

/* ---- listening ---------------------------------------------------------------------------- */

static int tc_resolve_now(uv_loop_t *loop, const tc_addr *a, struct sockaddr_storage *ss) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  uv_getaddrinfo_t req;
  int rc = uv_getaddrinfo(loop, &req, NULL, a->host, a->port, &hints); /* synchronous */
  if (rc) return rc;
  if (req.addrinfo == NULL) return UV_EAI_NONAME;
  memcpy(ss, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  return 0;
}

static int tc_set_url(bx_listener *l, uv_tcp_t *h) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int rc = uv_tcp_getsockname(h, (struct sockaddr *)&ss, &len);
  if (rc) return rc;
  char addr[80], url[96];
  tc_format((struct sockaddr *)&ss, addr, sizeof addr);
  snprintf(url, sizeof url, "tcp://%s", addr);
  return bx__listener_set_url(l, url);
}

/* Binds addr, or takes over an inherited listening socket (socket activation). */
static int tc_bind_or_adopt(uv_loop_t *loop, const char *addr, int fd, uv_tcp_t *h) {
  uv_tcp_init(loop, h);
  if (fd > 0) return uv_tcp_open(h, fd);
  tc_addr a;
  struct sockaddr_storage ss;
  int rc = tc_parse(addr, &a);
  if (rc) return rc;
  if (tc_numeric(&a, &ss) != 0 && (rc = tc_resolve_now(loop, &a, &ss)) != 0) return rc;
  return uv_tcp_bind(h, (struct sockaddr *)&ss, 0);
}

static int tc_listen(bx_listener *l, const char *addr, const bx_listen_opts *opts) {
  bx__st_listener *sl = bx__listener_priv(l);
  if (opts == NULL || opts->inherited_fd == 0) {
    tc_addr a;
    int rc = tc_parse(addr, &a);
    if (rc) return rc;
  }
  bx__st_handle *h = bx__calloc(1, sizeof *h);
  if (h == NULL) return BX_ENOMEM;
  int rc = tc_bind_or_adopt(bx_ctx_loop(l->ctx), addr, opts ? opts->inherited_fd : 0, &h->tcp);
  if (rc) {
    bx__st_discard(h);
    return rc;
  }
  sl->h = h;
  sl->init_conn = tc_init_conn;
  sl->fill_peer = tc_fill_peer;
  rc = bx__st_listen(l);
  if (rc) return rc;
  rc = tc_set_url(l, &h->tcp);
  if (rc) { /* listening, but nameless: undo */
    bx__st_discard(sl->h);
    sl->h = NULL;
  }
  return rc;
}

/* ---- dialling ----------------------------------------------------------------------------- */

static void tc_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  bx__link *k = req->data;
  bx__st_conn *s = bx__link_priv(k);
  bx__conn *c = s->peer;
  s->resolving = false;
  if (s->closing) {
    uv_freeaddrinfo(res);
    bx__st_check_closed(k);
    return;
  }
  if (status == 0 && res == NULL) status = UV_EAI_NONAME;
  if (status == 0) status = uv_tcp_connect(&s->connect, &s->h.tcp, res->ai_addr, bx__st_connect_cb);
  uv_freeaddrinfo(res);
  if (status) bx__conn_connected(c, status);
}

static int tc_dial(bx__conn *c, const char *addr) {
  bx__st_conn *s = bx__st_dial(c, tc_init_conn, tc_fill_peer);
  if (s == NULL) return BX_ENOMEM;
  uv_loop_t *loop = bx_ctx_loop(bx__conn_ctx(c));
  tc_addr a;
  struct sockaddr_storage ss;
  int rc = tc_parse(addr, &a);
  if (rc) return rc;
  if (tc_numeric(&a, &ss) == 0)
    return uv_tcp_connect(&s->connect, &s->h.tcp, (struct sockaddr *)&ss, bx__st_connect_cb);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  s->gai.data = bx__conn_link(c);
  rc = uv_getaddrinfo(loop, &s->gai, tc_resolved_cb, a.host, a.port, &hints);
  if (rc == 0) s->resolving = true;
  return rc;
}

const bx__tran bx__tcp_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "tcp",
    .framer = &bx__framer_prefix,
    .listener_size = sizeof(bx__st_listener),
    .link_size = sizeof(bx__st_conn),
    .check = tc_check,
    .flags = BX__TRAN_ADOPTS_FD,
    .listen = tc_listen,
    .listen_close = bx__st_listen_close,
    .dial = tc_dial,
    .write = bx__st_write,
    .read_pause = bx__st_read_pause,
    .link_close = bx__st_close,
};
