/* The body of the `calc` server helper: serves calc (calc_service.h) on a URL, prints
 * "READY <actual url>" on stdout once listening, and on SIGTERM closes its context cleanly and
 * exits 0 (so a sanitizer build also checks it for leaks). Used by bxt_calc_server (calc_server.c)
 * and by tests that re-execute themselves as the server. */
#ifndef BXT_CALC_SERVER_H
#define BXT_CALC_SERVER_H

#include <signal.h>
#include <stdio.h>

#include "bx.h"
#include "calc_service.h"

typedef struct bxt_server {
  bx_ctx *ctx;
  bxt_calc calc;
  uv_signal_t term;
} bxt_server;

static void bxt_server_term(uv_signal_t *s, int signum) {
  (void)signum;
  bxt_server *srv = s->data;
  bxt_calc_release(&srv->calc);
  bx_ctx_close(srv->ctx, NULL, NULL);
  uv_close((uv_handle_t *)s, NULL);
}

/* Runs the server until SIGTERM. Returns the process exit status. */
static inline int bxt_serve(const char *url) {
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  bxt_server srv = {0};
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/bxt/calc-server";
  if (uv_loop_init(&loop) != 0 || bx_ctx_new(&loop, &o, &srv.ctx) != 0) return 2;
  bx_listener *l;
  int rc = bxt_calc_register(srv.ctx, "calc", &srv.calc);
  if (rc == 0) rc = bx_listen(srv.ctx, url, NULL, &l);
  if (rc) {
    fprintf(stderr, "bxt_calc_server: %s: %s\n", url, bx_strerror(rc));
    bx_ctx_close(srv.ctx, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  uv_signal_init(&loop, &srv.term);
  srv.term.data = &srv;
  uv_signal_start(&srv.term, bxt_server_term, SIGTERM);
  printf("READY %s\n", bx_listener_url(l));
  fflush(stdout);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : 3;
}

#endif /* BXT_CALC_SERVER_H */
