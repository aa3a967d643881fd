/* Settle exactly once: the one mechanism behind "whichever comes first decides" in the call
 * runtime (rpc/call.c), Timeout (timeout.c) and Retry (retry.c).
 *
 * Design notes
 * - A record is settled by the first bx__settle() and never again. Settling stops the record's
 *   deadline and untracks it, so neither of the two events that come without a reply (the
 *   deadline, the context closing) can reach an owner that has settled; the events that do
 *   come with one (a reply, a cancel, a dropped reply box) call bx__settle() and lose when they
 *   are late. What the winner delivers, and when the owner is freed, stay the owner's.
 * - No handle is involved (the deadline is the context's service), so an owner can be freed as
 *   soon as it has settled and nothing references it.
 * - The record is tracked work of the context, but nothing waits for it to close: it untracks
 *   itself when it settles, which closing forces through expire(s, BX_ECLOSING).
 */
#include <stddef.h>
#include <stdint.h>

#include "box_internal.h"

static void st_on_close(bx__tracked *t) {
  bx__settle_rec *s = (bx__settle_rec *)t;
  s->expire(s, BX_ECLOSING);
}

static void st_fire(bx__deadline *d) {
  bx__settle_rec *s = (bx__settle_rec *)((char *)d - offsetof(bx__settle_rec, deadline));
  s->expire(s, BX_ETIMEDOUT);
}

void bx__settle_init(bx__settle_rec *s, bx_ctx *ctx, bx__settle_fn expire) {
  s->ctx = ctx;
  s->expire = expire;
  s->tracked.on_close = st_on_close;
}

void bx__settle_watch(bx__settle_rec *s) {
  bx__track(s->ctx, &s->tracked);
}

int bx__settle_after(bx__settle_rec *s, uint64_t ms) {
  return bx__deadline_start(s->ctx, &s->deadline, ms, st_fire);
}

bool bx__settle(bx__settle_rec *s) {
  if (s->settled) return false;
  s->settled = true;
  bx__deadline_stop(s->ctx, &s->deadline);
  bx__untrack(s->ctx, &s->tracked);
  return true;
}

static void st_send_error(void *box, void *code) {
  bx_send_error(box, (int)(intptr_t)code, NULL);
  bx_box_unref(box);
}

void bx__send_error_later(bx_box *box, int code) {
  if (bx__defer(bx_box_ctx(box), st_send_error, box, (void *)(intptr_t)code) != 0)
    st_send_error(box, (void *)(intptr_t)code);
}
