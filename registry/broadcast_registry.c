/* A broadcast registry (FOAM's BroadcastRegistry): register() registers a service in every
 * delegate registry under one name and returns a RoundRobin box over the boxes they returned,
 * so calls spread over the registries; unregister() removes it from each.
 *
 * Design notes
 * - One of the two kinds of registry (bx__broadcast_registry_kind; bx__registry_kind in
 *   registry_internal.h). Its slots reach each delegate, local or broadcast alike, through
 *   the delegate's own kind, so nesting broadcast registries needs no special case.
 * - Registration is all or nothing: a failure in any delegate (a name taken in one of them)
 *   rolls back the delegates done so far. A generated name is one that no delegate has
 *   (bx__registry_fresh_name() over this kind's lookup, which asks every delegate). */
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

typedef struct br_priv {
  bx_box **regs; /* owned references */
  size_t n;
  size_t next; /* round-robin position for SubBoxMessage dispatch */
} br_priv;

static br_priv *br(bx_box *b) {
  return bx_box_priv(b);
}

/* The kind of delegate i (every delegate is a registry: bx_broadcast_registry_new checks). */
static const bx__registry_kind *br_kind(bx_box *self, size_t i) {
  return bx__registry_kind_of(br(self)->regs[i]);
}

static bx_box *br_lookup(bx_box *self, const char *name) {
  for (size_t i = 0; i < br(self)->n; i++) {
    bx_box *found = br_kind(self, i)->lookup(br(self)->regs[i], name);
    if (found) return found;
  }
  return NULL;
}

static int br_add(bx_box *self, const char *name, bx_box *service, bx_box *owner, bx_box **out) {
  br_priv *p = br(self);
  char gen[BX__REGISTRY_NAME_SIZE];
  if (name == NULL) { /* unused in every delegate */
    int rc = bx__registry_fresh_name(self, &bx__broadcast_registry_kind, gen);
    if (rc) return rc;
    name = gen;
  }
  bx_box **outs = bx__calloc(p->n, sizeof *outs);
  if (outs == NULL) return BX_ENOMEM;
  int rc = 0;
  size_t done = 0;
  for (; done < p->n && rc == 0; done++)
    rc = br_kind(self, done)->add(p->regs[done], name, service, owner, &outs[done]);
  if (rc == 0 && out != NULL) rc = bx_round_robin_box_new(bx_box_ctx(self), outs, p->n, out);
  if (rc != 0) /* roll back: all or nothing */
    for (size_t i = 0; i < done; i++)
      if (outs[i] != NULL) br_kind(self, i)->remove_name(p->regs[i], name, NULL, false);
  for (size_t i = 0; i < p->n; i++)
    bx_box_unref(outs[i]);
  bx__free(outs);
  return rc;
}

/* One delegate's answer folded into the whole's: any success wins, else the first failure
 * other than "not there". */
static int br_fold(int result, int rc) {
  return rc == 0 || result == BX_ENOSERVICE ? rc : result;
}

static int br_remove_name(bx_box *self, const char *name, bx_box *owner, bool check) {
  br_priv *p = br(self);
  int result = BX_ENOSERVICE;
  for (size_t i = 0; i < p->n; i++) {
    int rc = br_kind(self, i)->remove_name(p->regs[i], name, owner, check);
    result = br_fold(result, rc);
  }
  return result;
}

static int br_remove_box(bx_box *self, bx_box *service, bx_box *owner, bool check) {
  br_priv *p = br(self);
  int result = BX_ENOSERVICE;
  for (size_t i = 0; i < p->n; i++) {
    int rc = br_kind(self, i)->remove_box(p->regs[i], service, owner, check);
    result = br_fold(result, rc);
  }
  return result;
}

static bx_box *br_export_name(bx_box *self, const char *name) {
  br_priv *p = br(self);
  bx_box **subs = bx__calloc(p->n, sizeof *subs);
  if (subs == NULL) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < p->n; i++)
    if (br_kind(self, i)->lookup(p->regs[i], name) != NULL)
      bx_sub_box_new(bx_box_ctx(self), name, p->regs[i], &subs[k++]);
  bx_box *rr = NULL;
  bool ok = k > 0;
  for (size_t i = 0; i < k; i++)
    ok = ok && subs[i] != NULL;
  if (ok) bx_round_robin_box_new(bx_box_ctx(self), subs, k, &rr);
  for (size_t i = 0; i < k; i++)
    bx_box_unref(subs[i]);
  bx__free(subs);
  return rr;
}

static int br_send(bx_box *self, bx_msg *msg) {
  br_priv *p = br(self);
  const char *cls = bx_msg_class(msg);
  if (cls != NULL && strcmp(cls, BX_CLASS_SUB_BOX_MESSAGE) == 0) {
    /* Dispatch round-robin over the registries (each finds the name or answers NoSuchName). */
    bx_box *reg = p->regs[p->next++ % p->n];
    return bx_send(reg, msg);
  }
  if (cls != NULL && strcmp(cls, BX_CLASS_HELLO) == 0) {
    bx_msg_unref(msg);
    return 0;
  }
  return bx__registry_rpc(self, msg);
}

static void br_destroy(bx_box *self) {
  bx__boxes_free(br(self)->regs, br(self)->n);
}

static const bx_box_ops br_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "broadcast-registry",
    .send = br_send,
    .destroy = br_destroy,
};

const bx__registry_kind bx__broadcast_registry_kind = {
    .box = &br_ops,
    .add = br_add,
    .remove_name = br_remove_name,
    .remove_box = br_remove_box,
    .lookup = br_lookup,
    .export_name = br_export_name,
};

int bx_broadcast_registry_new(bx_ctx *ctx, bx_box *const *registries, size_t n, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || registries == NULL || n == 0) return BX_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (bx__registry_kind_of(registries[i]) == NULL) return BX_EINVAL;
  bx_box *b = NULL;
  bx_box_new(ctx, &br_ops, sizeof(br_priv), &b);
  if (b == NULL) return BX_ENOMEM;
  br(b)->regs = bx__boxes_copy(registries, n);
  if (br(b)->regs == NULL) {
    bx_box_unref(b);
    return BX_ENOMEM;
  }
  br(b)->n = n;
  *out = b;
  return 0;
}
