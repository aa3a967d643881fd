/* bxt_nats_calc URL: attaches a context to the NATS cluster at URL (nats://host:port[,...]),
 * serves the test `calc` service there (and whatever peers register: remote registration is
 * allowed), and prints "READY <pid>" once connected with its subscriptions in place. SIGTERM
 * closes the context and exits 0; the cluster tests kill it with SIGKILL too. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "bx.h"
#include "bx/nats.h"
#include "transport/calc_service.h"

typedef struct app {
  bx_ctx *ctx;
  bxt_calc calc;
  bx_listener *att;
  uv_signal_t term;
  uv_timer_t ready;
} app;

static void on_term(uv_signal_t *s, int signum) {
  (void)signum;
  app *a = s->data;
  bxt_calc_release(&a->calc);
  uv_close((uv_handle_t *)&a->ready, NULL);
  uv_close((uv_handle_t *)s, NULL);
  bx_ctx_close(a->ctx, NULL, NULL);
}

static void check_ready(uv_timer_t *t) {
  app *a = t->data;
  if (!bx_nats_connected(a->att)) return;
  uv_timer_stop(t);
  printf("READY %ld\n", (long)getpid());
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s nats://host:port[,...]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  app a = {0};
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/bxt/nats-calc";
  o.allow_remote_register = true;
  if (uv_loop_init(&loop) != 0 || bx_ctx_new(&loop, &o, &a.ctx) != 0) return 2;
  int rc = bxt_calc_register(a.ctx, "calc", &a.calc);
  if (rc == 0) rc = bx_nats_attach(a.ctx, argv[1], NULL, &a.att);
  if (rc) {
    fprintf(stderr, "bxt_nats_calc: %s: %s\n", argv[1], bx_strerror(rc));
    return 1;
  }
  uv_signal_init(&loop, &a.term);
  a.term.data = &a;
  uv_signal_start(&a.term, on_term, SIGTERM);
  uv_timer_init(&loop, &a.ready);
  a.ready.data = &a;
  uv_timer_start(&a.ready, check_ready, 5, 5);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : 3;
}
