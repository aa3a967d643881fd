/* A toy message transport written against the framework (transports/framework/framework.h),
 * run through the whole conformance suite: toy://name, in memory, whole messages (one write is
 * one message, like a datagram), and links that carry many logical peers:
 *
 * - the listener's endpoint is one shared link; every client that dials it becomes another
 *   peer on that link;
 * - each client context has one endpoint link too, shared by every peer it dials.
 *
 * A message travels as a run-queue task holding a copy of its bytes and the id of the peer it
 * is for. A peer that goes tells its partner (the partner closes with BX_ECONNLOST, as over a
 * socket). toy_outage() takes every peer down and brings them back on their endpoints, which is
 * what the conformance suite's down/up case needs: peers that keep their state across an
 * outage, as telehash and NATS peers will. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conformance/conformance.h"
#include "framework.h"

typedef struct toy_end { /* a link's private state: an endpoint */
  struct toy_end *next;  /* in toy_ends */
  bx__link *link;
  char name[64]; /* a listener's name; "" for a client endpoint */
  bx_ctx *ctx;   /* a client endpoint's context */
  bx_listener *listener;
} toy_end;

typedef struct toy_peer { /* a peer's private state */
  struct toy_peer *next;  /* in toy_peers while it lives */
  bx__conn *self;
  toy_end *end;    /* the endpoint it belongs to (kept while it is down) */
  unsigned id;     /* this peer */
  unsigned remote; /* the peer it talks to; 0 until connected */
  char dial[64];   /* a dialled peer's destination */
} toy_peer;

static const bx__tran toy_tran_ops;
static toy_end *toy_ends;
static toy_peer *toy_peers;
static unsigned toy_next_id;
static struct {
  int links_made; /* endpoint links made */
  int max_peers;  /* most peers seen on one link at once */
} toy_seen;

static toy_end *toy_end_of(bx__link *k) {
  return bx__link_priv(k);
}
static toy_peer *toy_peer_of(bx__conn *c) {
  return bx__conn_priv(c);
}

static toy_peer *toy_find_peer(unsigned id) {
  for (toy_peer *p = toy_peers; p; p = p->next)
    if (p->id == id) return p;
  return NULL;
}

static void toy_unlist_peer(toy_peer *p) {
  for (toy_peer **i = &toy_peers; *i; i = &(*i)->next)
    if (*i == p) {
      *i = p->next;
      return;
    }
}

static void toy_unlist_end(toy_end *e) {
  for (toy_end **i = &toy_ends; *i; i = &(*i)->next)
    if (*i == e) {
      *i = e->next;
      return;
    }
}

static void toy_count_peers(bx__link *k) {
  int n = 0;
  for (bx__tlink *i = k->peers.next; i != &k->peers; i = i->next)
    n++;
  if (n > toy_seen.max_peers) toy_seen.max_peers = n;
}

/* ---- the "network": tasks on the receiver's run queue ---------------------------------------- */

typedef struct toy_packet {
  unsigned to;
  size_t len; /* 0 and `bye`: the sender went away */
  bool bye;
  char data[];
} toy_packet;

static void toy_deliver_task(void *a, void *b) {
  (void)b;
  toy_packet *pk = a;
  toy_peer *p = toy_find_peer(pk->to);
  if (p != NULL && pk->bye)
    bx__conn_close(p->self, BX_ECONNLOST);
  else if (p != NULL && bx__conn_is_open(p->self))
    bx__conn_message(p->self, pk->data, pk->len);
  free(pk); /* to a peer that is gone or down: lost, as a datagram would be */
}

static int toy_send(bx_ctx *ctx, unsigned to, const char *data, size_t len, bool bye) {
  toy_packet *pk = malloc(sizeof *pk + len);
  if (pk == NULL) return BX_ENOMEM;
  pk->to = to;
  pk->len = len;
  pk->bye = bye;
  if (len) memcpy(pk->data, data, len);
  int rc = bx__defer(ctx, toy_deliver_task, pk, NULL);
  if (rc) free(pk);
  return rc;
}

/* ---- endpoints ---------------------------------------------------------------------------------
 */

static toy_end *toy_end_new(bx__tstate *ts, bx_listener *l, bx_ctx *ctx) {
  bx__link *k = bx__link_new(ts, &toy_tran_ops, l, false);
  if (k == NULL) return NULL;
  toy_end *e = toy_end_of(k);
  e->link = k;
  e->ctx = ctx;
  e->listener = l;
  e->next = toy_ends;
  toy_ends = e;
  toy_seen.links_made++;
  return e;
}

static void toy_link_closed_task(void *a, void *b) {
  (void)b;
  bx__link_closed(a);
}

static void toy_link_close(bx__link *k) {
  toy_unlist_end(toy_end_of(k));
  if (bx__defer(bx__link_ctx(k), toy_link_closed_task, k, NULL) != 0) bx__link_closed(k);
}

/* The client endpoint of c's context: made on the first dial. */
static toy_end *toy_client_end(bx__conn *c) {
  bx_ctx *ctx = bx__conn_ctx(c);
  for (toy_end *e = toy_ends; e; e = e->next)
    if (e->name[0] == '\0' && e->ctx == ctx) return e;
  bx__tstate *ts = bx__tstate_get(ctx);
  return ts ? toy_end_new(ts, NULL, ctx) : NULL;
}

static toy_end *toy_listener_end(const char *name) {
  for (toy_end *e = toy_ends; e; e = e->next)
    if (strcmp(e->name, name) == 0) return e;
  return NULL;
}

/* ---- listening
 * ----------------------------------------------------------------------------------- */

static int toy_check(const char *name) {
  size_t n = strlen(name);
  return n > 0 && n < 64 ? 0 : BX_EINVAL;
}

static int toy_listen(bx_listener *l, const char *name, const bx_listen_opts *opts) {
  (void)opts;
  if (toy_listener_end(name) != NULL) return UV_EADDRINUSE;
  toy_end *e = toy_end_new(l->ts, l, l->ctx);
  if (e == NULL) return BX_ENOMEM;
  snprintf(e->name, sizeof e->name, "%s", name);
  return 0;
}

static void toy_listener_closed_task(void *a, void *b) {
  (void)b;
  bx__listener_closed(a);
}

static void toy_listen_close(bx_listener *l) {
  /* the framework closed the listener's endpoint link already */
  if (bx__defer(l->ctx, toy_listener_closed_task, l, NULL) != 0) bx__listener_closed(l);
}

/* ---- peers --------------------------------------------------------------------------------------
 */

static void toy_peer_init(toy_peer *p, bx__conn *c, toy_end *e) {
  p->self = c;
  p->end = e;
  p->id = ++toy_next_id;
  p->next = toy_peers;
  toy_peers = p;
}

static void toy_fill_peer(bx__conn *c) {
  bx_peer_info *info = bx__conn_peer(c);
  info->has_cred = true; /* the other end is this process */
  info->uid = getuid();
  info->gid = getgid();
  info->pid = getpid();
}

static void toy_connect_task(void *a, void *b) {
  (void)b;
  unsigned id = (unsigned)(uintptr_t)a;
  toy_peer *p = toy_find_peer(id);
  if (p == NULL) return; /* closed while connecting */
  toy_end *srv = toy_listener_end(p->dial);
  if (srv == NULL || bx_ctx_loop(srv->ctx) != bx_ctx_loop(p->end->ctx)) {
    bx__conn_connected(p->self, UV_ECONNREFUSED);
    return;
  }
  bx__conn *sc = bx__conn_accept(srv->link);
  if (sc == NULL) {
    bx__conn_connected(p->self, BX_ENOMEM);
    return;
  }
  toy_peer *sp = toy_peer_of(sc);
  toy_peer_init(sp, sc, srv);
  sp->remote = p->id;
  p->remote = sp->id;
  toy_count_peers(srv->link);
  toy_fill_peer(sc);
  toy_fill_peer(p->self);
  if (bx__conn_opened(sc) != 0) {
    bx__conn_connected(p->self, UV_ECONNREFUSED);
    return;
  }
  bx__conn_connected(p->self, 0);
}

static int toy_dial(bx__conn *c, const char *name) {
  toy_end *e = toy_client_end(c);
  if (e == NULL) return BX_ENOMEM;
  toy_peer *p = toy_peer_of(c);
  toy_peer_init(p, c, e);
  snprintf(p->dial, sizeof p->dial, "%s", name);
  bx__link_attach(e->link, c);
  toy_count_peers(e->link);
  return bx__defer(bx__conn_ctx(c), toy_connect_task, (void *)(uintptr_t)p->id, NULL);
}

static int toy_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  (void)k;
  toy_peer *p = toy_peer_of(c);
  int rc = toy_send(bx__conn_ctx(c), p->remote, buf, len, false);
  return rc ? rc : BX__WRITTEN; /* handed to the network */
}

static void toy_peer_gone(bx__link *k, bx__conn *c) {
  (void)k;
  toy_peer *p = toy_peer_of(c);
  toy_unlist_peer(p);
  if (p->remote != 0) toy_send(bx__conn_ctx(c), p->remote, NULL, 0, true);
  p->remote = 0;
}

/* Every peer down (down = true) or back on its endpoint. */
static void toy_outage(bool down) {
  for (toy_peer *p = toy_peers; p; p = p->next) {
    if (down) {
      bx__conn_down(p->self);
    } else if (bx__conn_is_down(p->self)) {
      bx__link_attach(p->end->link, p->self);
      bx__conn_up(p->self);
    }
  }
}

static const bx__tran toy_tran_ops = {
    .version = BX__TRAN_VERSION,
    .scheme = "toy",
    .framer = &bx__framer_whole,
    .max_frame = 16u * 1024u * 1024u,
    .link_size = sizeof(toy_end),
    .conn_size = sizeof(toy_peer),
    .check = toy_check,
    .listen = toy_listen,
    .listen_close = toy_listen_close,
    .dial = toy_dial,
    .write = toy_write,
    .link_close = toy_link_close,
    .peer_gone = toy_peer_gone,
};

/* ---- the tests
 * ------------------------------------------------------------------------------------ */

static int toy_counter;
static void toy_url(char *buf, size_t len) {
  snprintf(buf, len, "toy://conformance-%d", ++toy_counter);
}

static const bxc_tran toy_conf = {"toy", "toy", toy_url, false, toy_outage, 0, 0};

/* The toy's links did carry several peers each: the suite's relay and two-client cases put a
 * second peer on the listener's endpoint and on a client's. */
static void test_links_carry_many_peers(void **state) {
  (void)state;
  assert_true(toy_seen.links_made > 0);
  assert_true(toy_seen.max_peers >= 2);
  for (toy_end *e = toy_ends; e; e = e->next)
    fprintf(stderr, "left: endpoint '%s' closing=%d peers=%d\n", e->name, e->link->closing,
            e->link->peers.next != &e->link->peers);
  assert_null(toy_ends);  /* every endpoint closed with its context or listener */
  assert_null(toy_peers); /* and every peer went */
}

static int toy_register(void **state) {
  (void)state;
  return bx__tran_register(&toy_tran_ops) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest conf[] = {BXC_TESTS(&toy_conf)};
  const struct CMUnitTest after[] = {cmocka_unit_test(test_links_carry_many_peers)};
  int failed = cmocka_run_group_tests_name("toy", conf, toy_register, NULL);
  failed += cmocka_run_group_tests_name("toy links", after, NULL, NULL);
  return failed;
}
