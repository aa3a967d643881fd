/* Listeners and the per-context transport state.
 *
 * Design notes
 * - Each context that uses a transport gets one bx__tstate in its BX__SLOT_TRANSPORT slot,
 *   tracked with the context: it lists the context's listeners and open connections and maps
 *   URLs to the shared client boxes. Closing the context shuts the client boxes, closes every
 *   listener and connection (their pending calls fail with BX_ECLOSING), and the state
 *   untracks itself and is freed once the last handle has closed.
 * - `live` counts listeners and connections whose handles are still open; nothing is freed
 *   while libuv may still call back into it.
 * - A listener is freed after the transport reports its handle closed and its last accepted
 *   connection has closed; then (and only then) the user's close callback runs.
 */
#include <stdlib.h>
#include <string.h>

#include "transport.h"

struct bx__tstate {
  bx__tracked tracked; /* first: on_close receives this pointer */
  bx_ctx *ctx;
  bx__map *clients; /* url -> client box (one reference each) */
  bx_listener *listeners;
  bx__tlink conns; /* sentinel of the open connections */
  size_t live;     /* listeners + connections with open handles */
  bool closing;
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

/* ---- the state ----------------------------------------------------------------------------- */

static void ts_maybe_finish(bx__tstate *ts) {
  if (!ts->closing || ts->live > 0) return;
  bx__untrack(ts->ctx, &ts->tracked);
  bx__map_free(ts->clients);
  free(ts);
}

static void ts_close_clients(bx__tstate *ts) {
  size_t pos = 0;
  void *value;
  bx__map *clients = ts->clients;
  ts->clients = bx__map_new(); /* shutting a client must not see the table change under it */
  while (bx__map_next(clients, &pos, NULL, &value)) {
    bx__client_shutdown(value);
    bx_box_unref(value);
  }
  bx__map_free(clients);
}

static void ln_close(bx_listener *l);

static void ts_close_conns(bx__tstate *ts) {
  size_t n = 0, k = 0;
  for (bx__tlink *i = ts->conns.next; i != &ts->conns; i = i->next)
    n++;
  if (n == 0) return;
  bx_box **all = calloc(n, sizeof *all);
  if (all == NULL) { /* no room to hold them: close in place (closing does not unlink) */
    for (bx__tlink *i = ts->conns.next; i != &ts->conns; i = i->next)
      bx__conn_close((bx__conn *)i, BX_ECLOSING);
    return;
  }
  for (bx__tlink *i = ts->conns.next; i != &ts->conns && k < n; i = i->next)
    all[k++] = bx_box_ref(bx__conn_box((bx__conn *)i));
  for (size_t j = 0; j < k; j++) {
    bx__conn_close(bx__conn_of(all[j]), BX_ECLOSING);
    bx_box_unref(all[j]);
  }
  free(all);
}

static void ts_on_close(bx__tracked *t) {
  bx__tstate *ts = (bx__tstate *)t;
  ts->closing = true;
  *bx__ctx_slot(ts->ctx, BX__SLOT_TRANSPORT) = NULL;
  ts->live++; /* hold the state while closing everything */
  ts_close_clients(ts);
  for (bx_listener *l = ts->listeners; l != NULL; l = l->next)
    if (!l->closing) ln_close(l);
  ts_close_conns(ts);
  ts->live--;
  ts_maybe_finish(ts);
}

bx__tstate *bx__tstate_get(bx_ctx *ctx) {
  if (bx_ctx_is_closing(ctx)) return NULL;
  void **slot = bx__ctx_slot(ctx, BX__SLOT_TRANSPORT);
  if (*slot != NULL) return *slot;
  bx__tstate *ts = calloc(1, sizeof *ts);
  if (ts == NULL) return NULL;
  ts->clients = bx__map_new();
  if (ts->clients == NULL) {
    free(ts);
    return NULL;
  }
  ts->ctx = ctx;
  ts->conns.next = ts->conns.prev = &ts->conns;
  ts->tracked.on_close = ts_on_close;
  bx__track(ctx, &ts->tracked);
  *slot = ts;
  return ts;
}

bx_ctx *bx__tstate_ctx(bx__tstate *ts) {
  return ts->ctx;
}

void bx__tstate_add_conn(bx__tstate *ts, bx__conn *c) {
  bx__tlink *l = (bx__tlink *)c;
  l->next = ts->conns.next;
  l->prev = &ts->conns;
  ts->conns.next->prev = l;
  ts->conns.next = l;
  ts->live++;
}

void bx__tstate_remove_conn(bx__tstate *ts, bx__conn *c) {
  bx__tlink *l = (bx__tlink *)c;
  if (l->next == NULL) return;
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->next = l->prev = NULL;
  ts->live--;
  ts_maybe_finish(ts);
}

int bx__tstate_client(bx__tstate *ts, const char *url, const bx_transport_limits *limits,
                      bx_box **out) {
  bx_box *b = bx__map_get(ts->clients, url);
  if (b != NULL) {
    *out = bx_box_ref(b);
    return 0;
  }
  const char *addr;
  const bx__tran *tran = bx__tran_find(url, &addr);
  if (tran == NULL) return BX_EINVAL;
  b = bx__client_new(ts, tran, url, limits);
  if (b == NULL) return BX_ENOMEM;
  if (bx__map_put(ts->clients, url, b, NULL) != 0) {
    bx__client_shutdown(b);
    bx_box_unref(b);
    return BX_ENOMEM;
  }
  *out = bx_box_ref(b);
  return 0;
}

/* ---- listeners ----------------------------------------------------------------------------- */

static void ln_unlink(bx_listener *l) {
  bx__tstate *ts = l->ts;
  if (l->prev)
    l->prev->next = l->next;
  else
    ts->listeners = l->next;
  if (l->next) l->next->prev = l->prev;
  l->prev = l->next = NULL;
}

static void ln_maybe_free(bx_listener *l) {
  if (!l->handle_closed || l->live > 0) return;
  bx__tstate *ts = l->ts;
  ln_unlink(l);
  if (l->close_cb) l->close_cb(l, l->close_data);
  free(l->url);
  free(l);
  ts->live--;
  ts_maybe_finish(ts);
}

/* Closes l's accepted connections and its handle. */
static void ln_close(bx_listener *l) {
  l->closing = true;
  bx__tstate *ts = l->ts;
  size_t n = 0, k = 0;
  for (bx__tlink *i = ts->conns.next; i != &ts->conns; i = i->next)
    if (bx__conn_listener((bx__conn *)i) == l) n++;
  bx_box **mine = n ? calloc(n, sizeof *mine) : NULL;
  for (bx__tlink *i = ts->conns.next; mine && i != &ts->conns && k < n; i = i->next)
    if (bx__conn_listener((bx__conn *)i) == l) mine[k++] = bx_box_ref(bx__conn_box((bx__conn *)i));
  for (size_t j = 0; j < k; j++) {
    bx__conn_close(bx__conn_of(mine[j]), BX_ECONNLOST);
    bx_box_unref(mine[j]);
  }
  free(mine);
  l->tran->listen_close(l);
}

void bx__listener_closed(bx_listener *l) {
  l->handle_closed = true;
  ln_maybe_free(l);
}

void bx__listener_conn_closed(bx_listener *l) {
  if (l->live > 0) l->live--;
  ln_maybe_free(l);
}

int bx__listener_set_url(bx_listener *l, const char *url) {
  char *copy = bx__strdup(url);
  if (copy == NULL) return BX_ENOMEM;
  free(l->url);
  l->url = copy;
  return 0;
}

int bx_listen(bx_ctx *ctx, const char *url, const bx_listen_opts *opts, bx_listener **out) {
  if (out) *out = NULL;
  const char *addr;
  const bx__tran *tran = bx__tran_find(url, &addr);
  if (ctx == NULL || out == NULL || tran == NULL) return BX_EINVAL;
  bx__tstate *ts = bx__tstate_get(ctx);
  if (ts == NULL) return bx_ctx_is_closing(ctx) ? BX_ECLOSING : BX_ENOMEM;
  bx_listener *l = calloc(1, sizeof *l + tran->listener_size);
  if (l == NULL) return BX_ENOMEM;
  l->tran = tran;
  l->ts = ts;
  l->ctx = ctx;
  bx__limits_resolve(ctx, opts ? &opts->limits : NULL, &l->limits);
  l->url = bx__strdup(url);
  l->opts = opts;
  int rc = l->url ? tran->listen(l, addr) : BX_ENOMEM;
  l->opts = NULL;
  if (rc) {
    free(l->url);
    free(l);
    return rc;
  }
  l->next = ts->listeners;
  if (l->next) l->next->prev = l;
  ts->listeners = l;
  ts->live++;
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
