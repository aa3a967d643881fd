/* FOAM interop without FOAM: the client frames FOAM2 sent (tests/data/spec/foam/captures) are
 * replayed byte for byte over a raw socket against examples/calculator served by a bx
 * listener, and each reply must match the captured one: same envelope, same reply name, same
 * answer (the 2018 tree's nested "attributes":{} aside). The WebSocket captures go over a raw
 * WebSocket client (plain blocking sockets: HTTP upgrade, masked text frames) while the
 * server's loop runs in a thread; their replies are matched by reply name (FOAM2 answered
 * some out of order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <cmocka.h>

#include "calc_impl.h"
#include "testutil.h"
#include "transport/raw_client.h"

typedef struct cc_env {
  uv_loop_t loop;
  bx_ctx *ctx;
  calc_impl impl;
  bx_listener *l;
  int warn, closed;
} cc_env;

static void cc_log(void *data, int level, const char *line) {
  (void)line;
  if (level <= BX_LOG_WARN) ((cc_env *)data)->warn++;
}

static cc_env *cc_env_new(const char *url) {
  cc_env *e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/calc_server";
  o.log = cc_log;
  o.log_data = e;
  assert_int_equal(bx_ctx_new(&e->loop, &o, &e->ctx), 0);
  assert_int_equal(calc_impl_register(e->ctx, &e->impl, "calc", NULL), 0);
  assert_int_equal(bx_listen(e->ctx, url, NULL, &e->l), 0);
  return e;
}

static void cc_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  ((cc_env *)data)->closed++;
}

static void cc_env_free(cc_env *e) {
  assert_int_equal(bx_ctx_close(e->ctx, cc_closed, e), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

/* The reply matches the captured one. */
static void cc_compare(const char *want_json, const char *got_json) {
  cJSON *want = cJSON_Parse(want_json), *got = cJSON_Parse(got_json);
  assert_non_null(got);
  cJSON *ws = cJSON_GetObjectItem(want, "object"), *gs = cJSON_GetObjectItem(got, "object");
  assert_string_equal(bx_json_class(got), BX_CLASS_MESSAGE);
  assert_string_equal(bx_json_class(gs), bx_json_class(ws));
  assert_string_equal(cJSON_GetObjectItem(gs, "name")->valuestring,
                      cJSON_GetObjectItem(ws, "name")->valuestring);
  cJSON *wi = cJSON_GetObjectItem(ws, "object"), *gi = cJSON_GetObjectItem(gs, "object");
  assert_string_equal(bx_json_class(gi), bx_json_class(wi));
  cJSON *gd = cJSON_GetObjectItem(gi, "data"), *wd = cJSON_GetObjectItem(wi, "data");
  assert_true((gd == NULL && wd == NULL) || cJSON_Compare(gd, wd, 1)); /* void: no data */
  cJSON_Delete(want);
  cJSON_Delete(got);
}

static void cc_replay(const char *url, const char *file, int want_replies) {
  char path[512];
  snprintf(path, sizeof path, "%s/foam/captures/%s", BX_SPEC_DIR, file);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  cc_env *e = cc_env_new(url);
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));
  char line[8192];
  int replies = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    cJSON *rec = cJSON_Parse(line);
    assert_non_null(rec);
    const char *dir = cJSON_GetObjectItem(rec, "dir")->valuestring;
    const char *payload = cJSON_GetObjectItem(rec, "payload")->valuestring;
    if (strcmp(dir, "c2s") == 0) {
      bxt_raw_frame(&r, payload);
    } else {
      bxt_raw_wait_frames(&e->loop, &r, replies + 1);
      cc_compare(payload, r.frames[replies]);
      replies++;
    }
    cJSON_Delete(rec);
  }
  fclose(f);
  assert_int_equal(replies, want_replies);
  assert_int_equal(e->warn, 0);
  assert_int_equal(bx_registry_size(bx_ctx_registry(e->ctx)), 1); /* no reply export left */
  bxt_raw_close(&r, &e->loop, false);
  cc_env_free(e);
}

static void test_tcp_head(void **state) {
  (void)state;
  cc_replay("tcp://127.0.0.1:0", "tcp-foam2-head.jsonl", 2);
}

static void test_tcp_2018(void **state) {
  (void)state;
  cc_replay("tcp://127.0.0.1:0", "tcp-foam2-2018.jsonl", 2);
}

static void test_unix_head(void **state) {
  (void)state;
  char url[128];
  snprintf(url, sizeof url, "unix:///tmp/bx-calc-captures-%ld.sock", (long)getpid());
  cc_replay(url, "tcp-foam2-head.jsonl", 2);
}

#ifdef BX_HAVE_WS
/* ---- WebSocket ------------------------------------------------------------------------------ */

typedef struct ws_srv {
  cc_env *e;
  uv_async_t stop;
  uv_thread_t thread;
} ws_srv;

static void ws_stop_cb(uv_async_t *a) {
  ws_srv *s = a->data;
  uv_close((uv_handle_t *)a, NULL);
  bx_ctx_close(s->e->ctx, cc_closed, s->e);
}

static void ws_thread(void *arg) {
  ws_srv *s = arg;
  uv_run(&s->e->loop, UV_RUN_DEFAULT);
}

static void ws_send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
    assert_true(k > 0);
    c += k;
    n -= (size_t)k;
  }
}

static int ws_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n";
  ws_send_all(fd, req, sizeof req - 1);
  char head[2048];
  size_t n = 0;
  while (n + 1 < sizeof head && (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0)) {
    assert_int_equal(recv(fd, head + n, 1, 0), 1);
    n++;
  }
  head[n] = '\0';
  assert_non_null(strstr(head, " 101 "));
  return fd;
}

static void ws_send_text(int fd, const char *text) {
  size_t n = strlen(text), hl = 0;
  unsigned char h[14];
  h[hl++] = 0x81;
  if (n < 126) {
    h[hl++] = (unsigned char)(0x80 | n);
  } else {
    h[hl++] = 0x80 | 126;
    h[hl++] = (unsigned char)(n >> 8);
    h[hl++] = (unsigned char)n;
  }
  static const unsigned char mask[4] = {0xa5, 0x5a, 0x3c, 0xc3};
  memcpy(h + hl, mask, 4);
  hl += 4;
  char *m = malloc(n);
  for (size_t i = 0; i < n; i++)
    m[i] = (char)(text[i] ^ mask[i % 4]);
  ws_send_all(fd, h, hl);
  ws_send_all(fd, m, n);
  free(m);
}

/* One text message from the server (malloc'ed, NUL-terminated). */
static char *ws_read_text(int fd) {
  unsigned char h[8];
  assert_int_equal(recv(fd, h, 2, MSG_WAITALL), 2);
  assert_int_equal(h[0], 0x81); /* FIN + text: replies are small */
  size_t n = h[1] & 0x7f;
  if (n == 126) {
    assert_int_equal(recv(fd, h + 2, 2, MSG_WAITALL), 2);
    n = (size_t)h[2] << 8 | h[3];
  }
  assert_true(n < 126 || (h[1] & 0x7f) == 126);
  char *p = malloc(n + 1);
  assert_int_equal(recv(fd, p, n, MSG_WAITALL), (ssize_t)n);
  p[n] = '\0';
  return p;
}

static const char *ws_reply_name(const char *json, char *buf, size_t len) {
  cJSON *j = cJSON_Parse(json);
  const cJSON *name = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "object"), "name");
  snprintf(buf, len, "%s", cJSON_IsString(name) ? name->valuestring : "?");
  cJSON_Delete(j);
  return buf;
}

static void ws_replay(const char *file, int want_replies) {
  char path[512];
  snprintf(path, sizeof path, "%s/foam/captures/%s", BX_SPEC_DIR, file);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  ws_srv s;
  memset(&s, 0, sizeof s);
  cc_env *e = s.e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/calc_server";
  o.log = cc_log;
  o.log_data = e;
  o.allow_remote_register = true; /* the head capture registers "fromClient" */
  assert_int_equal(bx_ctx_new(&e->loop, &o, &e->ctx), 0);
  assert_int_equal(bx_ctx_allow_class(e->ctx, "test.rpc.*"), 0); /* the types capture */
  assert_int_equal(calc_impl_register(e->ctx, &e->impl, "calc", NULL), 0);
  assert_int_equal(bx_listen(e->ctx, "ws://127.0.0.1:0/", NULL, &e->l), 0);
  int port = atoi(strrchr(bx_listener_url(e->l), ':') + 1);
  assert_int_equal(uv_async_init(&e->loop, &s.stop, ws_stop_cb), 0);
  s.stop.data = &s;
  assert_int_equal(uv_thread_create(&s.thread, ws_thread, &s), 0);

  int fd = ws_open(port);
  char line[8192];
  enum { MAXR = 64 };
  char *want[MAXR], *got[MAXR];
  int nwant = 0, ngot = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    cJSON *rec = cJSON_Parse(line);
    assert_non_null(rec);
    const char *dir = cJSON_GetObjectItem(rec, "dir")->valuestring;
    const char *payload = cJSON_GetObjectItem(rec, "payload")->valuestring;
    assert_string_equal(cJSON_GetObjectItem(rec, "framing")->valuestring, "websocket");
    if (strcmp(dir, "c2s") == 0) {
      ws_send_text(fd, payload);
    } else {
      assert_true(nwant < MAXR);
      want[nwant++] = strdup(payload);
      got[ngot++] = ws_read_text(fd);
    }
    cJSON_Delete(rec);
  }
  fclose(f);
  assert_int_equal(nwant, want_replies);
  for (int i = 0; i < nwant; i++) {
    char wn[64], gn[64];
    int match = -1;
    for (int j = 0; j < ngot && match < 0; j++)
      if (got[j] &&
          strcmp(ws_reply_name(want[i], wn, sizeof wn), ws_reply_name(got[j], gn, sizeof gn)) == 0)
        match = j;
    if (match < 0) fail_msg("no reply named %s", ws_reply_name(want[i], wn, sizeof wn));
    if (getenv("BXT_VERBOSE")) fprintf(stderr, "want %s\ngot  %s\n", want[i], got[match]);
    cc_compare(want[i], got[match]);
    free(got[match]);
    got[match] = NULL;
    free(want[i]);
  }
  close(fd);
  uv_async_send(&s.stop);
  uv_thread_join(&s.thread);
  assert_int_equal(e->closed, 1);
  assert_int_equal(e->warn, 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

static void test_ws_head(void **state) {
  (void)state;
  ws_replay("ws-foam2-head.jsonl", 8);
}

static void test_ws_2018(void **state) {
  (void)state;
  ws_replay("ws-foam2-2018.jsonl", 8);
}

static void test_ws_head_types(void **state) {
  (void)state;
  ws_replay("ws-foam2-head-types.jsonl", 12);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tcp_head),      cmocka_unit_test(test_tcp_2018),
      cmocka_unit_test(test_unix_head),
#ifdef BX_HAVE_WS
      cmocka_unit_test(test_ws_head),       cmocka_unit_test(test_ws_2018),
      cmocka_unit_test(test_ws_head_types),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
