/* Registries name boxes as services, as FOAM's BoxRegistry / BoxRegistryBox.
 *
 * A registry is itself a box. Sending it a Message dispatches as FOAM does:
 *   - SubBoxMessage{name, object}: delivers object to the box registered as name (unwrapping
 *     one level), or answers the reply box with NoSuchNameException{name};
 *   - HelloMessage: ignored;
 *   - RPCMessage register / doLookup / unregister: the registry's own skeleton. Messages from a
 *     peer (with an origin) may register and unregister only when the context allows remote
 *     registration, and may unregister only what that peer registered.
 */
#ifndef BX_REGISTRY_H
#define BX_REGISTRY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates an empty registry box (the context already has a root one: bx_ctx_registry()) in
 * *out: 0, or BX_EINVAL / BX_ENOMEM (*out NULL). */
BX_EXTERN int bx_registry_new(bx_ctx *ctx, bx_box **out);

/* Registers service under name (NULL: the registry picks an unused name). The registry adds its
 * own reference to service. When out is non-NULL it receives a new reference to the exported
 * box: a Sub box of that name over this registry (a RoundRobin for a broadcast registry).
 * Returns 0, BX_EEXIST when the name is taken, BX_EINVAL, BX_ENOTSUP when `registry` is not a
 * registry, or BX_ENOMEM. */
BX_EXTERN int bx_register(bx_box *registry, const char *name, bx_box *service, bx_box **out);
/* Removes name. Returns 0 or BX_ENOSERVICE. */
/* The seed's register(name, clientServerService, box): two callbacks decorate a registration.
 * server_box makes the box stored as the service from the one given (a server-side adapter: a
 * skeleton over an implementation, a logging or authorizing front); client_box makes the box
 * returned from the plain one register() would return (a Sub box of the name: wrap it into a
 * typed or caching client). Use it when a service is always registered together with the way
 * its clients talk to it, so that both sides of the pair come from one place. Each callback
 * returns 0 and a new reference in *out, or an error. */
typedef struct bx_client_server {
  int (*server_box)(void *data, bx_box *service, bx_box **out);
  int (*client_box)(void *data, bx_box *registered, bx_box **out);
  void *data;
} bx_client_server;

/* bx_register() with cs's decorations (cs NULL: exactly bx_register()): registers
 * server_box(service) under name and stores client_box(<the registered Sub box>) in *out (NULL:
 * made and dropped). When a callback fails, nothing stays registered and its error is
 * returned. Returns 0, the errors of bx_register(), BX_EINVAL (a callback missing, or one that
 * returned no box) or a callback's error. */
BX_EXTERN int bx_register_decorated(bx_box *registry, const char *name, const bx_client_server *cs,
                                    bx_box *service, bx_box **out);

BX_EXTERN int bx_unregister(bx_box *registry, const char *name);
/* Removes every name bound to service. Returns 0, or BX_ENOSERVICE when there was none. */
BX_EXTERN int bx_unregister_box(bx_box *registry, bx_box *service);
/* The service registered as name (borrowed), or NULL. */
BX_EXTERN bx_box *bx_lookup(bx_box *registry, const char *name);
/* The connection box that registered name (a peer's), or NULL for a name registered by local
 * code or not registered at all. Borrowed; see bx_connection_peer(). */
BX_EXTERN bx_box *bx_registry_owner(bx_box *registry, const char *name);
/* Number of registered names. */
BX_EXTERN size_t bx_registry_size(bx_box *registry);
/* Calls fn for each registered name (in no particular order). The registry must not be changed
 * from fn. Returns the number of names visited. */
typedef void (*bx_registry_visit_fn)(const char *name, bx_box *service, void *data);
BX_EXTERN size_t bx_registry_visit(bx_box *registry, bx_registry_visit_fn fn, void *data);

/* Extends a local registry's skeleton with a method: RPCMessage{name: method} sent to the
 * registry (bare, as register/doLookup are) is forwarded to handler, which answers the reply
 * box (a skeleton or Function box). The built-in methods cannot be replaced. The registry adds
 * its own reference to handler; NULL removes the method. Returns 0, BX_EINVAL, BX_EEXIST (a
 * built-in name) or BX_ENOMEM. */
BX_EXTERN int bx_registry_add_method(bx_box *registry, const char *method, bx_box *handler);

/* A broadcast registry: register() registers the service in every delegate registry and
 * returns a RoundRobin box over the boxes they returned; unregister() removes the name from
 * each. Sending it a register/unregister RPC does the same. Returns 0 and the box in *out, or
 * BX_EINVAL (no registries, or a delegate that is not a registry) or BX_ENOMEM. */
BX_EXTERN int bx_broadcast_registry_new(bx_ctx *ctx, bx_box *const *registries, size_t n,
                                        bx_box **out);

/* Named boxes: one shared box per path ("/a/b/c") and context. A path bound with
 * bx_named_bind() forwards to its binding; an unbound one resolves its last segment with
 * doLookup() on its parent path's named box ("/a/b"), queueing messages until the lookup
 * answers (NoSuchName rejects them). The root path "" is the context's root registry and the
 * context's own name is bound to it.
 *
 * bx_named_box() stores a new reference in *out and returns 0, or returns BX_EINVAL for a
 * malformed path (must start with '/', no empty segments) or BX_ENOMEM (*out NULL). */
BX_EXTERN int bx_named_box(bx_ctx *ctx, const char *path, bx_box **out);
/* Binds path to box (the context adds its own reference; NULL unbinds). Returns 0, BX_EINVAL. */
BX_EXTERN int bx_named_bind(bx_ctx *ctx, const char *path, bx_box *box);
BX_EXTERN const char *bx_named_box_path(bx_box *named); /* borrowed */

/* Lookup: resolves `name` by sending doLookup(name) to parent (a registry, local or remote),
 * queues messages meanwhile, then forwards to the result; a NoSuchName answer or an error
 * fails every queued and later message at its reply box. Returns 0 and the box in *out, or
 * BX_EINVAL (no parent or an empty name) or BX_ENOMEM. */
BX_EXTERN int bx_lookup_box_new(bx_ctx *ctx, bx_box *parent, const char *name, bx_box **out);

#ifdef __cplusplus
}
#endif
#endif /* BX_REGISTRY_H */
