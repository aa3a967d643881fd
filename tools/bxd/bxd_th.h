/* bxd's telehash box host (tools/bxd/bxd_th.c): --telehash, --th-* options. */
#ifndef BXD_TH_H
#define BXD_TH_H

#include <bx.h>

#define BXD_TH_MAX_BINDS BX_TH_MAX_BINDS

typedef struct bxd_th {
  const char *binds[BXD_TH_MAX_BINDS];
  int nbinds;
  const char *id_file, *store, *ready_file;
  bx_th_box_host_opts opts;
  bx_th_identity *id;
  bx_th_endpoint *ep;
  bx_th_box_host *host;
} bxd_th;

/* The usage lines of the options. */
extern const char bxd_th_usage[];
/* Takes option a with value v: 1 when it is one of ours, 0 when not, -1 when v is bad. */
int bxd_th_option(bxd_th *t, const char *a, const char *v);
/* Whether any telehash option was given. */
bool bxd_th_wanted(const bxd_th *t);
/* Starts the endpoint and the host on ctx; prints the "telehash: {..}" line and writes the
 * ready file. 0, or nonzero with a message on stderr. */
int bxd_th_start(bxd_th *t, bx_ctx *ctx);
/* Adds the host's counters to a stats() answer. */
void bxd_th_stats(const bxd_th *t, cJSON *o);
/* Frees the host and closes the endpoint (before the context closes). */
void bxd_th_stop(bxd_th *t);

#endif
