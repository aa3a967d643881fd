/* telehash over UDP (spec/telehash section 5): one packet per datagram, cloaked.
 *
 * Design notes
 * - One uv_udp_t per UDP bind string; every link shares them. A datagram is read into the
 *   endpoint's buffer (ep->ubuf, the largest datagram), uncloaked in place (any number of
 *   rounds: telehash-js cloaks everything) and handed to the endpoint's dispatch with its
 *   source address as the path. A truncated datagram is counted as oversize.
 * - A send goes out of the first socket of the destination's address family, at once with
 *   uv_udp_try_send() when the socket takes it (the common case: no allocation, no copy, no
 *   completion callback); otherwise (UV_EAGAIN with sends already queued, or any error) the
 *   bytes are copied into a queued request, whose outcome is ignored as a lost datagram's is,
 *   so the caller's buffer is free again at once either way.
 */
#include "th_internal.h"

typedef struct ud_req {
  uv_udp_send_t req; /* first */
  size_t len;
  uint8_t data[];
} ud_req;

static void ud_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  bx_th_endpoint *ep = h->data;
  *buf = uv_buf_init((char *)ep->ubuf, BX__TH_MAX_PACKET + 1024);
}

static void ud_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  bx_th_endpoint *ep = h->data;
  if (ep->closing || nread <= 0 || addr == NULL) return;
  if (flags & UV_UDP_PARTIAL) {
    ep->stats.packets_in++;
    bx__th_drop(ep, NULL, &ep->stats.oversize);
    return;
  }
  uint8_t *p = (uint8_t *)buf->base;
  size_t off = 0;
  if (bx__th_uncloak(p, (size_t)nread, &off) != 0) {
    ep->stats.packets_in++;
    bx__th_drop(ep, NULL, &ep->stats.short_packets);
    return;
  }
  bx__th_path from = {.kind = BX__TH_UDP};
  memcpy(&from.addr, addr,
         addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  bx__th_ep_recv(ep, &from, p + off, (size_t)nread - off);
}

int bx__th_udp_bind(bx_th_endpoint *ep, unsigned i, const struct sockaddr *sa) {
  uv_udp_t *h = malloc(sizeof *h);
  if (h == NULL) return BX_ENOMEM;
  int rc = uv_udp_init(bx_ctx_loop(ep->ctx), h);
  if (rc != 0) {
    free(h);
    return rc;
  }
  h->data = ep;
  ep->udp[i] = h;
  ep->handles++;
  rc = uv_udp_bind(h, sa, sa->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
  int len = sizeof ep->bound[i];
  if (rc == 0) rc = uv_udp_getsockname(h, (struct sockaddr *)&ep->bound[i], &len);
  if (rc == 0) rc = uv_udp_recv_start(h, ud_alloc, ud_recv);
  return rc;
}

static void ud_sent(uv_udp_send_t *req, int status) {
  (void)status; /* a datagram may be lost anyway: the protocol resends */
  free(req);
}

int bx__th_udp_send(bx_th_endpoint *ep, const struct sockaddr *to, const uint8_t *p, size_t n) {
  uv_udp_t *h = NULL;
  for (unsigned i = 0; i < BX_TH_MAX_BINDS && h == NULL; i++)
    if (ep->udp[i] != NULL && ep->bound[i].ss_family == to->sa_family) h = ep->udp[i];
  if (h == NULL) return UV_EAFNOSUPPORT;
  uv_buf_t direct = uv_buf_init((char *)p, (unsigned)n);
  int sent = uv_udp_try_send(h, &direct, 1, to);
  if (sent >= 0) return 0; /* else queued, as before: its error, if any, comes to ud_sent */
  ud_req *r = malloc(sizeof *r + n);
  if (r == NULL) return BX_ENOMEM;
  r->len = n;
  memcpy(r->data, p, n);
  uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)n);
  int rc = uv_udp_send(&r->req, h, &b, 1, to, ud_sent);
  if (rc != 0) free(r);
  return rc;
}
