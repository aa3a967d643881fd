/* unix:///path/to.sock — Unix domain stream sockets.
 *
 * Design notes
 * - The socket file is given its mode (bx_listen_opts.unix_mode, default 0600) between bind()
 *   and listen(): until listen() nobody can connect, so there is no window in which a user the
 *   mode leaves out could.
 * - A socket file left behind by a process that died is replaced only when a connect to it
 *   is refused (nothing listens); a live listener, or a file that is not a socket, makes
 *   bx_listen() fail with UV_EADDRINUSE.
 * - Closing the listener removes the socket file, if it is still the one it created.
 * - Peer credentials come from SO_PEERCRED (uid, gid, pid of the process that connected or,
 *   on the connecting side, of the listener).
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "stream.h"

typedef struct un_listener {
  bx__st_listener st; /* first: the shared stream code sees this part */
  char *path;         /* owned */
  dev_t dev;
  ino_t ino;
} un_listener;

static int un_check(const char *path) {
  size_t n = strlen(path);
  return n > 0 && n < sizeof(((struct sockaddr_un *)0)->sun_path) ? 0 : BX_EINVAL;
}

static void un_fill_peer(bx__conn *c) {
  bx__st_conn *s = bx__st(c);
  bx_peer_info *p = bx__conn_peer(c);
  uv_os_fd_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (uv_fileno(&s->h.handle, &fd) != 0) return;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
  p->has_cred = true;
  p->uid = cred.uid;
  p->gid = cred.gid;
  p->pid = cred.pid;
}

static void un_init_conn(bx__st_conn *s, uv_loop_t *loop) {
  uv_pipe_init(loop, &s->h.pipe, 0);
}

/* ---- listening ---------------------------------------------------------------------------- */

/* Is anything listening on path? 0 when a connect is refused (stale), else UV_EADDRINUSE. */
static int un_probe_stale(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : UV_EADDRINUSE;
  if (!S_ISSOCK(st.st_mode)) return UV_EADDRINUSE; /* never remove what is not a socket */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return UV_EADDRINUSE;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  int err = rc == 0 ? 0 : errno;
  close(fd);
  return err == ECONNREFUSED ? 0 : UV_EADDRINUSE;
}

static int un_bind(uv_pipe_t *h, const char *path) {
  int rc = uv_pipe_bind(h, path);
  if (rc != UV_EADDRINUSE) return rc;
  rc = un_probe_stale(path);
  if (rc) return rc;
  if (unlink(path) != 0 && errno != ENOENT) return UV_EADDRINUSE;
  return uv_pipe_bind(h, path);
}

static void un_listener_closed(bx_listener *l) {
  un_listener *ul = bx__listener_priv(l);
  struct stat st;
  if (ul->path && lstat(ul->path, &st) == 0 && st.st_dev == ul->dev && st.st_ino == ul->ino)
    unlink(ul->path);
  bx__free(ul->path);
  ul->path = NULL;
}

/* Socket activation: accepts on an inherited listening socket; its file is not ours. */
static int un_adopt(bx_listener *l, int fd) {
  un_listener *ul = bx__listener_priv(l);
  bx__st_handle *h = calloc(1, sizeof *h);
  if (h == NULL) return BX_ENOMEM;
  uv_pipe_init(bx_ctx_loop(l->ctx), &h->pipe, 0);
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], url[sizeof path + 16];
  size_t len = sizeof path;
  int rc = uv_pipe_open(&h->pipe, fd);
  if (rc == 0) rc = uv_pipe_getsockname(&h->pipe, path, &len);
  if (rc == 0 && (len == 0 || path[0] == '\0')) rc = BX_ENOTSUP; /* abstract or unnamed */
  if (rc) {
    bx__st_discard(h);
    return rc;
  }
  snprintf(url, sizeof url, "unix://%s", path);
  ul->st.h = h;
  ul->st.init_conn = un_init_conn;
  ul->st.fill_peer = un_fill_peer;
  ul->st.on_closed = un_listener_closed; /* ul->path stays NULL: the file is left alone */
  rc = bx__listener_set_url(l, url);
  return rc ? rc : bx__st_listen(l);
}

static int un_listen(bx_listener *l, const char *path, const bx_listen_opts *opts) {
  if (opts && opts->inherited_fd > 0) return un_adopt(l, opts->inherited_fd);
  mode_t mode = opts && opts->unix_mode ? (mode_t)(opts->unix_mode & 0777) : 0600;
  un_listener *ul = bx__listener_priv(l);
  bx__st_handle *h = bx__calloc(1, sizeof *h);
  if (h == NULL) return BX_ENOMEM;
  uv_pipe_init(bx_ctx_loop(l->ctx), &h->pipe, 0);
  int rc = un_bind(&h->pipe, path);
  if (rc) {
    bx__st_discard(h);
    return rc;
  }
  struct stat st; /* bound: the file is ours from here on */
  if (chmod(path, mode) != 0 || lstat(path, &st) != 0) rc = -errno;
  if (rc == 0 && (ul->path = bx__strdup(path)) == NULL) rc = BX_ENOMEM;
  if (rc) {
    unlink(path);
    bx__st_discard(h);
    return rc;
  }
  ul->dev = st.st_dev;
  ul->ino = st.st_ino;
  ul->st.h = h;
  ul->st.init_conn = un_init_conn;
  ul->st.fill_peer = un_fill_peer;
  ul->st.on_closed = un_listener_closed;
  rc = bx__st_listen(l);
  if (rc) {
    unlink(path);
    bx__free(ul->path);
    ul->path = NULL;
  }
  return rc;
}

/* ---- dialling ----------------------------------------------------------------------------- */

static int un_dial(bx__conn *c, const char *path) {
  bx__st_conn *s = bx__st_dial(c, un_init_conn, un_fill_peer);
  if (s == NULL) return BX_ENOMEM;
  uv_pipe_connect(&s->connect, &s->h.pipe, path, bx__st_connect_cb); /* errors come in the cb */
  return 0;
}

const bx__tran bx__unix_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "unix",
    .framer = &bx__framer_prefix,
    .flags = BX__TRAN_ADOPTS_FD,
    .listener_size = sizeof(un_listener),
    .link_size = sizeof(bx__st_conn),
    .check = un_check,
    .listen = un_listen,
    .listen_close = bx__st_listen_close,
    .dial = un_dial,
    .write = bx__st_write,
    .read_pause = bx__st_read_pause,
    .link_close = bx__st_close,
};
