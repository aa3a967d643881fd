/* bxd --nats: attaches the hub to a NATS cluster and federates (see nats_fed.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bx/nats.h"
#include "nats_fed.h"

static bx_listener *fed_att; /* one attachment per bxd process */

static void fed_add_name(const char *name, bool local, void *data) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "name", name);
  cJSON_AddBoolToObject(e, "local", local);
  cJSON_AddItemToArray(data, e);
}

static int fed_by_name(const void *a, const void *b) {
  const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
  return strcmp(cJSON_GetObjectItem(x, "name")->valuestring,
                cJSON_GetObjectItem(y, "name")->valuestring);
}

/* clusterList(): the cluster's services, sorted by name. */
static void fed_list_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  (void)data;
  cJSON *all = cJSON_CreateArray();
  bx_nats_cluster_services(fed_att, fed_add_name, all);
  int n = cJSON_GetArraySize(all);
  cJSON **items = calloc((size_t)(n ? n : 1), sizeof *items);
  cJSON *sorted = cJSON_CreateArray();
  for (int i = 0; items && i < n; i++)
    items[i] = cJSON_DetachItemFromArray(all, 0);
  if (items) qsort(items, (size_t)n, sizeof *items, fed_by_name);
  for (int i = 0; items && i < n; i++)
    cJSON_AddItemToArray(sorted, items[i]);
  free(items);
  cJSON_Delete(all);
  cJSON *ret = bx_json_new_object(BX_CLASS_RPC_RETURN);
  cJSON_AddItemToObject(ret, "data", sorted);
  bx_reply_json(msg, ret);
}

int bxd_nats_start(bx_ctx *ctx, const char *url) {
  int rc = bx_nats_attach(ctx, url, NULL, &fed_att);
  if (rc == 0) rc = bx_nats_federate(fed_att, 0);
  bx_box *b = NULL;
  if (rc == 0) rc = bx_function_box_new(ctx, fed_list_fn, NULL, NULL, &b);
  if (rc == 0) rc = bx_registry_add_method(bx_ctx_registry(ctx), "clusterList", b);
  bx_box_unref(b);
  if (rc)
    fprintf(stderr, "bxd: --nats %s: %s\n", url, bx_strerror(rc));
  else
    printf("attached to %s\n", url);
  return rc;
}
