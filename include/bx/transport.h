/* Transports: boxes across processes. URLs name them:
 *   unix:///path/to.sock   tcp://127.0.0.1:7301   tcp://[::1]:7301   tcp://host.name:7301
 *   inproc://name          (same process, another context: tests and embedding)
 *   ws://127.0.0.1:8080/   wss://[::1]:8443/path   (WebSocket, FOAM2's browser framing)
 *   msgbox+tcp://127.0.0.1:7301   msgbox+udp://127.0.0.1:7301   msgbox+unix:///path/to.sock
 *                          (FOAM frames as msgbox one-way messages; "?heartbeat=MS" turns on
 *                          heartbeats, see bx_msgbox_listen_opts)
 * Later transports (telehash) plug into the same functions.
 *
 * WebSocket (ws://, wss://): one JSON message per WebSocket message, no RegisterSelfMessage
 * (FOAM2's WebSocketBox has none). The path is sent when connecting and ignored when
 * listening (any path is upgraded). All WebSocket use in one process shares one
 * libwebsockets context and so must stay on one uv loop (another loop gets BX_ENOTSUP). A
 * ws listener can also serve static files (bx_listen_opts.www_dir) on the same port.
 *
 * bx_listen() accepts connections; bx_connect() returns a box standing for the peer context's
 * root registry (so bx_sub_box_new(ctx, "calc", conn) addresses the peer's "calc"). Client
 * boxes are shared per URL, connect lazily on the first send, queue while connecting, and
 * reconnect on the next send after a drop. Calls in flight over a connection that is lost
 * complete with BX_ECONNLOST; exports made for a closed connection are released.
 * Connections are symmetric: either side may call services the other registered or exported.
 * Everything runs on the context's loop; closing the context closes its listeners and
 * connections.
 */
#ifndef BX_TRANSPORT_H
#define BX_TRANSPORT_H

#include <sys/types.h>
#include <cjson/cJSON.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bx_listener bx_listener;

/* Limits; 0 in a field means its default. */
typedef struct bx_transport_limits {
  size_t max_frame;         /* bytes of JSON in one frame; default: the context's max_frame.
                               A longer length prefix closes the connection before allocating */
  size_t max_queued_bytes;  /* per connection, encoded bytes waiting to be written (and, for a
                               client still connecting, queued); default 8 MiB. A send past it
                               is rejected with BX_EQUEUEFULL */
  unsigned max_connections; /* per listener; default 1024; more are accepted and closed */
  unsigned max_exports;     /* live exports per connection; default 65536; past it the encode
                               fails with BX_EQUEUEFULL */
  unsigned max_pending;     /* per connection, requests from the peer still being served (not
                               answered yet, here or by the service they were relayed to);
                               default 128. At the limit the peer's input is paused (a
                               warning is logged) until half of them are answered, so one
                               peer's flood costs that peer only */
} bx_transport_limits;

BX_EXTERN void bx_transport_limits_init(bx_transport_limits *limits);

/* Options of the ws:// and wss:// listeners (bx_listen_opts.ws). Zero the whole struct before
 * setting fields: later fields are optional. */
typedef struct bx_ws_listen_opts {
  const char *www_dir;  /* serve files from this directory on the same port (GET /, /x.js ...;
                           "/" is index.html); NULL: no files (404) */
  const char *tls_cert; /* wss: PEM certificate chain file (required for wss; the environment
                           variables BX_TLS_CERT and BX_TLS_KEY are the fallback when neither
                           file is given here) */
  const char *tls_key;  /* wss: PEM private key file */
  unsigned ping_secs;   /* ping a peer silent this long, drop it when nothing arrives for a
                           third longer (at least 2 s more); default 30 */
  /* Which web pages may open a WebSocket here, by the Origin header browsers send: NULL (the
   * default) lets in requests without Origin (programs) and same-origin pages (Origin is
   * http(s)://<the Host header>), so a page of another site the user visits cannot call local
   * services. Else a NULL-terminated list (borrowed for bx_listen(); at most
   * BX_WS_MAX_ORIGINS entries of under 128 bytes) of origins let in as well, like
   * "https://app.example:8443", or "*" for every page. A refused upgrade is logged with the
   * Origin and answered 403. */
  const char *const *allowed_origins;
} bx_ws_listen_opts;
#define BX_WS_MAX_ORIGINS 8

/* Options of the msgbox+tcp://, msgbox+udp:// and msgbox+unix:// listeners
 * (bx_listen_opts.msgbox; docs/transports.md "Boxes over msgbox"). Zero the whole struct
 * before setting fields. Heartbeats work only when both ends send them: a client turns them on
 * with the URL query "?heartbeat=MS" (the listener's URL carries it when they are on). */
typedef struct bx_msgbox_listen_opts {
  uint32_t heartbeat_ms;         /* send a heartbeat every heartbeat_ms; 0: off (default) */
  uint32_t heartbeat_timeout_ms; /* a peer silent this long is lost (BX_ECONNLOST for its
                                    calls); default 3 * heartbeat_ms */
} bx_msgbox_listen_opts;

/* Options of bx_listen(): the limits every transport has, and a part per transport family,
 * read only by that family's listeners (NULL: its defaults). Zero the whole struct (memset)
 * before setting fields: later fields are optional. The struct and what it points to are
 * read during bx_listen() only. */
typedef struct bx_listen_opts {
  bx_transport_limits limits;
  const bx_ws_listen_opts *ws;         /* ws, wss */
  const bx_msgbox_listen_opts *msgbox; /* msgbox+tcp, msgbox+udp, msgbox+unix */
  unsigned unix_mode; /* unix: the socket file's permission bits, e.g. 0666 to let every local
                         user connect (who may do what is then the application's to check,
                         bx_msg_peer); 0: 0600, only the owner (and root) */
  /* unix and tcp: a socket already bound and listening to accept on instead of binding one
   * (socket activation: systemd passes them from fd 3 on); the URL must still be a valid one
   * of the transport ("tcp://0.0.0.0:0") but nothing is bound for it: the listener's URL is
   * the socket's own address. The listener owns the fd
   * (closes it) but leaves a Unix socket's file alone: whoever made it removes it. 0: none.
   * Other transports return BX_ENOTSUP. */
  int inherited_fd;
} bx_listen_opts;

/* Listens on url. opts may be NULL. Binds what the URL says (use 127.0.0.1 / ::1 for
 * loopback); tcp port 0 picks a free port (see bx_listener_url()). Unix sockets are created
 * mode 0600 unless opts->unix_mode says otherwise; a stale socket file is replaced only when
 * nothing answers on it. On success stores the listener (owned by the context until closed) in
 * *out. Returns 0, BX_EINVAL for a malformed or unknown URL, or a libuv error (UV_EADDRINUSE ...).
 */
BX_EXTERN int bx_listen(bx_ctx *ctx, const char *url, const bx_listen_opts *opts,
                        bx_listener **out);
/* The URL actually listened on, e.g. "tcp://127.0.0.1:40211" (borrowed). */
BX_EXTERN const char *bx_listener_url(const bx_listener *l);
/* Number of open connections accepted by the listener. */
BX_EXTERN size_t bx_listener_connections(const bx_listener *l);
/* Stops listening and closes its connections (their pending calls fail with BX_ECONNLOST);
 * cb (optional) runs on the loop once all handles have closed. Returns 0 or BX_EINVAL. */
typedef void (*bx_listener_close_cb)(bx_listener *l, void *data);
BX_EXTERN int bx_listener_close(bx_listener *l, bx_listener_close_cb cb, void *data);

/* The client box for url: new reference to the context's shared box for that URL (one
 * connection per URL). limits may be NULL (defaults; used when the box is first created).
 * Returns 0 or BX_EINVAL (malformed or unknown URL). Nothing is connected until a send. */
BX_EXTERN int bx_connect(bx_ctx *ctx, const char *url, const bx_transport_limits *limits,
                         bx_box **out);

/* Connection states of a client box (a box bx_connect() returned): IDLE until its first send,
 * CONNECTING while it dials, UP once connected, DOWN when the dial failed or the connection
 * closed, with the reason (UV_ECONNREFUSED, UV_ENOENT, BX_ECONNLOST, BX_ECLOSING ...). After
 * DOWN the next send dials again (CONNECTING). */
typedef enum bx_conn_state {
  BX_CONN_IDLE = 0,
  BX_CONN_CONNECTING,
  BX_CONN_UP,
  BX_CONN_DOWN
} bx_conn_state;
/* conn is borrowed (valid during the callback); reason is 0 but for DOWN. */
typedef void (*bx_conn_state_cb)(bx_box *conn, bx_conn_state state, int reason, void *data);
/* Adds a watcher of conn's states: cb(conn, state, reason, data) runs from the loop after each
 * change, in order, never inside the call that caused it (a send that dials). Several watchers
 * may watch one box; each is removed with bx_connection_off_state(), or goes with the box.
 * Returns 0, BX_EINVAL (not a client box, cb NULL) or BX_ENOMEM. */
BX_EXTERN int bx_connection_on_state(bx_box *conn, bx_conn_state_cb cb, void *data);
/* Removes the watcher added with the same cb and data (also during a callback). Returns 0 or
 * BX_EINVAL (no such watcher). */
BX_EXTERN int bx_connection_off_state(bx_box *conn, bx_conn_state_cb cb, void *data);
/* The current state (IDLE for a box that is not a client box); *reason (optional) receives
 * the reason of the last DOWN. */
BX_EXTERN bx_conn_state bx_connection_state(bx_box *conn, int *reason);

/* ---- registration that lasts ------------------------------------------------------------
 * bx_register_remote_keep() is the keep-registered mode of bx_register_remote(): it registers
 * service as name in the hub behind a client box (from bx_connect()), and registers it again
 * whenever the hub forgets it (the connection dropped, the hub restarted), retrying with
 * backoff until the hub answers. What happens is reported to cb, from the loop:
 *   REGISTERED    the hub holds the name (the first time)            status 0
 *   LOST          the connection went down, the hub dropped the name status: why (e.g.
 *                 BX_ECONNLOST); retry_ms: when it tries again
 *   REREGISTERED  the hub holds the name again                       status 0
 *   REFUSED       the hub said no: status BX_EPERM (its policy, e.g. a token is needed: no
 *                 more attempts), BX_EEXIST (the name is held; tried again in retry_ms) ...
 *   RETRYING      the hub could not be reached or did not answer     status: why (e.g.
 *                 UV_ECONNREFUSED, UV_ENOENT, BX_ETIMEDOUT); retry_ms: when it tries again
 * The application may call bx_registration_stop() from cb. */
typedef struct bx_registration bx_registration;
typedef enum bx_reg_event {
  BX_REG_REGISTERED = 1,
  BX_REG_LOST,
  BX_REG_REREGISTERED,
  BX_REG_REFUSED,
  BX_REG_RETRYING
} bx_reg_event;
typedef void (*bx_reg_cb)(bx_registration *reg, bx_reg_event ev, int status, uint64_t retry_ms,
                          void *data);
typedef struct bx_keep_opts {
  const cJSON *attributes; /* extra attributes of each register request (copied): a "token" */
  uint64_t timeout_ms;     /* per attempt; 0: 5000 */
  uint64_t min_retry_ms;   /* the first retry's delay, doubling up to max; 0: 250 */
  uint64_t max_retry_ms;   /* 0: 10000 */
} bx_keep_opts;
/* hub: a client box (borrowed; the registration keeps a reference); service: the box to
 * register (likewise); name is copied; opts may be NULL. The first attempt starts from the
 * loop. Returns 0 and the handle in *out (valid until bx_registration_stop() or the context
 * closes, which stops it too), or BX_EINVAL (hub not a client box, a NULL argument),
 * BX_ECLOSING, BX_ENOMEM; then cb never runs. */
BX_EXTERN int bx_register_remote_keep(bx_box *hub, const char *name, bx_box *service,
                                      const bx_keep_opts *opts, bx_reg_cb cb, void *data,
                                      bx_registration **out);
/* Stops re-registering and frees the handle: no event runs after it. The hub keeps the name
 * until the connection closes (or an unregister). NULL is a no-op. */
BX_EXTERN void bx_registration_stop(bx_registration *reg);
/* Whether the hub holds the name now (as far as this side knows). */
BX_EXTERN bool bx_registration_active(const bx_registration *reg);
/* "registered", "lost", "re-registered", "refused", "retrying" (static). */
BX_EXTERN const char *bx_reg_event_name(bx_reg_event ev);

/* TLS settings of the context's wss:// client connections (made after the call): ca_file
 * (PEM, NULL: the system's CAs) is trusted; allow_self_signed also accepts a self-signed
 * server certificate and skips the host name check (tests, --insecure). Strings are copied.
 * Returns 0, BX_ENOMEM, or BX_ENOTSUP when bx was built without WebSocket support. */
BX_EXTERN int bx_ctx_set_tls_client(bx_ctx *ctx, const char *ca_file, bool allow_self_signed);

/* Who sent a message: the connection it arrived on. */
typedef struct bx_peer_info {
  const char *scheme; /* "unix", "tcp", "inproc", "ws", "wss" ... (static) */
  char address[64];   /* remote address, e.g. "127.0.0.1:51234" ("" for unix/inproc) */
  bool has_cred;      /* unix sockets: SO_PEERCRED is available */
  uid_t uid;
  gid_t gid;
  pid_t pid;
} bx_peer_info;

/* Fills *out for a message that arrived over a connection. Returns 0, or BX_ENOROUTE for a
 * local message. */
BX_EXTERN int bx_msg_peer(const bx_msg *msg, bx_peer_info *out);

/* Counters of a context's transports since it was created. */
typedef struct bx_transport_stats {
  uint64_t connections;       /* open now */
  uint64_t connections_total; /* opened (accepted or dialled) */
  uint64_t messages_in;       /* frames decoded and dispatched */
  uint64_t messages_out;      /* frames encoded for sending */
  uint64_t requests_in;       /* inbound messages carrying a reply box (calls) */
  uint64_t bytes_in;          /* frame bytes read (JSON, without framing) */
  uint64_t bytes_out;         /* frame bytes written */
  uint64_t errors;            /* frames dropped, sends refused, connections closed on error */
} bx_transport_stats;

/* Fills *out (zeroes when no transport was used yet). */
BX_EXTERN void bx_transport_stats_get(bx_ctx *ctx, bx_transport_stats *out);

/* Who is at the other end of a connection box (a message's origin, a registry entry's owner).
 * Returns 0, or BX_ENOROUTE when box is not a connection. */
BX_EXTERN int bx_connection_peer(bx_box *conn, bx_peer_info *out);

#ifdef __cplusplus
}
#endif
#endif /* BX_TRANSPORT_H */
