/* The ground floor's private header (never installed): the context's services that every layer
 * uses, and the small utilities.
 *
 * Design notes
 * - Layers (docs/layers.md): core <- box <- codec <- registry <- rpc <- transports. Each layer
 *   has one private header that includes the one below it, and CMake gives each layer's files
 *   only its own and lower include directories; scripts/check-layers.sh fails the build's tests
 *   on an include or a call that runs up the map.
 * - The context (ctx.c) is the ground floor's: its loop, name, options, run queue, tracked
 *   work, deadline service, log, close staging and a slot per upper layer. Upper layers are its
 *   tenants: each may hang state on its slot with a close hook (stage one of closing) and a
 *   free hook (when the context is freed), so the core never calls up.
 * - Everything here runs on the context's loop thread; refcounts are plain integers.
 * - Names: bx__ for internal non-static functions, a short module prefix for statics.
 */
#ifndef BX_CORE_H
#define BX_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bx.h"

/* ---- the context's services ------------------------------------------------------------- */

/* A unit of deferred work on the run queue. */
typedef void (*bx__task_fn)(void *a, void *b);

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

/* Upper layers' state on the context. A layer's slot holds its state (the layer owns it); its
 * tenant ops, when set, run in stage one of closing (close: after tracked work is cancelled)
 * and when the context is freed (free), from the highest slot down. */
enum { BX__SLOT_CODEC = 0, BX__SLOT_REGISTRY = 1, BX__SLOT_TRANSPORT = 2, BX__SLOT_COUNT = 3 };
typedef struct bx__tenant {
  void (*close)(bx_ctx *ctx, void *state);
  void (*free)(bx_ctx *ctx, void *state);
} bx__tenant;
void **bx__ctx_slot(bx_ctx *ctx, int slot);
/* Sets slot's state and tenant ops (static storage; NULL for none). */
void bx__ctx_set_tenant(bx_ctx *ctx, int slot, void *state, const bx__tenant *ops);

/* The context's root box (its root registry), set by the registry layer: a pointer the core
 * keeps and hands out, never uses. */
void bx__ctx_set_root(bx_ctx *ctx, bx_box *root);

/* A fresh number for generated names (registry names, exports). */
uint64_t bx__ctx_next_id(bx_ctx *ctx);

/* The ground-floor context: loop, name, options, run queue, tracking, log. The registry layer's
 * bx_ctx_new() makes one (bx__ctx_create: opts may be NULL for the defaults; 0 or BX_ENOMEM),
 * installs its tenants, and starts it (bx__ctx_start: its run queue's handle; 0 or a libuv
 * error). A context that failed before it started is freed with bx__ctx_free(), which also
 * runs the free hooks of the tenants installed so far. */
int bx__ctx_create(bx_ctx **out, uv_loop_t *loop, const bx_ctx_options *opts);
/* The options ctx was made with (owned by ctx): the log reads its sink and level here. */
const bx_ctx_options *bx__ctx_options(const bx_ctx *ctx);
int bx__ctx_start(bx_ctx *ctx);
void bx__ctx_free(bx_ctx *ctx);

/* ---- small utilities --------------------------------------------------------------------- */

/* The replaceable allocator (alloc.c, include/bx/alloc.h): bx's layers allocate only through
 * these (a block from one is freed with bx__free). */
void *bx__malloc(size_t n);
void *bx__calloc(size_t count, size_t size);
void *bx__realloc(void *p, size_t n);
void bx__free(void *p);

/* calloc(1, size) for objects made and freed per message. glibc's calloc never takes a chunk
 * from the thread's cache (tcache) that free() fills, so with calloc that cache stays full and
 * every allocation and free goes the allocator's long way; malloc and memset take the short
 * one. */
static inline void *bx__zalloc(size_t size) {
  void *p = bx__malloc(size);
  /* Hidden from the optimiser, which would otherwise turn malloc + memset back into calloc. */
  __asm__("" : "+r"(p));
  if (p != NULL) memset(p, 0, size);
  return p;
}

/* A string-keyed hash map of pointers (open addressing). Keys are copied. */
typedef struct bx__map bx__map;
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
/* v in base 10 (base 16: lower-case hex digits) into buf, which must hold 21 bytes; NUL-terminated.
 * Returns the number of digits. For the hot path, where snprintf costs hundreds of
 * instructions a number. */
size_t bx__u64_text(char *buf, uint64_t v, unsigned base);
/* Writes v in decimal with a NUL into out (at least 21 bytes); returns the length. Inline: the
 * JSON writer and name generators call it per number. */
static inline size_t bx__u64_decimal(uint64_t v, char *out) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

/* ---- the deadline service (deadline.c) -------------------------------------------------- */

/* One uv timer per context under a binary min-heap of deadlines. A deadline lives inside its
 * owner (zeroed: stopped); the service only points at it while it is pending, so the owner must
 * stop it before it goes away. fire runs from the loop with the deadline already stopped; it
 * may start or stop any deadline, its own included. Deadlines fire in due order, and those due
 * at the same time fire in the order they were (last) started. Everything here runs on the
 * context's loop thread. */
typedef struct bx__deadline bx__deadline;
typedef void (*bx__deadline_fn)(bx__deadline *d);
struct bx__deadline {
  uint64_t due; /* loop time (ms) it fires at */
  uint64_t seq; /* start order, the tie-break between equal due times */
  size_t slot;  /* 1 + its index in the heap while pending, 0 when stopped */
  bx__deadline_fn fire;
};

/* Starts d (or restarts it, when pending) to fire ms milliseconds from the loop's time.
 * Returns 0, or BX_ENOMEM when the heap could not grow (d is then stopped). Allocates nothing
 * else: the heap grows by doubling. After stage one of closing the context nothing fires. */
int bx__deadline_start(bx_ctx *ctx, bx__deadline *d, uint64_t ms, bx__deadline_fn fire);
/* Stops d if it is pending (a no-op otherwise; ctx is not used then). */
void bx__deadline_stop(bx_ctx *ctx, bx__deadline *d);
static inline bool bx__deadline_pending(const bx__deadline *d) {
  return d->slot != 0;
}

/* The context's side: its service, embedded in bx_ctx (its fields are deadline.c's). ctx.c
 * initialises it with its idle handle (bx__deadlines_init: 0 or a libuv error), halts it at the
 * end of stage one of closing (the timer stops for good; later starts never arm it), and
 * closes it with the idle handle (bx__deadlines_close: frees the heap, closes the timer with
 * cb; set timer.data for cb). */
typedef struct bx__deadlines {
  uv_timer_t timer; /* first: its callback finds the service from it */
  bx__deadline **heap;
  size_t n, cap;
  uint64_t seq; /* next start's order */
  uint64_t at;  /* loop time the timer is set for, when armed */
  bool armed;   /* the timer is running (perhaps early: see deadline.c) */
  bool held;    /* the timer keeps the loop alive (uv_ref): while a deadline is pending */
  bool halted;  /* stage one of closing has passed */
} bx__deadlines;
int bx__deadlines_init(bx__deadlines *ds, uv_loop_t *loop);
void bx__deadlines_halt(bx__deadlines *ds);
void bx__deadlines_close(bx__deadlines *ds, uv_close_cb cb);
bx__deadlines *bx__ctx_deadlines(bx_ctx *ctx);

#endif /* BX_CORE_H */
