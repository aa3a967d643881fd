/* The box host's SQLite store: a restarted host serves what it acknowledged; a host killed
 * with SIGKILL mid-stream loses no acknowledged message and leaves a sound file; a full disk,
 * a read-only file and a file that is not a store give clear errors and never corrupt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "th_internal.h"

#include "th_box_testutil.h"

/* A fresh directory for one test's files; path receives "<dir>/box.db". */
static void ts_path(char *dir, size_t dcap, char *path, size_t pcap) {
  snprintf(dir, dcap, "/tmp/bx_th_box_XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, pcap, "%s/box.db", dir);
}

static void ts_rmdir(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void ts_restart(tb_world *w, const char *path) {
  bx_th_box_host_free(w->host);
  w->host = NULL;
  bx_th_box_host_opts ho = {.store_path = path, .now_ms = tb_clock, .now_data = w};
  assert_int_equal(bx_th_box_host_new(w->ep[HOST], &ho, &w->host), 0);
}

/* Messages, ids, expiry and box order survive a restart of the host. */
static void test_restart(void **state) {
  (void)state;
  char dir[64], path[128];
  ts_path(dir, sizeof dir, path, sizeof path);
  tb_world w;
  bx_th_box_host_opts ho = {.store_path = path};
  tb_setup(&w, &ho);
  tb_store(&w, ALICE, BOB, "one", NULL, 0);
  tb_store(&w, CAROL, BOB, "two", NULL, 50);
  tb_store(&w, ALICE, BOB, "three", NULL, 0);
  tb_store(&w, BOB, ALICE, "gone", NULL, 0);
  tb_col col;
  tb_open(&w, ALICE, tb_hn(&w, ALICE), true, false, &col);
  bx_th_box_op rm = {.id = col.ids[0], .end = true};
  tb_send(&w, &col, &rm);
  assert_true(tb_run_until(w.e, tb_closed, &col, 5000));
  ts_restart(&w, path);
  assert_int_equal(tb_stats(&w).stored, 3);
  assert_int_equal(tb_stats(&w).boxes, 2);
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 3);
  const char *want[] = {"one", "two", "three"};
  const int from[] = {ALICE, CAROL, ALICE};
  for (int i = 0; i < 3; i++) {
    char text[64];
    tb_text(&w, &col, i, BOB, from[i], text, sizeof text);
    assert_string_equal(text, want[i]);
  }
  tb_end(&w, &col);
  /* the expiry came back too */
  w.clock += 50000;
  assert_int_equal(bx_th_box_host_expire(w.host), 1);
  ts_restart(&w, path);
  assert_int_equal(tb_stats(&w).stored, 2);
  /* keys learnt from opens are kept */
  assert_non_null(bx__bs_key_get(bx__th_box_host_store(w.host), tb_hn(&w, CAROL)));
  tb_teardown(&w);
  ts_rmdir(dir);
}

/* A full disk: the store is refused with err "store failed", what was stored stays, the host
 * keeps serving, and once there is room again stores work. */
static void test_full_disk(void **state) {
  (void)state;
  char dir[64], path[128];
  ts_path(dir, sizeof dir, path, sizeof path);
  tb_world w;
  bx_th_box_host_opts ho = {.store_path = path, .cap = 100};
  tb_setup(&w, &ho);
  tb_store(&w, ALICE, BOB, "before", NULL, 0);
  sqlite3 *db = bx__bs_sqlite_db(bx__th_box_host_store(w.host));
  assert_non_null(db);
  assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), 0);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL), 0);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int pages = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA max_page_count=%d", pages);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), 0);
  /* stores until one does not fit */
  tb_col col;
  tb_open(&w, ALICE, tb_hn(&w, BOB), true, false, &col);
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  uint8_t body[900];
  memset(body, 'x', sizeof body);
  size_t acked = 0;
  for (int i = 0; i < 40 && !col.closed; i++) {
    size_t n = 0;
    body[0] = (uint8_t)('a' + i % 26);
    body[1] = (uint8_t)('a' + i / 26);
    assert_int_equal(bx_th_box_seal(w.id[ALICE], bx_th_identity_public_key(w.id[BOB]), "text", body,
                                    sizeof body, msg, sizeof msg, &n),
                     0);
    bx_th_box_op op = {.msg = msg, .len = n};
    tb_wait wt = {&col, col.nstatus + 1};
    assert_int_equal(bx_th_box_client_send(col.c, &op), 0);
    assert_true(tb_run_until(w.e, tb_has_status, &wt, 5000));
    if (!col.closed) acked++;
  }
  assert_true(col.closed);
  assert_int_equal(col.status, BX_EREMOTE);
  assert_string_equal(col.err, "store failed");
  /* memory and file agree: what was acknowledged, nothing else */
  assert_int_equal(tb_stats(&w).stored, 1 + acked);
  /* the host still serves */
  tb_open(&w, BOB, tb_hn(&w, BOB), true, false, &col);
  assert_int_equal(col.waiting, 1 + acked);
  tb_end(&w, &col);
  /* room again */
  assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count=100000", NULL, NULL, NULL), 0);
  tb_store(&w, CAROL, BOB, "after", NULL, 0);
  ts_restart(&w, path);
  assert_int_equal(tb_stats(&w).stored, 2 + acked);
  tb_teardown(&w);
  ts_rmdir(dir);
}

/* Not a store, and a read-only file: the host refuses to start with a clear error. */
static void test_bad_files(void **state) {
  (void)state;
  char dir[64], path[128];
  ts_path(dir, sizeof dir, path, sizeof path);
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *id = NULL;
  assert_int_equal(bx_th_identity_new(&id), 0);
  bx_th_endpoint *ep = NULL;
  assert_int_equal(bx_th_endpoint_new(e->ctx, id, NULL, &ep), 0);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 200; i++)
    fputs("this is not an SQLite database, it is a text file. ", f);
  fclose(f);
  bx_th_box_host_opts ho = {.store_path = path};
  bx_th_box_host *h = (bx_th_box_host *)&h;
  assert_int_equal(bx_th_box_host_new(ep, &ho, &h), BX_EBADMSG);
  assert_null(h);
  /* the file is left as it was */
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_size, 200 * 51);
  unlink(path);
  /* a good store made read-only */
  assert_int_equal(bx_th_box_host_new(ep, &ho, &h), 0);
  bx_th_box_host_free(h);
  char wal[160];
  snprintf(wal, sizeof wal, "%s-wal", path);
  unlink(wal);
  snprintf(wal, sizeof wal, "%s-shm", path);
  unlink(wal);
  assert_int_equal(chmod(path, 0444), 0);
  assert_int_equal(chmod(dir, 0555), 0);
  if (geteuid() != 0) { /* root writes anyway */
    int rc = bx_th_box_host_new(ep, &ho, &h);
    assert_true(rc == UV_EROFS || rc == UV_EACCES);
    assert_null(h);
  }
  chmod(dir, 0755);
  bx_th_endpoint_close(ep, NULL, NULL);
  bxt_env_free(e);
  bx_th_identity_free(id);
  ts_rmdir(dir);
}

/* ---- a host killed with SIGKILL while it stores -------------------------------------------- */

/* The child: a host with the store, its JSON on fd, then the loop until killed. */
static void ts_child_host(const char *path, int fd) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx = NULL;
  bx_th_identity *id = NULL;
  bx_th_endpoint *ep = NULL;
  bx_th_box_host *h = NULL;
  bx_th_box_host_opts ho = {.store_path = path, .cap = 1000, .total = 1000};
  if (bx_ctx_new(&loop, NULL, &ctx) != 0 || bx_th_identity_new(&id) != 0 ||
      bx_th_endpoint_new(ctx, id, NULL, &ep) != 0 || bx_th_box_host_new(ep, &ho, &h) != 0)
    _exit(3);
  char *j = bx_th_endpoint_json(ep);
  size_t n = strlen(j) + 1;
  if (write(fd, j, n) != (ssize_t)n) _exit(4);
  close(fd);
  free(j);
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(5);
}

typedef struct ts_crash {
  tb_col col;
  pid_t child;
  int killed_at;
} ts_crash;

static bool ts_enough(void *arg) {
  ts_crash *c = arg;
  return c->col.closed || c->col.nstatus >= c->killed_at;
}

static void test_kill9(void **state) {
  (void)state;
  char dir[64], path[128];
  ts_path(dir, sizeof dir, path, sizeof path);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    ts_child_host(path, fds[1]);
  }
  close(fds[1]);
  char json[1024] = {0};
  size_t got = 0;
  ssize_t r;
  while (got < sizeof json - 1 && (r = read(fds[0], json + got, sizeof json - 1 - got)) > 0)
    got += (size_t)r;
  close(fds[0]);
  assert_true(got > 0);
  bxt_env *e = bxt_env_new(NULL);
  bx_th_identity *alice = NULL, *bob = NULL;
  assert_int_equal(bx_th_identity_new(&alice), 0);
  assert_int_equal(bx_th_identity_new(&bob), 0);
  bx_th_endpoint_opts o = {.resend_ms = 40, .chan_resend_ms = 40, .chan_timeout_ms = 3000};
  bx_th_endpoint *ep = NULL;
  assert_int_equal(bx_th_endpoint_new(e->ctx, alice, &o, &ep), 0);
  bx_th_link *link = NULL;
  assert_int_equal(bx_th_link_new(ep, json, &link), 0);
  ts_crash c = {.child = pid, .killed_at = 25};
  assert_int_equal(bx_th_box_client_open(link, bx_th_identity_hashname(bob), true, false, tb_cb,
                                         &c.col, &c.col.c),
                   0);
  /* 80 stores in flight at once; the host is killed after the 25th answer */
  enum { N = 80 };
  char ids[N][BX_TH_BOX_ID_LEN + 1];
  for (int i = 0; i < N; i++) {
    uint8_t msg[BX_TH_BOX_MAX_MSG];
    char text[32];
    size_t n = 0;
    snprintf(text, sizeof text, "message %d", i);
    assert_int_equal(bx_th_box_seal(alice, bx_th_identity_public_key(bob), "text",
                                    (const uint8_t *)text, strlen(text), msg, sizeof msg, &n),
                     0);
    bx_th_box_id(msg, n, ids[i]);
    bx_th_box_op op = {.msg = msg, .len = n, .id = ids[i]};
    assert_int_equal(bx_th_box_client_send(c.col.c, &op), 0);
  }
  assert_true(tb_run_until(e, ts_enough, &c, 10000));
  assert_int_equal(kill(pid, SIGKILL), 0);
  int acked = c.col.nstatus; /* answers that arrived before the kill */
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  bx_th_endpoint_close(ep, NULL, NULL);
  bxt_env_free(e);
  /* the file opens (it is a sound store) and holds every acknowledged message */
  bx__bs s;
  assert_int_equal(bx__bs_init(&s, 1000, 1000), 0);
  const char *why = NULL;
  assert_int_equal(bx__bs_sqlite_open(&s, path, &why), 0);
  sqlite3 *db = bx__bs_sqlite_db(&s);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), 0);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  const char *bh = bx_th_identity_hashname(bob), *ah = bx_th_identity_hashname(alice);
  bx__bs_box *b = bx__bs_box_get(&s, bh, ah);
  assert_non_null(b);
  assert_true(b->n >= (size_t)acked);
  for (int i = 0; i < acked; i++) {
    bool found = false;
    for (bx__tlink *n = b->msgs.next; n != &b->msgs && !found; n = n->next)
      found = strcmp(BX__BS_IN_BOX(n)->id, ids[i]) == 0;
    assert_true(found);
  }
  /* and in order: the stored ones are a prefix of what was sent */
  int i = 0;
  for (bx__tlink *n = b->msgs.next; n != &b->msgs; n = n->next, i++)
    assert_string_equal(BX__BS_IN_BOX(n)->id, ids[i]);
  bx__bs_free(&s);
  bx_th_identity_free(alice);
  bx_th_identity_free(bob);
  ts_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restart),
      cmocka_unit_test(test_full_disk),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_kill9),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
