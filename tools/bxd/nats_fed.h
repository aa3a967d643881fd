/* bxd --nats: the hub's registry on a NATS cluster (tools/bxd/nats_fed.c). */
#ifndef BXD_NATS_FED_H
#define BXD_NATS_FED_H

#include "bx.h"

/* Attaches ctx to the cluster at url (nats://host:port[,...]): the hub's services are served
 * to the cluster, the cluster's services become callable by name here (federation), and the
 * registry method "clusterList" answers [{"name":..,"local":bool}] (bxctl ls --cluster).
 * Returns 0 or a BX_E* code (the reason is printed on stderr). */
int bxd_nats_start(bx_ctx *ctx, const char *url);

#endif /* BXD_NATS_FED_H */
