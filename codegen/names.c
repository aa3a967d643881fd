/* bxgen: facts about the model shared by the parser and the emitters: kinds, ownership, the
 * descriptors a slot refers to, and every name the generated files define. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const char *const names_kinds[] = {"bool",   "int8",   "int16",  "int32", "int64",  "uint8",
                                          "uint16", "uint32", "uint64", "float", "double", "string",
                                          "enum",   "struct", "json",   "box"};

bool bxg_kind_is_int(bxg_kind k) {
  return k >= BXG_INT8 && k <= BXG_UINT64;
}

bool bxg_kind_is_scalar(bxg_kind k) {
  return k <= BXG_DOUBLE;
}

const char *bxg_kind_short(bxg_kind k) {
  return names_kinds[k];
}

bool bxg_slot_owns(const bxg_slot *s) {
  if (s->shape != BXG_VALUE) return true;
  switch (s->type.kind) {
  case BXG_STRING:
  case BXG_JSON:
  case BXG_BOX:
    return true;
  case BXG_STRUCT:
    return s->type.user->owns;
  default:
    return false;
  }
}

static const char *names_elem_id(const bxg_vtype *t) {
  return t->user ? t->user->ident : bxg_kind_short(t->kind);
}

const bxg_derived *bxg_derived_of(const bxg_model *m, const bxg_slot *s) {
  for (size_t i = 0; s->shape != BXG_VALUE && i < m->nderived; i++) {
    const bxg_derived *d = &m->derived[i];
    if (d->shape == s->shape && strcmp(names_elem_id(&d->elem), names_elem_id(&s->type)) == 0)
      return d;
  }
  return NULL;
}

char *bxg_vtype_ref(const bxg_vtype *t) {
  if (t->user != NULL) return bxg_strf("&%s_type", t->user->ident);
  return bxg_strf("&bx_type_%s", bxg_kind_short(t->kind));
}

char *bxg_type_ref(const bxg_model *m, const bxg_slot *s) {
  const bxg_derived *d = bxg_derived_of(m, s);

  return d ? bxg_strf("&%s", d->name) : bxg_vtype_ref(&s->type);
}

static void names_derive_slot(bxg_model *m, const bxg_slot *s) {
  bxg_derived *d;

  if (s->shape == BXG_VALUE || bxg_derived_of(m, s) != NULL) return;
  m->derived = bxg_xrealloc(m->derived, (m->nderived + 1) * sizeof *m->derived);
  d = &m->derived[m->nderived++];
  d->shape = s->shape;
  d->elem = s->type;
  d->name = bxg_strf("%s_%s_%s_type", m->iface, s->shape == BXG_ARRAY ? "array" : "nullable",
                     names_elem_id(&s->type));
}

void bxg_model_derive(bxg_model *m) {
  for (size_t i = 0; i < m->nusers; i++)
    for (size_t j = 0; j < m->users[i]->nfields; j++)
      names_derive_slot(m, &m->users[i]->fields[j]);
  for (size_t i = 0; i < m->nmethods; i++)
    for (size_t j = 0; j < m->methods[i].nparams; j++)
      if (!m->methods[i].params[j].is_count) names_derive_slot(m, &m->methods[i].params[j].slot);
}

/* ---- generated names ---- */

static void names_add(bxg_gnames *g, const bxg_loc *loc, char *name) {
  bxg_grow((void **)&g->items, &g->cap, g->n, sizeof *g->items);
  g->items[g->n].name = name;
  g->items[g->n].loc = *loc;
  g->n++;
}

static void names_method(bxg_gnames *g, const bxg_method *m) {
  static const char *const always[] = {"args_type", "result_type", "invoke"};
  static const char *const calls[] = {"cb", "done", "async", "sync"};

  for (size_t i = 0; i < 3; i++)
    names_add(g, &m->loc, bxg_strf("%s_%s", m->c_name, always[i]));
  if (m->nin > 0) {
    names_add(g, &m->loc, bxg_strf("%s_args", m->c_name));
    names_add(g, &m->loc, bxg_strf("%s_args_fields", m->c_name));
  }
  if (m->nout > 0) {
    names_add(g, &m->loc, bxg_strf("%s_result", m->c_name));
    names_add(g, &m->loc, bxg_strf("%s_result_fields", m->c_name));
    names_add(g, &m->loc, bxg_strf("%s_none", m->c_name));
  }
  if (m->oneway) {
    names_add(g, &m->loc, bxg_strf("%s_send", m->c_name));
    return;
  }
  for (size_t i = 0; i < 4; i++)
    names_add(g, &m->loc, bxg_strf("%s_%s", m->c_name, calls[i]));
}

static void names_user(bxg_gnames *g, const bxg_user *u) {
  names_add(g, &u->loc, bxg_strf("%s_type", u->ident));
  if (!u->is_struct) {
    names_add(g, &u->loc, bxg_strf("%s_values", u->ident));
    return;
  }
  names_add(g, &u->loc, bxg_strf("%s_fields", u->ident));
  names_add(g, &u->loc, bxg_strf("%s_clear", u->ident));
}

void bxg_generated_names(const bxg_model *m, bxg_gnames *g) {
  static const char *const globals[] = {"ops",       "interface", "skeleton_new", "stub_interface",
                                        "stub_init", "methods",   "classes",      "oneway_done"};

  for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
    names_add(g, &m->iface_loc, bxg_strf("%s_%s", m->iface, globals[i]));
  for (size_t i = 0; i < m->nderived; i++)
    names_add(g, &m->iface_loc, bxg_xstrdup(m->derived[i].name));
  for (size_t i = 0; i < m->nusers; i++)
    names_user(g, m->users[i]);
  for (size_t i = 0; i < m->nmethods; i++)
    names_method(g, &m->methods[i]);
}

void bxg_gnames_free(bxg_gnames *g) {
  for (size_t i = 0; i < g->n; i++)
    free(g->items[i].name);
  free(g->items);
  memset(g, 0, sizeof *g);
}
