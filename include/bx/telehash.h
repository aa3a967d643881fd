/* telehash identities: the keys and hashname a bx peer is known by on the telehash transport.
 *
 * An identity is a Cipher Set 3a key pair (NaCl crypto_box: Curve25519) and the hashname made
 * from it (spec/telehash section 2): 52 lower-case base32 characters. Identity files use
 * telehash-js's JSON shape, so the same file works with the JavaScript reference:
 *   {"keys":{"3a":"<b32 public key>"},"secrets":{"3a":"<b32 secret key>"},"hashname":"<hn>"}
 * A file holds a secret key: bx writes it with mode 0600 and replaces it atomically. */
#ifndef BX_TELEHASH_H
#define BX_TELEHASH_H

#include <cjson/cJSON.h>

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BX_TH_KEY_BYTES 32    /* a CS3a public or secret key */
#define BX_TH_HASHNAME_LEN 52 /* characters of a hashname, without the NUL */

typedef struct bx_th_identity bx_th_identity; /* a key pair and its hashname */

/* Makes a fresh identity from libsodium's random generator. On success the caller owns *out
 * (free it with bx_th_identity_free()); on error *out is NULL. Returns 0, BX_EINVAL (out is
 * NULL), BX_ENOMEM or BX_ENOTSUP (libsodium could not initialise). */
BX_EXTERN int bx_th_identity_new(bx_th_identity **out);

/* Makes the identity of a known secret key (the public key is derived from it; for tests and
 * for keys kept elsewhere). secret is borrowed for the call. On success the caller owns *out;
 * on error *out is NULL. Returns 0, BX_EINVAL, BX_ENOMEM or BX_ENOTSUP. */
BX_EXTERN int bx_th_identity_from_secret(const uint8_t secret[BX_TH_KEY_BYTES],
                                         bx_th_identity **out);

/* Reads an identity file (path borrowed). On success the caller owns *out; on error *out is
 * NULL. Returns 0; BX_EINVAL (a NULL argument); a libuv code for a file that cannot be read
 * (UV_ENOENT, UV_EACCES ...); BX_EBADMSG for a file that is not an identity: not a JSON object
 * of the shape above, over 64 KiB, a key that is not 32 bytes of base32, a public key that does
 * not belong to the secret key, or a "hashname" (optional) that is not the key's; BX_ENOMEM. */
BX_EXTERN int bx_th_identity_load(const char *path, bx_th_identity **out);

/* Writes id to path (both borrowed) in the shape above, with mode 0600: into a temporary file
 * beside path, then renamed over it, so a reader sees the old file or the new one, never a
 * part. Returns 0, BX_EINVAL, BX_ENOMEM or a libuv code from the file system (then path is
 * as it was and no temporary file is left). */
BX_EXTERN int bx_th_identity_save(const bx_th_identity *id, const char *path);

/* Frees id and wipes its secret key; NULL is allowed. */
BX_EXTERN void bx_th_identity_free(bx_th_identity *id);

/* id's hashname: 52 characters and a NUL, owned by id (valid while id lives); NULL for a NULL
 * id. */
BX_EXTERN const char *bx_th_identity_hashname(const bx_th_identity *id);

/* id's CS3a public key: BX_TH_KEY_BYTES bytes owned by id (valid while id lives); NULL for a
 * NULL id. */
BX_EXTERN const uint8_t *bx_th_identity_public_key(const bx_th_identity *id);

/* The hashname of a CS3a-only peer whose public key is key (borrowed), written with a NUL into
 * out (caller's storage). Returns 0 or BX_EINVAL (a NULL argument). */
BX_EXTERN int bx_th_hashname_of_key(const uint8_t key[BX_TH_KEY_BYTES],
                                    char out[BX_TH_HASHNAME_LEN + 1]);

/* ---- endpoints, links and channels ----------------------------------------------------------
 *
 * An endpoint is an identity bound to UDP and TCP sockets on a context's loop. It links to peers
 * (the telehash v3 handshake, spec/telehash section 4) and carries channels over those links.
 * - A link is one peer (one hashname). It is made by bx_th_link_new() from the peer's JSON, or
 *   by the peer linking to us (any peer may: the endpoint accepts handshakes from unknown keys,
 *   up to max_links of them: see bx_th_endpoint_opts).
 *   A link is UP while the two sides are in sync and DOWN when the peer stopped answering (no
 *   answer to the handshake resends for link_timeout_ms); a down link comes back UP by itself
 *   when the peer is heard again. Links are never closed one by one: they live as long as the
 *   endpoint, which owns them (the one exception: a link an unknown peer made that never came
 *   UP and never carried a channel may be freed to make room for another, see max_links; no
 *   callback ever saw it).
 * - Channels are opened on a link by type, with a JSON head and a body, reliable (ordered,
 *   exactly once, resent) or not. Each channel reports packets, and exactly once CLOSED.
 * - Every callback runs on the context's loop, never inside the bx_th_* call that caused it.
 * - Everything the endpoint reports (links, channels, events) is owned by the endpoint. */

#define BX_TH_MAX_BINDS 4 /* sockets one endpoint binds */

typedef struct bx_th_endpoint bx_th_endpoint;
typedef struct bx_th_link bx_th_link;
typedef struct bx_th_channel bx_th_channel;

typedef enum { BX_TH_LINK_UP = 1, BX_TH_LINK_DOWN = 2 } bx_th_link_event;

/* A link came up or went down. link is owned by the endpoint and valid until the endpoint's
 * close callback. status: 0 for UP; for DOWN BX_ETIMEDOUT (no answer) or BX_ECONNLOST (the
 * peer started a new session: a restart; an UP follows at once). */
typedef void (*bx_th_link_cb)(bx_th_link *link, bx_th_link_event event, int status, void *data);

typedef struct bx_th_endpoint_opts {
  /* Sockets to bind, as "udp://IP:PORT" or "tcp://IP:PORT" (IPv6 as "udp://[::1]:0"; port 0
   * picks one). Unused entries NULL; all NULL: "udp://127.0.0.1:0". Borrowed for the call. */
  const char *bind[BX_TH_MAX_BINDS];
  bool no_cloak; /* true: our UDP packets go uncloaked (cloaked ones are accepted either way) */
  /* Handshake timing (0: the default). While unsynced the handshake is resent at 1, 3, 7, 15
   * times resend_ms after the first, and the link gives up (DOWN) at link_timeout_ms. */
  uint32_t resend_ms;       /* default 1000 */
  uint32_t link_timeout_ms; /* default 30000 */
  uint32_t keepalive_ms;    /* UDP keep-alive handshake of an UP link; default 30000 */
  /* Reliable channels: the oldest unacknowledged packet is resent every chan_resend_ms; a
   * channel that gets no acknowledgement for chan_timeout_ms closes with BX_ETIMEDOUT. */
  uint32_t chan_resend_ms;  /* default 2000 */
  uint32_t chan_timeout_ms; /* default 10000 */
  bx_th_link_cb link_cb;    /* optional: link UP / DOWN */
  void *link_data;          /* given to link_cb */
  /* Links made by peers' handshakes (peers nobody gave us with bx_th_link_new()) that the
   * endpoint keeps at most; 0: the default, 1024. When a handshake from a new peer finds them
   * all taken, the oldest such link that never came UP and never carried a channel is freed to
   * make room (links_evicted); when there is none, the handshake is dropped (links_refused).
   * Links made by bx_th_link_new() are not counted and never freed, and a link that came UP
   * once is never freed either (the application may hold it): it stays, DOWN, until the
   * endpoint closes. */
  uint32_t max_links;
} bx_th_endpoint_opts;

/* Makes an endpoint for id on ctx's loop and binds its sockets. id and opts are borrowed for
 * the call (the endpoint copies the keys). On success the caller owns *out and ends it with
 * bx_th_endpoint_close(); on error *out is NULL. Returns 0, BX_EINVAL (a NULL argument, a bind
 * string it cannot read), BX_ENOMEM, BX_ECLOSING (ctx is closing), BX_ENOTSUP (libsodium) or
 * a libuv code from binding (UV_EADDRINUSE ...). */
BX_EXTERN int bx_th_endpoint_new(bx_ctx *ctx, const bx_th_identity *id,
                                 const bx_th_endpoint_opts *opts, bx_th_endpoint **out);

/* Closes ep asynchronously: its open channels end in CLOSED with BX_ECANCELED, its sockets
 * close, and then cb(ep, data) runs once; ep, its links and channels are freed when cb returns.
 * cb may be NULL. Returns 0, or BX_ECLOSED when ep is already closing (cb will not run). When
 * the context closes first, ep closes the same way (channels end with BX_ECLOSING) without a
 * callback, and is freed with the context. */
typedef void (*bx_th_endpoint_close_cb)(bx_th_endpoint *ep, void *data);
BX_EXTERN int bx_th_endpoint_close(bx_th_endpoint *ep, bx_th_endpoint_close_cb cb, void *data);

/* ep's peer JSON, telehash-js's shape:
 *   {"hashname":"..","keys":{"3a":"<b32>"},"paths":[{"type":"udp4","ip":"127.0.0.1","port":N}]}
 * with the ports actually bound. The caller owns the returned string (free()); NULL on
 * allocation failure. */
BX_EXTERN char *bx_th_endpoint_json(const bx_th_endpoint *ep);

/* The port ep bound for its i-th bind string (0..BX_TH_MAX_BINDS-1), or 0 when none. */
BX_EXTERN int bx_th_endpoint_port(const bx_th_endpoint *ep, unsigned i);

/* Packets the endpoint dropped, by why (links count their own as well, bx_th_link_stats). */
typedef struct bx_th_endpoint_stats {
  uint64_t packets_in, packets_out;
  uint64_t dropped;         /* every drop below, and any other */
  uint64_t short_packets;   /* too short for what it claims, or a malformed LOB */
  uint64_t unknown_csid;    /* a handshake of a cipher set other than 3a */
  uint64_t bad_auth;        /* a handshake that does not open or verify, a channel packet whose
                               secretbox does not open */
  uint64_t bad_token;       /* a channel packet for no link of ours */
  uint64_t oversize;        /* over the size limit */
  uint64_t bad_json;        /* a head that is not the JSON it must be */
  uint64_t stale_handshake; /* a handshake with an older `at` (a replay) */
  uint64_t bad_channel;     /* a channel packet for no channel, or outside its window */
  uint64_t links_refused;   /* a handshake from a new peer with every link slot taken (max_links) */
  uint64_t links_evicted;   /* never-UP links of unknown peers freed to make room (not a drop) */
} bx_th_endpoint_stats;
/* Copies ep's counters into *out (caller's storage). */
BX_EXTERN void bx_th_endpoint_stats_get(const bx_th_endpoint *ep, bx_th_endpoint_stats *out);

/* Links to the peer described by json (borrowed; the shape of bx_th_endpoint_json(): "keys"
 * with a "3a" key, "paths" of type udp4, udp6, tcp4 or tcp6 with "ip" and "port"): starts the
 * handshake now. A peer already known (by hashname) gets the new paths and a handshake. On
 * success *out is the link, owned by ep (valid until ep's close callback). Returns 0,
 * BX_EINVAL (a NULL argument, our own key), BX_EBADMSG (json is not such a peer: no 3a key,
 * no usable path), BX_ECLOSED (ep is closing) or BX_ENOMEM; *out is NULL on error. */
BX_EXTERN int bx_th_link_new(bx_th_endpoint *ep, const char *json, bx_th_link **out);

/* The peer's hashname (owned by the link); whether the link is UP. */
BX_EXTERN const char *bx_th_link_hashname(const bx_th_link *link);
BX_EXTERN bool bx_th_link_is_up(const bx_th_link *link);
/* The link of a hashname (borrowed), or NULL. The link is owned by ep. */
BX_EXTERN bx_th_link *bx_th_endpoint_link(const bx_th_endpoint *ep, const char *hashname);

typedef struct bx_th_link_stats {
  uint64_t packets_in;  /* packets from the peer that were accepted */
  uint64_t packets_out; /* packets sent to the peer */
  uint64_t dropped;     /* packets from the peer that were dropped */
  uint64_t handshakes_out;
} bx_th_link_stats;
/* Copies link's counters into *out (caller's storage). */
BX_EXTERN void bx_th_link_stats_get(const bx_th_link *link, bx_th_link_stats *out);

typedef enum { BX_TH_CHAN_PACKET = 1, BX_TH_CHAN_CLOSED = 2 } bx_th_chan_event_type;

/* A channel event; it and everything it points to are borrowed for the callback. */
typedef struct bx_th_chan_event {
  bx_th_chan_event_type type;
  const cJSON *head;   /* PACKET: the packet's whole JSON head (c, seq, ack ... included) */
  const uint8_t *body; /* PACKET: its body (NULL when empty) */
  size_t len;
  bool end;        /* PACKET: the peer's last packet ("end":true) */
  int status;      /* CLOSED: 0 (ended both ways), BX_EREMOTE (the peer sent "err": err says it),
                      BX_ETIMEDOUT (no acknowledgement), BX_ECONNLOST (the peer restarted),
                      BX_ECANCELED (the endpoint closed, or bx_th_channel_fail()), BX_ECLOSING */
  const char *err; /* CLOSED with BX_EREMOTE: the peer's text */
} bx_th_chan_event;

/* A channel's events. ch is owned by the endpoint; it is valid until the callback of its CLOSED
 * event returns. */
typedef void (*bx_th_chan_cb)(bx_th_channel *ch, const bx_th_chan_event *ev, void *data);

/* An incoming open of a registered type: ch is new and first is its first packet (a PACKET
 * event). To keep the channel the handler calls bx_th_channel_set_cb(); without it the channel
 * is ended with err "refused". */
typedef void (*bx_th_open_cb)(bx_th_channel *ch, const bx_th_chan_event *first, void *data);

/* Registers (cb non-NULL) or removes (cb NULL) ep's handler for incoming channels of type
 * (copied). Opens of a type without a handler are answered with err "unknown type". Returns 0,
 * BX_EINVAL or BX_ENOMEM. */
BX_EXTERN int bx_th_endpoint_handle(bx_th_endpoint *ep, const char *type, bx_th_open_cb cb,
                                    void *data);

/* Sets the callback of ch's events (an accepted channel's, from its open handler). */
BX_EXTERN void bx_th_channel_set_cb(bx_th_channel *ch, bx_th_chan_cb cb, void *data);

/* Opens a channel of type (copied) on link. head (borrowed; NULL or an object: fields to add to
 * the first packet's head, "type", "c", "seq", "ack", "end", "err" excepted) and body[0..len)
 * are copied. A reliable channel's packets arrive in order exactly once, and are kept and
 * resent until acknowledged (also while the link is down or not yet up); an unreliable one
 * needs the link UP. On success *out is the channel, owned by the endpoint (see bx_th_chan_cb).
 * Returns 0, BX_EINVAL, BX_ECONNLOST (unreliable and the link is not up), BX_EMSGSIZE,
 * BX_ECLOSED (the endpoint is closing) or BX_ENOMEM; *out is NULL then and cb never runs. */
BX_EXTERN int bx_th_channel_open(bx_th_link *link, const char *type, bool reliable,
                                 const cJSON *head, const uint8_t *body, size_t len,
                                 bx_th_chan_cb cb, void *data, bx_th_channel **out);

/* Sends one packet on ch: head (borrowed, NULL or an object of extra fields) and body are
 * copied. end true makes it the last packet we send ("end":true). Returns 0, BX_EINVAL,
 * BX_ECLOSED (ch is closed, or we ended it already), BX_EQUEUEFULL (a reliable channel with
 * 100 packets unacknowledged), BX_ECONNLOST (unreliable and the link is not up), BX_EMSGSIZE or
 * BX_ENOMEM; nothing is sent then. */
BX_EXTERN int bx_th_channel_send(bx_th_channel *ch, const cJSON *head, const uint8_t *body,
                                 size_t len, bool end);

/* Ends ch at once: sends {"err":err} (err borrowed; NULL: "closed") and reports CLOSED with
 * BX_ECANCELED from the loop. Returns 0 or BX_ECLOSED (already closed). */
BX_EXTERN int bx_th_channel_fail(bx_th_channel *ch, const char *err);

/* ch's id, type (owned by ch), link (owned by the endpoint) and whether it is reliable. */
BX_EXTERN uint32_t bx_th_channel_id(const bx_th_channel *ch);
BX_EXTERN const char *bx_th_channel_type(const bx_th_channel *ch);
BX_EXTERN bx_th_link *bx_th_channel_link(const bx_th_channel *ch);
BX_EXTERN bool bx_th_channel_reliable(const bx_th_channel *ch);

#ifdef __cplusplus
}
#endif
#endif /* BX_TELEHASH_H */
