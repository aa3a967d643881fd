/* The transport framework's private header (never installed): how a transport plugs into bx.
 *
 * Design notes
 * - A transport is an ops table (bx__tran) registered by URL scheme. The framework allocates
 *   its listeners, links and peers with `listener_size` / `link_size` / `conn_size` bytes of
 *   private state for the transport (bx__listener_priv(), bx__link_priv(), bx__conn_priv()),
 *   so a transport never allocates its own bookkeeping. Slots marked optional have default
 *   behaviour when NULL; `version` lets the table grow.
 * - Three objects. A **peer** (bx__conn) is a logical connection: a connection box, the other
 *   side's root registry as seen from here. A **link** (bx__link) is what the transport moves
 *   bytes over: a socket, a UDP endpoint, an in-memory pipe, a NATS connection; it carries one
 *   or more peers. A **framer** (bx__framer) says how messages are cut from and put into a
 *   link's bytes: a length prefix on a stream, or whole messages (one WebSocket message, one
 *   datagram). The message core (peer.c) does everything that is the same for every transport:
 *   the connection box, encoding into a per-peer output queue, write batching, limits, the
 *   RegisterSelfMessage handshake, dispatch into the root registry, and failing what a lost
 *   peer leaves behind; it knows no framing itself.
 * - A peer is connecting, open, **down** or closed. Down means its link is gone for now but
 *   the peer keeps its state (exports, named binding, calls in flight) and queues what is sent
 *   to it, within its limits, until the transport attaches it to a link again and calls
 *   bx__conn_up(); transports that keep peers across outages (store-and-forward, reconnecting
 *   clients) use it. Closing releases everything and fails what waits on the peer.
 * - Writes: one at a time per link. A peer with frames to write queues on its link; the link
 *   writes peers' batches in turn.
 * - Every callback into the framework runs on the context's loop thread.
 * - Ownership: a peer is the private state of its connection box. The framework holds one
 *   "alive" reference from creation until the peer is done with every link (for a solo link:
 *   when the link reports its handles closed). A link is freed after it reported
 *   bx__link_closed() and has no peer left. A listener is freed after bx__listener_closed()
 *   and after its last accepted peer is gone.
 */
#ifndef BX_TRANSPORTS_FRAMEWORK_H
#define BX_TRANSPORTS_FRAMEWORK_H

#include "rpc_internal.h"

typedef struct bx__conn bx__conn;
typedef struct bx__link bx__link;
typedef struct bx__tstate bx__tstate;

/* A list link: a head (sentinel) or a node of a circular list. A node that is on no list is
 * linked to itself or zeroed. */
typedef struct bx__tlink {
  struct bx__tlink *prev, *next;
} bx__tlink;

static inline void bx__tlink_init(bx__tlink *n) {
  n->next = n->prev = n;
}
static inline bool bx__tlink_listed(const bx__tlink *n) {
  return n->next != NULL && n->next != n;
}
static inline void bx__tlink_remove(bx__tlink *n) {
  if (!bx__tlink_listed(n)) return;
  n->prev->next = n->next;
  n->next->prev = n->prev;
  bx__tlink_init(n);
}
/* Puts n last (before head) or first (after head). */
static inline void bx__tlink_append(bx__tlink *head, bx__tlink *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}
static inline void bx__tlink_push(bx__tlink *head, bx__tlink *n) {
  bx__tlink_append(head->next, n);
}

/* ---- framers (framer.c) ---------------------------------------------------------------------- */

/* How a frame sits in a peer's output queue and on the wire. Every frame in the queue has
 * `header` bytes before it, written by put(); get() reads a frame's length back. */
typedef struct bx__framer {
  const char *name;
  size_t header;    /* bytes before each frame in the output queue */
  size_t max_frame; /* the largest frame this framing can carry */
  /* true: the queue goes to the link as one write, headers included (they are the wire's);
   * false: frame by frame, without headers (the link frames each write as a message). */
  bool batch;
  void (*put)(char *hdr, size_t n);
  size_t (*get)(const char *hdr);
  /* Stream input: the next frame in p[0..avail). Returns BX__FRAME_NEED (*need: the bytes the
   * frame takes in all, or 0 when the header is incomplete), BX__FRAME_OK (*off, *len: where
   * the frame's bytes are, *need: header + frame) or BX__FRAME_BAD (a length no peer may
   * send; *len shows it). NULL for whole-message framers. */
  int (*cut)(const char *p, size_t avail, size_t max, size_t *off, size_t *len, size_t *need);
} bx__framer;

enum { BX__FRAME_NEED = 0, BX__FRAME_OK = 1, BX__FRAME_BAD = -1 };

/* spec/foam section 4: a 4-byte little-endian signed length, then that many bytes of JSON. */
extern const bx__framer bx__framer_prefix;
/* One frame per transport message: the transport delivers whole messages (bx__conn_message)
 * and writes each frame as one message. */
extern const bx__framer bx__framer_whole;

/* ---- transports ------------------------------------------------------------------------------ */

#define BX__TRAN_VERSION 2

/* bx__tran.flags */
#define BX__TRAN_NO_HANDSHAKE 0x1u /* the dialling side sends no RegisterSelfMessage */
#define BX__TRAN_ADOPTS_FD 0x2u    /* listen() takes bx_listen_opts.inherited_fd */

typedef struct bx__tran {
  unsigned version;         /* BX__TRAN_VERSION */
  const char *scheme;       /* "tcp", "unix", "inproc": the URL is scheme://address */
  const bx__framer *framer; /* how messages sit in the link's bytes */
  size_t max_frame;         /* the transport's own frame cap; 0: the framer's */
  size_t listener_size;     /* private bytes per listener */
  size_t link_size;         /* private bytes per link */
  size_t conn_size;         /* private bytes per peer */
  unsigned flags;           /* BX__TRAN_* */

  /* Optional: checks the address part of a URL (what follows "scheme://") without side
   * effects. Returns 0 or BX_EINVAL. Default: any non-empty address. */
  int (*check)(const char *addr);

  /* Required: starts listening on addr with the caller's options (NULL: defaults). May call
   * bx__listener_set_url() with the address actually bound (default: the URL as given).
   * Accepted peers are announced with bx__conn_accept() + bx__conn_opened(). Returns 0 or an
   * error (nothing to close then). */
  int (*listen)(bx_listener *l, const char *addr, const bx_listen_opts *opts);
  /* Required: stops accepting; calls bx__listener_closed(l) once, from a later loop callback,
   * when the listener's handles have closed. Links the listener made are closed by it. */
  void (*listen_close)(bx_listener *l);

  /* Required: starts connecting peer c (created by the framework) to addr: makes or finds a
   * link, attaches c to it (bx__link_attach) and returns 0, then reports once with
   * bx__conn_connected(c, status) from a later loop callback; or returns an error at once
   * (then nothing else happens and the framework closes c). */
  int (*dial)(bx__conn *c, const char *addr);
  /* Required: writes len bytes of buf (valid until completion) to peer c over link k; the
   * framework writes one buffer at a time per link. Reports with bx__link_write_done(k,
   * status) from a later loop callback, or returns an error, or returns BX__WRITTEN when every
   * byte went out at once (then it reports nothing). */
  int (*write)(bx__link *k, bx__conn *c, const char *buf, size_t len);
  /* Required: closes k's handles, cancelling a dial or write in progress (their reports may
   * still arrive and are ignored); then calls bx__link_closed(k) once from a later loop
   * callback. Called once per link, whatever state it is in. */
  void (*link_close)(bx__link *k);
  /* Optional: stop (pause) or restart reading k's input for peer c, whose messages cannot be
   * forwarded for now (backpressure). Default: input still arrives and the peer holds it. */
  void (*read_pause)(bx__link *k, bx__conn *c, bool pause);
  /* Optional: peer c leaves link k, which stays (a link of many peers), or closes while down
   * (k NULL); the transport forgets whatever it keeps for c (an address table entry). Nothing
   * is reported back. */
  void (*peer_gone)(bx__link *k, bx__conn *c);
} bx__tran;

/* What write() returns when it wrote everything synchronously. */
#define BX__WRITTEN 1

/* ---- the scheme table (schemes.c) --------------------------------------------------------------
 */

/* Registers a transport for its scheme (built-in ones are registered already). Not
 * thread-safe: register before creating contexts. Returns 0, BX_EINVAL (bad table or
 * version), BX_EEXIST or BX_ENOMEM (table full). */
int bx__tran_register(const bx__tran *tran);
/* Splits url into its transport and address part (borrowed, points into url). Returns the
 * transport, or NULL (unknown scheme, malformed, or rejected by the transport's check). */
const bx__tran *bx__tran_find(const char *url, const char **addr);

/* ---- addresses (address.c) ------------------------------------------------------------------ */

/* Splits "host:port" or "[v6]:port" (brackets dropped) into host and port, copied with a NUL.
 * Returns 0, or BX_EINVAL: no port, an empty or oversized part, or a character no host name
 * or address has. The port's digits are the caller's to check. */
int bx__addr_split(const char *addr, char *host, size_t host_cap, char *port, size_t port_cap);

/* The limits with every 0 replaced by its default for ctx; max_frame is capped at the
 * context's frame limit and at the transport's. in may be NULL. */
void bx__limits_resolve(bx_ctx *ctx, const bx__tran *tran, const bx_transport_limits *in,
                        bx_transport_limits *out);

/* ---- per-context transport state (state.c) ------------------------------------------------- */

/* The context's transport state, created on first use (NULL when the context is closing or
 * on allocation failure). */
bx__tstate *bx__tstate_get(bx_ctx *ctx);
bx_ctx *bx__tstate_ctx(bx__tstate *ts);
/* The context's transport counters (bx_transport_stats_get). */
bx_transport_stats *bx__tstate_stats(bx__tstate *ts);
/* Tracked members: peers, links and listeners register while they hold handles or state, so
 * that closing the context closes them (close(member)) and waits until each has left. */
enum bx__tm_kind { BX__TM_PEER, BX__TM_CLIENT, BX__TM_LINK, BX__TM_LISTENER, BX__TM_KINDS };
typedef struct bx__tmember {
  bx__tlink node;
  int kind; /* bx__tm_kind: the order in which a closing context closes members */
  void (*close)(struct bx__tmember *self);
} bx__tmember;
void bx__tstate_join(bx__tstate *ts, bx__tmember *m);
void bx__tstate_leave(bx__tstate *ts, bx__tmember *m);
/* The context's client boxes by URL (the state holds a reference to each), or NULL once the
 * context is closing. */
bx__map *bx__tstate_clients(bx__tstate *ts);
/* The peer whose inbound message is being dispatched right now (the source of what is relayed
 * meanwhile), or NULL: set around each dispatch by peer.c. */
bx__conn *bx__tstate_source(bx__tstate *ts);
void bx__tstate_set_source(bx__tstate *ts, bx__conn *c);

/* ---- listeners (listener.c) ------------------------------------------------------------------ */

struct bx_listener {
  bx__tmember member; /* first: in the context state while open */
  const bx__tran *tran;
  bx__tstate *ts; /* the context's transport state (valid while the listener lives) */
  bx_ctx *ctx;
  char *url; /* owned */
  bx_transport_limits limits;
  size_t nconns;      /* open accepted peers */
  bx__tlink links;    /* its links not yet freed */
  bool closing;       /* bx_listener_close() or the context closing */
  bool handle_closed; /* the transport reported bx__listener_closed() */
  bx_listener_close_cb close_cb;
  void *close_data;
  union {
    max_align_t align;
    char bytes[1];
  } priv[];
};

static inline void *bx__listener_priv(bx_listener *l) {
  return l->priv;
}
/* Replaces the listener's URL (e.g. with the port actually bound). Returns 0 or BX_ENOMEM. */
int bx__listener_set_url(bx_listener *l, const char *url);
/* The transport's handles have closed (see bx__tran.listen_close). */
void bx__listener_closed(bx_listener *l);
/* One of l's links was freed (called by link.c). */
void bx__listener_link_gone(bx_listener *l);

/* ---- links (link.c) ----------------------------------------------------------------------------
 */

/* The framework's fields of a link; transports use the functions below. */
struct bx__link {
  bx__tmember member; /* first: in the context state while open */
  bx__tstate *ts;
  const bx__tran *tran;
  bx_ctx *ctx;
  bx_listener *listener; /* the listener it belongs to, or NULL */
  bx__tlink on_listener; /* in the listener's list of links */
  bool solo;             /* carries one peer and closes with it */
  bool closing;          /* tran->link_close() was called */
  bool handle_closed;    /* the transport reported bx__link_closed() */
  bool write_pending;    /* a write of `writer`'s is in flight */
  bool writer_held;      /* the link holds a reference to the writer's box (write in flight) */
  bool pumping;          /* inside the write pump */
  bx__tlink peers;       /* attached peers */
  bx__tlink wants;       /* peers with frames waiting for the link, in turn */
  bx__conn *writer;      /* the peer whose batch is being written, or NULL */
  union {
    max_align_t align;
    char bytes[1];
  } priv[];
};

/* A new link of tran on ts, made by the transport (dialling, accepting, binding). A solo link
 * carries exactly one peer and closes with it (a stream socket); otherwise it stays until
 * bx__link_close() (an endpoint many peers share). l: the listener it belongs to, or NULL.
 * NULL on allocation failure. */
bx__link *bx__link_new(bx__tstate *ts, const bx__tran *tran, bx_listener *l, bool solo);
static inline void *bx__link_priv(bx__link *k) {
  return k->priv;
}
static inline bx_ctx *bx__link_ctx(bx__link *k) {
  return k->ctx;
}
static inline bx_listener *bx__link_listener(bx__link *k) {
  return k->listener;
}
/* The first peer on k (a solo link's only one), or NULL. */
bx__conn *bx__link_peer(bx__link *k);
/* A new solo link of c's transport carrying c (a dial's link), or NULL (out of memory). */
bx__link *bx__link_for(bx__conn *c);
/* Puts peer c on link k (a dial's link, or a new link for a peer that was down). */
void bx__link_attach(bx__link *k, bx__conn *c);
/* The link is gone: every peer on it closes with code, then its handles close
 * (tran->link_close). Safe to call more than once. */
void bx__link_close(bx__link *k, int code);
/* The transport's handles have closed (see bx__tran.link_close). */
void bx__link_closed(bx__link *k);
/* A write finished (see bx__tran.write). */
void bx__link_write_done(bx__link *k, int status);
/* peer.c's part of a link's lifecycle: closing every peer on k with code, and releasing the
 * peers still on k once its handles have closed. */
void bx__link_close_peers(bx__link *k, int code);
void bx__link_release_peers(bx__link *k);

/* ---- peers (peer.c)
 * ------------------------------------------------------------------------------ */

extern const bx_box_ops bx__conn_box_ops;

/* A peer accepted on link k (which belongs to a listener), not yet open: the transport
 * initialises its private state and then calls bx__conn_opened(c). NULL on allocation
 * failure. */
bx__conn *bx__conn_accept(bx__link *k);
/* An accepted peer is ready: counts it against the listener's limit (closing it when over)
 * and starts framing. Returns 0, or an error when the peer was refused and is being
 * closed. */
int bx__conn_opened(bx__conn *c);

/* A dialled peer: created and dialling, with the RegisterSelfMessage handshake queued. When
 * it closes, gone(gone_data, its box) runs once (the client box forgets it), unless
 * bx__conn_forget_client() came first. Returns the connection box (the framework's alive
 * reference plus one for the caller) or NULL with *err set. */
bx_box *bx__conn_dial(bx__tstate *ts, const bx__tran *tran, const char *addr,
                      const bx_transport_limits *limits, void (*gone)(void *data, bx_box *conn),
                      void *gone_data, int *err);
void bx__conn_forget_client(bx__conn *c);
/* The client box's other news of a dialled peer (connection states, bx_connection_on_state):
 * up(gone_data, its box) runs when the dial completed (not when bx__conn_dial() returns an
 * open peer), and bx__conn_close_code() says why a closed peer closed (0 while open). */
/* The client boxes' ops (client.c): tells a client box from other boxes. */
extern const bx_box_ops bx__client_box_ops;
void bx__conn_set_up(bx__conn *c, void (*up)(void *data, bx_box *conn));
int bx__conn_close_code(const bx__conn *c);
/* The dial finished (status 0: connected; the transport then starts reading). */
void bx__conn_connected(bx__conn *c, int status);

/* Stream input (framers with cut): space to read into (at least 1 byte; valid until the next
 * call into the peer), then how much was read (negative: EOF or an error; the peer closes). */
void bx__conn_read_space(bx__conn *c, size_t suggested, char **base, size_t *len);
void bx__conn_read_done(bx__conn *c, ssize_t nread);
/* Stream input by copy (in-memory transports). */
void bx__conn_input(bx__conn *c, const char *data, size_t len);
/* Input of one whole frame (whole-message framers); data is borrowed for the call. A frame
 * over the peer's max_frame closes the peer. */
void bx__conn_message(bx__conn *c, const char *data, size_t len);

/* The peer's link is gone for now: it leaves its link and keeps its state, queueing sends
 * within its limits. No-op unless open. */
void bx__conn_down(bx__conn *c);
/* A down peer is back (the transport attached it to a link): queued frames go out. */
void bx__conn_up(bx__conn *c);
bool bx__conn_is_down(const bx__conn *c);

/* The budget of requests in service (budget.c, peer.c): bx__budget_reply_box() returns a box
 * (one reference, the caller's) that stands in for reply, the reply box of a request that came
 * from c, and counts the request against c's limits.max_pending until its first answer passes
 * through it or it is released (NULL when out of memory: then nothing is counted). take/give
 * are its counter: at the limit c's input is paused (logged), at half it goes on (deferred to
 * the run queue). */
bx_box *bx__budget_reply_box(bx__conn *c, bx_box *reply);
void bx__conn_budget_take(bx__conn *c);
void bx__conn_budget_give(bx__conn *c);

/* Closes the peer: its pending calls fail with `code`, its exports and its named path are
 * released, it leaves its link (a solo link closes). Safe to call more than once and from
 * inside its own callbacks. */
void bx__conn_close(bx__conn *c, int code);

/* Accessors for transports. */
void *bx__conn_priv(bx__conn *c);
bx__conn *bx__conn_of(bx_box *conn_box); /* NULL when not a connection box */
bx_box *bx__conn_box(bx__conn *c);
bx_ctx *bx__conn_ctx(bx__conn *c);
bx__link *bx__conn_link(bx__conn *c); /* NULL while down or before a dial attached it */
bool bx__conn_is_open(const bx__conn *c);
/* Peer information, filled by the transport once the peer is established (scheme is
 * preset). */
bx_peer_info *bx__conn_peer(bx__conn *c);
/* The peer's limits, resolved (a dial's native buffers follow them). */
const bx_transport_limits *bx__conn_limits(const bx__conn *c);

/* ---- client boxes (client.c) ---------------------------------------------------------------- */

/* The context's shared client box for url (see bx_connect), as a new reference. Returns 0,
 * BX_EINVAL (malformed or unknown URL), BX_ECLOSING or BX_ENOMEM. */
int bx__client_get(bx_ctx *ctx, const char *url, const bx_transport_limits *limits, bx_box **out);

/* ---- built-in transports --------------------------------------------------------------------- */

extern const bx__tran bx__tcp_tran;
extern const bx__tran bx__unix_tran;
extern const bx__tran bx__inproc_tran;
extern const bx__tran bx__mb_tcp_tran; /* transports/msgbox/mb_box.c */
extern const bx__tran bx__mb_udp_tran;
extern const bx__tran bx__mb_unix_tran;
#ifdef BX_HAVE_WS
extern const bx__tran bx__ws_tran;
extern const bx__tran bx__wss_tran;
#endif

#endif /* BX_TRANSPORTS_FRAMEWORK_H */
