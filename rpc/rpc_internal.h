/* Declarations shared by the files of rpc/ (never installed). */
#ifndef BX_RPC_INTERNAL_H
#define BX_RPC_INTERNAL_H

#include "registry_internal.h"

/* Releases what a value owns; with `borrowed`, strings, cJSON and boxes point into a message
 * and are left alone (arrays and nullable targets are always the runtime's allocations). */
void bx__value_release(const bx_type *type, void *value, bool borrowed);
/* Releases a struct's fields (not the struct memory). */
void bx__struct_release(const bx_type *st, void *base, bool borrowed);

/* Releases one field of a struct at base (arrays need the struct, which holds their count). */
void bx__field_release(const bx_field *f, void *base, bool borrowed);
/* The value of an enum of `size` bytes at p. */
int64_t bx__enum_load(const void *p, size_t size);
/* The element count of array field f of the struct at base; false when it is negative. */
bool bx__array_count(const bx_field *f, const void *base, uint64_t *n);

/* Deep-copies the struct src into dst (zeroed) as owned values, giving what an encode and an
 * owned decode would give. Returns 0; BX_EINVAL for what the encoder refuses (a NULL string or
 * box, an array without items); BX_ENOTSUP for what only the wire form can express (use the
 * message path); BX_ENOMEM. On failure dst holds nothing to release. */
int bx__struct_copy(const bx_type *st, void *dst, const void *src);

/* Do two descriptor tables describe the same C layout and wire form (types.c)? A stub and a
 * skeleton generated from one header have equal but separate tables. */
bool bx__type_same(const bx_type *a, const bx_type *b);
bool bx__method_same(const bx_method *a, const bx_method *b);

/* iface's descriptor as the JSON object a `describe` call answers (describe.c; docs/codegen.md
 * "describe"). The caller owns it; NULL on allocation failure. */
cJSON *bx__describe(const bx_interface *iface);

/* ---- RPC messages (messages.c) ---- */

/* RPCMessage{name: method, args} taking args (may be NULL: no "args"). NULL on allocation
 * failure (args freed). */
bx_msg *bx__rpc_request_new(const char *method, cJSON *args);
/* RPCMessage for m with the encoded args struct; box arguments go into the message's table.
 * Returns 0 or the encoder's error. */
int bx__rpc_request_typed(const bx_method *m, const void *args, bx_msg **out);
/* RPCReturnMessage carrying the encoded result struct of m (no data for a void result).
 * Returns 0 or the encoder's error. */
int bx__rpc_return_typed(const bx_method *m, const void *result, bx_msg **out);

/* RPCErrorMessage for an application error: data "text" (NULL: bx_strerror(code)), and code
 * (omitted for BX_EREMOTE, which stands for "no particular code"). NULL when out of memory. */
bx_msg *bx__rpc_error_new(int code, const char *text);
/* The application code of an RPCErrorMessage reply: its "code" field, or BX_EREMOTE when it
 * has none that bx can read (a FOAM2 peer, a name unknown here). */
int bx__rpc_error_code(const bx_msg *reply);

/* ---- direct calls: a typed call to a skeleton in the same context, without messages ----
 * The client copies the arguments (bx__struct_copy), the skeleton runs the implementation
 * from the run queue as it would for a message, and hands back a copy of the result. Errors,
 * and results only the wire form can carry, travel as the usual reply message. Whoever asks
 * for the request or the reply message gets one rebuilt from the typed values. */

/* The skeleton serving m that service leads to — the skeleton box itself, or a SubBox naming
 * it in a local registry — or NULL (borrowed). *own receives the skeleton's entry for m (its
 * tables equal m's, bx__method_same). */
bx_box *bx__skeleton_for(bx_box *service, const bx_method *m, const bx_method **own);
/* Who waits for a direct call's answer (the call runtime, call.c), as the skeleton sees it: it
 * holds the waiter (ref/unref) while the call runs, then answers once, with the result of m
 * (a calloc'd struct whose values the waiter now owns, NULL for a void method) or with a reply
 * message (owned; NULL: out of memory). The waiter drops either when it has completed already.
 * The skeleton never names the call runtime: this table is how it answers. */
typedef struct bx__direct_waiter {
  void (*ref)(void *waiter);
  void (*unref)(void *waiter);
  void (*result)(void *waiter, void *result);
  void (*reply)(void *waiter, bx_msg *reply);
  /* The call serving it (borrowed), once queued, and NULL when that call is freed: the waiter
   * cancels it through bx__skeleton_cancel() meanwhile. */
  void (*served)(void *waiter, bx_rpc_call *call);
} bx__direct_waiter;
/* The caller canceled call: its flag is set and its cancel callback runs (from here: call it
 * from the loop). */
void bx__skeleton_cancel(bx_rpc_call *call);
/* Queues skeleton to serve its method m with a copy of args, answering waiter through ops (a
 * reference is taken; waiter NULL for a one-way method); due is the caller's deadline in loop
 * time (0: none), as a request message would carry it. Returns 0, or an error with nothing
 * queued: the caller then takes the message path, which gives the exact behaviour for whatever
 * the copy refused. */
int bx__skeleton_call_direct(bx_box *skeleton, const bx_method *m, const void *args,
                             const bx__direct_waiter *ops, void *waiter, uint64_t due);

#endif
