/* Declarations shared by the files of registry/ (never installed). */
#ifndef BX_REGISTRY_INTERNAL_H
#define BX_REGISTRY_INTERNAL_H

#include "internal.h"

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

#endif
