/* Socket activation and readiness notification through libsystemd (sd-daemon(3)). */
#include "sd.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#ifdef BXD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

/* The URL bx_listen() takes for an inherited fd: a Unix socket's own path (bx names the listener
 * after it), a placeholder address for TCP (the listener takes the socket's). */
static int sd_url_of(int fd, char *url, size_t len) {
  if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
    struct sockaddr_un sa;
    socklen_t sl = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0 || sa.sun_path[0] != '/') {
      fprintf(stderr,
              "bxd: inherited fd %d: a Unix socket without a path (abstract sockets are "
              "not supported)\n",
              fd);
      return -1;
    }
    snprintf(url, len, "unix://%.*s", (int)sizeof sa.sun_path, sa.sun_path);
    return 0;
  }
  if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0) {
    snprintf(url, len, "tcp://0.0.0.0:0");
    return 0;
  }
  fprintf(stderr,
          "bxd: inherited fd %d is not a listening Unix or TCP stream socket (use "
          "ListenStream= in bxd.socket)\n",
          fd);
  return -1;
}

int bxd_sd_sockets(bxd_sd_socket *out, int max) {
  int n = sd_listen_fds(1); /* unsets LISTEN_* so that children do not inherit them */
  if (n <= 0) return 0;
  if (n > max) {
    fprintf(stderr, "bxd: %d inherited sockets, at most %d\n", n, max);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    out[i].fd = SD_LISTEN_FDS_START + i;
    if (sd_url_of(out[i].fd, out[i].url, sizeof out[i].url) != 0) return -1;
  }
  return n;
}

void bxd_sd_notify(const char *state) {
  sd_notify(0, state);
}

#else

int bxd_sd_sockets(bxd_sd_socket *out, int max) {
  (void)out, (void)max;
  return 0;
}

void bxd_sd_notify(const char *state) {
  (void)state;
}

#endif
