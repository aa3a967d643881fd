/* Exporting: how a live box with no wire form for a frame's target becomes a portable reference.
 * It is registered in the context's root registry under a fresh name and written as
 * SubBox{name, ReturnBox}: "name in the registry of whoever sent this frame" (spec/foam
 * section 6). Reply boxes are exported one-shot; all exports are owned by the target
 * connection, so closing it releases them (bx__registry_drop_owner). */
#include <string.h>

#include "internal.h"

int bx__export_register(bx_export *ex, bx_box *box, const char **name) {
  bx__reg_opts opts = {.one_shot = ex->one_shot, .owner = ex->target};
  int rc = bx__registry_add(bx_ctx_registry(ex->ctx), NULL, box, &opts, name);
  size_t n = rc == 0 && ex->one_shot ? strlen(*name) : 0;
  if (n > 0 && n < sizeof box->export_name) /* remembered: an expired call removes it */
    memcpy(box->export_name, *name, n + 1); /* (generated names are at most 20 digits) */
  if (rc && ex->err == 0) ex->err = rc;
  return rc;
}

void bx__unexport(bx_ctx *ctx, bx_box *box) {
  if (box == NULL || box->export_name[0] == '\0') return;
  char name[sizeof box->export_name]; /* detach first: the registry may hold the last reference */
  memcpy(name, box->export_name, sizeof name);
  box->export_name[0] = '\0';
  bx_box *root = bx_ctx_registry(ctx);
  if (bx_lookup(root, name) == box) bx_unregister(root, name);
}
