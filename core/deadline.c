/* The deadline service: one uv timer per context over a binary min-heap of deadlines that live
 * inside their owners (a call, a Timeout guard, a Retry call).
 *
 * Design notes
 * - Order is (due, seq): seq counts starts on the context, so deadlines due at the same time
 *   fire in the order they were started (a restart counts as a start).
 * - A deadline's slot is 1 + its heap index while pending and 0 when stopped, so a zeroed
 *   deadline is stopped, and stop and restart find their entry without a search. The heap
 *   holds pointers and grows by doubling; a start allocates nothing else.
 * - The timer is armed for the earliest deadline, lazily: a start re-arms it only when it is
 *   due before the time the timer is set for, and a stop never touches it. What keeps the loop
 *   alive is the timer's reference (uv_ref), held exactly while a deadline is pending: when the
 *   heap empties the timer is only unref'd, still armed. So a call after a call costs a ref and
 *   an unref, not a timer start and stop (a libuv heap insert and removal each). A timer that
 *   fires early finds nothing due and re-arms for the top, or stays stopped when none is left.
 * - Firing: one pass (a timer callback) fires, in order, the deadlines due at the loop's time
 *   that were started before the pass began; each leaves the heap before its callback runs,
 *   and the pass reads the top afresh after every callback, so a callback may stop or start
 *   anything. A deadline (re)started during the pass waits for the next pass even if it is
 *   already due (the timer is re-armed for it with 0 ms, as a uv timer restarted from its own
 *   callback would be), so a callback restarting itself with 0 ms cannot spin inside a pass.
 * - Closing: the owners of pending deadlines are tracked work, which stage one of closing
 *   cancels (and so stops their deadlines). The service is then halted: its timer stops for
 *   good and nothing fires, even a deadline started afterwards. ctx.c closes the timer with
 *   its idle handle.
 */
#include "core.h"

static bool dl_before(const bx__deadline *a, const bx__deadline *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* ---- the heap ------------------------------------------------------------------------------ */

static void dl_set(bx__deadlines *ds, size_t i, bx__deadline *d) {
  ds->heap[i] = d;
  d->slot = i + 1;
}

static void dl_up(bx__deadlines *ds, size_t i) {
  bx__deadline *d = ds->heap[i];
  while (i > 0 && dl_before(d, ds->heap[(i - 1) / 2])) {
    dl_set(ds, i, ds->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  dl_set(ds, i, d);
}

static void dl_down(bx__deadlines *ds, size_t i) {
  bx__deadline *d = ds->heap[i];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const bx__deadline *best = d;
    if (l < ds->n && dl_before(ds->heap[l], best)) m = l, best = ds->heap[l];
    if (r < ds->n && dl_before(ds->heap[r], best)) m = r;
    if (m == i) break;
    dl_set(ds, i, ds->heap[m]);
    i = m;
  }
  dl_set(ds, i, d);
}

/* Puts the entry at i where its (changed) order belongs. */
static void dl_fix(bx__deadlines *ds, size_t i) {
  if (i > 0 && dl_before(ds->heap[i], ds->heap[(i - 1) / 2]))
    dl_up(ds, i);
  else
    dl_down(ds, i);
}

static int dl_push(bx__deadlines *ds, bx__deadline *d) {
  if (ds->n == ds->cap) {
    size_t cap = ds->cap ? ds->cap * 2 : 16;
    bx__deadline **h = bx__realloc(ds->heap, cap * sizeof *h);
    if (h == NULL) return BX_ENOMEM;
    ds->heap = h;
    ds->cap = cap;
  }
  dl_set(ds, ds->n++, d);
  dl_up(ds, ds->n - 1);
  return 0;
}

static void dl_remove(bx__deadlines *ds, bx__deadline *d) {
  size_t i = d->slot - 1;
  d->slot = 0;
  bx__deadline *last = ds->heap[--ds->n];
  if (i == ds->n) return;
  dl_set(ds, i, last);
  dl_fix(ds, i);
}

/* ---- the timer ----------------------------------------------------------------------------- */

static void dl_timer_cb(uv_timer_t *t);

/* Arms the timer for the top when that is due before the timer would fire. */
static void dl_arm(bx__deadlines *ds) {
  if (ds->halted || ds->n == 0) return;
  uint64_t due = ds->heap[0]->due;
  if (ds->armed && ds->at <= due) return;
  uint64_t now = uv_now(ds->timer.loop);
  uv_timer_start(&ds->timer, dl_timer_cb, due > now ? due - now : 0, 0);
  ds->armed = true;
  ds->at = due;
}

/* Takes or drops the timer's reference on the loop: held while a deadline is pending. */
static void dl_hold(bx__deadlines *ds, bool hold) {
  if (ds->held == hold) return;
  if (hold)
    uv_ref((uv_handle_t *)&ds->timer);
  else
    uv_unref((uv_handle_t *)&ds->timer);
  ds->held = hold;
}

static void dl_timer_cb(uv_timer_t *t) {
  bx__deadlines *ds = (bx__deadlines *)t;
  ds->armed = false; /* one-shot: it has stopped */
  uint64_t now = uv_now(t->loop), started_before = ds->seq;
  while (ds->n > 0 && !ds->halted) {
    bx__deadline *d = ds->heap[0];
    /* Order is (due, seq): a top started during this pass means none of the rest is due. */
    if (d->due > now || d->seq >= started_before) break;
    dl_remove(ds, d);
    d->fire(d);
  }
  dl_hold(ds, ds->n > 0);
  dl_arm(ds);
}

/* ---- deadlines ----------------------------------------------------------------------------- */

int bx__deadline_start(bx_ctx *ctx, bx__deadline *d, uint64_t ms, bx__deadline_fn fire) {
  bx__deadlines *ds = bx__ctx_deadlines(ctx);
  uint64_t now = uv_now(ds->timer.loop);
  d->due = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
  d->seq = ds->seq++;
  d->fire = fire;
  if (d->slot != 0) {
    dl_fix(ds, d->slot - 1);
  } else if (dl_push(ds, d) != 0) {
    return BX_ENOMEM;
  }
  dl_hold(ds, true);
  dl_arm(ds);
  return 0;
}

void bx__deadline_stop(bx_ctx *ctx, bx__deadline *d) {
  if (d->slot == 0) return;
  bx__deadlines *ds = bx__ctx_deadlines(ctx);
  dl_remove(ds, d);
  if (ds->n == 0) dl_hold(ds, false); /* the timer stays armed, for the next start to reuse */
}

/* ---- the context's side -------------------------------------------------------------------- */

int bx__deadlines_init(bx__deadlines *ds, uv_loop_t *loop) {
  int rc = uv_timer_init(loop, &ds->timer);
  if (rc == 0) uv_unref((uv_handle_t *)&ds->timer); /* nothing pending yet */
  return rc;
}

void bx__deadlines_halt(bx__deadlines *ds) {
  uv_timer_stop(&ds->timer);
  ds->armed = false;
  ds->halted = true;
}

void bx__deadlines_close(bx__deadlines *ds, uv_close_cb cb) {
  bx__deadlines_halt(ds);
  bx__free(ds->heap); /* anything still listed belongs to owners that are gone */
  ds->heap = NULL;
  ds->n = ds->cap = 0;
  uv_close((uv_handle_t *)&ds->timer, cb);
}
