/* Logging: every context has a log sink; bx logs dropped frames, rejected input and other
 * events a service operator needs to see. The default sink writes WARN and above to stderr. */
#ifndef BX_LOG_H
#define BX_LOG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { BX_LOG_ERROR = 0, BX_LOG_WARN = 1, BX_LOG_INFO = 2, BX_LOG_DEBUG = 3 };

/* A log sink. `line` is one formatted line without a newline, valid only during the call. */
typedef void (*bx_log_fn)(void *data, int level, const char *line);

/* Logs through ctx's sink when level is at or below the context's log level. */
BX_EXTERN void bx_log(bx_ctx *ctx, int level, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Returns "error", "warn", "info" or "debug" (static storage). */
BX_EXTERN const char *bx_log_level_name(int level);
/* Parses a level name as above; returns -1 when unknown. */
BX_EXTERN int bx_log_level_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* BX_LOG_H */
