/* Scale-out over NATS: services and calls across machines on a NATS cluster (docs/scale.md).
 *
 * A context attached to a cluster serves every service of its root registry on the subject
 * `<prefix>.svc.<name>` in the queue group of the same name (prefix default "bx"), so several
 * instances of a service on different machines share its calls and take over from each other.
 * A client box for `nats://host:port[,host:port...]/<service>` publishes FOAM frames to that
 * subject with a reply subject on the caller's inbox. Payloads are the FOAM JSON frames bx
 * speaks everywhere, so any NATS client can call a bx service and the other way round.
 *
 * URLs: nats://[user:pass@|token@]host:port[,host:port...][/service][?prefix=P]
 * Every function runs on the context's loop thread.
 */
#ifndef BX_NATS_H
#define BX_NATS_H

#include "bx/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options of an attachment; zero fields take their defaults. Strings are copied. */
typedef struct bx_nats_opts {
  const char *prefix;         /* subject prefix (default "bx", or ?prefix= of the URL) */
  const char *user, *pass;    /* credentials (default: from the URL) */
  const char *token;          /* token (default: from the URL) */
  const char *name;           /* client name shown by the server (default: the context's name) */
  uint64_t ping_ms;           /* keepalive PING interval (default 10000); 2 unanswered: lost */
  uint64_t idle_ms;           /* a remote caller's logical connection closes after this long
                                 without traffic (default 120000) */
  bx_transport_limits limits; /* as for bx_listen (max_connections: logical callers, 65536) */
} bx_nats_opts;

/* Attaches ctx to the cluster at url (nats://seeds, no service path): connects (and keeps
 * reconnecting to any known server, re-subscribing), and serves every named service of the
 * root registry, now and as they are registered and unregistered. opts may be NULL. On success
 * *out is the attachment, a listener owned by the context: bx_listener_close() detaches.
 * Returns 0 or BX_EINVAL (malformed URL, a prefix that is not a subject token) / BX_ENOMEM /
 * BX_EQUEUEFULL (the registry has no observer slot left). */
BX_EXTERN int bx_nats_attach(bx_ctx *ctx, const char *url, const bx_nats_opts *opts,
                             bx_listener **out);
/* A box for one service of the cluster: url is nats://seeds/<service>; the box is
 * SubBox(<service>, bx_connect(ctx, url)) and addresses the service directly (send it
 * RPC messages, or use it with bx_call_json). *out is a new reference (the caller's). Returns
 * 0 or BX_EINVAL / BX_ENOMEM / BX_ECLOSING. */
BX_EXTERN int bx_nats_service(bx_ctx *ctx, const char *url, bx_box **out);
/* Whether an attachment is connected to a server now (its subscriptions in place). */
BX_EXTERN bool bx_nats_connected(const bx_listener *l);
/* The number of services an attachment serves (subscriptions it keeps). */
BX_EXTERN size_t bx_nats_services(const bx_listener *l);

/* Federation (bxd --nats): every interval_ms (0: 1000) the attachment asks the cluster who
 * serves what (`<prefix>.ls`, answered by every attachment with the names it serves) and keeps
 * a proxy in the root registry for each service the cluster serves that this context has not
 * got, so local clients call it by name; a proxy goes when nobody announces the name any more
 * (its calls meanwhile fail with BX_ENOSERVICE: no responders). Proxies are never served back
 * to the cluster. Returns 0 or BX_EINVAL (not an attachment, or already federating) /
 * BX_ENOMEM. */
BX_EXTERN int bx_nats_federate(bx_listener *l, uint64_t interval_ms);
/* Visits the services of the cluster as last seen: those l serves (local true), then the
 * others announced in the last complete round. Returns how many were visited. */
typedef void (*bx_nats_name_fn)(const char *name, bool local, void *data);
BX_EXTERN size_t bx_nats_cluster_services(const bx_listener *l, bx_nats_name_fn fn, void *data);

#ifdef __cplusplus
}
#endif
#endif /* BX_NATS_H */
