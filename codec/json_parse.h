/* Internal: parsing a pre-scanned frame with cJSON (never installed). */
#ifndef BX_JSON_PARSE_H
#define BX_JSON_PARSE_H

#include <stddef.h>

#include "json_scan.h"

typedef struct bx__json_parse_error {
  size_t offset;    /* byte offset in the frame */
  const char *what; /* static phrase, to be followed by "at byte N" */
} bx__json_parse_error;

/* Parses buf[0..len), which bx__json_scan() accepted and whose long strings it recorded in sp,
 * into *root (owned by the caller): the tree cJSON makes of buf, with the spans' strings copied
 * in rather than read by cJSON. Whitespace may follow the value, nothing else. Returns 0,
 * BX_EBADJSON (err filled, *root NULL) or BX_ENOMEM. */
int bx__json_parse(const char *buf, size_t len, const bx__json_spans *sp, cJSON **root,
                   bx__json_parse_error *err);

#endif /* BX_JSON_PARSE_H */
