/* What bxd and bxctl agree on: where the hub listens by default. */
#ifndef BX_TOOLS_HUB_H
#define BX_TOOLS_HUB_H

#include <stddef.h>

/* The hub's default Unix socket URL: unix://$XDG_RUNTIME_DIR/bx/bxd.sock, or
 * unix:///tmp/bx-<uid>/bxd.sock without XDG_RUNTIME_DIR. Writes it into buf; returns 0, or -1
 * when it does not fit. dir (optional) receives the directory part. */
int hub_default_url(char *buf, size_t len, char *dir, size_t dirlen);

/* The hub's default WebSocket address. */
#define HUB_DEFAULT_WS "127.0.0.1:7300"

#endif
