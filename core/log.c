/* The context's log: levels, records with fields, the text and JSON line formats, the default
 * stderr sink. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"

static const char *const lg_level_names[] = {"error", "warn", "info", "debug"};

const char *bx_log_level_name(int level) {
  return level >= 0 && level <= BX_LOG_DEBUG ? lg_level_names[level] : "?";
}

int bx_log_level_from_name(const char *name) {
  for (int i = 0; name && i <= BX_LOG_DEBUG; i++)
    if (strcmp(name, lg_level_names[i]) == 0) return i;
  return -1;
}

int bx_log_format_from_name(const char *name) {
  if (name && strcmp(name, "text") == 0) return BX_LOG_TEXT;
  if (name && strcmp(name, "json") == 0) return BX_LOG_JSON;
  return -1;
}

/* ---- formatting --------------------------------------------------------------------------- */

typedef struct lg_out {
  char *buf;
  size_t len, cap; /* cap: bytes usable before the NUL */
} lg_out;

static void lg_put(lg_out *o, const char *s, size_t n) {
  if (n > o->cap - o->len) n = o->cap - o->len;
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static void lg_puts(lg_out *o, const char *s) {
  lg_put(o, s, strlen(s));
}

/* One character of a JSON string's inside, escaped, into esc (8 bytes); returns its length. */
static size_t lg_json_char(unsigned char c, char esc[8]) {
  if (c == '"' || c == '\\') return (size_t)snprintf(esc, 8, "\\%c", c);
  if (c == '\n') return (size_t)snprintf(esc, 8, "\\n");
  if (c == '\t') return (size_t)snprintf(esc, 8, "\\t");
  if (c == '\r') return (size_t)snprintf(esc, 8, "\\r");
  if (c < 0x20) return (size_t)snprintf(esc, 8, "\\u%04x", c);
  esc[0] = (char)c;
  return 1;
}

/* s as the inside of a JSON string, escaped, leaving at least keep bytes of o free: an escape
 * is written whole or not at all, so a cut string is still valid. */
static void lg_json_text(lg_out *o, const char *s, size_t keep) {
  for (; *s; s++) {
    char esc[8];
    size_t n = lg_json_char((unsigned char)*s, esc);
    if (o->len + n + keep > o->cap) return;
    lg_put(o, esc, n);
  }
}

/* ,"key":"value" when at least its key and quotes fit with keep bytes left (else nothing); the
 * value is cut to fit. */
static void lg_json_pair(lg_out *o, const char *key, const char *value, size_t keep) {
  if (o->len + strlen(key) + 6 + keep > o->cap) return;
  lg_puts(o, ",\"");
  lg_json_text(o, key, 0);
  lg_puts(o, "\":\"");
  lg_json_text(o, value ? value : "", keep + 1);
  lg_puts(o, "\"");
}

static void lg_now_iso(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year % 10000 + 1900,
           (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
           tm.tm_sec % 100, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* The JSON object: fields that do not fit are left out, a message too long is cut, and the
 * closing brace is always there. */
static void lg_json(lg_out *o, const bx_log_record *rec) {
  static const size_t msg_room = 12; /* ,"msg":"" and } */
  char now[64];
  lg_now_iso(now, sizeof now);
  lg_puts(o, "{\"time\":\"");
  lg_puts(o, now);
  lg_puts(o, "\"");
  lg_json_pair(o, "level", bx_log_level_name(rec->level), msg_room);
  lg_json_pair(o, "ctx", rec->ctx, msg_room);
  for (size_t i = 0; i < rec->nfields; i++)
    lg_json_pair(o, rec->fields[i].key, rec->fields[i].value, msg_room);
  lg_json_pair(o, "msg", rec->msg, 1); /* last: a long message is what gets cut */
  lg_puts(o, "}");
}

/* value, quoted when it holds spaces, quotes or '=' (or is empty). */
static void lg_text_value(lg_out *o, const char *v) {
  if (v == NULL) v = "";
  if (*v != '\0' && strpbrk(v, " \t\"=") == NULL) {
    lg_puts(o, v);
    return;
  }
  lg_puts(o, "\"");
  lg_json_text(o, v, 1);
  lg_puts(o, "\"");
}

/* "message key=value ...": what a line sink gets. */
static void lg_text_body(lg_out *o, const bx_log_record *rec) {
  lg_puts(o, rec->msg ? rec->msg : "");
  for (size_t i = 0; i < rec->nfields; i++) {
    lg_puts(o, " ");
    lg_puts(o, rec->fields[i].key);
    lg_puts(o, "=");
    lg_text_value(o, rec->fields[i].value);
  }
}

static void lg_text(lg_out *o, const bx_log_record *rec) {
  lg_puts(o, "bx ");
  lg_puts(o, bx_log_level_name(rec->level));
  lg_puts(o, " ");
  lg_puts(o, rec->ctx ? rec->ctx : "");
  lg_puts(o, ": ");
  lg_text_body(o, rec);
}

size_t bx_log_format(const bx_log_record *rec, int format, char *buf, size_t len) {
  if (buf == NULL || len == 0) return 0;
  lg_out o = {buf, 0, len - 1};
  if (rec && format == BX_LOG_JSON && len > 80)
    lg_json(&o, rec);
  else if (rec)
    lg_text(&o, rec);
  buf[o.len] = '\0';
  return o.len;
}

/* ---- sinks -------------------------------------------------------------------------------- */

static void lg_emit(bx_ctx *ctx, const bx_log_record *rec) {
  const bx_ctx_options *opts = bx__ctx_options(ctx);
  if (opts->log_record) {
    opts->log_record(opts->log_record_data, rec);
    return;
  }
  char line[2048];
  if (opts->log) { /* a line sink: the message, then its fields as key=value */
    lg_out o = {line, 0, sizeof line - 1};
    lg_text_body(&o, rec);
    line[o.len] = '\0';
    opts->log(opts->log_data, rec->level, line);
    return;
  }
  bx_log_format(rec, opts->log_format, line, sizeof line);
  fprintf(stderr, "%s\n", line);
}

static void lg_vlog(bx_ctx *ctx, int level, const bx_log_field *fields, size_t n, const char *fmt,
                    va_list ap) {
  if (ctx == NULL || level > bx__ctx_options(ctx)->log_level) return;
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  bx_log_record rec = {level, bx_ctx_name(ctx), msg, n ? fields : NULL, n};
  lg_emit(ctx, &rec);
}

void bx__vlog(bx_ctx *ctx, int level, const char *fmt, va_list ap) {
  lg_vlog(ctx, level, NULL, 0, fmt, ap);
}

void bx_log(bx_ctx *ctx, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lg_vlog(ctx, level, NULL, 0, fmt, ap);
  va_end(ap);
}

void bx_log_fields(bx_ctx *ctx, int level, const bx_log_field *fields, size_t n, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  lg_vlog(ctx, level, fields, n, fmt, ap);
  va_end(ap);
}
