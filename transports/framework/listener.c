/* Listeners: bx_listen() and friends.
 *
 * Design notes
 * - A listener joins the context's transport state while open; closing the context closes it
 *   like bx_listener_close(), after the peers (which then fail with BX_ECLOSING).
 * - The transport makes links for what it accepts (a solo link per stream connection, or one
 *   shared endpoint); the listener keeps the list of them. Closing a listener closes those
 *   links (their peers fail with BX_ECONNLOST) and then its own handle.
 * - A listener is freed after the transport reports its handle closed and its last link has
 *   been freed; then (and only then) the user's close callback runs.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"

#define LN_LINK(node) ((bx__link *)((char *)(node)-offsetof(bx__link, on_listener)))

static void ln_maybe_free(bx_listener *l) {
  if (!l->handle_closed || l->links.next != &l->links) return;
  bx__tstate *ts = l->ts;
  if (l->close_cb) l->close_cb(l, l->close_data);
  bx__free(l->url);
  bx__tstate_leave(ts, &l->member);
  bx__free(l);
}

/* Closes l's links (and so the peers on them) and its handle. */
static void ln_close(bx_listener *l) {
  l->closing = true;
  bx__tlink *n = l->links.next;
  while (n != &l->links) {
    bx__link *k = LN_LINK(n);
    if (!k->closing) {
      bx__link_close(k, BX_ECONNLOST); /* may free links: start over */
      n = l->links.next;
      continue;
    }
    n = n->next;
  }
  l->tran->listen_close(l);
}

static void ln_member_close(bx__tmember *m) {
  bx_listener *l = (bx_listener *)m;
  if (!l->closing) ln_close(l);
}

void bx__listener_closed(bx_listener *l) {
  l->handle_closed = true;
  ln_maybe_free(l);
}

void bx__listener_link_gone(bx_listener *l) {
  ln_maybe_free(l);
}

int bx__listener_set_url(bx_listener *l, const char *url) {
  char *copy = bx__strdup(url);
  if (copy == NULL) return BX_ENOMEM;
  bx__free(l->url);
  l->url = copy;
  return 0;
}

int bx_listen(bx_ctx *ctx, const char *url, const bx_listen_opts *opts, bx_listener **out) {
  if (out) *out = NULL;
  const char *addr;
  const bx__tran *tran = bx__tran_find(url, &addr);
  if (ctx == NULL || out == NULL || tran == NULL) return BX_EINVAL;
  if (opts && opts->inherited_fd != 0 && !(tran->flags & BX__TRAN_ADOPTS_FD)) return BX_ENOTSUP;
  bx__tstate *ts = bx__tstate_get(ctx);
  if (ts == NULL) return bx_ctx_is_closing(ctx) ? BX_ECLOSING : BX_ENOMEM;
  bx_listener *l = bx__calloc(1, sizeof *l + tran->listener_size);
  if (l == NULL) return BX_ENOMEM;
  l->tran = tran;
  l->ts = ts;
  l->ctx = ctx;
  bx__tlink_init(&l->links);
  bx__limits_resolve(ctx, tran, opts ? &opts->limits : NULL, &l->limits);
  l->url = bx__strdup(url);
  int rc = l->url ? tran->listen(l, addr, opts) : BX_ENOMEM;
  if (rc) {
    bx__free(l->url);
    bx__free(l);
    return rc;
  }
  l->member.kind = BX__TM_LISTENER;
  l->member.close = ln_member_close;
  bx__tstate_join(ts, &l->member);
  bx_log(ctx, BX_LOG_INFO, "listening on %s", l->url);
  *out = l;
  return 0;
}

const char *bx_listener_url(const bx_listener *l) {
  return l ? l->url : NULL;
}

size_t bx_listener_connections(const bx_listener *l) {
  return l ? l->nconns : 0;
}

int bx_listener_close(bx_listener *l, bx_listener_close_cb cb, void *data) {
  if (l == NULL || l->closing) return BX_EINVAL;
  l->close_cb = cb;
  l->close_data = data;
  ln_close(l);
  return 0;
}
