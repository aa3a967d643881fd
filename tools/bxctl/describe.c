/* bxctl describe: a service's descriptor (the JSON its skeleton answers to `describe`) printed
 * as C-like signatures. */
#include "describe.h"

#include <string.h>

static const char *ds_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "?";
}

/* "type name, type name" of a [{name, type}] list. */
static void ds_params(FILE *out, const cJSON *list, const char *prefix, bool first) {
  const cJSON *p;
  cJSON_ArrayForEach(p, list) {
    fprintf(out, "%s%s%s %s", first ? "" : ", ", prefix, ds_str(p, "type"), ds_str(p, "name"));
    first = false;
  }
}

/* One method: `R name(params)` with one result, `void name(params, out T a, out U b)` with
 * several, `oneway void name(params)` for one-way methods. */
static void ds_method(FILE *out, const cJSON *m) {
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
  const cJSON *results = cJSON_GetObjectItemCaseSensitive(m, "results");
  int nres = cJSON_GetArraySize(results);
  bool oneway = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "oneway"));
  const char *ret = nres == 1 ? ds_str(cJSON_GetArrayItem(results, 0), "type") : "void";
  fprintf(out, "  %s%s %s(", oneway ? "oneway " : "", ret, ds_str(m, "name"));
  ds_params(out, params, "", true);
  if (nres > 1) ds_params(out, results, "out ", cJSON_GetArraySize(params) == 0);
  fprintf(out, ");\n");
}

static void ds_struct(FILE *out, const cJSON *s) {
  const cJSON *values = cJSON_GetObjectItemCaseSensitive(s, "values");
  if (values) {
    fprintf(out, "  enum %s {", ds_str(s, "name"));
    const cJSON *v;
    bool first = true;
    cJSON_ArrayForEach(v, values) {
      fprintf(out, "%s %s", first ? "" : ",", cJSON_IsString(v) ? v->valuestring : "?");
      first = false;
    }
    fprintf(out, " };\n");
    return;
  }
  fprintf(out, "  struct %s {", ds_str(s, "name"));
  const cJSON *f;
  cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(s, "fields")) {
    fprintf(out, " %s %s;", ds_str(f, "type"), ds_str(f, "name"));
  }
  fprintf(out, " };\n");
}

int bxctl_describe_print(FILE *out, const cJSON *d) {
  if (!cJSON_IsObject(d) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d, "methods")))
    return -1;
  const cJSON *version = cJSON_GetObjectItemCaseSensitive(d, "version");
  fprintf(out, "interface %s", ds_str(d, "interface"));
  if (cJSON_IsNumber(version)) fprintf(out, " (version %g)", version->valuedouble);
  if (cJSON_IsString(version)) fprintf(out, " (version %s)", version->valuestring);
  fprintf(out, "\n");
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "structs")) ds_struct(out, e);
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "methods")) ds_method(out, e);
  return 0;
}
