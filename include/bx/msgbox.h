/* msgbox: plain message-oriented TCP, UDP and Unix-socket messaging on a context's loop.
 *
 * Design notes
 * - The service of the released msgbox library (spec/msgbox), natively on libuv: no FOAM, no
 *   registry; bytes in, bytes out, with one-way messages, requests and replies. Its wire is the
 *   release's, so bx peers and released msgbox peers talk to each other: an 8-byte big-endian
 *   header (uint16 type: 0 one_way, 1 request, 2 reply, 3 heartbeat, 4 close; uint16 reply_id;
 *   uint32 num_bytes) before each payload; a stream of those frames over TCP and Unix sockets,
 *   exactly one datagram per message over UDP.
 * - Every call ends in exactly one of its outcomes, delivered as events (bx_mb_event):
 *     bx_mb_connect -> CONNECTION_SETUP | CONNECTION_SETUP_ERROR
 *     bx_mb_listen  -> LISTENING | LISTENING_ERROR, and after LISTENING: LISTENING_ENDED
 *     CONNECTION_SETUP / CONNECTION_READY -> CONNECTION_CLOSED | CONNECTION_LOST (exactly one)
 *     bx_mb_get     -> REPLY | REPLY_MISSING
 *   A call that returns an error has started nothing and reports nothing.
 * - Callbacks run from the loop only, never inside a bx_mb_* call: outcomes a call causes
 *   (LISTENING, a CLOSED after bx_mb_disconnect ...) go through the context's run queue.
 * - UDP connections are the application's: connecting sends nothing (the remote may not exist),
 *   and a UDP listener keeps one bx_mb_conn per remote address, announced with CONNECTION_READY
 *   on that remote's first datagram; each has its own context.
 * - Closing the context closes everything: each pending get ends in REPLY_MISSING with status
 *   BX_ECLOSING, then each connection in CONNECTION_CLOSED (a connecting one in
 *   CONNECTION_SETUP_ERROR) and each listener in LISTENING_ENDED, all with status BX_ECLOSING.
 */
#ifndef BX_MSGBOX_H
#define BX_MSGBOX_H

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BX_MB_DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u) /* payload bytes of one message */
#define BX_MB_DEFAULT_MAX_QUEUED (64u * 1024u * 1024u)  /* bytes waiting to be sent, per conn */
#define BX_MB_DEFAULT_GET_TIMEOUT_MS 1000u
/* The largest UDP payload (IPv4) less the 8-byte header: a larger message cannot go in one
 * datagram and fails at send time with BX_EMSGSIZE. */
#define BX_MB_MAX_UDP_MESSAGE (65507u - 8u)

/* A connection: a client's, or one remote of a listener; a listener is a bx_mb_conn too. */
typedef struct bx_mb_conn bx_mb_conn;
/* The right to answer one received request (see BX_MB_REQUEST). */
typedef struct bx_mb_reply bx_mb_reply;

typedef enum bx_mb_event_type {
  BX_MB_CONNECTION_SETUP = 1,   /* client: connected (UDP: the socket is ready) */
  BX_MB_CONNECTION_SETUP_ERROR, /* client: status, op say why; the conn is gone afterwards */
  BX_MB_LISTENING,              /* listener: bound and listening (bx_mb_url() says where) */
  BX_MB_LISTENING_ERROR,        /* listener: status, op say why; gone afterwards */
  BX_MB_LISTENING_ENDED,        /* listener: bx_mb_unlisten() or context close; gone after */
  BX_MB_CONNECTION_READY,       /* listener: a new remote, ev->conn (TCP/Unix: accepted) */
  BX_MB_CONNECTION_CLOSED,      /* an orderly close, by either side; gone afterwards */
  BX_MB_CONNECTION_LOST,        /* no `close` came: EOF, reset, bad input, heartbeat silence */
  BX_MB_MESSAGE,                /* a one-way message: data, len */
  BX_MB_REQUEST,                /* a request: data, len, and reply */
  BX_MB_REPLY,                  /* the reply to a get: data, len, reply_context */
  BX_MB_REPLY_MISSING           /* a get ended without reply: status, reply_context */
} bx_mb_event_type;

typedef struct bx_mb_event {
  bx_mb_event_type type;
  /* The connection the event is about (for listener events, the listener). Valid until the
   * callback of its last event (SETUP_ERROR, LISTENING_ERROR, LISTENING_ENDED, CLOSED, LOST)
   * returns. */
  bx_mb_conn *conn;
  void *context;       /* conn's context (bx_mb_set_context), also on its last event */
  void *reply_context; /* REPLY, REPLY_MISSING: the get's */
  /* MESSAGE, REQUEST, REPLY: the payload, borrowed: valid only during the callback. */
  const void *data;
  size_t len;
  /* REQUEST: the callback owns this handle from now on and gives it up exactly once, with
   * bx_mb_reply_send() (now or later, outside the callback too) or bx_mb_reply_release(). */
  bx_mb_reply *reply;
  /* 0, or why: SETUP_ERROR / LISTENING_ERROR a libuv code (UV_ECONNREFUSED, UV_EADDRINUSE);
   * LOST UV_EOF, a read error, BX_EMSGSIZE or BX_EBADMSG (bad input), BX_ETIMEDOUT (heartbeat
   * silence); REPLY_MISSING BX_ETIMEDOUT (the get's timeout), UV_ECONNREFUSED (UDP: ICMP port
   * unreachable), BX_ECANCELED (bx_mb_disconnect), BX_ECONNLOST (lost or closed by the remote)
   * or BX_ECLOSING; CLOSED BX_ECANCELED (bx_mb_disconnect), 0 (the remote closed) or
   * BX_ECLOSING; LISTENING_ENDED BX_ECANCELED (bx_mb_unlisten) or BX_ECLOSING. */
  int status;
  /* SETUP_ERROR, LISTENING_ERROR: the step that failed ("resolve", "bind", "listen",
   * "connect"), static storage; NULL otherwise. */
  const char *op;
} bx_mb_event;

/* An event callback. ev and everything it points to are borrowed for the call. */
typedef void (*bx_mb_cb)(const bx_mb_event *ev);

typedef enum bx_mb_protocol { BX_MB_TCP = 1, BX_MB_UDP, BX_MB_UNIX } bx_mb_protocol;

typedef struct bx_mb_opts {
  size_t max_message; /* payload bytes; a larger incoming header loses the connection before
                         anything is allocated, a larger send fails with BX_EMSGSIZE.
                         Default BX_MB_DEFAULT_MAX_MESSAGE */
  size_t max_queued;  /* bytes accepted but not yet handed to the kernel, per connection; a
                         send over it fails with BX_EQUEUEFULL. Default BX_MB_DEFAULT_MAX_QUEUED */
  /* Heartbeats (only between bx peers: the released library cannot take them). With
   * heartbeat_ms > 0 the connection sends a heartbeat every heartbeat_ms and becomes LOST
   * (BX_ETIMEDOUT) when nothing arrived for heartbeat_timeout_ms (default 3 * heartbeat_ms).
   * A listener's remotes use its settings. Default 0: off (received heartbeats are accepted
   * and ignored either way). */
  uint32_t heartbeat_ms;
  uint32_t heartbeat_timeout_ms;
  /* A Unix listener's socket file permission bits, set between bind and listen (so nobody the
   * mode leaves out can connect in between), e.g. 0666 to let every local user connect. Default
   * 0: 0600, only the owner (and root), as bx_listen_opts.unix_mode. */
  unsigned unix_mode;
} bx_mb_opts;

/* Fills opts with the defaults. */
BX_EXTERN void bx_mb_opts_init(bx_mb_opts *opts);

/* Listens on url: "tcp://HOST:PORT", "udp://HOST:PORT" (HOST "*" for any IPv4 address, "[::]"
 * for any IPv6 one, also "[::1]" or a host name; PORT 0 picks a free port) or "unix:///path"
 * (the socket file is removed when the listener ends). Events of the listener and of all its
 * remotes go to cb; each remote starts with the listener's context. opts may be NULL (copied).
 * Returns 0 and the listener in *out, then LISTENING or LISTENING_ERROR follows; or BX_EINVAL
 * (a malformed URL), BX_ENOMEM or BX_ECLOSING with *out NULL and no event. */
BX_EXTERN int bx_mb_listen(bx_ctx *ctx, const char *url, const bx_mb_opts *opts, bx_mb_cb cb,
                           void *context, bx_mb_conn **out);

/* Connects to url (as for bx_mb_listen, without "*" and port 0). Returns 0 and the connection
 * in *out, then CONNECTION_SETUP or CONNECTION_SETUP_ERROR follows; or BX_EINVAL, BX_ENOMEM or
 * BX_ECLOSING with *out NULL and no event. Messages may be sent once SETUP has come. */
BX_EXTERN int bx_mb_connect(bx_ctx *ctx, const char *url, const bx_mb_opts *opts, bx_mb_cb cb,
                            void *context, bx_mb_conn **out);

/* Sends a one-way message. data[0..len) is copied: the caller keeps it. Returns 0 (queued or
 * sent), BX_EMSGSIZE (over max_message, or over one datagram on UDP), BX_EQUEUEFULL (over
 * max_queued: try again after some have gone), BX_ECLOSED (not open: connecting, closing or a
 * listener), BX_ENOMEM or a libuv error; nothing is sent then. */
BX_EXTERN int bx_mb_send(bx_mb_conn *conn, const void *data, size_t len);

/* Sends a request; its REPLY or REPLY_MISSING brings reply_context back. timeout_ms 0 means
 * BX_MB_DEFAULT_GET_TIMEOUT_MS. data is copied. Returns 0, or as bx_mb_send (and BX_EQUEUEFULL
 * when 65535 gets are pending on conn); on an error no event follows. */
BX_EXTERN int bx_mb_get(bx_mb_conn *conn, const void *data, size_t len, uint32_t timeout_ms,
                        void *reply_context);

/* Answers the request of reply, and gives the handle up (always, whatever is returned). data is
 * copied. Returns 0, BX_ECLOSED (its connection has ended: nothing is sent), or as
 * bx_mb_send. May be called after the context has closed (it then only frees the handle). */
BX_EXTERN int bx_mb_reply_send(bx_mb_reply *reply, const void *data, size_t len);
/* Gives the handle up without answering (the remote's get will end in reply_missing). */
BX_EXTERN void bx_mb_reply_release(bx_mb_reply *reply);
/* The connection the request came on (valid while it is open). */
BX_EXTERN bx_mb_conn *bx_mb_reply_conn(const bx_mb_reply *reply);

/* Closes conn in order: a `close` message goes to the remote; pending gets end in REPLY_MISSING
 * (BX_ECANCELED), then CONNECTION_CLOSED (BX_ECANCELED) follows, or SETUP_ERROR when it was
 * still connecting. Returns 0, or BX_ECLOSED when it is already ending, BX_EINVAL for a
 * listener. */
BX_EXTERN int bx_mb_disconnect(bx_mb_conn *conn);
/* Stops listening; LISTENING_ENDED (BX_ECANCELED) follows. A TCP or Unix listener's accepted
 * connections stay open; a UDP listener's remotes share its socket and are closed first (each
 * gets a `close` and ends in CONNECTION_CLOSED). Returns 0, BX_ECLOSED or BX_EINVAL. */
BX_EXTERN int bx_mb_unlisten(bx_mb_conn *listener);

/* The per-connection user context, given back on every event of conn. context_free (optional)
 * runs on the old context when it is replaced and on the last one when conn is freed. */
BX_EXTERN void bx_mb_set_context(bx_mb_conn *conn, void *context, void (*context_free)(void *));
BX_EXTERN void *bx_mb_context(const bx_mb_conn *conn);

BX_EXTERN bx_mb_protocol bx_mb_protocol_of(const bx_mb_conn *conn);
BX_EXTERN bool bx_mb_is_listener(const bx_mb_conn *conn);
/* A listener's URL with the address actually bound ("tcp://127.0.0.1:40213"); the URL given to
 * bx_mb_connect for a connection (borrowed, valid as conn). */
BX_EXTERN const char *bx_mb_url(const bx_mb_conn *conn);
/* The remote's address, "127.0.0.1:6070", "[::1]:6070" or the socket path; "" until known
 * (borrowed, valid as conn). */
BX_EXTERN const char *bx_mb_remote(const bx_mb_conn *conn);
/* The listener a remote came from, or NULL. */
BX_EXTERN bx_mb_conn *bx_mb_listener_of(const bx_mb_conn *conn);
/* Bytes accepted by sends but not yet handed to the kernel. */
BX_EXTERN size_t bx_mb_queued(const bx_mb_conn *conn);
/* "connection_setup", "reply_missing" ... (static storage; "?" when unknown). */
BX_EXTERN const char *bx_mb_event_name(bx_mb_event_type type);

#ifdef __cplusplus
}
#endif
#endif /* BX_MSGBOX_H */
