/* Internal: the FOAM JSON writer with a hook for live-box placeholders (never installed). */
#ifndef BX_JSON_WRITE_H
#define BX_JSON_WRITE_H

#include <stddef.h>

#include "codec_internal.h"

/* Called for each bx.BoxRef placeholder node met while writing; appends the JSON text that
 * stands for it to out. Returns 0 or a negative bx error, which aborts the write. */
typedef int (*bx__json_box_fn)(void *data, bx_buf *out, const cJSON *placeholder);

/* Appends json to out exactly as bx_json_write() does, with two additions:
 *   - box_fn (optional): placeholders are handed to it instead of being written as ordinary
 *     objects;
 *   - limit: the most bytes this call may append; past it the write stops with BX_EMSGSIZE
 *     (SIZE_MAX for no limit).
 * On any error out->len is restored to its value on entry. Returns 0, BX_EMSGSIZE, BX_ENOMEM,
 * BX_EINVAL (a node of invalid type) or the error box_fn returned. */
int bx__json_write_ex(bx_buf *out, const cJSON *json, size_t limit, bx__json_box_fn box_fn,
                      void *data);

/* Appends one JSON number in FOAM's style (see bx_json_write()). Returns 0 or BX_ENOMEM. */
int bx__json_write_number(bx_buf *out, double v);

/* Appends one JSON string literal (with quotes) in FOAM's style. Returns 0 or BX_ENOMEM. */
int bx__json_write_string(bx_buf *out, const char *s);

#endif /* BX_JSON_WRITE_H */
