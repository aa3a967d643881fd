/* bx-bench's NATS pieces: a nats-server process on a random loopback port, and the raw
 * NATS-protocol request/reply floor: two processes with blocking sockets speaking the text
 * protocol through the same server, no library (the responder echoes each request's payload to
 * its reply subject). */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peers.h"

static double nb_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- a blocking connection with a read buffer ---------------------------------------------- */

typedef struct nb_conn {
  int fd;
  char buf[1 << 17];
  size_t len, off;
} nb_conn;

static int nb_fill(nb_conn *c) {
  if (c->off > 0) {
    memmove(c->buf, c->buf + c->off, c->len - c->off);
    c->len -= c->off;
    c->off = 0;
  }
  if (c->len == sizeof c->buf) return -1;
  ssize_t k = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
  if (k <= 0) return -1;
  c->len += (size_t)k;
  return 0;
}

/* The next control line (without CRLF, NUL-terminated in place), skipping PING (answered) and
 * INFO / +OK / PONG when skip_pong. */
static char *nb_line(nb_conn *c, bool skip_pong) {
  for (;;) {
    char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
    if (nl == NULL) {
      if (nb_fill(c) != 0) return NULL;
      continue;
    }
    char *line = c->buf + c->off;
    *nl = '\0';
    if (nl > line && nl[-1] == '\r') nl[-1] = '\0';
    c->off = (size_t)(nl + 1 - c->buf);
    if (strncmp(line, "PING", 4) == 0) {
      if (write(c->fd, "PONG\r\n", 6) != 6) return NULL;
      continue;
    }
    if (strncmp(line, "INFO", 4) == 0 || strncmp(line, "+OK", 3) == 0 ||
        (skip_pong && strncmp(line, "PONG", 4) == 0))
      continue;
    return line;
  }
}

/* n payload bytes and their CRLF into out (at most cap). */
static int nb_payload(nb_conn *c, char *out, size_t n) {
  while (c->len - c->off < n + 2)
    if (nb_fill(c) != 0) return -1;
  memcpy(out, c->buf + c->off, n);
  c->off += n + 2;
  return 0;
}

static int nb_write(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int nb_connect(nb_conn *c, int port, const char *subs) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  c->len = c->off = 0;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char hello[512];
  int n = snprintf(hello, sizeof hello,
                   "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
                   "\"no_responders\":true}\r\n%sPING\r\n",
                   subs);
  if (nb_write(c->fd, hello, (size_t)n) != 0) return -1;
  for (;;) { /* until the PONG: the subscriptions are in place */
    char *l = nb_line(c, false);
    if (l == NULL) return -1;
    if (strncmp(l, "PONG", 4) == 0) return 0;
    if (strncmp(l, "-ERR", 4) == 0) return -1;
  }
}

static int nb_port(const char *hostport) {
  const char *colon = strrchr(hostport, ':');
  return colon ? atoi(colon + 1) : -1;
}

/* ---- the server ---------------------------------------------------------------------------- */

int nats_server_start(char *hostport, size_t cap, int *pid_out) {
  const char *exe = access("/usr/sbin/nats-server", X_OK) == 0 ? "/usr/sbin/nats-server" : NULL;
  if (exe == NULL) return -1;
  char dir[] = "/tmp/bx-bench-nats-XXXXXX";
  if (mkdtemp(dir) == NULL) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execl(exe, exe, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir, (char *)NULL);
    _exit(127);
  }
  char path[128];
  snprintf(path, sizeof path, "%s/nats-server_%d.ports", dir, (int)pid);
  for (int i = 0; i < 400; i++) {
    FILE *f = fopen(path, "r");
    char text[512] = "";
    if (f) {
      size_t n = fread(text, 1, sizeof text - 1, f);
      text[n] = '\0';
      fclose(f);
    }
    const char *u = strstr(text, "nats://");
    int port = 0;
    if (u && sscanf(u, "nats://127.0.0.1:%d", &port) == 1 && port > 0) {
      snprintf(hostport, cap, "127.0.0.1:%d", port);
      *pid_out = (int)pid;
      unlink(path);
      rmdir(dir);
      return 0;
    }
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

int nats_wait_served(const char *hostport, const char *subject, const char *frame) {
  static nb_conn c;
  if (nb_connect(&c, nb_port(hostport), "SUB _INBOX.bxbench.* 1\r\n") != 0) return -1;
  int rc = -1;
  for (int i = 0; i < 500 && rc != 0; i++) {
    char line[2048];
    int n = snprintf(line, sizeof line, "PUB %s _INBOX.bxbench.1 %zu\r\n%s\r\n", subject,
                     strlen(frame), frame);
    if (nb_write(c.fd, line, (size_t)n) != 0) break;
    char *l = nb_line(&c, true);
    if (l == NULL) break;
    unsigned long total = strtoul(strrchr(l, ' ') + 1, NULL, 10);
    bool status = strncmp(l, "HMSG", 4) == 0;
    char *tmp = malloc(total + 1);
    if (tmp == NULL || nb_payload(&c, tmp, total) != 0) {
      free(tmp);
      break;
    }
    free(tmp);
    if (!status)
      rc = 0;
    else
      usleep(10000); /* no responders yet */
  }
  close(c.fd);
  return rc;
}

/* ---- the floor ----------------------------------------------------------------------------- */

static void nb_responder(int port, int n, int ready) {
  static nb_conn c;
  if (nb_connect(&c, port, "SUB bxbench.echo 1\r\n") != 0) _exit(1);
  if (write(ready, "r", 1) != 1) _exit(1);
  char *payload = malloc(1 << 20), reply[256], head[512];
  for (int i = 0; i < n; i++) {
    char *l = nb_line(&c, true);
    if (l == NULL || strncmp(l, "MSG ", 4) != 0) _exit(1);
    char subj[256];
    unsigned long len;
    if (sscanf(l, "MSG %255s %*s %255s %lu", subj, reply, &len) != 3 || len >= (1 << 20)) _exit(1);
    if (nb_payload(&c, payload, len) != 0) _exit(1);
    int h = snprintf(head, sizeof head, "PUB %s %lu\r\n", reply, len);
    memcpy(payload + len, "\r\n", 2);
    struct iovec v[2] = {{head, (size_t)h}, {payload, len + 2}};
    if (writev(c.fd, v, 2) != (ssize_t)(h + len + 2)) _exit(1);
  }
  _exit(0);
}

int peer_raw_nats(const char *hostport, size_t size, int warmup, int ops, bool pinned, double *lat,
                  double *total_us) {
  (void)pinned;
  int port = nb_port(hostport), fds[2];
  if (port <= 0 || pipe(fds) != 0) return -1;
  int total = warmup + ops;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    nb_responder(port, total, fds[1]);
  }
  close(fds[1]);
  char r;
  if (read(fds[0], &r, 1) != 1) return -1;
  close(fds[0]);
  static nb_conn c;
  if (nb_connect(&c, port, "SUB _INBOX.rawfloor.* 1\r\n") != 0) return -1;
  char *req = malloc(size + 128), *back = malloc(size + 2);
  int h = snprintf(req, 128, "PUB bxbench.echo _INBOX.rawfloor.1 %zu\r\n", size);
  memset(req + h, 'x', size);
  memcpy(req + h + size, "\r\n", 2);
  double t0 = 0;
  int rc = 0;
  for (int i = 0; i < total && rc == 0; i++) {
    if (i == warmup) t0 = nb_now_us();
    double s = nb_now_us();
    if (nb_write(c.fd, req, (size_t)h + size + 2) != 0) rc = -1;
    char *l = rc ? NULL : nb_line(&c, true);
    if (l == NULL || strncmp(l, "MSG ", 4) != 0 || nb_payload(&c, back, size) != 0) rc = -1;
    if (i >= warmup) lat[i - warmup] = nb_now_us() - s;
  }
  *total_us = nb_now_us() - t0;
  close(c.fd);
  free(req);
  free(back);
  waitpid(pid, NULL, 0);
  return rc;
}
