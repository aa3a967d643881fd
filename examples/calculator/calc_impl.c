/* The calculator service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc_impl.h"

static int impl_add(void *self, bx_rpc_call *call, double a, double b, double *sum) {
  (void)self, (void)call;
  *sum = a + b;
  return 0;
}

static int impl_echo(void *self, bx_rpc_call *call, cJSON *value, cJSON **echoed) {
  (void)self, (void)call;
  *echoed = cJSON_Duplicate(value, 1); /* the runtime frees outputs after sending */
  return *echoed ? 0 : BX_ENOMEM;
}

/* fail() answers later, from a timer, through the reply handle. */
typedef struct later {
  uv_timer_t timer;
  bx_rpc_call *call;
} later;

static void later_closed(uv_handle_t *h) {
  free(h->data);
}

static void later_fire(uv_timer_t *t) {
  later *l = t->data;
  bx_rpc_fail(l->call, "Error: boom");
  uv_close((uv_handle_t *)t, later_closed);
}

static int impl_fail(void *self, bx_rpc_call *call) {
  (void)self;
  later *l = calloc(1, sizeof *l);
  if (l == NULL) return BX_ENOMEM;
  l->call = call;
  uv_timer_init(bx_ctx_loop(bx_rpc_call_ctx(call)), &l->timer);
  l->timer.data = l;
  uv_timer_start(&l->timer, later_fire, 1, 0);
  return BX_RPC_ASYNC;
}

static int impl_throw_sync(void *self, bx_rpc_call *call) {
  (void)self;
  bx_rpc_set_error(call, "sync boom");
  return BX_EREMOTE;
}

static int impl_notify(void *self, bx_rpc_call *call, const char *note) {
  (void)call;
  calc_impl *impl = self;
  impl->notes++;
  snprintf(impl->last_note, sizeof impl->last_note, "%s", note);
  return 0;
}

static int impl_scale(void *self, bx_rpc_call *call, const calc_point *p, double k,
                      calc_point *scaled) {
  (void)self, (void)call;
  char label[160];
  snprintf(label, sizeof label, "%s*%g", p->label ? p->label : "", k);
  scaled->x = p->x * k;
  scaled->y = p->y * k;
  scaled->label = strdup(label);
  return scaled->label ? 0 : BX_ENOMEM;
}

static int impl_recall(void *self, bx_rpc_call *call, const char *name, double *value) {
  (void)self;
  if (strcmp(name, "answer") == 0) {
    *value = 42;
    return 0;
  }
  bx_rpc_set_error(call, "no such item: %.100s", name);
  return UV_ENOENT; /* an application error: the caller gets this code and the text */
}

/* Sends tick(n) to the listener box, a one-way RPC with no reply box. */
static int send_tick(bx_box *listener, int32_t n) {
  cJSON *rpc = bx_json_new_object(BX_CLASS_RPC_MESSAGE);
  cJSON_AddStringToObject(rpc, "name", "tick");
  cJSON *args = cJSON_AddArrayToObject(rpc, "args");
  cJSON_AddItemToArray(args, cJSON_CreateNumber(n));
  return bx_send_json(listener, rpc);
}

static int impl_countdown(void *self, bx_rpc_call *call, bx_box *listener, int32_t from,
                          int32_t *ticks) {
  (void)self, (void)call;
  if (from < 0 || from > 1000) {
    bx_rpc_set_error(call, "countdown(from): from must be within 0..1000, got %d", from);
    return BX_EBADARG;
  }
  *ticks = 0;
  for (int32_t n = from; n > 0; n--)
    if (send_tick(listener, n) == 0) (*ticks)++;
  return 0;
}

const calc_ops calc_impl_ops = {
    .add = impl_add,
    .echo = impl_echo,
    .fail = impl_fail,
    .throwSync = impl_throw_sync,
    .notify = impl_notify,
    .scale = impl_scale,
    .recall = impl_recall,
    .countdown = impl_countdown,
};

int calc_impl_register(bx_ctx *ctx, calc_impl *impl, const char *name, bx_box **out) {
  impl->ctx = ctx;
  bx_box *skel = NULL;
  calc_skeleton_new(ctx, &calc_impl_ops, impl, &skel);
  if (skel == NULL) return BX_ENOMEM;
  int rc = bx_register(bx_ctx_registry(ctx), name, skel, NULL);
  if (rc == 0 && out) *out = bx_box_ref(skel);
  bx_box_unref(skel);
  return rc;
}
