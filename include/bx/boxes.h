/* The built-in boxes. Every constructor takes its own references to the boxes it is given (the
 * caller keeps its own) and follows bx's constructor convention (bx/common.h): it returns 0 and
 * stores a new box with one reference in *out, or returns BX_EINVAL (an argument it cannot
 * take) or BX_ENOMEM and stores NULL. */
#ifndef BX_BOXES_H
#define BX_BOXES_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Proxy: forwards every message to its delegate (none: rejects with BX_ENOROUTE). */
BX_EXTERN int bx_proxy_box_new(bx_ctx *ctx, bx_box *delegate, bx_box **out);
/* Replaces the delegate (the proxy adds its own reference; NULL clears). */
BX_EXTERN void bx_proxy_box_set_delegate(bx_box *proxy, bx_box *delegate);
BX_EXTERN bx_box *bx_proxy_box_delegate(bx_box *proxy); /* borrowed */

/* Promised: accepts messages at once and queues them (at most max_queue, 0 = 1024; past that a
 * send is rejected with BX_EQUEUEFULL) until resolved with a delegate, then forwards the queue
 * in order and every later message. Rejected: every queued message and every later one gets
 * the error at its reply box (messages without one are dropped). Resolving or rejecting twice
 * returns BX_EINVAL. */
BX_EXTERN int bx_promised_box_new(bx_ctx *ctx, size_t max_queue, bx_box **out);
BX_EXTERN int bx_promised_resolve(bx_box *promised, bx_box *delegate);
BX_EXTERN int bx_promised_reject(bx_box *promised, int err, const char *text);
/* Number of queued messages. */
BX_EXTERN size_t bx_promised_queued(bx_box *promised);

/* Sub: wraps each payload in SubBoxMessage{name, object} and sends it to delegate, which is
 * usually a registry or a connection (FOAM's SubBox). */
BX_EXTERN int bx_sub_box_new(bx_ctx *ctx, const char *name, bx_box *delegate, bx_box **out);
BX_EXTERN const char *bx_sub_box_name(bx_box *sub); /* borrowed */
BX_EXTERN bx_box *bx_sub_box_delegate(bx_box *sub); /* borrowed */

/* Return: FOAM's ReturnBox, "back over the connection this came from". Forwards to origin (a
 * connection's box; NULL: rejects with BX_ENOROUTE). With no connection to encode for, its wire
 * form is {"class":"foam.box.ReturnBox"}. */
BX_EXTERN int bx_return_box_new(bx_ctx *ctx, bx_box *origin, bx_box **out);

/* OneTime: forwards the first message to delegate and drops its delegate; every later send is
 * rejected with BX_ECLOSED. */
BX_EXTERN int bx_onetime_box_new(bx_ctx *ctx, bx_box *delegate, bx_box **out);

/* Function: delivers each message to a C callback through the context's run queue, never from
 * inside the bx_send() that sent it. msg is borrowed for the duration of the callback (take a
 * reference to keep it). data_free (optional) is called with data when the box is freed. */
typedef void (*bx_box_fn)(bx_box *self, bx_msg *msg, void *data);
BX_EXTERN int bx_function_box_new(bx_ctx *ctx, bx_box_fn fn, void *data,
                                  void (*data_free)(void *data), bx_box **out);

/* Null: accepts and drops everything. */
BX_EXTERN int bx_null_box_new(bx_ctx *ctx, bx_box **out);

/* Log: logs each message (encoded as JSON, prefixed) at `level`, then forwards it to delegate
 * (NULL: drops it after logging). */
BX_EXTERN int bx_log_box_new(bx_ctx *ctx, const char *prefix, int level, bx_box *delegate,
                             bx_box **out);

/* Timeout: forwards to delegate with a guarded reply box. If no reply arrives within
 * timeout_ms, the original reply box gets bx_msg_new_error(BX_ETIMEDOUT); a reply after that
 * is dropped. Exactly one of the two reaches the reply box. Messages without a reply box are
 * forwarded unguarded. On context close, pending guards deliver BX_ECLOSING. */
BX_EXTERN int bx_timeout_box_new(bx_ctx *ctx, bx_box *delegate, uint64_t timeout_ms, bx_box **out);

/* Retry: sends a copy of each message to delegate; when the reply (or a synchronous rejection)
 * is a retryable error and attempts remain, sends another copy after a backoff that starts at
 * initial_backoff_ms and is multiplied by `multiplier` up to max_backoff_ms. The reply box gets
 * exactly one outcome: the first non-retryable reply, or the last error. */
typedef bool (*bx_retry_pred)(int err, void *data);
typedef struct bx_retry_options {
  unsigned max_attempts;       /* total tries including the first; default 3 */
  uint64_t initial_backoff_ms; /* default 50 */
  uint64_t max_backoff_ms;     /* default 2000 */
  double multiplier;           /* default 2.0 */
  bx_retry_pred retryable; /* default: BX_ETIMEDOUT, BX_ECONNLOST, BX_ENOSERVICE, UV_ECONNREFUSED */
  void *retryable_data;
} bx_retry_options;
BX_EXTERN void bx_retry_options_init(bx_retry_options *opts);
BX_EXTERN int bx_retry_box_new(bx_ctx *ctx, bx_box *delegate, const bx_retry_options *opts,
                               bx_box **out);

/* RoundRobin: message i goes to delegate i mod n. n must be at least 1. */
BX_EXTERN int bx_round_robin_box_new(bx_ctx *ctx, bx_box *const *delegates, size_t n, bx_box **out);

/* Broadcast: sends every message to all n delegates (sharing it; boxes that change a message
 * copy it first). Each delegate may answer the reply box. */
BX_EXTERN int bx_broadcast_box_new(bx_ctx *ctx, bx_box *const *delegates, size_t n, bx_box **out);

/* The Thread box: the one thread-safe entry point. bx_send() on it from any thread hands the
 * message to `target`'s loop (uv_async) and delivers it there to `delegate` (a box of target).
 * The message must not be used by the sending thread afterwards and must not reference boxes
 * of another context. Create it on target's thread; it may then be sent to from any thread,
 * and unreferenced from target's thread only. BX_ECLOSING when target is closing. */
BX_EXTERN int bx_thread_box_new(bx_ctx *target, bx_box *delegate, bx_box **out);

#ifdef __cplusplus
}
#endif
#endif /* BX_BOXES_H */
