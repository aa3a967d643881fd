/* bxd under systemd: the listening sockets it passes (socket activation, LISTEN_FDS) and the
 * readiness it waits for (sd_notify). Without libsystemd at build time both do nothing. */
#ifndef BXD_SD_H
#define BXD_SD_H

#include <stddef.h>

typedef struct bxd_sd_socket {
  int fd;        /* inherited, listening: 3, 4, ... */
  char url[600]; /* a URL of its transport for bx_listen(): unix://PATH or tcp://0.0.0.0:0 */
} bxd_sd_socket;

/* The sockets systemd passed to this process, at most max, into out (caller's storage). Returns
 * how many (0 when not socket-activated), or -1 with a message on stderr when one of them is
 * not a listening Unix or TCP stream socket bxd can serve. */
int bxd_sd_sockets(bxd_sd_socket *out, int max);

/* Tells systemd the service's state ("READY=1", "STOPPING=1", ...); nothing when bxd was not
 * started by systemd. */
void bxd_sd_notify(const char *state);

#endif
