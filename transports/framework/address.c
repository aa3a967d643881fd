/* Addresses in URLs: "host:port" and "[v6]:port", shared by the socket transports (tcp, msgbox)
 * so that every scheme reads an address the same way. */
#include <string.h>

#include "framework.h"

int bx__addr_split(const char *addr, char *host, size_t host_cap, char *port, size_t port_cap) {
  const char *h = addr, *host_end, *colon;
  if (*addr == '[') {
    h = addr + 1;
    host_end = strchr(h, ']');
    if (host_end == NULL || host_end[1] != ':') return BX_EINVAL;
    colon = host_end + 1;
  } else {
    colon = strrchr(addr, ':');
    if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL) return BX_EINVAL;
    host_end = colon;
  }
  size_t hlen = (size_t)(host_end - h), plen = strlen(colon + 1);
  if (hlen == 0 || hlen >= host_cap || plen >= port_cap) return BX_EINVAL;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  if (strpbrk(host, "/?#@ []") != NULL) return BX_EINVAL;
  memcpy(port, colon + 1, plen + 1);
  return 0;
}
