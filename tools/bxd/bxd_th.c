/* bxd as a telehash box host (spec/telehash section 6, docs/telehash.md):
 *
 *   bxd --telehash udp://HOST:PORT [--telehash tcp://HOST:PORT] --th-id FILE [--th-store PATH]
 *       [--th-cap N] [--th-total N] [--th-expire S] [--th-ready-file FILE]
 *
 * On start it prints `telehash: {"hashname":..,"keys":{"3a":..},"paths":[..]}` (the JSON
 * clients link with; bxctl th send/recv --host read it) and writes the same JSON to
 * --th-ready-file, through a temporary file renamed into place, so a reader never sees a part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bxd_th.h"

const char bxd_th_usage[] =
    "Telehash box host (store-and-forward boxes between hashnames):\n"
    "  --telehash URL      udp://HOST:PORT or tcp://HOST:PORT (port 0 picks one); up to 4\n"
    "  --th-id FILE        the host's identity (bxctl th keygen FILE); needed with --telehash\n"
    "  --th-store PATH     keep the messages in this SQLite file (default: in memory)\n"
    "  --th-cap N          messages per (recipient, sender) box (default 10)\n"
    "  --th-total N        messages on the host (default 1000)\n"
    "  --th-expire S       seconds a message waits when its sender set no expiry\n"
    "                      (default: until removed or evicted)\n"
    "  --th-ready-file F   write the host's JSON to F once it is ready\n";

static int bxd_th_uint(const char *v, uint32_t *out) {
  char *end = NULL;
  unsigned long n = strtoul(v, &end, 10);
  if (v[0] < '0' || v[0] > '9' || *end != '\0' || n == 0 || n > 0xffffffffUL) return -1;
  *out = (uint32_t)n;
  return 1;
}

int bxd_th_option(bxd_th *t, const char *a, const char *v) {
  if (strcmp(a, "--telehash") == 0) {
    if (t->nbinds >= BXD_TH_MAX_BINDS) return -1;
    t->binds[t->nbinds++] = v;
    return 1;
  }
  if (strcmp(a, "--th-id") == 0) return t->id_file = v, 1;
  if (strcmp(a, "--th-store") == 0) return t->store = v, 1;
  if (strcmp(a, "--th-ready-file") == 0) return t->ready_file = v, 1;
  if (strcmp(a, "--th-cap") == 0) return bxd_th_uint(v, &t->opts.cap);
  if (strcmp(a, "--th-total") == 0) return bxd_th_uint(v, &t->opts.total);
  if (strcmp(a, "--th-expire") == 0) return bxd_th_uint(v, &t->opts.expire_default_s);
  return 0;
}

bool bxd_th_wanted(const bxd_th *t) {
  return t->nbinds > 0 || t->id_file != NULL;
}

static int bxd_th_write_ready(const char *path, const char *json) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return -1;
  bool ok = fprintf(f, "%s\n", json) > 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

int bxd_th_start(bxd_th *t, bx_ctx *ctx) {
  if (t->nbinds == 0 || t->id_file == NULL) {
    fprintf(stderr, "bxd: a box host needs --telehash URL and --th-id FILE\n");
    return -1;
  }
  int rc = bx_th_identity_load(t->id_file, &t->id);
  if (rc != 0) {
    fprintf(stderr, "bxd: --th-id %s: %s\n", t->id_file, bx_strerror(rc));
    return -1;
  }
  bx_th_endpoint_opts eo;
  memset(&eo, 0, sizeof eo);
  for (int i = 0; i < t->nbinds; i++)
    eo.bind[i] = t->binds[i];
  rc = bx_th_endpoint_new(ctx, t->id, &eo, &t->ep);
  if (rc != 0) {
    fprintf(stderr, "bxd: --telehash: %s\n", bx_strerror(rc));
    return -1;
  }
  t->opts.store_path = t->store;
  rc = bx_th_box_host_new(t->ep, &t->opts, &t->host);
  if (rc != 0) {
    fprintf(stderr, "bxd: the box host%s%s: %s; refusing to start\n", t->store ? " store " : "",
            t->store ? t->store : "", bx_strerror(rc));
    return -1;
  }
  char *j = bx_th_endpoint_json(t->ep);
  if (j == NULL) return -1;
  printf("telehash: %s\n", j);
  fflush(stdout);
  if (t->ready_file != NULL && bxd_th_write_ready(t->ready_file, j) != 0) {
    fprintf(stderr, "bxd: --th-ready-file %s: cannot write it\n", t->ready_file);
    free(j);
    return -1;
  }
  free(j);
  return 0;
}

void bxd_th_stats(const bxd_th *t, cJSON *o) {
  if (t->host == NULL) return;
  bx_th_box_host_stats s;
  bx_th_box_host_stats_get(t->host, &s);
  cJSON_AddNumberToObject(o, "thBoxes", (double)s.boxes);
  cJSON_AddNumberToObject(o, "thStored", (double)s.stored);
  cJSON_AddNumberToObject(o, "thAccepted", (double)s.accepted);
  cJSON_AddNumberToObject(o, "thEvicted", (double)s.evicted);
  cJSON_AddNumberToObject(o, "thExpired", (double)s.expired);
  cJSON_AddNumberToObject(o, "thRemoved", (double)s.removed);
  cJSON_AddNumberToObject(o, "thDelivered", (double)s.delivered);
  cJSON_AddNumberToObject(o, "thErrors", (double)s.errors);
  cJSON_AddNumberToObject(o, "thBusy", (double)s.busy);
}

void bxd_th_stop(bxd_th *t) {
  bx_th_box_host_free(t->host);
  t->host = NULL;
  if (t->ep != NULL) bx_th_endpoint_close(t->ep, NULL, NULL);
  t->ep = NULL;
  bx_th_identity_free(t->id);
  t->id = NULL;
}
