/* inproc://name — connections between contexts of one process, in memory.
 *
 * Design notes
 * - The same connection core as the socket transports (framing, limits, handshake, failure
 *   semantics); only the byte mover differs: a write is a run-queue task that copies the bytes
 *   into the peer connection's input and then completes the write. Every event (connect,
 *   write, EOF, close) is reported from a later loop callback, as a socket's would be.
 * - Names live in one process-wide table (mutex-protected). Both ends must run on the same
 *   libuv loop: connecting to a listener on another loop fails with BX_ENOTSUP (use the
 *   Thread box, or a socket, across loops).
 * - Closing one end takes the link down at once and delivers EOF to the other end from its
 *   run queue: it closes with BX_ECONNLOST, like a socket whose peer went away.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"

typedef struct ip_name {
  struct ip_name *next;
  char *name;
  bx_listener *listener;
  uv_loop_t *loop;
} ip_name;

static pthread_mutex_t ip_lock = PTHREAD_MUTEX_INITIALIZER;
static ip_name *ip_names;

typedef struct ip_listener {
  char *name; /* owned; NULL once unpublished */
} ip_listener;

typedef struct ip_conn {
  bx__conn *peer; /* the other end (its box is kept alive by its own framework reference) */
  bool closing;
  char *dial_name;  /* owned, until the dial task ran */
  const char *wbuf; /* the write in flight (the core keeps it valid) */
  size_t wlen;
} ip_conn;

static ip_conn *ip(bx__conn *c) {
  return bx__conn_priv(c);
}

static int ip_check(const char *name) {
  size_t n = strlen(name);
  return n > 0 && n < 256 ? 0 : BX_EINVAL;
}

static void ip_fill_peer(bx__conn *c) {
  bx_peer_info *p = bx__conn_peer(c);
  p->has_cred = true; /* the peer is this process */
  p->uid = getuid();
  p->gid = getgid();
  p->pid = getpid();
}

/* Runs fn(c) from c's run queue, holding c's box meanwhile. */
static void ip_later(bx__conn *c, bx__task_fn fn) {
  bx_box *box = bx_box_ref(bx__conn_box(c));
  if (bx__defer(bx__conn_ctx(c), fn, box, NULL) != 0) fn(box, NULL); /* no queue: now */
}

/* ---- the name table ----------------------------------------------------------------------- */

static int ip_publish(const char *name, bx_listener *l, uv_loop_t *loop) {
  ip_name *n = calloc(1, sizeof *n);
  if (n == NULL || (n->name = bx__strdup(name)) == NULL) {
    free(n);
    return BX_ENOMEM;
  }
  n->listener = l;
  n->loop = loop;
  int rc = 0;
  pthread_mutex_lock(&ip_lock);
  for (ip_name *i = ip_names; i != NULL; i = i->next)
    if (strcmp(i->name, name) == 0) rc = UV_EADDRINUSE;
  if (rc == 0) {
    n->next = ip_names;
    ip_names = n;
  }
  pthread_mutex_unlock(&ip_lock);
  if (rc) {
    free(n->name);
    free(n);
  }
  return rc;
}

static void ip_unpublish(bx_listener *l) {
  ip_name *gone = NULL;
  pthread_mutex_lock(&ip_lock);
  for (ip_name **p = &ip_names; *p != NULL; p = &(*p)->next) {
    if ((*p)->listener != l) continue;
    gone = *p;
    *p = gone->next;
    break;
  }
  pthread_mutex_unlock(&ip_lock);
  if (gone) free(gone->name);
  free(gone);
}

/* The listener published as name on loop; *err explains a NULL. */
static bx_listener *ip_find(const char *name, uv_loop_t *loop, int *err) {
  bx_listener *l = NULL;
  *err = UV_ECONNREFUSED;
  pthread_mutex_lock(&ip_lock);
  for (ip_name *i = ip_names; i != NULL; i = i->next) {
    if (strcmp(i->name, name) != 0) continue;
    if (i->loop == loop)
      l = i->listener;
    else
      *err = BX_ENOTSUP;
    break;
  }
  pthread_mutex_unlock(&ip_lock);
  return l;
}

/* ---- listening ---------------------------------------------------------------------------- */

static int ip_listen(bx_listener *l, const char *name) {
  ip_listener *il = bx__listener_priv(l);
  il->name = bx__strdup(name);
  if (il->name == NULL) return BX_ENOMEM;
  int rc = ip_publish(name, l, bx_ctx_loop(l->ctx));
  if (rc) {
    free(il->name);
    il->name = NULL;
  }
  return rc;
}

static void ip_listener_closed_task(void *a, void *b) {
  (void)b;
  bx__listener_closed(a);
}

static void ip_listen_close(bx_listener *l) {
  ip_listener *il = bx__listener_priv(l);
  ip_unpublish(l);
  free(il->name);
  il->name = NULL;
  if (bx__defer(l->ctx, ip_listener_closed_task, l, NULL) != 0) bx__listener_closed(l);
}

/* ---- connections -------------------------------------------------------------------------- */

static void ip_dial_task(void *a, void *b) {
  (void)b;
  bx_box *box = a;
  bx__conn *c = bx__conn_of(box);
  ip_conn *ic = ip(c);
  char *name = ic->dial_name;
  ic->dial_name = NULL;
  if (!ic->closing) {
    int err;
    bx_listener *l = ip_find(name, bx_ctx_loop(bx__conn_ctx(c)), &err);
    bx__conn *sc = l ? bx__conn_accept(l) : NULL;
    if (l != NULL && sc == NULL) err = BX_ENOMEM;
    if (sc != NULL) {
      ip(sc)->peer = c;
      ic->peer = sc;
      ip_fill_peer(sc);
      ip_fill_peer(c);
      err = bx__conn_opened(sc) == 0 ? 0 : UV_ECONNREFUSED;
    }
    bx__conn_connected(c, err);
  }
  free(name);
  bx_box_unref(box);
}

static int ip_dial(bx__conn *c, const char *name) {
  ip_conn *ic = ip(c);
  ic->dial_name = bx__strdup(name);
  if (ic->dial_name == NULL) return BX_ENOMEM;
  ip_later(c, ip_dial_task);
  return 0;
}

static void ip_write_task(void *a, void *b) {
  (void)b;
  bx_box *box = a;
  bx__conn *c = bx__conn_of(box);
  ip_conn *ic = ip(c);
  if (!ic->closing) {
    bx__conn *peer = ic->peer;
    if (peer != NULL) bx__conn_input(peer, ic->wbuf, ic->wlen);
    bx__conn_write_done(c, peer != NULL ? 0 : UV_EPIPE);
  }
  bx_box_unref(box);
}

static int ip_write(bx__conn *c, const char *buf, size_t len) {
  ip_conn *ic = ip(c);
  ic->wbuf = buf;
  ic->wlen = len;
  ip_later(c, ip_write_task);
  return 0;
}

static void ip_eof_task(void *a, void *b) {
  (void)b;
  bx__conn_close(bx__conn_of(a), BX_ECONNLOST);
  bx_box_unref(a);
}

static void ip_closed_task(void *a, void *b) {
  (void)b;
  bx__conn_closed(bx__conn_of(a));
  bx_box_unref(a);
}

static void ip_close(bx__conn *c) {
  ip_conn *ic = ip(c);
  ic->closing = true;
  bx__conn *peer = ic->peer;
  ic->peer = NULL;
  if (peer != NULL) {
    ip(peer)->peer = NULL;
    ip_later(peer, ip_eof_task);
  }
  ip_later(c, ip_closed_task);
}

const bx__tran bx__inproc_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "inproc",
    .listener_size = sizeof(ip_listener),
    .conn_size = sizeof(ip_conn),
    .check = ip_check,
    .listen = ip_listen,
    .listen_close = ip_listen_close,
    .dial = ip_dial,
    .write = ip_write,
    .close = ip_close,
};
