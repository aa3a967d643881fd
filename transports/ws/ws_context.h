/* The WebSocket transport's private header (never installed): the process-wide libwebsockets
 * context and the per-context records (ws_context.c), shared with the transport (ws.c). */
#ifndef BX_TRANSPORTS_WS_CONTEXT_H
#define BX_TRANSPORTS_WS_CONTEXT_H

#include "framework.h"

#include <uv.h> /* before libwebsockets.h: lws' headers look at UV_ERRNO_MAP */
#include <libwebsockets.h>

#define WS_MAX_STATICS 8

typedef struct ws_cvh { /* a client vhost */
  char *ca;             /* NULL: the system's CAs */
  struct lws_vhost *vh;
  struct ws_cvh *next;
} ws_cvh;

typedef struct ws_rec ws_rec;

typedef struct ws_gen {
  struct lws_context *lctx;
  uv_loop_t *loop;
  uv_timer_t timer; /* the destroy steps */
  uv_handle_t *statics[WS_MAX_STATICS];
  size_t nstatics;
  ws_cvh *cvhs;
  unsigned refs; /* records holding it */
  unsigned seq;  /* vhost names */
  ws_rec *waiter;
} ws_gen;

/* Per bx context that uses ws. */
struct ws_rec {
  bx__tracked tracked; /* first */
  bx_ctx *ctx;
  ws_gen *gen;    /* referenced while set */
  size_t objects; /* listeners and connections not reported closed yet */
  bool closing;
  char *ca_file;
  bool allow_self_signed;
  ws_rec *next;
};

/* The record of ctx (made and tracked on first use), or NULL (closing, out of memory). */
ws_rec *bx__ws_rec_get(bx_ctx *ctx);
/* Gives the record the process' lws context (made on first use on ctx's loop). Returns 0,
 * BX_ENOTSUP (lws is in use on another loop) or BX_ENOMEM. */
int bx__ws_rec_gen(ws_rec *r);
/* A listener or connection of the record starts (objects++) or was reported closed. */
void bx__ws_rec_obj_del(ws_rec *r);
/* The client vhost of the generation for a CA file (NULL: the system's), with the transport's
 * protocols; NULL on failure. */
struct lws_vhost *bx__ws_client_vhost(ws_gen *g, const char *ca,
                                      const struct lws_protocols *protocols);

#endif /* BX_TRANSPORTS_WS_CONTEXT_H */
