/* What bxd and bxctl agree on: where the hub listens by default. */
#ifndef BX_TOOLS_HUB_H
#define BX_TOOLS_HUB_H

#include <stddef.h>

/* The hub's default Unix socket URL: unix://$XDG_RUNTIME_DIR/bx/bxd.sock, or
 * unix:///tmp/bx-<uid>/bxd.sock without XDG_RUNTIME_DIR. Writes it into buf; returns 0, or -1
 * when it does not fit. dir (optional) receives the directory part. */
int hub_default_url(char *buf, size_t len, char *dir, size_t dirlen);

/* Whether dir, the default socket's directory, is safe to use: a real directory (not a symbolic
 * link) owned by the caller's uid with no permission for group or others. Anyone can create
 * /tmp/bx-<uid> before its owner does and then read or replace the socket in it. Returns 0, or
 * -1 with the reason written into why (caller's storage of len bytes). */
int hub_dir_check(const char *dir, char *why, size_t len);

/* The hub's default WebSocket address. */
#define HUB_DEFAULT_WS "127.0.0.1:7300"

#endif
