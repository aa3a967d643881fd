/* relay: a middle process. It listens on one URL and registers NAME there as a box that
 * forwards to NAME at another URL, so calls (and the reply and callback boxes they carry)
 * cross two connections: the relay rule of spec/foam section 6 between real processes.
 *
 *   relay --listen URL --to URL [--name calc]
 *
 * Prints "listening on URL" and "ready"; runs until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <bx.h>

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  uv_close((uv_handle_t *)s, NULL);
  bx_ctx_close(s->data, NULL, NULL);
}

int main(int argc, char **argv) {
  const char *listen = NULL, *to = NULL, *name = "calc";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--listen") == 0)
      listen = argv[i + 1];
    else if (strcmp(argv[i], "--to") == 0)
      to = argv[i + 1];
    else if (strcmp(argv[i], "--name") == 0)
      name = argv[i + 1];
  }
  if (listen == NULL || to == NULL) {
    fprintf(stderr, "usage: relay --listen URL --to URL [--name NAME]\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.name = "/relay";
  bx_ctx *ctx;
  bx_box *upstream = NULL, *forward = NULL;
  bx_listener *l = NULL;
  int rc = bx_ctx_new(&loop, &opts, &ctx);
  /* A relay forwards payloads it never interprets: any application class may pass. */
  if (rc == 0) rc = bx_ctx_allow_class(ctx, "*");
  if (rc == 0) rc = bx_connect(ctx, to, NULL, &upstream);
  if (rc == 0) rc = bx_sub_box_new(ctx, name, upstream, &forward);
  if (rc == 0) rc = bx_register(bx_ctx_registry(ctx), name, forward, NULL);
  if (rc == 0) rc = bx_listen(ctx, listen, NULL, &l);
  bx_box_unref(forward);
  bx_box_unref(upstream);
  if (rc != 0) {
    fprintf(stderr, "relay: %s\n", bx_strerror(rc));
    return 1;
  }
  printf("listening on %s\nready\n", bx_listener_url(l));
  fflush(stdout);
  uv_signal_t term;
  uv_signal_init(&loop, &term);
  term.data = ctx;
  uv_signal_start(&term, on_signal, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : 1;
}
