/* bx_ctx, the ground floor: the context on a libuv loop — run queue, tracked work, the deadline
 * service's timer (deadline.c), logging, options, the upper layers' slots (tenants), and
 * asynchronous close. bx_ctx_new() itself is the registry layer's (registry/context.c): it
 * makes this context and installs the codec's and the registry's state on it.
 *
 * Design notes
 * - The run queue is a ring buffer of (fn, a, b) tasks drained from a uv_idle handle that is
 *   active only while tasks are queued. A drain runs the tasks that were queued when it started
 *   and those they queue, up to CX_DRAIN_BUDGET tasks in all; the rest run on the next loop
 *   iteration, so a ping-pong of local messages cannot starve I/O, while a local call (request
 *   task, then reply task) completes in one iteration.
 * - Closing runs in stages: bx_ctx_close() only queues the first stage, so no user callback runs
 *   inside it. Stage one cancels tracked work (which delivers BX_ECLOSING replies through the
 *   queue) and runs the tenants' close hooks (the registry clears itself), then halts the
 *   deadline service (deadline.c: nothing fires after stage one); the context then drains the
 *   queue until it is empty and nothing is tracked, closes its two handles (the idle handle and
 *   the deadline timer), and once both have closed calls the user's callback and frees itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

typedef struct cx_task {
  bx__task_fn fn;
  void *a, *b;
} cx_task;

enum { CX_OPEN, CX_CLOSING, CX_CLOSED };

struct bx_ctx {
  uv_loop_t *loop;
  char *name;
  bx_ctx_options opts;
  int state;
  bx_ctx_close_cb close_cb;
  void *close_data;

  bx_box *root; /* the registry layer's root registry (kept, never used here) */
  uint64_t next_id;

  uv_idle_t idle;
  bool idle_active;
  bx__deadlines deadlines; /* the deadline service: its timer is the context's second handle */
  int open_handles;        /* handles still to close once closing finishes */
  cx_task *tasks;          /* ring buffer */
  size_t head, count, cap;

  bx__tracked tracked; /* list head (sentinel) */
  void *slots[BX__SLOT_COUNT];
  const bx__tenant *tenants[BX__SLOT_COUNT];

  void *data;
  void (*data_free)(void *);
};

/* ---- logging ------------------------------------------------------------------------------ */

const bx_ctx_options *bx__ctx_options(const bx_ctx *ctx) {
  return &ctx->opts;
}

/* ---- options and accessors ---------------------------------------------------------------- */

void bx_ctx_options_init(bx_ctx_options *opts) {
  memset(opts, 0, sizeof *opts);
  opts->max_frame = BX_DEFAULT_MAX_FRAME;
  opts->max_depth = BX_DEFAULT_MAX_DEPTH;
  opts->log_level = BX_LOG_WARN;
}

uv_loop_t *bx_ctx_loop(const bx_ctx *ctx) {
  return ctx->loop;
}
bx_box *bx_ctx_registry(const bx_ctx *ctx) {
  return ctx->root;
}
void bx__ctx_set_root(bx_ctx *ctx, bx_box *root) {
  ctx->root = root;
}
const char *bx_ctx_name(const bx_ctx *ctx) {
  return ctx->name;
}
bool bx_ctx_is_closing(const bx_ctx *ctx) {
  return ctx->state != CX_OPEN;
}
bool bx_ctx_allows_remote_register(const bx_ctx *ctx) {
  return ctx->opts.allow_remote_register;
}

int bx_ctx_authorize(bx_ctx *ctx, const bx_msg *msg, const char *method) {
  if (!ctx->opts.allow_remote_register) return BX_EPERM;
  if (ctx->opts.authorize == NULL) return 0;
  return ctx->opts.authorize(ctx->opts.authorize_data, msg, method) == 0 ? 0 : BX_EPERM;
}
size_t bx_ctx_max_frame(const bx_ctx *ctx) {
  return ctx->opts.max_frame;
}
int bx_ctx_max_depth(const bx_ctx *ctx) {
  return ctx->opts.max_depth;
}
void bx_ctx_set_log_level(bx_ctx *ctx, int level) {
  ctx->opts.log_level = level;
}
bx__deadlines *bx__ctx_deadlines(bx_ctx *ctx) {
  return &ctx->deadlines;
}
uint64_t bx__ctx_next_id(bx_ctx *ctx) {
  return ++ctx->next_id;
}
void **bx__ctx_slot(bx_ctx *ctx, int slot) {
  return &ctx->slots[slot];
}
void bx__ctx_set_tenant(bx_ctx *ctx, int slot, void *state, const bx__tenant *ops) {
  ctx->slots[slot] = state;
  ctx->tenants[slot] = ops;
}

void bx_ctx_set_data(bx_ctx *ctx, void *data, void (*data_free)(void *)) {
  if (ctx->data_free && ctx->data != data) ctx->data_free(ctx->data);
  ctx->data = data;
  ctx->data_free = data_free;
}

void *bx_ctx_data(const bx_ctx *ctx) {
  return ctx->data;
}

/* ---- run queue ---------------------------------------------------------------------------- */

static void cx_idle_cb(uv_idle_t *idle);

static void cx_idle_start(bx_ctx *ctx) {
  if (ctx->idle_active) return;
  uv_idle_start(&ctx->idle, cx_idle_cb);
  ctx->idle_active = true;
}

static void cx_idle_stop(bx_ctx *ctx) {
  if (!ctx->idle_active) return;
  uv_idle_stop(&ctx->idle);
  ctx->idle_active = false;
}

static int cx_grow(bx_ctx *ctx) {
  size_t cap = ctx->cap ? ctx->cap * 2 : 64;
  cx_task *t = bx__malloc(cap * sizeof *t);
  if (t == NULL) return BX_ENOMEM;
  for (size_t i = 0; i < ctx->count; i++)
    t[i] = ctx->tasks[(ctx->head + i) % ctx->cap];
  bx__free(ctx->tasks);
  ctx->tasks = t;
  ctx->cap = cap;
  ctx->head = 0;
  return 0;
}

int bx__defer(bx_ctx *ctx, bx__task_fn fn, void *a, void *b) {
  if (ctx->state == CX_CLOSED) return BX_ECLOSING;
  if (ctx->count == ctx->cap && cx_grow(ctx)) return BX_ENOMEM;
  ctx->tasks[(ctx->head + ctx->count) % ctx->cap] = (cx_task){fn, a, b};
  ctx->count++;
  cx_idle_start(ctx);
  return 0;
}

static bool cx_pop(bx_ctx *ctx, cx_task *out) {
  if (ctx->count == 0) return false;
  *out = ctx->tasks[ctx->head];
  ctx->head = (ctx->head + 1) % ctx->cap;
  ctx->count--;
  return true;
}

static void cx_maybe_finish(bx_ctx *ctx);

#define CX_DRAIN_BUDGET 256

static void cx_idle_cb(uv_idle_t *idle) {
  bx_ctx *ctx = idle->data;
  size_t n = ctx->count > CX_DRAIN_BUDGET ? ctx->count : CX_DRAIN_BUDGET;
  cx_task t;
  while (n-- > 0 && cx_pop(ctx, &t))
    t.fn(t.a, t.b);
  if (ctx->count == 0) cx_idle_stop(ctx);
  if (ctx->state == CX_CLOSING) cx_maybe_finish(ctx);
}

/* ---- tracked work ------------------------------------------------------------------------- */

void bx__track(bx_ctx *ctx, bx__tracked *t) {
  t->next = ctx->tracked.next;
  t->prev = &ctx->tracked;
  ctx->tracked.next->prev = t;
  ctx->tracked.next = t;
}

void bx__untrack(bx_ctx *ctx, bx__tracked *t) {
  if (t->next == NULL) return;
  t->prev->next = t->next;
  t->next->prev = t->prev;
  t->next = t->prev = NULL;
  if (ctx->state == CX_CLOSING) cx_idle_start(ctx); /* re-check whether closing can finish */
}

/* ---- create and close --------------------------------------------------------------------- */

void bx__ctx_free(bx_ctx *ctx) {
  for (int i = BX__SLOT_COUNT; i-- > 0;)
    if (ctx->tenants[i] && ctx->tenants[i]->free) ctx->tenants[i]->free(ctx, ctx->slots[i]);
  if (ctx->data_free) ctx->data_free(ctx->data);
  bx__free(ctx->tasks);
  bx__free(ctx->name);
  bx__free(ctx);
}

int bx__ctx_create(bx_ctx **out, uv_loop_t *loop, const bx_ctx_options *opts) {
  *out = NULL;
  bx_ctx *ctx = bx__calloc(1, sizeof *ctx);
  if (ctx == NULL) return BX_ENOMEM;
  if (opts)
    ctx->opts = *opts;
  else
    bx_ctx_options_init(&ctx->opts);
  if (ctx->opts.max_frame == 0) ctx->opts.max_frame = BX_DEFAULT_MAX_FRAME;
  if (ctx->opts.max_depth <= 0) ctx->opts.max_depth = BX_DEFAULT_MAX_DEPTH;
  char pidname[32];
  snprintf(pidname, sizeof pidname, "/proc/%ld", (long)getpid());
  ctx->name = bx__strdup(ctx->opts.name ? ctx->opts.name : pidname);
  ctx->opts.name = ctx->name;
  ctx->loop = loop;
  ctx->tracked.next = ctx->tracked.prev = &ctx->tracked;
  if (ctx->name == NULL) {
    bx__free(ctx);
    return BX_ENOMEM;
  }
  *out = ctx;
  return 0;
}

/* libuv's idle and timer init cannot fail on Unix; were the second to, the first handle would
 * stay open and the context could not be freed synchronously. */
int bx__ctx_start(bx_ctx *ctx) {
  int rc = uv_idle_init(ctx->loop, &ctx->idle);
  if (rc == 0) rc = bx__deadlines_init(&ctx->deadlines, ctx->loop);
  if (rc) return rc;
  ctx->idle.data = ctx; /* active (and so keeping the loop alive) only while tasks wait */
  ctx->deadlines.timer.data = ctx; /* keeps the loop alive only while a deadline is pending */
  return 0;
}

/* Each of the two handles' close callback: the last one finishes closing. */
static void cx_closed_cb(uv_handle_t *h) {
  bx_ctx *ctx = h->data;
  if (--ctx->open_handles > 0) return;
  if (ctx->close_cb) ctx->close_cb(ctx, ctx->close_data);
  bx__ctx_free(ctx);
}

static void cx_maybe_finish(bx_ctx *ctx) {
  if (ctx->count > 0 || ctx->tracked.next != &ctx->tracked) return;
  cx_idle_stop(ctx);
  ctx->state = CX_CLOSED;
  ctx->open_handles = 2;
  uv_close((uv_handle_t *)&ctx->idle, cx_closed_cb);
  bx__deadlines_close(&ctx->deadlines, cx_closed_cb);
}

static void cx_close_stage1(void *a, void *b) {
  bx_ctx *ctx = a;
  (void)b;
  bx__tracked *t = ctx->tracked.next;
  while (t != &ctx->tracked) {
    bx__tracked *next = t->next;
    void (*on_close)(bx__tracked *) = t->on_close;
    t->on_close = NULL; /* each is cancelled once; cancelled ones stay until their handles close */
    if (on_close) {
      on_close(t);
      if (next != &ctx->tracked && next->next == NULL) next = ctx->tracked.next; /* unlinked */
    }
    t = next;
  }
  for (int i = BX__SLOT_COUNT; i-- > 0;)
    if (ctx->tenants[i] && ctx->tenants[i]->close) ctx->tenants[i]->close(ctx, ctx->slots[i]);
  bx__deadlines_halt(&ctx->deadlines); /* their owners were cancelled above */
}

int bx_ctx_close(bx_ctx *ctx, bx_ctx_close_cb cb, void *data) {
  if (ctx == NULL) return BX_EINVAL;
  if (ctx->state != CX_OPEN) return BX_ECLOSING;
  int rc = bx__defer(ctx, cx_close_stage1, ctx, NULL);
  if (rc) return rc;
  ctx->state = CX_CLOSING;
  ctx->close_cb = cb;
  ctx->close_data = data;
  return 0;
}
