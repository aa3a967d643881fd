/* inproc://name — connections between contexts of one process, in memory.
 *
 * Design notes
 * - The same message core as the socket transports (framing, limits, handshake, failure
 *   semantics); only the byte mover differs. Each end is a solo link with one peer; a write is
 *   a run-queue task that copies the bytes into the other end's peer and then completes the
 *   write. Every event (connect, write, EOF, close) is reported from a later loop callback, as
 *   a socket's would be.
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

#include "framework.h"

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
  bx__conn *self;  /* this end's peer */
  bx__link *other; /* the other end's link (kept until it closes) */
  bool closing;
  bool paused;       /* this end's input is held: the other end's write waits */
  bx__link *blocked; /* the other end, when its write waits for this end to go on */
  char *dial_name;   /* owned, until the dial task ran */
  const char *wbuf;  /* the write in flight (the core keeps it valid) */
  size_t wlen;
} ip_conn;

static ip_conn *ip(bx__link *k) {
  return bx__link_priv(k);
}

static int ip_check(const char *name) {
  size_t n = strlen(name);
  return n > 0 && n < 256 ? 0 : BX_EINVAL;
}

static void ip_fill_peer(bx__conn *c) {
  if (c == NULL) return;
  bx_peer_info *p = bx__conn_peer(c);
  p->has_cred = true; /* the peer is this process */
  p->uid = getuid();
  p->gid = getgid();
  p->pid = getpid();
}

/* Runs fn(k) from k's run queue. A link lives until its close is reported, which is itself
 * such a task, queued after any other of its own. */
static void ip_later(bx__link *k, bx__task_fn fn) {
  if (bx__defer(bx__link_ctx(k), fn, k, NULL) != 0) fn(k, NULL); /* no queue: now */
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

static int ip_listen(bx_listener *l, const char *name, const bx_listen_opts *opts) {
  (void)opts;
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
  bx__link *k = a;
  ip_conn *ic = ip(k);
  char *name = ic->dial_name;
  ic->dial_name = NULL;
  if (!ic->closing) {
    int err;
    bx_listener *l = ip_find(name, bx_ctx_loop(bx__link_ctx(k)), &err);
    bx__link *sk = l ? bx__link_new(l->ts, l->tran, l, true) : NULL;
    bx__conn *sc = sk ? bx__conn_accept(sk) : NULL;
    if (l != NULL && sc == NULL) {
      err = BX_ENOMEM;
      if (sk) bx__link_close(sk, BX_ENOMEM);
    }
    if (sc != NULL) {
      ip(sk)->self = sc;
      ip(sk)->other = k;
      ic->other = sk;
      ip_fill_peer(sc);
      ip_fill_peer(ic->self);
      err = bx__conn_opened(sc) == 0 ? 0 : UV_ECONNREFUSED;
    }
    bx__conn_connected(ic->self, err);
  }
  free(name);
}

static int ip_dial(bx__conn *c, const char *name) {
  bx__link *k = bx__link_for(c);
  if (k == NULL) return BX_ENOMEM;
  ip_conn *ic = ip(k);
  ic->self = c;
  ic->dial_name = bx__strdup(name);
  if (ic->dial_name == NULL) return BX_ENOMEM;
  ip_later(k, ip_dial_task);
  return 0;
}

static void ip_write_task(void *a, void *b) {
  (void)b;
  bx__link *k = a;
  ip_conn *ic = ip(k);
  if (ic->closing) return;
  bx__link *other = ic->other;
  if (other != NULL && ip(other)->paused) { /* the write completes when the reader goes on */
    ip(other)->blocked = k;
    return;
  }
  if (other != NULL) bx__conn_input(ip(other)->self, ic->wbuf, ic->wlen);
  bx__link_write_done(k, other != NULL ? 0 : UV_EPIPE);
}

static int ip_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  (void)c;
  ip_conn *ic = ip(k);
  ic->wbuf = buf;
  ic->wlen = len;
  ip_later(k, ip_write_task);
  return 0;
}

static void ip_read_pause(bx__link *k, bx__conn *c, bool pause) {
  (void)c;
  ip_conn *ic = ip(k);
  ic->paused = pause;
  bx__link *w = ic->blocked;
  if (pause || w == NULL) return;
  ic->blocked = NULL;
  ip_later(w, ip_write_task);
}

static void ip_eof_task(void *a, void *b) {
  (void)b;
  bx__link *k = a;
  if (!ip(k)->closing) bx__conn_close(ip(k)->self, BX_ECONNLOST);
}

static void ip_closed_task(void *a, void *b) {
  (void)b;
  bx__link_closed(a);
}

static void ip_close(bx__link *k) {
  ip_conn *ic = ip(k);
  ic->closing = true;
  bx__link *other = ic->other;
  ic->other = NULL;
  if (ic->blocked != NULL) { /* its write fails now: this end is gone */
    ip_later(ic->blocked, ip_write_task);
    ic->blocked = NULL;
  }
  if (other != NULL) {
    if (ip(other)->blocked == k) ip(other)->blocked = NULL; /* this end's write is moot */
    ip(other)->other = NULL;
    ip_later(other, ip_eof_task);
  }
  ip_later(k, ip_closed_task);
}

const bx__tran bx__inproc_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "inproc",
    .framer = &bx__framer_prefix,
    .listener_size = sizeof(ip_listener),
    .link_size = sizeof(ip_conn),
    .check = ip_check,
    .listen = ip_listen,
    .listen_close = ip_listen_close,
    .dial = ip_dial,
    .write = ip_write,
    .read_pause = ip_read_pause,
    .link_close = ip_close,
};
