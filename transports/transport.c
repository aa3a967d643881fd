/* The transport table (URL scheme -> ops), URL splitting, limits, and the public entry points
 * bx_listen(), bx_connect() and bx_msg_peer(). */
#include <string.h>

#include "transport.h"

#define TR_MAX_TRANSPORTS 16

static const bx__tran *tr_table[TR_MAX_TRANSPORTS] = {
    &bx__tcp_tran, &bx__unix_tran, &bx__inproc_tran,
#ifdef BX_HAVE_WS
    &bx__ws_tran,  &bx__wss_tran,
#endif
};

static const bx__tran *tr_lookup(const char *scheme, size_t len) {
  for (size_t i = 0; i < TR_MAX_TRANSPORTS && tr_table[i] != NULL; i++) {
    const char *s = tr_table[i]->scheme;
    if (strlen(s) == len && memcmp(s, scheme, len) == 0) return tr_table[i];
  }
  return NULL;
}

int bx__tran_register(const bx__tran *tran) {
  if (tran == NULL || tran->version != BX__TRAN_VERSION || tran->scheme == NULL ||
      tran->listen == NULL || tran->listen_close == NULL || tran->dial == NULL ||
      tran->write == NULL || tran->close == NULL)
    return BX_EINVAL;
  if (tr_lookup(tran->scheme, strlen(tran->scheme)) != NULL) return BX_EEXIST;
  for (size_t i = 0; i < TR_MAX_TRANSPORTS; i++) {
    if (tr_table[i] != NULL) continue;
    tr_table[i] = tran;
    return 0;
  }
  return BX_ENOMEM;
}

const bx__tran *bx__tran_find(const char *url, const char **addr) {
  if (url == NULL) return NULL;
  const char *sep = strstr(url, "://");
  if (sep == NULL || sep == url) return NULL;
  const bx__tran *t = tr_lookup(url, (size_t)(sep - url));
  if (t == NULL) return NULL;
  const char *a = sep + 3;
  int rc = t->check ? t->check(a) : (*a ? 0 : BX_EINVAL);
  if (rc) return NULL;
  if (addr) *addr = a;
  return t;
}

void bx_transport_limits_init(bx_transport_limits *limits) {
  if (limits == NULL) return;
  memset(limits, 0, sizeof *limits);
  limits->max_queued_bytes = 8u * 1024u * 1024u;
  limits->max_connections = 1024;
  limits->max_exports = 65536;
}

void bx__limits_resolve(bx_ctx *ctx, const bx_transport_limits *in, bx_transport_limits *out) {
  bx_transport_limits d;
  bx_transport_limits_init(&d);
  *out = in ? *in : d;
  size_t ctx_max = bx_ctx_max_frame(ctx);
  if (out->max_frame == 0 || out->max_frame > ctx_max) out->max_frame = ctx_max;
  if (out->max_frame > INT32_MAX) out->max_frame = INT32_MAX; /* the length prefix is int32 */
  if (out->max_queued_bytes == 0) out->max_queued_bytes = d.max_queued_bytes;
  if (out->max_connections == 0) out->max_connections = d.max_connections;
  if (out->max_exports == 0) out->max_exports = d.max_exports;
}

int bx_connect(bx_ctx *ctx, const char *url, const bx_transport_limits *limits, bx_box **out) {
  if (out) *out = NULL;
  if (ctx == NULL || out == NULL || bx__tran_find(url, NULL) == NULL) return BX_EINVAL;
  bx__tstate *ts = bx__tstate_get(ctx);
  if (ts == NULL) return bx_ctx_is_closing(ctx) ? BX_ECLOSING : BX_ENOMEM;
  return bx__tstate_client(ts, url, limits, out);
}

int bx_connection_peer(bx_box *conn, bx_peer_info *out) {
  if (out == NULL) return BX_EINVAL;
  bx__conn *c = bx__conn_of(conn);
  if (c == NULL) return BX_ENOROUTE;
  *out = *bx__conn_peer(c);
  return 0;
}

int bx_msg_peer(const bx_msg *msg, bx_peer_info *out) {
  if (msg == NULL) return BX_EINVAL;
  return bx_connection_peer(bx_msg_origin(msg), out);
}
