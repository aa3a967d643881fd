/* bx-bench's DAO rows. Two server processes serve test.Todo as "todos" over Unix sockets, one
 * on the memory store and one on SQLite (":memory:": the SQL path, not the disk), each with
 * 10,000 rows. The client is bx_dao_client on its own loop:
 *   dao-put, dao-find          one round trip at a time (the object is ~96 bytes of JSON; the
 *                              plain RPC of the same size is bx_bench.c's dao-rpc-echo row)
 *   dao-select-10k-memory|sqlite   a select of all 10,000 rows streamed through a ClientSink
 *                              (one put per row, then eof, then the reply); the row's figures
 *                              are per row (us per row, rows/s). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bx.h>

#include "dao.h"

#define ROWS 10000

static const bx_dao_field bd_fields[] = {
    {"id", BX_DAO_INT},       {"title", BX_DAO_STRING}, {"done", BX_DAO_BOOL},
    {"priority", BX_DAO_INT}, {"due", BX_DAO_DATE},     {"tags", BX_DAO_STRINGS},
};
static const bx_dao_model bd_model = {"test.Todo", bd_fields, 6, 0};

static pid_t bd_pids[2];
static char bd_urls[2][96];

static double bd_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static cJSON *bd_object(int id) {
  char text[160];
  snprintf(text, sizeof text,
           "{\"class\":\"test.Todo\",\"id\":%d,\"title\":\"Buy milk %05d\",\"done\":false,"
           "\"priority\":%d,\"tags\":[\"home\"]}",
           id, id % 100000, id % 5);
  return cJSON_Parse(text);
}

static pid_t bd_serve(const char *url, bool sqlite) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid != 0) {
    char c;
    close(fds[1]);
    if (pid < 0 || read(fds[0], &c, 1) != 1) pid = -1;
    close(fds[0]);
    return pid;
  }
  close(fds[0]);
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx;
  bx_dao_store *store;
  bx_box *svc;
  bx_listener *l;
  if (bx_ctx_new(&loop, NULL, &ctx) != 0 ||
      (sqlite ? bx_dao_sqlite_store_new(&bd_model, ":memory:", &store)
              : bx_dao_memory_store_new(&bd_model, &store)) != 0)
    _exit(1);
  for (int i = 1; i <= ROWS; i++) {
    cJSON *in = bd_object(i), *obj;
    if (bx_dao_normalize(&bd_model, in, &obj, NULL, 0) != 0 || store->ops->put(store, obj) != 0)
      _exit(1);
    cJSON_Delete(obj);
    cJSON_Delete(in);
  }
  if (bx_dao_service_new(ctx, &bd_model, store, NULL, &svc) != 0 ||
      bx_register(bx_ctx_registry(ctx), "todos", svc, NULL) != 0 ||
      bx_listen(ctx, url, NULL, &l) != 0)
    _exit(1);
  if (write(fds[1], "r", 1) != 1) _exit(1);
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

int bench_dao_start(void) {
  for (int i = 0; i < 2; i++) {
    snprintf(bd_urls[i], sizeof bd_urls[i], "unix:///tmp/bx-bench-dao%d-%d.sock", i, (int)getpid());
    if ((bd_pids[i] = bd_serve(bd_urls[i], i == 1)) < 0) return -1;
  }
  return 0;
}

void bench_dao_stop(void) {
  for (int i = 0; i < 2; i++)
    if (bd_pids[i] > 0) {
      kill(bd_pids[i], SIGKILL);
      waitpid(bd_pids[i], NULL, 0);
      bd_pids[i] = 0;
    }
}

typedef struct bd_client {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_dao_client *dao;
  bool done;
  int status, rows;
} bd_client;

static void bd_open(bd_client *c, const char *url) {
  memset(c, 0, sizeof *c);
  uv_loop_init(&c->loop);
  bx_box *conn, *svc;
  if (bx_ctx_new(&c->loop, NULL, &c->ctx) != 0 || bx_connect(c->ctx, url, NULL, &conn) != 0 ||
      bx_sub_box_new(c->ctx, "todos", conn, &svc) != 0 ||
      bx_dao_client_new(svc, &bd_model, &c->dao) != 0)
    exit(1);
  bx_box_unref(conn);
  bx_box_unref(svc);
}

static void bd_close(bd_client *c) {
  bx_dao_client_free(c->dao);
  bx_ctx_close(c->ctx, NULL, NULL);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  uv_loop_close(&c->loop);
}

static void bd_done(int status, const cJSON *data, const char *error, void *arg) {
  (void)data;
  bd_client *c = arg;
  c->done = true;
  c->status = status;
  if (status)
    fprintf(stderr, "bx-bench: dao call failed: %s\n", error ? error : bx_strerror(status));
}

static void bd_wait(bd_client *c) {
  while (!c->done && uv_run(&c->loop, UV_RUN_ONCE)) {
  }
  if (!c->done || c->status != 0) exit(1);
  c->done = false;
}

static int bd_row(const cJSON *obj, void *arg) {
  (void)obj;
  ((bd_client *)arg)->rows++;
  return 0;
}

void bench_dao_run(int ops, bench_dao_record_fn record) {
  bd_client c;
  bd_open(&c, bd_urls[0]);
  int n = ops > 10 ? ops : 10;
  double *lat = calloc((size_t)n, sizeof *lat);
  for (int pass = 0; pass < 2; pass++) { /* put, then find */
    double t0 = 0;
    for (int i = -n / 10; i < n; i++) {
      if (i == 0) t0 = bd_now();
      double s = bd_now();
      cJSON *o = pass == 0 ? bd_object(1 + (i + n) % ROWS) : cJSON_CreateNumber(1 + (i + n) % ROWS);
      if ((pass == 0 ? bx_dao_put(c.dao, o, bd_done, &c) : bx_dao_find(c.dao, o, bd_done, &c)) != 0)
        exit(1);
      cJSON_Delete(o);
      bd_wait(&c);
      if (i >= 0) lat[i] = bd_now() - s;
    }
    record(pass == 0 ? "dao-put" : "dao-find", BENCH_DAO_OBJECT_BYTES, lat, n, bd_now() - t0);
  }
  bd_close(&c);
  for (int k = 0; k < 2; k++) { /* 10,000 rows through a remote sink */
    bd_open(&c, bd_urls[k]);
    int selects = 3;
    double t0 = 0;
    for (int i = -1; i < selects; i++) {
      if (i == 0) t0 = bd_now();
      double s = bd_now();
      c.rows = 0;
      if (bx_dao_select_stream(c.dao, NULL, bd_row, &c, bd_done, &c) != 0) exit(1);
      bd_wait(&c);
      if (c.rows != ROWS) {
        fprintf(stderr, "bx-bench: dao select streamed %d rows, not %d\n", c.rows, ROWS);
        exit(1);
      }
      if (i >= 0) lat[i] = (bd_now() - s) / ROWS; /* per row */
    }
    record(k == 0 ? "dao-select-10k-memory" : "dao-select-10k-sqlite", ROWS, lat, selects,
           (bd_now() - t0) / ROWS);
    bd_close(&c);
  }
  free(lat);
}
