/* The box layer's private header (never installed): messages, boxes and the built-in boxes.
 *
 * Design notes
 * - Above the ground floor (core.h), below the codec. A box may use the context's services
 *   (run queue, tracking, log, loop) and nothing above: it never names a registry, and the
 *   root registry is only a pointer it compares with (bx_ctx_registry()).
 * - struct bx_export is the encoder's state as a box's to_wire op sees it; exporting itself
 *   (registering a box under a fresh name) is the registry's, reached through the codec's
 *   export hook.
 */
#ifndef BX_BOX_INTERNAL_H
#define BX_BOX_INTERNAL_H

#include "core.h"

/* ---- boxes and messages ---------------------------------------------------------------- */

struct bx_box {
  const bx_box_ops *ops;
  bx_ctx *ctx;
  unsigned refs;
  char export_name[24]; /* last generated name this box was exported under (one-shot), or "" */
  /* private state follows, aligned for any type */
  union {
    max_align_t align;
    char bytes[1];
  } priv[];
};

/* A payload kept in parts (msg.c): the object {"class":cls, "name":name, key:body} —
 * RPCMessage, RPCReturnMessage — inside up to BX__LAZY_SUBS SubBoxMessage layers. Messages
 * built by stubs and skeletons start this way (a layer per SubBox they pass), and so do frames
 * of these shapes read by the decoder (a layer per SubBoxMessage in the frame). The encoder
 * writes the parts straight to text; the registry peels layers off and the RPC runtime reads
 * name and body without a tree; anything else that reads the payload (bx_msg_object() and
 * friends) first builds the tree the parts stand for, which the message then holds instead.
 * Both forms encode to the same bytes. */
enum { BX__LAZY_SUBS = 2 };
typedef struct bx__lazy_layer {
  bx_box *box; /* the SubBox passed (owned reference), or NULL: a layer read from a frame */
  char *name;  /* a read layer's name: NULL, buf or a heap copy */
  char buf[16];
} bx__lazy_layer;
typedef struct bx__lazy {
  const char *cls; /* static storage */
  const char *key; /* static storage; NULL: no body */
  cJSON *body;     /* owned, may be NULL (then no key either) */
  char *name;      /* NULL, name_buf or a heap copy */
  char name_buf[24];
  bx__lazy_layer subs[BX__LAZY_SUBS]; /* innermost first */
  unsigned nsubs;
} bx__lazy;

/* The name of a lazy payload's layer i (0: innermost). */
static inline const char *bx__lazy_layer_name(const bx__lazy *lz, unsigned i) {
  return lz->subs[i].box ? bx_sub_box_name(lz->subs[i].box) : lz->subs[i].name;
}

struct bx_msg {
  unsigned refs;
  bx__lazy *lazy;    /* non-NULL while the payload is lazy (object is then NULL); it lives
                        in the message's own allocation, right after it */
  cJSON *object;     /* payload, owned, may be NULL */
  cJSON *attrs;      /* other attributes, owned, may be NULL */
  bx_box *reply_box; /* owned reference or NULL */
  bx_box *origin;    /* owned reference or NULL */
  bx_box **boxes;    /* box table for bx.BoxRef placeholders; each an owned reference */
  size_t nboxes;
  size_t boxes_cap;
  uint64_t due; /* the request's deadline in its context's loop time (ms); 0: none */
};

/* The deadline a request carries (docs/codegen.md, deadlines): absolute loop time in ms, 0 for
 * none. On the wire it is the Message attribute "deadlineMs", the milliseconds left when the
 * frame was written (FOAM2 ignores it); the decoder turns it back into loop time, so a relay
 * forwards what is left of it. */
#define BX__ATTR_DEADLINE "deadlineMs"
/* Cancellation (docs/codegen.md): a request's "callId" attribute names it; a cancel is a
 * one-way HelloMessage (FOAM2 accepts and ignores it) to the same service whose "cancel"
 * attribute holds that id. */
#define BX__ATTR_CALL_ID "callId"
#define BX__ATTR_CANCEL "cancel"
static inline uint64_t bx__msg_due(const bx_msg *msg) {
  return msg->due;
}
static inline void bx__msg_set_due(bx_msg *msg, uint64_t due) {
  msg->due = due;
}

/* A message whose payload is lazy: {"class":cls[, "name":name][, key:body]}. cls and key must
 * have static storage duration; name (NULL for none; name_len bytes, or up to a NUL with
 * bx__msg_new_lazy) is copied; body may be set later with bx__msg_lazy_body(). Returns NULL on
 * allocation failure. */
bx_msg *bx__msg_new_lazy(const char *cls, const char *name, const char *key);
bx_msg *bx__msg_new_lazy_n(const char *cls, const char *name, size_t name_len, const char *key);
/* Sets the body of a lazy payload (taking it; NULL: no body). */
void bx__msg_lazy_body(bx_msg *msg, cJSON *body);
/* The SubBox `sub` wraps msg's payload: recorded in the parts when msg is lazy, unshared and
 * has room (returns true, a reference to sub taken); false otherwise, msg unchanged. */
bool bx__msg_lazy_wrap(bx_msg *msg, bx_box *sub);
/* Wraps a lazy msg's payload in SubBoxMessage{name (n bytes, copied)}: a layer read from a
 * frame. Returns 0, BX_EINVAL (not lazy, or no room) or BX_ENOMEM. */
int bx__msg_lazy_layer(bx_msg *msg, const char *name, size_t n);
/* Builds the tree of a lazy payload (no-op otherwise). Returns 0 or BX_ENOMEM (msg unchanged). */
int bx__msg_settle(const bx_msg *msg);

/* Reading a payload without building a lazy one (a tree is read as it is):
 * - bx__msg_member(): its member key (not "class" or "name"), as
 *   cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), key); borrowed, or NULL. A body
 *   stays the same node when the payload is built later, so the pointer lives as long as msg
 *   holds its payload;
 * - bx__msg_name(): its "name" when that is a string (a SubBoxMessage layer's name for a lazy
 *   payload with layers), borrowed until the payload changes, else NULL;
 * - bx__msg_unwrap(): replaces a SubBoxMessage payload by its "object" (msg unshared: the
 *   caller made it writable). Returns 0 or BX_EBADMSG (not a SubBoxMessage). */
const cJSON *bx__msg_member(const bx_msg *msg, const char *key);
const char *bx__msg_name(const bx_msg *msg);
int bx__msg_unwrap(bx_msg *msg);

/* Is `box` of the given ops? (type tests for the built-in boxes) */
static inline bool bx__box_is(const bx_box *box, const bx_box_ops *ops) {
  return box != NULL && box->ops == ops;
}

/* Ops tables of built-in boxes that other modules recognise. */
extern const bx_box_ops bx__sub_box_ops;
extern const bx_box_ops bx__return_box_ops;
extern const bx_box_ops bx__round_robin_box_ops;

/* The origin a Return box forwards to (borrowed), or NULL. */
bx_box *bx__return_box_origin(bx_box *ret);

/* Exporting (codec and registry). */
struct bx_export {
  bx_ctx *ctx;
  bx_box *target; /* connection the frame goes to; NULL for none */
  bool one_shot;  /* the box being exported answers once (a reply box) */
  int err;        /* first error met while exporting */
  size_t *owned;  /* the target's count of live exports it owns, or NULL (the export hook
                     adds one per export, the registry takes one off when it goes) */
  size_t count;   /* exports made by this encode */
};

/* A new SubBox reference node {"class":"foam.box.SubBox","name":N,"delegate":D}, taking
 * ownership of delegate. NULL on allocation failure (delegate freed). */
cJSON *bx__wire_sub_box(const char *name, cJSON *delegate);
/* {"class":"foam.box.SubBoxMessage","name":N,"object":payload}, taking payload (NULL becomes
 * JSON null). NULL on allocation failure (payload freed). */
cJSON *bx__wire_sub_message(const char *name, cJSON *payload);
/* {"class":"foam.box.ReturnBox"} */
cJSON *bx__wire_return_box(void);

/* Hot-path JSON builders that do not copy what is constant: bx__json_object_const() makes
 * {"class":cls} where cls has static storage duration (a literal, a generated table), and
 * bx__json_add() adds item under a key with static storage duration. cJSON frees neither. */
cJSON *bx__json_object_const(const char *cls);
static inline bool bx__json_add(cJSON *obj, const char *key, cJSON *item) {
  return cJSON_AddItemToObjectCS(obj, key, item) != 0;
}

/* Arrays of box references (delegate lists). bx__boxes_copy() returns a new array holding a
 * reference to each of the n boxes (NULL when one is NULL or on allocation failure; n may be
 * 0); bx__boxes_free() drops them and frees the array. */
bx_box **bx__boxes_copy(bx_box *const *boxes, size_t n);
void bx__boxes_free(bx_box **boxes, size_t n);

/* cJSON_IsObject() and friends without a call into the library, for the decoder's hot paths:
 * is node non-NULL and of this cJSON type (cJSON_Object, cJSON_Array, cJSON_String...)? */
static inline bool bx__json_is(const cJSON *node, int type) {
  return node != NULL && (node->type & 0xFF) == type;
}

/* Placeholders: true when node is a bx.BoxRef object; *index receives its table index. */
bool bx__json_is_box_ref(const cJSON *node, size_t *index);

/* ---- settle exactly once (settle.c) ------------------------------------------------------ */

/* The record of a pending outcome that several events race to decide — a reply, a deadline, a
 * cancel, a dropped reply box, the context closing — used by the call runtime, Timeout and
 * Retry. Embed it in the owner (first, zeroed); bx__settle() is the one settle point and says
 * which caller won, so "exactly once" needs no other flag. The owner must settle it before it
 * is freed (a record that was never watched nor given a deadline may just be freed).
 *
 * expire is the owner's handler for the events that come without a reply: code BX_ETIMEDOUT
 * when the deadline passes, BX_ECLOSING when stage one of closing the context cancels tracked
 * work. It runs only while the record is unsettled. With BX_ECLOSING it must settle the
 * record; it should deliver through the run queue (bx__send_error_later), because a delivery
 * made inside stage one may settle and free other tracked records under the context's walk.
 * With BX_ETIMEDOUT it usually settles too, but a deadline may mean something else to its
 * owner (Retry's is the backoff before the next attempt). */
typedef struct bx__settle_rec bx__settle_rec;
typedef void (*bx__settle_fn)(bx__settle_rec *s, int code);
struct bx__settle_rec {
  bx__tracked tracked;   /* first; linked while watched */
  bx__deadline deadline; /* pending while the owner waits for a time */
  bx_ctx *ctx;
  bx__settle_fn expire;
  bool settled;
};

/* Sets up s (zeroed) for ctx; nothing is watched yet. */
void bx__settle_init(bx__settle_rec *s, bx_ctx *ctx, bx__settle_fn expire);
/* Tracks s on its context, so that closing the context expires it with BX_ECLOSING. */
void bx__settle_watch(bx__settle_rec *s);
/* (Re)starts the deadline: expire(s, BX_ETIMEDOUT) ms from now unless s settles first.
 * Returns 0 or BX_ENOMEM (no deadline then). */
int bx__settle_after(bx__settle_rec *s, uint64_t ms);
/* The settle point: true for the first caller, which now decides the outcome (the deadline is
 * stopped and s no longer tracked, so expire never runs again); false for every later one. */
bool bx__settle(bx__settle_rec *s);
static inline bool bx__settled(const bx__settle_rec *s) {
  return s->settled;
}

/* Sends an error message with code to box from the run queue (the box reference is taken);
 * sends it at once when the queue cannot take it. */
void bx__send_error_later(bx_box *box, int code);

#endif /* BX_BOX_INTERNAL_H */
