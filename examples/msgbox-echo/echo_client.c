/* echo_client: the other half of echo_server, on msgbox's native API (include/bx/msgbox.h).
 * It connects to a URL, sends a one-way message and waits for it to come back, then sends it
 * as a request --count times, one at a time, and checks each reply.
 *
 *   echo_client tcp://127.0.0.1:6070 --count 3 hello
 *
 * Prints "echo: TEXT" and "reply N: TEXT (MICROSECONDS us)". Exit 0 when everything came back
 * unchanged, 1 when the connection failed or something did not come back (within --timeout)
 * or came back changed, 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bx.h>

typedef struct client {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_mb_conn *conn;
  uv_timer_t timer; /* the one-way echo's deadline */
  const char *text;
  size_t len;
  int count, replies;
  uint32_t timeout_ms;
  uint64_t sent_at; /* uv_hrtime() of the request in flight */
  int exit_code;
} client;

static void usage(FILE *out) {
  fprintf(out, "usage: echo_client [--count N] [--timeout MS] URL [TEXT]\n"
               "\n"
               "Sends TEXT (default \"hello\") to a msgbox echo server as a one-way message and\n"
               "waits for it to come back, then as N requests (default 3), one at a time.\n"
               "  URL           tcp://HOST:PORT, udp://HOST:PORT or unix:///path\n"
               "  --count N     requests to send (0: only the one-way message)\n"
               "  --timeout MS  how long to wait for each answer (default 2000)\n"
               "  --help        this text\n"
               "Exit status: 0 all came back unchanged, 1 a failure, 2 usage.\n");
}

/* Ends the run: disconnects (CONNECTION_CLOSED follows and closes the context). */
static void finish(client *cl, int exit_code) {
  if (exit_code) cl->exit_code = exit_code;
  uv_timer_stop(&cl->timer);
  if (bx_mb_disconnect(cl->conn) != 0 && !bx_ctx_is_closing(cl->ctx))
    bx_ctx_close(cl->ctx, NULL, NULL);
}

static void next_request(client *cl) {
  if (cl->replies == cl->count) {
    finish(cl, 0);
    return;
  }
  cl->sent_at = uv_hrtime();
  int rc = bx_mb_get(cl->conn, cl->text, cl->len, cl->timeout_ms, NULL);
  if (rc) {
    fprintf(stderr, "echo_client: request: %s\n", bx_strerror(rc));
    finish(cl, 1);
  }
}

static bool same(const client *cl, const bx_mb_event *ev) {
  return ev->len == cl->len && memcmp(ev->data, cl->text, cl->len) == 0;
}

static void on_echo_timeout(uv_timer_t *t) {
  client *cl = t->data;
  fprintf(stderr, "echo_client: no echo within %u ms\n", (unsigned)cl->timeout_ms);
  finish(cl, 1);
}

static void on_event(const bx_mb_event *ev) {
  client *cl = ev->context;
  int rc;
  switch (ev->type) {
  case BX_MB_CONNECTION_SETUP:
    rc = bx_mb_send(ev->conn, cl->text, cl->len); /* copied: cl->text stays ours */
    if (rc) {
      fprintf(stderr, "echo_client: send: %s\n", bx_strerror(rc));
      finish(cl, 1);
      break;
    }
    uv_timer_start(&cl->timer, on_echo_timeout, cl->timeout_ms, 0);
    break;
  case BX_MB_MESSAGE:
    uv_timer_stop(&cl->timer);
    printf("echo: %.*s\n", (int)ev->len, (const char *)ev->data);
    if (!same(cl, ev)) {
      fprintf(stderr, "echo_client: the echo differs\n");
      finish(cl, 1);
      break;
    }
    next_request(cl);
    break;
  case BX_MB_REPLY:
    cl->replies++;
    printf("reply %d: %.*s (%.0f us)\n", cl->replies, (int)ev->len, (const char *)ev->data,
           (double)(uv_hrtime() - cl->sent_at) / 1e3);
    if (!same(cl, ev)) {
      fprintf(stderr, "echo_client: the reply differs\n");
      finish(cl, 1);
      break;
    }
    next_request(cl);
    break;
  case BX_MB_REPLY_MISSING:
    if (ev->status == BX_ECANCELED || ev->status == BX_ECLOSING) break; /* we are ending */
    fprintf(stderr, "echo_client: no reply: %s\n", bx_strerror(ev->status));
    finish(cl, 1);
    break;
  case BX_MB_CONNECTION_SETUP_ERROR:
    fprintf(stderr, "echo_client: %s: %s: %s\n", bx_mb_url(ev->conn), ev->op,
            bx_strerror(ev->status));
    cl->exit_code = 1;
    uv_close((uv_handle_t *)&cl->timer, NULL);
    bx_ctx_close(cl->ctx, NULL, NULL);
    break;
  case BX_MB_CONNECTION_CLOSED:
  case BX_MB_CONNECTION_LOST: /* the last event: everything else is done */
    if (ev->status != BX_ECANCELED && ev->status != BX_ECLOSING) {
      fprintf(stderr, "echo_client: the server ended the connection (%s)\n",
              ev->status ? bx_strerror(ev->status) : "closed");
      cl->exit_code = 1;
    }
    uv_close((uv_handle_t *)&cl->timer, NULL);
    if (!bx_ctx_is_closing(cl->ctx)) bx_ctx_close(cl->ctx, NULL, NULL);
    break;
  default:
    break;
  }
}

int main(int argc, char **argv) {
  client cl;
  memset(&cl, 0, sizeof cl);
  cl.count = 3;
  cl.timeout_ms = 2000;
  cl.text = "hello";
  const char *url = NULL, *text = NULL;
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--count") == 0 && has_value && atoi(argv[i + 1]) >= 0) {
      cl.count = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--timeout") == 0 && has_value && atoi(argv[i + 1]) > 0) {
      cl.timeout_ms = (uint32_t)atoi(argv[++i]);
    } else if (argv[i][0] != '-' && (url == NULL || text == NULL)) {
      *(url == NULL ? &url : &text) = argv[i];
    } else {
      fprintf(stderr, "echo_client: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (url == NULL) {
    usage(stderr);
    return 2;
  }
  if (text) cl.text = text;
  cl.len = strlen(cl.text);
  uv_loop_init(&cl.loop);
  if (bx_ctx_new(&cl.loop, NULL, &cl.ctx) != 0) return 1;
  uv_timer_init(&cl.loop, &cl.timer);
  cl.timer.data = &cl;
  int rc = bx_mb_connect(cl.ctx, url, NULL, on_event, &cl, &cl.conn);
  if (rc) {
    fprintf(stderr, "echo_client: %s: %s\n", url, bx_strerror(rc));
    uv_close((uv_handle_t *)&cl.timer, NULL);
    bx_ctx_close(cl.ctx, NULL, NULL);
    uv_run(&cl.loop, UV_RUN_DEFAULT);
    uv_loop_close(&cl.loop);
    return rc == BX_EINVAL ? 2 : 1;
  }
  uv_run(&cl.loop, UV_RUN_DEFAULT);
  return uv_loop_close(&cl.loop) == 0 ? cl.exit_code : 1;
}
