/* bx_ctx: one per libuv loop. It owns the root registry, `me` (its named box), the run queue
 * through which user callbacks run (never re-entrantly inside the bx call that caused them),
 * and the transports opened on it. A context and all its boxes are used from the loop's thread
 * only. */
#ifndef BX_CTX_H
#define BX_CTX_H

#include <uv.h>
#include "common.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BX_DEFAULT_MAX_FRAME (16u * 1024u * 1024u) /* bytes of JSON in one frame */
#define BX_DEFAULT_MAX_DEPTH 64                    /* JSON nesting levels */

/* Decides whether a peer's register or unregister (method) may proceed; msg is the request
 * (its origin says which connection, bx_msg_peer() who is there, bx_msg_attrs() any token it
 * carries). Return 0 to allow, or BX_EPERM to refuse. */
typedef int (*bx_authorize_fn)(void *data, const bx_msg *msg, const char *method);

typedef struct bx_ctx_options {
  const char *name;           /* context path; default "/proc/<pid>". Copied. */
  bool allow_remote_register; /* accept register/unregister from peers; default false */
  bx_authorize_fn authorize;  /* with allow_remote_register: a per-request check (optional) */
  void *authorize_data;
  size_t max_frame; /* default BX_DEFAULT_MAX_FRAME */
  int max_depth;    /* default BX_DEFAULT_MAX_DEPTH */
  int log_level;    /* default BX_LOG_WARN */
  bx_log_fn log;    /* a line sink (text lines); default: a line on stderr */
  void *log_data;
  bx_log_record_fn log_record; /* a structured sink: used instead of log when set */
  void *log_record_data;
  int log_format; /* the default stderr sink's format: BX_LOG_TEXT (default) or BX_LOG_JSON */
} bx_ctx_options;

/* Fills opts with the defaults. */
BX_EXTERN void bx_ctx_options_init(bx_ctx_options *opts);

/* Creates a context on loop (borrowed: it must outlive the context). opts may be NULL for the
 * defaults and is copied. Returns 0 and the context in *out, or BX_EINVAL, BX_ENOMEM or a
 * libuv error (*out NULL). */
BX_EXTERN int bx_ctx_new(uv_loop_t *loop, const bx_ctx_options *opts, bx_ctx **out);

/* Closes the context asynchronously: pending timeouts and retries complete with BX_ECLOSING,
 * the registry is cleared, handles close, and then cb (optional) runs on the loop with ctx
 * still valid; ctx is freed when cb returns. Returns BX_ECLOSING when already closing. Boxes
 * and messages still referenced afterwards may only be unreferenced. */
typedef void (*bx_ctx_close_cb)(bx_ctx *ctx, void *data);
BX_EXTERN int bx_ctx_close(bx_ctx *ctx, bx_ctx_close_cb cb, void *data);
BX_EXTERN bool bx_ctx_is_closing(const bx_ctx *ctx);

BX_EXTERN uv_loop_t *bx_ctx_loop(const bx_ctx *ctx);
/* The root registry box (borrowed). */
BX_EXTERN bx_box *bx_ctx_registry(const bx_ctx *ctx);
/* `me`: the named box of this context's own path, bound to its root registry (borrowed). */
BX_EXTERN bx_box *bx_ctx_me(const bx_ctx *ctx);
/* The context path, e.g. "/proc/1234" (borrowed). */
BX_EXTERN const char *bx_ctx_name(const bx_ctx *ctx);
BX_EXTERN bool bx_ctx_allows_remote_register(const bx_ctx *ctx);
/* Applies the context's policy to a peer's register/unregister request: 0 or BX_EPERM. */
BX_EXTERN int bx_ctx_authorize(bx_ctx *ctx, const bx_msg *msg, const char *method);
BX_EXTERN size_t bx_ctx_max_frame(const bx_ctx *ctx);
BX_EXTERN int bx_ctx_max_depth(const bx_ctx *ctx);
BX_EXTERN void bx_ctx_set_log_level(bx_ctx *ctx, int level);

/* The decoder accepts only known classes: FOAM's box classes and __Timestamp__, plus what is
 * added here (generated code adds the struct classes of its interfaces). `cls` is copied. A
 * pattern "calc.*" allows every class under "calc."; "*" allows every class — for a context
 * that only routes messages (a hub, a relay) and never interprets their payloads. The box
 * classes keep their shape checks and bx.BoxRef is never accepted from the wire.
 * Returns 0 or BX_ENOMEM / BX_EINVAL (a malformed pattern). */
BX_EXTERN int bx_ctx_allow_class(bx_ctx *ctx, const char *cls);
BX_EXTERN bool bx_ctx_class_allowed(const bx_ctx *ctx, const char *cls);

/* A user pointer, with an optional destructor called when the context is freed. */
BX_EXTERN void bx_ctx_set_data(bx_ctx *ctx, void *data, void (*data_free)(void *));
BX_EXTERN void *bx_ctx_data(const bx_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif /* BX_CTX_H */
