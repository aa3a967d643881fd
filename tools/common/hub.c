/* The hub's default addresses. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hub.h"

int hub_default_url(char *buf, size_t len, char *dir, size_t dirlen) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  char d[512];
  int n = xdg && *xdg ? snprintf(d, sizeof d, "%s/bx", xdg)
                      : snprintf(d, sizeof d, "/tmp/bx-%ld", (long)getuid());
  if (n < 0 || (size_t)n >= sizeof d) return -1;
  if (dir && (size_t)snprintf(dir, dirlen, "%s", d) >= dirlen) return -1;
  n = snprintf(buf, len, "unix://%s/bxd.sock", d);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}
