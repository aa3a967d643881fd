/* Exporting: how a live box with no wire form for a frame's target becomes a portable reference.
 * It is registered in the context's root registry under a fresh name and written as
 * SubBox{name, ReturnBox}: "name in the registry of whoever sent this frame" (spec/foam
 * section 6). Reply boxes are exported one-shot; all exports are owned by the target
 * connection, so closing it releases them (bx__registry_drop_owner), and counted in the
 * target's count of what it owns while they live.
 *
 * These are the codec's hooks (bx__codec_hooks): the codec asks, the registry keeps the books. */
#include <string.h>

#include "registry_internal.h"

int bx__export_register(bx_export *ex, bx_box *box, const char **name) {
  bx__reg_opts opts = {.one_shot = ex->one_shot, .owner = ex->target, .owned = ex->owned};
  int rc = bx__registry_add(bx_ctx_registry(ex->ctx), NULL, box, &opts, name);
  size_t n = rc == 0 && ex->one_shot ? strlen(*name) : 0;
  if (n > 0 && n < sizeof box->export_name) /* remembered: an expired call removes it */
    memcpy(box->export_name, *name, n + 1); /* (generated names are at most 20 digits) */
  if (rc == 0) ex->count++;
  if (rc && ex->err == 0) ex->err = rc;
  return rc;
}

/* Removes name from the root registry if it still names box. */
static void ex_take_back(bx_ctx *ctx, const char *name, bx_box *box) {
  bx_box *root = bx_ctx_registry(ctx);
  if (bx_lookup(root, name) != box) return;
  char copy[64]; /* name may be the entry's own key, which dies with it */
  const char *key = bx__copy_text(copy, sizeof copy, name, strlen(name));
  if (key == NULL) return;
  bx_unregister(root, key);
  if (key != copy) bx__free((char *)key);
}

void bx__unexport(bx_ctx *ctx, bx_box *box) {
  if (box == NULL || box->export_name[0] == '\0') return;
  char name[sizeof box->export_name]; /* detach first: the registry may hold the last reference */
  memcpy(name, box->export_name, sizeof name);
  box->export_name[0] = '\0';
  ex_take_back(ctx, name, box);
}

static void ex_unexport(bx_ctx *ctx, const char *name, bx_box *box) {
  if (strcmp(box->export_name, name) == 0) box->export_name[0] = '\0';
  ex_take_back(ctx, name, box);
}

const bx__codec_hooks bx__registry_codec_hooks = {
    .export_box = bx__export_register,
    .unexport = ex_unexport,
    .named_box = bx_named_box,
};
