/* Links: what a transport moves bytes over (a socket, a UDP endpoint, an in-memory pipe), and
 * the peers each one carries.
 *
 * Design notes
 * - A link is made by its transport (bx__link_new) when it dials, accepts or binds, and joins
 *   the context's transport state. Peers attach to it (bx__link_attach); a solo link carries
 *   exactly one and closes when that peer closes, a shared one stays until it is closed.
 * - Closing a link closes its peers with the link's reason, then asks the transport to close
 *   its handles. Once the transport reports them closed (bx__link_closed), the peers still on
 *   it are released and the link is freed; the listener it belongs to then counts it gone.
 * - Writes are peer.c's (the write pump): a link only holds the turn of the peers waiting.
 */
#include <stddef.h>
#include <stdlib.h>

#include "framework.h"

static void lk_member_close(bx__tmember *m) {
  bx__link_close((bx__link *)m, BX_ECLOSING);
}

bx__link *bx__link_new(bx__tstate *ts, const bx__tran *tran, bx_listener *l, bool solo) {
  bx__link *k = bx__calloc(1, sizeof *k + tran->link_size);
  if (k == NULL) return NULL;
  k->ts = ts;
  k->tran = tran;
  k->ctx = bx__tstate_ctx(ts);
  k->listener = l;
  k->solo = solo;
  bx__tlink_init(&k->peers);
  bx__tlink_init(&k->wants);
  k->member.kind = BX__TM_LINK;
  k->member.close = lk_member_close;
  bx__tstate_join(ts, &k->member);
  if (l != NULL) bx__tlink_push(&l->links, &k->on_listener);
  return k;
}

static void lk_free(bx__link *k) {
  bx_listener *l = k->listener;
  bx__tlink_remove(&k->on_listener);
  bx__tstate_leave(k->ts, &k->member);
  bx__free(k);
  if (l != NULL) bx__listener_link_gone(l);
}

void bx__link_close(bx__link *k, int code) {
  if (k->closing) return;
  k->closing = true;
  bx__link_close_peers(k, code);
  k->tran->link_close(k);
}

void bx__link_closed(bx__link *k) {
  if (k->handle_closed) return;
  k->handle_closed = true;
  bx__link_release_peers(k);
  lk_free(k);
}
