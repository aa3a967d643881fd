/* Links: the handshake state machine of one peer, its paths, and sealing what its channels
 * send (spec/telehash section 4).
 *
 * Design notes
 * - Keys. A link has one ephemeral key pair for its whole life (the exchange's): every
 *   handshake we send carries it, so the token the peer must put on channel packets to us
 *   (token_in) never changes and is the key of the endpoint's token table. The peer's
 *   ephemeral key arrives in its handshakes; a new one means a new session (the peer
 *   restarted): fresh channel keys, its old channels close with BX_ECONNLOST, and the link
 *   reports DOWN (BX_ECONNLOST) then UP.
 * - `at`. out_at is what we send (starting at the clock's seconds, with our order's parity),
 *   in_at the highest accepted from the peer. A handshake with at < in_at is stale (a replay or
 *   an old session's): counted and dropped; if its ephemeral key is new (a restarted peer whose
 *   clock is behind our at) we answer with ours, which it adopts. Otherwise it is accepted: a
 *   higher at is adopted, and the link is synced when in_at == out_at.
 * - When to answer. We answer a handshake when we adopted its at, when ours is higher (the
 *   peer must adopt it), when its ephemeral key is new, or when it is the peer's own initiative
 *   (a resend or a keep-alive: we were not waiting for an answer) and we have not sent one in
 *   the last resend_ms / 2. The last rule ends any ping-pong of crossing answers.
 * - Timer (one deadline per link). While unsynced (`awaiting`), resend at 1, 3, 7, 15 times
 *   resend_ms after the first and give up at link_timeout_ms (DOWN with BX_ETIMEDOUT when it
 *   was up; it stays quiet until the peer or bx_th_link_new() wakes it). While synced over
 *   UDP, a keep-alive every keepalive_ms starts the same cycle, so a silent peer goes DOWN.
 * - Paths. Every path is remembered with when it was last heard from; packets go to the most
 *   recently heard one (a peer restarted on a new port is answered there at once), and
 *   unsynced handshakes go to every path when none was heard yet.
 * - User callbacks (link events) run from packet input and timers only; after each one the
 *   code checks ep->closing before it goes on.
 */
#include <time.h>

#include "th_internal.h"

static void lk_timer_fire(bx__deadline *d);

static bx_th_link *lk_of_timer(bx__deadline *d) {
  return (bx_th_link *)((char *)d - offsetof(bx_th_link, hs_timer));
}

static void lk_emit(bx_th_link *k, bx_th_link_event ev, int status) {
  bx_th_endpoint *ep = k->ep;
  if (ep->boxes != NULL && !ep->closing) bx__thb_link_event(k, ev);
  if (ep->opts.link_cb != NULL && !ep->closing) ep->opts.link_cb(k, ev, status, ep->opts.link_data);
}

/* ---- making and freeing ---------------------------------------------------------------------- */

int bx__th_link_make(bx_th_endpoint *ep, const uint8_t key[BX__TH_KEY], bx_th_link **out) {
  *out = NULL;
  int order = bx__th_order_of(ep->pk, key);
  if (order < 0) return order;
  bx_th_link *k = bx__zalloc(sizeof *k);
  if (k == NULL) return BX_ENOMEM;
  k->ep = ep;
  memcpy(k->key, key, BX__TH_KEY);
  k->order = (bx__th_order)order;
  bx_th_hashname_of_key(key, k->hashname);
  crypto_box_keypair(k->eph_pk, k->eph_sk);
  uint8_t h[BX__TH_KEY];
  crypto_hash_sha256(h, k->eph_pk, BX__TH_TOKEN);
  memcpy(k->token_in, h, BX__TH_TOKEN);
  sodium_bin2hex(k->tokhex, sizeof k->tokhex, k->token_in, BX__TH_TOKEN);
  uint32_t at = (uint32_t)time(NULL);
  if (!bx__th_at_fits(k->order, at)) at++;
  k->out_at = at;
  k->next_cid = k->order == BX__TH_ODD ? 1 : 2;
  bx__tlink_init(&k->chans);
  if (bx__map_put(ep->by_hn, k->hashname, k, NULL) != 0) {
    free(k);
    return BX_ENOMEM;
  }
  if (bx__map_put(ep->by_tok, k->tokhex, k, NULL) != 0) {
    bx__map_del(ep->by_hn, k->hashname);
    free(k);
    return BX_ENOMEM;
  }
  bx__tlink_append(&ep->links, &k->node);
  *out = k;
  return 0;
}

void bx__th_link_stop(bx_th_link *k) {
  bx__deadline_stop(k->ep->ctx, &k->hs_timer);
}

void bx__th_link_free(bx_th_link *k) {
  sodium_memzero(k->eph_sk, sizeof k->eph_sk);
  sodium_memzero(&k->keys, sizeof k->keys);
  free(k);
}

const char *bx_th_link_hashname(const bx_th_link *link) {
  return link ? link->hashname : NULL;
}

bool bx_th_link_is_up(const bx_th_link *link) {
  return link != NULL && link->up;
}

void bx_th_link_stats_get(const bx_th_link *link, bx_th_link_stats *out) {
  if (link != NULL && out != NULL) *out = link->stats;
}

/* ---- paths ----------------------------------------------------------------------------------- */

static bool lk_path_match(const bx__th_path *a, const bx__th_path *b) {
  if (a->kind != b->kind) return false;
  if (a->kind == BX__TH_TCP && a->conn != NULL && a->conn == b->conn) return true;
  return bx__th_addr_same(&a->addr, &b->addr);
}

/* Puts p among k's paths (replacing the least recently heard when full); returns the slot. */
static bx__th_path *lk_path_put(bx_th_link *k, const bx__th_path *p) {
  bx__th_path *slot = NULL;
  for (int i = 0; i < BX__TH_MAX_PATHS; i++) {
    bx__th_path *q = &k->paths[i];
    if (q->kind != 0 && lk_path_match(q, p)) {
      if (p->conn != NULL) q->conn = p->conn;
      q->dialable = q->dialable || p->dialable;
      return q;
    }
    if (q->kind == 0 && (slot == NULL || slot->kind != 0))
      slot = q;
    else if (slot == NULL || (slot->kind != 0 && q->heard < slot->heard))
      slot = q;
  }
  *slot = *p;
  return slot;
}

int bx__th_link_add_path(bx_th_link *k, const bx__th_path *p) {
  lk_path_put(k, p);
  return 0;
}

static void lk_heard(bx_th_link *k, const bx__th_path *from) {
  bx__th_path *q = lk_path_put(k, from);
  q->heard = bx__th_now(k->ep);
  if (q->heard == 0) q->heard = 1;
}

static bx__th_path *lk_best(bx_th_link *k) {
  bx__th_path *best = NULL;
  for (int i = 0; i < BX__TH_MAX_PATHS; i++) {
    bx__th_path *q = &k->paths[i];
    if (q->kind == 0) continue;
    if (best == NULL || q->heard > best->heard) best = q;
  }
  return best;
}

void bx__th_link_conn_gone(bx_th_link *k, bx__th_tcp *c) {
  for (int i = 0; i < BX__TH_MAX_PATHS; i++) {
    bx__th_path *q = &k->paths[i];
    if (q->kind != BX__TH_TCP || q->conn != c) continue;
    q->conn = NULL;
    if (!q->dialable) memset(q, 0, sizeof *q);
  }
}

/* ---- sending ----------------------------------------------------------------------------------
 */

static int lk_send(bx_th_link *k, bx__th_path *path, const uint8_t *pkt, size_t len) {
  int rc = bx__th_ep_send(k->ep, path, pkt, len);
  if (rc == 0) k->stats.packets_out++;
  return rc;
}

/* Our handshake (at out_at) to `to`, or to the best path (every path when none was heard). */
static void lk_send_hs(bx_th_link *k, bx__th_path *to) {
  bx_th_endpoint *ep = k->ep;
  bx_buf inner = {0};
  size_t len = 0;
  cJSON *extra = ep->hs_extra != NULL ? ep->hs_extra(k, ep->hs_extra_data) : NULL;
  int rc = bx__th_handshake_append(&inner, k->out_at, ep->pk, extra);
  cJSON_Delete(extra);
  if (rc == 0)
    rc = bx__th_cs3a_seal((uint8_t *)inner.base, inner.len, k->key, ep->sk, k->eph_sk, NULL,
                          ep->wbuf, BX__TH_MAX_PACKET, &len);
  bx_buf_free(&inner);
  if (rc != 0) return;
  k->last_hs_out = bx__th_now(ep);
  k->stats.handshakes_out++;
  bx__th_path *best = lk_best(k);
  if (to != NULL) {
    lk_send(k, to, ep->wbuf, len);
  } else if (best != NULL && best->heard != 0) {
    lk_send(k, best, ep->wbuf, len);
  } else {
    for (int i = 0; i < BX__TH_MAX_PATHS; i++)
      if (k->paths[i].kind != 0) lk_send(k, &k->paths[i], ep->wbuf, len);
  }
}

void bx__th_link_rehandshake(bx_th_link *k) {
  if (k->up && !k->ep->closing) lk_send_hs(k, NULL);
}

int bx__th_link_send_inner(bx_th_link *k, const uint8_t *inner, size_t n) {
  bx_th_endpoint *ep = k->ep;
  if (n + BX__TH_CHAN_OVERHEAD > BX__TH_MAX_PACKET - 64) return BX_EMSGSIZE;
  if (!k->session || !k->up) return BX_ECONNLOST;
  bx__th_path *best = lk_best(k);
  if (best == NULL) return BX_ECONNLOST;
  size_t len = 0;
  int rc = bx__th_channel_seal(inner, n, k->token_out, k->keys.enc, NULL, ep->wbuf,
                               BX__TH_MAX_PACKET, &len);
  if (rc == 0) rc = lk_send(k, best, ep->wbuf, len);
  return rc;
}

/* ---- the state machine ------------------------------------------------------------------------
 */

static void lk_arm(bx_th_link *k, uint64_t ms) {
  bx__deadline_start(k->ep->ctx, &k->hs_timer, ms, lk_timer_fire);
}

/* Starts waiting for an answer; sends a handshake unless one just went (sent). */
static void lk_cycle(bx_th_link *k, bool sent) {
  k->awaiting = true;
  k->gave_up = false;
  k->unsynced_since = bx__th_now(k->ep);
  k->resends = 0;
  if (!sent) lk_send_hs(k, NULL);
  lk_arm(k, k->ep->opts.resend_ms);
}

static void lk_keepalive(bx_th_link *k) {
  bx__th_path *best = lk_best(k);
  if (best != NULL && best->kind == BX__TH_UDP)
    lk_arm(k, k->ep->opts.keepalive_ms);
  else
    bx__deadline_stop(k->ep->ctx, &k->hs_timer);
}

static void lk_synced(bx_th_link *k) {
  k->awaiting = false;
  k->gave_up = false;
  k->synced = true;
  lk_keepalive(k);
  if (k->up) return;
  k->up = true;
  k->ever_up = true;
  bx__th_chans_flush(k);
  lk_emit(k, BX_TH_LINK_UP, 0);
}

static void lk_timer_fire(bx__deadline *d) {
  bx_th_link *k = lk_of_timer(d);
  bx_th_endpoint *ep = k->ep;
  if (ep->closing) return;
  if (!k->awaiting) { /* a keep-alive is due */
    lk_cycle(k, false);
    return;
  }
  uint64_t now = bx__th_now(ep), limit = k->unsynced_since + ep->opts.link_timeout_ms;
  if (now >= limit) {
    k->awaiting = false;
    k->synced = false;
    k->gave_up = true;
    if (k->up) {
      k->up = false;
      lk_emit(k, BX_TH_LINK_DOWN, BX_ETIMEDOUT);
    }
    return;
  }
  lk_send_hs(k, NULL);
  k->resends++;
  /* the next resend: 1, 3, 7, 15 ... times resend_ms after the first handshake */
  uint64_t next = k->unsynced_since + (uint64_t)ep->opts.resend_ms * ((2ull << k->resends) - 1);
  if (k->resends > 20 || next > limit) next = limit;
  lk_arm(k, next > now ? next - now : 1);
}

void bx__th_link_start(bx_th_link *k) {
  lk_cycle(k, false);
}

/* The peer restarted (a new ephemeral key after a session): its old channels are gone. */
static void lk_new_session(bx_th_link *k) {
  bx__th_chans_close_all(k, BX_ECONNLOST);
  k->max_in_cid = 0;
  if (!k->up) return;
  k->up = false;
  k->synced = false;
  lk_emit(k, BX_TH_LINK_DOWN, BX_ECONNLOST);
}

static void lk_handshake(bx_th_link *k, const bx__th_path *from, const bx__th_handshake *hs,
                         const uint8_t *msg, size_t len, const uint8_t eph[BX__TH_KEY]) {
  bx_th_endpoint *ep = k->ep;
  bool new_eph = !k->session || sodium_memcmp(eph, k->their_eph, BX__TH_KEY) != 0;
  if (hs->at < k->in_at) {
    bx__th_drop(ep, k, &ep->stats.stale_handshake);
    if (new_eph) {
      bx__th_path to = *from;
      lk_send_hs(k, &to);
    }
    return;
  }
  bx__th_chankeys keys;
  uint8_t token[BX__TH_TOKEN];
  if (new_eph && (bx__th_channel_keys(k->eph_sk, k->eph_pk, eph, &keys) != 0 ||
                  bx__th_token_of(msg, len, token) != 0)) {
    bx__th_drop(ep, k, &ep->stats.bad_auth);
    return;
  }
  k->stats.packets_in++;
  lk_heard(k, from);
  bx__th_link_note_advert(k, hs->head);
  if (new_eph) {
    bool had = k->session;
    k->keys = keys;
    memcpy(k->token_out, token, BX__TH_TOKEN);
    memcpy(k->their_eph, eph, BX__TH_KEY);
    k->session = true;
    sodium_memzero(&keys, sizeof keys);
    if (had) lk_new_session(k);
    if (ep->closing) return;
  }
  k->in_at = hs->at;
  bool reply;
  if (hs->at > k->out_at) {
    k->out_at = hs->at;
    reply = true;
  } else if (hs->at < k->out_at) {
    reply = true;
  } else {
    uint64_t now = bx__th_now(ep);
    reply = new_eph || (!k->awaiting && now - k->last_hs_out >= ep->opts.resend_ms / 2);
  }
  if (reply) lk_send_hs(k, NULL);
  if (k->in_at == k->out_at)
    lk_synced(k);
  else if (!k->awaiting)
    lk_cycle(k, true);
}

void bx__th_link_handshake_in(bx_th_endpoint *ep, const bx__th_path *from, const uint8_t *msg,
                              size_t len) {
  size_t n = 0;
  int rc = bx__th_cs3a_open(msg, len, ep->sk, ep->rbuf, BX__TH_MAX_PACKET, &n);
  if (rc != 0) {
    bx__th_drop(ep, NULL,
                rc == BX_ENOTSUP ? &ep->stats.unknown_csid
                : rc == BX_EAUTH ? &ep->stats.bad_auth
                                 : &ep->stats.short_packets);
    return;
  }
  bx__th_handshake hs;
  rc = bx__th_handshake_parse(ep->rbuf, n, &hs);
  if (rc != 0) {
    bx__th_drop(ep, NULL, rc == BX_ENOTSUP ? &ep->stats.unknown_csid : &ep->stats.bad_json);
    return;
  }
  uint8_t eph[BX__TH_KEY];
  char hn[BX_TH_HASHNAME_LEN + 1];
  rc = bx__th_cs3a_verify(msg, len, ep->sk, hs.key);
  if (rc == 0) rc = bx__th_cs3a_key(msg, len, eph);
  if (rc != 0 || memcmp(hs.key, ep->pk, BX__TH_KEY) == 0) {
    bx__th_handshake_clear(&hs);
    bx__th_drop(ep, NULL, &ep->stats.bad_auth);
    return;
  }
  bx_th_hashname_of_key(hs.key, hn);
  bx_th_link *k = bx__map_get(ep->by_hn, hn);
  if (k == NULL) { /* a new peer: within max_links (bx__th_ep_admit), it gets a link */
    rc = bx__th_ep_admit(ep);
    if (rc == 0) rc = bx__th_link_make(ep, hs.key, &k);
    if (rc != 0) {
      bx__th_handshake_clear(&hs);
      bx__th_drop(ep, NULL, rc == BX_EQUEUEFULL ? &ep->stats.links_refused : NULL);
      return;
    }
    ep->stranger_links++;
  }
  lk_handshake(k, from, &hs, msg, len, eph);
  bx__th_handshake_clear(&hs);
}

void bx__th_link_channel_in(bx_th_link *k, const bx__th_path *from, const uint8_t *pkt,
                            size_t len) {
  bx_th_endpoint *ep = k->ep;
  if (!k->session) {
    bx__th_drop(ep, k, &ep->stats.bad_auth);
    return;
  }
  size_t n = 0;
  int rc = bx__th_channel_open(pkt, len, k->token_in, k->keys.dec, ep->rbuf, BX__TH_MAX_PACKET, &n);
  if (rc != 0) {
    bx__th_drop(ep, k, rc == BX_EAUTH ? &ep->stats.bad_auth : &ep->stats.short_packets);
    return;
  }
  bx__th_lob lob;
  if (bx__th_lob_parse(ep->rbuf, n, &lob) != 0 || lob.json == NULL) {
    bx__th_drop(ep, k, &ep->stats.bad_json);
    return;
  }
  k->stats.packets_in++;
  k->had_chan = true;
  lk_heard(k, from);
  /* A channel packet that opens proves the peer has our handshake: if we were only waiting for
   * its answer, this is as good as one. */
  if (k->awaiting && k->in_at == k->out_at) lk_synced(k);
  if (!ep->closing) bx__th_chan_in(k, &lob);
  bx__th_lob_clear(&lob);
}

/* ---- the public side ------------------------------------------------------------------------- */

static int lk_parse_path(const cJSON *p, bx__th_path *out) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
  const cJSON *ip = cJSON_GetObjectItemCaseSensitive(p, "ip");
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(p, "port");
  if (!cJSON_IsString(type) || !cJSON_IsString(ip) || !cJSON_IsNumber(port)) return BX_EBADMSG;
  if (port->valuedouble < 1 || port->valuedouble > 65535) return BX_EBADMSG;
  const char *t = type->valuestring;
  memset(out, 0, sizeof *out);
  bool v6;
  if (strcmp(t, "udp4") == 0 || strcmp(t, "udp6") == 0)
    out->kind = BX__TH_UDP;
  else if (strcmp(t, "tcp4") == 0 || strcmp(t, "tcp6") == 0)
    out->kind = BX__TH_TCP;
  else
    return BX_EBADMSG;
  v6 = t[3] == '6';
  out->dialable = out->kind == BX__TH_TCP;
  int rc = v6 ? uv_ip6_addr(ip->valuestring, port->valueint, (struct sockaddr_in6 *)&out->addr)
              : uv_ip4_addr(ip->valuestring, port->valueint, (struct sockaddr_in *)&out->addr);
  return rc == 0 ? 0 : BX_EBADMSG;
}

static int lk_parse_peer(const char *json, uint8_t key[BX__TH_KEY], bx__th_path *paths,
                         int *npaths) {
  cJSON *root = cJSON_Parse(json);
  if (root == NULL) return BX_EBADMSG;
  int rc = 0;
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
  const cJSON *k3a = cJSON_GetObjectItemCaseSensitive(keys, "3a");
  size_t klen = 0;
  if (!cJSON_IsString(k3a) ||
      bx__th_b32_decode(k3a->valuestring, strlen(k3a->valuestring), key, BX__TH_KEY, &klen) != 0 ||
      klen != BX__TH_KEY)
    rc = BX_EBADMSG;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "paths"), *p;
  *npaths = 0;
  cJSON_ArrayForEach(p, arr) {
    if (rc != 0 || *npaths >= BX__TH_MAX_PATHS) break;
    if (lk_parse_path(p, &paths[*npaths]) == 0) (*npaths)++;
  }
  if (rc == 0 && *npaths == 0) rc = BX_EBADMSG;
  cJSON_Delete(root);
  return rc;
}

int bx_th_link_new(bx_th_endpoint *ep, const char *json, bx_th_link **out) {
  if (out != NULL) *out = NULL;
  if (ep == NULL || json == NULL || out == NULL) return BX_EINVAL;
  if (ep->closing) return BX_ECLOSED;
  uint8_t key[BX__TH_KEY];
  bx__th_path paths[BX__TH_MAX_PATHS];
  int n = 0;
  int rc = lk_parse_peer(json, key, paths, &n);
  if (rc != 0) return rc;
  if (memcmp(key, ep->pk, BX__TH_KEY) == 0) return BX_EINVAL;
  char hn[BX_TH_HASHNAME_LEN + 1];
  bx_th_hashname_of_key(key, hn);
  bx_th_link *k = bx__map_get(ep->by_hn, hn);
  if (k != NULL && !k->dialed) /* an unknown peer's link becomes one of ours */
    ep->stranger_links--;
  else if (k == NULL && (rc = bx__th_link_make(ep, key, &k)) != 0)
    return rc;
  k->dialed = true;
  for (int i = 0; i < n; i++)
    lk_path_put(k, &paths[i]);
  lk_cycle(k, false);
  *out = k;
  return 0;
}
