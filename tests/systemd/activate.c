/* Starts a program the way systemd starts a socket-activated, Type=notify service, so that bxd's
 * support for both is tested without systemd:
 * - a Unix stream socket bound at PATH and a TCP socket on 127.0.0.1 (a free port), both
 *   listening, passed as fds 3 and 4 with LISTEN_FDS=2, LISTEN_PID and LISTEN_FDNAMES;
 * - NOTIFY_SOCKET, a datagram socket at PATH.notify whose messages are printed as
 *   "notified <line>" (READY=1, STOPPING=1 ...).
 * It prints "tcp PORT" first, forwards SIGTERM and SIGINT to the program, and exits with the
 * program's exit status once it ended (1 if it was killed by a signal).
 *   activate PATH COMMAND [ARG...] */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

static int unix_socket(const char *path, int type) {
  int fd = socket(AF_UNIX, type, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (fd < 0 || strlen(path) >= sizeof sa.sun_path) return -1;
  strcpy(sa.sun_path, path);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
  if (type == SOCK_STREAM && listen(fd, 64) != 0) return -1;
  return fd;
}

static int tcp_socket(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
    return -1;
  *port = ntohs(sa.sin_port);
  return fd;
}

/* In the child: the two sockets become fds 3 and 4, inherited across exec. */
static void exec_activated(int ufd, int tfd, const char *notify, char **argv) {
  int u = fcntl(ufd, F_DUPFD, 10), t = fcntl(tfd, F_DUPFD, 10);
  if (u < 0 || t < 0 || dup2(u, 3) != 3 || dup2(t, 4) != 4) _exit(127);
  close(u);
  close(t);
  char pid[32];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  setenv("LISTEN_FDS", "2", 1);
  setenv("LISTEN_PID", pid, 1);
  setenv("LISTEN_FDNAMES", "unix:tcp", 1);
  setenv("NOTIFY_SOCKET", notify, 1);
  execvp(argv[0], argv);
  perror("activate: exec");
  _exit(127);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: activate PATH COMMAND [ARG...]\n");
    return 2;
  }
  char notify[256];
  snprintf(notify, sizeof notify, "%s.notify", argv[1]);
  int port = 0, ufd = unix_socket(argv[1], SOCK_STREAM), tfd = tcp_socket(&port);
  int nfd = unix_socket(notify, SOCK_DGRAM);
  if (ufd < 0 || tfd < 0 || nfd < 0) {
    perror("activate: sockets");
    return 1;
  }
  printf("tcp %d\n", port);
  fflush(stdout);
  signal(SIGTERM, forward);
  signal(SIGINT, forward);
  child = fork();
  if (child == 0) exec_activated(ufd, tfd, notify, argv + 2);
  close(ufd);
  close(tfd);
  int status = 0;
  for (;;) {
    struct pollfd p = {.fd = nfd, .events = POLLIN};
    if (poll(&p, 1, 100) > 0) {
      char msg[512];
      ssize_t n = recv(nfd, msg, sizeof msg - 1, 0);
      if (n > 0) {
        msg[n] = '\0';
        for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n"))
          printf("notified %s\n", line);
        fflush(stdout);
      }
    }
    pid_t w = waitpid(child, &status, WNOHANG);
    if (w == child) break;
    if (w < 0 && errno != EINTR) break;
  }
  unlink(notify);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
