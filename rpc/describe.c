/* describe: every skeleton answers it (unless its interface has a method of that name) with its
 * interface's descriptor, the tables bxgen generated: methods with their parameter names and
 * types, one-way marks, results, and the struct classes. Types are written in a neutral form:
 *   bool int8 .. uint64 float double string json box, a struct's FOAM class (or C name),
 *   an enum's name, T[] for arrays, T? for nullable values. */
#include <stdio.h>
#include <string.h>

#include "rpc_internal.h"

static const char *const ds_scalar[] = {
    [BX_KIND_BOOL] = "bool",     [BX_KIND_INT8] = "int8",     [BX_KIND_INT16] = "int16",
    [BX_KIND_INT32] = "int32",   [BX_KIND_INT64] = "int64",   [BX_KIND_UINT8] = "uint8",
    [BX_KIND_UINT16] = "uint16", [BX_KIND_UINT32] = "uint32", [BX_KIND_UINT64] = "uint64",
    [BX_KIND_FLOAT] = "float",   [BX_KIND_DOUBLE] = "double", [BX_KIND_STRING] = "string",
    [BX_KIND_JSON] = "json",     [BX_KIND_BOX] = "box"};

/* The neutral name of t into buf (depth-bounded: descriptors are finite, but be safe). */
static void ds_type_name(const bx_type *t, char *buf, size_t len, int depth) {
  if (t == NULL || depth > 16) {
    snprintf(buf, len, "?");
    return;
  }
  char inner[160];
  switch (t->kind) {
  case BX_KIND_STRUCT:
    snprintf(buf, len, "%s", t->class_name ? t->class_name : t->name);
    return;
  case BX_KIND_ENUM:
    snprintf(buf, len, "%s", t->name);
    return;
  case BX_KIND_ARRAY:
    ds_type_name(t->elem, inner, sizeof inner, depth + 1);
    snprintf(buf, len, "%s[]", inner);
    return;
  case BX_KIND_NULLABLE:
    ds_type_name(t->elem, inner, sizeof inner, depth + 1);
    snprintf(buf, len, "%s?", inner);
    return;
  default:
    snprintf(buf, len, "%s",
             (size_t)t->kind < sizeof ds_scalar / sizeof ds_scalar[0] && ds_scalar[t->kind]
                 ? ds_scalar[t->kind]
                 : "?");
  }
}

/* [{"name":..,"type":..}] of a struct's fields. */
static cJSON *ds_fields(const bx_type *st) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && st && i < st->nfields; i++) {
    char tn[200];
    ds_type_name(st->fields[i].type, tn, sizeof tn, 0);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddItemToArray(a, f);
    cJSON_AddStringToObject(f, "name", st->fields[i].name);
    cJSON_AddStringToObject(f, "type", tn);
  }
  return a;
}

static bool ds_struct_listed(const cJSON *structs, const char *name) {
  const cJSON *s;
  cJSON_ArrayForEach(s, structs) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(s, "name");
    if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return true;
  }
  return false;
}

/* Adds the struct and enum types reachable from t to structs (each once). */
static void ds_collect(const bx_type *t, cJSON *structs, int depth) {
  if (t == NULL || depth > 16) return;
  if (t->kind == BX_KIND_ARRAY || t->kind == BX_KIND_NULLABLE) {
    ds_collect(t->elem, structs, depth + 1);
    return;
  }
  char name[200];
  ds_type_name(t, name, sizeof name, 0);
  if ((t->kind != BX_KIND_STRUCT && t->kind != BX_KIND_ENUM) || ds_struct_listed(structs, name))
    return;
  cJSON *s = cJSON_CreateObject();
  cJSON_AddItemToArray(structs, s);
  cJSON_AddStringToObject(s, "name", name);
  cJSON_AddStringToObject(s, "cName", t->name);
  if (t->kind == BX_KIND_ENUM) {
    cJSON *vals = cJSON_AddArrayToObject(s, "values");
    for (size_t i = 0; vals && i < t->nvalues; i++)
      cJSON_AddItemToArray(vals, cJSON_CreateString(t->values[i].name));
    return;
  }
  cJSON_AddItemToObject(s, "fields", ds_fields(t));
  for (size_t i = 0; i < t->nfields; i++)
    ds_collect(t->fields[i].type, structs, depth + 1);
}

cJSON *bx__describe(const bx_interface *iface) {
  cJSON *d = cJSON_CreateObject();
  if (d == NULL) return NULL;
  cJSON_AddStringToObject(d, "interface", iface->name);
  if (iface->version) cJSON_AddNumberToObject(d, "version", iface->version);
  cJSON *methods = cJSON_AddArrayToObject(d, "methods");
  cJSON *structs = cJSON_AddArrayToObject(d, "structs");
  for (size_t i = 0; methods && structs && i < iface->nmethods; i++) {
    const bx_method *m = &iface->methods[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(methods, o);
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddBoolToObject(o, "oneway", (m->flags & BX_METHOD_ONEWAY) != 0);
    cJSON_AddItemToObject(o, "params", ds_fields(m->args));
    cJSON_AddItemToObject(o, "results", ds_fields(m->result));
    for (size_t k = 0; m->args && k < m->args->nfields; k++)
      ds_collect(m->args->fields[k].type, structs, 0);
    for (size_t k = 0; m->result && k < m->result->nfields; k++)
      ds_collect(m->result->fields[k].type, structs, 0);
  }
  if (methods == NULL || structs == NULL) {
    cJSON_Delete(d);
    return NULL;
  }
  return d;
}
