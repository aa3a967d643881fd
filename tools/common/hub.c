/* The hub's default addresses. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
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

int hub_dir_check(const char *dir, char *why, size_t len) {
  struct stat st;
  if (lstat(dir, &st) != 0) {
    snprintf(why, len, "%s does not exist", dir);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(why, len, "%s is not a directory%s", dir,
             S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
    return -1;
  }
  if (st.st_uid != getuid()) {
    snprintf(why, len, "%s is owned by uid %ld, not by you (uid %ld)", dir, (long)st.st_uid,
             (long)getuid());
    return -1;
  }
  if ((st.st_mode & 077) != 0) {
    snprintf(why, len, "%s has mode %04o: others can reach it (it must be 0700)", dir,
             (unsigned)(st.st_mode & 07777));
    return -1;
  }
  return 0;
}
