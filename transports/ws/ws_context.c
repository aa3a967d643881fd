/* The process-wide libwebsockets context ("generation") and the per-context records that hold
 * it, for the WebSocket transport (ws.c).
 *
 * Design notes
 * - One lws context per process, created on first use on the loop of the first bx context
 *   that needs it and shared by every bx context and listener after that. All WebSocket use in
 *   one process must stay on that one uv loop: a context on another loop gets BX_ENOTSUP.
 * - Each bx context that uses ws gets a tracked record holding a reference on the generation;
 *   when the last record lets go (its context closing, its connections and listeners closed),
 *   the lws context is destroyed from a uv timer (never inside an lws callback): the first
 *   lws_context_destroy() closes every lws handle, a 1 ms poll waits until lws' static uv
 *   handles (recorded at creation) are gone, the second lws_context_destroy() frees it, and
 *   only then does the closing bx context finish. So a caller's uv_run() returns with nothing
 *   of lws left and uv_loop_close() succeeds. A later use creates a fresh generation.
 * - Outbound connections use one client vhost per CA file (bx_ctx_set_tls_client()).
 * - Overrides from the environment, for tools and tests: BX_LWS_LOG (lws' log level bits,
 *   default errors only) and BX_TLS_CA (the default CA file of wss:// clients).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"

#ifdef BX_HAVE_WS

#include "ws_context.h"

static ws_gen *g_cur; /* the generation new users get (NULL: none, or it is being destroyed) */
static ws_rec *g_recs;

static void ws_lws_log(int level, const char *line) {
  (void)level;
  fprintf(stderr, "lws: %s", line);
}

typedef struct ws_walk {
  uv_handle_t **list;
  size_t n, cap;
} ws_walk;

static void ws_walk_cb(uv_handle_t *h, void *arg) {
  ws_walk *w = arg;
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 32;
    uv_handle_t **p = realloc(w->list, cap * sizeof *p);
    if (p == NULL) return;
    w->list = p;
    w->cap = cap;
  }
  w->list[w->n++] = h;
}

static bool ws_walk_has(const ws_walk *w, const uv_handle_t *h) {
  for (size_t i = 0; i < w->n; i++)
    if (w->list[i] == h) return true;
  return false;
}

static ws_gen *gen_new(uv_loop_t *loop) {
  static bool log_set;
  if (!log_set) {
    const char *lvl = getenv("BX_LWS_LOG");
    lws_set_log_level(lvl ? atoi(lvl) : LLL_ERR, ws_lws_log);
    log_set = true;
  }
  ws_gen *g = calloc(1, sizeof *g);
  if (g == NULL) return NULL;
  ws_walk before = {0}, after = {0};
  uv_walk(loop, ws_walk_cb, &before);
  struct lws_context_creation_info info;
  void *loops[1] = {loop};
  memset(&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                 LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.foreign_loops = loops;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.timeout_secs = 10; /* handshakes and HTTP round trips */
  info.gid = info.uid = -1;
  g->lctx = lws_create_context(&info);
  if (g->lctx == NULL) {
    free(before.list);
    free(g);
    return NULL;
  }
  /* lws' own uv handles: what must be gone before the second lws_context_destroy() */
  uv_walk(loop, ws_walk_cb, &after);
  for (size_t i = 0; i < after.n; i++) {
    uv_handle_t *h = after.list[i];
    if (ws_walk_has(&before, h)) continue;
    /* lws' timer, idle and event pipe must not keep the loop alive on their own (a loop
     * with nothing but an idle lws context returns from uv_run, as with tcp) */
    uv_unref(h);
    if ((h->type == UV_IDLE || h->type == UV_TIMER) && g->nstatics < WS_MAX_STATICS)
      g->statics[g->nstatics++] = h;
  }
  free(before.list);
  free(after.list);
  g->loop = loop;
  uv_timer_init(loop, &g->timer);
  g->timer.data = g;
  return g;
}

static void gen_closed_cb(uv_handle_t *h) {
  ws_gen *g = h->data;
  while (g->cvhs) {
    ws_cvh *v = g->cvhs;
    g->cvhs = v->next;
    free(v->ca);
    free(v);
  }
  ws_rec *w = g->waiter;
  free(g);
  if (w) {
    bx__untrack(w->ctx, &w->tracked);
    free(w);
  }
}

static void gen_poll_cb(uv_timer_t *t) {
  ws_gen *g = t->data;
  ws_walk now = {0};
  uv_walk(g->loop, ws_walk_cb, &now);
  bool left = false;
  for (size_t i = 0; i < g->nstatics; i++)
    if (ws_walk_has(&now, g->statics[i])) left = true;
  free(now.list);
  if (left) return;
  uv_timer_stop(t);
  lws_context_destroy(g->lctx); /* second call: frees the context */
  g->lctx = NULL;
  uv_close((uv_handle_t *)t, gen_closed_cb);
}

static void gen_destroy_cb(uv_timer_t *t) {
  ws_gen *g = t->data;
  lws_context_destroy(g->lctx); /* first call: closes every wsi and lws' handles */
  uv_timer_start(t, gen_poll_cb, 1, 1);
}

/* The last record let go: destroy, then untrack `waiter` (its context finishes closing). */
static void gen_unref(ws_gen *g, ws_rec *waiter) {
  if (--g->refs > 0) {
    bx__untrack(waiter->ctx, &waiter->tracked);
    free(waiter);
    return;
  }
  if (g_cur == g) g_cur = NULL;
  g->waiter = waiter;
  uv_timer_start(&g->timer, gen_destroy_cb, 0, 0);
}

struct lws_vhost *bx__ws_client_vhost(ws_gen *g, const char *ca,
                                      const struct lws_protocols *protocols) {
  for (ws_cvh *v = g->cvhs; v; v = v->next)
    if ((v->ca == NULL && ca == NULL) || (v->ca && ca && strcmp(v->ca, ca) == 0)) return v->vh;
  ws_cvh *v = calloc(1, sizeof *v);
  if (v == NULL || (ca && (v->ca = bx__strdup(ca)) == NULL)) {
    free(v);
    return NULL;
  }
  char name[32];
  snprintf(name, sizeof name, "bx-client-%u", ++g->seq);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.vhost_name = name;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; /* the client SSL_CTX */
  info.client_ssl_ca_filepath = ca;
  info.connect_timeout_secs = 10;
  info.ka_time = 60;
  info.ka_probes = 3;
  info.ka_interval = 10;
  v->vh = lws_create_vhost(g->lctx, &info);
  if (v->vh == NULL) {
    free(v->ca);
    free(v);
    return NULL;
  }
  v->next = g->cvhs;
  g->cvhs = v;
  return v->vh;
}

/* ---- per-context records ------------------------------------------------------------------- */

static void rec_release(ws_rec *r) {
  for (ws_rec **p = &g_recs; *p; p = &(*p)->next)
    if (*p == r) {
      *p = r->next;
      break;
    }
  free(r->ca_file);
  r->ca_file = NULL;
  if (r->gen) {
    gen_unref(r->gen, r);
    return;
  }
  bx__untrack(r->ctx, &r->tracked);
  free(r);
}

static void rec_on_close(bx__tracked *t) {
  ws_rec *r = (ws_rec *)t;
  r->closing = true;
  if (r->objects == 0) rec_release(r);
}

ws_rec *bx__ws_rec_get(bx_ctx *ctx) {
  for (ws_rec *r = g_recs; r; r = r->next)
    if (r->ctx == ctx && !r->closing) return r;
  if (bx_ctx_is_closing(ctx)) return NULL;
  ws_rec *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->ctx = ctx;
  const char *ca = getenv("BX_TLS_CA"); /* the process' default CA file */
  if (ca && *ca && (r->ca_file = bx__strdup(ca)) == NULL) {
    free(r);
    return NULL;
  }
  r->tracked.on_close = rec_on_close;
  bx__track(ctx, &r->tracked);
  r->next = g_recs;
  g_recs = r;
  return r;
}

/* The record's generation (created on first use). */
int bx__ws_rec_gen(ws_rec *r) {
  if (r->gen) return 0;
  uv_loop_t *loop = bx_ctx_loop(r->ctx);
  if (g_cur && g_cur->loop != loop) {
    bx_log(r->ctx, BX_LOG_ERROR,
           "ws: WebSocket is already in use on another uv loop of this process");
    return BX_ENOTSUP;
  }
  if (g_cur == NULL && (g_cur = gen_new(loop)) == NULL) {
    bx_log(r->ctx, BX_LOG_ERROR, "ws: cannot create the libwebsockets context");
    return BX_ENOMEM;
  }
  r->gen = g_cur;
  g_cur->refs++;
  return 0;
}

void bx__ws_rec_obj_del(ws_rec *r) {
  if (--r->objects == 0 && r->closing) rec_release(r);
}

#endif /* BX_HAVE_WS */
