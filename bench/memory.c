/* Memory figures for bx-bench: RSS of a running bxd with 0, 1,000 and 10,000 idle Unix
 * connections (bytes per connection), and of a context holding 100,000 registered names. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bx.h>

#include "memory.h"

/* VmRSS of pid in bytes, or 0. */
static long mem_rss(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb * 1024;
}

static int mem_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* Lets the hub accept what was opened (it accepts from its loop). */
static void mem_settle(void) {
  usleep(300 * 1000);
}

int mem_bxd(const char *bxd, mem_result *out) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max; /* the hub and this process both need ~10,000 descriptors */
  setrlimit(RLIMIT_NOFILE, &rl);
  char sock[96];
  snprintf(sock, sizeof sock, "/tmp/bx-bench-mem-%d.sock", (int)getpid());
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", 1);
    dup2(null, 1);
    execl(bxd, "bxd", "--unix", sock, "--max-connections", "20000", (char *)NULL);
    _exit(127);
  }
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; i++) {
    usleep(20 * 1000);
    fd = mem_connect(sock);
  }
  if (fd < 0) return -1;
  close(fd);
  mem_settle();
  out->rss0 = mem_rss(pid);
  static int fds[10000];
  int n = 0, marks[2] = {1000, 10000};
  for (int m = 0; m < 2; m++) {
    while (n < marks[m] && (fds[n] = mem_connect(sock)) >= 0)
      n++;
    mem_settle();
    long rss = mem_rss(pid);
    if (m == 0)
      out->rss1k = rss;
    else
      out->rss10k = rss;
  }
  out->conns = n;
  for (int i = 0; i < n; i++)
    close(fds[i]);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  return n == 10000 ? 0 : -1;
}

long mem_names(int count) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    bx_ctx *ctx;
    bx_ctx_new(&loop, NULL, &ctx);
    bx_box *svc = NULL;
    bx_null_box_new(ctx, &svc);
    long before = mem_rss(getpid());
    char name[32];
    for (int i = 0; i < count; i++) {
      snprintf(name, sizeof name, "service-%d", i);
      bx_register(bx_ctx_registry(ctx), name, svc, NULL);
    }
    long delta = mem_rss(getpid()) - before;
    if (write(fds[1], &delta, sizeof delta) != sizeof delta) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  long delta = -1;
  if (read(fds[0], &delta, sizeof delta) != sizeof delta) delta = -1;
  close(fds[0]);
  waitpid(pid, NULL, 0);
  return delta;
}
