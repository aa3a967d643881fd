/* The per-context transport state: what a context's transports have open, their counters, and
 * the shared client boxes.
 *
 * Design notes
 * - Each context that uses a transport gets one bx__tstate in its BX__SLOT_TRANSPORT slot,
 *   tracked with the context. Peers, links, listeners and client boxes join it as members
 *   while they hold handles or state (bx__tstate_join), each on the list of its kind.
 * - Closing the context closes every member, kind by kind in the order of bx__tm_kind: peers
 *   first (their calls fail with BX_ECLOSING), then client boxes, links and listeners. A
 *   closed member moves to the closing list before its close runs, so each is closed once
 *   however closing one affects the others. The state untracks itself
 *   and is freed once every member has left (bx__tstate_leave).
 */
#include <stdlib.h>
#include <string.h>

#include "framework.h"

struct bx__tstate {
  bx__tracked tracked; /* first: on_close receives this pointer */
  bx_ctx *ctx;
  bx__map *clients;             /* url -> client box (one reference each) */
  bx__tlink open[BX__TM_KINDS]; /* members not closed by the state yet, by kind */
  bx__tlink closing;            /* members the state has closed */
  size_t live;                  /* members */
  bool shutting;                /* the context is closing */
  bx__conn *source;             /* the peer whose message is being dispatched, or NULL */
  bx_transport_stats stats;
};

bx_transport_stats *bx__tstate_stats(bx__tstate *ts) {
  return &ts->stats;
}

void bx_transport_stats_get(bx_ctx *ctx, bx_transport_stats *out) {
  bx__tstate *ts = *bx__ctx_slot(ctx, BX__SLOT_TRANSPORT);
  if (ts)
    *out = ts->stats;
  else
    memset(out, 0, sizeof *out);
}

bx_ctx *bx__tstate_ctx(bx__tstate *ts) {
  return ts->ctx;
}

bx__map *bx__tstate_clients(bx__tstate *ts) {
  return ts->shutting ? NULL : ts->clients;
}

bx__conn *bx__tstate_source(bx__tstate *ts) {
  return ts->source;
}

void bx__tstate_set_source(bx__tstate *ts, bx__conn *c) {
  ts->source = c;
}

static void ts_maybe_finish(bx__tstate *ts) {
  if (!ts->shutting || ts->live > 0) return;
  bx__untrack(ts->ctx, &ts->tracked);
  bx__map_free(ts->clients);
  bx__free(ts);
}

void bx__tstate_join(bx__tstate *ts, bx__tmember *m) {
  bx__tlink_push(ts->shutting ? &ts->closing : &ts->open[m->kind], &m->node);
  ts->live++;
}

void bx__tstate_leave(bx__tstate *ts, bx__tmember *m) {
  if (!bx__tlink_listed(&m->node)) return;
  bx__tlink_remove(&m->node);
  ts->live--;
  ts_maybe_finish(ts);
}

/* Closes every open member of a kind, each once: a closed member moves to the closing list
 * before its close runs, which may close others. */
static void ts_close_kind(bx__tstate *ts, int kind) {
  bx__tlink *head = &ts->open[kind];
  while (head->next != head) {
    bx__tmember *m = (bx__tmember *)head->next;
    bx__tlink_remove(&m->node);
    bx__tlink_push(&ts->closing, &m->node);
    m->close(m);
  }
}

static void ts_on_close(bx__tracked *t) {
  bx__tstate *ts = (bx__tstate *)t;
  ts->shutting = true;
  *bx__ctx_slot(ts->ctx, BX__SLOT_TRANSPORT) = NULL;
  ts->live++; /* hold the state while closing everything */
  for (int k = 0; k < BX__TM_KINDS; k++)
    ts_close_kind(ts, k);
  size_t pos = 0;
  void *value;
  while (bx__map_next(ts->clients, &pos, NULL, &value))
    bx_box_unref(value);
  bx__map_free(ts->clients);
  ts->clients = bx__map_new();
  ts->live--;
  ts_maybe_finish(ts);
}

bx__tstate *bx__tstate_get(bx_ctx *ctx) {
  if (bx_ctx_is_closing(ctx)) return NULL;
  void **slot = bx__ctx_slot(ctx, BX__SLOT_TRANSPORT);
  if (*slot != NULL) return *slot;
  bx__tstate *ts = bx__calloc(1, sizeof *ts);
  if (ts == NULL) return NULL;
  ts->clients = bx__map_new();
  if (ts->clients == NULL) {
    bx__free(ts);
    return NULL;
  }
  ts->ctx = ctx;
  for (int k = 0; k < BX__TM_KINDS; k++)
    bx__tlink_init(&ts->open[k]);
  bx__tlink_init(&ts->closing);
  ts->tracked.on_close = ts_on_close;
  bx__track(ctx, &ts->tracked);
  *slot = ts;
  return ts;
}
