/* The transport table (URL scheme -> ops), URL splitting and limits. */
#include <string.h>

#include "framework.h"

extern const bx__tran bx__nats_tran; /* transports/nats/nats_tran.c */

#define TR_MAX_TRANSPORTS 16

extern const bx__tran bx__th_tran; /* th://HASHNAME: telehash boxes (transports/telehash) */

static const bx__tran *tr_table[TR_MAX_TRANSPORTS] = {
    &bx__tcp_tran,    &bx__unix_tran,    &bx__inproc_tran, &bx__mb_tcp_tran,
    &bx__mb_udp_tran, &bx__mb_unix_tran, &bx__th_tran,     &bx__nats_tran,
#ifdef BX_HAVE_WS
    &bx__ws_tran,     &bx__wss_tran,
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
      tran->framer == NULL || tran->listen == NULL || tran->listen_close == NULL ||
      tran->dial == NULL || tran->write == NULL || tran->link_close == NULL)
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
  limits->max_pending = 128;
}

void bx__limits_resolve(bx_ctx *ctx, const bx__tran *tran, const bx_transport_limits *in,
                        bx_transport_limits *out) {
  bx_transport_limits d;
  bx_transport_limits_init(&d);
  *out = in ? *in : d;
  size_t ctx_max = bx_ctx_max_frame(ctx);
  if (out->max_frame == 0 || out->max_frame > ctx_max) out->max_frame = ctx_max;
  size_t tran_max = tran->max_frame ? tran->max_frame : tran->framer->max_frame;
  if (tran->framer->max_frame < tran_max) tran_max = tran->framer->max_frame;
  if (out->max_frame > tran_max) out->max_frame = tran_max; /* what the framing can carry */
  if (out->max_queued_bytes == 0) out->max_queued_bytes = d.max_queued_bytes;
  if (out->max_connections == 0) out->max_connections = d.max_connections;
  if (out->max_exports == 0) out->max_exports = d.max_exports;
  if (out->max_pending == 0) out->max_pending = d.max_pending;
}
