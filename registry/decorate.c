/* register(name, clientServerService, box) of the seed: a registration whose stored service and
 * returned box are made by a pair of decorating callbacks (bx_client_server). */
#include "registry_internal.h"

int bx_register_decorated(bx_box *registry, const char *name, const bx_client_server *cs,
                          bx_box *service, bx_box **out) {
  if (out) *out = NULL;
  if (cs == NULL || cs->server_box == NULL || cs->client_box == NULL)
    return cs == NULL ? bx_register(registry, name, service, out) : BX_EINVAL;
  if (registry == NULL || service == NULL) return BX_EINVAL;
  bx_box *stored = NULL;
  int rc = cs->server_box(cs->data, service, &stored);
  if (rc == 0 && stored == NULL) rc = BX_EINVAL;
  if (rc) return rc;
  bx_box *plain = NULL; /* the box register() returns without decoration */
  rc = bx_register(registry, name, stored, &plain);
  bx_box_unref(stored);
  if (rc) return rc;
  bx_box *client = NULL;
  rc = cs->client_box(cs->data, plain, &client);
  if (rc == 0 && client == NULL) rc = BX_EINVAL;
  if (rc) { /* undone: nothing stays registered when a decoration fails */
    const char *as = bx__box_is(plain, &bx__sub_box_ops) ? bx_sub_box_name(plain) : name;
    if (as) bx_unregister(registry, as);
    bx_box_unref(plain);
    return rc;
  }
  bx_box_unref(plain);
  if (out)
    *out = client;
  else
    bx_box_unref(client);
  return 0;
}
