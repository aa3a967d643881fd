/* calc_client: calls every method of a calculator service and checks the answers.
 *
 *   calc_client --connect unix:///tmp/calc.sock
 *
 * Exits 0 when every answer is what the calculator must answer, 1 otherwise, 3 when the
 * service cannot be reached. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc_stub.h"

typedef struct client {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_stub stub;
  int failures;
  int ticks[8];
  int nticks;
} client;

static void usage(FILE *out) {
  fprintf(out, "usage: calc_client --connect URL [--service NAME] [--timeout MS]\n"
               "                   [--ca FILE] [--insecure] [--help]\n"
               "\n"
               "Calls every method of the calculator service at URL and checks the answers.\n"
               "  --connect URL   unix:///path, tcp://host:port, ws://host:port/,\n"
               "                  wss://host:port/ or inproc://name\n"
               "  --ca FILE       wss: trust the certificates in FILE (PEM)\n"
               "  --insecure      wss: accept a self-signed server certificate\n"
               "  --service NAME  the service name (default: calc)\n"
               "  --timeout MS    per-call deadline (default: 5000)\n"
               "  --help          this text\n");
}

static void check(client *c, bool ok, const char *what) {
  printf("%-44s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) c->failures++;
}

/* The listener for countdown(): receives tick(n) calls from the server. */
static void on_tick(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  client *c = data;
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "args");
  const cJSON *n = cJSON_GetArrayItem(args, 0);
  if (cJSON_IsNumber(n) && c->nticks < 8) c->ticks[c->nticks++] = n->valueint;
}

static int run_calls(client *c) {
  double sum = 0;
  int rc = calc_add_sync(&c->stub, 1, 2, &sum);
  if (rc == BX_ECONNLOST || rc == UV_ECONNREFUSED || rc == UV_ENOENT || rc == BX_ETIMEDOUT) {
    fprintf(stderr, "calc_client: cannot reach the service: %s\n", bx_strerror(rc));
    return 3;
  }
  printf("add(1, 2) = %g\n", sum);
  check(c, rc == 0 && sum == 3, "add(1, 2) == 3");

  const char *text = "h\xc3\xa9llo \"q\" \xe2\x82\xac\n";
  cJSON *in = cJSON_CreateString(text), *out = NULL;
  rc = calc_echo_sync(&c->stub, in, &out);
  check(c, rc == 0 && cJSON_IsString(out) && strcmp(out->valuestring, text) == 0,
        "echo(\"h\xc3\xa9llo \\\"q\\\" \xe2\x82\xac\\n\") round trip");
  cJSON_Delete(in);
  cJSON_Delete(out);

  rc = calc_fail_sync(&c->stub);
  printf("fail() -> %s\n", c->stub.last_error ? c->stub.last_error : "(no error)");
  check(c, rc == BX_EREMOTE && strcmp(c->stub.last_error, "Error: boom") == 0,
        "fail() answers \"Error: boom\" (async)");
  rc = calc_throwSync_sync(&c->stub);
  check(c, rc == BX_EREMOTE && strcmp(c->stub.last_error, "sync boom") == 0,
        "throwSync() answers \"sync boom\"");

  check(c, calc_notify_send(&c->stub, "fire-and-forget") == 0, "notify() sent one-way");

  calc_point p = {.x = 1.5, .y = -2, .label = "p"}, scaled = {0};
  rc = calc_scale_sync(&c->stub, &p, 2, &scaled);
  printf("scale({1.5, -2, \"p\"}, 2) = {%g, %g, \"%s\"}\n", scaled.x, scaled.y,
         scaled.label ? scaled.label : "");
  check(c, rc == 0 && scaled.x == 3 && scaled.y == -4 && strcmp(scaled.label, "p*2") == 0,
        "scale() returns the scaled struct");
  free((char *)scaled.label);

  bx_box *listener = NULL;
  bx_function_box_new(c->ctx, on_tick, c, NULL, &listener);
  int32_t ticks = 0;
  rc = calc_countdown_sync(&c->stub, listener, 3, &ticks);
  for (int i = 0; i < 20 && c->nticks < 3; i++)
    uv_run(&c->loop, UV_RUN_NOWAIT);
  printf("countdown(listener, 3): %d ticks called back:", ticks);
  for (int i = 0; i < c->nticks; i++)
    printf(" %d", c->ticks[i]);
  printf("\n");
  check(c, rc == 0 && ticks == 3 && c->nticks == 3 && c->ticks[0] == 3 && c->ticks[2] == 1,
        "countdown() calls the client's box back");
  bx_box_unref(listener);
  return c->failures ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *url = NULL, *service = "calc";
  uint64_t timeout = 5000;
  const char *ca = NULL;
  bool insecure = false;
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--connect") == 0 && has_value) {
      url = argv[++i];
    } else if (strcmp(argv[i], "--ca") == 0 && has_value) {
      ca = argv[++i];
    } else if (strcmp(argv[i], "--insecure") == 0) {
      insecure = true;
    } else if (strcmp(argv[i], "--service") == 0 && has_value) {
      service = argv[++i];
    } else if (strcmp(argv[i], "--timeout") == 0 && has_value) {
      timeout = strtoull(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "calc_client: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (url == NULL) {
    usage(stderr);
    return 2;
  }
  client c;
  memset(&c, 0, sizeof c);
  uv_loop_init(&c.loop);
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.name = "/calc_client";
  bx_box *conn = NULL, *svc = NULL;
  int rc = bx_ctx_new(&c.loop, &opts, &c.ctx);
  if (rc == 0 && (ca || insecure)) rc = bx_ctx_set_tls_client(c.ctx, ca, insecure);
  if (rc == 0) rc = bx_connect(c.ctx, url, NULL, &conn);
  if (rc != 0) {
    fprintf(stderr, "calc_client: %s: %s\n", url, bx_strerror(rc));
    return 2;
  }
  bx_sub_box_new(c.ctx, service, conn, &svc);
  calc_stub_init(&c.stub, svc);
  c.stub.timeout_ms = timeout;
  rc = run_calls(&c);
  bx_stub_reset(&c.stub);
  bx_box_unref(svc);
  bx_box_unref(conn);
  bx_ctx_close(c.ctx, NULL, NULL);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  uv_loop_close(&c.loop);
  return rc;
}
