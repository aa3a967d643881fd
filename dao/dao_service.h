/* The DAO service's state, shared by service.c and listeners.c. */
#ifndef BX_DAO_SERVICE_H
#define BX_DAO_SERVICE_H

#include "dao_internal.h"

typedef struct bx__dao_listener {
  bx_box *sink; /* the ClientSink's box (a reference) */
  bx_mlang *pred;
  bx_box *conn;                  /* the connection listen_ came over (a reference), or NULL */
  struct bx__dao_listener *next; /* newest first */
} bx__dao_listener;

typedef struct bx__dao_svc {
  bx_ctx *ctx;
  const bx_dao_model *model;
  bx_dao_store *store;
  bx_dao_service_opts opts;
  bx__dao_listener *listeners;
  size_t nlisteners;
} bx__dao_svc;

/* Answers req with RPCErrorMessage{data: text} (nothing when it has no reply box). */
void bx__dao_fail(bx__dao_svc *sv, const bx_msg *req, const char *text);
/* One one-way sink call (put/remove/reset with obj, eof without) to box. */
int bx__dao_sink_call(bx_box *box, const char *name, const cJSON *obj);
/* Attaches a listener (takes pred; box referenced). BX_EQUEUEFULL past max_listeners. */
int bx__dao_listen(bx__dao_svc *sv, bx_box *box, bx_box *conn, bx_mlang *pred);
/* Tells every listener about a change ("put" / "remove" of obj). */
void bx__dao_notify(bx__dao_svc *sv, const char *what, const cJSON *obj);
void bx__dao_listeners_free(bx__dao_svc *sv);

#endif
