/* The FOAM JSON codec (spec/foam): bx_msg <-> bytes, with no I/O. Every transport and the
 * fuzzers use the same two functions. */
#ifndef BX_CODEC_H
#define BX_CODEC_H

#include <cjson/cJSON.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer. Zero-initialised is empty and valid. */
typedef struct bx_buf {
  char *base;
  size_t len;
  size_t cap;
} bx_buf;

/* Makes room for `extra` more bytes. Returns 0 or BX_ENOMEM. */
BX_EXTERN int bx_buf_reserve(bx_buf *buf, size_t extra);
BX_EXTERN int bx_buf_append(bx_buf *buf, const void *data, size_t len);
/* Frees the memory and empties the buffer. */
BX_EXTERN void bx_buf_free(bx_buf *buf);

/* Why a decode failed: code as returned, text a one-line human-readable reason, and what the
 * refused frame still says when it reads as a foam.box.Message:
 * - addressee: the name of its top-level SubBoxMessage (the box it was sent to: for a reply,
 *   the caller's reply export), cut to fit; "" otherwise;
 * - reply / reply_path: its reply box, when that is SubBox{name, ReturnBox} (reply: the name,
 *   "back over the connection the frame came on") or NamedBox{path} (reply_path), so that the
 *   sender can be told at once; "" otherwise, and "" when the name does not fit. */
typedef struct bx_codec_error {
  int code;
  char text[192];
  char addressee[64];
  char reply[64];
  char reply_path[128];
} bx_codec_error;

/* Decodes one frame of JSON text (`len` bytes, no terminator needed) using ctx's limits and
 * class whitelist. origin (borrowed, may be NULL) is the box of the connection the frame came
 * from: every foam.box.ReturnBox in the frame resolves to it, and it becomes the message's
 * origin. The top level is a foam.box.Message, or a foam.box.RegisterSelfMessage (the stream
 * handshake), which decodes to a message whose payload is that object.
 *
 * On success stores a new message (one reference, caller owns) in *out and returns 0. On
 * failure returns BX_EMSGSIZE, BX_EBADUTF8, BX_EBADJSON, BX_ETOODEEP, BX_EINEXACT, BX_EBADMSG,
 * BX_EUNKNOWNCLASS or BX_ENOMEM, leaves *out NULL and, if err is non-NULL, explains why. */
BX_EXTERN int bx_decode(bx_ctx *ctx, const char *buf, size_t len, bx_box *origin, bx_msg **out,
                        bx_codec_error *err);

/* Encodes msg as one frame of JSON text appended to out, for the connection whose box is
 * target (borrowed; NULL when there is no connection). Live boxes with no wire form for that
 * target are exported: registered in ctx's root registry under a fresh name (the reply box
 * one-shot, so its export is removed after the first message) and written as
 * SubBox{name, ReturnBox}. Returns 0, or BX_EMSGSIZE (over ctx's frame limit; out is restored)
 * or BX_ENOMEM; a frame that fails takes back every export it made. msg is not changed or
 * consumed. */
BX_EXTERN int bx_encode(bx_ctx *ctx, const bx_msg *msg, bx_box *target, bx_buf *out);

/* Appends JSON text for a cJSON tree in FOAM's style: '"', '\\' and control characters escaped
 * (control characters as lower-case \u00xx), non-ASCII as raw UTF-8, integral numbers as
 * integers, others in the shortest form that reads back exactly. Placeholders for live boxes
 * are not allowed here. Returns 0 or BX_ENOMEM. */
BX_EXTERN int bx_json_write(bx_buf *out, const cJSON *json);

#ifdef __cplusplus
}
#endif
#endif /* BX_CODEC_H */
