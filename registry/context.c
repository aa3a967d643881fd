/* bx_ctx_new(): the context as users get it. The ground floor's context (core/ctx.c) with the
 * codec's state and the registry layer's as tenants: the root registry, `me` (the named box of
 * the context's own path, bound to the root registry) and the table of named boxes.
 *
 * Design notes
 * - The registry layer is a tenant of the context, not its owner: its state hangs on the
 *   context's registry slot, stage one of closing clears the root registry (rx_close), and
 *   freeing the context releases `me`, the named boxes and the registry (rx_free), in the
 *   order the old single constructor used, so a binding never outlives what it points at.
 * - The codec reaches this layer only through the hooks installed here (export.c, named.c).
 */
#include <stdlib.h>

#include "registry_internal.h"

typedef struct rx_state {
  bx_box *registry; /* the root registry (owned) */
  bx_box *me;       /* owned */
  bx__map *named;   /* path -> named box (named.c) */
} rx_state;

static rx_state *rx(bx_ctx *ctx) {
  return *bx__ctx_slot(ctx, BX__SLOT_REGISTRY);
}

bx__map *bx__named_map(bx_ctx *ctx) {
  return rx(ctx)->named;
}

bx_box *bx_ctx_me(const bx_ctx *ctx) {
  return rx((bx_ctx *)ctx)->me;
}

static void rx_close(bx_ctx *ctx, void *state) {
  (void)ctx;
  rx_state *st = state;
  if (st->registry) bx__registry_clear(st->registry);
}

static void rx_free(bx_ctx *ctx, void *state) {
  rx_state *st = state;
  bx_box_unref(st->me);
  if (st->named) bx__named_clear(st->named);
  bx__map_free(st->named);
  if (st->registry) bx__registry_clear(st->registry);
  bx_box_unref(st->registry);
  bx__ctx_set_root(ctx, NULL);
  bx__free(st);
}

static const bx__tenant rx_tenant = {.close = rx_close, .free = rx_free};

static int rx_attach(bx_ctx *ctx) {
  rx_state *st = bx__calloc(1, sizeof *st);
  if (st == NULL) return BX_ENOMEM;
  bx__ctx_set_tenant(ctx, BX__SLOT_REGISTRY, st, &rx_tenant);
  if ((st->named = bx__map_new()) == NULL) return BX_ENOMEM;
  if (bx_registry_new(ctx, &st->registry) != 0) return BX_ENOMEM;
  bx__ctx_set_root(ctx, st->registry);
  if (bx_named_box(ctx, bx_ctx_name(ctx), &st->me) != 0) return BX_EINVAL;
  return bx_named_bind(ctx, bx_ctx_name(ctx), st->registry);
}

int bx_ctx_new(uv_loop_t *loop, const bx_ctx_options *opts, bx_ctx **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (loop == NULL) return BX_EINVAL;
  bx_ctx *ctx;
  int rc = bx__ctx_create(&ctx, loop, opts);
  if (rc) return rc;
  rc = bx__codec_attach(ctx, &bx__registry_codec_hooks);
  if (rc == 0) rc = rx_attach(ctx);
  if (rc == 0) rc = bx__ctx_start(ctx);
  if (rc) {
    bx__ctx_free(ctx);
    return rc;
  }
  *out = ctx;
  return 0;
}
