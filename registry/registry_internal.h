/* The registry layer's private header (never installed): registries, named and lookup boxes,
 * exports, and the context's constructor.
 *
 * Design notes
 * - Above the codec, below RPC. The registry layer makes the context (bx_ctx_new in
 *   context.c): the ground floor's context with the codec's state and its own (root registry,
 *   `me`, the named-box table) as tenants, and the codec's hooks for exporting boxes and
 *   resolving NamedBox paths (export.c, named.c).
 * - Two kinds of registry box, the local one (registry.c) and the broadcast one
 *   (broadcast_registry.c), implement one ops table, bx__registry_kind. Code that works on "a
 *   registry" (the public API, the register / doLookup / unregister skeleton, a broadcast
 *   registry's delegates) finds the kind once with bx__registry_kind_of() and calls its slots;
 *   it never asks which kind it holds. What only the local kind has (owners, one-shot exports,
 *   extension methods, size and visit) stays local-only functions below.
 */
#ifndef BX_REGISTRY_INTERNAL_H
#define BX_REGISTRY_INTERNAL_H

#include "codec_internal.h"

/* Ops tables of the registry layer's boxes that other modules recognise. */
extern const bx_box_ops bx__registry_box_ops;
extern const bx_box_ops bx__named_box_ops;

/* A kind of registry box. Every slot is required; self is a box of this kind. `owner` is the
 * connection box a request came from (an identity, not a reference), NULL for local code; with
 * `check`, only what owner registered may be removed. */
typedef struct bx__registry_kind {
  const bx_box_ops *box; /* the ops of this kind's boxes */
  /* Registers service under name (NULL: a fresh name, bx__registry_fresh_name()) for owner;
   * adds its own references to service. When out is non-NULL it receives a new reference to
   * the box that reaches the service (the caller owns it). All or nothing: on error nothing
   * stays registered and no reference is returned. Returns 0, BX_EEXIST (the name is taken; a
   * peer may re-register its own names, never another's), BX_EINVAL or BX_ENOMEM. */
  int (*add)(bx_box *self, const char *name, bx_box *service, bx_box *owner, bx_box **out);
  /* Removes name. Returns 0, BX_ENOSERVICE (not there) or BX_EPERM (check, another owner's). */
  int (*remove_name)(bx_box *self, const char *name, bx_box *owner, bool check);
  /* Removes every name bound to (structurally, bx__box_same()) service. Returns 0 when one
   * went, else BX_EPERM (check, only others' matched) or BX_ENOSERVICE (none matched). */
  int (*remove_box)(bx_box *self, bx_box *service, bx_box *owner, bool check);
  /* The service registered as name (borrowed), or NULL. */
  bx_box *(*lookup)(bx_box *self, const char *name);
  /* A new reference to the box a peer should use to reach name (doLookup's answer; the caller
   * owns it), or NULL when name is not registered or on allocation failure. */
  bx_box *(*export_name)(bx_box *self, const char *name);
} bx__registry_kind;

/* The kind of a registry box (borrowed, static), or NULL when box is not one. */
const bx__registry_kind *bx__registry_kind_of(const bx_box *box);
extern const bx__registry_kind bx__broadcast_registry_kind;
/* Writes into buf (at least BX__REGISTRY_NAME_SIZE bytes) a decimal name from the context's
 * id sequence that kind->lookup(self, ...) does not know. Returns 0, or BX_EEXIST when a
 * thousand tries all were taken. */
enum { BX__REGISTRY_NAME_SIZE = 21 };
int bx__registry_fresh_name(bx_box *self, const bx__registry_kind *kind, char *buf);

/* export.c: the codec's export hooks. bx__export_register() exports box for ex->target (see
 * bx__codec_hooks.export_box); bx__unexport() removes box's one-shot export from the root
 * registry, if it is still there (a call that completed without its reply). */
int bx__export_register(bx_export *ex, bx_box *box, const char **name);
void bx__unexport(bx_ctx *ctx, bx_box *box);
extern const bx__codec_hooks bx__registry_codec_hooks;

typedef struct bx__reg_opts {
  bool one_shot; /* remove after the first message delivered to it */
  bx_box *owner; /* the connection box that registered it (borrowed id, not a reference) */
  size_t *owned; /* owner's count of its entries: one added now, taken off when it goes; or NULL */
} bx__reg_opts;
/* Like bx_register() on a local registry box, with options; out_name (optional) receives the
 * name (borrowed, valid while registered). */
int bx__registry_add(bx_box *registry, const char *name, bx_box *service, const bx__reg_opts *opts,
                     const char **out_name);
/* The service a message sent to SubBox{name, registry} would reach — a lasting entry of a
 * local registry box (not a one-shot export) — or NULL (borrowed). */
bx_box *bx__registry_target(bx_box *registry, const char *name);
/* Removes every entry owned by owner (a closed connection). Returns the number removed. */
size_t bx__registry_drop_owner(bx_box *registry, bx_box *owner);
/* A frame for the one-shot export `name` owned by owner could not be decoded: removes it and
 * answers it with bx_msg_new_error(code, text), so the call waiting for it completes now.
 * Returns 0, or BX_ENOSERVICE when name is not such an export. */
int bx__registry_fail_export(bx_box *registry, const char *name, bx_box *owner, int code,
                             const char *text);
/* A connection closed: removes every entry owned by owner, and answers each one-shot export
 * among them (a reply some caller still waits for) with bx_msg_new_error(code). Returns the
 * number removed. */
size_t bx__registry_fail_owner(bx_box *registry, bx_box *owner, int code);
/* A connection closed: removes every entry whose service routes over it (exports relaying a
 * box that came from that peer, which can no longer be reached). Returns the number removed. */
size_t bx__registry_drop_routes_via(bx_box *registry, bx_box *conn);
/* Removes every entry (context close). */
void bx__registry_clear(bx_box *registry);

/* Observers of a local registry's named entries (those whose name the registrant chose, not
 * the fresh names of exports): fn(data, name, true) runs after such an entry is added (and,
 * when the observer is set, for each one already there), fn(data, name, false) after one is
 * removed (a replacement under the same name is not a removal). At most
 * BX__REGISTRY_OBSERVERS per registry; fn must not change the registry. Returns 0, BX_EINVAL
 * (not a local registry) or BX_EQUEUEFULL (no free slot). Unset with
 * bx__registry_unobserve(registry, fn, data). Used by the NATS transport to serve services. */
enum { BX__REGISTRY_OBSERVERS = 4 };
typedef void (*bx__registry_observer_fn)(void *data, const char *name, bool added);
int bx__registry_observe(bx_box *registry, bx__registry_observer_fn fn, void *data);
void bx__registry_unobserve(bx_box *registry, bx__registry_observer_fn fn, void *data);

/* Named boxes: the box a path is bound to, borrowed, or NULL. */
bx_box *bx__named_binding(bx_box *named);
/* The context's table of named boxes (path -> box), the registry layer's state. */
bx__map *bx__named_map(bx_ctx *ctx);
/* Releases a named-box table (context close). */
void bx__named_clear(bx__map *table);

/* registry.c */
int bx__registry_dispatch(bx_box *self, bx_msg *msg);
/* Structural identity of box references (the same remote box decoded twice). */
bool bx__box_same(bx_box *a, bx_box *b);

/* The extension method handler registered as `method`, borrowed, or NULL. */
bx_box *bx__registry_method(bx_box *registry, const char *method);

/* registry_rpc.c: the registry's own skeleton (register / doLookup / unregister). */
int bx__registry_rpc(bx_box *self, bx_msg *msg);
/* Answers msg's reply box with NoSuchNameException{name}; BX_ENOREPLY when it has none. */
int bx__reply_no_such_name(const bx_msg *msg, const char *name);

#endif /* BX_REGISTRY_INTERNAL_H */
