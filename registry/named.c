/* Named boxes: one shared box per path and context (FOAM's NamedBox multitons).
 *
 * A bound path forwards to its binding (the context's own name is bound to its root registry;
 * transports bind the paths peers announce with RegisterSelfMessage to their connection). An
 * unbound path resolves its last segment through a Lookup box on its parent: "/a/b/c" asks
 * "/a/b" for "c", and a single-segment path "/a" asks the root registry for "a".
 *
 * The table holds bound paths strongly (a binding must outlive its users) and unbound ones
 * weakly: an unbound named box leaves the table when its last user drops it, so a peer that
 * sends many distinct NamedBox paths cannot grow the context's memory. */
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

typedef struct nm_priv {
  char *path;
  bx__map *table;   /* the context's table while it lives, else NULL */
  bool pinned;      /* the table holds a reference (bound paths) */
  bx_box *binding;  /* owned, or NULL */
  bx_box *resolver; /* owned Lookup box, created on first use while unbound */
} nm_priv;

static nm_priv *nm(bx_box *b) {
  return bx_box_priv(b);
}

static bool nm_valid_path(const char *p) {
  if (p == NULL || p[0] != '/' || p[1] == '\0') return false;
  for (const char *s = p; *s; s++)
    if (*s == '/' && (s[1] == '/' || s[1] == '\0')) return false; /* empty segment */
  return true;
}

static bx_box *nm_parent(bx_ctx *ctx, const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash == path) return bx_box_ref(bx_ctx_registry(ctx));
  size_t len = (size_t)(slash - path);
  char *parent = bx__malloc(len + 1);
  if (parent == NULL) return NULL;
  memcpy(parent, path, len);
  parent[len] = '\0';
  bx_box *b = NULL;
  bx_named_box(ctx, parent, &b);
  bx__free(parent);
  return b;
}

static int nm_send(bx_box *self, bx_msg *msg) {
  nm_priv *p = nm(self);
  if (p->binding) return bx_send(p->binding, msg);
  if (p->resolver == NULL) {
    bx_ctx *ctx = bx_box_ctx(self);
    bx_box *parent = nm_parent(ctx, p->path);
    if (parent != NULL) bx_lookup_box_new(ctx, parent, strrchr(p->path, '/') + 1, &p->resolver);
    bx_box_unref(parent);
    if (p->resolver == NULL) {
      bx_msg_unref(msg);
      return BX_ENOMEM;
    }
  }
  return bx_send(p->resolver, msg);
}

static cJSON *nm_to_wire(bx_box *self, bx_export *ex) {
  nm_priv *p = nm(self);
  bx_box *target = bx_export_target(ex);
  bool portable = p->binding == NULL || target == NULL || p->binding == target ||
                  bx__box_is(p->binding, &bx__registry_box_ops);
  if (!portable) return NULL; /* bound to another connection: the peer could not reach it */
  cJSON *o = bx_json_new_object(BX_CLASS_NAMED_BOX);
  if (o != NULL && cJSON_AddStringToObject(o, "name", p->path) == NULL) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static void nm_destroy(bx_box *self) {
  nm_priv *p = nm(self);
  if (p->table && bx__map_get(p->table, p->path) == self) bx__map_del(p->table, p->path);
  bx_box_unref(p->binding);
  bx_box_unref(p->resolver);
  bx__free(p->path);
}

const bx_box_ops bx__named_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "named",
    .send = nm_send,
    .to_wire = nm_to_wire,
    .destroy = nm_destroy,
};

int bx_named_box(bx_ctx *ctx, const char *path, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || !nm_valid_path(path)) return BX_EINVAL;
  bx__map *table = bx__named_map(ctx);
  bx_box *b = bx__map_get(table, path);
  if (b != NULL) {
    *out = bx_box_ref(b);
    return 0;
  }
  if (bx_box_new(ctx, &bx__named_box_ops, sizeof(nm_priv), &b) != 0) return BX_ENOMEM;
  nm(b)->path = bx__strdup(path);
  if (nm(b)->path == NULL || bx__map_put(table, path, b, NULL) != 0) {
    bx_box_unref(b);
    return BX_ENOMEM;
  }
  nm(b)->table = table; /* a weak entry until bound */
  *out = b;
  return 0;
}

int bx_named_bind(bx_ctx *ctx, const char *path, bx_box *box) {
  bx_box *b = NULL;
  bx_named_box(ctx, path, &b);
  if (b == NULL) return BX_EINVAL;
  nm_priv *p = nm(b);
  bx_box *old = p->binding, *resolver = p->resolver;
  p->binding = bx_box_ref(box);
  p->resolver = NULL; /* a new binding wins over any lookup in progress */
  bool pin = box != NULL && !p->pinned, unpin = box == NULL && p->pinned;
  p->pinned = box != NULL;
  bx_box_unref(old);
  bx_box_unref(resolver);
  if (!pin) bx_box_unref(b);  /* when pinning, our reference becomes the table's */
  if (unpin) bx_box_unref(b); /* and when unbinding, the table's goes */
  return 0;
}

const char *bx_named_box_path(bx_box *named) {
  return bx__box_is(named, &bx__named_box_ops) ? nm(named)->path : NULL;
}

bx_box *bx__named_binding(bx_box *named) {
  return bx__box_is(named, &bx__named_box_ops) ? nm(named)->binding : NULL;
}

/* Lets go of what a detached named box holds (its binding, its resolver, its pin). */
static void nm_let_go(bx_box *named) {
  nm_priv *p = nm(named);
  bx_box *binding = p->binding, *resolver = p->resolver;
  bool pinned = p->pinned;
  p->binding = p->resolver = NULL; /* break cycles through the registry */
  p->pinned = false;
  bx_box_unref(binding);
  bx_box_unref(resolver);
  if (pinned) bx_box_unref(named);
}

/* bx__named_clear without memory for its list: one entry at a time, from the start each time
 * (a release may change the table). */
static void nm_clear_one_by_one(bx__map *table) {
  size_t pos = 0;
  void *value;
  while (bx__map_next(table, &pos, NULL, &value)) {
    bx_box *b = bx_box_ref(value);
    nm(b)->table = NULL;
    bx__map_del(table, nm(b)->path);
    nm_let_go(b);
    bx_box_unref(b);
    pos = 0;
  }
}

void bx__named_clear(bx__map *table) {
  size_t n = bx__map_size(table), k = 0, pos = 0;
  bx_box **all = bx__calloc(n ? n : 1, sizeof *all);
  if (all == NULL) {
    nm_clear_one_by_one(table);
    return;
  }
  void *value;
  /* Hold every entry and detach it from the table first: releasing bindings and resolvers
   * may free other named boxes. */
  while (bx__map_next(table, &pos, NULL, &value) && k < n) {
    all[k] = bx_box_ref(value);
    nm(all[k])->table = NULL;
    k++;
  }
  for (size_t i = 0; i < k; i++)
    bx__map_del(table, nm(all[i])->path);
  for (size_t i = 0; i < k; i++)
    nm_let_go(all[i]);
  for (size_t i = 0; i < k; i++)
    bx_box_unref(all[i]);
  bx__free(all);
}
