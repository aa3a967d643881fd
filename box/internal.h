/* Internal declarations shared by bx's modules (never installed).
 *
 * Design notes
 * - Layering: box/ (messages, boxes, codec) sits under registry/ (registries, named boxes, the
 *   context). The few things box/ needs from the context (its loop, run queue, logger, class
 *   whitelist, tracked timers) are declared here and implemented in registry/ctx.c.
 * - Everything here runs on the context's loop thread; refcounts are plain integers.
 * - Names: bx__ for internal non-static functions, a short module prefix for statics.
 */
#ifndef BX_INTERNAL_H
#define BX_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bx.h"

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
};

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

/* bx_decode() without the envelope road (codec.c): every frame parsed by cJSON and checked as
 * a tree. For tests that compare the two roads. */
int bx__decode_general(bx_ctx *ctx, const char *buf, size_t len, bx_box *origin, bx_msg **out,
                       bx_codec_error *err);

/* Is `box` of the given ops? (type tests for the built-in boxes) */
static inline bool bx__box_is(const bx_box *box, const bx_box_ops *ops) {
  return box != NULL && box->ops == ops;
}

/* Ops tables of built-in boxes that other modules recognise. */
extern const bx_box_ops bx__sub_box_ops;
extern const bx_box_ops bx__return_box_ops;
extern const bx_box_ops bx__registry_box_ops;
extern const bx_box_ops bx__broadcast_registry_ops;
extern const bx_box_ops bx__named_box_ops;
extern const bx_box_ops bx__round_robin_box_ops;

/* The origin a Return box forwards to (borrowed), or NULL. */
bx_box *bx__return_box_origin(bx_box *ret);

/* Exporting (codec and registry). */
struct bx_export {
  bx_ctx *ctx;
  bx_box *target; /* connection the frame goes to; NULL for none */
  bool one_shot;  /* the box being exported answers once (a reply box) */
  int err;        /* first error met while exporting */
};

/* Exports a box that has no wire form for ex->target (bx_export_wire() gave none): registers
 * it in the root registry under a fresh name (*name, borrowed from the registry), one-shot
 * when ex->one_shot; the frame then writes it as SubBox{name, ReturnBox}. Returns 0 or the
 * error, also recorded in ex->err. */
int bx__export_register(bx_export *ex, bx_box *box, const char **name);
/* Removes box's one-shot export from the root registry, if it is still there (a call that
 * completed without its reply). */
void bx__unexport(bx_ctx *ctx, bx_box *box);

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

/* Is s[0..n) valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no sequence cut short)? The pre-scan's rules, for the WebSocket transport's text
 * messages (json_scan.c). */
bool bx__utf8_valid(const unsigned char *s, size_t n);

/* Writes v in decimal with a NUL into out (at least 21 bytes); returns the length. */
size_t bx__u64_decimal(uint64_t v, char *out);

/* Placeholders: true when node is a bx.BoxRef object; *index receives its table index. */
bool bx__json_is_box_ref(const cJSON *node, size_t *index);

/* ---- the context ------------------------------------------------------------------------ */

/* A unit of deferred work on the run queue. */
typedef void (*bx__task_fn)(void *a, void *b);
typedef struct bx__map bx__map;

/* Queues fn(a, b) to run from the loop, after the current callback returns, in FIFO order.
 * Returns 0 or BX_ENOMEM / BX_ECLOSING (the queue no longer runs). */
int bx__defer(bx_ctx *ctx, bx__task_fn fn, void *a, void *b);

/* Objects with libuv handles or pending work register here so that closing the context can
 * cancel them. on_close must cancel the work (delivering BX_ECLOSING where a caller waits) and
 * start closing its handles; the object calls bx__untrack() once its last handle has closed.
 * The context finishes closing only when nothing is tracked. */
typedef struct bx__tracked {
  struct bx__tracked *prev, *next;
  void (*on_close)(struct bx__tracked *self);
} bx__tracked;
void bx__track(bx_ctx *ctx, bx__tracked *t);
void bx__untrack(bx_ctx *ctx, bx__tracked *t);

void bx__vlog(bx_ctx *ctx, int level, const char *fmt, va_list ap);

/* The context's table of named boxes (path -> box reference), owned by the context. */
struct bx__map *bx__ctx_named_map(bx_ctx *ctx);
/* Per-module state hung on the context (the module owns and frees it). */
enum { BX__SLOT_RPC = 0, BX__SLOT_TRANSPORT = 1, BX__SLOT_COUNT = 4 };
void **bx__ctx_slot(bx_ctx *ctx, int slot);
/* A fresh number for generated names (registry names, exports). */
uint64_t bx__ctx_next_id(bx_ctx *ctx);

/* Registry internals used by the codec and transports. */
typedef struct bx__reg_opts {
  bool one_shot; /* remove after the first message delivered to it */
  bx_box *owner; /* the connection box that registered it (borrowed id, not a reference) */
} bx__reg_opts;
/* Like bx_register() on a local registry box, with options; out_name (optional) receives the
 * name (borrowed, valid while registered). */
int bx__registry_add(bx_box *registry, const char *name, bx_box *service, const bx__reg_opts *opts,
                     const char **out_name);
/* The service a message sent to SubBox{name, registry} would reach — a lasting entry of a
 * local registry box (not a one-shot export) — or NULL (borrowed). */
bx_box *bx__registry_target(bx_box *registry, const char *name);
/* Removes every entry owned by owner (a closed connection). Returns the number removed. */
size_t bx__registry_drop_owner(bx_box *registry, bx_box *owner);
/* A frame for the one-shot export `name` owned by owner could not be decoded: removes it and
 * answers it with bx_msg_new_error(code, text), so the call waiting for it completes now.
 * Returns 0, or BX_ENOSERVICE when name is not such an export. */
int bx__registry_fail_export(bx_box *registry, const char *name, bx_box *owner, int code,
                             const char *text);
/* A connection closed: removes every entry owned by owner, and answers each one-shot export
 * among them (a reply some caller still waits for) with bx_msg_new_error(code). Returns the
 * number removed. */
size_t bx__registry_fail_owner(bx_box *registry, bx_box *owner, int code);
/* A connection closed: removes every entry whose service routes over it (exports relaying a
 * box that came from that peer, which can no longer be reached). Returns the number removed. */
size_t bx__registry_drop_routes_via(bx_box *registry, bx_box *conn);
/* Removes every entry (context close). */
void bx__registry_clear(bx_box *registry);

/* Named boxes: the box a path is bound to, borrowed, or NULL. */
bx_box *bx__named_binding(bx_box *named);
/* Releases the context's named-box table (context close). */
void bx__named_clear(bx_ctx *ctx);

/* ---- small utilities --------------------------------------------------------------------- */

/* calloc(1, size) for objects made and freed per message. glibc's calloc never takes a chunk
 * from the thread's cache (tcache) that free() fills, so with calloc that cache stays full and
 * every allocation and free goes the allocator's long way; malloc and memset take the short
 * one. */
static inline void *bx__zalloc(size_t size) {
  void *p = malloc(size);
  /* Hidden from the optimiser, which would otherwise turn malloc + memset back into calloc. */
  __asm__("" : "+r"(p));
  if (p != NULL) memset(p, 0, size);
  return p;
}

/* A string-keyed hash map of pointers (open addressing). Keys are copied. */
bx__map *bx__map_new(void);
/* The same, but keys are borrowed: each key must stay valid while it is in the map, as one
 * kept inside its own value does (bx__map_put of a present key takes the new key pointer). */
bx__map *bx__map_new_borrowing(void);
void bx__map_free(bx__map *m);
void *bx__map_get(const bx__map *m, const char *key);
/* Inserts or replaces; *old (optional) receives the replaced value or NULL. 0 or BX_ENOMEM. */
int bx__map_put(bx__map *m, const char *key, void *value, void **old);
/* Removes key; returns its value or NULL. */
void *bx__map_del(bx__map *m, const char *key);
size_t bx__map_size(const bx__map *m);
/* Iteration: start with *pos = 0; returns false at the end. The map must not change meanwhile
 * except through bx__map_del of the current key. */
bool bx__map_next(const bx__map *m, size_t *pos, const char **key, void **value);

char *bx__strdup(const char *s);
/* s[0..n) with a NUL: copied into buf when it fits (n < cap), else into a new heap block (free
 * it when the result is not buf). NULL on allocation failure. */
char *bx__copy_text(char *buf, size_t cap, const char *s, size_t n);

#endif /* BX_INTERNAL_H */
