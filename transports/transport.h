/* The transport interface (internal): how a transport plugs into bx.
 *
 * Design notes
 * - A transport is an ops table (bx__tran) registered by URL scheme. The framework allocates
 *   listeners and connections with `listener_size` / `conn_size` bytes of private state for
 *   the transport (bx__listener_priv(), bx__conn_priv()), so a transport never allocates its
 *   own bookkeeping. Slots marked optional have default behaviour when NULL; `version` lets
 *   the table grow without breaking transports written against an older one.
 * - The framework (conn.c) owns everything that is the same for every transport: the
 *   connection box, framing (4-byte little-endian length + JSON, spec/foam section 4),
 *   reassembly, write coalescing, limits, the RegisterSelfMessage handshake, dispatch into
 *   the root registry, and failing what a lost connection leaves behind. A transport only
 *   moves bytes: it dials, accepts, writes one buffer at a time, hands bytes in, and reports
 *   when its handles have closed.
 * - Every callback into the framework runs on the context's loop thread.
 * - Ownership: a connection is the private state of its connection box (a bx_box). The
 *   framework holds one "alive" reference from creation until the transport reports its
 *   handles closed (bx__conn_closed), so handles embedded in the private state stay valid for
 *   libuv. A listener is freed by the framework after bx__listener_closed() and after its last
 *   accepted connection has closed.
 */
#ifndef BX_TRANSPORTS_TRANSPORT_H
#define BX_TRANSPORTS_TRANSPORT_H

#include "rpc_internal.h"

typedef struct bx__conn bx__conn;
typedef struct bx__tstate bx__tstate;

/* A list link; a connection's is the first member of struct bx__conn. */
typedef struct bx__tlink {
  struct bx__tlink *prev, *next;
} bx__tlink;

#define BX__TRAN_VERSION 1

/* bx__tran.flags */
#define BX__TRAN_MESSAGES                                                                       \
  0x1u                             /* the transport frames messages itself (WebSocket): write() \
                                      gets one whole frame of JSON, no length prefix, and input \
                                      arrives whole through bx__conn_message() */
#define BX__TRAN_NO_HANDSHAKE 0x2u /* the dialling side sends no RegisterSelfMessage */

typedef struct bx__tran {
  unsigned version;     /* BX__TRAN_VERSION */
  const char *scheme;   /* "tcp", "unix", "inproc": the URL is scheme://address */
  size_t listener_size; /* private bytes per listener */
  size_t conn_size;     /* private bytes per connection */
  unsigned flags;       /* BX__TRAN_* */

  /* Optional: checks the address part of a URL (what follows "scheme://") without side
   * effects. Returns 0 or BX_EINVAL. Default: any non-empty address. */
  int (*check)(const char *addr);

  /* Required: starts listening on addr. May call bx__listener_set_url() with the address
   * actually bound (default: the URL as given). Accepted connections are announced with
   * bx__conn_accept() + bx__conn_opened(). Returns 0 or an error (nothing to close then). */
  int (*listen)(bx_listener *l, const char *addr);
  /* Required: stops accepting; calls bx__listener_closed(l) once, from a later loop callback,
   * when the listener's handles have closed. */
  void (*listen_close)(bx_listener *l);

  /* Required: starts connecting c (created by the framework) to addr and returns 0, then
   * reports once with bx__conn_connected(c, status) from a later loop callback; or returns
   * an error at once (then nothing else happens and the framework closes c). */
  int (*dial)(bx__conn *c, const char *addr);
  /* Required: writes len bytes of buf (valid until completion); one write at a time. Reports
   * with bx__conn_write_done(c, status) from a later loop callback, or returns an error, or
   * returns BX__WRITTEN when every byte went out at once (then it reports nothing). */
  int (*write)(bx__conn *c, const char *buf, size_t len);
  /* Required: closes c's handles, cancelling a dial or write in progress (their reports may
   * still arrive and are ignored); then calls bx__conn_closed(c) once from a later loop
   * callback. Called once per connection, whatever state it is in. */
  void (*close)(bx__conn *c);
} bx__tran;

/* ---- the scheme table (transport.c) -------------------------------------------------------- */

/* Registers a transport for its scheme (built-in ones are registered already). Not
 * thread-safe: register before creating contexts. Returns 0, BX_EINVAL (bad table or
 * version), BX_EEXIST or BX_ENOMEM (table full). */
int bx__tran_register(const bx__tran *tran);
/* Splits url into its transport and address part (borrowed, points into url). Returns the
 * transport, or NULL (unknown scheme, malformed, or rejected by the transport's check). */
const bx__tran *bx__tran_find(const char *url, const char **addr);

/* The limits with every 0 replaced by its default for ctx; max_frame is capped at the
 * context's frame limit (the codec enforces that one anyway). in may be NULL. */
void bx__limits_resolve(bx_ctx *ctx, const bx_transport_limits *in, bx_transport_limits *out);

/* ---- listeners (listener.c) ----------------------------------------------------------------- */

struct bx_listener {
  const bx__tran *tran;
  bx__tstate *ts; /* the context's transport state (valid while the listener lives) */
  bx_ctx *ctx;
  char *url; /* owned */
  bx_transport_limits limits;
  const bx_listen_opts *opts; /* the caller's options, during tran->listen() only (or NULL) */
  size_t nconns;              /* open accepted connections */
  size_t live;                /* accepted connections whose handles have not closed yet */
  bool closing;               /* bx_listener_close() or the context closing */
  bool handle_closed;         /* the transport reported bx__listener_closed() */
  bx_listener_close_cb close_cb;
  void *close_data;
  bx_listener *prev, *next; /* in ts's list */
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
/* One of l's accepted connections has closed its handles (called by conn.c). */
void bx__listener_conn_closed(bx_listener *l);

/* ---- per-context transport state (listener.c) --------------------------------------------- */

/* The context's transport state, created on first use (NULL when the context is closing or
 * on allocation failure). */
bx__tstate *bx__tstate_get(bx_ctx *ctx);
bx_ctx *bx__tstate_ctx(bx__tstate *ts);
/* The context's transport counters (bx_transport_stats_get). */
bx_transport_stats *bx__tstate_stats(bx__tstate *ts);
/* Connections register here while their handles are open, so that closing the context
 * closes them and waits for them. */
void bx__tstate_add_conn(bx__tstate *ts, bx__conn *c);
void bx__tstate_remove_conn(bx__tstate *ts, bx__conn *c);
/* The shared client box for url (see bx_connect), as a new reference. */
int bx__tstate_client(bx__tstate *ts, const char *url, const bx_transport_limits *limits,
                      bx_box **out);

/* ---- connections (conn.c) ------------------------------------------------------------------ */

extern const bx_box_ops bx__conn_box_ops;

/* A connection accepted by l, not yet open: the transport initialises its private state,
 * accepts into it and then calls bx__conn_opened(c). NULL on allocation failure. */
bx__conn *bx__conn_accept(bx_listener *l);
/* An accepted connection is ready: counts it against the listener's limit (closing it when
 * over) and starts framing. The transport starts reading. Returns 0, or an error when the
 * connection was refused and is being closed. */
int bx__conn_opened(bx__conn *c);

/* A dialled connection for client box `client` (weak): created and dialling, with the
 * RegisterSelfMessage handshake queued. Returns the connection box (the framework's alive
 * reference plus one for the caller) or NULL with *err set. */
bx_box *bx__conn_dial(bx__tstate *ts, const bx__tran *tran, const char *addr,
                      const bx_transport_limits *limits, bx_box *client, int *err);
/* The dial finished (status 0: connected; the transport then starts reading). */
void bx__conn_connected(bx__conn *c, int status);

/* Input: space to read into (at least 1 byte; valid until the next call into the
 * connection), then how much was read (negative: EOF or an error; the connection closes). */
void bx__conn_read_space(bx__conn *c, size_t suggested, char **base, size_t *len);
void bx__conn_read_done(bx__conn *c, ssize_t nread);
/* Input by copy (in-memory transports). */
void bx__conn_input(bx__conn *c, const char *data, size_t len);
/* Input of one whole frame (BX__TRAN_MESSAGES transports); data is borrowed for the call. A
 * frame over the connection's max_frame closes the connection. */
void bx__conn_message(bx__conn *c, const char *data, size_t len);

/* What write() returns when it wrote everything synchronously. */
#define BX__WRITTEN 1

/* A write finished. */
void bx__conn_write_done(bx__conn *c, int status);
/* Closes the connection: its pending calls fail with `code`, its exports and its named path
 * are released. Safe to call more than once and from inside its own callbacks. */
void bx__conn_close(bx__conn *c, int code);
/* The transport's handles have closed (see bx__tran.close). */
void bx__conn_closed(bx__conn *c);

/* Accessors for transports. */
void *bx__conn_priv(bx__conn *c);
bx__conn *bx__conn_of(bx_box *conn_box); /* NULL when not a connection box */
bx_box *bx__conn_box(bx__conn *c);
bx_ctx *bx__conn_ctx(bx__conn *c);
bool bx__conn_is_open(const bx__conn *c);
/* Peer information, filled by the transport once the connection is established (scheme is
 * preset). */
bx_peer_info *bx__conn_peer(bx__conn *c);
/* The listener that accepted c, or NULL for a dialled connection. */
bx_listener *bx__conn_listener(bx__conn *c);

/* Called by listener.c when a client box is dropped at context close: forgets it. */
void bx__conn_forget_client(bx__conn *c);

/* ---- client boxes (client.c) --------------------------------------------------------------- */

/* A new shared client box (one reference) for url. */
bx_box *bx__client_new(bx__tstate *ts, const bx__tran *tran, const char *url,
                       const bx_transport_limits *limits);
/* The connection reports that it closed: the client box drops it (reconnects on next send). */
void bx__client_conn_gone(bx_box *client, bx_box *conn_box);
/* Context closing: the client box closes its connection and rejects every later send. */
void bx__client_shutdown(bx_box *client);

/* ---- built-in transports ------------------------------------------------------------------- */

extern const bx__tran bx__tcp_tran;
extern const bx__tran bx__unix_tran;
extern const bx__tran bx__inproc_tran;
#ifdef BX_HAVE_WS
extern const bx__tran bx__ws_tran;
extern const bx__tran bx__wss_tran;
#endif

#endif /* BX_TRANSPORTS_TRANSPORT_H */
