/* th_calc: the test `calc` service and a caller over th:// boxes, for the multi-process tests
 * (tests/bxd/bxd_telehash_calc.sh) and the demo.
 *
 *   th_calc serve --th-id FILE --host HOST.json
 *       attaches to the box host, serves calc on th://<its hashname>, prints "serving HN";
 *       SIGTERM stops it
 *   th_calc call --th-id FILE --host HOST.json --to-id SERVICE.json A B [--timeout S]
 *       calls calc.add(A, B) on the service (its key from SERVICE.json), prints the sum;
 *       exit 0, or 1 with the error (BX_ETIMEDOUT after --timeout, default 60 s)
 * HOST.json is the host's JSON (bxd's --th-ready-file), a file or @file. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/calc_service.h"

static char *tc_read(const char *arg) {
  FILE *f = fopen(arg[0] == '@' ? arg + 1 : arg, "rb");
  if (f == NULL) return NULL;
  char *buf = calloc(1, 65537);
  size_t n = buf ? fread(buf, 1, 65536, f) : 0;
  fclose(f);
  if (buf) buf[n] = '\0';
  return buf;
}

typedef struct tc {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_th_identity *id;
  bx_th_endpoint *ep;
  uv_signal_t sig;
  bxt_calc calc;
  bool serving, done;
  int exit_code;
} tc;

static void tc_stop(tc *t) {
  if (t->serving) bxt_calc_release(&t->calc);
  t->serving = false;
  if (!uv_is_closing((uv_handle_t *)&t->sig)) uv_close((uv_handle_t *)&t->sig, NULL);
  bx_ctx_close(t->ctx, NULL, NULL);
}

static void tc_on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  tc_stop(s->data);
}

static void tc_done(bx_call *call, int status, void *result, void *data) {
  tc *t = data;
  const cJSON *r = result;
  if (status == 0 && cJSON_IsNumber(r)) {
    printf("%g\n", r->valuedouble);
    t->exit_code = 0;
  } else {
    const char *text = bx_call_error_text(call);
    fprintf(stderr, "th_calc: %s%s%s\n", bx_err_name(status), text ? ": " : "", text ? text : "");
    t->exit_code = 1;
  }
  fflush(stdout);
  tc_stop(t);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  static tc t;
  const char *id_file = NULL, *host = NULL, *to_id = NULL;
  double ab[2] = {0, 0};
  int nab = 0;
  uint64_t timeout_ms = 60000;
  for (int i = 2; i < argc; i++) {
    bool v = i + 1 < argc;
    if (strcmp(argv[i], "--th-id") == 0 && v)
      id_file = argv[++i];
    else if (strcmp(argv[i], "--host") == 0 && v)
      host = argv[++i];
    else if (strcmp(argv[i], "--to-id") == 0 && v)
      to_id = argv[++i];
    else if (strcmp(argv[i], "--timeout") == 0 && v)
      timeout_ms = (uint64_t)(atof(argv[++i]) * 1000);
    else if (nab < 2)
      ab[nab++] = atof(argv[i]);
    else
      return 2;
  }
  bool serve = strcmp(argv[1], "serve") == 0;
  if (id_file == NULL || host == NULL || (!serve && (to_id == NULL || nab != 2))) {
    fprintf(stderr, "usage: th_calc serve|call --th-id FILE --host HOST.json [--to-id F A B]\n");
    return 2;
  }
  char *hj = tc_read(host);
  char *sj = to_id ? tc_read(to_id) : NULL;
  if (hj == NULL || (to_id && sj == NULL) || bx_th_identity_load(id_file, &t.id) != 0) {
    fprintf(stderr, "th_calc: cannot read the files\n");
    return 2;
  }
  uv_loop_init(&t.loop);
  bx_ctx_options co;
  bx_ctx_options_init(&co);
  co.name = serve ? "/th_calc/service" : "/th_calc/caller";
  /* a keep-alive handshake every second: a restarted host hears of us (and we of its new
   * session) at once */
  bx_th_endpoint_opts eo = {.bind = {"udp://127.0.0.1:0"}, .keepalive_ms = 1000};
  bx_th_boxes_opts bo = {.host = hj};
  int rc = bx_ctx_new(&t.loop, &co, &t.ctx);
  if (rc == 0) rc = bx_th_endpoint_new(t.ctx, t.id, &eo, &t.ep);
  if (rc == 0) rc = bx_th_boxes_attach(t.ep, &bo);
  if (rc == 0 && sj != NULL) rc = bx_th_boxes_learn(t.ep, sj);
  free(hj);
  char url[80];
  if (rc == 0 && serve) {
    rc = bxt_calc_register(t.ctx, "calc", &t.calc);
    snprintf(url, sizeof url, "th://%s", bx_th_identity_hashname(t.id));
    bx_listener *l = NULL;
    if (rc == 0) rc = bx_listen(t.ctx, url, NULL, &l);
    t.serving = rc == 0;
    if (rc == 0) printf("serving %s\n", bx_th_identity_hashname(t.id));
  } else if (rc == 0) {
    uint8_t key[32];
    char hn[BX_TH_HASHNAME_LEN + 1];
    rc = bx_th_peer_key(sj, key, hn);
    snprintf(url, sizeof url, "th://%s", hn);
    bx_box *conn = NULL, *calc = NULL;
    if (rc == 0) rc = bx_connect(t.ctx, url, NULL, &conn);
    if (rc == 0) rc = bx_sub_box_new(t.ctx, "calc", conn, &calc);
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, cJSON_CreateNumber(ab[0]));
    cJSON_AddItemToArray(args, cJSON_CreateNumber(ab[1]));
    bx_call_opts o = {.timeout_ms = timeout_ms};
    if (rc == 0) rc = bx_call_json(calc, "add", args, false, &o, tc_done, &t, NULL);
    bx_box_unref(calc);
    bx_box_unref(conn);
    printf("calling %s\n", hn);
  }
  free(sj);
  fflush(stdout);
  if (rc != 0) {
    fprintf(stderr, "th_calc: %s\n", bx_strerror(rc));
    bx_ctx_close(t.ctx, NULL, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    return 1;
  }
  uv_signal_init(&t.loop, &t.sig);
  t.sig.data = &t;
  uv_signal_start(&t.sig, tc_on_signal, SIGTERM);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  uv_loop_close(&t.loop);
  bx_th_identity_free(t.id);
  return serve ? 0 : t.exit_code;
}
