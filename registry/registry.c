/* The local registry box: names -> services, FOAM's dispatch (spec/foam section 5).
 *
 * Entries remember who registered them (the origin connection box, NULL for local code) and
 * whether they are one-shot exports, which are removed before their first delivery so that a
 * re-entrant send cannot deliver twice.
 *
 * Design notes
 * - This is one kind of registry (rg_kind, see bx__registry_kind in registry_internal.h); the
 *   broadcast registry is the other. The public entry points at the bottom find the kind with
 *   bx__registry_kind_of() and call its slot once, so they never ask which kind they hold.
 * - rg_add is the one place that pairs "add an entry for owner" with "make the Sub box that
 *   reaches it": bx_register(), the register RPC and a broadcast registry's local delegates all
 *   reach it through the kind's add slot.
 * - bx__registry_fresh_name() is the layer's one name generator: decimal ids from the context
 *   into the caller's stack buffer (no allocation: a call exports its reply box through here),
 *   checked against the kind's lookup slot. */
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

typedef struct rg_priv rg_priv;

typedef struct rg_entry {
  bx_box *service; /* owned reference */
  rg_priv *reg;    /* the registry it is in, for its observers (named entries only) */
  bx_box *owner;   /* identity of the registering connection, not a reference */
  size_t *owned;   /* the owner's count of its entries (one is this), or NULL */
  bool one_shot;
  bool named;  /* the registrant chose the name (observers hear of it) */
  char name[]; /* the table's key (its map borrows keys) */
} rg_entry;

typedef struct rg_observer {
  bx__registry_observer_fn fn;
  void *data;
} rg_observer;

struct rg_priv {
  bx__map *entries;
  bx__map *methods; /* extension methods: name -> handler box (owned), or NULL */
  rg_observer observers[BX__REGISTRY_OBSERVERS];
};

static rg_priv *rg(bx_box *b) {
  return bx_box_priv(b);
}

static void rg_notify(rg_priv *p, const char *name, bool added) {
  for (size_t i = 0; i < BX__REGISTRY_OBSERVERS; i++)
    if (p->observers[i].fn) p->observers[i].fn(p->observers[i].data, name, added);
}

static void rg_entry_free(rg_entry *e) {
  if (e == NULL) return;
  if (e->named && e->reg) rg_notify(e->reg, e->name, false);
  if (e->owned) --*e->owned;
  bx_box_unref(e->service);
  bx__free(e);
}

static int rg_send(bx_box *self, bx_msg *msg);

static cJSON *rg_to_wire(bx_box *self, bx_export *ex) {
  /* The root registry is what a peer reaches as ReturnBox over any connection. */
  (void)ex;
  return self == bx_ctx_registry(bx_box_ctx(self)) ? bx__wire_return_box() : NULL;
}

static void rg_free_methods(bx__map *methods) {
  size_t pos = 0;
  void *value;
  while (bx__map_next(methods, &pos, NULL, &value))
    bx_box_unref(value);
  bx__map_free(methods);
}

static void rg_destroy(bx_box *self) {
  bx__registry_clear(self);
  bx__map_free(rg(self)->entries);
  rg_free_methods(rg(self)->methods);
}

int bx_registry_add_method(bx_box *registry, const char *method, bx_box *handler) {
  static const char *const builtin[] = {"register", "doLookup", "unregister"};
  if (!bx__box_is(registry, &bx__registry_box_ops) || method == NULL || *method == '\0')
    return BX_EINVAL;
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    if (strcmp(method, builtin[i]) == 0) return BX_EEXIST;
  rg_priv *p = rg(registry);
  if (handler == NULL) {
    bx_box_unref(p->methods ? bx__map_del(p->methods, method) : NULL);
    return 0;
  }
  if (p->methods == NULL && (p->methods = bx__map_new()) == NULL) return BX_ENOMEM;
  void *old = NULL;
  if (bx__map_put(p->methods, method, bx_box_ref(handler), &old)) {
    bx_box_unref(handler);
    return BX_ENOMEM;
  }
  bx_box_unref(old);
  return 0;
}

bx_box *bx__registry_method(bx_box *registry, const char *method) {
  if (!bx__box_is(registry, &bx__registry_box_ops)) return NULL;
  return rg(registry)->methods ? bx__map_get(rg(registry)->methods, method) : NULL;
}

const bx_box_ops bx__registry_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "registry",
    .send = rg_send,
    .to_wire = rg_to_wire,
    .destroy = rg_destroy,
};

int bx_registry_new(bx_ctx *ctx, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  bx_box *b = NULL;
  int rc = bx_box_new(ctx, &bx__registry_box_ops, sizeof(rg_priv), &b);
  if (rc) return rc;
  if ((rg(b)->entries = bx__map_new_borrowing()) == NULL) {
    bx_box_unref(b);
    return BX_ENOMEM;
  }
  *out = b;
  return 0;
}

/* ---- table operations --------------------------------------------------------------------- */

int bx__registry_fresh_name(bx_box *self, const bx__registry_kind *kind, char *buf) {
  for (int tries = 0; tries < 1000; tries++) {
    bx__u64_decimal(bx__ctx_next_id(bx_box_ctx(self)), buf);
    if (kind->lookup(self, buf) == NULL) return 0;
  }
  return BX_EEXIST;
}

static bx_box *rg_lookup(bx_box *self, const char *name) {
  rg_entry *e = bx__map_get(rg(self)->entries, name);
  return e ? e->service : NULL;
}

static int rg_remove_name(bx_box *self, const char *name, bx_box *owner, bool check) {
  bx__map *map = rg(self)->entries;
  rg_entry *e = bx__map_get(map, name);
  if (e == NULL) return BX_ENOSERVICE;
  if (check && e->owner != owner) return BX_EPERM;
  rg_entry_free(bx__map_del(map, name));
  return 0;
}

static int rg_remove_box(bx_box *self, bx_box *service, bx_box *owner, bool check) {
  bx__map *map = rg(self)->entries;
  size_t pos = 0;
  const char *key;
  void *value;
  int rc = BX_ENOSERVICE;
  while (bx__map_next(map, &pos, &key, &value)) {
    rg_entry *e = value;
    if (!bx__box_same(e->service, service)) continue;
    if (check && e->owner != owner) {
      if (rc == BX_ENOSERVICE) rc = BX_EPERM;
      continue;
    }
    rg_entry_free(bx__map_del(map, key));
    rc = 0;
  }
  return rc;
}

static bx_box *rg_export_name(bx_box *self, const char *name) {
  bx_box *sub = NULL;
  if (rg_lookup(self, name) != NULL) bx_sub_box_new(bx_box_ctx(self), name, self, &sub);
  return sub;
}

static int rg_add(bx_box *self, const char *name, bx_box *service, bx_box *owner, bx_box **out);

static const bx__registry_kind rg_kind = {
    .box = &bx__registry_box_ops,
    .add = rg_add,
    .remove_name = rg_remove_name,
    .remove_box = rg_remove_box,
    .lookup = rg_lookup,
    .export_name = rg_export_name,
};

int bx__registry_add(bx_box *registry, const char *name, bx_box *service, const bx__reg_opts *opts,
                     const char **out_name) {
  if (!bx__box_is(registry, &bx__registry_box_ops) || service == NULL) return BX_EINVAL;
  if (name != NULL && *name == '\0') return BX_EINVAL;
  bx__map *map = rg(registry)->entries;
  char gen[BX__REGISTRY_NAME_SIZE];
  bool named = name != NULL;
  if (name == NULL) { /* a fresh name: nothing to replace */
    int rc = bx__registry_fresh_name(registry, &rg_kind, gen);
    if (rc) return rc;
    name = gen;
  } else {
    rg_entry *old = bx__map_get(map, name);
    if (old != NULL && (opts == NULL || old->owner == NULL || old->owner != opts->owner))
      return BX_EEXIST; /* a peer may re-register its own names, never take another's */
  }
  size_t n = strlen(name) + 1;
  rg_entry *e = bx__zalloc(sizeof *e + n);
  if (e == NULL) return BX_ENOMEM;
  memcpy(e->name, name, n);
  e->service = bx_box_ref(service);
  if (opts) {
    e->owner = opts->owner;
    e->owned = opts->owned;
    if (e->owned) ++*e->owned;
    e->one_shot = opts->one_shot;
  }
  void *replaced = NULL;
  if (bx__map_put(map, e->name, e, &replaced)) {
    rg_entry_free(e);
    return BX_ENOMEM;
  }
  bool was_named = replaced != NULL && ((rg_entry *)replaced)->named;
  if (replaced != NULL) ((rg_entry *)replaced)->named = false; /* the name stays */
  rg_entry_free(replaced);
  if (named) {
    e->named = true;
    e->reg = rg(registry);
    if (!was_named) rg_notify(e->reg, e->name, true);
  }
  if (out_name) *out_name = e->name;
  return 0;
}

/* The kind's add slot: an entry for owner, then, when asked, the Sub box that reaches it. */
static int rg_add(bx_box *self, const char *name, bx_box *service, bx_box *owner, bx_box **out) {
  const char *stored;
  bx__reg_opts opts = {.one_shot = false, .owner = owner};
  int rc = bx__registry_add(self, name, service, &opts, &stored);
  if (rc || out == NULL) return rc;
  rc = bx_sub_box_new(bx_box_ctx(self), stored, self, out);
  if (rc) rg_remove_name(self, stored, NULL, false);
  return rc;
}

size_t bx__registry_drop_owner(bx_box *registry, bx_box *owner) {
  bx__map *map = rg(registry)->entries;
  size_t pos = 0, n = 0;
  const char *key;
  void *value;
  while (bx__map_next(map, &pos, &key, &value)) {
    if (((rg_entry *)value)->owner != owner) continue;
    rg_entry_free(bx__map_del(map, key));
    n++;
  }
  return n;
}

int bx__registry_fail_export(bx_box *registry, const char *name, bx_box *owner, int code,
                             const char *text) {
  bx__map *map = rg(registry)->entries;
  rg_entry *e = bx__map_get(map, name);
  if (e == NULL || !e->one_shot || e->owner != owner) return BX_ENOSERVICE;
  bx_box *waiting = bx_box_ref(e->service);
  rg_entry_free(bx__map_del(map, name));
  bx_msg *err = NULL;
  bx_msg_new_error(code, text, &err);
  int rc = err ? bx_send(waiting, err) : BX_ENOMEM;
  bx_box_unref(waiting);
  return rc;
}

size_t bx__registry_fail_owner(bx_box *registry, bx_box *owner, int code) {
  bx__map *map = rg(registry)->entries;
  size_t pos = 0, n = 0, k = 0;
  const char *key;
  void *value;
  while (bx__map_next(map, &pos, &key, &value))
    if (((rg_entry *)value)->owner == owner) n++;
  if (n == 0) return 0;
  bx_box **waiting = bx__calloc(n, sizeof *waiting);
  pos = 0;
  /* Remove first, then answer: an answer may re-enter the registry. */
  while (bx__map_next(map, &pos, &key, &value)) {
    rg_entry *e = value;
    if (e->owner != owner) continue;
    bx__map_del(map, key);
    if (e->one_shot && waiting != NULL && k < n) waiting[k++] = bx_box_ref(e->service);
    rg_entry_free(e);
  }
  for (size_t i = 0; i < k; i++) {
    bx_msg *err = NULL;
    bx_msg_new_error(code, NULL, &err);
    if (err) bx_send(waiting[i], err);
    bx_box_unref(waiting[i]);
  }
  bx__free(waiting);
  return n;
}

/* Does box route over conn (conn itself, or Sub/Return boxes ending at it)? */
static bool rg_routes_via(bx_box *box, bx_box *conn) {
  for (int depth = 0; box != NULL && depth < 32; depth++) {
    if (box == conn) return true;
    if (bx__box_is(box, &bx__sub_box_ops))
      box = bx_sub_box_delegate(box);
    else if (bx__box_is(box, &bx__return_box_ops))
      box = bx__return_box_origin(box);
    else
      return false;
  }
  return false;
}

size_t bx__registry_drop_routes_via(bx_box *registry, bx_box *conn) {
  bx__map *map = rg(registry)->entries;
  size_t pos = 0, n = 0;
  const char *key;
  void *value;
  while (bx__map_next(map, &pos, &key, &value)) {
    if (!rg_routes_via(((rg_entry *)value)->service, conn)) continue;
    rg_entry_free(bx__map_del(map, key));
    n++;
  }
  return n;
}

void bx__registry_clear(bx_box *registry) {
  if (!bx__box_is(registry, &bx__registry_box_ops)) return;
  bx__map *map = rg(registry)->entries;
  /* Detach the table first: releasing a service may re-enter the registry. */
  bx__map *fresh = bx__map_new_borrowing();
  if (fresh == NULL) { /* out of memory: take the entries out one at a time instead */
    const char *key;
    size_t pos = 0;
    while (bx__map_next(map, &pos, &key, NULL)) {
      rg_entry_free(bx__map_del(map, key));
      pos = 0; /* the map changed under a release: start over */
    }
    return;
  }
  rg(registry)->entries = fresh;
  size_t pos = 0;
  void *value;
  while (bx__map_next(map, &pos, NULL, &value))
    rg_entry_free(value);
  bx__map_free(map);
}

bool bx__box_same(bx_box *a, bx_box *b) {
  if (a == b) return true;
  if (a == NULL || b == NULL || bx_box_get_ops(a) != bx_box_get_ops(b)) return false;
  if (bx__box_is(a, &bx__sub_box_ops))
    return strcmp(bx_sub_box_name(a), bx_sub_box_name(b)) == 0 &&
           bx__box_same(bx_sub_box_delegate(a), bx_sub_box_delegate(b));
  if (bx__box_is(a, &bx__return_box_ops))
    return bx__return_box_origin(a) == bx__return_box_origin(b);
  if (bx__box_is(a, &bx__named_box_ops))
    return strcmp(bx_named_box_path(a), bx_named_box_path(b)) == 0;
  return false;
}

bx_box *bx__registry_target(bx_box *registry, const char *name) {
  if (!bx__box_is(registry, &bx__registry_box_ops) || name == NULL) return NULL;
  rg_entry *e = bx__map_get(rg(registry)->entries, name);
  return e && !e->one_shot ? e->service : NULL;
}

/* ---- public API (dispatching through the registry kind) ----------------------------------- */

const bx__registry_kind *bx__registry_kind_of(const bx_box *box) {
  static const bx__registry_kind *const kinds[] = {&rg_kind, &bx__broadcast_registry_kind};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (bx__box_is(box, kinds[i]->box)) return kinds[i];
  return NULL;
}

int bx_register(bx_box *registry, const char *name, bx_box *service, bx_box **out) {
  if (out) *out = NULL;
  if (registry == NULL || service == NULL) return BX_EINVAL;
  const bx__registry_kind *kind = bx__registry_kind_of(registry);
  return kind ? kind->add(registry, name, service, NULL, out) : BX_ENOTSUP;
}

int bx_unregister(bx_box *registry, const char *name) {
  if (registry == NULL || name == NULL) return BX_EINVAL;
  const bx__registry_kind *kind = bx__registry_kind_of(registry);
  return kind ? kind->remove_name(registry, name, NULL, false) : BX_ENOTSUP;
}

int bx_unregister_box(bx_box *registry, bx_box *service) {
  if (registry == NULL || service == NULL) return BX_EINVAL;
  const bx__registry_kind *kind = bx__registry_kind_of(registry);
  return kind ? kind->remove_box(registry, service, NULL, false) : BX_ENOTSUP;
}

bx_box *bx_lookup(bx_box *registry, const char *name) {
  if (registry == NULL || name == NULL) return NULL;
  const bx__registry_kind *kind = bx__registry_kind_of(registry);
  return kind ? kind->lookup(registry, name) : NULL;
}

bx_box *bx_registry_owner(bx_box *registry, const char *name) {
  if (!bx__box_is(registry, &bx__registry_box_ops) || name == NULL) return NULL;
  rg_entry *e = bx__map_get(rg(registry)->entries, name);
  return e ? e->owner : NULL;
}

size_t bx_registry_size(bx_box *registry) {
  if (!bx__box_is(registry, &bx__registry_box_ops)) return 0;
  return bx__map_size(rg(registry)->entries);
}

size_t bx_registry_visit(bx_box *registry, bx_registry_visit_fn fn, void *data) {
  if (!bx__box_is(registry, &bx__registry_box_ops) || fn == NULL) return 0;
  size_t pos = 0, n = 0;
  const char *key;
  void *value;
  while (bx__map_next(rg(registry)->entries, &pos, &key, &value)) {
    fn(key, ((rg_entry *)value)->service, data);
    n++;
  }
  return n;
}

int bx__registry_observe(bx_box *registry, bx__registry_observer_fn fn, void *data) {
  if (!bx__box_is(registry, &bx__registry_box_ops) || fn == NULL) return BX_EINVAL;
  rg_priv *p = rg(registry);
  for (size_t i = 0; i < BX__REGISTRY_OBSERVERS; i++) {
    if (p->observers[i].fn != NULL) continue;
    p->observers[i].fn = fn;
    p->observers[i].data = data;
    size_t pos = 0;
    void *value;
    while (bx__map_next(p->entries, &pos, NULL, &value))
      if (((rg_entry *)value)->named) fn(data, ((rg_entry *)value)->name, true);
    return 0;
  }
  return BX_EQUEUEFULL;
}

void bx__registry_unobserve(bx_box *registry, bx__registry_observer_fn fn, void *data) {
  if (!bx__box_is(registry, &bx__registry_box_ops)) return;
  rg_priv *p = rg(registry);
  for (size_t i = 0; i < BX__REGISTRY_OBSERVERS; i++)
    if (p->observers[i].fn == fn && p->observers[i].data == data) p->observers[i].fn = NULL;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

/* Delivers a SubBoxMessage's inner object to the service registered under its name. */
static int rg_deliver(bx_box *self, bx_msg *msg, const char *name) {
  rg_entry *e = bx__map_get(rg(self)->entries, name);
  if (e == NULL) {
    bx_log(bx_box_ctx(self), BX_LOG_DEBUG, "registry: no such name '%s'", name);
    int rc = bx__reply_no_such_name(msg, name);
    bx_msg_unref(msg);
    return rc == BX_ENOREPLY ? BX_ENOSERVICE : 0;
  }
  bx_box *service = bx_box_ref(e->service);
  if (e->one_shot) rg_entry_free(bx__map_del(rg(self)->entries, name));
  bx_msg *w = bx_msg_writable(msg);
  if (w == NULL) {
    bx_msg_unref(msg);
    bx_box_unref(service);
    return BX_ENOMEM;
  }
  int rc = bx__msg_unwrap(w);
  if (rc) {
    bx_msg_unref(w);
    bx_box_unref(service);
    return rc;
  }
  rc = bx_send(service, w);
  bx_box_unref(service);
  return rc;
}

int bx__registry_dispatch(bx_box *self, bx_msg *msg) {
  const char *cls = bx_msg_class(msg);
  if (cls != NULL && strcmp(cls, BX_CLASS_SUB_BOX_MESSAGE) == 0) {
    const char *name = bx__msg_name(msg);
    if (name == NULL) {
      bx_msg_unref(msg);
      return BX_EBADMSG;
    }
    /* Copy the name: unwrapping the payload frees what holds it. */
    char buf[256], *heap = NULL;
    size_t len = strlen(name);
    char *n = len < sizeof buf ? buf : (heap = bx__malloc(len + 1));
    if (n == NULL) {
      bx_msg_unref(msg);
      return BX_ENOMEM;
    }
    memcpy(n, name, len + 1);
    int rc = rg_deliver(self, msg, n);
    bx__free(heap);
    return rc;
  }
  if (cls != NULL && strcmp(cls, BX_CLASS_HELLO) == 0) {
    bx_msg_unref(msg);
    return 0;
  }
  return bx__registry_rpc(self, msg);
}

static int rg_send(bx_box *self, bx_msg *msg) {
  return bx__registry_dispatch(self, msg);
}
