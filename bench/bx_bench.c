/* bx-bench: round-trip latency and throughput of bx calls next to the physical floor, measured
 * the same way in the same run.
 *
 *   bx-bench [--ops N] [--warmup N] [--pinned] [--json] [--no-memory] [--no-instructions]
 *
 * Scenarios (each: N operations after a warm-up; mean, p50, p99 round trip and ops/s):
 *   inproc      calc.add through the generated stub to the skeleton in the same context (the
 *               direct path: no messages), one loop
 *   unix, tcp   calc.add to a server process over a Unix socket / TCP loopback
 *   unix-echo, tcp-echo, ws-echo   calc.echo of a 1 KiB and a 64 KiB string, next to the
 *               floor of that transport moving the same number of bytes
 *   pipeline-N  calc.add over unix with N calls in flight (throughput)
 *   ws          calc.add over WebSocket (libwebsockets), one call at a time
 *   hub-unix    calc.add relayed through a bxd hub (client -> bxd -> calc_server, Unix
 *               sockets), next to the direct unix call
 *   raw-unix, raw-tcp   the floor: a 4-byte length + payload ping-pong between two processes
 *                       with blocking sockets, payload the size of the bx request frame
 *   uv-unix     the same ping-pong with both sides on libuv loops: the event loop's share
 *   nng-ipc, nng-tcp, zmq-ipc, zmq-tcp   REQ/REP peers with the same payload
 *   raw-ws      the WebSocket floor: a raw libwebsockets echo of the same payload
 *   seal+open, seal+open-nm   the telehash floor: libsodium crypto_box seal+open of the
 *               payload, with the key agreement per message / with the shared key precomputed
 *   msgbox-tcp, msgbox-udp   msgbox's native API (bx_mb_get) to an echoing server process, a
 *               230-byte payload, next to raw-tcp / raw-udp
 *   raw-udp     the UDP floor: one datagram of the same bytes (msgbox's 8-byte header and the
 *               payload) ping-ponged between two processes with blocking sockets
 *   uv-udp      the same UDP ping-pong with both sides on libuv loops: the loop's share
 *   box-msgbox-udp   calc.add over msgbox+udp:// (boxes over msgbox), next to raw-udp
 *   th-seal+open, th-seal+open-1x   bx's telehash CS3a message of 230 bytes sealed, opened
 *               and its sender verified, with the keys a link keeps per peer / as a one-off
 *               (fresh ephemeral key, nothing kept), next to seal+open
 *   th-chan     a telehash channel packet of 230 bytes sealed and opened, next to secretbox:
 *               crypto_secretbox_easy + open_easy with a precomputed key (bench/th.c, sodium.c)
 *   th-rtt      a round trip of 230 bytes on a reliable telehash channel between two bx
 *               endpoints in two processes over UDP loopback, next to raw-udp
 *   dao-put, dao-find   DAO round trips (bench/dao.c) next to dao-rpc-echo, calc.echo of the
 *               same size over the same transport; dao-select-10k-memory|sqlite: 10,000 rows
 *               streamed through a remote sink, figures per row (rows/s)
 *   nats        calc.add through one nats-server (nats://.../calc), next to raw-nats: the floor,
 *               two processes with blocking sockets speaking the NATS text protocol through the
 *               same server (request/reply of the same payload, no library); pipeline-N-nats
 *               the same call with N in flight (throughput, next to pipeline-N over unix).
 *               Skipped with a message when nats-server is not installed.
 * Memory: RSS of bxd idle and with 1,000 and 10,000 idle Unix connections (bytes per
 * connection), and the RSS growth of a context with 100,000 registered names (--no-memory
 * skips it).
 * Instructions per call (valgrind --tool=callgrind, the figure that does not move with the
 * machine's noise) of the in-process and the Unix-socket call and of the telehash reliable
 * round trip (th-rtt), client and server; skipped
 * without valgrind or with --no-instructions.
 * --pinned runs both processes on CPU 0 (stable figures on a small VM); peers run the same way.
 * With --only, BX_BENCH_SERVER_CPU=N pins the server to CPU N instead (one core per side).
 * --rounds N runs the whole list N times, each bx scenario next to its floor every time, and
 * reports the median of each figure; the ratio to the floor is the median of the ratios taken
 * within each round (far less noisy than either figure alone).
 * Timings are reported, never asserted. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calc_impl.h"
#include "calc_stub.h"
#include "dao.h"
#include "instructions.h"
#include "memory.h"
#include "peers.h"

typedef struct bench_opts {
  int ops, warmup, rounds;
  bool pinned, json, memory, instructions;
  const char *only; /* run just this scenario (for profiling), or NULL */
} bench_opts;

typedef struct result {
  const char *scenario, *system;
  size_t size;
  double mean_us, p50_us, p99_us, ops_s;
  int round;    /* which --rounds pass measured it */
  double ratio; /* p50 over the floor's p50 in the same round; 0: no floor */
} result;

#define MAX_ROUNDS 16
static result results[48 * MAX_ROUNDS];
static int nresults;
static int current_round;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void record(const char *scenario, const char *system, size_t size, double *lat, int n,
                   double total_us) {
  qsort(lat, (size_t)n, sizeof *lat, cmp_double);
  double sum = 0;
  for (int i = 0; i < n; i++)
    sum += lat[i];
  result r = {
      scenario,      system, size, sum / n, lat[n / 2], lat[(int)(n * 0.99)], n / (total_us / 1e6),
      current_round, 0};
  results[nresults++] = r;
}

static void record_dao(const char *scenario, size_t size, double *lat, int n, double total_us) {
  record(scenario, "bx", size, lat, n, total_us);
}

/* Pinned mode runs every process on CPU 0: on a small VM a wakeup across cores costs tens of
 * microseconds (pipeline-1 measured 79 us with the server on CPU 1), which would swamp what
 * is being measured. pin_to() keeps the choice explicit for experiments. */
static void pin_to(const bench_opts *o, int cpu) {
  if (!o->pinned) return;
  if (cpu >= sysconf(_SC_NPROCESSORS_ONLN)) cpu = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

/* A port free on 127.0.0.1 right now for a socket of type (SOCK_STREAM, SOCK_DGRAM): the
 * kernel picks it, so parallel runs (two checkouts testing at once) do not collide. Exits when
 * none can be had: a benchmark without its servers would only hang. */
static int free_port(int type) {
  int fd = socket(AF_INET, type, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    perror("bx-bench: no free port");
    exit(1);
  }
  close(fd);
  return ntohs(sa.sin_port);
}

static void pin(const bench_opts *o) {
  pin_to(o, 0);
}

/* ---- bx: a calculator server process and a client context ------------------------------- */

/* noinline: instructions.c has callgrind count only inside serve_on() and run_adds(). */
__attribute__((noinline)) static pid_t serve_on(const char *url, const bench_opts *o, int cpu) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid != 0) {
    char c;
    close(fds[1]);
    if (read(fds[0], &c, 1) != 1) pid = -1; /* ready */
    close(fds[0]);
    return pid;
  }
  pin_to(o, cpu);
  close(fds[0]);
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx;
  bx_ctx_new(&loop, NULL, &ctx);
  static calc_impl impl;
  bx_listener *l;
  if (calc_impl_register(ctx, &impl, "calc", NULL) != 0 || bx_listen(ctx, url, NULL, &l) != 0)
    _exit(1);
  if (write(fds[1], "r", 1) != 1) _exit(1);
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

static pid_t serve(const char *url, const bench_opts *o) {
  return serve_on(url, o, 0);
}

typedef struct client {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_box *svc;
  bx_stub stub;
  int inflight, done, next, total, depth;
  double *lat, *start;
} client;

static void client_open(client *c, const char *url) {
  memset(c, 0, sizeof *c);
  uv_loop_init(&c->loop);
  bx_ctx_new(&c->loop, NULL, &c->ctx);
  bx_box *conn = NULL;
  if (url) {
    bx_connect(c->ctx, url, NULL, &conn);
    bx_sub_box_new(c->ctx, "calc", conn, &c->svc);
    bx_box_unref(conn);
  } else {
    static calc_impl impl;
    calc_impl_register(c->ctx, &impl, "calc", NULL);
    bx_sub_box_new(c->ctx, "calc", bx_ctx_registry(c->ctx), &c->svc);
  }
  calc_stub_init(&c->stub, c->svc);
}

static void client_close(client *c) {
  bx_stub_reset(&c->stub);
  bx_box_unref(c->svc);
  bx_ctx_close(c->ctx, NULL, NULL);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  uv_loop_close(&c->loop);
}

static void on_add(bx_call *call, int status, double sum, void *data);

static void start_add(client *c, int i) {
  c->start[i] = now_us();
  c->inflight++;
  calc_add_async(&c->stub, i, 1, on_add, (void *)(intptr_t)i);
}

/* Keeps `depth` calls in flight until all are started. */
static void top_up(client *c) {
  while (c->next < c->total && c->inflight < c->depth)
    start_add(c, c->next++);
}

static client *cur;
static void on_add(bx_call *call, int status, double sum, void *data) {
  (void)call, (void)sum;
  client *c = cur;
  int i = (int)(intptr_t)data;
  if (status != 0) {
    fprintf(stderr, "bx-bench: call failed: %s\n", bx_strerror(status));
    exit(1);
  }
  c->lat[i] = now_us() - c->start[i];
  c->inflight--;
  c->done++;
  if (c->done == c->total)
    uv_stop(&c->loop);
  else
    top_up(c); /* the next call starts from this callback, as a client loop would */
}

/* N calls, `depth` in flight at a time; latencies per call. */
__attribute__((noinline)) static void run_adds(client *c, int n, int depth, double *lat,
                                               double *total) {
  double *start = calloc((size_t)n, sizeof *start);
  c->lat = lat;
  c->start = start;
  c->done = c->next = 0;
  c->total = n;
  c->depth = depth;
  cur = c;
  double t0 = now_us();
  top_up(c);
  if (n > 0) uv_run(&c->loop, UV_RUN_DEFAULT);
  *total = now_us() - t0;
  free(start);
}

static void bench_adds(const char *scenario, const char *url, int depth, const bench_opts *o) {
  client c;
  client_open(&c, url);
  double *lat = calloc((size_t)(o->ops + o->warmup), sizeof *lat), total;
  run_adds(&c, o->warmup, depth, lat, &total);
  run_adds(&c, o->ops, depth, lat, &total);
  record(scenario, "bx", 230, lat, o->ops, total); /* add(i,1): a ~230-byte frame */
  free(lat);
  client_close(&c);
}

static void bench_echo(const char *scenario, const char *url, size_t size, const bench_opts *o) {
  client c;
  client_open(&c, url);
  char *text = malloc(size + 1);
  memset(text, 'x', size);
  text[size] = '\0';
  cJSON *in = cJSON_CreateString(text);
  int n = o->ops / 10 > 100 ? o->ops / 10 : 100;
  double *lat = calloc((size_t)n, sizeof *lat);
  double t0 = 0;
  for (int i = -n / 10; i < n; i++) {
    if (i == 0) t0 = now_us();
    double s = now_us();
    cJSON *out = NULL;
    if (calc_echo_sync(&c.stub, in, &out) != 0) exit(1);
    cJSON_Delete(out);
    if (i >= 0) lat[i] = now_us() - s;
  }
  record(scenario, "bx", size, lat, n, now_us() - t0);
  free(lat);
  cJSON_Delete(in);
  free(text);
  client_close(&c);
}

/* ---- the floor: raw length-prefixed ping-pong ---------------------------------------------- */

static void full_io(int fd, char *buf, size_t len, bool wr) {
  size_t off = 0;
  while (off < len) {
    ssize_t k = wr ? write(fd, buf + off, len - off) : read(fd, buf + off, len - off);
    if (k <= 0) exit(1);
    off += (size_t)k;
  }
}

static void raw_echo_loop(int fd, size_t size, int n) {
  char *buf = malloc(size + 4);
  for (int i = 0; i < n; i++) {
    full_io(fd, buf, size + 4, false);
    full_io(fd, buf, size + 4, true);
  }
  free(buf);
}

static void bench_raw(const char *scenario, bool tcp, size_t size, const bench_opts *o) {
  int lfd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0), one = 1;
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  char path[64];
  if (tcp) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sl = sizeof *in;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  } else {
    struct sockaddr_un *un = (struct sockaddr_un *)&ss;
    un->sun_family = AF_UNIX;
    snprintf(path, sizeof path, "/tmp/bx-bench-%d.sock", (int)getpid());
    unlink(path);
    strcpy(un->sun_path, path);
    sl = sizeof *un;
  }
  if (bind(lfd, (struct sockaddr *)&ss, sl) != 0 || listen(lfd, 1) != 0) exit(1);
  getsockname(lfd, (struct sockaddr *)&ss, &sl);
  int total = o->ops + o->warmup;
  pid_t pid = fork();
  if (pid == 0) {
    pin(o);
    int fd = accept(lfd, NULL, NULL);
    if (tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    raw_echo_loop(fd, size, total);
    _exit(0);
  }
  int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0) exit(1);
  if (tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char *buf = calloc(1, size + 4);
  double *lat = calloc((size_t)total, sizeof *lat), t0 = 0;
  for (int i = 0; i < total; i++) {
    if (i == o->warmup) t0 = now_us();
    double s = now_us();
    full_io(fd, buf, size + 4, true);
    full_io(fd, buf, size + 4, false);
    lat[i] = now_us() - s;
  }
  record(scenario, "raw", size, lat + o->warmup, o->ops, now_us() - t0);
  close(fd);
  close(lfd);
  waitpid(pid, NULL, 0);
  if (!tcp) unlink(path);
  free(buf);
  free(lat);
}

/* ---- peers ---------------------------------------------------------------------------------- */

typedef int (*peer_fn)(const char *, size_t, int, int, bool, double *, double *);

static void bench_peer(const char *scenario, const char *system, peer_fn fn, const char *url,
                       size_t size, const bench_opts *o) {
  double *lat = calloc((size_t)o->ops, sizeof *lat), total = 0;
  if (fn(url, size, o->warmup, o->ops, o->pinned, lat, &total) == 0)
    record(scenario, system, size, lat, o->ops, total);
  else
    fprintf(stderr, "bx-bench: %s %s failed\n", system, url);
  free(lat);
}

/* A row measured in this process by fn (the telehash crypto rows and the secretbox floor). */
static void bench_local(const char *scenario, const char *system,
                        int (*fn)(size_t, int, int, double *, double *), size_t size,
                        const bench_opts *o) {
  double *lat = calloc((size_t)o->ops, sizeof *lat), total = 0;
  if (fn(size, o->warmup, o->ops, lat, &total) == 0)
    record(scenario, system, size, lat, o->ops, total);
  else
    fprintf(stderr, "bx-bench: %s failed\n", scenario);
  free(lat);
}

static void bench_th_rtt(size_t size, const bench_opts *o) {
  double *lat = calloc((size_t)o->ops, sizeof *lat), total = 0;
  if (peer_th_rtt(size, o->warmup, o->ops, o->pinned, lat, &total) == 0)
    record("th-rtt", "bx", size, lat, o->ops, total);
  else
    fprintf(stderr, "bx-bench: th-rtt failed\n");
  free(lat);
}

static void bench_sodium(const char *scenario, bool precomputed, size_t size, const bench_opts *o) {
  double *lat = calloc((size_t)o->ops, sizeof *lat), total = 0;
  if (peer_sodium(precomputed, size, o->warmup, o->ops, lat, &total) == 0)
    record(scenario, "sodium", size, lat, o->ops, total);
  else
    fprintf(stderr, "bx-bench: libsodium crypto_box failed\n");
  free(lat);
}

/* ---- output -------------------------------------------------------------------------------- */

/* The floor of a telehash row (in the same process, or raw-udp), or NULL for other rows. */
static const char *th_floor(const char *scenario) {
  if (strncmp(scenario, "th-seal+open", 12) == 0) return "seal+open";
  if (strcmp(scenario, "th-chan") == 0) return "secretbox";
  if (strcmp(scenario, "th-rtt") == 0) return "raw-udp";
  return NULL;
}

static double p50_of(const char *scenario, const result *r) {
  for (int i = 0; i < nresults; i++)
    if (strcmp(results[i].scenario, scenario) == 0 && results[i].size == r->size &&
        results[i].round == r->round)
      return results[i].p50_us;
  return 0;
}

/* The p50 of r's floor measured in the same round as r, or 0 when r has no floor. */
static double floor_p50(const result *r) {
  if (strcmp(r->system, "raw") == 0) return 0; /* a floor itself */
  if (th_floor(r->scenario) != NULL) return p50_of(th_floor(r->scenario), r);
  if (strncmp(r->scenario, "pipeline-", 9) == 0 && strcmp(r->scenario, "pipeline-1") != 0)
    return 0; /* several calls in flight: a throughput figure, not a round trip */
  if (strcmp(r->scenario, "inproc") == 0 || strcmp(r->system, "sodium") == 0)
    return 0; /* no socket floor: in one process */
  bool over_tcp = strstr(r->scenario, "tcp") != NULL || strcmp(r->scenario, "raw-ws") == 0;
  bool over_udp = strstr(r->scenario, "udp") != NULL;
  bool over_ws = strncmp(r->scenario, "ws", 2) == 0;
  const char *want = over_ws ? "raw-ws" : over_udp ? "raw-udp" : over_tcp ? "raw-tcp" : "raw-unix";
  if (strcmp(r->scenario, "nats") == 0) want = "raw-nats";
  for (int i = 0; i < nresults; i++)
    if (strcmp(results[i].scenario, want) == 0 && results[i].size == r->size &&
        results[i].round == r->round)
      return results[i].p50_us;
  return 0;
}

/* Each row's ratio to its floor, taken within its round: the floor drifts between rounds on a
 * shared VM (8.7 to 9.6 us for raw-unix), and a pair measured seconds apart sees the same
 * machine. */
static void set_ratios(void) {
  for (int i = 0; i < nresults; i++) {
    double f = floor_p50(&results[i]);
    results[i].ratio = f > 0 ? results[i].p50_us / f : 0;
  }
}

static int
    cmp_field; /* which figure merge_rounds() sorts: 0 p50, 1 p99, 2 mean, 3 ops_s, 4 ratio */

static double figure(const result *r, int f) {
  const double v[] = {r->p50_us, r->p99_us, r->mean_us, r->ops_s, r->ratio};
  return v[f];
}

static int cmp_figure(const void *a, const void *b) {
  double x = figure(*(const result *const *)a, cmp_field),
         y = figure(*(const result *const *)b, cmp_field);
  return x < y ? -1 : x > y;
}

static bool same_row(const result *a, const result *b) {
  return strcmp(a->scenario, b->scenario) == 0 && strcmp(a->system, b->system) == 0 &&
         a->size == b->size;
}

/* With --rounds N every scenario ran N times, interleaved with its floor: keeps one row per
 * scenario with the median of each figure across the rounds (the ratio too: the median of the
 * per-round ratios, not the ratio of the medians). */
static void merge_rounds(void) {
  static result merged[48 * MAX_ROUNDS];
  int nmerged = 0;
  for (int i = 0; i < nresults; i++) {
    bool seen = false;
    for (int k = 0; k < nmerged && !seen; k++)
      seen = same_row(&merged[k], &results[i]);
    if (seen) continue;
    const result *rows[MAX_ROUNDS];
    int n = 0;
    for (int j = i; j < nresults && n < MAX_ROUNDS; j++)
      if (same_row(&results[j], &results[i])) rows[n++] = &results[j];
    result m = results[i];
    for (cmp_field = 0; cmp_field < 5; cmp_field++) {
      qsort(rows, (size_t)n, sizeof rows[0], cmp_figure);
      double v = figure(rows[n / 2], cmp_field);
      double *to[] = {&m.p50_us, &m.p99_us, &m.mean_us, &m.ops_s, &m.ratio};
      *to[cmp_field] = v;
    }
    merged[nmerged++] = m;
  }
  memcpy(results, merged, (size_t)nmerged * sizeof merged[0]);
  nresults = nmerged;
}

static void print_results(const bench_opts *o) {
  const char *mode = o->pinned ? "pinned" : "unpinned";
  if (o->json)
    printf("{\"mode\":\"%s\",\"results\":[\n", mode);
  else
    printf("%-15s %-6s %-9s %8s %10s %10s %10s %12s %8s\n", "scenario", "system", "mode", "size",
           "p50 us", "p99 us", "mean us", "ops/s", "x floor");
  for (int i = 0; i < nresults; i++) {
    const result *r = &results[i];
    double ratio = r->ratio;
    if (o->json)
      printf("  {\"scenario\":\"%s\",\"system\":\"%s\",\"mode\":\"%s\",\"size\":%zu,\"p50\":%.2f,"
             "\"p99\":%.2f,\"mean\":%.2f,\"ops_s\":%.0f,\"ratio_to_floor\":%.2f}%s\n",
             r->scenario, r->system, mode, r->size, r->p50_us, r->p99_us, r->mean_us, r->ops_s,
             ratio, i + 1 < nresults ? "," : "");
    else {
      char rs[16] = "";
      if (ratio > 0) snprintf(rs, sizeof rs, "%.2fx", ratio);
      printf("%-15s %-6s %-9s %8zu %10.2f %10.2f %10.2f %12.0f %8s\n", r->scenario, r->system, mode,
             r->size, r->p50_us, r->p99_us, r->mean_us, r->ops_s, rs);
    }
  }
  if (o->json) printf("]");
}

static void print_instructions(const bench_opts *o, const char *self) {
  if (!instr_available()) {
    if (!o->json) printf("\ninstructions: skipped (valgrind is not installed)\n");
    return;
  }
  instr_result rs[] = {{"inproc", 8000, 0, 0}, {"unix", 2000, 0, 0}, {"th-rtt", 2000, 0, 0}};
  if (o->json) printf(",\"instructions\":[");
  for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
    instr_result *r = &rs[i];
    int rc = instr_measure(self, r);
    if (o->json) {
      printf("%s{\"scenario\":\"%s\",\"client\":%.0f,\"server\":%.0f}", i ? "," : "", r->scenario,
             rc ? -1 : r->client, rc ? -1 : r->server);
    } else if (rc) {
      printf("\ninstructions per call (callgrind): %s failed", r->scenario);
    } else {
      printf("%s%s %.0f", i ? "; " : "\ninstructions per call (callgrind): ", r->scenario,
             r->client);
      if (r->server > 0) printf(" client + %.0f server", r->server);
    }
  }
  printf(o->json ? "]" : "\n");
}

/* A program built next to bx-bench (bxd, calc_server). */
static void sibling(const char *self, const char *name, char *out, size_t len) {
  snprintf(out, len, "%s", self);
  char *slash = strrchr(out, '/');
  size_t at = slash ? (size_t)(slash + 1 - out) : 0;
  snprintf(out + at, len - at, "%s", name);
}

/* Runs bxd on hub_url and calc_server registered in it; waits until calc answers there. */
static int start_hub(const char *self, const char *hub_url, pid_t *hub, pid_t *svc,
                     const bench_opts *o) {
  char bxd[1024], server[1024];
  sibling(self, "bxd", bxd, sizeof bxd);
  sibling(self, "calc_server", server, sizeof server);
  const char *path = hub_url + strlen("unix://");
  unlink(path);
  if ((*hub = fork()) == 0) {
    pin(o);
    freopen("/dev/null", "w", stdout);
    execl(bxd, "bxd", "--unix", path, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 100 && access(path, F_OK) != 0; i++)
    usleep(20000);
  if ((*svc = fork()) == 0) {
    pin(o);
    freopen("/dev/null", "w", stdout);
    execl(server, "calc_server", "--connect", hub_url, (char *)NULL);
    _exit(127);
  }
  client c;
  client_open(&c, hub_url);
  double sum = 0;
  int rc = -1;
  for (int i = 0; i < 100 && rc != 0; i++) {
    rc = calc_add_sync(&c.stub, 1, 1, &sum);
    if (rc != 0) usleep(20000);
  }
  client_close(&c);
  if (rc != 0) fprintf(stderr, "bx-bench: the hub scenario is skipped: %s\n", bx_strerror(rc));
  return rc;
}

/* bxd is built next to bx-bench. */
static void print_memory(const bench_opts *o, const char *self) {
  char bxd[1024];
  sibling(self, "bxd", bxd, sizeof bxd);
  mem_result m;
  long names = mem_names(100000);
  if (mem_bxd(bxd, &m) != 0) {
    fprintf(stderr, "bx-bench: memory: could not run %s with 10,000 connections\n", bxd);
    return;
  }
  double per1k = (double)(m.rss1k - m.rss0) / 1000, per10k = (double)(m.rss10k - m.rss0) / 10000;
  if (o->json) {
    printf(",\"memory\":{\"bxd_rss_idle\":%ld,\"bxd_rss_1k\":%ld,\"bxd_rss_10k\":%ld,"
           "\"bytes_per_connection\":%.0f,\"names_100k_bytes\":%ld}",
           m.rss0, m.rss1k, m.rss10k, per10k, names);
    return;
  }
  printf("\nmemory: bxd RSS %.1f MiB idle, %.1f MiB with 1,000 idle Unix connections (%.0f "
         "bytes each), %.1f MiB with 10,000 (%.0f bytes each)\n",
         m.rss0 / 1048576.0, m.rss1k / 1048576.0, per1k, m.rss10k / 1048576.0, per10k);
  printf("memory: 100,000 registered names add %.1f MiB (%.0f bytes per name)\n", names / 1048576.0,
         names / 100000.0);
}

/* --only msgbox-tcp|msgbox-udp|raw-udp|uv-udp|box-msgbox-udp (profiling the msgbox rows: under
 * callgrind, --toggle-collect=peer_msgbox, peer_uv_udp or run_adds and serve_on). false: not one
 * of these. */
static bool bench_only_msgbox(const bench_opts *o) {
  const char *s = o->only;
  if (strcmp(s, "msgbox-tcp") == 0 || strcmp(s, "msgbox-udp") == 0)
    bench_peer(s, "bx", peer_msgbox, s[7] == 't' ? "tcp://127.0.0.1:0" : "udp://127.0.0.1:0", 230,
               o);
  else if (strcmp(s, "raw-udp") == 0)
    bench_peer(s, "raw", peer_raw_udp, NULL, 230, o);
  else if (strcmp(s, "uv-udp") == 0)
    bench_peer(s, "libuv", peer_uv_udp, NULL, 230, o);
  else if (strcmp(s, "box-msgbox-udp") == 0) {
    char url[64];
    snprintf(url, sizeof url, "msgbox+udp://127.0.0.1:%d", free_port(SOCK_DGRAM));
    const char *cpu = getenv("BX_BENCH_SERVER_CPU");
    pid_t srv = serve_on(url, o, cpu ? atoi(cpu) : 0);
    if (srv < 0) exit(1);
    bench_adds(s, url, 1, o);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
  } else
    return false;
  print_results(o);
  if (o->json) printf("}\n");
  return true;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--peer-serve") == 0) return peer_serve_main(argc, argv);
  bench_opts o = {.ops = 20000, .warmup = 2000, .rounds = 1, .memory = true, .instructions = true};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
      o.ops = atoi(argv[++i]);
    else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
      o.warmup = atoi(argv[++i]);
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
      o.rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--pinned") == 0)
      o.pinned = true;
    else if (strcmp(argv[i], "--json") == 0)
      o.json = true;
    else if (strcmp(argv[i], "--no-memory") == 0)
      o.memory = false;
    else if (strcmp(argv[i], "--no-instructions") == 0)
      o.instructions = false;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      o.only = argv[++i];
    else {
      printf(
          "usage: bx-bench [--ops N] [--warmup N] [--rounds N] [--pinned] [--json] [--no-memory]\n"
          "                [--no-instructions] [--only "
          "inproc|unix|ws|pipeline|echo-64k|ws-echo-64k|th|th-rtt|\n"
          "                msgbox-tcp|msgbox-udp|raw-udp|uv-udp|box-msgbox-udp]\n"
          "Round trips of bx next to raw sockets, nng, ZeroMQ, libwebsockets and libsodium,\n"
          "bxd memory, and instructions per call under callgrind (docs/performance.md).\n");
      return strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  if (o.rounds < 1 || o.rounds > MAX_ROUNDS) {
    fprintf(stderr, "bx-bench: --rounds takes 1 to %d\n", MAX_ROUNDS);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  pin(&o);
  if (o.only && strcmp(o.only, "th-rtt") == 0) { /* profiling: the telehash round trip */
    bench_th_rtt(230, &o);
    print_results(&o);
    if (o.json) printf("}\n");
    return 0;
  }
  if (o.only && strcmp(o.only, "th") == 0) { /* the telehash rows and their floors */
    for (current_round = 0; current_round < o.rounds; current_round++) {
      bench_sodium("seal+open", false, 230, &o);
      bench_local("th-seal+open", "bx", peer_th_seal, 230, &o);
      bench_local("th-seal+open-1x", "bx", peer_th_seal_1x, 230, &o);
      bench_local("secretbox", "sodium", peer_secretbox, 230, &o);
      bench_local("th-chan", "bx", peer_th_chan, 230, &o);
      bench_peer("raw-udp", "raw", peer_raw_udp, NULL, 230, &o);
      bench_th_rtt(230, &o);
    }
    set_ratios();
    merge_rounds();
    print_results(&o);
    if (o.json) printf("}\n");
    return 0;
  }
  if (o.only && strcmp(o.only, "inproc") == 0) { /* profiling: no server processes */
    bench_adds("inproc", NULL, 1, &o);
    print_results(&o);
    if (o.json) printf("}\n");
    return 0;
  }
  if (o.only && bench_only_msgbox(&o)) return 0;
  if (o.only && (strcmp(o.only, "unix") == 0 || strcmp(o.only, "pipeline") == 0 ||
                 strcmp(o.only, "ws") == 0 || strcmp(o.only, "echo-64k") == 0 ||
                 strcmp(o.only, "ws-echo-64k") == 0)) {
    bool pipelined = strcmp(o.only, "pipeline") == 0; /* profiling: one server process */
    char url[96];
    if (strncmp(o.only, "ws", 2) == 0)
      snprintf(url, sizeof url, "ws://127.0.0.1:%d/", free_port(SOCK_STREAM));
    else
      snprintf(url, sizeof url, "unix:///tmp/bx-bench-only-%d.sock", (int)getpid());
    const char *cpu = getenv("BX_BENCH_SERVER_CPU");
    pid_t srv = serve_on(url, &o, cpu ? atoi(cpu) : 0);
    if (srv < 0) return 1;
    if (pipelined) {
      bench_adds("pipeline-16", url, 16, &o);
      bench_adds("pipeline-128", url, 128, &o);
    } else if (strcmp(o.only, "echo-64k") == 0 || strcmp(o.only, "ws-echo-64k") == 0) {
      bench_echo(o.only[0] == 'w' ? "ws-echo" : "unix-echo", url, 65536, &o);
    } else {
      bench_adds(o.only, url, 1, &o);
    }
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    print_results(&o);
    if (o.json) printf("}\n");
    return 0;
  }
  char unix_url[96];
  snprintf(unix_url, sizeof unix_url, "unix:///tmp/bx-bench-srv-%d.sock", (int)getpid());
  char tcp_url[64], ws_url[64], mb_url[64], nng_url[64], zmq_url[64], lws_port[16];
  snprintf(tcp_url, sizeof tcp_url, "tcp://127.0.0.1:%d", free_port(SOCK_STREAM));
  snprintf(ws_url, sizeof ws_url, "ws://127.0.0.1:%d/", free_port(SOCK_STREAM));
  snprintf(mb_url, sizeof mb_url, "msgbox+udp://127.0.0.1:%d", free_port(SOCK_DGRAM));
  snprintf(nng_url, sizeof nng_url, "tcp://127.0.0.1:%d", free_port(SOCK_STREAM));
  snprintf(zmq_url, sizeof zmq_url, "tcp://127.0.0.1:%d", free_port(SOCK_STREAM));
  snprintf(lws_port, sizeof lws_port, "%d", free_port(SOCK_STREAM));
  pid_t us = serve(unix_url, &o), ts = serve(tcp_url, &o);
  pid_t ws = serve(ws_url, &o);
  pid_t ms = serve(mb_url, &o);
  if (us < 0 || ts < 0 || ws < 0 || ms < 0) return 1;
  pid_t hub = -1, hub_svc = -1;
  char hub_url[96];
  snprintf(hub_url, sizeof hub_url, "unix:///tmp/bx-bench-hub-%d.sock", (int)getpid());
  bool have_hub = start_hub(argv[0], hub_url, &hub, &hub_svc, &o) == 0;
  char pipe_url[96], uv_path[96], ipc[96]; /* the pipelined scenarios get a server of their own */
  snprintf(pipe_url, sizeof pipe_url, "unix:///tmp/bx-bench-pipe-%d.sock", (int)getpid());
  snprintf(uv_path, sizeof uv_path, "/tmp/bx-bench-uv-%d.sock", (int)getpid());
  snprintf(ipc, sizeof ipc, "ipc:///tmp/bx-bench-peer-%d", (int)getpid());
  pid_t ps = serve_on(pipe_url, &o, 0);
  bool have_dao = bench_dao_start() == 0;
  /* NATS: a server of its own and a calc attached to it. */
  char nats_hp[64] = "", nats_url[128] = "";
  int nats_pid = -1;
  pid_t ns = -1;
  if (nats_server_start(nats_hp, sizeof nats_hp, &nats_pid) == 0) {
    char attach[96];
    snprintf(attach, sizeof attach, "nats://%s", nats_hp);
    snprintf(nats_url, sizeof nats_url, "nats://%s/calc", nats_hp);
    ns = serve_on(attach, &o, 0);
    static const char probe[] =
        "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":"
        "\"foam.box.ReturnBox\"}},\"object\":{\"class\":\"foam.box.SubBoxMessage\",\"name\":"
        "\"calc\",\"object\":{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2]}}}";
    if (ns < 0 || nats_wait_served(nats_hp, "bx.svc.calc", probe) != 0) nats_url[0] = '\0';
  } else {
    fprintf(stderr, "bx-bench: nats-server is not installed: the nats rows are skipped\n");
  }
  for (current_round = 0; current_round < o.rounds; current_round++) {
    /* The request frame for add(i,1) is about 230 bytes: the floor moves the same. */
    bench_raw("raw-unix", false, 230, &o);
    bench_raw("raw-tcp", true, 230, &o);
    bench_peer("uv-unix", "libuv", peer_uv_unix, uv_path, 230, &o);
    bench_adds("inproc", NULL, 1, &o);
    bench_adds("unix", unix_url, 1, &o);
    bench_adds("tcp", tcp_url, 1, &o);
    bench_adds("ws", ws_url, 1, &o);
    if (have_hub) bench_adds("hub-unix", hub_url, 1, &o);
    bench_peer("nng-ipc", "nng", peer_nng, ipc, 230, &o);
    bench_peer("nng-tcp", "nng", peer_nng, nng_url, 230, &o);
    bench_peer("zmq-ipc", "zmq", peer_zmq, ipc, 230, &o);
    bench_peer("zmq-tcp", "zmq", peer_zmq, zmq_url, 230, &o);
    bench_peer("raw-ws", "lws", peer_lws, lws_port, 230, &o);
    bench_peer("raw-udp", "raw", peer_raw_udp, NULL, 230, &o);
    bench_peer("uv-udp", "libuv", peer_uv_udp, NULL, 230, &o);
    bench_peer("msgbox-tcp", "bx", peer_msgbox, "tcp://127.0.0.1:0", 230, &o);
    bench_peer("msgbox-udp", "bx", peer_msgbox, "udp://127.0.0.1:0", 230, &o);
    bench_adds("box-msgbox-udp", mb_url, 1, &o);
    bench_sodium("seal+open", false, 230, &o);
    bench_sodium("seal+open-nm", true, 230, &o);
    bench_local("th-seal+open", "bx", peer_th_seal, 230, &o);
    bench_local("th-seal+open-1x", "bx", peer_th_seal_1x, 230, &o);
    bench_local("secretbox", "sodium", peer_secretbox, 230, &o);
    bench_local("th-chan", "bx", peer_th_chan, 230, &o);
    bench_th_rtt(230, &o);
    for (size_t size = 1024; size <= 65536; size *= 64) { /* echo of 1 KiB and 64 KiB */
      bench_raw("raw-unix", false, size, &o);
      bench_raw("raw-tcp", true, size, &o);
      bench_peer("raw-ws", "lws", peer_lws, lws_port, size, &o);
      bench_echo("unix-echo", unix_url, size, &o);
      bench_echo("tcp-echo", tcp_url, size, &o);
      bench_echo("ws-echo", ws_url, size, &o);
    }
    bench_adds("pipeline-1", pipe_url, 1, &o);
    bench_adds("pipeline-16", pipe_url, 16, &o);
    bench_adds("pipeline-128", pipe_url, 128, &o);
    if (have_dao) {
      bench_dao_run(o.ops / 10, record_dao);
      bench_echo("dao-rpc-echo", unix_url, BENCH_DAO_OBJECT_BYTES, &o);
    }
    if (nats_url[0]) {
      bench_peer("raw-nats", "raw", peer_raw_nats, nats_hp, 230, &o);
      bench_adds("nats", nats_url, 1, &o);
      bench_adds("pipeline-16-nats", nats_url, 16, &o);
      bench_adds("pipeline-128-nats", nats_url, 128, &o);
    }
  }
  bench_dao_stop();
  set_ratios();
  merge_rounds();
  pid_t all[] = {us, ts, ws, ms, hub_svc, hub, ps, ns, (pid_t)nats_pid};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i] > 0) {
      kill(all[i], SIGKILL);
      waitpid(all[i], NULL, 0);
    }
  print_results(&o);
  if (o.memory) print_memory(&o, argv[0]);
  if (o.instructions) print_instructions(&o, argv[0]);
  if (o.json) printf("}\n");
  return 0;
}
