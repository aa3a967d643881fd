/* bx_box: the one interface, send(message), and how to write a box of your own.
 *
 * A box is refcounted and belongs to one context (and so to one loop thread). Its behaviour is
 * an ops table; the framework allocates the box together with `priv_size` bytes of private
 * state (bx_box_priv()).
 *
 * Sending always hands over the caller's message reference. The return value tells whether
 * the box took the message:
 *   0         accepted: every later outcome (a result, an error, a timeout) reaches the
 *             message's reply box, exactly once;
 *   negative  rejected outright: nothing was or will be sent to the reply box, and the caller
 *             reports the error itself.
 */
#ifndef BX_BOX_H
#define BX_BOX_H

#include <cjson/cJSON.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The encoding context a box's to_wire op receives (opaque). */
typedef struct bx_export bx_export;

#define BX_BOX_OPS_VERSION 1

typedef struct bx_box_ops {
  unsigned version; /* BX_BOX_OPS_VERSION */
  const char *type; /* short type name for logs, e.g. "sub" */
  /* Required. Takes ownership of msg whatever it returns (see above). */
  int (*send)(bx_box *self, bx_msg *msg);
  /* Optional. Returns the box's portable wire form for the frame being encoded (a new cJSON
   * node the caller owns), or NULL when the box has none for this frame's target; the encoder
   * then exports the box (registers it under a fresh name) and writes a SubBox reference. */
  cJSON *(*to_wire)(bx_box *self, bx_export *ex);
  /* Optional. Releases private state when the last reference goes. Must not use the context:
   * a box may outlive it. */
  void (*destroy)(bx_box *self);
} bx_box_ops;

/* Creates a box of ctx with ops (static storage, must outlive the box) and zeroed private state
 * of priv_size bytes: 0 and one reference in *out, or BX_EINVAL (no ctx, no ops or no send op)
 * or BX_ENOMEM with *out NULL. */
BX_EXTERN int bx_box_new(bx_ctx *ctx, const bx_box_ops *ops, size_t priv_size, bx_box **out);
/* The private state (suitably aligned for any type). */
BX_EXTERN void *bx_box_priv(bx_box *box);
BX_EXTERN const bx_box_ops *bx_box_get_ops(const bx_box *box);
BX_EXTERN bx_ctx *bx_box_ctx(const bx_box *box);
/* "sub", "promised", ... from the ops table. */
BX_EXTERN const char *bx_box_type(const bx_box *box);

/* Adds a reference; returns box. NULL ok (returns NULL). */
BX_EXTERN bx_box *bx_box_ref(bx_box *box);
/* Drops a reference; the last one calls ops->destroy and frees the box. NULL ok. */
BX_EXTERN void bx_box_unref(bx_box *box);

/* Sends msg to box. Always takes the caller's reference to msg; see the top of this file for
 * what the return value means. Returns BX_EINVAL for a NULL box or message. */
BX_EXTERN int bx_send(bx_box *box, bx_msg *msg);

/* Replies to msg's reply box with `reply` (taking the caller's reference to reply). Returns
 * BX_ENOREPLY (and releases reply) when msg has no reply box; otherwise bx_send's result. */
BX_EXTERN int bx_reply(const bx_msg *msg, bx_msg *reply);
/* Replies to msg with bx_msg_new_error(code, text); see bx_reply(). */
BX_EXTERN int bx_reply_error(const bx_msg *msg, int code, const char *text);
/* Shorthands for a message made only to be sent: a new message with payload (taken whatever
 * happens, as by bx_msg_new()) sent to box, or to msg's reply box; a new error message
 * (bx_msg_new_error()) sent to box. Return bx_send's (bx_reply's) result, or BX_ENOMEM when the
 * message could not be made. */
BX_EXTERN int bx_send_json(bx_box *box, cJSON *payload);
BX_EXTERN int bx_reply_json(const bx_msg *msg, cJSON *payload);
BX_EXTERN int bx_send_error(bx_box *box, int code, const char *text);

/* For to_wire ops. The target is the box standing for the connection the frame goes to (NULL
 * when encoding with no connection, as in codec tests). bx_export_wire() returns the portable
 * wire form of `box` for this frame (new node, caller owns) or NULL when it has none; boxes that
 * wrap a delegate use it for the delegate. */
BX_EXTERN bx_box *bx_export_target(const bx_export *ex);
BX_EXTERN cJSON *bx_export_wire(bx_export *ex, bx_box *box);

#ifdef __cplusplus
}
#endif
#endif /* BX_BOX_H */
