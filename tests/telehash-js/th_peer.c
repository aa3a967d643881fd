/* th_peer: a bx telehash endpoint driven from the command line, for process tests (bxctl th
 * ping, and live interop with telehash-js in tests/telehash-js/interop.js). Public API only.
 *
 *   th_peer [--id FILE] [--bind URL]... [--peer JSON|@FILE] [--open TYPE] [--timeout S]
 *
 * It binds its sockets (default udp://127.0.0.1:0) and prints one line per event, flushed:
 *   json {..}              its peer JSON (first line)
 *   up HASHNAME            a link came up
 *   down HASHNAME CODE     a link went down
 *   open TYPE BODY         a channel of TYPE was opened to us; it is answered "bx-echo:BODY"
 *                          for every packet (types "bxtest" and "echo")
 *   reply BODY             a packet on the channel we opened (--open TYPE, on the first UP,
 *                          body "hello from bx")
 *   closed STATUS          the channel we opened closed
 *   stats in N out N dropped N ...   the endpoint's counters, when it stops
 * With --peer it links to that peer at once. It runs until SIGTERM or SIGINT (exit 0) or
 * --timeout seconds (default 60; exit 3). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bx.h>

typedef struct tp {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_th_endpoint *ep;
  uv_signal_t sigterm, sigint;
  uv_timer_t timer;
  const char *open_type;
  bool opened, stopping;
  int exit_code;
} tp;

static void tp_stop(tp *p, int code) {
  if (p->stopping) return; /* a second signal */
  p->stopping = true;
  p->exit_code = code;
  bx_th_endpoint_stats st;
  bx_th_endpoint_stats_get(p->ep, &st);
  printf("stats in %llu out %llu dropped %llu bad_channel %llu bad_auth %llu stale %llu\n",
         (unsigned long long)st.packets_in, (unsigned long long)st.packets_out,
         (unsigned long long)st.dropped, (unsigned long long)st.bad_channel,
         (unsigned long long)st.bad_auth, (unsigned long long)st.stale_handshake);
  fflush(stdout);
  uv_signal_stop(&p->sigterm);
  uv_signal_stop(&p->sigint);
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->sigterm, NULL);
  uv_close((uv_handle_t *)&p->sigint, NULL);
  uv_close((uv_handle_t *)&p->timer, NULL);
  bx_th_endpoint_close(p->ep, NULL, NULL);
  bx_ctx_close(p->ctx, NULL, NULL);
}

static void tp_on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  tp_stop(s->data, 0);
}

static void tp_on_timeout(uv_timer_t *t) {
  fprintf(stderr, "th_peer: timed out\n");
  tp_stop(t->data, 3);
}

static void tp_echo_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)data;
  if (ev->type != BX_TH_CHAN_PACKET || ev->len == 0) return;
  printf("open %s %.*s\n", bx_th_channel_type(ch), (int)ev->len, (const char *)ev->body);
  fflush(stdout);
  char out[600];
  int n = snprintf(out, sizeof out, "bx-echo:%.*s", (int)(ev->len > 500 ? 500 : ev->len),
                   (const char *)ev->body);
  bx_th_channel_send(ch, NULL, (const uint8_t *)out, (size_t)n, false);
}

static void tp_on_open(bx_th_channel *ch, const bx_th_chan_event *first, void *data) {
  bx_th_channel_set_cb(ch, tp_echo_cb, data);
  tp_echo_cb(ch, first, data);
}

static void tp_reply_cb(bx_th_channel *ch, const bx_th_chan_event *ev, void *data) {
  (void)ch;
  (void)data;
  if (ev->type == BX_TH_CHAN_CLOSED)
    printf("closed %s\n", ev->status ? bx_err_name(ev->status) : "0");
  else if (ev->len > 0)
    printf("reply %.*s\n", (int)ev->len, (const char *)ev->body);
  fflush(stdout);
}

static void tp_link_cb(bx_th_link *link, bx_th_link_event ev, int status, void *data) {
  tp *p = data;
  if (ev == BX_TH_LINK_DOWN) {
    printf("down %s %s\n", bx_th_link_hashname(link), bx_err_name(status));
    fflush(stdout);
    return;
  }
  printf("up %s\n", bx_th_link_hashname(link));
  fflush(stdout);
  if (p->open_type == NULL || p->opened) return;
  p->opened = true;
  const char *hello = "hello from bx";
  bx_th_channel *ch;
  int rc = bx_th_channel_open(link, p->open_type, true, NULL, (const uint8_t *)hello, strlen(hello),
                              tp_reply_cb, p, &ch);
  if (rc) fprintf(stderr, "th_peer: open: %s\n", bx_strerror(rc));
}

/* JSON given as text, or @FILE: the text, owned by the caller (free()). */
static char *tp_read_arg(const char *arg) {
  if (arg[0] != '@') return strdup(arg);
  FILE *f = fopen(arg + 1, "rb");
  if (f == NULL) return NULL;
  char *buf = calloc(1, 65537);
  size_t n = buf ? fread(buf, 1, 65536, f) : 0;
  fclose(f);
  if (buf) buf[n] = '\0';
  return buf;
}

static int tp_usage(void) {
  fprintf(stderr, "usage: th_peer [--id FILE] [--bind URL]... [--peer JSON|@FILE] "
                  "[--open TYPE] [--timeout S]\n");
  return 2;
}

int main(int argc, char **argv) {
  tp p;
  memset(&p, 0, sizeof p);
  bx_th_endpoint_opts o;
  memset(&o, 0, sizeof o);
  const char *id_file = NULL, *peer = NULL;
  double timeout_s = 60;
  unsigned nbind = 0;
  for (int i = 1; i < argc; i++) {
    bool v = i + 1 < argc;
    if (strcmp(argv[i], "--id") == 0 && v)
      id_file = argv[++i];
    else if (strcmp(argv[i], "--bind") == 0 && v && nbind < BX_TH_MAX_BINDS)
      o.bind[nbind++] = argv[++i];
    else if (strcmp(argv[i], "--peer") == 0 && v)
      peer = argv[++i];
    else if (strcmp(argv[i], "--open") == 0 && v)
      p.open_type = argv[++i];
    else if (strcmp(argv[i], "--timeout") == 0 && v)
      timeout_s = strtod(argv[++i], NULL);
    else
      return tp_usage();
  }
  bx_th_identity *id = NULL;
  int rc = id_file ? bx_th_identity_load(id_file, &id) : bx_th_identity_new(&id);
  if (rc) {
    fprintf(stderr, "th_peer: identity: %s\n", bx_strerror(rc));
    return 1;
  }
  o.link_cb = tp_link_cb;
  o.link_data = &p;
  uv_loop_init(&p.loop);
  bx_ctx_options co;
  bx_ctx_options_init(&co);
  co.name = "/th_peer";
  co.log_level = BX_LOG_ERROR;
  rc = bx_ctx_new(&p.loop, &co, &p.ctx);
  if (rc == 0) rc = bx_th_endpoint_new(p.ctx, id, &o, &p.ep);
  bx_th_identity_free(id);
  if (rc == 0) rc = bx_th_endpoint_handle(p.ep, "bxtest", tp_on_open, &p);
  if (rc == 0) rc = bx_th_endpoint_handle(p.ep, "echo", tp_on_open, &p);
  if (rc) {
    fprintf(stderr, "th_peer: endpoint: %s\n", bx_strerror(rc));
    return 1;
  }
  char *json = bx_th_endpoint_json(p.ep);
  printf("json %s\n", json ? json : "null");
  fflush(stdout);
  free(json);
  if (peer) {
    char *pj = tp_read_arg(peer);
    bx_th_link *link;
    rc = pj ? bx_th_link_new(p.ep, pj, &link) : UV_ENOENT;
    free(pj);
    if (rc) {
      fprintf(stderr, "th_peer: link: %s\n", bx_strerror(rc));
      return 1;
    }
  }
  uv_signal_init(&p.loop, &p.sigterm);
  uv_signal_init(&p.loop, &p.sigint);
  uv_timer_init(&p.loop, &p.timer);
  p.sigterm.data = p.sigint.data = p.timer.data = &p;
  uv_signal_start(&p.sigterm, tp_on_signal, SIGTERM);
  uv_signal_start(&p.sigint, tp_on_signal, SIGINT);
  uv_timer_start(&p.timer, tp_on_timeout, (uint64_t)(timeout_s * 1000), 0);
  uv_run(&p.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&p.loop);
  if (rc) fprintf(stderr, "th_peer: loop not empty at exit\n");
  return p.exit_code;
}
