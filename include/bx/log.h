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

/* A structured log event: a message and named fields (an "event" name, the service, the peer,
 * the reason ...). Everything is borrowed for the duration of the sink's call. */
typedef struct bx_log_field {
  const char *key;   /* a short lower-case name: "event", "name", "peer", "reason", "ms" ... */
  const char *value; /* text; numbers are written as text too */
} bx_log_field;

typedef struct bx_log_record {
  int level;                  /* BX_LOG_* */
  const char *ctx;            /* the context's name, e.g. "/bxd" */
  const char *msg;            /* the formatted message (without the fields) */
  const bx_log_field *fields; /* nfields entries (NULL when none) */
  size_t nfields;
} bx_log_record;

/* A structured sink (bx_ctx_options.log_record): gets every record with its fields. */
typedef void (*bx_log_record_fn)(void *data, const bx_log_record *rec);

/* The line formats of the default sink (bx_ctx_options.log_format) and bx_log_format(). */
enum {
  BX_LOG_TEXT = 0, /* bx warn /bxd: message key=value key="two words" */
  BX_LOG_JSON = 1  /* {"time":"2026-12-07T21:55:24.123Z","level":"warn","ctx":"/bxd",
                      "msg":"message","key":"value"}  (one object per line) */
};

/* Logs through ctx's sink when level is at or below the context's log level. */
BX_EXTERN void bx_log(bx_ctx *ctx, int level, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Like bx_log() with fields (borrowed for the call; n may be 0). */
BX_EXTERN void bx_log_fields(bx_ctx *ctx, int level, const bx_log_field *fields, size_t n,
                             const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Writes rec as one line (no newline) in format (BX_LOG_TEXT or BX_LOG_JSON) into buf of len
 * bytes (caller's storage), NUL-terminated; a line too long is cut (JSON: still one valid
 * object, its message shortened). Returns the length written. */
BX_EXTERN size_t bx_log_format(const bx_log_record *rec, int format, char *buf, size_t len);

/* Parses "text" or "json"; returns BX_LOG_TEXT, BX_LOG_JSON or -1. */
BX_EXTERN int bx_log_format_from_name(const char *name);

/* Returns "error", "warn", "info" or "debug" (static storage). */
BX_EXTERN const char *bx_log_level_name(int level);
/* Parses a level name as above; returns -1 when unknown. */
BX_EXTERN int bx_log_level_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* BX_LOG_H */
