/* A NATS client connection on the context's loop: seed list and discovered servers, CONNECT,
 * keepalive, subscriptions, publishing, reconnection with backoff.
 *
 * Design notes
 * - One socket attempt is one bxn_sock, allocated per attempt and freed once its handle has
 *   closed and its name lookup has returned, so an abandoned attempt's late callbacks only find
 *   a socket marked dead. The write buffer in flight lives in the socket for the same reason.
 * - States: idle (waiting to retry), connecting (lookup, TCP connect, waiting for INFO),
 *   handshake (CONNECT, SUBs and a PING sent: the PONG says the server took them all),
 *   connected. A handshake that does not finish in 5 s counts as a failed attempt.
 * - Servers: the seeds, then every connect_urls entry INFO announces (at most 64). A lost
 *   connection tries the next server at once; when every server failed in turn (a round), the
 *   owner hears BXN_EV_ROUND_FAILED and the next round waits, doubling from reconnect_min_ms
 *   up to reconnect_max_ms.
 * - Output: publishing appends to `out`; a flush task on the context's run queue (drained in
 *   the same loop iteration) writes it when no write is in flight (a nonblocking try first), so
 *   the messages published during one round of callbacks leave in one write; otherwise it waits
 *   for the write in flight. Above max_out bytes publishing is refused (BX_EQUEUEFULL) and the
 * owner hears BXN_EV_DRAINED once the buffer is back under half of it.
 * - Input: read into `in`, cut with bxn_parse (control lines up to 64 KiB, payloads up to the
 *   server's max_payload); a protocol error drops the connection with a logged reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_internal.h"

#define CL_MAX_SERVERS 64
#define CL_MAX_LINE (64u * 1024u)
#define CL_DEFAULT_PAYLOAD (1024u * 1024u)
#define CL_HANDSHAKE_MS 5000u
#define CL_READ_CHUNK (64u * 1024u)

enum { CL_IDLE, CL_CONNECTING, CL_HANDSHAKE, CL_CONNECTED, CL_CLOSING };

typedef struct cl_sub {
  uint64_t sid;
  char *subject;
  char *queue; /* or NULL */
} cl_sub;

typedef struct bxn_sock {
  uv_tcp_t tcp;
  uv_getaddrinfo_t gai;
  uv_connect_t conn;
  uv_write_t wreq;
  bxn_client *c;
  bx_buf wr; /* the bytes of the write in flight */
  bool resolving;
  bool tcp_open; /* tcp initialised and not yet closed */
  bool writing;
  bool dead; /* abandoned: callbacks do nothing but finish freeing */
} bxn_sock;

struct bxn_client {
  bx_ctx *ctx;
  uv_loop_t *loop;
  bxn_handler h;
  char *user, *pass, *token, *name;
  uint64_t ping_ms, backoff_min, backoff_max;
  unsigned max_pings_out;
  size_t max_out;
  char *servers[CL_MAX_SERVERS];
  size_t nservers, cur, failed_in_round;
  uint64_t backoff;
  int state;
  bxn_sock *sock;
  size_t socks; /* sockets not yet freed */
  bx_buf in;
  size_t in_off;
  bx_buf out;
  bool out_full;     /* publishing was refused: tell the owner when it drains */
  bool flush_queued; /* a flush task is on the context's run queue */
  size_t max_payload;
  bool server_headers;
  cl_sub *subs;
  size_t nsubs, subs_cap;
  uint64_t next_sid;
  unsigned pings_out;
  uv_timer_t ping_timer, retry_timer, hs_timer;
  int timers_open;
  bool closing;
};

static void cl_connect_next(bxn_client *c);
static void cl_drop(bxn_client *c, int status, const char *why);

/* ---- small helpers ------------------------------------------------------------------------- */

void bxn_nuid(char buf[23]) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char r[22];
  if (uv_random(NULL, NULL, r, sizeof r, 0, NULL) != 0) {
    uint64_t x = uv_hrtime() ^ (uint64_t)(uintptr_t)buf;
    for (size_t i = 0; i < sizeof r; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      r[i] = (unsigned char)(x >> 56);
    }
  }
  for (size_t i = 0; i < sizeof r; i++)
    buf[i] = al[r[i] % 62];
  buf[22] = '\0';
}

static char *cl_dup(const char *s) {
  return s && *s ? bx__strdup(s) : NULL;
}

/* Adds "host:port" (an optional nats:// prefix dropped) unless known or the list is full. */
static int cl_add_server(bxn_client *c, const char *s, size_t n) {
  if (n >= 7 && strncmp(s, "nats://", 7) == 0) {
    s += 7;
    n -= 7;
  }
  while (n > 0 && s[n - 1] == '/')
    n--;
  if (n == 0 || n > 300) return BX_EINVAL;
  for (size_t i = 0; i < c->nservers; i++)
    if (strlen(c->servers[i]) == n && memcmp(c->servers[i], s, n) == 0) return 0;
  if (c->nservers == CL_MAX_SERVERS) return 0;
  char *copy = malloc(n + 1);
  if (copy == NULL) return BX_ENOMEM;
  memcpy(copy, s, n);
  copy[n] = '\0';
  char host[256], port[16];
  if (bx__addr_split(copy, host, sizeof host, port, sizeof port) != 0) {
    free(copy);
    return BX_EINVAL;
  }
  c->servers[c->nservers++] = copy;
  return 0;
}

size_t bxn_server_count(const bxn_client *c) {
  return c->nservers;
}
const char *bxn_current_server(const bxn_client *c) {
  return c->nservers ? c->servers[c->cur] : "";
}
bool bxn_connected(const bxn_client *c) {
  return c->state == CL_CONNECTED;
}
size_t bxn_max_payload(const bxn_client *c) {
  return c->max_payload;
}
size_t bxn_pending(const bxn_client *c) {
  return c->out.len + (c->sock ? c->sock->wr.len : 0);
}

static void cl_event(bxn_client *c, int ev, int status) {
  if (c->h.on_event && !c->closing) c->h.on_event(c->h.data, ev, status);
}

/* ---- sockets ------------------------------------------------------------------------------- */

static void cl_maybe_free(bxn_client *c);

static void cl_sock_free_if_done(bxn_sock *s) {
  if (!s->dead || s->resolving || s->tcp_open) return;
  bxn_client *c = s->c;
  bx_buf_free(&s->wr);
  free(s);
  c->socks--;
  cl_maybe_free(c);
}

static void cl_tcp_closed(uv_handle_t *h) {
  bxn_sock *s = h->data;
  s->tcp_open = false;
  cl_sock_free_if_done(s);
}

/* The current socket is abandoned: its handle closes, its lookup is cancelled. */
static void cl_abandon(bxn_client *c) {
  bxn_sock *s = c->sock;
  if (s == NULL) return;
  c->sock = NULL;
  s->dead = true;
  if (s->resolving) uv_cancel((uv_req_t *)&s->gai);
  if (s->tcp_open && !uv_is_closing((uv_handle_t *)&s->tcp))
    uv_close((uv_handle_t *)&s->tcp, cl_tcp_closed);
  cl_sock_free_if_done(s);
}

/* ---- output -------------------------------------------------------------------------------- */

static void cl_flush(bxn_client *c);

static void cl_write_cb(uv_write_t *req, int status) {
  bxn_sock *s = req->data;
  s->writing = false;
  s->wr.len = 0;
  if (s->dead) return;
  bxn_client *c = s->c;
  if (status < 0) {
    cl_drop(c, status, "write failed");
    return;
  }
  cl_flush(c);
}

static void cl_flush(bxn_client *c) {
  bxn_sock *s = c->sock;
  if (s == NULL || s->writing || !s->tcp_open || c->out.len == 0 || c->state == CL_IDLE ||
      c->state == CL_CLOSING)
    return;
  uv_buf_t b = uv_buf_init(c->out.base, (unsigned)c->out.len);
  int n = c->out.len <= INT32_MAX ? uv_try_write((uv_stream_t *)&s->tcp, &b, 1) : UV_EAGAIN;
  if (n < 0 && n != UV_EAGAIN) {
    cl_drop(c, n, "write failed");
    return;
  }
  size_t done = n > 0 ? (size_t)n : 0;
  if (done < c->out.len) {
    /* The rest goes out as one write request; `out` starts empty for what comes meanwhile. */
    bx_buf tmp = s->wr;
    s->wr = c->out;
    c->out = tmp;
    c->out.len = 0;
    if (done > 0) {
      memmove(s->wr.base, s->wr.base + done, s->wr.len - done);
      s->wr.len -= done;
    }
    b = uv_buf_init(s->wr.base, (unsigned)s->wr.len);
    s->wreq.data = s;
    int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, cl_write_cb);
    if (rc) {
      s->wr.len = 0;
      cl_drop(c, rc, "write failed");
      return;
    }
    s->writing = true;
  } else {
    c->out.len = 0;
  }
  if (c->out_full && bxn_pending(c) <= c->max_out / 2) {
    c->out_full = false;
    cl_event(c, BXN_EV_DRAINED, 0);
  }
}

static int cl_append(bxn_client *c, const char *p, size_t n) {
  return bx_buf_append(&c->out, p, n);
}

static int cl_appendf(bxn_client *c, const char *fmt, const char *a, const char *b, uint64_t x) {
  char line[1200];
  int n;
  if (b != NULL)
    n = snprintf(line, sizeof line, fmt, a, b, (unsigned long long)x);
  else
    n = snprintf(line, sizeof line, fmt, a, (unsigned long long)x);
  if (n < 0 || (size_t)n >= sizeof line) return BX_EINVAL;
  return cl_append(c, line, (size_t)n);
}

static int cl_send_sub(bxn_client *c, const cl_sub *s) {
  if (s->queue) return cl_appendf(c, "SUB %s %s %llu\r\n", s->subject, s->queue, s->sid);
  return cl_appendf(c, "SUB %s %llu\r\n", s->subject, NULL, s->sid);
}

/* ---- connection lifecycle ------------------------------------------------------------------ */

static void cl_retry_cb(uv_timer_t *t) {
  bxn_client *c = t->data;
  if (c->state == CL_IDLE) cl_connect_next(c);
}

/* Schedules the next attempt: the next server at once, or after a backoff once a round of
 * every server has failed. */
static void cl_schedule(bxn_client *c, int status) {
  c->state = CL_IDLE;
  uint64_t delay = 0;
  if (++c->failed_in_round >= c->nservers) {
    c->failed_in_round = 0;
    delay = c->backoff;
    c->backoff = c->backoff * 2 > c->backoff_max ? c->backoff_max : c->backoff * 2;
    cl_event(c, BXN_EV_ROUND_FAILED, status);
    if (c->closing) return;
  }
  c->cur = (c->cur + 1) % c->nservers;
  uv_timer_start(&c->retry_timer, cl_retry_cb, delay, 0);
}

/* The connection or the attempt is over: why is logged, the owner told, the next attempt
 * scheduled. */
static void cl_drop(bxn_client *c, int status, const char *why) {
  if (c->state == CL_IDLE || c->state == CL_CLOSING) return;
  bool was_connected = c->state == CL_CONNECTED;
  bx_log(c->ctx, was_connected ? BX_LOG_WARN : BX_LOG_INFO, "nats %s: %s: %s",
         bxn_current_server(c), why, bx_strerror(status));
  cl_abandon(c);
  uv_timer_stop(&c->ping_timer);
  uv_timer_stop(&c->hs_timer);
  c->in.len = 0;
  c->in_off = 0;
  c->out.len = 0;
  c->pings_out = 0;
  c->state = CL_IDLE;
  if (was_connected) {
    c->failed_in_round = 0;
    c->backoff = c->backoff_min;
    cl_event(c, BXN_EV_DISCONNECTED, status);
    if (c->closing) return;
  }
  cl_schedule(c, status);
}

static void cl_ping_cb(uv_timer_t *t) {
  bxn_client *c = t->data;
  if (c->state != CL_CONNECTED) return;
  if (c->pings_out >= c->max_pings_out) {
    cl_drop(c, BX_ETIMEDOUT, "no PONG to the keepalive PINGs");
    return;
  }
  c->pings_out++;
  if (cl_append(c, "PING\r\n", 6) == 0) cl_flush(c);
}

static void cl_hs_cb(uv_timer_t *t) {
  bxn_client *c = t->data;
  if (c->state == CL_CONNECTING || c->state == CL_HANDSHAKE)
    cl_drop(c, UV_ETIMEDOUT, "no answer to the handshake");
}

/* CONNECT with the options, then every subscription, then PING. */
static int cl_handshake(bxn_client *c) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL) return BX_ENOMEM;
  cJSON_AddBoolToObject(o, "verbose", false);
  cJSON_AddBoolToObject(o, "pedantic", false);
  cJSON_AddBoolToObject(o, "tls_required", false);
  cJSON_AddStringToObject(o, "lang", "c-bx");
  cJSON_AddStringToObject(o, "version", bx_version_string());
  cJSON_AddNumberToObject(o, "protocol", 1);
  cJSON_AddBoolToObject(o, "echo", true);
  cJSON_AddBoolToObject(o, "headers", true);
  cJSON_AddBoolToObject(o, "no_responders", true);
  if (c->name) cJSON_AddStringToObject(o, "name", c->name);
  if (c->token) cJSON_AddStringToObject(o, "auth_token", c->token);
  if (c->user) cJSON_AddStringToObject(o, "user", c->user);
  if (c->pass) cJSON_AddStringToObject(o, "pass", c->pass);
  char *json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (json == NULL) return BX_ENOMEM;
  int rc = cl_append(c, "CONNECT ", 8);
  if (rc == 0) rc = cl_append(c, json, strlen(json));
  cJSON_free(json);
  if (rc == 0) rc = cl_append(c, "\r\n", 2);
  for (size_t i = 0; rc == 0 && i < c->nsubs; i++)
    rc = cl_send_sub(c, &c->subs[i]);
  if (rc == 0) rc = cl_append(c, "PING\r\n", 6);
  return rc;
}

/* INFO: limits, header support, servers to add; the first one starts the handshake. */
static void cl_info(bxn_client *c, const char *json, size_t n) {
  cJSON *o = cJSON_ParseWithLength(json, n);
  if (o == NULL) {
    cl_drop(c, BX_EBADJSON, "an INFO that is not JSON");
    return;
  }
  const cJSON *mp = cJSON_GetObjectItemCaseSensitive(o, "max_payload");
  if (cJSON_IsNumber(mp) && mp->valuedouble >= 1024 && mp->valuedouble <= 64.0 * 1024 * 1024)
    c->max_payload = (size_t)mp->valuedouble;
  c->server_headers = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "headers"));
  const cJSON *urls = cJSON_GetObjectItemCaseSensitive(o, "connect_urls");
  const cJSON *u;
  cJSON_ArrayForEach(u, urls) {
    if (cJSON_IsString(u)) cl_add_server(c, u->valuestring, strlen(u->valuestring));
  }
  bool tls = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "tls_required"));
  cJSON_Delete(o);
  if (c->state != CL_CONNECTING) return;
  if (tls) {
    cl_drop(c, BX_ENOTSUP, "the server requires TLS, which this client does not speak yet");
    return;
  }
  if (cl_handshake(c) != 0) {
    cl_drop(c, BX_ENOMEM, "cannot write CONNECT");
    return;
  }
  c->state = CL_HANDSHAKE;
  cl_flush(c);
}

static void cl_pong(bxn_client *c) {
  c->pings_out = 0;
  if (c->state != CL_HANDSHAKE) return;
  c->state = CL_CONNECTED;
  c->failed_in_round = 0;
  c->backoff = c->backoff_min;
  uv_timer_stop(&c->hs_timer);
  uv_timer_start(&c->ping_timer, cl_ping_cb, c->ping_ms, c->ping_ms);
  bx_log(c->ctx, BX_LOG_INFO, "nats: connected to %s", bxn_current_server(c));
  cl_event(c, BXN_EV_CONNECTED, 0);
}

static void cl_err(bxn_client *c, const char *t, size_t n) {
  int len = n > 200 ? 200 : (int)n;
  bx_log(c->ctx, BX_LOG_WARN, "nats %s: server error: %.*s", bxn_current_server(c), len, t);
  char low[201];
  for (int i = 0; i < len; i++)
    low[i] = (char)((t[i] >= 'A' && t[i] <= 'Z') ? t[i] + 32 : t[i]);
  low[len] = '\0';
  bool auth = strstr(low, "authorization") != NULL || strstr(low, "authentication") != NULL;
  if (c->state != CL_CONNECTED) cl_drop(c, auth ? BX_EAUTH : BX_EREJECTED, "handshake refused");
}

/* Handles every complete operation in the input buffer. */
static void cl_process(bxn_client *c) {
  bxn_sock *s = c->sock;
  while (c->sock == s && s != NULL && c->in.len > c->in_off) {
    bxn_op op;
    size_t used;
    int r = bxn_parse(c->in.base + c->in_off, c->in.len - c->in_off, CL_MAX_LINE, c->max_payload,
                      &op, &used);
    if (r == BXN_NEED) break;
    if (r == BXN_BAD) {
      bx_log(c->ctx, BX_LOG_WARN, "nats %s: protocol error: %.*s", bxn_current_server(c),
             (int)op.text_len, op.text);
      cl_drop(c, BX_EBADMSG, "protocol error");
      return;
    }
    c->in_off += used;
    switch (op.kind) {
    case BXN_OP_MSG:
      if (c->state == CL_CONNECTED && c->h.on_msg) c->h.on_msg(c->h.data, &op);
      break;
    case BXN_OP_PING:
      if (cl_append(c, "PONG\r\n", 6) == 0) cl_flush(c);
      break;
    case BXN_OP_PONG:
      cl_pong(c);
      break;
    case BXN_OP_ERR:
      cl_err(c, op.text, op.text_len);
      break;
    case BXN_OP_INFO:
      cl_info(c, op.text, op.text_len);
      break;
    default:
      break;
    }
  }
  if (c->sock != s || s == NULL) return;
  size_t left = c->in.len - c->in_off;
  if (c->in_off > 0) {
    memmove(c->in.base, c->in.base + c->in_off, left);
    c->in.len = left;
    c->in_off = 0;
  }
  if (left == 0 && c->in.cap > 4 * CL_READ_CHUNK) bx_buf_free(&c->in);
}

static void cl_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  bxn_sock *s = h->data;
  bxn_client *c = s->c;
  if (c->in.cap - c->in.len < 4096 && bx_buf_reserve(&c->in, CL_READ_CHUNK) != 0) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(c->in.base + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void cl_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  bxn_sock *s = st->data;
  if (s->dead || nread == 0) return;
  bxn_client *c = s->c;
  if (nread < 0) {
    cl_drop(c, nread == UV_EOF ? BX_ECONNLOST : (int)nread, "connection closed");
    return;
  }
  c->in.len += (size_t)nread;
  cl_process(c);
}

static void cl_connect_cb(uv_connect_t *req, int status) {
  bxn_sock *s = req->data;
  if (s->dead) return;
  bxn_client *c = s->c;
  if (status == 0) status = uv_read_start((uv_stream_t *)&s->tcp, cl_alloc_cb, cl_read_cb);
  if (status) {
    cl_drop(c, status, "cannot connect");
    return;
  }
  uv_tcp_nodelay(&s->tcp, 1);
}

static void cl_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  bxn_sock *s = req->data;
  s->resolving = false;
  if (s->dead) {
    uv_freeaddrinfo(res);
    cl_sock_free_if_done(s);
    return;
  }
  bxn_client *c = s->c;
  if (status == 0 && res == NULL) status = UV_EAI_NONAME;
  if (status == 0) status = uv_tcp_init(c->loop, &s->tcp);
  if (status == 0) {
    s->tcp_open = true;
    s->tcp.data = s;
    s->conn.data = s;
    status = uv_tcp_connect(&s->conn, &s->tcp, res->ai_addr, cl_connect_cb);
  }
  uv_freeaddrinfo(res);
  if (status) cl_drop(c, status, "cannot connect");
}

static void cl_connect_next(bxn_client *c) {
  if (c->closing || c->state != CL_IDLE) return;
  bxn_sock *s = bx__zalloc(sizeof *s);
  const char *srv = c->servers[c->cur];
  char host[256], port[16];
  c->state = CL_CONNECTING;
  c->max_payload = CL_DEFAULT_PAYLOAD;
  if (s == NULL) {
    cl_drop(c, BX_ENOMEM, "cannot connect");
    return;
  }
  s->c = c;
  c->sock = s;
  c->socks++;
  uv_timer_start(&c->hs_timer, cl_hs_cb, CL_HANDSHAKE_MS, 0);
  if (bx__addr_split(srv, host, sizeof host, port, sizeof port) != 0) {
    cl_drop(c, BX_EINVAL, "bad server address");
    return;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  s->gai.data = s;
  s->resolving = true;
  int rc = uv_getaddrinfo(c->loop, &s->gai, cl_gai_cb, host, port, &hints);
  if (rc) {
    s->resolving = false;
    cl_drop(c, rc, "cannot resolve");
  }
}

/* ---- public -------------------------------------------------------------------------------- */

static void cl_free(bxn_client *c) {
  for (size_t i = 0; i < c->nservers; i++)
    free(c->servers[i]);
  for (size_t i = 0; i < c->nsubs; i++) {
    free(c->subs[i].subject);
    free(c->subs[i].queue);
  }
  free(c->subs);
  free(c->user);
  free(c->pass);
  free(c->token);
  free(c->name);
  bx_buf_free(&c->in);
  bx_buf_free(&c->out);
  free(c);
}

static void cl_closed_task(void *a, void *b) {
  (void)b;
  bxn_client *c = a;
  if (c->h.on_event) c->h.on_event(c->h.data, BXN_EV_CLOSED, 0);
  cl_free(c);
}

static void cl_maybe_free(bxn_client *c) {
  if (!c->closing || c->socks > 0 || c->timers_open > 0) return;
  if (bx__defer(c->ctx, cl_closed_task, c, NULL) != 0) cl_closed_task(c, NULL);
}

static void cl_timer_closed(uv_handle_t *h) {
  bxn_client *c = h->data;
  c->timers_open--;
  cl_maybe_free(c);
}

int bxn_client_new(bx_ctx *ctx, const bxn_opts *opts, const bxn_handler *h, bxn_client **out) {
  *out = NULL;
  if (opts == NULL || opts->servers == NULL || h == NULL) return BX_EINVAL;
  bxn_client *c = bx__zalloc(sizeof *c);
  if (c == NULL) return BX_ENOMEM;
  c->ctx = ctx;
  c->loop = bx_ctx_loop(ctx);
  c->h = *h;
  c->ping_ms = opts->ping_ms ? opts->ping_ms : 10000;
  c->max_pings_out = opts->max_pings_out ? opts->max_pings_out : 2;
  c->backoff_min = opts->reconnect_min_ms ? opts->reconnect_min_ms : 100;
  c->backoff_max = opts->reconnect_max_ms ? opts->reconnect_max_ms : 2000;
  c->backoff = c->backoff_min;
  c->max_out = opts->max_out ? opts->max_out : 64u * 1024u * 1024u;
  c->max_payload = CL_DEFAULT_PAYLOAD;
  c->next_sid = 1;
  c->user = cl_dup(opts->user);
  c->pass = cl_dup(opts->pass);
  c->token = cl_dup(opts->token);
  c->name = cl_dup(opts->name);
  int rc = 0;
  const char *p = opts->servers;
  while (rc == 0 && *p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    rc = cl_add_server(c, p, n);
    p += n + (e ? 1 : 0);
  }
  if (rc == 0 && c->nservers == 0) rc = BX_EINVAL;
  if (rc) {
    cl_free(c);
    return rc;
  }
  uv_timer_t *timers[] = {&c->ping_timer, &c->retry_timer, &c->hs_timer};
  for (size_t i = 0; i < 3; i++) {
    uv_timer_init(c->loop, timers[i]);
    timers[i]->data = c;
    c->timers_open++;
  }
  c->state = CL_IDLE;
  uv_timer_start(&c->retry_timer, cl_retry_cb, 0, 0); /* connect from the loop */
  *out = c;
  return 0;
}

void bxn_close(bxn_client *c) {
  if (c == NULL || c->closing) return;
  c->closing = true;
  c->state = CL_CLOSING;
  cl_abandon(c);
  uv_timer_t *timers[] = {&c->ping_timer, &c->retry_timer, &c->hs_timer};
  for (size_t i = 0; i < 3; i++)
    uv_close((uv_handle_t *)timers[i], cl_timer_closed);
}

/* The deferred flush of what was published meanwhile. The client outlives it: it is freed
 * only after its handles closed, by a task queued later than any flush (publishing stops when
 * closing starts). */
static void cl_flush_task(void *a, void *b) {
  (void)b;
  bxn_client *c = a;
  c->flush_queued = false;
  if (!c->closing) cl_flush(c);
}

static bool cl_token_ok(const char *s) {
  if (s == NULL || *s == '\0' || strlen(s) > 512) return false;
  for (; *s; s++)
    if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') return false;
  return true;
}

int bxn_sub(bxn_client *c, const char *subject, const char *queue, uint64_t *sid) {
  if (!cl_token_ok(subject) || (queue != NULL && !cl_token_ok(queue))) return BX_EINVAL;
  if (c->nsubs == c->subs_cap) {
    size_t cap = c->subs_cap ? c->subs_cap * 2 : 8;
    cl_sub *n = realloc(c->subs, cap * sizeof *n);
    if (n == NULL) return BX_ENOMEM;
    c->subs = n;
    c->subs_cap = cap;
  }
  cl_sub *s = &c->subs[c->nsubs];
  s->sid = c->next_sid;
  s->subject = bx__strdup(subject);
  s->queue = queue ? bx__strdup(queue) : NULL;
  if (s->subject == NULL || (queue && s->queue == NULL)) {
    free(s->subject);
    free(s->queue);
    return BX_ENOMEM;
  }
  c->nsubs++;
  c->next_sid++;
  *sid = s->sid;
  if (c->state == CL_HANDSHAKE || c->state == CL_CONNECTED) {
    if (cl_send_sub(c, s) == 0) cl_flush(c);
  }
  return 0;
}

void bxn_unsub(bxn_client *c, uint64_t sid) {
  for (size_t i = 0; i < c->nsubs; i++) {
    if (c->subs[i].sid != sid) continue;
    free(c->subs[i].subject);
    free(c->subs[i].queue);
    c->subs[i] = c->subs[--c->nsubs];
    if (c->state == CL_HANDSHAKE || c->state == CL_CONNECTED) {
      char line[40];
      int n = snprintf(line, sizeof line, "UNSUB %llu\r\n", (unsigned long long)sid);
      if (cl_append(c, line, (size_t)n) == 0) cl_flush(c);
    }
    return;
  }
}

int bxn_pub(bxn_client *c, const char *subject, const char *reply, const char *payload,
            size_t len) {
  if (c->state != CL_CONNECTED) return BX_ECONNLOST;
  if (len > c->max_payload) return BX_EMSGSIZE;
  if (bxn_pending(c) >= c->max_out) {
    c->out_full = true;
    return BX_EQUEUEFULL;
  }
  size_t sl = strlen(subject), rl = reply ? strlen(reply) : 0;
  if (sl == 0 || sl > 1024 || rl > 1024) return BX_EINVAL;
  if (bx_buf_reserve(&c->out, sl + rl + len + 40) != 0) return BX_ENOMEM;
  char *w = c->out.base + c->out.len;
  memcpy(w, "PUB ", 4);
  w += 4;
  memcpy(w, subject, sl);
  w += sl;
  *w++ = ' ';
  if (rl) {
    memcpy(w, reply, rl);
    w += rl;
    *w++ = ' ';
  }
  char num[24];
  size_t nl = bx__u64_decimal(len, num);
  memcpy(w, num, nl);
  w += nl;
  *w++ = '\r';
  *w++ = '\n';
  memcpy(w, payload, len);
  w += len;
  *w++ = '\r';
  *w++ = '\n';
  c->out.len = (size_t)(w - c->out.base);
  if (!c->flush_queued) {
    c->flush_queued = true;
    if (bx__defer(c->ctx, cl_flush_task, c, NULL) != 0) {
      c->flush_queued = false;
      cl_flush(c);
    }
  }
  return 0;
}
