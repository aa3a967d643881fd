/* ws://host:port/path and wss://host:port/path — WebSocket (RFC 6455) over libwebsockets 4.1
 * on the context's libuv loop; the framing FOAM2's browser and node WebSocket boxes use: one
 * JSON message per WebSocket message, no length prefix, no RegisterSelfMessage.
 *
 * Design notes
 * - The process-wide lws context and the per-context records that hold it are
 *   ws_context.c's; this file is the transport: listeners, connections, the lws callback.
 * - Listeners are vhosts (one listen socket each, any path is upgraded, static files from
 *   bx_ws_listen_opts.www_dir via a file mount on the same vhost). 4.1.6 does not free a vhost
 *   that still has connections bound to it, so closing a listener closes every wsi of the
 *   vhost, counts them down (WSI_CREATE / WSI_DESTROY), and destroys the vhost from the run
 *   queue once nothing is bound. Two vhosts on one port silently share it in lws: that is
 *   refused here with UV_EADDRINUSE. IPv4 listeners disable IPv6 on their vhost (4.1.6 binds
 *   [::] otherwise).
 * - Each connection is a solo link (its state, ws_conn, is the link's) carrying one peer.
 * - Each write() from the core is one message: TEXT frames of at most 65535 bytes, continued
 *   with CONTINUATION frames, one lws_write() per WRITEABLE callback, copied chunk by chunk
 *   into a buffer with LWS_PRE bytes of headroom (lws writes the header in front of the
 *   payload and masks client payloads in place, so the core's buffer is never handed over).
 *   bx__link_write_done() follows the last chunk. A one-frame message on a plain connection
 *   with nothing buffered in lws is written at once instead (ws_write_now()).
 * - Input: text, binary and fragmented messages are reassembled; the declared length of the
 *   current frame is checked against the connection's max_frame before anything is buffered
 *   (close 1009); a text message must be valid UTF-8 (lws checks as it goes, the whole
 *   message is checked again at the end: close 1007).
 * - Closing: our side sends a close frame (1001 "going away", or the reason of a limit) from
 *   WRITEABLE and lets lws finish the handshake (5 s at most); the framework hears
 *   bx__link_closed() after lws destroyed the wsi (WSI_DESTROY), from the run queue.
 * - Idle peers: lws pings a connection that received nothing for ping_secs (default 30) and
 *   drops it when nothing valid arrived for a third longer (40 s) — a half-open peer goes.
 */
#define _GNU_SOURCE /* realpath */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "framework.h"

#ifdef BX_HAVE_WS

#include "ws_context.h"

#define WS_PROTO "bx-ws"
#define WS_MAX_OUT_FRAME 65535u /* outbound frame payload limit (FOAM2's node server) */
#define WS_RX_CHUNK 16384u
#define WS_KEEP_RX (1024u * 1024u) /* a reassembly buffer above this is freed when idle */
#define WS_PING_SECS 30
#define CB_LISTENER_CLOSE ((enum lws_callback_reasons)(LWS_CALLBACK_USER + 1))

typedef struct ws_pss { /* lws' per-session user data */
  bx__link *k;          /* NULL before the bx link exists and after it let go */
  bool external;        /* ours (client): freed at WSI_DESTROY */
  bool in_dial;         /* inside lws_client_connect_via_info() */
  bool failed, destroyed;
} ws_pss;

typedef struct ws_vh_token { /* finalize_arg: outlives a vhost whose creation failed */
  struct ws_listener *wl;    /* NULL until the vhost exists */
  bool creating, finalized;
} ws_vh_token;

typedef struct ws_listener {
  bx_listener *l;
  ws_vh_token *token;
  ws_rec *rec;
  struct lws_vhost *vh;
  char host[64];
  int port;
  unsigned bound; /* wsi bound to the vhost, the listen socket included */
  bool closing, reaping;
  struct lws_http_mount mount;
  char origin[PATH_MAX];                /* the served directory (lws' name for a mount's source) */
  char allowed[BX_WS_MAX_ORIGINS][128]; /* Origins let in besides same-origin (bx_ws_listen_opts) */
  unsigned nallowed;
  bool any_origin;
  char name[32];
  lws_retry_bo_t policy;
  struct ws_listener *next; /* in g_listeners while open */
} ws_listener;

static ws_listener *g_listeners;

typedef struct ws_conn { /* a link's private state */
  bx__conn *peer;        /* the link's peer */
  ws_rec *rec;
  ws_pss *pss;
  struct lws *wsi; /* NULL once lws closed it */
  bool established, gone, closing, reported;
  bool peer_closed; /* the peer's close frame came: nothing after it is dispatched */
  bool want_close, close_sent;
  int close_status;
  char close_reason[124];
  /* tx: the core's current message */
  const char *tx;
  size_t tx_len, tx_sent;
  unsigned char *chunk; /* LWS_PRE + up to WS_MAX_OUT_FRAME */
  size_t chunk_cap;     /* payload bytes chunk holds (kept between messages) */
  /* rx */
  char *rx;
  size_t rx_len, rx_cap, max_msg;
  bool rx_binary;
} ws_conn;

static ws_conn *wc_of(bx__link *k) {
  return bx__link_priv(k);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

static const struct lws_protocols ws_protocols[] = {{
                                                        .name = WS_PROTO,
                                                        .callback = ws_callback,
                                                        .per_session_data_size = sizeof(ws_pss),
                                                        .rx_buffer_size = WS_RX_CHUNK,
                                                        .tx_packet_size = WS_MAX_OUT_FRAME + 14,
                                                    },
                                                    {0}};

static const lws_retry_bo_t ws_client_policy = {
    .secs_since_valid_ping = WS_PING_SECS,
    .secs_since_valid_hangup = WS_PING_SECS + WS_PING_SECS / 3,
};

/* ---- addresses ----------------------------------------------------------------------------- */

typedef struct ws_addr {
  char host[256]; /* without brackets */
  int port;
  bool v6;
  const char *path; /* "/..." (points into the address) or "" */
} ws_addr;

static int ws_parse(const char *addr, ws_addr *out) {
  const char *host = addr, *host_end, *p;
  memset(out, 0, sizeof *out);
  if (*addr == '[') {
    host = addr + 1;
    host_end = strchr(host, ']');
    if (host_end == NULL || host_end[1] != ':') return BX_EINVAL;
    p = host_end + 2;
    out->v6 = true;
  } else {
    host_end = strchr(addr, ':');
    if (host_end == NULL) return BX_EINVAL;
    p = host_end + 1;
  }
  size_t hlen = (size_t)(host_end - host);
  if (hlen == 0 || hlen >= sizeof out->host) return BX_EINVAL;
  memcpy(out->host, host, hlen);
  out->host[hlen] = '\0';
  if (strpbrk(out->host, "/?#@ []") != NULL || (!out->v6 && strchr(out->host, ':'))) {
    return BX_EINVAL;
  }
  int port = 0, digits = 0;
  while (*p >= '0' && *p <= '9' && digits < 6) {
    port = port * 10 + (*p++ - '0');
    digits++;
  }
  if (digits == 0 || digits > 5 || port > 65535 || (*p != '\0' && *p != '/')) return BX_EINVAL;
  out->port = port;
  out->path = p;
  return 0;
}

static int ws_check(const char *addr) {
  ws_addr a;
  return ws_parse(addr, &a);
}

static void ws_format_sa(const struct sockaddr *sa, char *buf, size_t len) {
  char ip[64] = "?";
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
    snprintf(buf, len, "[%s]:%d", ip, ntohs(s6->sin6_port));
  } else {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%d", ip, ntohs(s4->sin_port));
  }
}

static void ws_fill_peer(bx__conn *c, struct lws *wsi) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  bx_peer_info *p = bx__conn_peer(c);
  if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &sl) == 0)
    ws_format_sa((struct sockaddr *)&ss, p->address, sizeof p->address);
}

/* ---- connections --------------------------------------------------------------------------- */

static void ws_report_task(void *a, void *b) {
  (void)b;
  bx__link *k = a;
  ws_rec *r = wc_of(k)->rec;
  bx__link_closed(k);
  if (r) bx__ws_rec_obj_del(r);
}

/* The framework closed k and lws is done with it: report from the run queue. */
static void ws_report(bx__link *k) {
  ws_conn *w = wc_of(k);
  if (w->reported) return;
  w->reported = true;
  free(w->rx);
  w->rx = NULL;
  free(w->chunk);
  w->chunk = NULL;
  w->chunk_cap = 0;
  if (bx__defer(bx__link_ctx(k), ws_report_task, k, NULL) != 0) ws_report_task(k, NULL);
}

static void ws_kick(ws_conn *w) {
  if (w->rec && w->rec->gen && w->rec->gen->lctx) lws_cancel_service(w->rec->gen->lctx);
}

/* Backpressure: lws stops reading the socket while the peer's input is held; a message it had
 * read already still arrives and waits in the peer. */
static void ws_read_pause(bx__link *k, bx__conn *c, bool pause) {
  (void)c;
  ws_conn *w = wc_of(k);
  if (w->wsi == NULL || w->closing || !w->established) return;
  lws_rx_flow_control(w->wsi, pause ? 0 : 1);
  ws_kick(w);
}

static void ws_close(bx__link *k) {
  ws_conn *w = wc_of(k);
  w->closing = true;
  w->tx = NULL;
  free(w->chunk);
  w->chunk = NULL;
  w->chunk_cap = 0;
  if (w->gone) {
    ws_report(k);
    return;
  }
  if (w->wsi == NULL) return; /* lws closed it; WSI_DESTROY reports */
  if (!w->established) {      /* still connecting: drop it */
    lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    ws_kick(w);
    return;
  }
  if (!w->want_close && !w->close_sent) {
    w->want_close = true;
    if (w->close_status == 0) {
      w->close_status = LWS_CLOSE_STATUS_GOINGAWAY;
      snprintf(w->close_reason, sizeof w->close_reason, "going away");
    }
  }
  lws_callback_on_writable(w->wsi);
}

/* A message of one frame on a plain connection with nothing buffered goes out at once:
 * asking for a WRITEABLE callback costs, through libuv's uv_poll, two epoll_ctl pairs and an
 * epoll_wait per message. lws keeps whatever the socket does not take in its own buffer
 * (lws_issue_raw's buflist_out) and sends it first, so a short write loses nothing and keeps
 * the order; while anything is buffered, messages wait for WRITEABLE. TLS and multi-frame
 * messages keep the callback path. Returns BX__WRITTEN when lws took the message, 0 when the
 * caller must wait for WRITEABLE. */
static int ws_write_now(ws_conn *w) {
  struct lws *wsi = w->wsi;
  if (w->tx_len > WS_MAX_OUT_FRAME || w->want_close || lws_is_ssl(wsi) || lws_partial_buffered(wsi))
    return 0;
  memcpy(w->chunk + LWS_PRE, w->tx, w->tx_len);
  if (lws_write(wsi, w->chunk + LWS_PRE, w->tx_len, LWS_WRITE_TEXT) < (int)w->tx_len)
    return BX_ECONNLOST;
  w->tx = NULL;
  return BX__WRITTEN;
}

static int ws_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  (void)c;
  ws_conn *w = wc_of(k);
  if (w->wsi == NULL || w->closing || !w->established) return BX_ECONNLOST;
  size_t cap = len < WS_MAX_OUT_FRAME ? len : WS_MAX_OUT_FRAME;
  if (w->chunk == NULL || w->chunk_cap < cap) {
    free(w->chunk);
    w->chunk = malloc(LWS_PRE + cap + 1);
    w->chunk_cap = w->chunk ? cap : 0;
    if (w->chunk == NULL) return BX_ENOMEM;
  }
  w->tx = buf;
  w->tx_len = len;
  w->tx_sent = 0;
  int rc = ws_write_now(w);
  if (rc == 0) lws_callback_on_writable(w->wsi);
  return rc;
}

static int ws_on_writeable(bx__link *k, struct lws *wsi) {
  ws_conn *w = wc_of(k);
  if (w->want_close) {
    lws_close_reason(wsi, (enum lws_close_status)w->close_status, (unsigned char *)w->close_reason,
                     strlen(w->close_reason));
    w->want_close = false;
    w->close_sent = true;
    /* not "return -1" (4.1.6 + libuv would close twice, before the close frame is out): a
     * synchronous kill starts lws' close handshake */
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    return 0;
  }
  if (w->closing || w->tx == NULL) return 0;
  size_t n = w->tx_len - w->tx_sent;
  if (n > WS_MAX_OUT_FRAME) n = WS_MAX_OUT_FRAME;
  memcpy(w->chunk + LWS_PRE, w->tx + w->tx_sent, n);
  int flags = lws_write_ws_flags(LWS_WRITE_TEXT, w->tx_sent == 0, w->tx_sent + n == w->tx_len);
  if (lws_write(wsi, w->chunk + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n) return -1;
  w->tx_sent += n;
  if (w->tx_sent < w->tx_len) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  w->tx = NULL;
  bx__link_write_done(k, 0); /* may write the next message, or close */
  return 0;
}

static int ws_refuse(struct lws *wsi, int status, const char *reason) {
  lws_close_reason(wsi, (enum lws_close_status)status, (unsigned char *)reason, strlen(reason));
  return -1;
}

static int ws_on_receive(bx__link *k, struct lws *wsi, const char *in, size_t len) {
  ws_conn *w = wc_of(k);
  bx__conn *c = w->peer;
  if (w->closing || w->peer_closed) return 0;
  size_t frame_left = lws_remaining_packet_payload(wsi);
  if (lws_is_first_fragment(wsi)) {
    w->rx_len = 0;
    w->rx_binary = lws_frame_is_binary(wsi) != 0;
  }
  if (frame_left > w->max_msg || w->rx_len + len > w->max_msg - frame_left) {
    bx_peer_info *p = bx__conn_peer(c);
    bx_log(bx__conn_ctx(c), BX_LOG_WARN,
           "%s connection%s%s: closing: a message of at least %zu bytes is over the limit (%zu)",
           p->scheme, p->address[0] ? " from " : "", p->address, w->rx_len + len + frame_left,
           w->max_msg);
    return ws_refuse(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
  }
  if (w->rx_len + len > w->rx_cap) {
    size_t cap = w->rx_cap ? w->rx_cap : 4096;
    while (cap < w->rx_len + len + frame_left && cap < w->max_msg)
      cap *= 2;
    if (cap < w->rx_len + len) cap = w->rx_len + len;
    char *p = realloc(w->rx, cap);
    if (p == NULL) return ws_refuse(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
    w->rx = p;
    w->rx_cap = cap;
  }
  if (len) memcpy(w->rx + w->rx_len, in, len);
  w->rx_len += len;
  if (!lws_is_final_fragment(wsi)) return 0;
  if (!w->rx_binary && !bx__utf8_valid((const unsigned char *)w->rx, w->rx_len)) {
    bx_peer_info *p = bx__conn_peer(c);
    bx_log(bx__conn_ctx(c), BX_LOG_WARN,
           "%s connection%s%s: closing: invalid UTF-8 in a text message", p->scheme,
           p->address[0] ? " from " : "", p->address);
    return ws_refuse(wsi, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid UTF-8");
  }
  size_t n = w->rx_len;
  w->rx_len = 0;
  bx__conn_message(c, w->rx, n);
  if (!w->reported && w->rx_len == 0 && w->rx_cap > WS_KEEP_RX) {
    free(w->rx);
    w->rx = NULL;
    w->rx_cap = 0;
  }
  return 0;
}

/* lws is done with the wsi (WSI_DESTROY). */
static void ws_gone(bx__link *k, bool connect_failed) {
  ws_conn *w = wc_of(k);
  w->wsi = NULL;
  w->gone = true;
  if (w->pss) w->pss->k = NULL;
  w->pss = NULL;
  if (w->closing) {
    ws_report(k);
    return;
  }
  if (connect_failed)
    bx__conn_connected(w->peer, UV_ECONNREFUSED);
  else
    bx__conn_close(w->peer, BX_ECONNLOST);
}

/* ---- listeners ----------------------------------------------------------------------------- */

/* RFC 6455 4.4: version 13 only (libwebsockets 4.1.6 upgrades older drafts' versions too). */
static bool ws_version_ok(struct lws *wsi) {
  char v[8];
  int n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_VERSION);
  return n == 2 && strcmp(v, "13") == 0;
}

static ws_listener *ws_listener_of(struct lws *wsi);

/* Browsers name the page that opens a WebSocket in Origin; programs send none. Same-origin is
 * the page served by this very host:port (Origin http(s)://<Host>). */
static bool ws_origin_ok(struct lws *wsi, ws_listener *wl) {
  char origin[256] = "", host[200] = "";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0) return true;
  if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0) return false;
  if (wl == NULL) return false;
  if (wl->any_origin) return true;
  for (unsigned i = 0; i < wl->nallowed; i++)
    if (strcasecmp(origin, wl->allowed[i]) == 0) return true;
  if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0) return false;
  const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
                     : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
                                                               : NULL;
  return rest && strcasecmp(rest, host) == 0;
}

static int ws_refuse_origin(struct lws *wsi, ws_listener *wl) {
  char origin[256] = "";
  lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
  if (wl)
    bx_log(wl->l->ctx, BX_LOG_WARN,
           "%s: refusing an upgrade from a page of another origin: Origin '%s' (allow it with "
           "allowed_origins / bxd --ws-origin)",
           wl->l->url, origin);
  lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
  return 1;
}

/* Copies the allowed origins of opts into wl. BX_EINVAL when too many or too long. */
static int ws_set_origins(ws_listener *wl, const bx_ws_listen_opts *opts) {
  for (const char *const *o = opts ? opts->allowed_origins : NULL; o && *o; o++) {
    if (strcmp(*o, "*") == 0) {
      wl->any_origin = true;
      continue;
    }
    size_t n = strlen(*o);
    while (n > 0 && (*o)[n - 1] == '/')
      n--; /* browsers send no trailing slash */
    if (wl->nallowed == BX_WS_MAX_ORIGINS || n >= sizeof wl->allowed[0]) {
      bx_log(wl->l->ctx, BX_LOG_ERROR, "%s: allowed_origins: at most %d of under %zu bytes",
             wl->l->url, BX_WS_MAX_ORIGINS, sizeof wl->allowed[0]);
      return BX_EINVAL;
    }
    memcpy(wl->allowed[wl->nallowed], *o, n);
    wl->allowed[wl->nallowed++][n] = '\0';
  }
  return 0;
}

/* Does the file a request for uri would serve stay inside the listener's www_dir? libwebsockets
 * refuses ".." but follows symbolic links: a link pointing out of the directory would serve
 * any file of the machine. A path that does not exist is left to the mount (404), as are
 * requests when no directory is served. */
static bool ws_path_inside(ws_listener *wl, const char *uri) {
  if (wl->origin[0] == '\0' || uri[0] != '/') return true;
  char path[PATH_MAX], real[PATH_MAX];
  size_t ul = strcspn(uri, "?#");
  int n = snprintf(path, sizeof path, "%s%.*s%s", wl->origin, (int)ul, uri,
                   ul == 1 ? "index.html" : "");
  if (n < 0 || (size_t)n >= sizeof path || realpath(path, real) == NULL) return true;
  size_t ol = strlen(wl->origin);
  if (strncmp(real, wl->origin, ol) == 0 && (real[ol] == '/' || real[ol] == '\0')) return true;
  bx_log(wl->l->ctx, BX_LOG_WARN, "%s: refusing %.*s: it leads out of the served directory",
         wl->l->url, (int)(ul > 200 ? 200 : ul), uri);
  return false;
}

static int ws_refuse_upgrade(struct lws *wsi, ws_listener *wl) {
  char v[8] = "";
  lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_VERSION);
  if (wl)
    bx_log(wl->l->ctx, BX_LOG_WARN, "%s: refusing an upgrade: Sec-WebSocket-Version '%s'",
           wl->l->url, v);
  return 1;
}

static ws_listener *ws_listener_of(struct lws *wsi) {
  struct lws_vhost *vh = lws_get_vhost(wsi);
  return vh ? lws_vhost_user(vh) : NULL;
}

static int ws_accept(struct lws *wsi, ws_pss *pss) {
  ws_listener *wl = ws_listener_of(wsi);
  if (wl == NULL || wl->closing) return -1;
  bx__link *k = bx__link_new(wl->l->ts, wl->l->tran, wl->l, true);
  bx__conn *c = k ? bx__conn_accept(k) : NULL;
  if (c == NULL) {
    if (k) bx__link_closed(k); /* nothing to close yet: free it now */
    return -1;
  }
  ws_conn *w = wc_of(k);
  w->peer = c;
  w->rec = wl->rec;
  wl->rec->objects++;
  w->wsi = wsi;
  w->pss = pss;
  w->established = true;
  w->max_msg = wl->l->limits.max_frame;
  pss->k = k;
  ws_fill_peer(c, wsi);
  bx__conn_opened(c); /* a refusal closes it (a close frame, then WSI_DESTROY) */
  return 0;
}

static void ws_vhost_finalized(struct lws_vhost *vh, void *arg) {
  (void)vh;
  ws_vh_token *t = arg;
  ws_listener *wl = t->wl;
  if (wl == NULL) { /* lws_create_vhost() failed and destroyed it */
    if (t->creating)
      t->finalized = true;
    else
      free(t);
    return;
  }
  free(t);
  ws_rec *r = wl->rec;
  wl->vh = NULL;
  bx__listener_closed(wl->l); /* may free wl */
  bx__ws_rec_obj_del(r);
}

static void ws_reap_task(void *a, void *b) {
  (void)b;
  ws_listener *wl = a;
  if (wl->vh) lws_vhost_destroy(wl->vh); /* nothing bound: frees it (finalize) */
}

static void ws_listener_check(ws_listener *wl) {
  if (!wl->closing || wl->bound > 0 || wl->reaping) return;
  wl->reaping = true;
  /* WSI_DESTROY comes before lws unbinds the wsi: destroy from the run queue */
  if (bx__defer(wl->l->ctx, ws_reap_task, wl, NULL) != 0) ws_reap_task(wl, NULL);
}

static int ws_listener_close_one(struct lws *wsi, ws_pss *pss) {
  if (pss && pss->k) return 0; /* a link of the framework: closing already (1001) */
  lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC); /* listen socket, HTTP */
  return 0;
}

static void ws_listen_close(bx_listener *l) {
  ws_listener *wl = bx__listener_priv(l);
  for (ws_listener **p = &g_listeners; *p; p = &(*p)->next)
    if (*p == wl) {
      *p = wl->next;
      break;
    }
  wl->closing = true;
  const struct lws_protocols *proto = lws_vhost_name_to_protocol(wl->vh, WS_PROTO);
  lws_callback_all_protocol_vhost_args(wl->vh, proto, CB_LISTENER_CLOSE, NULL, 0);
  /* timeouts set outside an lws callback wait for lws' next event in 4.1.6: wake it */
  lws_cancel_service(wl->rec->gen->lctx);
  ws_listener_check(wl);
}

static int ws_listen_common(bx_listener *l, const char *addr, const bx_listen_opts *lo, bool tls) {
  ws_listener *wl = bx__listener_priv(l);
  const bx_ws_listen_opts *opts = lo ? lo->ws : NULL;
  ws_addr a;
  if (ws_parse(addr, &a) != 0) return BX_EINVAL;
  if (strcmp(a.host, "localhost") == 0) snprintf(a.host, sizeof a.host, "127.0.0.1");
  struct in6_addr ip6;
  struct in_addr ip4;
  if (a.v6 ? inet_pton(AF_INET6, a.host, &ip6) != 1 : inet_pton(AF_INET, a.host, &ip4) != 1)
    return BX_EINVAL;
  const char *cert = opts ? opts->tls_cert : NULL, *key = opts ? opts->tls_key : NULL;
  if (tls && cert == NULL && key == NULL) { /* the process' defaults (tests, tools) */
    cert = getenv("BX_TLS_CERT");
    key = getenv("BX_TLS_KEY");
  }
  if (tls && (cert == NULL || key == NULL || access(cert, R_OK) != 0 || access(key, R_OK) != 0)) {
    bx_log(l->ctx, BX_LOG_ERROR, "%s: needs readable tls_cert and tls_key files", l->url);
    return BX_EINVAL;
  }
  wl->l = l;
  if (ws_set_origins(wl, opts) != 0) return BX_EINVAL;
  if (opts && opts->www_dir && realpath(opts->www_dir, wl->origin) == NULL) {
    bx_log(l->ctx, BX_LOG_ERROR, "%s: www_dir %s: not found", l->url, opts->www_dir);
    return BX_EINVAL;
  }
  for (ws_listener *o = g_listeners; o; o = o->next)
    if (a.port != 0 && o->port == a.port && strcmp(o->host, a.host) == 0) return UV_EADDRINUSE;
  ws_rec *r = bx__ws_rec_get(l->ctx);
  if (r == NULL) return bx_ctx_is_closing(l->ctx) ? BX_ECLOSING : BX_ENOMEM;
  int rc = bx__ws_rec_gen(r);
  if (rc) return rc;
  wl->l = l;
  wl->rec = r;
  if (strlen(a.host) >= sizeof wl->host) return BX_EINVAL;
  memcpy(wl->host, a.host, strlen(a.host) + 1);
  snprintf(wl->name, sizeof wl->name, "bx-ws-%u", ++r->gen->seq);
  unsigned ping = opts && opts->ping_secs ? opts->ping_secs : WS_PING_SECS;
  wl->policy.secs_since_valid_ping = (uint16_t)ping;
  wl->policy.secs_since_valid_hangup = (uint16_t)(ping + (ping >= 6 ? ping / 3 : 2));
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.vhost_name = wl->name;
  info.iface = wl->host;
  info.port = a.port;
  info.protocols = ws_protocols;
  if (wl->origin[0]) {
    wl->mount.mountpoint = "/";
    wl->mount.mountpoint_len = 1;
    wl->mount.origin = wl->origin;
    wl->mount.def = "index.html";
    wl->mount.origin_protocol = LWSMPRO_FILE;
    info.mounts = &wl->mount;
  }
  info.user = wl;
  wl->token = calloc(1, sizeof *wl->token);
  if (wl->token == NULL) return BX_ENOMEM;
  wl->token->creating = true;
  info.finalize = ws_vhost_finalized;
  info.finalize_arg = wl->token;
  info.retry_and_idle_policy = &wl->policy;
  info.keepalive_timeout = 5;
  info.ka_time = 60;
  info.ka_probes = 3;
  info.ka_interval = 10;
  info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  if (!a.v6) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  if (tls) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = cert;
    info.ssl_private_key_filepath = key;
    info.alpn = "http/1.1"; /* no h2, so no WebSocket over h2 */
  }
  wl->vh = lws_create_vhost(r->gen->lctx, &info);
  wl->token->creating = false;
  if (wl->vh == NULL) {
    if (wl->token->finalized) free(wl->token); /* else its late finalize frees it */
    wl->token = NULL;
    return a.port ? UV_EADDRINUSE : BX_EINVAL;
  }
  wl->token->wl = wl;
  r->objects++;
  wl->port = lws_get_vhost_listen_port(wl->vh);
  wl->bound = 1; /* the listen socket */
  char url[400];
  snprintf(url, sizeof url, "%s://%s%s%s:%d%s", tls ? "wss" : "ws", a.v6 ? "[" : "", a.host,
           a.v6 ? "]" : "", wl->port, a.path[0] ? a.path : "/");
  bx__listener_set_url(l, url);
  wl->next = g_listeners;
  g_listeners = wl;
  return 0;
}

static int ws_listen(bx_listener *l, const char *addr, const bx_listen_opts *opts) {
  return ws_listen_common(l, addr, opts, false);
}
static int wss_listen(bx_listener *l, const char *addr, const bx_listen_opts *opts) {
  return ws_listen_common(l, addr, opts, true);
}

/* ---- dialling ------------------------------------------------------------------------------ */

static int ws_dial_common(bx__conn *c, const char *addr, bool tls) {
  bx__link *k = bx__link_for(c);
  if (k == NULL) return BX_ENOMEM;
  ws_conn *w = wc_of(k);
  w->peer = c;
  ws_addr a;
  w->gone = true; /* until there is a wsi */
  if (ws_parse(addr, &a) != 0) return BX_EINVAL;
  bx_ctx *ctx = bx__conn_ctx(c);
  ws_rec *r = bx__ws_rec_get(ctx);
  if (r == NULL) return bx_ctx_is_closing(ctx) ? BX_ECLOSING : BX_ENOMEM;
  int rc = bx__ws_rec_gen(r);
  if (rc) return rc;
  struct lws_vhost *vh = bx__ws_client_vhost(r->gen, tls ? r->ca_file : NULL, ws_protocols);
  if (vh == NULL) return BX_ENOMEM;
  ws_pss *pss = calloc(1, sizeof *pss);
  if (pss == NULL) return BX_ENOMEM;
  pss->k = k;
  pss->external = true;
  pss->in_dial = true;
  size_t max = bx_ctx_max_frame(ctx);
  w->max_msg = max > INT32_MAX ? INT32_MAX : max;
  w->rec = r;
  r->objects++;
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = r->gen->lctx;
  i.vhost = vh;
  i.address = a.host;
  i.port = a.port;
  i.path = a.path[0] ? a.path : "/";
  i.host = a.host; /* Host: header (lws' server requires one) and TLS SNI */
  i.local_protocol_name = WS_PROTO;
  i.ietf_version_or_minus_one = -1;
  i.userdata = pss;
  i.opaque_user_data = pss;
  i.retry_and_idle_policy = &ws_client_policy;
  if (tls) {
    i.ssl_connection = LCCSCF_USE_SSL;
    if (r->allow_self_signed)
      i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
  }
  struct lws *wsi = lws_client_connect_via_info(&i);
  pss->in_dial = false;
  if (wsi == NULL || pss->destroyed) {
    free(pss);
    return UV_ECONNREFUSED;
  }
  w->pss = pss;
  w->wsi = wsi;
  w->gone = false;
  if (pss->failed) { /* reported inside the call: wait for WSI_DESTROY */
    w->wsi = NULL;
    return UV_ECONNREFUSED;
  }
  return 0;
}

static int ws_dial(bx__conn *c, const char *addr) {
  return ws_dial_common(c, addr, false);
}
static int wss_dial(bx__conn *c, const char *addr) {
  return ws_dial_common(c, addr, true);
}

/* ---- the lws callback ---------------------------------------------------------------------- */

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len) {
  ws_pss *pss = user;
  ws_listener *wl;
  bx__link *k = pss ? pss->k : NULL; /* read only for the WebSocket reasons below */
  ws_conn *w;

  if (reason == CB_LISTENER_CLOSE) return ws_listener_close_one(wsi, pss);

  switch (reason) {
  case LWS_CALLBACK_WSI_CREATE: /* an accepted socket */
    if ((wl = ws_listener_of(wsi)) != NULL) wl->bound++;
    break;
  case LWS_CALLBACK_WSI_DESTROY: /* the last callback of any wsi */
    if (pss == NULL) pss = lws_get_opaque_user_data(wsi);
    if (pss && pss->in_dial) {
      pss->destroyed = true;
    } else if (pss) {
      k = pss->k;
      pss->k = NULL;
      bool external = pss->external;
      if (k) ws_gone(k, !wc_of(k)->established);
      if (external) free(pss);
    }
    if ((wl = ws_listener_of(wsi)) != NULL) {
      wl->bound--;
      ws_listener_check(wl);
    }
    return 0;
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
    wl = ws_listener_of(wsi);
    return wl && wl->closing;
  case LWS_CALLBACK_FILTER_HTTP_CONNECTION: /* in: the URI; a file outside www_dir is refused */
    wl = ws_listener_of(wsi);
    return wl && in ? !ws_path_inside(wl, in) : 0;
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: /* any path; no subprotocol */
    wl = ws_listener_of(wsi);
    if (wl && wl->closing) return 1;
    if (!ws_version_ok(wsi)) return ws_refuse_upgrade(wsi, wl);
    return ws_origin_ok(wsi, wl) ? 0 : ws_refuse_origin(wsi, wl);
  case LWS_CALLBACK_ESTABLISHED:
    return pss ? ws_accept(wsi, pss) : -1;
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    w = k ? wc_of(k) : NULL;
    if (w && !w->closing) {
      w->wsi = wsi;
      w->established = true;
      ws_fill_peer(w->peer, wsi);
      bx__conn_connected(w->peer, 0);
    } else if (w) {
      w->established = true;
      w->wsi = wsi;
      ws_close(k); /* closed while connecting */
    }
    return 0;
  case LWS_CALLBACK_RECEIVE:
  case LWS_CALLBACK_CLIENT_RECEIVE:
    return k ? ws_on_receive(k, wsi, in, len) : 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    return k ? ws_on_writeable(k, wsi) : 0;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (k) {
      w = wc_of(k);
      w->peer_closed = true; /* frames read with the close frame are not dispatched */
      int status = len >= 2 ? (((unsigned char *)in)[0] << 8) | ((unsigned char *)in)[1] : 1005;
      bx_log(bx__link_ctx(k), BX_LOG_DEBUG, "%s connection: peer closed: %d %.*s",
             bx__conn_peer(w->peer)->scheme, status, len > 2 ? (int)(len - 2) : 0,
             len > 2 ? (const char *)in + 2 : "");
    }
    return 0; /* lws answers the close */
  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_CLIENT_CLOSED:
    if (k) {
      w = wc_of(k);
      w->wsi = NULL;
      if (!w->closing) bx__conn_close(w->peer, BX_ECONNLOST);
    }
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    if (pss == NULL) pss = lws_get_opaque_user_data(wsi);
    if (pss && pss->in_dial) {
      pss->failed = true;
    } else if (pss && pss->k) {
      k = pss->k;
      w = wc_of(k);
      bx_log(bx__link_ctx(k), BX_LOG_INFO, "%s connection failed: %s",
             bx__conn_peer(w->peer)->scheme, in ? (const char *)in : "?");
      w->wsi = NULL;
      if (!w->closing) bx__conn_connected(w->peer, UV_ECONNREFUSED);
    }
    return 0;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- public -------------------------------------------------------------------------------- */

int bx_ctx_set_tls_client(bx_ctx *ctx, const char *ca_file, bool allow_self_signed) {
  if (ctx == NULL) return BX_EINVAL;
  ws_rec *r = bx__ws_rec_get(ctx);
  if (r == NULL) return bx_ctx_is_closing(ctx) ? BX_ECLOSING : BX_ENOMEM;
  char *ca = NULL;
  if (ca_file && (ca = bx__strdup(ca_file)) == NULL) return BX_ENOMEM;
  free(r->ca_file);
  r->ca_file = ca;
  r->allow_self_signed = allow_self_signed;
  return 0;
}

const bx__tran bx__ws_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "ws",
    .framer = &bx__framer_whole,
    .listener_size = sizeof(ws_listener),
    .link_size = sizeof(ws_conn),
    .flags = BX__TRAN_NO_HANDSHAKE,
    .check = ws_check,
    .listen = ws_listen,
    .listen_close = ws_listen_close,
    .dial = ws_dial,
    .write = ws_write,
    .read_pause = ws_read_pause,
    .link_close = ws_close,
};

const bx__tran bx__wss_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "wss",
    .framer = &bx__framer_whole,
    .listener_size = sizeof(ws_listener),
    .link_size = sizeof(ws_conn),
    .flags = BX__TRAN_NO_HANDSHAKE,
    .check = ws_check,
    .listen = wss_listen,
    .listen_close = ws_listen_close,
    .dial = wss_dial,
    .write = ws_write,
    .read_pause = ws_read_pause,
    .link_close = ws_close,
};

#else /* !BX_HAVE_WS */

int bx_ctx_set_tls_client(bx_ctx *ctx, const char *ca_file, bool allow_self_signed) {
  (void)ctx, (void)ca_file, (void)allow_self_signed;
  return BX_ENOTSUP;
}

#endif /* BX_HAVE_WS */
