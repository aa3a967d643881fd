/* The registry layer's private header (never installed): registries, named and lookup boxes,
 * exports, and the context's constructor.
 *
 * Design notes
 * - Above the codec, below RPC. The registry layer makes the context (bx_ctx_new in
 *   context.c): the ground floor's context with the codec's state and its own (root registry,
 *   `me`, the named-box table) as tenants, and the codec's hooks for exporting boxes and
 *   resolving NamedBox paths (export.c, named.c).
 */
#ifndef BX_REGISTRY_INTERNAL_H
#define BX_REGISTRY_INTERNAL_H

#include "codec_internal.h"

/* Ops tables of the registry layer's boxes that other modules recognise. */
extern const bx_box_ops bx__registry_box_ops;
extern const bx_box_ops bx__broadcast_registry_ops;
extern const bx_box_ops bx__named_box_ops;

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
/* bx_register() on a local registry box for owner (the connection box a request came from, NULL
 * for local code): the entry, then, when out is non-NULL, a new reference in *out to the Sub box
 * that reaches it (the caller owns it). All or nothing: on error nothing stays registered. */
int bx__registry_register(bx_box *registry, const char *name, bx_box *service, bx_box *owner,
                          bx_box **out);
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

/* Named boxes: the box a path is bound to, borrowed, or NULL. */
bx_box *bx__named_binding(bx_box *named);
/* The context's table of named boxes (path -> box), the registry layer's state. */
bx__map *bx__named_map(bx_ctx *ctx);
/* Releases a named-box table (context close). */
void bx__named_clear(bx__map *table);

/* registry.c */
int bx__registry_dispatch(bx_box *self, bx_msg *msg);
bx_box *bx__registry_get(bx_box *registry, const char *name);
/* Removes entries whose service is (structurally) `service`; with check, only owner's. */
int bx__registry_remove_box(bx_box *registry, bx_box *service, bx_box *owner, bool check);
int bx__registry_remove_box_by_name(bx_box *registry, const char *name, bx_box *owner, bool check);
/* Structural identity of box references (the same remote box decoded twice). */
bool bx__box_same(bx_box *a, bx_box *b);

/* The extension method handler registered as `method`, borrowed, or NULL. */
bx_box *bx__registry_method(bx_box *registry, const char *method);

/* registry_rpc.c: the registry's own skeleton (register / doLookup / unregister). */
int bx__registry_rpc(bx_box *self, bx_msg *msg);
/* Answers msg's reply box with NoSuchNameException{name}; BX_ENOREPLY when it has none. */
int bx__reply_no_such_name(const bx_msg *msg, const char *name);

/* broadcast_registry.c */
int bx__broadcast_register(bx_box *self, const char *name, bx_box *service, bx_box *owner,
                           bx_box **out);
int bx__broadcast_unregister(bx_box *self, const char *name, bx_box *service, bx_box *owner,
                             bool check);
bx_box *bx__broadcast_lookup(bx_box *self, const char *name);
/* A new reference to the box a peer should use for name (Sub over each registry), or NULL. */
bx_box *bx__broadcast_export_name(bx_box *self, const char *name);

#endif /* BX_REGISTRY_INTERNAL_H */
