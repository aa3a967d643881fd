/* echo_server: msgbox's native API (include/bx/msgbox.h) in one small program. It listens on a
 * URL, sends every one-way message back to its sender as a one-way message and answers every
 * request with its own bytes.
 *
 *   echo_server tcp://127.0.0.1:6070      echo_server udp://0.0.0.0:0     echo_server unix:///tmp/e
 *
 * Prints "listening on URL" (the address actually bound) and "ready"; runs until SIGINT or
 * SIGTERM (exit 0). Exit 1 when it cannot listen, 2 on a usage error. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bx.h>

typedef struct server {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_mb_conn *listener;
  uv_signal_t sigint, sigterm;
  bool verbose;
  int exit_code;
} server;

static void usage(FILE *out) {
  fprintf(out, "usage: echo_server [--verbose] URL\n"
               "\n"
               "Echoes msgbox messages: one-way messages go back to their sender, requests are\n"
               "answered with their own bytes.\n"
               "  URL        tcp://HOST:PORT, udp://HOST:PORT (HOST * for any IPv4 address, PORT\n"
               "             0 picks a free port) or unix:///path\n"
               "  --verbose  a line per connection and per message\n"
               "  --help     this text\n"
               "Exit status: 0 after SIGINT or SIGTERM, 1 when it cannot listen, 2 usage.\n");
}

static void shutdown_server(server *srv) {
  if (!uv_is_closing((uv_handle_t *)&srv->sigint)) {
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
  }
  if (!bx_ctx_is_closing(srv->ctx)) bx_ctx_close(srv->ctx, NULL, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  shutdown_server(s->data);
}

static void on_event(const bx_mb_event *ev) {
  server *srv = ev->context; /* the listener's, which its remotes start with */
  int rc = 0;
  switch (ev->type) {
  case BX_MB_LISTENING:
    printf("listening on %s\nready\n", bx_mb_url(ev->conn));
    fflush(stdout);
    break;
  case BX_MB_LISTENING_ERROR:
    fprintf(stderr, "echo_server: %s: %s: %s\n", bx_mb_url(ev->conn), ev->op,
            bx_strerror(ev->status));
    srv->exit_code = 1;
    shutdown_server(srv);
    break;
  case BX_MB_MESSAGE: /* the payload is borrowed; bx_mb_send copies it */
    rc = bx_mb_send(ev->conn, ev->data, ev->len);
    break;
  case BX_MB_REQUEST: /* the reply handle is ours: answered (and given up) here */
    rc = bx_mb_reply_send(ev->reply, ev->data, ev->len);
    break;
  default:
    break;
  }
  if (rc) fprintf(stderr, "echo_server: %s: %s\n", bx_mb_remote(ev->conn), bx_strerror(rc));
  if (srv->verbose && ev->type != BX_MB_LISTENING)
    printf("%s %s %zu bytes\n", bx_mb_event_name(ev->type), bx_mb_remote(ev->conn), ev->len);
}

int main(int argc, char **argv) {
  const char *url = NULL;
  server srv;
  memset(&srv, 0, sizeof srv);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--verbose") == 0) {
      srv.verbose = true;
    } else if (url == NULL && argv[i][0] != '-') {
      url = argv[i];
    } else {
      fprintf(stderr, "echo_server: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (url == NULL) {
    usage(stderr);
    return 2;
  }
  uv_loop_init(&srv.loop);
  if (bx_ctx_new(&srv.loop, NULL, &srv.ctx) != 0) return 1;
  /* Every remote starts with the listener's context: the server, here. */
  int rc = bx_mb_listen(srv.ctx, url, NULL, on_event, &srv, &srv.listener);
  if (rc) {
    fprintf(stderr, "echo_server: %s: %s\n", url, bx_strerror(rc));
    bx_ctx_close(srv.ctx, NULL, NULL);
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv.loop);
    return rc == BX_EINVAL ? 2 : 1;
  }
  uv_signal_init(&srv.loop, &srv.sigint);
  uv_signal_init(&srv.loop, &srv.sigterm);
  srv.sigint.data = srv.sigterm.data = &srv;
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
  uv_run(&srv.loop, UV_RUN_DEFAULT);
  return uv_loop_close(&srv.loop) == 0 ? srv.exit_code : 1;
}
