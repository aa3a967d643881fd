/* msgbox connections: the public API, events, gets and replies, and what a frame means.
 *
 * Design notes
 * - Exactly once, by construction: a conn ends in one place (bx__mb_end), guarded by its
 *   state; a get leaves its conn's list in one place (mb_get_take) before its one event is
 *   raised, whether the reply came, its deadline fired or the conn ended.
 * - `now`: an event raised from a loop callback is delivered at once (the messages of one read
 *   all arrive in that pass); one raised inside a bx_mb_* call is deferred through the run
 *   queue, holding a reference. The deferred records live in the conn (one start event, one
 *   end event) or are the get itself, so raising an outcome allocates nothing.
 * - Reply ids are per conn, 1..65535, skipping 0 and ids still pending, so they never wrap to 0
 *   and never name two gets at once.
 * - A reply handle holds a reference to its conn; the conn's memory outlives the context when a
 *   handle does, and an ended conn never touches its context again.
 * - The per-message allocations (a get, a reply handle) keep one spare each in their conn, so a
 *   request/reply stream allocates nothing after its first round trip.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_internal.h"

#define MB_OF(ptr, type, field) ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

struct bx_mb_reply {
  bx__mb_conn *conn; /* referenced */
  uint16_t id;
};

static void mb_on_ctx_close(bx__tracked *t);

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void mb_resolve_opts(bx_mb_opts *o, const bx_mb_opts *in) {
  if (in)
    *o = *in;
  else
    bx_mb_opts_init(o);
  if (o->max_message == 0) o->max_message = BX_MB_DEFAULT_MAX_MESSAGE;
  if (o->max_message > UINT32_MAX) o->max_message = UINT32_MAX; /* the header's field */
  if (o->max_queued == 0) o->max_queued = BX_MB_DEFAULT_MAX_QUEUED;
  if (o->heartbeat_ms && o->heartbeat_timeout_ms == 0)
    o->heartbeat_timeout_ms = 3 * o->heartbeat_ms;
}

void bx_mb_opts_init(bx_mb_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->max_message = BX_MB_DEFAULT_MAX_MESSAGE;
  opts->max_queued = BX_MB_DEFAULT_MAX_QUEUED;
}

bx__mb_conn *bx__mb_conn_new(bx_ctx *ctx, bx_mb_protocol proto, const bx_mb_opts *opts, bx_mb_cb cb,
                             void *context) {
  bx__mb_conn *c = bx__zalloc(sizeof *c);
  if (c == NULL) return NULL;
  c->ctx = ctx;
  c->refs = 1; /* alive */
  c->state = MB_CONNECTING;
  c->proto = proto;
  c->cb = cb;
  c->context = context;
  mb_resolve_opts(&c->opts, opts);
  c->next_id = 1;
  bx__tlink_init(&c->gets);
  bx__tlink_init(&c->sendq);
  c->fd = -1;
  c->h.handle.data = c;
  c->tracked.on_close = mb_on_ctx_close;
  bx__track(ctx, &c->tracked);
  return c;
}

void bx__mb_ref(bx__mb_conn *c) {
  c->refs++;
}

void bx__mb_unref(bx__mb_conn *c) {
  if (--c->refs > 0) return;
  if (c->context_free) c->context_free(c->context);
  if (c->parent) bx__mb_unref(c->parent);
  if (c->remotes) bx__map_free(c->remotes);
  free(c->spare_get);
  free(c->spare_reply);
  free(c->in);
  free(c->dgram);
  free(c->url);
  free(c->unix_path);
  free(c);
}

/* Drops the alive reference once c has ended, its handle has closed and no lookup runs. */
static void mb_settle(bx__mb_conn *c) {
  if (c->state != MB_ENDED || c->handle_inited || c->resolving || c->tracked.next == NULL) return;
  bx__untrack(c->ctx, &c->tracked);
  bx__mb_unref(c);
}

void bx__mb_handle_closed(bx__mb_conn *c) {
  c->handle_inited = false;
  mb_settle(c);
}

void bx__mb_resolved(bx__mb_conn *c) {
  c->resolving = false;
  mb_settle(c);
}

static void mb_close_handle(bx__mb_conn *c, bool orderly) {
  if (c->proto == BX_MB_UDP)
    bx__mb_udp_close(c, orderly);
  else
    bx__mb_stream_close(c, orderly);
  if (c->resolving) uv_cancel((uv_req_t *)&c->gai);
}

/* Closing the context: everything open ends (BX_ECLOSING); what is already ending stops
 * waiting for an orderly shutdown. */
static void mb_on_ctx_close(bx__tracked *t) {
  bx__mb_conn *c = MB_OF(t, bx__mb_conn, tracked);
  bx__mb_ref(c);
  if (c->state != MB_ENDED)
    bx__mb_end(c, c->listener ? BX_MB_LISTENING_ENDED : BX_MB_CONNECTION_CLOSED, BX_ECLOSING, NULL,
               false);
  else
    mb_close_handle(c, false);
  bx__mb_unref(c);
}

/* ---- events --------------------------------------------------------------------------------- */

static void mb_deliver(bx__mb_conn *c, bx_mb_event *ev) {
  ev->conn = c;
  ev->context = c->context;
  bx__mb_ref(c);
  c->cb(ev);
  bx__mb_unref(c);
}

static void mb_later_task(void *a, void *b) {
  bx__mb_conn *c = a;
  bx__mb_later *l = b;
  bx_mb_event ev = {.type = l->type, .status = l->status, .op = l->op};
  mb_deliver(c, &ev);
  bx__mb_unref(c);
}

static bool mb_is_last(bx_mb_event_type type) {
  return type == BX_MB_CONNECTION_SETUP_ERROR || type == BX_MB_LISTENING_ERROR ||
         type == BX_MB_LISTENING_ENDED || type == BX_MB_CONNECTION_CLOSED ||
         type == BX_MB_CONNECTION_LOST;
}

void bx__mb_raise(bx__mb_conn *c, bx_mb_event_type type, int status, const char *op, bool now) {
  bx__mb_later *l = mb_is_last(type) ? &c->end_later : &c->setup_later;
  *l = (bx__mb_later){type, status, op};
  if (!now) {
    bx__mb_ref(c);
    if (bx__defer(c->ctx, mb_later_task, c, l) == 0) return;
    bx__mb_unref(c);
    bx__mb_log(c, BX_LOG_ERROR, "run queue full: %s delivered at once", bx_mb_event_name(type));
  }
  bx_mb_event ev = {.type = type, .status = status, .op = op};
  mb_deliver(c, &ev);
}

/* ---- gets ----------------------------------------------------------------------------------- */

static bx__mb_get *mb_get_find(bx__mb_conn *c, unsigned id) {
  for (bx__tlink *n = c->gets.next; n != &c->gets; n = n->next) {
    bx__mb_get *g = MB_OF(n, bx__mb_get, node);
    if (g->id == id) return g;
  }
  return NULL;
}

/* A get's memory: the conn's spare, or a new one (zeroed either way). */
static bx__mb_get *mb_get_alloc(bx__mb_conn *c) {
  bx__mb_get *g = c->spare_get;
  if (g == NULL) return bx__zalloc(sizeof *g);
  c->spare_get = NULL;
  memset(g, 0, sizeof *g);
  return g;
}

/* Gives a get's memory back: kept as c's spare when it has none. c must be alive. */
static void mb_get_free(bx__mb_conn *c, bx__mb_get *g) {
  if (c->spare_get == NULL)
    c->spare_get = g;
  else
    free(g);
}

/* The one place a get stops pending. */
static void mb_get_take(bx__mb_get *g) {
  bx__tlink_remove(&g->node);
  bx__deadline_stop(g->conn->ctx, &g->deadline);
}

static void mb_get_missing(bx__mb_get *g) {
  bx_mb_event ev = {
      .type = BX_MB_REPLY_MISSING, .reply_context = g->reply_context, .status = g->status};
  bx__mb_conn *c = g->conn;
  mb_deliver(c, &ev);
  mb_get_free(c, g);
  bx__mb_unref(c);
}

static void mb_get_task(void *a, void *b) {
  (void)b;
  mb_get_missing(a);
}

static void mb_get_end(bx__mb_get *g, int status, bool now) {
  mb_get_take(g);
  g->status = status;
  if (!now && bx__defer(g->conn->ctx, mb_get_task, g, NULL) == 0) return;
  mb_get_missing(g);
}

static void mb_get_expired(bx__deadline *d) {
  bx__mb_get *g = MB_OF(d, bx__mb_get, deadline);
  mb_get_end(g, BX_ETIMEDOUT, true);
}

void bx__mb_fail_gets(bx__mb_conn *c, int status, bool now) {
  bx__mb_ref(c);
  while (bx__tlink_listed(&c->gets))
    mb_get_end(MB_OF(c->gets.next, bx__mb_get, node), status, now);
  bx__mb_unref(c);
}

static int mb_next_id(bx__mb_conn *c, uint16_t *out) {
  for (unsigned tries = 0; tries < 65535; tries++) {
    uint16_t id = c->next_id;
    c->next_id = id == 65535 ? 1 : (uint16_t)(id + 1); /* never 0: 0 means "no reply" */
    if (mb_get_find(c, id) == NULL) {
      *out = id;
      return 0;
    }
  }
  return BX_EQUEUEFULL;
}

/* ---- heartbeats ----------------------------------------------------------------------------- */

static void mb_hb_send(bx__deadline *d) {
  bx__mb_conn *c = MB_OF(d, bx__mb_conn, hb_send);
  int rc = c->proto == BX_MB_UDP ? bx__mb_udp_send(c, MB_HEARTBEAT, 0, NULL, 0)
                                 : bx__mb_stream_send(c, MB_HEARTBEAT, 0, NULL, 0);
  if (rc && rc != BX_EQUEUEFULL) bx__mb_log(c, BX_LOG_DEBUG, "heartbeat: %s", bx_strerror(rc));
  bx__deadline_start(c->ctx, d, c->opts.heartbeat_ms, mb_hb_send);
}

static void mb_hb_silent(bx__deadline *d) {
  bx__mb_conn *c = MB_OF(d, bx__mb_conn, hb_recv);
  bx__mb_log(c, BX_LOG_WARN, "lost: nothing heard for %u ms",
             (unsigned)c->opts.heartbeat_timeout_ms);
  bx__mb_end(c, BX_MB_CONNECTION_LOST, BX_ETIMEDOUT, NULL, true);
}

static void mb_hb_heard(bx__mb_conn *c) {
  if (c->opts.heartbeat_ms == 0) return;
  bx__deadline_start(c->ctx, &c->hb_recv, c->opts.heartbeat_timeout_ms, mb_hb_silent);
}

/* ---- opening and ending --------------------------------------------------------------------- */

void bx__mb_opened(bx__mb_conn *c, bool now) {
  c->state = MB_OPEN;
  c->announced = true;
  bx_mb_event_type type = c->listener ? BX_MB_LISTENING
                          : c->parent ? BX_MB_CONNECTION_READY
                                      : BX_MB_CONNECTION_SETUP;
  if (!c->listener && c->opts.heartbeat_ms) {
    bx__deadline_start(c->ctx, &c->hb_send, c->opts.heartbeat_ms, mb_hb_send);
    mb_hb_heard(c);
  }
  bx__mb_raise(c, type, 0, NULL, now);
}

/* A UDP listener's remotes share its socket: they end before it. */
static void mb_end_remotes(bx__mb_conn *l, int status, bool now) {
  size_t pos = 0;
  const char *key;
  void *value;
  while (l->remotes && (pos = 0, bx__map_next(l->remotes, &pos, &key, &value)))
    bx__mb_end(value, BX_MB_CONNECTION_CLOSED, status, NULL, now);
}

static bx_mb_event_type mb_last_type(const bx__mb_conn *c, bx_mb_event_type type) {
  if (c->announced) return type;
  return c->listener ? BX_MB_LISTENING_ERROR : BX_MB_CONNECTION_SETUP_ERROR;
}

void bx__mb_end(bx__mb_conn *c, bx_mb_event_type type, int status, const char *op, bool now) {
  if (c->state == MB_ENDED) return;
  bx__mb_ref(c);
  type = mb_last_type(c, type);
  c->state = MB_ENDED;
  bx__deadline_stop(c->ctx, &c->hb_send);
  bx__deadline_stop(c->ctx, &c->hb_recv);
  bool by_remote = type == BX_MB_CONNECTION_LOST || (type == BX_MB_CONNECTION_CLOSED && !status);
  bx__mb_fail_gets(c, by_remote ? BX_ECONNLOST : status, now);
  if (c->listener) mb_end_remotes(c, status, now);
  bx__mb_raise(c, type, status, op, now);
  mb_close_handle(c, type == BX_MB_CONNECTION_CLOSED && status != 0);
  if (c->parent && c->proto == BX_MB_UDP && c->parent->last_remote == c)
    c->parent->last_remote = NULL;
  if (c->parent && c->proto == BX_MB_UDP && bx__map_del(c->parent->remotes, c->remote))
    bx__mb_unref(c); /* the listener's table's reference */
  mb_settle(c);
  bx__mb_unref(c);
}

/* ---- frames --------------------------------------------------------------------------------- */

static uint32_t mb_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void bx__mb_put_header(char *p, unsigned type, unsigned id, uint32_t len) {
  unsigned char *u = (unsigned char *)p;
  u[0] = (unsigned char)(type >> 8);
  u[1] = (unsigned char)type;
  u[2] = (unsigned char)(id >> 8);
  u[3] = (unsigned char)id;
  u[4] = (unsigned char)(len >> 24);
  u[5] = (unsigned char)(len >> 16);
  u[6] = (unsigned char)(len >> 8);
  u[7] = (unsigned char)len;
}

int bx__mb_header(const bx__mb_conn *c, const char *p, unsigned *type, unsigned *id,
                  uint32_t *len) {
  const unsigned char *u = (const unsigned char *)p;
  *type = (unsigned)u[0] << 8 | u[1];
  *id = (unsigned)u[2] << 8 | u[3];
  *len = mb_be32(u + 4);
  if (*type > MB_CLOSE) return BX_EBADMSG;
  if (*len > c->opts.max_message) return BX_EMSGSIZE;
  return 0;
}

static void mb_request_in(bx__mb_conn *c, unsigned id, const char *data, size_t len) {
  if (id == 0) {
    bx__mb_log(c, BX_LOG_WARN, "request without a reply id dropped");
    return;
  }
  bx_mb_reply *r = c->spare_reply ? c->spare_reply : malloc(sizeof *r);
  c->spare_reply = NULL;
  if (r == NULL) {
    bx__mb_log(c, BX_LOG_ERROR, "out of memory: request dropped");
    return;
  }
  bx__mb_ref(c);
  r->conn = c;
  r->id = (uint16_t)id;
  bx_mb_event ev = {.type = BX_MB_REQUEST, .data = data, .len = len, .reply = r};
  mb_deliver(c, &ev);
}

static void mb_reply_in(bx__mb_conn *c, unsigned id, const char *data, size_t len) {
  bx__mb_get *g = id ? mb_get_find(c, id) : NULL;
  if (g == NULL) { /* late (its get timed out) or never asked for */
    bx__mb_log(c, BX_LOG_DEBUG, "reply to no pending get (id %u) dropped", id);
    return;
  }
  mb_get_take(g);
  bx_mb_event ev = {
      .type = BX_MB_REPLY, .reply_context = g->reply_context, .data = data, .len = len};
  mb_get_free(c, g); /* the callback's next get takes it */
  mb_deliver(c, &ev);
  bx__mb_unref(c); /* the get's */
}

bool bx__mb_frame(bx__mb_conn *c, unsigned type, unsigned id, const char *data, size_t len) {
  if (c->state != MB_OPEN) return false;
  mb_hb_heard(c);
  bx_mb_event ev = {.type = BX_MB_MESSAGE, .data = data, .len = len};
  switch (type) {
  case MB_ONE_WAY:
    mb_deliver(c, &ev);
    break;
  case MB_REQUEST:
    mb_request_in(c, id, data, len);
    break;
  case MB_REPLY:
    mb_reply_in(c, id, data, len);
    break;
  case MB_CLOSE:
    bx__mb_end(c, BX_MB_CONNECTION_CLOSED, 0, NULL, true);
    break;
  default: /* heartbeat: being heard was its point */
    break;
  }
  return c->state == MB_OPEN;
}

/* ---- addresses ------------------------------------------------------------------------------ */

static bool mb_port(const char *s, bool listening) {
  size_t n = strlen(s);
  if (n == 0 || n > 5 || strspn(s, "0123456789") != n) return false;
  long v = strtol(s, NULL, 10);
  return v <= 65535 && (v > 0 || listening);
}

static int mb_parse_host(const char *addr, bool listening, bx__mb_addr *out) {
  int rc = bx__addr_split(addr, out->host, sizeof out->host, out->port, sizeof out->port);
  if (rc) return rc;
  if (strcmp(out->host, "*") == 0) {
    if (!listening) return BX_EINVAL;
    strcpy(out->host, "0.0.0.0");
  }
  return mb_port(out->port, listening) ? 0 : BX_EINVAL;
}

int bx__mb_parse(const char *url, bool listening, bx__mb_addr *out) {
  memset(out, 0, sizeof *out);
  if (strncmp(url, "unix://", 7) == 0) {
    out->proto = BX_MB_UNIX;
    out->path = url + 7;
    size_t n = strlen(out->path);
    return n > 1 && n < 100 && out->path[0] == '/' ? 0 : BX_EINVAL;
  }
  if (strncmp(url, "tcp://", 6) == 0)
    out->proto = BX_MB_TCP;
  else if (strncmp(url, "udp://", 6) == 0)
    out->proto = BX_MB_UDP;
  else
    return BX_EINVAL;
  return mb_parse_host(url + 6, listening, out);
}

int bx__mb_numeric(const bx__mb_addr *a, struct sockaddr_storage *ss) {
  int port = atoi(a->port);
  memset(ss, 0, sizeof *ss);
  if (uv_ip4_addr(a->host, port, (struct sockaddr_in *)ss) == 0) return 0;
  return uv_ip6_addr(a->host, port, (struct sockaddr_in6 *)ss);
}

int bx__mb_resolve_now(bx__mb_conn *c, const bx__mb_addr *a, int socktype,
                       struct sockaddr_storage *ss) {
  if (bx__mb_numeric(a, ss) == 0) return 0;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype};
  uv_getaddrinfo_t req;
  int rc = uv_getaddrinfo(bx_ctx_loop(c->ctx), &req, NULL, a->host, a->port, &hints);
  if (rc) return rc;
  if (req.addrinfo == NULL) return UV_EAI_NONAME;
  memcpy(ss, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  return 0;
}

int bx__mb_resolve(bx__mb_conn *c, const bx__mb_addr *a, int socktype, uv_getaddrinfo_cb cb) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype};
  c->gai.data = c;
  int rc = uv_getaddrinfo(bx_ctx_loop(c->ctx), &c->gai, cb, a->host, a->port, &hints);
  if (rc == 0) c->resolving = true;
  return rc;
}

void bx__mb_format(const struct sockaddr *sa, char *buf, size_t len) {
  char ip[64] = "?";
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    uv_ip6_name(s6, ip, sizeof ip);
    snprintf(buf, len, "[%s]:%d", ip, ntohs(s6->sin6_port));
    return;
  }
  const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
  uv_ip4_name(s4, ip, sizeof ip);
  snprintf(buf, len, "%s:%d", ip, ntohs(s4->sin_port));
}

int bx__mb_set_url(bx__mb_conn *c, const char *scheme, const struct sockaddr *sa) {
  char addr[80], url[96];
  bx__mb_format(sa, addr, sizeof addr);
  snprintf(url, sizeof url, "%s://%s", scheme, addr);
  char *copy = bx__strdup(url);
  if (copy == NULL) return BX_ENOMEM;
  free(c->url);
  c->url = copy;
  return 0;
}

void bx__mb_log(bx__mb_conn *c, int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  bx_log(c->ctx, level, "msgbox %s%s%s: %s", bx_mb_url(c), c->remote[0] ? " " : "", c->remote,
         line);
}

/* ---- the public API ------------------------------------------------------------------------- */

static int mb_open(bx_ctx *ctx, const char *url, const bx_mb_opts *opts, bx_mb_cb cb, void *context,
                   bool listening, bx_mb_conn **out) {
  if (out) *out = NULL;
  if (ctx == NULL || url == NULL || cb == NULL || out == NULL) return BX_EINVAL;
  if (bx_ctx_is_closing(ctx)) return BX_ECLOSING;
  bx__mb_addr a;
  if (bx__mb_parse(url, listening, &a)) return BX_EINVAL;
  bx__st_ignore_sigpipe();
  bx__mb_conn *c = bx__mb_conn_new(ctx, a.proto, opts, cb, context);
  if (c == NULL) return BX_ENOMEM;
  c->listener = listening;
  c->url = bx__strdup(url);
  if (listening && a.proto == BX_MB_UDP) c->remotes = bx__map_new_borrowing();
  if (c->url == NULL || (listening && a.proto == BX_MB_UDP && c->remotes == NULL)) {
    bx__untrack(ctx, &c->tracked);
    bx__mb_unref(c);
    return BX_ENOMEM;
  }
  if (a.proto == BX_MB_UDP)
    listening ? bx__mb_udp_listen(c, &a) : bx__mb_udp_connect(c, &a);
  else
    listening ? bx__mb_stream_listen(c, &a) : bx__mb_stream_connect(c, &a);
  *out = c;
  return 0;
}

int bx_mb_listen(bx_ctx *ctx, const char *url, const bx_mb_opts *opts, bx_mb_cb cb, void *context,
                 bx_mb_conn **out) {
  return mb_open(ctx, url, opts, cb, context, true, out);
}

int bx_mb_connect(bx_ctx *ctx, const char *url, const bx_mb_opts *opts, bx_mb_cb cb, void *context,
                  bx_mb_conn **out) {
  return mb_open(ctx, url, opts, cb, context, false, out);
}

static int mb_send(bx__mb_conn *c, unsigned type, unsigned id, const void *data, size_t len) {
  if (c == NULL || (data == NULL && len > 0)) return BX_EINVAL;
  if (c->listener || c->state != MB_OPEN) return BX_ECLOSED;
  if (len > c->opts.max_message) return BX_EMSGSIZE;
  int rc = c->proto == BX_MB_UDP ? bx__mb_udp_send(c, type, id, data, len)
                                 : bx__mb_stream_send(c, type, id, data, len);
  if (rc == BX_EQUEUEFULL) c->want_drain = true;
  return rc;
}

/* ---- for the boxes-over-msgbox transport ---------------------------------------------------- */

void bx__mb_set_drained(bx__mb_conn *c, void (*drained)(bx__mb_conn *c)) {
  c->drained = drained;
}

void bx__mb_check_drained(bx__mb_conn *c) {
  if (!c->want_drain || c->state != MB_OPEN || c->queued > c->opts.max_queued / 2) return;
  c->want_drain = false;
  if (c->drained) c->drained(c);
}

int bx__mb_listen_status(const bx__mb_conn *l) {
  return l->state == MB_ENDED ? l->end_later.status : 0;
}

int bx__mb_fileno(const bx__mb_conn *c, uv_os_fd_t *fd) {
  if (c->proto == BX_MB_UDP || !c->handle_inited) return BX_EINVAL;
  return uv_fileno(&c->h.handle, fd);
}

int bx_mb_send(bx_mb_conn *conn, const void *data, size_t len) {
  return mb_send(conn, MB_ONE_WAY, 0, data, len);
}

int bx_mb_get(bx_mb_conn *c, const void *data, size_t len, uint32_t timeout_ms,
              void *reply_context) {
  if (c == NULL) return BX_EINVAL;
  if (c->listener || c->state != MB_OPEN) return BX_ECLOSED;
  uint16_t id;
  int rc = mb_next_id(c, &id);
  if (rc) return rc;
  bx__mb_get *g = mb_get_alloc(c);
  if (g == NULL) return BX_ENOMEM;
  rc = bx__deadline_start(c->ctx, &g->deadline,
                          timeout_ms ? timeout_ms : BX_MB_DEFAULT_GET_TIMEOUT_MS, mb_get_expired);
  if (rc == 0) rc = mb_send(c, MB_REQUEST, id, data, len);
  if (rc) {
    bx__deadline_stop(c->ctx, &g->deadline);
    mb_get_free(c, g);
    return rc;
  }
  g->conn = c;
  g->id = id;
  g->reply_context = reply_context;
  bx__mb_ref(c);
  bx__tlink_append(&c->gets, &g->node);
  return 0;
}

int bx_mb_reply_send(bx_mb_reply *r, const void *data, size_t len) {
  if (r == NULL) return BX_EINVAL;
  bx__mb_conn *c = r->conn;
  int rc = c->state == MB_OPEN ? mb_send(c, MB_REPLY, r->id, data, len) : BX_ECLOSED;
  bx_mb_reply_release(r);
  return rc;
}

void bx_mb_reply_release(bx_mb_reply *r) {
  if (r == NULL) return;
  bx__mb_conn *c = r->conn;
  if (c->spare_reply == NULL) /* kept for the next request (freed with c) */
    c->spare_reply = r;
  else
    free(r);
  bx__mb_unref(c);
}

bx_mb_conn *bx_mb_reply_conn(const bx_mb_reply *r) {
  return r->conn;
}

int bx_mb_disconnect(bx_mb_conn *c) {
  if (c == NULL || c->listener) return BX_EINVAL;
  if (c->state == MB_ENDED) return BX_ECLOSED;
  bx__mb_end(c, BX_MB_CONNECTION_CLOSED, BX_ECANCELED, NULL, false);
  return 0;
}

int bx_mb_unlisten(bx_mb_conn *l) {
  if (l == NULL || !l->listener) return BX_EINVAL;
  if (l->state == MB_ENDED) return BX_ECLOSED;
  bx__mb_end(l, BX_MB_LISTENING_ENDED, BX_ECANCELED, NULL, false);
  return 0;
}

void bx_mb_set_context(bx_mb_conn *c, void *context, void (*context_free)(void *)) {
  if (c->context_free && c->context != context) c->context_free(c->context);
  c->context = context;
  c->context_free = context_free;
}

void *bx_mb_context(const bx_mb_conn *c) {
  return c->context;
}
bx_mb_protocol bx_mb_protocol_of(const bx_mb_conn *c) {
  return c->proto;
}
bool bx_mb_is_listener(const bx_mb_conn *c) {
  return c->listener;
}
const char *bx_mb_url(const bx_mb_conn *c) {
  if (c->url) return c->url;
  return c->parent && c->parent->url ? c->parent->url : "";
}
const char *bx_mb_remote(const bx_mb_conn *c) {
  return c->remote;
}
bx_mb_conn *bx_mb_listener_of(const bx_mb_conn *c) {
  return c->parent;
}
size_t bx_mb_queued(const bx_mb_conn *c) {
  return c->queued;
}

const char *bx_mb_event_name(bx_mb_event_type type) {
  static const char *const names[] = {"?",
                                      "connection_setup",
                                      "connection_setup_error",
                                      "listening",
                                      "listening_error",
                                      "listening_ended",
                                      "connection_ready",
                                      "connection_closed",
                                      "connection_lost",
                                      "message",
                                      "request",
                                      "reply",
                                      "reply_missing"};
  return type >= 1 && type <= BX_MB_REPLY_MISSING ? names[type] : "?";
}
