/* Registration that lasts: bx_register_remote_keep() keeps a name registered in a hub.
 *
 * Design notes
 * - One attempt at a time: the RPC register(name, null, service) through bx_register_remote().
 *   Its outcome decides what comes next: registered (REGISTERED the first time, REREGISTERED
 *   after), refused (REFUSED; BX_EPERM stops trying, any other refusal, such as BX_EEXIST while
 *   the hub still holds the name of a connection it has not noticed closing, is tried again),
 *   or anything else, which means the hub could not be reached or did not answer (RETRYING
 *   with the delay). Retries back off from min_retry_ms, doubling up to max_retry_ms; a success
 *   starts the next series from min_retry_ms again.
 * - Loss: the registration watches the hub's client box (bx_connection_on_state). DOWN while
 *   registered means the hub forgot the name (a hub drops what a closed connection
 *   registered): LOST with the reason, then an attempt after min_retry_ms, so a restarted hub
 *   gets the name back as soon as it answers.
 * - Events run from the loop (call and state callbacks, the deadline service). The registration
 *   holds a reference while an attempt is in flight, so stopping it during an attempt frees it
 *   only when the attempt's callback has run; after bx_registration_stop() no event runs.
 * - Closing the context stops and frees it (the context tracks it).
 */
#include <stdlib.h>
#include <string.h>

#include "framework.h"

#define RG_DEFAULT_TIMEOUT_MS 5000u
#define RG_DEFAULT_MIN_RETRY_MS 250u
#define RG_DEFAULT_MAX_RETRY_MS 10000u

struct bx_registration {
  bx__tracked tracked; /* first */
  bx__deadline retry;
  bx_ctx *ctx;
  bx_box *hub, *service; /* references */
  char *name;
  cJSON *attrs;
  uint64_t timeout_ms, min_ms, max_ms, backoff_ms;
  bx_reg_cb cb;
  void *data;
  unsigned refs;
  bx_call *call;   /* the attempt in flight, or NULL */
  bool registered; /* the hub holds the name now */
  bool ever;       /* it was registered once (later successes are REREGISTERED) */
  bool stopped;    /* no more attempts, no more events */
};

static void rg_unref(bx_registration *r) {
  if (--r->refs > 0) return;
  bx_box_unref(r->hub);
  bx_box_unref(r->service);
  cJSON_Delete(r->attrs);
  bx__free(r->name);
  bx__free(r);
}

static void rg_event(bx_registration *r, bx_reg_event ev, int status, uint64_t retry_ms) {
  if (!r->stopped && r->cb) r->cb(r, ev, status, retry_ms, r->data);
}

static void rg_attempt(bx_registration *r);

static void rg_fire(bx__deadline *d) {
  rg_attempt((bx_registration *)((char *)d - offsetof(bx_registration, retry)));
}

/* The next attempt in the current backoff; returns its delay. */
static uint64_t rg_schedule(bx_registration *r) {
  uint64_t delay = r->backoff_ms;
  r->backoff_ms = r->backoff_ms * 2 > r->max_ms ? r->max_ms : r->backoff_ms * 2;
  if (bx__deadline_start(r->ctx, &r->retry, delay, rg_fire) != 0)
    bx_log(r->ctx, BX_LOG_WARN, "registration of %s: cannot schedule a retry", r->name);
  return delay;
}

static void rg_on_reply(bx_call *call, int status, void *result, void *data) {
  (void)call, (void)result;
  bx_registration *r = data;
  r->call = NULL;
  if (r->stopped) {
    rg_unref(r);
    return;
  }
  if (status == 0) {
    r->registered = true;
    r->backoff_ms = r->min_ms;
    rg_event(r, r->ever ? BX_REG_REREGISTERED : BX_REG_REGISTERED, 0, 0);
    r->ever = true;
  } else if (status == BX_EPERM) {
    rg_event(r, BX_REG_REFUSED, status, 0); /* the hub's policy: trying again changes nothing */
  } else if (status == BX_EEXIST || status == BX_EREMOTE || status == BX_ENOMETHOD ||
             status == BX_EBADARG) {
    rg_event(r, BX_REG_REFUSED, status, r->stopped ? 0 : rg_schedule(r));
  } else {
    uint64_t delay = rg_schedule(r);
    rg_event(r, BX_REG_RETRYING, status, delay);
  }
  rg_unref(r);
}

static void rg_attempt(bx_registration *r) {
  if (r->stopped || r->call != NULL || r->registered) return;
  bx_call_opts opts = {.timeout_ms = r->timeout_ms, .attributes = r->attrs};
  r->refs++; /* the attempt's */
  int rc = bx_register_remote(r->hub, r->name, r->service, &opts, rg_on_reply, r, &r->call);
  if (rc == 0) return;
  r->refs--;
  r->call = NULL;
  uint64_t delay = rg_schedule(r); /* the send failed at once (a dial error) */
  rg_event(r, BX_REG_RETRYING, rc, delay);
}

static void rg_on_state(bx_box *conn, bx_conn_state state, int reason, void *data) {
  (void)conn;
  bx_registration *r = data;
  if (state != BX_CONN_DOWN || !r->registered || r->stopped) return;
  r->registered = false;
  r->backoff_ms = r->min_ms;
  uint64_t delay = rg_schedule(r); /* first: the event may stop (and free) r */
  rg_event(r, BX_REG_LOST, reason, delay);
}

/* Stops attempts and events; the attempt in flight (if any) is canceled and its callback
 * drops the last reference. */
static void rg_stop(bx_registration *r) {
  if (r->stopped) return;
  r->stopped = true;
  bx__deadline_stop(r->ctx, &r->retry);
  bx_connection_off_state(r->hub, rg_on_state, r);
  bx__untrack(r->ctx, &r->tracked);
  if (r->call) bx_call_cancel(r->call);
  rg_unref(r);
}

static void rg_on_close(bx__tracked *t) {
  rg_stop((bx_registration *)t);
}

int bx_register_remote_keep(bx_box *hub, const char *name, bx_box *service,
                            const bx_keep_opts *opts, bx_reg_cb cb, void *data,
                            bx_registration **out) {
  if (out) *out = NULL;
  if (hub == NULL || name == NULL || service == NULL || out == NULL) return BX_EINVAL;
  bx_ctx *ctx = bx_box_ctx(hub);
  if (bx_ctx_is_closing(ctx)) return BX_ECLOSING;
  bx_registration *r = bx__zalloc(sizeof *r);
  if (r == NULL) return BX_ENOMEM;
  r->refs = 1; /* the application's, until bx_registration_stop() or the context closes */
  r->ctx = ctx;
  r->cb = cb;
  r->data = data;
  r->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : RG_DEFAULT_TIMEOUT_MS;
  r->min_ms = opts && opts->min_retry_ms ? opts->min_retry_ms : RG_DEFAULT_MIN_RETRY_MS;
  r->max_ms = opts && opts->max_retry_ms ? opts->max_retry_ms : RG_DEFAULT_MAX_RETRY_MS;
  if (r->max_ms < r->min_ms) r->max_ms = r->min_ms;
  r->backoff_ms = r->min_ms;
  r->name = bx__strdup(name);
  r->attrs = opts && opts->attributes ? cJSON_Duplicate(opts->attributes, true) : NULL;
  r->hub = bx_box_ref(hub);
  r->service = bx_box_ref(service);
  int rc = r->name && (r->attrs || !(opts && opts->attributes)) ? 0 : BX_ENOMEM;
  if (rc == 0) rc = bx_connection_on_state(hub, rg_on_state, r);
  if (rc) {
    rg_unref(r);
    return rc;
  }
  r->tracked.on_close = rg_on_close;
  bx__track(ctx, &r->tracked);
  /* The first attempt runs from the loop: no event inside this call. */
  if (bx__deadline_start(ctx, &r->retry, 0, rg_fire) != 0) {
    rg_stop(r);
    return BX_ENOMEM;
  }
  *out = r;
  return 0;
}

void bx_registration_stop(bx_registration *reg) {
  if (reg) rg_stop(reg);
}

bool bx_registration_active(const bx_registration *reg) {
  return reg != NULL && reg->registered && !reg->stopped;
}

const char *bx_reg_event_name(bx_reg_event ev) {
  switch (ev) {
  case BX_REG_REGISTERED:
    return "registered";
  case BX_REG_LOST:
    return "lost";
  case BX_REG_REREGISTERED:
    return "re-registered";
  case BX_REG_REFUSED:
    return "refused";
  case BX_REG_RETRYING:
    return "retrying";
  }
  return "unknown";
}
