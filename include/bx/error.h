/* Error codes: 0 is success, every error is a negative int.
 *
 * libuv's codes (UV_E*, -errno on Unix) pass through bx unchanged. bx's own codes live in the
 * reserved range -30000..-30999 and come from the one table below, which is append-only: a
 * code's number never changes once released. bx_strerror() and bx_err_name() name both kinds.
 */
#ifndef BX_ERROR_H
#define BX_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, text) */
#define BX_ERRNO_MAP(XX)                                    \
  XX(ENOSERVICE, -30001, "no such service")                 \
  XX(ETIMEDOUT, -30002, "timed out")                        \
  XX(ECONNLOST, -30003, "connection lost")                  \
  XX(EMSGSIZE, -30004, "message too large")                 \
  XX(ECANCELED, -30005, "canceled")                         \
  XX(ECLOSING, -30006, "context closing")                   \
  XX(EBADJSON, -30007, "malformed JSON")                    \
  XX(EBADUTF8, -30008, "invalid UTF-8")                     \
  XX(ETOODEEP, -30009, "nesting too deep")                  \
  XX(EBADMSG, -30010, "malformed message")                  \
  XX(EUNKNOWNCLASS, -30011, "unknown class")                \
  XX(EINEXACT, -30012, "integer not exactly representable") \
  XX(EREMOTE, -30013, "remote error")                       \
  XX(EREJECTED, -30014, "rejected")                         \
  XX(EEXIST, -30015, "name already registered")             \
  XX(EPERM, -30016, "operation not permitted")              \
  XX(ENOREPLY, -30017, "no reply box")                      \
  XX(ENOROUTE, -30018, "no route to box")                   \
  XX(EQUEUEFULL, -30019, "queue full")                      \
  XX(ENOMETHOD, -30020, "no such method")                   \
  XX(EBADARG, -30021, "bad argument")                       \
  XX(EINVAL, -30022, "invalid argument")                    \
  XX(ENOMEM, -30023, "out of memory")                       \
  XX(ECLOSED, -30024, "box closed")                         \
  XX(ENOTSUP, -30025, "operation not supported")            \
  XX(EAUTH, -30026, "authentication failed")

typedef enum {
#define BX__ERR_ENUM(name, value, text) BX_##name = (value),
  BX_ERRNO_MAP(BX__ERR_ENUM)
#undef BX__ERR_ENUM
      BX__ERR_MIN = -30999,
  BX__ERR_MAX = -30000
} bx_errno_t;

/* Returns a static description of any bx or libuv error code ("unknown error" otherwise). */
BX_EXTERN const char *bx_strerror(int err);
/* Returns the static symbolic name: "BX_ETIMEDOUT", "UV_ECONNREFUSED", "BX_UNKNOWN". */
BX_EXTERN const char *bx_err_name(int err);
/* Maps a name produced by bx_err_name() back to its code; returns 0 for an unknown name. */
BX_EXTERN int bx_err_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* BX_ERROR_H */
