/* Services and calls across a real 3-node NATS cluster (tests/nats/cluster.sh: three
 * nats-server processes routed to each other on random loopback ports). Service instances are
 * separate processes (bxt_nats_calc) attached to other nodes than the caller.
 *
 * What is asserted is completion, never timing: every call completes exactly once (a result or
 * an error, never silence). Calls carry deadlines (BX_ETIMEDOUT is how a request delivered to
 * an instance killed with -9 ends: NATS does not tell). Skipped when nats-server is missing. */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "bx/nats.h"
#include "nats/nats_testutil.h"
#include "testutil.h"
#include "transport/calc_service.h"

static cluster cl;
static bool have_cluster;

static int setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN);
  int rc = cluster_start(&cl, 3);
  if (rc == 77) {
    fprintf(stderr, "test_nats_cluster: nats-server is not installed: skipping\n");
    return 0;
  }
  assert_int_equal(rc, 0);
  have_cluster = true;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (have_cluster) cluster_stop(&cl);
  return 0;
}

/* ---- helper processes ---------------------------------------------------------------------- */

typedef struct proc {
  pid_t pid;
  int out; /* its stdout */
} proc;

/* Starts bxt_nats_calc attached to url and waits (20 s at most) for its READY line. */
static proc calc_start(const char *url) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  proc p = {0};
  p.pid = fork();
  assert_true(p.pid >= 0);
  if (p.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test */
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(BXT_NATS_CALC, BXT_NATS_CALC, url, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  p.out = fds[0];
  char line[128];
  size_t n = 0;
  while (n < sizeof line - 1) {
    struct pollfd pf = {.fd = p.out, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 20000), 1);
    ssize_t r = read(p.out, line + n, 1);
    assert_int_equal(r, 1);
    if (line[n++] == '\n') break;
  }
  line[n] = '\0';
  assert_non_null(strstr(line, "READY"));
  return p;
}

static void proc_kill(proc *p, int sig) {
  if (p->pid <= 0) return;
  kill(p->pid, sig);
  int st;
  waitpid(p->pid, &st, 0);
  if (sig == SIGTERM) assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(p->out);
  p->pid = 0;
}

/* ---- calls --------------------------------------------------------------------------------- */

typedef struct res {
  int calls;
  int status;
  double num;
} res;

static void on_done(bx_call *call, int status, void *result, void *data) {
  (void)call;
  res *r = data;
  r->calls++;
  r->status = status;
  if (status == 0 && cJSON_IsNumber((const cJSON *)result)) r->num = ((cJSON *)result)->valuedouble;
}

static void start_call(bx_box *svc, const char *method, int a, int b, uint64_t timeout_ms, res *r) {
  cJSON *args = cJSON_CreateArray();
  if (strcmp(method, "add") == 0) {
    cJSON_AddItemToArray(args, cJSON_CreateNumber(a));
    cJSON_AddItemToArray(args, cJSON_CreateNumber(b));
  }
  bx_call_opts o = {.timeout_ms = timeout_ms};
  assert_int_equal(bx_call_json(svc, method, args, false, &o, on_done, r, NULL), 0);
}

static int call1(uv_loop_t *loop, bx_box *svc, const char *method, uint64_t timeout_ms,
                 double *out) {
  res r = {0};
  start_call(svc, method, 20, 22, timeout_ms, &r);
  while (r.calls == 0)
    uv_run(loop, UV_RUN_ONCE);
  if (out) *out = r.num;
  return r.status;
}

/* Calls until one succeeds (a subscription reaches every node in its own time). */
static double call_until_ok(uv_loop_t *loop, bx_box *svc, const char *method) {
  for (int i = 0; i < 500; i++) {
    double v = 0;
    int st = call1(loop, svc, method, 3000, &v);
    if (st == 0) return v;
    assert_true(st == BX_ENOSERVICE || st == BX_ECONNLOST || st == BX_ETIMEDOUT || st < 0);
    usleep(10000);
  }
  fail_msg("no call succeeded");
  return 0;
}

static int count_done(const res *r, int n) {
  int done = 0;
  for (int i = 0; i < n; i++) {
    assert_true(r[i].calls <= 1);
    done += r[i].calls;
  }
  return done;
}

typedef struct env {
  uv_loop_t loop;
  bx_ctx *ctx;
} env;

static void env_open(env *e, const char *name) {
  uv_loop_init(&e->loop);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = name;
  assert_int_equal(bx_ctx_new(&e->loop, &o, &e->ctx), 0);
}

static void env_close(env *e) {
  int closed = 0;
  bx_ctx_close(e->ctx, NULL, &closed);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&e->loop), 0);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* Two processes on different nodes: a call; a callback box (this context registers its own
 * calc in the remote instance, which then serves it to the cluster and calls back over NATS
 * for every call); a relayed call (a context on a third node serves "relay", a box for the
 * remote calc). */
static void test_across_nodes(void **state) {
  (void)state;
  if (!have_cluster) skip();
  proc srv = calc_start(cl.url[1]);
  env e;
  env_open(&e, "/bxt/caller");
  char url[600];
  snprintf(url, sizeof url, "%s/calc", cl.url[0]);
  bx_box *calc;
  assert_int_equal(bx_nats_service(e.ctx, url, &calc), 0);
  assert_true(call_until_ok(&e.loop, calc, "add") == 42);
  double pid = 0;
  assert_int_equal(call1(&e.loop, calc, "pid", 5000, &pid), 0);
  assert_true((pid_t)pid == srv.pid);

  /* the callback: our own calc, registered in the remote instance under "mine" */
  bxt_calc mine = {0};
  assert_int_equal(bxt_calc_register(e.ctx, "local-calc", &mine), 0);
  bx_box *local = bx_lookup(bx_ctx_registry(e.ctx), "local-calc");
  assert_non_null(local);
  bx_box *conn;
  assert_int_equal(bx_connect(e.ctx, url, NULL, &conn), 0);
  res reg = {0};
  assert_int_equal(bx_register_remote(conn, "mine", local, NULL, on_done, &reg, NULL), 0);
  while (reg.calls == 0)
    uv_run(&e.loop, UV_RUN_ONCE);
  assert_int_equal(reg.status, 0);
  /* a third context on node 3 calls "mine": node 3 -> the instance -> back to us */
  bx_ctx *third;
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/bxt/third";
  assert_int_equal(bx_ctx_new(&e.loop, &o, &third), 0);
  snprintf(url, sizeof url, "%s/mine", cl.url[2]);
  bx_box *remote_mine;
  assert_int_equal(bx_nats_service(third, url, &remote_mine), 0);
  assert_true(call_until_ok(&e.loop, remote_mine, "add") == 42);
  assert_true(mine.calls >= 1);

  /* the relay: "relay" in the third context is the remote calc; we call it over NATS */
  snprintf(url, sizeof url, "%s/calc", cl.url[2]);
  bx_box *calc3;
  assert_int_equal(bx_nats_service(third, url, &calc3), 0);
  assert_int_equal(bx_register(bx_ctx_registry(third), "relay", calc3, NULL), 0);
  bx_box_unref(calc3);
  bx_listener *att;
  assert_int_equal(bx_nats_attach(third, cl.url[2], NULL, &att), 0);
  snprintf(url, sizeof url, "%s/relay", cl.url[0]);
  bx_box *relay;
  assert_int_equal(bx_nats_service(e.ctx, url, &relay), 0);
  assert_true(call_until_ok(&e.loop, relay, "add") == 42);
  assert_int_equal(call1(&e.loop, relay, "pid", 5000, &pid), 0);
  assert_true((pid_t)pid == srv.pid);

  bx_box_unref(relay);
  bx_box_unref(remote_mine);
  bx_box_unref(conn);
  bx_box_unref(calc);
  int closed = 0;
  bx_ctx_close(third, NULL, &closed);
  env_close(&e);
  proc_kill(&srv, SIGTERM);
}

/* Two instances of calc in one queue group: calls spread over both; one is killed with -9 in
 * the middle of a burst: every call completes exactly once; later calls land on the survivor. */
static void test_queue_failover(void **state) {
  (void)state;
  if (!have_cluster) skip();
  proc a = calc_start(cl.url[1]);
  proc b = calc_start(cl.url[2]);
  env e;
  env_open(&e, "/bxt/caller");
  char url[600];
  snprintf(url, sizeof url, "nats://%s/calc", cl.seeds);
  bx_box *calc;
  assert_int_equal(bx_nats_service(e.ctx, url, &calc), 0);
  call_until_ok(&e.loop, calc, "pid");
  bool seen_a = false, seen_b = false;
  for (int i = 0; i < 2000 && !(seen_a && seen_b); i++) {
    double pid = 0;
    if (call1(&e.loop, calc, "pid", 3000, &pid) != 0) continue;
    seen_a |= (pid_t)pid == a.pid;
    seen_b |= (pid_t)pid == b.pid;
  }
  assert_true(seen_a && seen_b); /* the queue group spreads calls */

  enum { N = 400 };
  static res r[N];
  memset(r, 0, sizeof r);
  int started = 0;
  bool killed = false;
  while (count_done(r, N) < N) {
    while (started < N && started - count_done(r, N) < 32) {
      start_call(calc, "add", started, 1, 3000, &r[started]);
      started++;
    }
    if (!killed && count_done(r, N) >= N / 4) {
      proc_kill(&a, SIGKILL);
      killed = true;
    }
    uv_run(&e.loop, UV_RUN_ONCE);
  }
  int ok = 0, timed_out = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].calls, 1);
    if (r[i].status == 0) {
      assert_true(r[i].num == i + 1);
      ok++;
    } else {
      assert_int_equal(r[i].status, BX_ETIMEDOUT); /* delivered to the killed instance */
      timed_out++;
    }
  }
  fprintf(stderr, "queue failover: %d answered, %d lost with the killed instance (deadline)\n", ok,
          timed_out);
  /* later calls: once one succeeds, every one lands on the survivor */
  call_until_ok(&e.loop, calc, "pid");
  for (int i = 0; i < 50; i++) {
    double pid = 0;
    assert_int_equal(call1(&e.loop, calc, "pid", 3000, &pid), 0);
    assert_true((pid_t)pid == b.pid);
  }
  bx_box_unref(calc);
  env_close(&e);
  proc_kill(&b, SIGTERM);
}

/* The node the client is connected to is killed mid-burst: every call completes exactly once,
 * the client reconnects to another node, and new calls succeed. */
static void test_node_killed(void **state) {
  (void)state;
  if (!have_cluster) skip();
  cluster c;
  assert_int_equal(cluster_start(&c, 3), 0);
  proc srv = calc_start(c.url[1]);
  env e;
  env_open(&e, "/bxt/caller");
  char url[600];
  snprintf(url, sizeof url, "nats://%s/calc", c.seeds); /* node 1 first: connects there */
  bx_box *calc;
  assert_int_equal(bx_nats_service(e.ctx, url, &calc), 0);
  call_until_ok(&e.loop, calc, "add");

  enum { N = 300 };
  static res r[N];
  memset(r, 0, sizeof r);
  int started = 0;
  bool killed = false;
  uint64_t killed_at = 0;
  while (count_done(r, N) < N) {
    while (started < N && started - count_done(r, N) < 32) {
      start_call(calc, "add", started, 1, 5000, &r[started]);
      started++;
    }
    if (!killed && count_done(r, N) >= N / 3) {
      cluster_kill(&c, 0);
      killed = true;
      killed_at = uv_hrtime();
      /* calls started from now on go through the reconnection */
    }
    uv_run(&e.loop, UV_RUN_ONCE);
  }
  int ok = 0, lost = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].calls, 1);
    if (r[i].status == 0) {
      assert_true(r[i].num == i + 1);
      ok++;
    } else {
      lost++;
    }
  }
  double v = call_until_ok(&e.loop, calc, "add");
  assert_true(v == 42);
  uint64_t back_ms = (uv_hrtime() - killed_at) / 1000000;
  fprintf(stderr,
          "node killed: %d answered, %d failed (BX_ECONNLOST or a deadline); a new call "
          "succeeded %llu ms after the kill\n",
          ok, lost, (unsigned long long)back_ms);
  for (int i = 0; i < 20; i++)
    assert_int_equal(call1(&e.loop, calc, "add", 5000, NULL), 0);
  bx_box_unref(calc);
  env_close(&e);
  proc_kill(&srv, SIGTERM);
  cluster_stop(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_across_nodes),
      cmocka_unit_test(test_queue_failover),
      cmocka_unit_test(test_node_killed),
  };
  return cmocka_run_group_tests_name("nats_cluster", tests, setup, teardown);
}
