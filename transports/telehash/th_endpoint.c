/* A telehash endpoint: an identity bound to UDP and TCP sockets on a context's loop, the
 * dispatch of every packet that arrives, and the endpoint's close.
 *
 * Design notes
 * - Dispatch by the LOB head's length (spec/telehash section 1): 1 byte is a handshake (a CS3a
 *   message; the CSID must be 3a), 0 bytes a channel packet (routed by its 16-byte token to the
 *   link that expects it); anything else is not a packet a peer sends. Every packet that is not
 *   accepted is counted under one reason in bx_th_endpoint_stats and, when its link is known,
 *   in the link's `dropped`; nothing is logged per packet, so garbage cannot flood the log.
 * - Buffers: a packet is opened into ep->rbuf and what goes out is sealed into ep->wbuf and
 *   cloaked or chunked into ep->cbuf, each sized once for the largest packet. Sends never call
 *   back, so a user callback that sends while an inbound packet in rbuf is being delivered is
 *   safe.
 * - Closing is libuv style and in two steps. bx_th_endpoint_close() stops the links' timers and
 *   queues the close task; the task reports CLOSED to every open channel (each from its own
 *   queued task) and closes the sockets. The endpoint is freed when its last handle has closed
 *   and its last queued task has run, so no queued task ever sees freed memory. A close from
 *   inside any callback is therefore safe.
 * - Links from strangers are capped (opts.max_links): a handshake from a new key makes a link
 *   only while fewer than max_links links made that way exist; at the cap the oldest one that
 *   no callback ever saw (never UP, never a channel) is freed for it, else the handshake is
 *   dropped as links_refused. A flood of fresh keys thus costs a bounded amount of memory,
 *   while links the application made (bx_th_link_new()) and links it may hold stay.
 * - The context closing closes the endpoint the same way (channels end with BX_ECLOSING); the
 *   endpoint leaves the context's tracking only once it is gone.
 */
#include <stdio.h>

#include "th_internal.h"

#define EP_BUF (BX__TH_MAX_PACKET + 1024)

static const bx_th_endpoint_opts ep_defaults = {
    .resend_ms = 1000,
    .link_timeout_ms = 30000,
    .keepalive_ms = 30000,
    .chan_resend_ms = 2000,
    .chan_timeout_ms = 10000,
    .max_links = 1024,
};

uint64_t bx__th_now(bx_th_endpoint *ep) {
  return uv_now(bx_ctx_loop(ep->ctx));
}

void bx__th_drop(bx_th_endpoint *ep, bx_th_link *link, uint64_t *reason) {
  ep->stats.dropped++;
  if (reason != NULL) (*reason)++;
  if (link != NULL) link->stats.dropped++;
}

/* ---- deferred work and the end of an endpoint ----------------------------------------------- */

static void ep_free(bx_th_endpoint *ep) {
  while (bx__tlink_listed(&ep->links)) {
    bx_th_link *k = (bx_th_link *)ep->links.next;
    bx__tlink_remove(&k->node);
    bx__th_link_free(k);
  }
  while (ep->handlers != NULL) {
    bx__th_handler *h = ep->handlers;
    ep->handlers = h->next;
    free(h);
  }
  bx__map_free(ep->by_hn);
  bx__map_free(ep->by_tok);
  free(ep->rbuf);
  free(ep->wbuf);
  free(ep->cbuf);
  free(ep->ubuf);
  sodium_memzero(ep->sk, sizeof ep->sk);
  free(ep);
}

static void ep_maybe_finish(bx_th_endpoint *ep) {
  if (!ep->closing || !ep->handle_closes_started || ep->handles > 0 || ep->tasks > 0) return;
  if (ep->tracked_on) bx__untrack(ep->ctx, &ep->tracked);
  ep->tracked_on = false;
  if (ep->close_cb != NULL) ep->close_cb(ep, ep->close_data);
  ep_free(ep);
}

void bx__th_ep_task_done(bx_th_endpoint *ep) {
  ep->tasks--;
  ep_maybe_finish(ep);
}

void bx__th_ep_defer(bx_th_endpoint *ep, bx__task_fn fn, void *a, void *b) {
  ep->tasks++;
  if (bx__defer(ep->ctx, fn, a, b) != 0) fn(a, b); /* the queue no longer runs */
}

void bx__th_ep_handle_gone(bx_th_endpoint *ep) {
  ep->handles--;
  ep_maybe_finish(ep);
}

void bx__th_handle_closed(uv_handle_t *h) {
  bx_th_endpoint *ep = h->data;
  free(h);
  bx__th_ep_handle_gone(ep);
}

static void ep_close_task(void *a, void *b) {
  (void)b;
  bx_th_endpoint *ep = a;
  for (bx__tlink *n = ep->links.next; n != &ep->links; n = n->next)
    bx__th_chans_close_all((bx_th_link *)n, ep->close_status);
  for (unsigned i = 0; i < BX_TH_MAX_BINDS; i++) {
    if (ep->udp[i] != NULL) uv_close((uv_handle_t *)ep->udp[i], bx__th_handle_closed);
    if (ep->listen[i] != NULL) uv_close((uv_handle_t *)ep->listen[i], bx__th_handle_closed);
    ep->udp[i] = NULL;
    ep->listen[i] = NULL;
  }
  bx__th_tcp_close_all(ep);
  ep->handle_closes_started = true;
  bx__th_ep_task_done(ep);
}

static void ep_begin_close(bx_th_endpoint *ep, int status) {
  if (ep->boxes != NULL) bx__thb_closing(ep); /* th:// boxes let go of it first */
  ep->closing = true;
  ep->close_status = status;
  for (bx__tlink *n = ep->links.next; n != &ep->links; n = n->next)
    bx__th_link_stop((bx_th_link *)n);
  bx__th_ep_defer(ep, ep_close_task, ep, NULL);
}

static void ep_on_ctx_close(bx__tracked *t) {
  bx_th_endpoint *ep = (bx_th_endpoint *)t;
  if (!ep->closing) ep_begin_close(ep, BX_ECLOSING);
}

int bx_th_endpoint_close(bx_th_endpoint *ep, bx_th_endpoint_close_cb cb, void *data) {
  if (ep == NULL) return BX_EINVAL;
  if (ep->closing) return BX_ECLOSED;
  ep->close_cb = cb;
  ep->close_data = data;
  ep_begin_close(ep, BX_ECANCELED);
  return 0;
}

/* ---- making one ---------------------------------------------------------------------------- */

/* "udp://1.2.3.4:5" or "tcp://[::1]:0" into *kind and *sa. 0 or BX_EINVAL. */
static int ep_parse_bind(const char *s, int *kind, struct sockaddr_storage *sa) {
  if (strncmp(s, "udp://", 6) == 0)
    *kind = BX__TH_UDP;
  else if (strncmp(s, "tcp://", 6) == 0)
    *kind = BX__TH_TCP;
  else
    return BX_EINVAL;
  const char *host = s + 6, *colon = strrchr(host, ':');
  if (colon == NULL || colon == host) return BX_EINVAL;
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535) return BX_EINVAL;
  char ip[64];
  size_t n = (size_t)(colon - host);
  bool v6 = host[0] == '[';
  if (v6) {
    if (n < 3 || host[n - 1] != ']') return BX_EINVAL;
    host++;
    n -= 2;
  }
  if (n >= sizeof ip) return BX_EINVAL;
  memcpy(ip, host, n);
  ip[n] = '\0';
  int rc = v6 ? uv_ip6_addr(ip, (int)port, (struct sockaddr_in6 *)sa)
              : uv_ip4_addr(ip, (int)port, (struct sockaddr_in *)sa);
  return rc == 0 ? 0 : BX_EINVAL;
}

static void ep_fill_opts(bx_th_endpoint *ep, const bx_th_endpoint_opts *o) {
  ep->opts = ep_defaults;
  if (o == NULL) return;
  ep->opts.no_cloak = o->no_cloak;
  ep->opts.link_cb = o->link_cb;
  ep->opts.link_data = o->link_data;
  if (o->resend_ms) ep->opts.resend_ms = o->resend_ms;
  if (o->link_timeout_ms) ep->opts.link_timeout_ms = o->link_timeout_ms;
  if (o->keepalive_ms) ep->opts.keepalive_ms = o->keepalive_ms;
  if (o->chan_resend_ms) ep->opts.chan_resend_ms = o->chan_resend_ms;
  if (o->chan_timeout_ms) ep->opts.chan_timeout_ms = o->chan_timeout_ms;
  if (o->max_links) ep->opts.max_links = o->max_links;
}

static int ep_bind_all(bx_th_endpoint *ep, const bx_th_endpoint_opts *o) {
  const char *binds[BX_TH_MAX_BINDS] = {0};
  bool any = false;
  for (unsigned i = 0; o != NULL && i < BX_TH_MAX_BINDS; i++)
    if ((binds[i] = o->bind[i]) != NULL) any = true;
  if (!any) binds[0] = "udp://127.0.0.1:0";
  for (unsigned i = 0; i < BX_TH_MAX_BINDS; i++) {
    if (binds[i] == NULL) continue;
    int kind;
    struct sockaddr_storage sa;
    int rc = ep_parse_bind(binds[i], &kind, &sa);
    if (rc == 0)
      rc = kind == BX__TH_UDP ? bx__th_udp_bind(ep, i, (struct sockaddr *)&sa)
                              : bx__th_tcp_listen(ep, i, (struct sockaddr *)&sa);
    if (rc != 0) return rc;
  }
  return 0;
}

int bx_th_endpoint_new(bx_ctx *ctx, const bx_th_identity *id, const bx_th_endpoint_opts *opts,
                       bx_th_endpoint **out) {
  if (out != NULL) *out = NULL;
  if (ctx == NULL || id == NULL || out == NULL) return BX_EINVAL;
  if (bx_ctx_is_closing(ctx)) return BX_ECLOSING;
  int rc = bx__th_sodium();
  if (rc != 0) return rc;
  bx_th_endpoint *ep = bx__zalloc(sizeof *ep);
  if (ep == NULL) return BX_ENOMEM;
  ep->ctx = ctx;
  memcpy(ep->pk, bx_th_identity_public_key(id), BX__TH_KEY);
  memcpy(ep->sk, bx__th_identity_secret(id), BX__TH_KEY);
  memcpy(ep->hashname, bx_th_identity_hashname(id), sizeof ep->hashname);
  ep_fill_opts(ep, opts);
  bx__tlink_init(&ep->tcps);
  bx__tlink_init(&ep->links);
  ep->by_hn = bx__map_new_borrowing();
  ep->by_tok = bx__map_new_borrowing();
  ep->rbuf = malloc(EP_BUF);
  ep->wbuf = malloc(EP_BUF);
  ep->cbuf = malloc(2 * EP_BUF);
  ep->ubuf = malloc(EP_BUF);
  if (ep->by_hn == NULL || ep->by_tok == NULL || ep->rbuf == NULL || ep->wbuf == NULL ||
      ep->cbuf == NULL || ep->ubuf == NULL) {
    ep_free(ep);
    return BX_ENOMEM;
  }
  ep->tracked.on_close = ep_on_ctx_close;
  bx__track(ctx, &ep->tracked);
  ep->tracked_on = true;
  rc = ep_bind_all(ep, opts);
  if (rc != 0) {
    /* Handles made so far close from the loop; the endpoint goes with the last one. */
    ep_begin_close(ep, BX_ECANCELED);
    return rc;
  }
  *out = ep;
  return 0;
}

/* ---- what this endpoint is ------------------------------------------------------------------ */

int bx_th_endpoint_port(const bx_th_endpoint *ep, unsigned i) {
  if (ep == NULL || i >= BX_TH_MAX_BINDS) return 0;
  const struct sockaddr_storage *ss = &ep->bound[i];
  if (ss->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)ss)->sin_port);
  if (ss->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
  return 0;
}

static int ep_add_path(cJSON *paths, const struct sockaddr_storage *ss, bool udp) {
  char ip[64];
  bool v6 = ss->ss_family == AF_INET6;
  int rc = v6 ? uv_ip6_name((const struct sockaddr_in6 *)ss, ip, sizeof ip)
              : uv_ip4_name((const struct sockaddr_in *)ss, ip, sizeof ip);
  if (rc != 0) return 0;
  int port = v6 ? ntohs(((const struct sockaddr_in6 *)ss)->sin6_port)
                : ntohs(((const struct sockaddr_in *)ss)->sin_port);
  cJSON *p = cJSON_CreateObject();
  if (p == NULL) return BX_ENOMEM;
  cJSON_AddItemToArray(paths, p);
  const char *type = udp ? (v6 ? "udp6" : "udp4") : (v6 ? "tcp6" : "tcp4");
  if (cJSON_AddStringToObject(p, "type", type) == NULL ||
      cJSON_AddStringToObject(p, "ip", ip) == NULL ||
      cJSON_AddNumberToObject(p, "port", port) == NULL)
    return BX_ENOMEM;
  return 0;
}

char *bx_th_endpoint_json(const bx_th_endpoint *ep) {
  if (ep == NULL) return NULL;
  char b32[64];
  bx__th_b32_encode(ep->pk, BX__TH_KEY, b32);
  cJSON *root = cJSON_CreateObject(), *keys = NULL, *paths = NULL;
  int rc = root == NULL ? BX_ENOMEM : 0;
  if (rc == 0 && cJSON_AddStringToObject(root, "hashname", ep->hashname) == NULL) rc = BX_ENOMEM;
  if (rc == 0 && ((keys = cJSON_AddObjectToObject(root, "keys")) == NULL ||
                  cJSON_AddStringToObject(keys, "3a", b32) == NULL))
    rc = BX_ENOMEM;
  if (rc == 0 && (paths = cJSON_AddArrayToObject(root, "paths")) == NULL) rc = BX_ENOMEM;
  for (unsigned i = 0; rc == 0 && i < BX_TH_MAX_BINDS; i++)
    if (ep->udp[i] != NULL || ep->listen[i] != NULL)
      rc = ep_add_path(paths, &ep->bound[i], ep->udp[i] != NULL);
  char *json = rc == 0 ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  char *text = json ? strdup(json) : NULL; /* the caller's to free(): the C library's memory */
  cJSON_free(json);
  return text;
}

void bx_th_endpoint_stats_get(const bx_th_endpoint *ep, bx_th_endpoint_stats *out) {
  if (ep == NULL || out == NULL) return;
  *out = ep->stats;
}

bx_th_link *bx_th_endpoint_link(const bx_th_endpoint *ep, const char *hashname) {
  if (ep == NULL || hashname == NULL) return NULL;
  return bx__map_get(ep->by_hn, hashname);
}

int bx_th_endpoint_handle(bx_th_endpoint *ep, const char *type, bx_th_open_cb cb, void *data) {
  if (ep == NULL || type == NULL || type[0] == '\0') return BX_EINVAL;
  for (bx__th_handler **pp = &ep->handlers; *pp != NULL; pp = &(*pp)->next) {
    if (strcmp((*pp)->type, type) != 0) continue;
    bx__th_handler *h = *pp;
    if (cb == NULL) {
      *pp = h->next;
      free(h);
    } else {
      h->cb = cb;
      h->data = data;
    }
    return 0;
  }
  if (cb == NULL) return 0;
  size_t n = strlen(type);
  bx__th_handler *h = malloc(sizeof *h + n + 1);
  if (h == NULL) return BX_ENOMEM;
  memcpy(h->type, type, n + 1);
  h->cb = cb;
  h->data = data;
  h->next = ep->handlers;
  ep->handlers = h;
  return 0;
}

/* ---- the cap on links made by unknown peers ------------------------------------------------- */

/* May k be freed to make room? Only a link no callback ever saw and nothing refers to: made by
 * a peer's handshake (not bx_th_link_new()), never UP, no channel ever (a channel's queued
 * CLOSED task points at its link), so its only other owners are the two maps and its timer. */
static bool ep_evictable(const bx_th_link *k) {
  uint32_t first_cid = k->order == BX__TH_ODD ? 1 : 2;
  return !k->dialed && !k->ever_up && !k->had_chan && k->max_in_cid == 0 &&
         k->next_cid == first_cid && !bx__tlink_listed(&k->chans);
}

static void ep_evict(bx_th_endpoint *ep, bx_th_link *k) {
  bx__th_link_stop(k);
  bx__map_del(ep->by_hn, k->hashname);
  bx__map_del(ep->by_tok, k->tokhex);
  bx__tlink_remove(&k->node);
  bx__th_link_free(k);
  ep->stranger_links--;
  ep->stats.links_evicted++;
}

int bx__th_ep_admit(bx_th_endpoint *ep) {
  if (ep->stranger_links < ep->opts.max_links) return 0;
  for (bx__tlink *n = ep->links.next; n != &ep->links; n = n->next) { /* oldest first */
    bx_th_link *k = (bx_th_link *)n;
    if (!ep_evictable(k)) continue;
    ep_evict(ep, k);
    return 0;
  }
  return BX_EQUEUEFULL;
}

/* ---- packets in and out --------------------------------------------------------------------- */

void bx__th_ep_recv(bx_th_endpoint *ep, const bx__th_path *from, uint8_t *pkt, size_t len) {
  if (ep->closing) return;
  ep->stats.packets_in++;
  if (len > BX__TH_MAX_PACKET) {
    bx__th_drop(ep, NULL, &ep->stats.oversize);
    return;
  }
  if (len < 2) {
    bx__th_drop(ep, NULL, &ep->stats.short_packets);
    return;
  }
  size_t head_len = ((size_t)pkt[0] << 8) | pkt[1];
  if (head_len > len - 2) {
    bx__th_drop(ep, NULL, &ep->stats.short_packets);
    return;
  }
  if (head_len == 1) {
    if (pkt[2] != BX__TH_CSID_3A) {
      bx__th_drop(ep, NULL, &ep->stats.unknown_csid);
      return;
    }
    bx__th_link_handshake_in(ep, from, pkt, len);
    return;
  }
  if (head_len != 0) {
    bx__th_drop(ep, NULL, head_len >= 7 ? &ep->stats.bad_json : &ep->stats.unknown_csid);
    return;
  }
  if (len < BX__TH_CHAN_OVERHEAD) {
    bx__th_drop(ep, NULL, &ep->stats.short_packets);
    return;
  }
  char hex[2 * BX__TH_TOKEN + 1];
  sodium_bin2hex(hex, sizeof hex, pkt + 2, BX__TH_TOKEN);
  bx_th_link *k = bx__map_get(ep->by_tok, hex);
  if (k == NULL) {
    bx__th_drop(ep, NULL, &ep->stats.bad_token);
    return;
  }
  bx__th_link_channel_in(k, from, pkt, len);
}

int bx__th_ep_send(bx_th_endpoint *ep, bx__th_path *path, const uint8_t *pkt, size_t len) {
  if (ep->closing) return BX_ECLOSED;
  size_t n = 0;
  int rc;
  if (path->kind == BX__TH_UDP) {
    if (ep->opts.no_cloak) {
      rc = bx__th_udp_send(ep, (struct sockaddr *)&path->addr, pkt, len);
    } else {
      rc = bx__th_cloak(pkt, len, 1, NULL, ep->cbuf, 2 * EP_BUF, &n);
      if (rc == 0) rc = bx__th_udp_send(ep, (struct sockaddr *)&path->addr, ep->cbuf, n);
    }
  } else if (path->kind == BX__TH_TCP) {
    rc = bx__th_chunk_write(pkt, len, ep->cbuf, 2 * EP_BUF, &n);
    if (rc == 0) rc = bx__th_tcp_send(ep, path, ep->cbuf, n);
  } else {
    rc = BX_EINVAL;
  }
  if (rc == 0) ep->stats.packets_out++;
  return rc;
}
