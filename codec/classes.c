/* The codec's state on a context: the class whitelist the decoder checks every "class" against
 * (FOAM's box classes and __Timestamp__ always; generated code adds its struct classes), and
 * the hooks through which the registry layer exports boxes and resolves NamedBox paths. */
#include <string.h>

#include "codec_internal.h"

typedef struct cc_state {
  bx__map *classes;
  const bx__codec_hooks *hooks;
} cc_state;

static const char *const cc_default_classes[] = {
    BX_CLASS_MESSAGE,       BX_CLASS_SUB_BOX_MESSAGE,  BX_CLASS_RPC_MESSAGE,  BX_CLASS_RPC_RETURN,
    BX_CLASS_RPC_ERROR,     BX_CLASS_REMOTE_EXCEPTION, BX_CLASS_NO_SUCH_NAME, BX_CLASS_HELLO,
    BX_CLASS_REGISTER_SELF, BX_CLASS_SUB_BOX,          BX_CLASS_RETURN_BOX,   BX_CLASS_NAMED_BOX,
    BX_CLASS_TIMESTAMP,
};

static cc_state *cc(const bx_ctx *ctx) {
  return *bx__ctx_slot((bx_ctx *)ctx, BX__SLOT_CODEC);
}

static void cc_free(bx_ctx *ctx, void *state) {
  (void)ctx;
  cc_state *st = state;
  bx__map_free(st->classes);
  bx__free(st);
}

static const bx__tenant cc_tenant = {.free = cc_free};

int bx__codec_attach(bx_ctx *ctx, const bx__codec_hooks *hooks) {
  cc_state *st = bx__calloc(1, sizeof *st);
  if (st == NULL) return BX_ENOMEM;
  bx__ctx_set_tenant(ctx, BX__SLOT_CODEC, st, &cc_tenant);
  st->hooks = hooks;
  if ((st->classes = bx__map_new()) == NULL) return BX_ENOMEM;
  for (size_t i = 0; i < sizeof cc_default_classes / sizeof cc_default_classes[0]; i++)
    if (bx__map_put(st->classes, cc_default_classes[i], (void *)1, NULL)) return BX_ENOMEM;
  return 0;
}

const bx__codec_hooks *bx__codec_hooks_of(const bx_ctx *ctx) {
  return cc(ctx)->hooks;
}

int bx_ctx_allow_class(bx_ctx *ctx, const char *cls) {
  if (cls == NULL || *cls == '\0' || strcmp(cls, BX_CLASS_BOX_REF) == 0) return BX_EINVAL;
  const char *star = strchr(cls, '*');
  if (star && (star[1] != '\0' || (star != cls && star[-1] != '.'))) return BX_EINVAL;
  return bx__map_put(cc(ctx)->classes, cls, (void *)1, NULL);
}

/* Exact names first, then "*", then each "prefix.*" from the longest prefix down. */
bool bx_ctx_class_allowed(const bx_ctx *ctx, const char *cls) {
  if (cls == NULL || strcmp(cls, BX_CLASS_BOX_REF) == 0) return false;
  const bx__map *classes = cc(ctx)->classes;
  if (bx__map_get(classes, cls) != NULL) return true;
  if (bx__map_get(classes, "*") != NULL) return true;
  char pattern[256];
  size_t len = strlen(cls);
  if (len + 2 > sizeof pattern) return false;
  memcpy(pattern, cls, len + 1);
  for (size_t i = len; i-- > 0;) {
    if (pattern[i] != '.') continue;
    pattern[i + 1] = '*';
    pattern[i + 2] = '\0';
    if (bx__map_get(classes, pattern) != NULL) return true;
  }
  return false;
}
