/* nats://: boxes over a NATS cluster.
 *
 * Design notes
 * - One link is one NATS connection (bxn_client) of one context; it belongs to a listener,
 *   either one bx_nats_attach() / bx_listen("nats://...") made (it serves the context's
 *   services) or an implicit one the first dial to those servers made (client only). Later
 *   dials of the context to the same servers share the link.
 * - Peers are logical: each is keyed by the subject it publishes to. A dialled peer publishes
 *   to `<prefix>.svc.<service>`; an accepted one to the reply subject of what came in (a
 *   caller's inbox). Every peer has its own inbox subject `_INBOX.<nuid>.<token>` (one wildcard
 *   subscription per link), sent as the reply subject of everything it publishes, so whatever
 *   answers it (a reply, a callback, a relay) finds its way back and ReturnBox means "the peer
 *   that sent this".
 * - Input: a message on a service subject, or on an inbox whose reply subject is not the
 *   inbox peer's own remote, is dispatched from the peer for its reply subject (created on
 *   first use, closed after idle_ms without traffic). A 503 status on a dialled peer's inbox
 *   is NATS's "no responders": the peer closes with BX_ENOSERVICE, so its calls fail at once.
 * - A lost server connection closes every peer of the link with BX_ECONNLOST (calls in flight
 *   fail; nothing is replayed); the client reconnects and re-subscribes, and client boxes dial
 *   again on their next send. A dial made while the link is not connected waits for it, and
 *   fails with the last error when a round over every known server fails.
 * - Services: the link observes the root registry's named entries and keeps a queue
 *   subscription `<prefix>.svc.<name>` (queue group the same) for each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bx/nats.h"
#include "nats_internal.h"

#define NT_MAX_TEXT 1024

typedef struct nt_link nt_link;

typedef struct nt_peer {
  nt_link *nl;
  char *remote;   /* the subject it publishes to ("": nowhere, a message without reply) */
  char token[24]; /* its inbox token */
  bool dialled;
  bool pending; /* dialled, waiting for the link to connect */
  uint64_t last_ms;
} nt_peer;

struct nt_link {
  bx__link *k;
  bx_listener *l;
  bx_ctx *ctx;
  nt_link *next; /* in the process's list of links (for dials to share) */
  bxn_client *cl;
  char *key; /* the servers and credentials part of the URL */
  char prefix[64];
  bool serve;
  char inbox_prefix[48]; /* "_INBOX.<nuid>." */
  uint64_t inbox_sid;
  bx__map *by_remote; /* remote subject -> bx__conn (borrowed) */
  bx__map *by_token;  /* inbox token -> bx__conn (borrowed) */
  bx__map *services;  /* service name -> uint64_t sid (owned) */
  uint64_t next_token;
  uint64_t idle_ms;
  uv_timer_t sweep;
  bool sweep_open;
  bool client_open;
  bool observing;
  bool closing;
  uint64_t ls_sid;  /* <prefix>.ls: who serves what (serving links) */
  bx__map *proxies; /* federation: name -> (void *)1, proxies registered for remote services */
  bx__map *seen;    /* federation: names the cluster announced since the last round */
  bx__map *known;   /* federation: names announced in the last complete round */
  uv_timer_t fed;
  bool fed_open;
  bx__conn *held; /* a write waiting for the client's buffer to drain */
  const char *held_buf;
  size_t held_len;
};

typedef struct nt_listener {
  nt_link *nl;
} nt_listener;

static uv_mutex_t nt_lock;
static uv_once_t nt_once = UV_ONCE_INIT;
static nt_link *nt_links;

static void nt_init_lock(void) {
  uv_mutex_init(&nt_lock);
}

static _Thread_local const bx_nats_opts *nt_attach_opts;

/* ---- URLs: [user:pass@|token@]host:port[,host:port...][/service][?query] ----------------- */

typedef struct nt_url {
  char key[NT_MAX_TEXT];     /* credentials and servers, as written */
  char servers[NT_MAX_TEXT]; /* servers only */
  char user[128], pass[128], token[256];
  char service[256];
  char prefix[64];
  bool serve;
} nt_url;

static bool nt_subject_token_ok(const char *s) {
  if (*s == '\0') return false;
  for (; *s; s++)
    if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' || *s == '*' || *s == '>') return false;
  return true;
}

static bool nt_copy(char *dst, size_t cap, const char *s, size_t n) {
  if (n >= cap) return false;
  memcpy(dst, s, n);
  dst[n] = '\0';
  return true;
}

static int nt_query(nt_url *u, const char *q) {
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', n);
    if (eq == NULL) return BX_EINVAL;
    size_t kn = (size_t)(eq - q), vn = n - kn - 1;
    const char *v = eq + 1;
    if (kn == 6 && memcmp(q, "prefix", 6) == 0) {
      if (vn == 0 || !nt_copy(u->prefix, sizeof u->prefix, v, vn)) return BX_EINVAL;
    } else if (kn == 5 && memcmp(q, "serve", 5) == 0) {
      u->serve = !(vn == 1 && v[0] == '0');
    } else {
      return BX_EINVAL;
    }
    q += n + (amp ? 1 : 0);
  }
  return nt_subject_token_ok(u->prefix) ? 0 : BX_EINVAL;
}

static int nt_parse(const char *addr, nt_url *u) {
  memset(u, 0, sizeof *u);
  strcpy(u->prefix, "bx");
  u->serve = true;
  size_t n = strcspn(addr, "/?");
  if (n == 0 || !nt_copy(u->key, sizeof u->key, addr, n)) return BX_EINVAL;
  const char *rest = addr + n;
  if (*rest == '/') {
    size_t sn = strcspn(rest + 1, "?");
    if (!nt_copy(u->service, sizeof u->service, rest + 1, sn) ||
        (sn > 0 && !nt_subject_token_ok(u->service)))
      return BX_EINVAL;
    rest += 1 + sn;
  }
  if (*rest == '?' && nt_query(u, rest + 1) != 0) return BX_EINVAL;
  const char *at = strrchr(u->key, '@');
  const char *servers = u->key;
  if (at != NULL) {
    size_t cn = (size_t)(at - u->key);
    const char *colon = memchr(u->key, ':', cn);
    if (colon != NULL) {
      if (!nt_copy(u->user, sizeof u->user, u->key, (size_t)(colon - u->key)) ||
          !nt_copy(u->pass, sizeof u->pass, colon + 1, cn - (size_t)(colon - u->key) - 1))
        return BX_EINVAL;
    } else if (!nt_copy(u->token, sizeof u->token, u->key, cn)) {
      return BX_EINVAL;
    }
    servers = at + 1;
  }
  if (*servers == '\0') return BX_EINVAL;
  strcpy(u->servers, servers);
  /* every server must be host:port */
  const char *p = servers;
  while (*p) {
    size_t sn = strcspn(p, ",");
    char one[300], host[256], port[16];
    if (!nt_copy(one, sizeof one, p, sn) ||
        bx__addr_split(one, host, sizeof host, port, sizeof port) != 0)
      return BX_EINVAL;
    p += sn + (p[sn] == ',' ? 1 : 0);
  }
  return 0;
}

static int nt_check(const char *addr) {
  nt_url u;
  return nt_parse(addr, &u);
}

/* ---- peers --------------------------------------------------------------------------------- */

static nt_peer *nt_p(bx__conn *c) {
  return bx__conn_priv(c);
}

static uint64_t nt_now(nt_link *nl) {
  return uv_now(bx_ctx_loop(nl->ctx));
}

/* Gives c its inbox token and enters it in the link's tables. */
static int nt_peer_init(nt_link *nl, bx__conn *c, const char *remote, bool dialled) {
  nt_peer *p = nt_p(c);
  p->nl = nl;
  p->dialled = dialled;
  p->last_ms = nt_now(nl);
  p->remote = bx__strdup(remote);
  if (p->remote == NULL) return BX_ENOMEM;
  bx__u64_decimal(++nl->next_token, p->token);
  if (bx__map_put(nl->by_token, p->token, c, NULL) != 0) return BX_ENOMEM;
  if (!dialled && bx__map_put(nl->by_remote, p->remote, c, NULL) != 0) {
    bx__map_del(nl->by_token, p->token);
    return BX_ENOMEM;
  }
  bx_peer_info *info = bx__conn_peer(c);
  snprintf(info->address, sizeof info->address, "%s", remote);
  return 0;
}

static void nt_peer_forget(bx__conn *c) {
  nt_peer *p = nt_p(c);
  nt_link *nl = p->nl;
  if (nl == NULL) return;
  if (bx__map_get(nl->by_token, p->token) == c) bx__map_del(nl->by_token, p->token);
  if (!p->dialled && p->remote && bx__map_get(nl->by_remote, p->remote) == c)
    bx__map_del(nl->by_remote, p->remote);
  if (nl->held == c) { /* its held write ends with it */
    nl->held = NULL;
    bx__link_write_done(nl->k, BX_ECONNLOST);
  }
  free(p->remote);
  p->remote = NULL;
  p->nl = NULL;
}

static void nt_peer_gone(bx__link *k, bx__conn *c) {
  (void)k;
  nt_peer_forget(c);
}

/* The peer that answers on `remote` (a reply subject), made on first use. */
static bx__conn *nt_peer_for(nt_link *nl, const char *remote) {
  bx__conn *c = bx__map_get(nl->by_remote, remote);
  if (c != NULL) return c;
  c = bx__conn_accept(nl->k);
  if (c == NULL) return NULL;
  if (nt_peer_init(nl, c, remote, false) != 0) {
    bx__conn_close(c, BX_ENOMEM);
    return NULL;
  }
  if (bx__conn_opened(c) != 0) return NULL; /* refused, closing (logged) */
  return c;
}

/* ---- input --------------------------------------------------------------------------------- */

static void nt_dispatch(nt_link *nl, bx__conn *c, const bxn_op *m) {
  nt_peer *p = nt_p(c);
  p->last_ms = nt_now(nl);
  bx__conn_message(c, m->payload, m->payload_len);
}

static void nt_ls_answer(nt_link *nl, const bxn_op *m);

static void nt_on_inbox(nt_link *nl, const bxn_op *m, const char *reply) {
  size_t pl = strlen(nl->inbox_prefix);
  char token[24];
  bx__conn *own = NULL;
  if (m->subject_len > pl && m->subject_len - pl < sizeof token) {
    memcpy(token, m->subject + pl, m->subject_len - pl);
    token[m->subject_len - pl] = '\0';
    if (strcmp(token, "ls") == 0) {
      nt_ls_answer(nl, m);
      return;
    }
    own = bx__map_get(nl->by_token, token);
  }
  int status = bxn_header_status(m->hdr, m->hdr_len);
  if (status != 0 && m->payload_len == 0) {
    if (status == 503 && own != NULL && nt_p(own)->dialled) {
      bx_log(nl->ctx, BX_LOG_INFO, "nats: no responders on %s", nt_p(own)->remote);
      bx__conn_close(own, BX_ENOSERVICE);
    } else {
      bx_log(nl->ctx, BX_LOG_DEBUG, "nats: status %d on %.*s ignored", status, (int)m->subject_len,
             m->subject);
    }
    return;
  }
  bx__conn *c = own;
  if (reply != NULL && (own == NULL || strcmp(nt_p(own)->remote, reply) != 0))
    c = nt_peer_for(nl, reply);
  if (c == NULL) {
    bx_log(nl->ctx, BX_LOG_WARN, "nats: dropping a message of %zu bytes on %.*s: %s",
           m->payload_len, (int)m->subject_len, m->subject,
           reply ? "no room for its sender" : "no sender to dispatch it from");
    return;
  }
  nt_dispatch(nl, c, m);
}

/* <prefix>.ls: answers with the JSON array of the names this link serves. */
static void nt_ls_reply(nt_link *nl, const char *reply) {
  if (reply == NULL || nl->cl == NULL) return;
  cJSON *a = cJSON_CreateArray();
  size_t pos = 0;
  const char *name;
  while (a != NULL && bx__map_next(nl->services, &pos, &name, NULL))
    cJSON_AddItemToArray(a, cJSON_CreateString(name));
  char *text = a ? cJSON_PrintUnformatted(a) : NULL;
  cJSON_Delete(a);
  int rc = text ? bxn_pub(nl->cl, reply, NULL, text, strlen(text)) : BX_ENOMEM;
  if (rc) bx_log(nl->ctx, BX_LOG_WARN, "nats: cannot answer a listing: %s", bx_strerror(rc));
  cJSON_free(text);
}

/* A listing from some attached context: its names are part of this round. */
static void nt_ls_answer(nt_link *nl, const bxn_op *m) {
  if (nl->seen == NULL) return;
  cJSON *a = cJSON_ParseWithLength(m->payload, m->payload_len);
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (cJSON_IsString(e) && nt_subject_token_ok(e->valuestring) &&
        bx__map_get(nl->seen, e->valuestring) == NULL)
      bx__map_put(nl->seen, e->valuestring, (void *)1, NULL);
  }
  cJSON_Delete(a);
}

static void nt_on_msg(void *data, const bxn_op *m) {
  nt_link *nl = data;
  if (nl->closing) return;
  char reply[NT_MAX_TEXT];
  const char *r = NULL;
  if (m->reply != NULL) {
    if (m->reply_len >= sizeof reply) {
      bx_log(nl->ctx, BX_LOG_WARN, "nats: dropping a message whose reply subject is too long");
      return;
    }
    memcpy(reply, m->reply, m->reply_len);
    reply[m->reply_len] = '\0';
    r = reply;
  }
  if (m->sid == nl->inbox_sid) {
    nt_on_inbox(nl, m, r);
    return;
  }
  if (m->sid == nl->ls_sid && nl->ls_sid != 0) {
    nt_ls_reply(nl, r);
    return;
  }
  /* a service subject: from the peer of its reply subject ("" for a message without one) */
  bx__conn *c = nt_peer_for(nl, r ? r : "");
  if (c == NULL) {
    bx_log(nl->ctx, BX_LOG_WARN, "nats: dropping a request of %zu bytes on %.*s", m->payload_len,
           (int)m->subject_len, m->subject);
    return;
  }
  nt_dispatch(nl, c, m);
}

/* ---- events -------------------------------------------------------------------------------- */

static void nt_connected_task(void *a, void *b) {
  (void)b;
  bx_box *box = a;
  bx__conn *c = bx__conn_of(box);
  if (c != NULL && nt_p(c)->nl != NULL) {
    nt_p(c)->pending = false;
    bx__conn_connected(c, 0);
  }
  bx_box_unref(box);
}

/* Reports the dials waiting for the link: connected (status 0) or failed. */
static void nt_settle_pending(nt_link *nl, int status) {
  size_t n = bx__map_size(nl->by_token), k = 0;
  if (n == 0) return;
  bx_box **boxes = calloc(n, sizeof *boxes);
  if (boxes == NULL) return;
  size_t pos = 0;
  void *value;
  while (bx__map_next(nl->by_token, &pos, NULL, &value))
    if (nt_p(value)->pending && k < n) boxes[k++] = bx_box_ref(bx__conn_box(value));
  for (size_t i = 0; i < k; i++) {
    bx__conn *c = bx__conn_of(boxes[i]);
    if (nt_p(c)->nl != NULL && nt_p(c)->pending) {
      nt_p(c)->pending = false;
      bx__conn_connected(c, status);
    }
    bx_box_unref(boxes[i]);
  }
  free(boxes);
}

static void nt_link_check_closed(nt_link *nl);

static void nt_on_event(void *data, int ev, int status) {
  nt_link *nl = data;
  switch (ev) {
  case BXN_EV_CONNECTED:
    nt_settle_pending(nl, 0);
    break;
  case BXN_EV_DISCONNECTED:
    if (nl->held != NULL) { /* the held write is lost with the connection */
      nl->held = NULL;
      bx__link_write_done(nl->k, BX_ECONNLOST);
    }
    bx__link_close_peers(nl->k, BX_ECONNLOST);
    break;
  case BXN_EV_ROUND_FAILED:
    nt_settle_pending(nl, status ? status : BX_ECONNLOST);
    break;
  case BXN_EV_DRAINED:
    if (nl->held != NULL) {
      char inbox[96];
      snprintf(inbox, sizeof inbox, "%s%s", nl->inbox_prefix, nt_p(nl->held)->token);
      int rc = bxn_pub(nl->cl, nt_p(nl->held)->remote, inbox, nl->held_buf, nl->held_len);
      if (rc == BX_EQUEUEFULL) break;
      nl->held = NULL;
      bx__link_write_done(nl->k, rc);
    }
    break;
  case BXN_EV_CLOSED:
    nl->client_open = false;
    nl->cl = NULL;
    nt_link_check_closed(nl);
    break;
  default:
    break;
  }
}

/* ---- services ------------------------------------------------------------------------------ */

static void nt_observe(void *data, const char *name, bool added) {
  nt_link *nl = data;
  if (nl->closing || nl->cl == NULL) return;
  if (nl->proxies != NULL && bx__map_get(nl->proxies, name) != NULL) return; /* not ours */
  uint64_t *sid = bx__map_get(nl->services, name);
  if (!added) {
    if (sid == NULL) return;
    bxn_unsub(nl->cl, *sid);
    free(bx__map_del(nl->services, name));
    return;
  }
  if (sid != NULL) return;
  char subject[NT_MAX_TEXT];
  int n = snprintf(subject, sizeof subject, "%s.svc.%s", nl->prefix, name);
  if (n < 0 || (size_t)n >= sizeof subject || !nt_subject_token_ok(name)) {
    bx_log(nl->ctx, BX_LOG_WARN, "nats: service '%s' is not served: not a subject token", name);
    return;
  }
  sid = malloc(sizeof *sid);
  if (sid == NULL || bxn_sub(nl->cl, subject, subject, sid) != 0) {
    free(sid);
    bx_log(nl->ctx, BX_LOG_WARN, "nats: service '%s' is not served: cannot subscribe", name);
    return;
  }
  if (bx__map_put(nl->services, name, sid, NULL) != 0) {
    bxn_unsub(nl->cl, *sid);
    free(sid);
  }
}

/* ---- idle peers ---------------------------------------------------------------------------- */

static void nt_sweep_cb(uv_timer_t *t) {
  nt_link *nl = t->data;
  uint64_t now = nt_now(nl);
  size_t n = bx__map_size(nl->by_remote), k = 0;
  if (n == 0) return;
  bx_box **boxes = calloc(n, sizeof *boxes);
  if (boxes == NULL) return;
  size_t pos = 0;
  void *value;
  while (bx__map_next(nl->by_remote, &pos, NULL, &value))
    if (now - nt_p(value)->last_ms >= nl->idle_ms && k < n)
      boxes[k++] = bx_box_ref(bx__conn_box(value));
  for (size_t i = 0; i < k; i++) {
    bx__conn_close(bx__conn_of(boxes[i]), BX_ECONNLOST);
    bx_box_unref(boxes[i]);
  }
  free(boxes);
}

/* ---- links --------------------------------------------------------------------------------- */

static void nt_link_free(nt_link *nl) {
  size_t pos = 0;
  void *value;
  if (nl->services) {
    while (bx__map_next(nl->services, &pos, NULL, &value))
      free(value);
    bx__map_free(nl->services);
  }
  bx__map_free(nl->by_remote);
  bx__map_free(nl->by_token);
  bx__map_free(nl->proxies);
  bx__map_free(nl->seen);
  bx__map_free(nl->known);
  free(nl->key);
}

static void nt_unlist(nt_link *nl) {
  uv_once(&nt_once, nt_init_lock);
  uv_mutex_lock(&nt_lock);
  for (nt_link **pp = &nt_links; *pp; pp = &(*pp)->next)
    if (*pp == nl) {
      *pp = nl->next;
      break;
    }
  uv_mutex_unlock(&nt_lock);
}

static void nt_link_check_closed(nt_link *nl) {
  if (!nl->closing || nl->client_open || nl->sweep_open || nl->fed_open) return;
  nt_link_free(nl);
  bx__link_closed(nl->k);
}

static void nt_sweep_closed(uv_handle_t *h) {
  nt_link *nl = h->data;
  nl->sweep_open = false;
  nt_link_check_closed(nl);
}

static void nt_fed_closed(uv_handle_t *h) {
  nt_link *nl = h->data;
  nl->fed_open = false;
  nt_link_check_closed(nl);
}

static void nt_link_close(bx__link *k) {
  nt_link *nl = bx__link_priv(k);
  if (nl->closing) return;
  nl->closing = true;
  nt_unlist(nl);
  if (nl->observing) bx__registry_unobserve(bx_ctx_registry(nl->ctx), nt_observe, nl);
  nl->observing = false;
  if (nl->sweep_open) uv_close((uv_handle_t *)&nl->sweep, nt_sweep_closed);
  if (nl->fed_open) uv_close((uv_handle_t *)&nl->fed, nt_fed_closed);
  if (nl->cl) bxn_close(nl->cl);
  nt_link_check_closed(nl);
}

static int nt_write(bx__link *k, bx__conn *c, const char *buf, size_t len) {
  nt_link *nl = bx__link_priv(k);
  nt_peer *p = nt_p(c);
  if (nl->cl == NULL || p->remote == NULL) return BX_ECONNLOST;
  if (p->remote[0] == '\0') {
    bx_log(nl->ctx, BX_LOG_WARN,
           "nats: a frame of %zu bytes for a sender that gave no reply subject is dropped", len);
    return BX__WRITTEN;
  }
  p->last_ms = nt_now(nl);
  char inbox[96];
  snprintf(inbox, sizeof inbox, "%s%s", nl->inbox_prefix, p->token);
  int rc = bxn_pub(nl->cl, p->remote, inbox, buf, len);
  if (rc == 0) return BX__WRITTEN;
  if (rc == BX_EQUEUEFULL) { /* written when the client's buffer drains */
    nl->held = c;
    nl->held_buf = buf;
    nl->held_len = len;
    return 0;
  }
  return rc;
}

static int nt_link_start(nt_link *nl, const nt_url *u) {
  const bx_nats_opts *o = nt_attach_opts;
  nl->ctx = bx__link_ctx(nl->k);
  nl->key = bx__strdup(u->key);
  nl->by_remote = bx__map_new();
  nl->by_token = bx__map_new();
  nl->services = bx__map_new();
  if (!nl->key || !nl->by_remote || !nl->by_token || !nl->services) return BX_ENOMEM;
  snprintf(nl->prefix, sizeof nl->prefix, "%s", o && o->prefix ? o->prefix : u->prefix);
  if (!nt_subject_token_ok(nl->prefix)) return BX_EINVAL;
  nl->serve = u->serve;
  nl->idle_ms = o && o->idle_ms ? o->idle_ms : 120000;
  char nuid[23];
  bxn_nuid(nuid);
  snprintf(nl->inbox_prefix, sizeof nl->inbox_prefix, "_INBOX.%s.", nuid);
  bxn_opts co;
  memset(&co, 0, sizeof co);
  co.servers = u->servers;
  co.user = o && o->user ? o->user : u->user;
  co.pass = o && o->pass ? o->pass : u->pass;
  co.token = o && o->token ? o->token : u->token;
  co.name = o && o->name ? o->name : bx_ctx_name(nl->ctx);
  co.ping_ms = o ? o->ping_ms : 0;
  bxn_handler h = {.on_msg = nt_on_msg, .on_event = nt_on_event, .data = nl};
  int rc = bxn_client_new(nl->ctx, &co, &h, &nl->cl);
  if (rc) return rc;
  nl->client_open = true;
  char sub[96];
  snprintf(sub, sizeof sub, "%s*", nl->inbox_prefix);
  rc = bxn_sub(nl->cl, sub, NULL, &nl->inbox_sid);
  if (rc) return rc;
  uv_timer_init(bx_ctx_loop(nl->ctx), &nl->sweep);
  nl->sweep.data = nl;
  nl->sweep_open = true;
  uint64_t every = nl->idle_ms / 2 ? nl->idle_ms / 2 : 1;
  uv_timer_start(&nl->sweep, nt_sweep_cb, every, every);
  uv_unref((uv_handle_t *)&nl->sweep);
  if (nl->serve) {
    snprintf(sub, sizeof sub, "%s.ls", nl->prefix);
    rc = bxn_sub(nl->cl, sub, NULL, &nl->ls_sid);
    if (rc) return rc;
    rc = bx__registry_observe(bx_ctx_registry(nl->ctx), nt_observe, nl);
    if (rc) return rc;
    nl->observing = true;
  }
  uv_once(&nt_once, nt_init_lock);
  uv_mutex_lock(&nt_lock);
  nl->next = nt_links;
  nt_links = nl;
  uv_mutex_unlock(&nt_lock);
  return 0;
}

/* ---- listening (attaching) ----------------------------------------------------------------- */

static void nt_listener_closed_task(void *a, void *b) {
  (void)b;
  bx__listener_closed(a);
}

static int nt_listen(bx_listener *l, const char *addr, const bx_listen_opts *opts) {
  nt_url u;
  if (nt_parse(addr, &u) != 0 || u.service[0] != '\0') return BX_EINVAL;
  if (opts == NULL || opts->limits.max_connections == 0) l->limits.max_connections = 65536;
  /* The link joins the listener only once it started: a failed listen frees the listener at
   * once, while the link closes on its own. */
  bx__link *k = bx__link_new(l->ts, &bx__nats_tran, NULL, false);
  if (k == NULL) return BX_ENOMEM;
  nt_link *nl = bx__link_priv(k);
  nl->k = k;
  int rc = nt_link_start(nl, &u);
  if (rc) {
    bx__link_close(k, rc);
    return rc;
  }
  nl->l = l;
  k->listener = l;
  bx__tlink_push(&l->links, &k->on_listener);
  ((nt_listener *)bx__listener_priv(l))->nl = nl;
  return 0;
}

static void nt_listen_close(bx_listener *l) {
  if (bx__defer(l->ctx, nt_listener_closed_task, l, NULL) != 0) bx__listener_closed(l);
}

/* ---- dialling ------------------------------------------------------------------------------ */

static nt_link *nt_find(bx_ctx *ctx, const char *key, const char *prefix) {
  uv_once(&nt_once, nt_init_lock);
  uv_mutex_lock(&nt_lock);
  nt_link *found = NULL;
  for (nt_link *nl = nt_links; nl; nl = nl->next) {
    if (nl->ctx != ctx || nl->closing || strcmp(nl->key, key) != 0 ||
        strcmp(nl->prefix, prefix) != 0)
      continue;
    if (found == NULL || (nl->serve && !found->serve)) found = nl;
  }
  uv_mutex_unlock(&nt_lock);
  return found;
}

static int nt_dial(bx__conn *c, const char *addr) {
  nt_url u;
  if (nt_parse(addr, &u) != 0 || u.service[0] == '\0') return BX_EINVAL;
  bx_ctx *ctx = bx__conn_ctx(c);
  nt_link *nl = nt_find(ctx, u.key, u.prefix);
  if (nl == NULL) {
    char url[NT_MAX_TEXT + 96];
    int n = snprintf(url, sizeof url, "nats://%s?prefix=%s&serve=0", u.key, u.prefix);
    if (n < 0 || (size_t)n >= sizeof url) return BX_EINVAL;
    bx_listener *l = NULL;
    const bx_nats_opts *saved = nt_attach_opts;
    nt_attach_opts = NULL;
    int rc = bx_listen(ctx, url, NULL, &l);
    nt_attach_opts = saved;
    if (rc) return rc;
    nl = ((nt_listener *)bx__listener_priv(l))->nl;
  }
  char remote[NT_MAX_TEXT];
  int n = snprintf(remote, sizeof remote, "%s.svc.%s", nl->prefix, u.service);
  if (n < 0 || (size_t)n >= sizeof remote) return BX_EINVAL;
  int rc = nt_peer_init(nl, c, remote, true);
  if (rc) {
    nt_peer_forget(c);
    return rc;
  }
  bx__link_attach(nl->k, c);
  if (bxn_connected(nl->cl)) {
    if (bx__defer(ctx, nt_connected_task, bx_box_ref(bx__conn_box(c)), NULL) != 0) {
      bx_box_unref(bx__conn_box(c));
      nt_p(c)->pending = true;
    }
  } else {
    nt_p(c)->pending = true;
  }
  return 0;
}

const bx__tran bx__nats_tran = {
    .version = BX__TRAN_VERSION,
    .scheme = "nats",
    .framer = &bx__framer_whole,
    .max_frame = 1024u * 1024u, /* nats-server's default max_payload */
    .listener_size = sizeof(nt_listener),
    .link_size = sizeof(nt_link),
    .conn_size = sizeof(nt_peer),
    .flags = BX__TRAN_NO_HANDSHAKE,
    .check = nt_check,
    .listen = nt_listen,
    .listen_close = nt_listen_close,
    .dial = nt_dial,
    .write = nt_write,
    .link_close = nt_link_close,
    .peer_gone = nt_peer_gone,
};

/* ---- public API ---------------------------------------------------------------------------- */

int bx_nats_attach(bx_ctx *ctx, const char *url, const bx_nats_opts *opts, bx_listener **out) {
  if (out) *out = NULL;
  if (ctx == NULL || url == NULL || out == NULL || strncmp(url, "nats://", 7) != 0)
    return BX_EINVAL;
  bx_listen_opts lo;
  memset(&lo, 0, sizeof lo);
  if (opts) lo.limits = opts->limits;
  const bx_nats_opts *saved = nt_attach_opts;
  nt_attach_opts = opts;
  int rc = bx_listen(ctx, url, &lo, out);
  nt_attach_opts = saved;
  return rc;
}

int bx_nats_service(bx_ctx *ctx, const char *url, bx_box **out) {
  if (out) *out = NULL;
  if (ctx == NULL || url == NULL || out == NULL || strncmp(url, "nats://", 7) != 0)
    return BX_EINVAL;
  nt_url u;
  if (nt_parse(url + 7, &u) != 0 || u.service[0] == '\0') return BX_EINVAL;
  bx_box *conn = NULL;
  int rc = bx_connect(ctx, url, NULL, &conn);
  if (rc) return rc;
  rc = bx_sub_box_new(ctx, u.service, conn, out);
  bx_box_unref(conn);
  return rc;
}

bool bx_nats_connected(const bx_listener *l) {
  if (l == NULL || l->tran != &bx__nats_tran) return false;
  nt_link *nl = ((nt_listener *)bx__listener_priv((bx_listener *)l))->nl;
  return nl != NULL && !nl->closing && nl->cl != NULL && bxn_connected(nl->cl);
}

size_t bx_nats_services(const bx_listener *l) {
  if (l == NULL || l->tran != &bx__nats_tran) return 0;
  nt_link *nl = ((nt_listener *)bx__listener_priv((bx_listener *)l))->nl;
  return nl && nl->services ? bx__map_size(nl->services) : 0;
}

/* ---- federation ---------------------------------------------------------------------------- */

static nt_link *nt_of_listener(const bx_listener *l) {
  if (l == NULL || l->tran != &bx__nats_tran) return NULL;
  nt_link *nl = ((nt_listener *)bx__listener_priv((bx_listener *)l))->nl;
  return nl && !nl->closing ? nl : NULL;
}

/* A proxy for the cluster's `name` in the root registry (none when the name is taken here). */
static void nt_fed_add(nt_link *nl, const char *name) {
  bx_box *root = bx_ctx_registry(nl->ctx);
  if (bx_lookup(root, name) != NULL || bx__map_get(nl->services, name) != NULL) return;
  char url[NT_MAX_TEXT + 400];
  int n = snprintf(url, sizeof url, "nats://%s/%s?prefix=%s", nl->key, name, nl->prefix);
  bx_box *svc = NULL;
  if (n < 0 || (size_t)n >= sizeof url || bx_nats_service(nl->ctx, url, &svc) != 0) return;
  if (bx__map_put(nl->proxies, name, (void *)1, NULL) == 0) {
    if (bx_register(root, name, svc, NULL) != 0)
      bx__map_del(nl->proxies, name);
    else
      bx_log(nl->ctx, BX_LOG_INFO, "nats: %s is served by the cluster", name);
  }
  bx_box_unref(svc);
}

/* Each round: proxies for the names announced last round, none for names gone; then a new
 * listing request. */
static void nt_fed_cb(uv_timer_t *t) {
  nt_link *nl = t->data;
  if (nl->closing || nl->cl == NULL) return;
  bx__map *round = nl->seen;
  bx__map *fresh = bx__map_new();
  if (fresh == NULL) return;
  nl->seen = fresh;
  bx_box *root = bx_ctx_registry(nl->ctx);
  size_t pos = 0;
  const char *name;
  /* proxies whose service nobody announces any more */
  char **gone = calloc(bx__map_size(nl->proxies) + 1, sizeof *gone);
  size_t ngone = 0;
  while (gone && bx__map_next(nl->proxies, &pos, &name, NULL))
    if (bx__map_get(round, name) == NULL) gone[ngone++] = bx__strdup(name);
  for (size_t i = 0; i < ngone; i++) {
    if (gone[i] == NULL) continue;
    bx_unregister(root, gone[i]);
    bx__map_del(nl->proxies, gone[i]);
    bx_log(nl->ctx, BX_LOG_INFO, "nats: %s is no longer served by the cluster", gone[i]);
    free(gone[i]);
  }
  free(gone);
  pos = 0;
  while (bx__map_next(round, &pos, &name, NULL))
    if (bx__map_get(nl->proxies, name) == NULL) nt_fed_add(nl, name);
  bx__map_free(nl->known);
  nl->known = round;
  if (bxn_connected(nl->cl)) {
    char subject[96], reply[96];
    snprintf(subject, sizeof subject, "%s.ls", nl->prefix);
    snprintf(reply, sizeof reply, "%sls", nl->inbox_prefix);
    bxn_pub(nl->cl, subject, reply, "", 0);
  }
}

int bx_nats_federate(bx_listener *l, uint64_t interval_ms) {
  nt_link *nl = nt_of_listener(l);
  if (nl == NULL || !nl->serve || nl->fed_open) return BX_EINVAL;
  nl->proxies = bx__map_new();
  nl->seen = bx__map_new();
  nl->known = bx__map_new();
  if (!nl->proxies || !nl->seen || !nl->known) return BX_ENOMEM;
  uv_timer_init(bx_ctx_loop(nl->ctx), &nl->fed);
  nl->fed.data = nl;
  nl->fed_open = true;
  uint64_t every = interval_ms ? interval_ms : 1000;
  uv_timer_start(&nl->fed, nt_fed_cb, 0, every);
  return 0;
}

size_t bx_nats_cluster_services(const bx_listener *l, bx_nats_name_fn fn, void *data) {
  nt_link *nl = nt_of_listener(l);
  if (nl == NULL || fn == NULL) return 0;
  size_t n = 0, pos = 0;
  const char *name;
  while (bx__map_next(nl->services, &pos, &name, NULL)) {
    fn(name, true, data);
    n++;
  }
  pos = 0;
  while (nl->known && bx__map_next(nl->known, &pos, &name, NULL)) {
    if (bx__map_get(nl->services, name) != NULL) continue;
    fn(name, false, data);
    n++;
  }
  return n;
}
