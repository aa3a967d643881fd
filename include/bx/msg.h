/* bx_msg: the message envelope, as FOAM's foam.box.Message.
 *
 * A message has
 *   - object:     the payload, a cJSON tree (FOAM objects carry "class" as their first key);
 *   - reply box:  attributes.replyBox as a live box (may be NULL);
 *   - attributes: any other attributes, as a cJSON object (may be NULL);
 *   - origin:     the box that answers over the connection the message arrived on (NULL for
 *                 local messages): a FOAM "ReturnBox" decoded from the frame resolves to it;
 *   - a box table: live boxes referenced from the payload (see bx_msg_box_ref()).
 *
 * Messages are refcounted and belong to one context's loop thread (no locking). A message that
 * more than one holder references must not be changed: call bx_msg_writable() first, which
 * copies it when it is shared (copy on write), the way a box that rewrites the payload must.
 */
#ifndef BX_MSG_H
#define BX_MSG_H

#include <cjson/cJSON.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wire class names. */
#define BX_CLASS_MESSAGE "foam.box.Message"
#define BX_CLASS_SUB_BOX_MESSAGE "foam.box.SubBoxMessage"
#define BX_CLASS_RPC_MESSAGE "foam.box.RPCMessage"
#define BX_CLASS_RPC_RETURN "foam.box.RPCReturnMessage"
#define BX_CLASS_RPC_ERROR "foam.box.RPCErrorMessage"
#define BX_CLASS_REMOTE_EXCEPTION "foam.box.RemoteException"
#define BX_CLASS_NO_SUCH_NAME "foam.box.NoSuchNameException"
#define BX_CLASS_HELLO "foam.box.HelloMessage"
#define BX_CLASS_REGISTER_SELF "foam.box.RegisterSelfMessage"
#define BX_CLASS_SUB_BOX "foam.box.SubBox"
#define BX_CLASS_RETURN_BOX "foam.box.ReturnBox"
#define BX_CLASS_NAMED_BOX "foam.box.NamedBox"
#define BX_CLASS_TIMESTAMP "__Timestamp__"
/* In-memory placeholder for a live box inside a payload; never valid on the wire. */
#define BX_CLASS_BOX_REF "bx.BoxRef"

/* Creates a message with payload `object`. Takes ownership of object (which may be NULL for an
 * empty payload) whatever it returns. Returns 0 and a message with one reference in *out, or
 * BX_ENOMEM (*out NULL, object freed) or BX_EINVAL (no out). */
BX_EXTERN int bx_msg_new(cJSON *object, bx_msg **out);

/* Adds a reference; returns msg. */
BX_EXTERN bx_msg *bx_msg_ref(bx_msg *msg);
/* Drops a reference; the last one frees the payload and releases every box it holds. NULL ok. */
BX_EXTERN void bx_msg_unref(bx_msg *msg);
/* Returns the number of references (for tests and copy-on-write decisions). */
BX_EXTERN unsigned bx_msg_refcount(const bx_msg *msg);

/* A deep copy with one reference (payload, attributes, box table; the reply box and origin are
 * shared by reference) in *out: 0, or BX_EINVAL / BX_ENOMEM (*out NULL). msg is not
 * changed. */
BX_EXTERN int bx_msg_copy(const bx_msg *msg, bx_msg **out);
/* Copy on write. Takes the caller's reference to msg and returns a message the caller may
 * change: msg itself if the caller held the only reference, otherwise a copy (and the caller's
 * reference to msg is dropped). Returns NULL on allocation failure, and then the caller still
 * holds its reference to msg. */
BX_EXTERN bx_msg *bx_msg_writable(bx_msg *msg);

/* The payload, borrowed: valid until the message is freed or the payload replaced. RPC
 * messages the runtime builds from typed values, and calls and returns the decoder reads in
 * their common shapes, keep their payload in parts until it is needed; the first call here
 * builds the tree (NULL only if that runs out of memory). */
BX_EXTERN cJSON *bx_msg_object(const bx_msg *msg);
/* Replaces the payload, taking ownership of object and freeing the old payload. */
BX_EXTERN void bx_msg_set_object(bx_msg *msg, cJSON *object);
/* Detaches the payload and returns it; the caller owns it and the message has none. */
BX_EXTERN cJSON *bx_msg_take_object(bx_msg *msg);
/* The payload's "class" string, or NULL when the payload is not a FOAM object. Borrowed. */
BX_EXTERN const char *bx_msg_class(const bx_msg *msg);
/* True when the payload is a FOAM object of class `cls`. */
BX_EXTERN bool bx_msg_is(const bx_msg *msg, const char *cls);

/* The reply box, borrowed, or NULL. */
BX_EXTERN bx_box *bx_msg_reply_box(const bx_msg *msg);
/* Sets the reply box. The message adds its own reference (the caller keeps its own); NULL
 * clears it. */
BX_EXTERN void bx_msg_set_reply_box(bx_msg *msg, bx_box *reply_box);
/* Detaches the reply box and returns the message's reference to it (caller owns), or NULL. */
BX_EXTERN bx_box *bx_msg_take_reply_box(bx_msg *msg);

/* The other attributes (not replyBox) as a cJSON object, borrowed, or NULL when there are none. */
BX_EXTERN cJSON *bx_msg_attrs(const bx_msg *msg);
/* Sets attribute `key` (not "replyBox") to value, taking ownership of value. Returns 0, or
 * BX_EINVAL / BX_ENOMEM (then value has been freed). */
BX_EXTERN int bx_msg_set_attr(bx_msg *msg, const char *key, cJSON *value);

/* The origin box, borrowed, or NULL for a local message. */
BX_EXTERN bx_box *bx_msg_origin(const bx_msg *msg);
/* Sets the origin; the message adds its own reference. NULL clears it. */
BX_EXTERN void bx_msg_set_origin(bx_msg *msg, bx_box *origin);

/* Live boxes inside a payload.
 *
 * A payload that carries a box (an RPC argument that is a callback, a registry's register()
 * argument, a lookup result) holds a placeholder node {"class":"bx.BoxRef","ref":N} that
 * indexes the message's box table. The encoder writes each placeholder as the box's wire form
 * (exporting it when it has none); the decoder turns every wire box reference into a live box
 * and a placeholder. Placeholders belong to the message that made them: do not move them into
 * another message's payload (bx_msg_copy() keeps them valid in the copy).
 *
 * bx_msg_box_ref() adds box to msg's table (the message takes its own reference) and returns a
 * new placeholder node the caller inserts into the payload (and then the payload owns it).
 * Returns NULL on allocation failure. */
BX_EXTERN cJSON *bx_msg_box_ref(bx_msg *msg, bx_box *box);
/* If node is a placeholder of this message, returns its box (borrowed); otherwise NULL. */
BX_EXTERN bx_box *bx_msg_box_at(const bx_msg *msg, const cJSON *node);
/* Number of boxes in the table. */
BX_EXTERN size_t bx_msg_box_count(const bx_msg *msg);

/* Error replies.
 *
 * bx_msg_new_error() makes an RPCErrorMessage whose data is
 * {"class":"foam.box.RemoteException","id":"<bx_err_name(code)>","message":"<text>"}, text
 * defaulting to bx_strerror(code), in *out: 0, or BX_ENOMEM (*out NULL).
 *
 * bx_msg_error() classifies a reply: 0 when it is not an error; for RPCErrorMessage the bx code
 * named by a RemoteException id, else BX_EREMOTE; BX_ENOSERVICE for NoSuchNameException. *text
 * (optional) receives the message text, borrowed from the payload. */
BX_EXTERN int bx_msg_new_error(int code, const char *text, bx_msg **out);
BX_EXTERN int bx_msg_error(const bx_msg *msg, const char **text);

/* Payload helpers. bx_json_class() returns obj's "class" string or NULL (borrowed).
 * bx_json_new_object() returns a new object whose first key is "class" (NULL on failure). */
BX_EXTERN const char *bx_json_class(const cJSON *obj);
BX_EXTERN cJSON *bx_json_new_object(const char *cls);

#ifdef __cplusplus
}
#endif
#endif /* BX_MSG_H */
