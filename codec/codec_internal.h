/* The codec layer's private header (never installed): the FOAM JSON codec's internals.
 *
 * Design notes
 * - Above the box layer, below the registry. The codec turns messages into bytes and back and
 *   does no I/O; the two things it needs from the registry layer, exporting a live box under a
 *   fresh name and resolving a NamedBox path, are hooks the registry installs on the context
 *   (bx__codec_set_hooks), so the codec owns no export and never calls up.
 * - The codec's state on a context (its slot): the class whitelist and the hooks.
 */
#ifndef BX_CODEC_INTERNAL_H
#define BX_CODEC_INTERNAL_H

#include "box_internal.h"

/* What the codec asks of the layer above. */
typedef struct bx__codec_hooks {
  /* Exports box, which has no wire form for ex->target, under a fresh name (*name, borrowed:
   * valid while the export lives): one-shot when ex->one_shot, owned by ex->target. Counts it
   * in ex->count and *ex->owned. Returns 0 or the error, also recorded in ex->err. */
  int (*export_box)(bx_export *ex, bx_box *box, const char **name);
  /* Takes back an export of this encode (the frame failed): removes name if it still names
   * box. */
  void (*unexport)(bx_ctx *ctx, const char *name, bx_box *box);
  /* A new reference to the named box of path (a NamedBox in a frame) in *out: 0, or BX_EINVAL
   * for a malformed path or BX_ENOMEM (*out NULL). */
  int (*named_box)(bx_ctx *ctx, const char *path, bx_box **out);
} bx__codec_hooks;

/* Installs the codec's state on ctx (the built-in classes allowed) with hooks (static storage).
 * Returns 0 or BX_ENOMEM. */
int bx__codec_attach(bx_ctx *ctx, const bx__codec_hooks *hooks);
/* The hooks installed on ctx (borrowed). */
const bx__codec_hooks *bx__codec_hooks_of(const bx_ctx *ctx);

/* Encoding with a connection's options. */
typedef struct bx__encode_opts {
  bx_box *target;   /* the connection the frame goes to (borrowed), or NULL */
  size_t max_frame; /* the frame cap; 0: the context's */
  size_t *owned;    /* the target's count of the exports it owns (bx_export.owned), or NULL */
} bx__encode_opts;
/* bx_encode() with opts (NULL: no target, the context's cap); *exports (optional) receives the
 * number of exports the frame made (0 when it fails: they are all taken back). */
int bx__encode(bx_ctx *ctx, const bx_msg *msg, const bx__encode_opts *opts, bx_buf *out,
               size_t *exports);

/* bx_decode() without the envelope road (codec.c): every frame parsed by cJSON and checked as
 * a tree. For tests that compare the two roads. */
int bx__decode_general(bx_ctx *ctx, const char *buf, size_t len, bx_box *origin, bx_msg **out,
                       bx_codec_error *err);

/* An ISO-8601 date-time as JavaScript writes it (toISOString) and reads it (Date.parse's format,
 * with a zone when there is a time): *out receives milliseconds since the epoch. False for
 * anything else or out of JavaScript's range (iso_date.c). */
bool bx__iso_date_ms(const char *s, double *out);

/* Is s[0..n) valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no sequence cut short)? The pre-scan's rules, for the WebSocket transport's text
 * messages (json_scan.c). */
bool bx__utf8_valid(const unsigned char *s, size_t n);

#endif /* BX_CODEC_INTERNAL_H */
