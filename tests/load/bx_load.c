/* bx_load: N clients x M calls through a hub, every call checked exactly once.
 *
 *   bx_load --url URL [--service calc] [--clients N] [--calls M] [--timeout-ms T]
 *           [--flood-unix PATH] [--limit-s S]
 *
 * Each client is a context of its own (one connection each) on one loop, making its calls one
 * after the other: calc.add(client, seq), whose answer must be client + seq. Every callback is
 * matched to its call: a call answered twice counts as a duplicate, a wrong sum as wrong, an
 * error (or a call never answered when the time limit passes) as lost. Latencies are kept per
 * call and reported as p50/p99 (reported, never judged here).
 *
 * --flood-unix PATH adds a hostile client: a raw Unix socket that announces itself and writes
 * calc.add calls as fast as the hub takes them, and never reads a reply. It reports how far it
 * got and whether the hub paused it (its writes blocked) or dropped it (the socket closed).
 *
 * Prints one line "calls=... ok=... lost=... dup=... wrong=... p50_us=... p99_us=..." and, with
 * a flood, one "flood: ..." line. Exits 0 when every call succeeded exactly once, 1 otherwise,
 * 2 on bad usage. With --expect-errors 1 (faults injected meanwhile: services or the hub
 * killed and restarted) errors are expected: it prints "faults: errors=... err_max_ms=...
 * ok_after_error=..." and exits 0 when every call was answered exactly once, none wrong, every
 * error came within the call's timeout (and a second of slack for a loaded machine), and calls
 * succeeded again after the first error. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <bx.h>

typedef struct load load;

typedef struct client client;

/* One call: what its callback is matched against. */
typedef struct token {
  client *c;
  int seq;
} token;

struct client {
  load *ld;
  int id;
  bx_ctx *ctx;
  bx_box *conn, *svc;
  int next;               /* the next call to start */
  unsigned char *answers; /* per call: how many times it was answered */
  token *tokens;          /* one per call */
  uint64_t t0;            /* the start of the call in flight */
};

struct load {
  uv_loop_t loop;
  uv_timer_t limit;
  const char *url, *service;
  int nclients, ncalls, done_clients, closed;
  uint64_t timeout_ms;
  client *clients;
  uint32_t *lat_us; /* nclients * ncalls, -1 until answered */
  long ok, lost, dup, wrong;
  bool timed_out;
  bool expect_errors;  /* faults are being injected: errors are expected, and judged */
  uint64_t err_max_us; /* the longest a failed call took to hear its error */
  long ok_after_error; /* calls that succeeded after the first error (recovery) */
};

static void start_call(client *c);

static void on_done(bx_call *call, int status, void *result, void *data) {
  (void)call;
  token *t = data;
  client *c = t->c;
  load *ld = c->ld;
  int seq = t->seq;
  if (c->answers[seq]++ > 0) { /* a second answer to the same call */
    ld->dup++;
    return;
  }
  uint64_t us = (uv_hrtime() - c->t0) / 1000;
  ld->lat_us[(size_t)c->id * (size_t)ld->ncalls + (size_t)seq] = (uint32_t)us;
  const cJSON *r = result;
  if (status != 0) {
    ld->lost++;
    if (us > ld->err_max_us) ld->err_max_us = us;
    if (ld->lost <= 5 && !ld->expect_errors)
      fprintf(stderr, "bx_load: client %d call %d: %s\n", c->id, seq, bx_strerror(status));
  } else if (!cJSON_IsNumber(r) || r->valuedouble != (double)(c->id + seq)) {
    ld->wrong++;
  } else {
    ld->ok++;
    if (ld->lost > 0) ld->ok_after_error++;
  }
  if (ld->expect_errors && status != 0) usleep(1000); /* a hub restarting: do not spin */
  start_call(c);
}

static void client_finished(client *c) {
  load *ld = c->ld;
  if (++ld->done_clients < ld->nclients) return;
  uv_timer_stop(&ld->limit);
  uv_stop(&ld->loop); /* the contexts' connections keep the loop alive */
}

static void start_call(client *c) {
  load *ld = c->ld;
  if (ld->timed_out) return;
  if (c->next == ld->ncalls) {
    client_finished(c);
    return;
  }
  int seq = c->next++;
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateNumber(c->id));
  cJSON_AddItemToArray(args, cJSON_CreateNumber(seq));
  bx_call_opts o = {.timeout_ms = ld->timeout_ms};
  c->t0 = uv_hrtime();
  c->tokens[seq] = (token){c, seq};
  int rc = bx_call_json(c->svc, "add", args, false, &o, on_done, &c->tokens[seq], NULL);
  if (rc != 0) { /* refused at once: counted as lost, and the client goes on */
    c->answers[seq] = 1;
    ld->lost++;
    fprintf(stderr, "bx_load: client %d call %d refused: %s\n", c->id, seq, bx_strerror(rc));
    start_call(c);
  }
}

static void on_limit(uv_timer_t *t) {
  load *ld = t->data;
  ld->timed_out = true;
  fprintf(stderr, "bx_load: the time limit passed with calls unanswered\n");
  uv_stop(&ld->loop);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* ---- the flood: a raw socket that writes calls and never reads ------------------------------ */

typedef struct flood {
  pthread_t thread;
  const char *path;
  atomic_bool stop;
  long frames;    /* frames written completely */
  long stalls;    /* times a write waited over a second */
  int fail_errno; /* why writing ended (0: stopped by us) */
} flood;

static size_t frame(char *buf, size_t cap, const char *json) {
  size_t n = strlen(json);
  if (n + 4 > cap) return 0;
  uint32_t len = (uint32_t)n;
  buf[0] = (char)(len & 0xff);
  buf[1] = (char)((len >> 8) & 0xff);
  buf[2] = (char)((len >> 16) & 0xff);
  buf[3] = (char)((len >> 24) & 0xff);
  memcpy(buf + 4, json, n);
  return n + 4;
}

/* Writes all of buf unless stopped; waits in poll while the hub does not read. */
static int flood_write(flood *f, int fd, const char *buf, size_t len) {
  size_t off = 0;
  while (off < len && !atomic_load(&f->stop)) {
    ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return errno;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 1000) == 0) f->stalls++;
  }
  return 0;
}

static void *flood_run(void *arg) {
  flood *f = arg;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", f->path);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    f->fail_errno = errno;
    if (fd >= 0) close(fd);
    return NULL;
  }
  char buf[512], json[400];
  size_t n = frame(buf, sizeof buf,
                   "{\"class\":\"foam.box.RegisterSelfMessage\",\"name\":\"/load/flood\","
                   "\"attributes\":{}}");
  int err = flood_write(f, fd, buf, n);
  for (long i = 0; err == 0 && !atomic_load(&f->stop); i++) {
    snprintf(json, sizeof json,
             "{\"class\":\"foam.box.Message\",\"attributes\":{\"replyBox\":{\"class\":"
             "\"foam.box.SubBox\",\"name\":\"f%ld\",\"delegate\":{\"class\":\"foam.box."
             "ReturnBox\"}}},\"object\":{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"calc\","
             "\"object\":{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[%ld,1]}}}",
             i, i);
    n = frame(buf, sizeof buf, json);
    err = flood_write(f, fd, buf, n);
    if (err == 0 && !atomic_load(&f->stop)) f->frames++;
  }
  f->fail_errno = err;
  close(fd);
  return NULL;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out, "usage: bx_load --url URL [--service NAME] [--clients N] [--calls M]\n"
               "               [--timeout-ms T] [--flood-unix PATH] [--limit-s S]\n"
               "               [--expect-errors 1]\n");
}

static void on_closed(bx_ctx *ctx, void *data) {
  (void)ctx;
  load *ld = data;
  ld->closed++;
}

int main(int argc, char **argv) {
  load ld;
  memset(&ld, 0, sizeof ld);
  ld.service = "calc";
  ld.nclients = 20;
  ld.ncalls = 100;
  ld.timeout_ms = 30000;
  int limit_s = 120;
  flood fl;
  memset(&fl, 0, sizeof fl);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (v == NULL) {
      usage(stderr);
      return 2;
    }
    i++;
    if (strcmp(a, "--url") == 0)
      ld.url = v;
    else if (strcmp(a, "--service") == 0)
      ld.service = v;
    else if (strcmp(a, "--clients") == 0)
      ld.nclients = atoi(v);
    else if (strcmp(a, "--calls") == 0)
      ld.ncalls = atoi(v);
    else if (strcmp(a, "--timeout-ms") == 0)
      ld.timeout_ms = (uint64_t)atoll(v);
    else if (strcmp(a, "--flood-unix") == 0)
      fl.path = v;
    else if (strcmp(a, "--limit-s") == 0)
      limit_s = atoi(v);
    else if (strcmp(a, "--expect-errors") == 0)
      ld.expect_errors = atoi(v) != 0;
    else {
      usage(stderr);
      return 2;
    }
  }
  if (ld.url == NULL || ld.nclients <= 0 || ld.ncalls <= 0 || limit_s <= 0) {
    usage(stderr);
    return 2;
  }
  size_t total = (size_t)ld.nclients * (size_t)ld.ncalls;
  ld.clients = calloc((size_t)ld.nclients, sizeof(client));
  ld.lat_us = malloc(total * sizeof(uint32_t));
  if (ld.clients == NULL || ld.lat_us == NULL) return 1;
  memset(ld.lat_us, 0xff, total * sizeof(uint32_t));
  uv_loop_init(&ld.loop);
  uv_timer_init(&ld.loop, &ld.limit);
  ld.limit.data = &ld;
  uv_timer_start(&ld.limit, on_limit, (uint64_t)limit_s * 1000, 0);

  if (fl.path != NULL) {
    atomic_init(&fl.stop, false);
    if (pthread_create(&fl.thread, NULL, flood_run, &fl) != 0) return 1;
    usleep(200 * 1000); /* the flood is under way before the clients start */
  }
  uint64_t t_start = uv_hrtime();
  for (int i = 0; i < ld.nclients; i++) {
    client *c = &ld.clients[i];
    c->ld = &ld;
    c->id = i;
    c->answers = calloc((size_t)ld.ncalls, 1);
    c->tokens = calloc((size_t)ld.ncalls, sizeof(token));
    char name[64];
    snprintf(name, sizeof name, "/load/%ld/%d", (long)getpid(), i);
    bx_ctx_options o;
    bx_ctx_options_init(&o);
    o.name = name;
    if (c->answers == NULL || c->tokens == NULL || bx_ctx_new(&ld.loop, &o, &c->ctx) != 0 ||
        bx_connect(c->ctx, ld.url, NULL, &c->conn) != 0 ||
        bx_sub_box_new(c->ctx, ld.service, c->conn, &c->svc) != 0) {
      fprintf(stderr, "bx_load: client %d could not start\n", i);
      return 1;
    }
    start_call(c);
  }
  if (ld.done_clients < ld.nclients) uv_run(&ld.loop, UV_RUN_DEFAULT);
  double secs = (double)(uv_hrtime() - t_start) / 1e9;

  if (fl.path != NULL) {
    atomic_store(&fl.stop, true);
    pthread_join(fl.thread, NULL);
  }
  /* Calls never answered (the time limit passed) are lost. */
  long answered = ld.ok + ld.lost + ld.wrong;
  if ((size_t)answered < total) ld.lost += (long)total - answered;
  qsort(ld.lat_us, total, sizeof(uint32_t), cmp_u32);
  size_t n = (size_t)answered < total ? (size_t)answered : total;
  uint32_t p50 = n ? ld.lat_us[n / 2] : 0, p99 = n ? ld.lat_us[(n * 99) / 100] : 0;
  printf("calls=%zu ok=%ld lost=%ld dup=%ld wrong=%ld p50_us=%u p99_us=%u secs=%.2f "
         "calls_per_s=%.0f\n",
         total, ld.ok, ld.lost, ld.dup, ld.wrong, p50, p99, secs, secs > 0 ? ld.ok / secs : 0);
  if (ld.expect_errors)
    printf("faults: errors=%ld err_max_ms=%.1f ok_after_error=%ld\n", ld.lost,
           (double)ld.err_max_us / 1000.0, ld.ok_after_error);
  if (fl.path != NULL)
    printf("flood: frames=%ld stalls=%ld end=%s\n", fl.frames, fl.stalls,
           fl.fail_errno == 0 ? "paused-or-running" : strerror(fl.fail_errno));

  for (int i = 0; i < ld.nclients; i++) {
    client *c = &ld.clients[i];
    bx_box_unref(c->svc);
    bx_box_unref(c->conn);
    bx_ctx_close(c->ctx, on_closed, &ld);
  }
  uv_close((uv_handle_t *)&ld.limit, NULL);
  uv_run(&ld.loop, UV_RUN_DEFAULT);
  uv_loop_close(&ld.loop);
  for (int i = 0; i < ld.nclients; i++) {
    free(ld.clients[i].answers);
    free(ld.clients[i].tokens);
  }
  free(ld.clients);
  free(ld.lat_us);
  fflush(stdout);
  if (ld.expect_errors) /* every call answered once, errors in time, and calls work again */
    return !ld.timed_out && ld.dup == 0 && ld.wrong == 0 && ld.ok_after_error > 0 &&
                   ld.err_max_us <= (ld.timeout_ms + 1000) * 1000
               ? 0
               : 1;
  return ld.ok == (long)total && ld.lost == 0 && ld.dup == 0 && ld.wrong == 0 ? 0 : 1;
}
