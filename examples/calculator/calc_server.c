/* calc_server: serves the calculator as "calc" on one or more listeners.
 *
 *   calc_server --listen unix:///tmp/calc.sock --listen tcp://127.0.0.1:7301
 *
 * Prints one line per listener ("listening on URL") and then "ready", and runs until SIGINT or
 * SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc_impl.h"

#define MAX_LISTENERS 8

typedef struct server {
  uv_loop_t loop;
  bx_ctx *ctx;
  calc_impl impl;
  uv_signal_t sigint, sigterm;
} server;

static void usage(FILE *out) {
  fprintf(out,
          "usage: calc_server [--listen URL]... [--name NAME] [--log-level LEVEL] [--help]\n"
          "\n"
          "Serves the calculator (examples/calculator/calc.h) as a registered service.\n"
          "  --listen URL       listen on URL: unix:///path, tcp://host:port (port 0 picks one),\n"
          "                     inproc://name; may be given several times\n"
          "                     (default: tcp://127.0.0.1:0)\n"
          "  --name NAME        the service name in the registry (default: calc)\n"
          "  --log-level LEVEL  error, warn (default), info or debug\n"
          "  --help             this text\n");
}

static void on_signal(uv_signal_t *s, int signum) {
  server *srv = s->data;
  (void)signum;
  fprintf(stderr, "calc_server: shutting down\n");
  uv_signal_stop(&srv->sigint);
  uv_signal_stop(&srv->sigterm);
  uv_close((uv_handle_t *)&srv->sigint, NULL);
  uv_close((uv_handle_t *)&srv->sigterm, NULL);
  bx_ctx_close(srv->ctx, NULL, NULL);
}

int main(int argc, char **argv) {
  const char *urls[MAX_LISTENERS];
  int nurls = 0, level = BX_LOG_WARN;
  const char *name = "calc";
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--listen") == 0 && has_value && nurls < MAX_LISTENERS) {
      urls[nurls++] = argv[++i];
    } else if (strcmp(argv[i], "--name") == 0 && has_value) {
      name = argv[++i];
    } else if (strcmp(argv[i], "--log-level") == 0 && has_value &&
               (level = bx_log_level_from_name(argv[i + 1])) >= 0) {
      i++;
    } else {
      fprintf(stderr, "calc_server: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (nurls == 0) urls[nurls++] = "tcp://127.0.0.1:0";

  server srv;
  memset(&srv, 0, sizeof srv);
  uv_loop_init(&srv.loop);
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.log_level = level;
  opts.name = "/calc_server";
  int rc = bx_ctx_new(&srv.ctx, &srv.loop, &opts);
  if (rc == 0) rc = calc_impl_register(srv.ctx, &srv.impl, name, NULL);
  for (int i = 0; rc == 0 && i < nurls; i++) {
    bx_listener *l;
    rc = bx_listen(srv.ctx, urls[i], NULL, &l);
    if (rc == 0)
      printf("listening on %s\n", bx_listener_url(l));
    else
      fprintf(stderr, "calc_server: cannot listen on %s: %s\n", urls[i], bx_strerror(rc));
  }
  if (rc != 0) {
    if (srv.ctx) bx_ctx_close(srv.ctx, NULL, NULL);
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv.loop);
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  uv_signal_init(&srv.loop, &srv.sigint);
  uv_signal_init(&srv.loop, &srv.sigterm);
  srv.sigint.data = srv.sigterm.data = &srv;
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
  uv_run(&srv.loop, UV_RUN_DEFAULT);
  return uv_loop_close(&srv.loop) == 0 ? 0 : 1;
}
