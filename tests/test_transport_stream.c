/* The stream transports (unix, tcp) against raw sockets: frames split anywhere reassemble,
 * many frames in one write all dispatch, malformed traffic is logged and dropped or closes
 * only its own connection, the frame limit is exact, and the Unix socket file is handled with
 * care. (FOAM2's captured frames are replayed against the calculator in
 * tests/calc/test_calc_captures.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"
#include "transport/calc_service.h"
#include "transport/raw_client.h"

typedef struct st_tran {
  const char *name;
  void (*listen_url)(char *buf, size_t len);
} st_tran;

static int counter;
static void unix_url(char *buf, size_t len) {
  snprintf(buf, len, "unix:///tmp/bxt-stream-%ld-%d.sock", (long)getpid(), ++counter);
}
static void tcp_url(char *buf, size_t len) {
  snprintf(buf, len, "tcp://127.0.0.1:0");
}
static const st_tran unix_tran = {"unix", unix_url};
static const st_tran tcp_tran = {"tcp", tcp_url};

/* ---- environment: a server context with calc, listening ----------------------------------- */

typedef struct st_env {
  uv_loop_t loop;
  bx_ctx *ctx;
  bxt_calc calc;
  bx_listener *l;
  int warn, closed;
  char last[512];
} st_env;

static void st_log(void *data, int level, const char *line) {
  st_env *e = data;
  if (level > BX_LOG_WARN) return;
  e->warn++;
  snprintf(e->last, sizeof e->last, "%s", line);
}

static st_env *st_env_new(const st_tran *t, size_t max_frame) {
  st_env *e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/bxt/server";
  o.log = st_log;
  o.log_data = e;
  assert_int_equal(bx_ctx_new(&e->loop, &o, &e->ctx), 0);
  assert_int_equal(bxt_calc_register(e->ctx, "calc", &e->calc), 0);
  char url[256];
  t->listen_url(url, sizeof url);
  bx_listen_opts lo;
  memset(&lo, 0, sizeof lo);
  bx_transport_limits_init(&lo.limits);
  lo.limits.max_frame = max_frame;
  assert_int_equal(bx_listen(e->ctx, url, &lo, &e->l), 0);
  return e;
}

static void st_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  ((st_env *)data)->closed++;
}

static void st_env_free(st_env *e) {
  assert_int_equal(bx_ctx_close(e->ctx, st_closed, e), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
}

static void st_spin(st_env *e) {
  for (int i = 0; i < 10; i++)
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

/* ---- frames ------------------------------------------------------------------------------- */

static const char *const HELLO =
    "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/raw\",\"attributes\":{}}";

/* calc.add(a, b) with reply box SubBox{name, ReturnBox}. */
static char *req_add(const char *reply, int a, int b) {
  char *s = malloc(512);
  snprintf(s, 512,
           "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":"
           "\"foam.box.SubBox\",\"name\":\"%s\",\"delegate\":{\"class\":\"foam.box.ReturnBox\"}}},"
           "\"object\":{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"calc\",\"object\":{"
           "\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[%d,%d]}}}",
           reply, a, b);
  return s;
}

/* Checks that frame is Message{SubBoxMessage{name, RPCReturnMessage{data}}}. */
static void check_reply(const char *frame, const char *name, double data) {
  cJSON *root = cJSON_Parse(frame);
  assert_non_null(root);
  assert_string_equal(bx_json_class(root), BX_CLASS_MESSAGE);
  cJSON *sub = cJSON_GetObjectItem(root, "object");
  assert_string_equal(bx_json_class(sub), BX_CLASS_SUB_BOX_MESSAGE);
  assert_string_equal(cJSON_GetObjectItem(sub, "name")->valuestring, name);
  cJSON *ret = cJSON_GetObjectItem(sub, "object");
  assert_string_equal(bx_json_class(ret), BX_CLASS_RPC_RETURN);
  assert_true(cJSON_GetObjectItem(ret, "data")->valuedouble == data);
  cJSON_Delete(root);
}

/* The raw client's frames plus one call, and its answer. */
static void raw_call_ok(st_env *e, bxt_raw *r, const char *reply, int a, int b) {
  char *req = req_add(reply, a, b);
  int before = r->nframes;
  bxt_raw_frame(r, req);
  free(req);
  bxt_raw_wait_frames(&e->loop, r, before + 1);
  check_reply(r->frames[before], reply, a + b);
}

/* ---- reassembly --------------------------------------------------------------------------- */

static void test_reassembly(void **state) {
  const st_tran *t = *state;
  st_env *e = st_env_new(t, 0);
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));

  /* The handshake and three calls in one write. */
  bx_buf b = {0};
  bxt_frame(&b, HELLO, strlen(HELLO));
  for (int i = 0; i < 3; i++) {
    char name[8];
    snprintf(name, sizeof name, "r%d", i);
    char *req = req_add(name, i, 10);
    bxt_frame(&b, req, strlen(req));
    free(req);
  }
  bxt_raw_send(&r, b.base, b.len);
  bx_buf_free(&b);
  bxt_raw_wait_frames(&e->loop, &r, 3);
  for (int i = 0; i < 3; i++) {
    char name[8];
    snprintf(name, sizeof name, "r%d", i);
    check_reply(r.frames[i], name, i + 10);
  }

  /* One call cut inside the length prefix and inside the body, each piece written alone. */
  char *req = req_add("split", 7, 8);
  bxt_frame(&b, req, strlen(req));
  free(req);
  size_t cuts[] = {0, 1, 3, 4, 5, 40, b.len};
  for (size_t i = 0; i + 1 < sizeof cuts / sizeof cuts[0]; i++) {
    bxt_raw_send(&r, b.base + cuts[i], cuts[i + 1] - cuts[i]);
    st_spin(e);
    if (i + 2 < sizeof cuts / sizeof cuts[0]) assert_int_equal(r.nframes, 3);
  }
  bx_buf_free(&b);
  bxt_raw_wait_frames(&e->loop, &r, 4);
  check_reply(r.frames[3], "split", 15);

  /* Byte by byte, then two frames where the second starts inside the first's last write. */
  req = req_add("bytes", 1, 1);
  bxt_frame(&b, req, strlen(req));
  free(req);
  req = req_add("tail", 2, 2);
  bxt_frame(&b, req, strlen(req));
  free(req);
  for (size_t i = 0; i < b.len; i++)
    bxt_raw_send(&r, b.base + i, 1);
  bx_buf_free(&b);
  bxt_raw_wait_frames(&e->loop, &r, 6);
  check_reply(r.frames[4], "bytes", 2);
  check_reply(r.frames[5], "tail", 4);

  /* The handshake bound /raw to this connection. */
  bx_box *named = NULL;
  bx_named_box(e->ctx, "/raw", &named);
  assert_non_null(bx__named_binding(named));
  bx_box_unref(named);
  assert_int_equal(e->warn, 0);
  bxt_raw_close(&r, &e->loop, false);
  while (bx_listener_connections(e->l) > 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bx_named_box(e->ctx, "/raw", &named);
  assert_null(bx__named_binding(named)); /* unbound when the connection closed */
  bx_box_unref(named);
  st_env_free(e);
}

/* ---- malformed traffic -------------------------------------------------------------------- */

/* A frame that must be dropped (logged) while the connection stays usable. */
static void expect_dropped(st_env *e, bxt_raw *r, const char *json, const char *why) {
  int warn = e->warn;
  bxt_raw_frame(r, json);
  raw_call_ok(e, r, "after", 1, 2); /* answered: the connection survived */
  assert_int_equal(e->warn, warn + 1);
  assert_non_null(strstr(e->last, why));
  assert_non_null(strstr(e->last, "dropping a frame"));
}

/* Bytes that must close their connection (and only it). */
static void expect_closed(st_env *e, bxt_raw *good, const void *bytes, size_t len,
                          bool reset_after) {
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));
  while (bx_listener_connections(e->l) < 2)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bxt_raw_send(&r, bytes, len);
  if (reset_after) {
    st_spin(e);
    bxt_raw_close(&r, &e->loop, true);
  } else {
    bxt_raw_wait(&e->loop, &r.eof); /* the server hung up */
    assert_int_equal(r.nframes, 0);
    bxt_raw_close(&r, &e->loop, false);
  }
  while (bx_listener_connections(e->l) > 1)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  raw_call_ok(e, good, "still", 3, 4); /* the other connection still works */
}

static void test_malformed(void **state) {
  const st_tran *t = *state;
  st_env *e = st_env_new(t, 0);
  bxt_raw good, r;
  bxt_raw_open(&good, &e->loop, bx_listener_url(e->l));
  raw_call_ok(e, &good, "first", 1, 1);

  /* Well-framed but bad content: dropped, the connection stays. */
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));
  expect_dropped(e, &r, "{not json", "JSON syntax");
  expect_dropped(e, &r, "[1,2]", "top level must be a JSON object");
  expect_dropped(e, &r, "{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2]}",
                 "top level must be a foam.box.Message");
  expect_dropped(e, &r, "{\"class\":\"evil.Class\"}", "unknown class");
  expect_dropped(e, &r, "{\"class\":\"foam.box.Message\",\"object\":{\"class\":\"evil.Payload\"}}",
                 "unknown class");
  expect_dropped(e, &r, "{\"class\":\"foam.box.Message\",\"object\":\"\xff\xfe\"}", "UTF-8");
  expect_dropped(e, &r, "", "empty frame");
  bxt_raw_close(&r, &e->loop, false);

  /* Framing problems: that connection closes before anything is allocated for it. */
  int warn = e->warn;
  const unsigned char huge[] = {0xff, 0xff, 0xff, 0x7f, '{'};
  expect_closed(e, &good, huge, sizeof huge, false);
  assert_non_null(strstr(e->last, "over the limit"));
  const unsigned char negative[] = {0xfe, 0xff, 0xff, 0xff};
  expect_closed(e, &good, negative, sizeof negative, false);
  assert_non_null(strstr(e->last, "negative"));
  const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  expect_closed(e, &good, http, sizeof http - 1, false);
  assert_int_equal(e->warn, warn + 3);
  /* Half a frame, then the peer vanishes (a reset over TCP). */
  const unsigned char half[] = {100, 0, 0, 0, '{', '"'};
  expect_closed(e, &good, half, sizeof half, true);

  assert_int_equal(bx_listener_connections(e->l), 1);
  bxt_raw_close(&good, &e->loop, false);
  st_env_free(e);
}

/* ---- the frame limit is exact ------------------------------------------------------------- */

static void test_exact_max_frame(void **state) {
  const st_tran *t = *state;
  const size_t max = 4096;
  st_env *e = st_env_new(t, max);
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));
  char *req = req_add("exact", 20, 22);
  size_t n = strlen(req);
  char *padded = malloc(max + 2);
  memcpy(padded, req, n);
  memset(padded + n, ' ', max + 1 - n); /* JSON may end in white space */
  free(req);
  bx_buf b = {0};
  bxt_frame(&b, padded, max);
  bxt_raw_send(&r, b.base, b.len);
  bx_buf_free(&b);
  bxt_raw_wait_frames(&e->loop, &r, 1);
  check_reply(r.frames[0], "exact", 42);
  bxt_frame(&b, padded, max + 1);
  bxt_raw_send(&r, b.base, b.len);
  bx_buf_free(&b);
  free(padded);
  bxt_raw_wait(&e->loop, &r.eof);
  assert_int_equal(r.nframes, 1);
  assert_non_null(strstr(e->last, "over the limit"));
  bxt_raw_close(&r, &e->loop, false);
  st_env_free(e);
}

/* ---- the handshake cannot take a name held locally, nor a live peer's as another identity -- */

static void test_register_self_rules(void **state) {
  const st_tran *t = *state;
  st_env *e = st_env_new(t, 0);
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, bx_listener_url(e->l));
  bxt_raw_frame(&r, "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/bxt/server\"}");
  raw_call_ok(e, &r, "x", 1, 1);
  bx_box *me = NULL;
  bx_named_box(e->ctx, "/bxt/server", &me);
  assert_ptr_equal(bx__named_binding(me), bx_ctx_registry(e->ctx)); /* still ours */
  bx_box_unref(me);
  /* A second connection announcing the same path as a live first one: over a Unix socket the
   * same user may take it over (a restarted client); over TCP, with no credentials to tell who
   * it is, it may not (it would take the first one's replies). */
  bool same_user_may = strcmp(t->name, "unix") == 0;
  bxt_raw_frame(&r, "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/peer\"}");
  raw_call_ok(e, &r, "y", 1, 1);
  bx_box *peer = NULL;
  bx_named_box(e->ctx, "/peer", &peer);
  bx_box *first = bx_box_ref(bx__named_binding(peer));
  assert_non_null(first);
  bxt_raw r2;
  bxt_raw_open(&r2, &e->loop, bx_listener_url(e->l));
  bxt_raw_frame(&r2, "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/peer\"}");
  raw_call_ok(e, &r2, "z", 1, 1);
  if (same_user_may) {
    assert_ptr_not_equal(bx__named_binding(peer), first);
  } else {
    assert_ptr_equal(bx__named_binding(peer), first);
    assert_non_null(strstr(e->last, "which a live connection holds"));
    e->warn = 0;
  }
  bxt_raw_close(&r, &e->loop, false); /* the first one closing leaves the second bound */
  while (bx_listener_connections(e->l) > 1)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  if (same_user_may)
    assert_non_null(bx__named_binding(peer));
  else /* the path went with its holder; the refused announcement did not come back */
    assert_null(bx__named_binding(peer));
  bx_box_unref(first);
  bx_box_unref(peer);
  bxt_raw_close(&r2, &e->loop, false);
  st_env_free(e);
}

/* ---- unix: the socket file ---------------------------------------------------------------- */

static void test_unix_socket_file(void **state) {
  (void)state;
  st_env *e = st_env_new(&unix_tran, 0);
  const char *path = bx_listener_url(e->l) + 7;
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0600);
  char url[256], spath[200];
  snprintf(url, sizeof url, "%s", bx_listener_url(e->l));
  snprintf(spath, sizeof spath, "%s", path);
  assert_int_equal(bx_listener_close(e->l, NULL, NULL), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(stat(spath, &st), -1); /* removed */

  /* A stale socket file (its process is gone) is replaced. */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, spath, strlen(spath) + 1); /* short: bx accepted it */
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  close(fd);
  assert_int_equal(stat(spath, &st), 0);
  assert_int_equal(bx_listen(e->ctx, url, NULL, &e->l), 0);
  bxt_raw r;
  bxt_raw_open(&r, &e->loop, url);
  raw_call_ok(e, &r, "s", 2, 2);
  bxt_raw_close(&r, &e->loop, false);
  assert_int_equal(bx_listener_close(e->l, NULL, NULL), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);

  /* A file that is not a socket is never removed. */
  FILE *f = fopen(spath, "w");
  fputs("keep me", f);
  fclose(f);
  bx_listener *l2 = NULL;
  assert_int_equal(bx_listen(e->ctx, url, NULL, &l2), UV_EADDRINUSE);
  assert_int_equal(stat(spath, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  unlink(spath);
  /* A path too long for a socket is a malformed URL. */
  char longurl[300] = "unix:///tmp/";
  memset(longurl + 12, 'x', 200);
  longurl[212] = '\0';
  assert_int_equal(bx_listen(e->ctx, longurl, NULL, &l2), BX_EINVAL);

  /* unix_mode widens (or narrows) the file's mode; only permission bits are taken. */
  bx_listen_opts lo;
  memset(&lo, 0, sizeof lo);
  bx_transport_limits_init(&lo.limits);
  lo.unix_mode = 04666;
  assert_int_equal(bx_listen(e->ctx, url, &lo, &l2), 0);
  assert_int_equal(stat(spath, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0666);
  assert_int_equal(bx_listener_close(l2, NULL, NULL), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  st_env_free(e);
}

/* ---- tcp: a host name, resolved asynchronously -------------------------------------------- */

typedef struct st_res {
  int calls, status;
  double num;
} st_res;

static void st_done(bx_call *call, int status, void *result, void *data) {
  (void)call;
  st_res *r = data;
  r->calls++;
  r->status = status;
  if (status == 0 && cJSON_IsNumber((const cJSON *)result)) r->num = ((cJSON *)result)->valuedouble;
}

static void test_tcp_hostname(void **state) {
  (void)state;
  st_env *e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  assert_int_equal(bx_ctx_new(&e->loop, NULL, &e->ctx), 0);
  assert_int_equal(bxt_calc_register(e->ctx, "calc", &e->calc), 0);
  assert_int_equal(bx_listen(e->ctx, "tcp://localhost:0", NULL, &e->l), 0);
  const char *bound = bx_listener_url(e->l); /* numeric: tcp://127.0.0.1:N or tcp://[::1]:N */
  const char *port = strrchr(bound, ':') + 1;
  char url[128];
  snprintf(url, sizeof url, "tcp://localhost:%s", port);
  bx_box *conn, *calc;
  assert_int_equal(bx_connect(e->ctx, url, NULL, &conn), 0);
  bx_sub_box_new(e->ctx, "calc", conn, &calc);
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateNumber(4));
  cJSON_AddItemToArray(args, cJSON_CreateNumber(5));
  st_res r = {0};
  assert_int_equal(bx_call_json(calc, "add", args, false, NULL, st_done, &r, NULL), 0);
  while (r.calls == 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  assert_int_equal(r.status, 0);
  assert_true(r.num == 9);
  bx_box_unref(calc);
  bx_box_unref(conn);
  st_env_free(e);
}

/* Socket activation: listeners take over sockets already bound and listening (as systemd passes
 * them), name themselves after the socket, serve calls, and leave a Unix socket's file to its
 * maker. Transports that cannot adopt a socket say so. */
static int add_over(st_env *e, const char *url) {
  bx_box *conn, *calc;
  assert_int_equal(bx_connect(e->ctx, url, NULL, &conn), 0);
  bx_sub_box_new(e->ctx, "calc", conn, &calc);
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateNumber(20));
  cJSON_AddItemToArray(args, cJSON_CreateNumber(22));
  st_res r = {0};
  assert_int_equal(bx_call_json(calc, "add", args, false, NULL, st_done, &r, NULL), 0);
  while (r.calls == 0)
    assert_true(uv_run(&e->loop, UV_RUN_ONCE));
  bx_box_unref(calc);
  bx_box_unref(conn);
  return r.status == 0 ? (int)r.num : -1;
}

static void test_inherited_sockets(void **state) {
  (void)state;
  st_env *e = calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  assert_int_equal(bx_ctx_new(&e->loop, NULL, &e->ctx), 0);
  assert_int_equal(bxt_calc_register(e->ctx, "calc", &e->calc), 0);
  bx_listen_opts lo;
  memset(&lo, 0, sizeof lo);
  bx_transport_limits_init(&lo.limits);

  char path[64];
  snprintf(path, sizeof path, "/tmp/bx-inherit-%d.sock", (int)getpid());
  unlink(path);
  int ufd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  assert_int_equal(bind(ufd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(ufd, 16), 0);
  lo.inherited_fd = ufd;
  bx_listener *ul, *tl, *none = NULL;
  char want[96];
  assert_int_equal(bx_listen(e->ctx, "unix:///not/bound/here", &lo, &ul), 0);
  snprintf(want, sizeof want, "unix://%s", path);
  assert_string_equal(bx_listener_url(ul), want);
  assert_int_equal(add_over(e, want), 42);

  int tfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof in;
  assert_int_equal(bind(tfd, (struct sockaddr *)&in, sizeof in), 0);
  assert_int_equal(listen(tfd, 16), 0);
  assert_int_equal(getsockname(tfd, (struct sockaddr *)&in, &len), 0);
  lo.inherited_fd = tfd;
  assert_int_equal(bx_listen(e->ctx, "tcp://0.0.0.0:0", &lo, &tl), 0);
  snprintf(want, sizeof want, "tcp://127.0.0.1:%d", ntohs(in.sin_port));
  assert_string_equal(bx_listener_url(tl), want);
  assert_int_equal(add_over(e, want), 42);

  lo.inherited_fd = 99; /* no such transport support */
  assert_int_equal(bx_listen(e->ctx, "inproc://x", &lo, &none), BX_ENOTSUP);
  assert_null(none);

  assert_int_equal(bx_listener_close(ul, NULL, NULL), 0);
  assert_int_equal(bx_listener_close(tl, NULL, NULL), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  struct stat st;
  assert_int_equal(stat(path, &st), 0); /* the maker's file: left alone */
  unlink(path);
  st_env_free(e);
}

/* Closing a context while a host name is being resolved and calls are queued. */
static void test_close_while_resolving(void **state) {
  (void)state;
  uv_loop_t loop;
  bx_ctx *ctx;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(bx_ctx_new(&loop, NULL, &ctx), 0);
  bx_box *conn;
  assert_int_equal(bx_connect(ctx, "tcp://localhost:9", NULL, &conn), 0);
  bx_box *calc = NULL;
  bx_sub_box_new(ctx, "calc", conn, &calc);
  st_res r = {0};
  assert_int_equal(bx_call_json(calc, "add", NULL, false, NULL, st_done, &r, NULL), 0);
  st_env closed = {0};
  assert_int_equal(bx_ctx_close(ctx, st_closed, &closed), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed.closed, 1);
  assert_int_equal(r.calls, 1);
  assert_true(r.status == BX_ECLOSING || r.status == BX_ECONNLOST);
  bx_box_unref(calc);
  bx_box_unref(conn);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest unix_tests[] = {
      cmocka_unit_test_prestate(test_reassembly, (void *)&unix_tran),
      cmocka_unit_test_prestate(test_malformed, (void *)&unix_tran),
      cmocka_unit_test_prestate(test_exact_max_frame, (void *)&unix_tran),
      cmocka_unit_test_prestate(test_register_self_rules, (void *)&unix_tran),
      cmocka_unit_test(test_unix_socket_file),
  };
  const struct CMUnitTest tcp_tests[] = {
      cmocka_unit_test_prestate(test_reassembly, (void *)&tcp_tran),
      cmocka_unit_test_prestate(test_malformed, (void *)&tcp_tran),
      cmocka_unit_test_prestate(test_exact_max_frame, (void *)&tcp_tran),
      cmocka_unit_test_prestate(test_register_self_rules, (void *)&tcp_tran),
      cmocka_unit_test(test_tcp_hostname),
      cmocka_unit_test(test_inherited_sockets),
      cmocka_unit_test(test_close_while_resolving),
  };
  int failed = cmocka_run_group_tests_name("unix", unix_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("tcp", tcp_tests, NULL, NULL);
  return failed;
}
