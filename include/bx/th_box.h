/* telehash boxes: store-and-forward messages between hashnames (spec/telehash section 6).
 *
 * A box host keeps CS3a messages for hashnames that are offline; a client opens a reliable
 * "box" channel on a link to the host to store messages for a recipient, or to collect and
 * remove the messages waiting for itself. Messages are sealed end to end (the host never
 * opens them, except those addressed to itself: direct delivery, section 6.7).
 *
 * - Messages: bx_th_box_seal() / bx_th_box_unseal(): a CS3a message of at most
 *   BX_TH_BOX_MAX_MSG bytes with an inner packet {"type":..} + BODY.
 * - Host: bx_th_box_host_new() on an endpoint answers every "box" channel opened to it, and
 *   adds "box":[W,C] to the link handshakes it sends.
 * - Client: bx_th_box_client_open() on a link to a host, then bx_th_box_client_send().
 * Every callback runs on the context's loop, never inside the call that caused it. */
#ifndef BX_TH_BOX_H
#define BX_TH_BOX_H

#include "telehash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BX_TH_BOX_MAX_MSG 1024  /* a stored message's bytes, sealed */
#define BX_TH_BOX_MAX_INNER 933 /* its inner packet's bytes */
#define BX_TH_BOX_ID_LEN 64     /* a message id: lower-case hex of 32 bytes */

/* ---- messages -------------------------------------------------------------------------------
 */

/* Seals an inner packet {"type":type} + body[0..len) from `from` to the holder of to_pk, with a
 * fresh ephemeral key, into out[0..cap) (cap >= BX_TH_BOX_MAX_MSG is always enough); *out_len
 * its size. All arguments are borrowed. Returns 0, BX_EINVAL (a NULL argument, an empty type),
 * BX_EMSGSIZE (the sealed message would be over BX_TH_BOX_MAX_MSG bytes, or cap too small),
 * BX_EAUTH (to_pk is not a usable key) or BX_ENOMEM. */
BX_EXTERN int bx_th_box_seal(const bx_th_identity *from, const uint8_t to_pk[BX_TH_KEY_BYTES],
                             const char *type, const uint8_t *body, size_t len, uint8_t *out,
                             size_t cap, size_t *out_len);

/* An opened message. */
typedef struct bx_th_box_letter {
  cJSON *head;      /* the inner packet's JSON head (owned by the letter) */
  const char *type; /* head's "type" (points into head), or NULL */
  uint8_t *body;    /* the inner packet's BODY (owned by the letter; NULL when empty) */
  size_t len;
  bool verified; /* true: AUTH checked against the sender's key; false: no key was given, so
                    the sender is only claimed (never trust it silently) */
} bx_th_box_letter;

/* Opens msg[0..len) (borrowed) with me's secret key. from_pk (borrowed, may be NULL) is the
 * public key of the claimed sender: given, AUTH must verify with it. On success the caller owns
 * *out (bx_th_box_letter_free()). Returns 0, BX_EINVAL, BX_EBADMSG (not a message, or an inner
 * packet without a JSON head), BX_ENOTSUP (not CS3a), BX_EAUTH (not sealed to me, altered, or
 * from_pk given and it is not the sender) or BX_ENOMEM; *out is NULL on error. */
BX_EXTERN int bx_th_box_unseal(const bx_th_identity *me, const uint8_t *msg, size_t len,
                               const uint8_t *from_pk, bx_th_box_letter **out);
BX_EXTERN void bx_th_box_letter_free(bx_th_box_letter *l);

/* The id a host gives a message stored without "key": lower-case hex of SHA-256(msg), written
 * with a NUL into out. */
BX_EXTERN void bx_th_box_id(const uint8_t *msg, size_t len, char out[BX_TH_BOX_ID_LEN + 1]);

/* The CS3a key and hashname of a peer or identity JSON text (borrowed; the shape of
 * bx_th_endpoint_json() or an identity file: "keys" with "3a", and "hashname", checked when
 * present), written into key and hn (caller's storage). Returns 0, BX_EINVAL or BX_EBADMSG. */
BX_EXTERN int bx_th_peer_key(const char *json, uint8_t key[BX_TH_KEY_BYTES],
                             char hn[BX_TH_HASHNAME_LEN + 1]);

/* ---- hosts ----------------------------------------------------------------------------------
 */

typedef struct bx_th_box_host bx_th_box_host;

/* A message sealed to the host itself (a client opened box = the host's hashname): msg is
 * borrowed for the call, letter (opened and verified with the link's key) as well. Delivered
 * messages are not stored. */
typedef void (*bx_th_box_deliver_cb)(bx_th_box_host *h, const char *from, const char *id,
                                     const bx_th_box_letter *letter, void *data);

typedef struct bx_th_box_host_opts {
  uint32_t cap;              /* messages per (to, from) box; 0: 10 */
  uint32_t total;            /* messages on the host; 0: 1000 */
  uint32_t expire_default_s; /* expiry of a message stored without "expire"; 0: none */
  uint32_t expire_max_s;     /* the largest "expire" accepted; 0: 2592000 (30 days) */
  uint32_t batch;            /* message packets sent after a response; 0: 32 (at most 48) */
  uint32_t max_channels;     /* box channels open at once; 0: 256 ("busy" beyond) */
  uint32_t max_per_link;     /* box channels open at once per client; 0: 16 */
  /* The clock expiry reads, in milliseconds (NULL: the wall clock). Tests move it by hand and
   * call bx_th_box_host_expire(). */
  uint64_t (*now_ms)(void *data);
  void *now_data;
  /* A file for the messages (SQLite; created when missing): a restarted host serves what it
   * had acknowledged. NULL: memory only. Borrowed for bx_th_box_host_new(). */
  const char *store_path;
  /* Messages to the host itself (section 6.7). NULL: they are stored like any other. */
  bx_th_box_deliver_cb deliver;
  void *deliver_data;
} bx_th_box_host_opts;

/* Makes ep a box host (opts borrowed; NULL: the defaults). The host registers the "box"
 * channel type on ep and the handshake advertisement. With opts->store_path it loads what the
 * file holds. On success the caller owns *out and must free it (bx_th_box_host_free())
 * before closing ep; on error *out is NULL (and the reason is logged). Returns 0, BX_EINVAL,
 * BX_EEXIST (ep already has a host), BX_ENOMEM, or for the store file UV_EROFS (read-only),
 * UV_ENOSPC (disk full), UV_EACCES (cannot be opened), BX_EBADMSG (not a box store, or
 * corrupt) or UV_EIO. A store that fails later (full disk) refuses the packet with err "store
 * failed" and keeps serving what it holds; nothing unstored is acknowledged. */
BX_EXTERN int bx_th_box_host_new(bx_th_endpoint *ep, const bx_th_box_host_opts *opts,
                                 bx_th_box_host **out);
/* Ends every box channel (err "closing"), unregisters and frees h and its messages. NULL is
 * allowed. */
BX_EXTERN void bx_th_box_host_free(bx_th_box_host *h);
/* Removes the messages whose expiry has passed (by opts.now_ms) now. The host also does this
 * on a timer and before each packet it handles. Returns how many. */
BX_EXTERN size_t bx_th_box_host_expire(bx_th_box_host *h);

typedef struct bx_th_box_host_stats {
  uint64_t boxes;     /* (to, from) boxes holding messages now */
  uint64_t stored;    /* messages held now */
  uint64_t accepted;  /* messages stored since start */
  uint64_t duplicate; /* messages not stored again (their id was there) */
  uint64_t evicted;   /* removed to make room (per-box or total capacity) */
  uint64_t expired;   /* removed because their expiry passed */
  uint64_t removed;   /* removed by a client ("key" or "clear") */
  uint64_t delivered; /* message packets sent to clients, and messages handed to deliver */
  uint64_t errors;    /* channels ended with an err */
  uint64_t busy;      /* opens refused over max_channels / max_per_link */
  uint64_t channels;  /* box channels open now */
} bx_th_box_host_stats;
BX_EXTERN void bx_th_box_host_stats_get(const bx_th_box_host *h, bx_th_box_host_stats *out);

/* The box advertisement the peer of link last sent in a handshake ("box":[W,C]): true and *w,
 * *c set when it sent one. */
BX_EXTERN bool bx_th_link_box_advert(const bx_th_link *link, uint32_t *w, uint32_t *c);

/* ---- clients --------------------------------------------------------------------------------
 */

typedef struct bx_th_box_client bx_th_box_client;

typedef enum {
  BX_TH_BOX_RESPONSE = 1, /* the host's first packet */
  BX_TH_BOX_MESSAGE = 2,  /* a stored message (waiting or live) */
  BX_TH_BOX_STATUS = 3,   /* the answer to a later packet */
  BX_TH_BOX_CLOSED = 4    /* the channel is gone (once, last) */
} bx_th_box_event_type;

/* An event; it and everything it points to are borrowed for the callback. */
typedef struct bx_th_box_event {
  bx_th_box_event_type type;
  int64_t cap;        /* RESPONSE, STATUS: room left in the box we store to */
  int64_t waiting;    /* RESPONSE: message packets that follow now */
  const char *box;    /* RESPONSE: the box the host picked (pick mode), else NULL */
  const uint8_t *key; /* RESPONSE: the key of the box (or of the picked sender) when the host
                         sent key info; checked to hash to that hashname. NULL when none. */
  const char *id;     /* MESSAGE: its id (64 hex) */
  const char *from;   /* MESSAGE: its sender as the host knows it */
  const uint8_t *msg; /* MESSAGE: the sealed message */
  size_t len;
  bool end;        /* STATUS: the host ended too */
  int status;      /* CLOSED: 0, BX_EREMOTE (err says the host's text), BX_EAUTH (the host sent
                      key info that does not match), or the channel's status */
  const char *err; /* CLOSED with BX_EREMOTE */
} bx_th_box_event;

typedef void (*bx_th_box_cb)(bx_th_box_client *c, const bx_th_box_event *ev, void *data);

/* Opens a box channel on link (to a box host). box (borrowed) is the hashname to open (ours to
 * collect, a recipient's to store, a sender's to collect from), or NULL to let the host pick
 * (section 6.2). with_key false opens without "csid": the host answers with the box's key
 * (key info). clear true empties the channel's scope first. cb runs for every event, CLOSED
 * last; the client is freed when that callback returns. On success *out is the client (owned by
 * the library until CLOSED). Returns 0, BX_EINVAL, or what bx_th_channel_open() returns. */
BX_EXTERN int bx_th_box_client_open(bx_th_link *link, const char *box, bool with_key, bool clear,
                                    bx_th_box_cb cb, void *data, bx_th_box_client **out);

/* One packet to the host (section 6.4). */
typedef struct bx_th_box_op {
  bool clear;         /* remove every message in scope first */
  const uint8_t *msg; /* a message to store (borrowed), or NULL */
  size_t len;         /* its bytes (at most BX_TH_BOX_MAX_MSG) */
  const char *id;     /* with msg: its id (64 hex; NULL: the host hashes msg); without msg:
                         the id of a message to remove */
  uint32_t expire_s;  /* with msg: seconds it may wait (0: the host's default) */
  bool end;           /* our last packet */
} bx_th_box_op;

/* Sends op (borrowed; copied) on c. Returns 0, BX_EINVAL (a malformed op), BX_EMSGSIZE (msg
 * over BX_TH_BOX_MAX_MSG), or what bx_th_channel_send() returns. */
BX_EXTERN int bx_th_box_client_send(bx_th_box_client *c, const bx_th_box_op *op);
/* Ends c at once (err "closed"); CLOSED follows. */
BX_EXTERN void bx_th_box_client_cancel(bx_th_box_client *c);

/* ---- th:// boxes -----------------------------------------------------------------------------
 *
 * With an endpoint attached to its context, bx_connect(ctx, "th://<hashname>") gives a box
 * whose frames travel as box messages: each FOAM frame is sealed to the hashname (inner packet
 * {"type":"foam"}, the frame as BODY) and delivered directly when a link to it is up (it hosts
 * its own box, section 6.7), else stored at the box host for it to collect. bx_listen(ctx,
 * "th://<our hashname>") accepts what others send us: the context collects its box at the host
 * when attached and at every link-up of the host link (and keeps the channel open for live
 * ones), opens and verifies each message (the sender's key from a link, else fetched from the
 * host; a message that does not verify is dropped and logged), dispatches it (to the box we
 * dialled for that sender, else to the listener's peer for it, whose replies go back the same
 * way), and only then removes it at the host: at-least-once, with duplicates dropped by id.
 * A frame that cannot fit a message (over BX_TH_BOX_MAX_INNER - 17 bytes) is BX_EMSGSIZE at
 * send. Calls keep their own deadlines. */

typedef struct bx_th_boxes_opts {
  const char *host; /* the box host's JSON (bx_th_endpoint_json()'s shape; copied); NULL:
                       direct delivery only */
  uint32_t dedup;   /* message ids remembered to drop duplicates; 0: 4096 */
} bx_th_boxes_opts;

/* Attaches ep (and its context) to th:// boxes with opts (borrowed). ep gets a box host of its
 * own for direct deliveries unless it has one (then messages to it are stored there). Detached
 * when ep closes. Returns 0, BX_EINVAL, BX_EEXIST (ep's context has an endpoint attached
 * already), BX_EBADMSG (opts->host is not a peer's JSON) or BX_ENOMEM. */
BX_EXTERN int bx_th_boxes_attach(bx_th_endpoint *ep, const bx_th_boxes_opts *opts);

/* Teaches ep's th:// boxes the key of a peer (json borrowed: a peer's or identity's JSON), for
 * a recipient the host may not know yet (one that never linked to it). Returns 0, BX_EINVAL
 * (ep not attached), BX_EBADMSG or BX_ENOMEM. */
BX_EXTERN int bx_th_boxes_learn(bx_th_endpoint *ep, const char *json);

typedef struct bx_th_boxes_stats {
  uint64_t sent;      /* frames stored at the host or delivered directly */
  uint64_t direct;    /* of which directly */
  uint64_t received;  /* messages dispatched */
  uint64_t duplicate; /* messages dropped as already dispatched */
  uint64_t rejected;  /* messages that did not open or verify, or had no box to go to */
} bx_th_boxes_stats;
BX_EXTERN void bx_th_boxes_stats_get(const bx_th_endpoint *ep, bx_th_boxes_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* BX_TH_BOX_H */
