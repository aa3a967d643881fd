/* The raw libwebsockets echo for bx-bench: the WebSocket floor. A server process echoes each
 * text message; the client sends one message of `size` bytes, waits for the echo, repeats.
 * Both use libwebsockets' own poll loop (lws_service), no bx at all. */
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peers.h"

typedef struct lw_state {
  unsigned char *buf; /* LWS_PRE + payload */
  size_t size, have;
  int done, total, warmup;
  double start, t0, *lat;
  bool established, failed, pending_write;
} lw_state;

static lw_state lw;

static int lw_server_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len) {
  (void)user;
  switch (reason) {
  case LWS_CALLBACK_RECEIVE:
    if (lw.have + len > lw.size) lw.have = 0;
    memcpy(lw.buf + LWS_PRE + lw.have, in, len);
    lw.have += len;
    if (lws_is_final_fragment(wsi)) lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (lws_write(wsi, lw.buf + LWS_PRE, lw.have, LWS_WRITE_TEXT) < (int)lw.have) return -1;
    lw.have = 0;
    break;
  default:
    break;
  }
  return 0;
}

static void lw_send(struct lws *wsi) {
  lw.start = peer_now_us();
  memset(lw.buf + LWS_PRE, 'x', lw.size); /* lws masks client payloads in place */
  if (lws_write(wsi, lw.buf + LWS_PRE, lw.size, LWS_WRITE_TEXT) < (int)lw.size) lw.failed = true;
}

static int lw_client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len) {
  (void)user, (void)in;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    lw.established = true;
    lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    lw_send(wsi);
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    lw.have += len;
    if (!lws_is_final_fragment(wsi)) break;
    lw.have = 0;
    if (lw.done == lw.warmup) lw.t0 = lw.start;
    if (lw.done >= lw.warmup) lw.lat[lw.done - lw.warmup] = peer_now_us() - lw.start;
    if (++lw.done < lw.total) lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
  case LWS_CALLBACK_CLIENT_CLOSED:
    lw.failed = true;
    break;
  default:
    break;
  }
  return 0;
}

static struct lws_context *
lw_context(int port, int (*cb)(struct lws *, enum lws_callback_reasons, void *, void *, size_t),
           size_t size) {
  static struct lws_protocols protocols[2];
  memset(protocols, 0, sizeof protocols);
  protocols[0].name = "bench";
  protocols[0].callback = cb;
  protocols[0].rx_buffer_size = size + 64;
  protocols[0].tx_packet_size = size + 64;
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = port;
  info.iface = port == CONTEXT_PORT_NO_LISTEN ? NULL : "127.0.0.1";
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  lws_set_log_level(LLL_ERR, NULL);
  return lws_create_context(&info);
}

void lws_serve(const char *port, int n, int ready) {
  (void)n;
  lw.size = 1 << 20;
  lw.buf = malloc(LWS_PRE + lw.size);
  struct lws_context *ctx = lw_context(atoi(port), lw_server_cb, lw.size);
  if (ctx == NULL) _exit(1);
  if (write(ready, "r", 1) != 1) _exit(1);
  close(ready);
  for (;;)
    lws_service(ctx, 0);
}

int peer_lws(const char *port, size_t size, int warmup, int ops, bool pinned, double *lat,
             double *total_us) {
  pid_t pid = peer_start("lws", port, warmup + ops, pinned);
  if (pid < 0) return -1;
  memset(&lw, 0, sizeof lw);
  lw.size = size;
  lw.buf = calloc(1, LWS_PRE + size);
  lw.total = warmup + ops;
  lw.warmup = warmup;
  lw.lat = lat;
  struct lws_context *ctx = lw_context(CONTEXT_PORT_NO_LISTEN, lw_client_cb, size);
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = ctx;
  ci.address = "127.0.0.1";
  ci.port = atoi(port);
  ci.path = "/";
  ci.host = ci.origin = "127.0.0.1";
  ci.protocol = NULL;
  ci.local_protocol_name = "bench";
  int rc = ctx && lws_client_connect_via_info(&ci) ? 0 : -1;
  while (rc == 0 && !lw.failed && lw.done < lw.total)
    lws_service(ctx, 0);
  *total_us = peer_now_us() - lw.t0;
  if (lw.failed) rc = -1;
  if (ctx) lws_context_destroy(ctx);
  free(lw.buf);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return rc;
}
