/* msgbox's private header (never installed): the connection object shared by mb_conn.c (events,
 * gets, replies, frames), mb_stream.c (TCP and Unix sockets) and mb_udp.c (UDP).
 *
 * Design notes
 * - One object, bx__mb_conn (the public bx_mb_conn), for a client connection, a listener and a
 *   listener's remote. It is refcounted: one "alive" reference until its last event has been
 *   delivered and its handle (if any) has closed, one per reply handle, per deferred event and
 *   per pass of input in progress. Freeing touches no context, so a reply handle may outlive
 *   the context.
 * - Each end is decided once (bx__mb_end): the pending gets end in REPLY_MISSING, then the last
 *   event; from then on the conn sends nothing and delivers nothing.
 * - Events raised by a loop callback (input, a connect's completion, a deadline) are delivered
 *   at once, so the messages of one read are delivered in that pass; events raised inside a
 *   bx_mb_* call go through the context's run queue (`now` false), so no callback runs inside
 *   a call. A conn's deferred events can never be overtaken by its direct ones: the run queue
 *   drains before the loop polls again, and a conn that ended delivers nothing more.
 * - Timers are the context's deadline service: one deadline per pending get, and two per
 *   connection with heartbeats (send the next, give up on a silent peer).
 * - Layer: transports. It uses the core's run queue, tracking and deadlines and the
 *   framework's list helpers. The "boxes over msgbox" transport (mb_box.c) sits on the public
 *   API (one-way messages carrying FOAM frames) plus the few internal calls declared below
 *   (a "queue drained" hook, a failed listen's status, a socket's fd), so nothing here knows
 *   FOAM.
 * - The input paths have a way in without a socket (bx__mb_stream_input, bx__mb_udp_input) that
 *   runs the very code a read runs: tests/fuzz/fuzz_msgbox.c feeds arbitrary bytes through it.
 */
#ifndef BX_MB_INTERNAL_H
#define BX_MB_INTERNAL_H

#include "framework.h"
#include "bx/msgbox.h"

#define MB_HEADER 8
enum { MB_ONE_WAY = 0, MB_REQUEST = 1, MB_REPLY = 2, MB_HEARTBEAT = 3, MB_CLOSE = 4 };

/* Where a conn is in its life. */
enum { MB_CONNECTING, MB_OPEN, MB_ENDED };

/* The public bx_mb_conn. */
typedef struct bx_mb_conn bx__mb_conn;

/* A get waiting for its reply. */
typedef struct bx__mb_get {
  bx__tlink node; /* on its conn's list of pending gets */
  bx__deadline deadline;
  bx__mb_conn *conn;
  void *reply_context;
  uint16_t id;
  int status; /* REPLY_MISSING's, when it ends without a reply */
} bx__mb_get;

/* A deferred event: what the run queue delivers later. */
typedef struct bx__mb_later {
  bx_mb_event_type type;
  int status;
  const char *op;
} bx__mb_later;

typedef union bx__mb_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  uv_poll_t poll; /* UDP: the socket fd, read and written by mb_udp.c */
} bx__mb_handle;

struct bx_mb_conn {
  bx__tracked tracked; /* with the context while it has a handle or pending gets */
  bx_ctx *ctx;         /* NULL once the conn has left the context (it may outlive it) */
  int refs;
  int state;
  bx_mb_protocol proto;
  bool listener;
  bool handle_inited;  /* h must be uv_close()d */
  bool handle_closing; /* uv_close() was called */
  bool resolving;      /* a host name lookup is in flight (holds a reference) */
  bool shutting;       /* an orderly shutdown is in flight */
  bool announced;      /* SETUP/READY/LISTENING was raised: the end is CLOSED/LOST/ENDED */
  bx_mb_cb cb;
  void *context;
  void (*context_free)(void *);
  bx_mb_opts opts;
  char *url;
  char remote[128];
  bx__mb_conn *parent; /* a remote's listener (referenced), else NULL */

  bx__mb_handle h; /* own socket; a UDP remote uses its parent's */
  int fd;          /* UDP: the socket h.poll watches (closed after it), else -1 */
  int poll_events; /* UDP: what h.poll watches for (UV_READABLE, UV_WRITABLE) */
  bx__tlink sendq; /* UDP socket owner: datagrams waiting for the socket to be writable */
  bool held;       /* UDP socket owner: sends queue as if the kernel pushed back (tests) */
  uv_getaddrinfo_t gai;
  uv_connect_t connect;
  uv_shutdown_t shutdown;
  struct sockaddr_storage addr; /* UDP remote: where it is; connecting: where to */
  char *unix_path;              /* a Unix listener's file, removed when it ends */

  /* Input (streams): bytes read and not yet taken as frames. */
  char *in;
  size_t in_len, in_cap;
  size_t in_need; /* bytes the frame at in[0] takes in all, once its header is known */
  char *dgram;    /* UDP: the receive side (mb_udp.c's ud_rx: headers and datagram buffers) */

  size_t queued; /* bytes handed to libuv and not yet written */
  bx__tlink gets;
  uint16_t next_id;
  /* One spare of each per-message allocation, kept for the next: a steady request/reply
   * stream allocates nothing (freed with the conn). */
  bx__mb_get *spare_get;
  bx_mb_reply *spare_reply;
  bx__deadline hb_send, hb_recv;

  bx__map *remotes; /* UDP listener: its remotes by address (keys borrowed from remote) */
  /* UDP listener: the remote the last datagram came from (borrowed: cleared when it leaves
   * remotes), so a run of datagrams from one remote skips formatting and looking up its key. */
  bx__mb_conn *last_remote;
  bx__mb_later setup_later, end_later;

  /* The boxes-over-msgbox transport's "queue drained" hook (bx__mb_set_drained): after a send
   * was refused with BX_EQUEUEFULL, it runs once from a write's completion when the queue is
   * down to half of max_queued. */
  void (*drained)(bx__mb_conn *c);
  bool want_drain;
};

/* ---- mb_conn.c: lifecycle, events, gets, frames -------------------------------------------- */

bx__mb_conn *bx__mb_conn_new(bx_ctx *ctx, bx_mb_protocol proto, const bx_mb_opts *opts, bx_mb_cb cb,
                             void *context);
void bx__mb_ref(bx__mb_conn *c);
void bx__mb_unref(bx__mb_conn *c);
/* Raises an event of c with no payload, now or through the run queue. */
void bx__mb_raise(bx__mb_conn *c, bx_mb_event_type type, int status, const char *op, bool now);
/* c is set up (CONNECTION_SETUP, a client) or ready (CONNECTION_READY, a remote): open, its
 * heartbeats start. */
void bx__mb_opened(bx__mb_conn *c, bool now);
/* Ends c once: type is CLOSED or LOST (or, for a listener, LISTENING_ENDED; a conn still
 * connecting always ends in SETUP_ERROR). Its gets end with REPLY_MISSING first. The
 * transport's close then runs (bx__mb_close_handle). */
void bx__mb_end(bx__mb_conn *c, bx_mb_event_type type, int status, const char *op, bool now);
/* Ends every pending get of c in REPLY_MISSING with status (a UDP client's ICMP refusal). */
void bx__mb_fail_gets(bx__mb_conn *c, int status, bool now);
/* Whole frames from c's input. A bad header ends c (LOST) and returns false. */
bool bx__mb_frame(bx__mb_conn *c, unsigned type, unsigned id, const char *data, size_t len);
/* Checks a header: 0, BX_EBADMSG (unknown type) or BX_EMSGSIZE (over max_message). */
int bx__mb_header(const bx__mb_conn *c, const char *p, unsigned *type, unsigned *id, uint32_t *len);
void bx__mb_put_header(char *p, unsigned type, unsigned id, uint32_t len);
/* The transport's handle has closed / its host name lookup has called back: once both are
 * done and c has ended, c leaves the context. */
void bx__mb_handle_closed(bx__mb_conn *c);
void bx__mb_resolved(bx__mb_conn *c);

/* For the boxes-over-msgbox transport (mb_box.c), which otherwise uses the public API. */
/* Sets c's drained hook (see the field). */
void bx__mb_set_drained(bx__mb_conn *c, void (*drained)(bx__mb_conn *c));
/* Called by the protocols when queued bytes went out: runs the hook when it is due. */
void bx__mb_check_drained(bx__mb_conn *c);
/* A listener whose bx_mb_listen() failed at once (its LISTENING_ERROR is still deferred): that
 * error; 0 while it listens. Lets bx_listen() report a taken port synchronously. */
int bx__mb_listen_status(const bx__mb_conn *l);
/* The socket of a TCP or Unix conn (peer credentials), or an error. */
int bx__mb_fileno(const bx__mb_conn *c, uv_os_fd_t *fd);

/* ---- addresses (mb_conn.c) ---------------------------------------------------------------- */

typedef struct bx__mb_addr {
  bx_mb_protocol proto;
  char host[256];
  char port[8];
  const char *path; /* unix: into the URL */
} bx__mb_addr;
/* Parses "tcp://h:p", "udp://h:p", "unix:///path". 0 or BX_EINVAL. */
int bx__mb_parse(const char *url, bool listening, bx__mb_addr *out);
/* A numeric address into ss, or UV_EINVAL for a host name. */
int bx__mb_numeric(const bx__mb_addr *a, struct sockaddr_storage *ss);
/* Resolves a's host now (numeric, or a synchronous lookup: listening). 0 or a libuv error. */
int bx__mb_resolve_now(bx__mb_conn *c, const bx__mb_addr *a, int socktype,
                       struct sockaddr_storage *ss);
/* Starts an asynchronous lookup of a's host into c->gai (c->resolving). 0 or a libuv error. */
int bx__mb_resolve(bx__mb_conn *c, const bx__mb_addr *a, int socktype, uv_getaddrinfo_cb cb);
/* Sets c's URL to "scheme://" and the address sa. 0 or BX_ENOMEM. */
int bx__mb_set_url(bx__mb_conn *c, const char *scheme, const struct sockaddr *sa);
/* "127.0.0.1:80" or "[::1]:80". */
void bx__mb_format(const struct sockaddr *sa, char *buf, size_t len);
void bx__mb_log(bx__mb_conn *c, int level, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The stream transports' SIGPIPE guard (transports/stream/stream.c): a peer that went away
 * must not kill the process; the write fails with EPIPE instead. */
void bx__st_ignore_sigpipe(void);

/* ---- per protocol (mb_stream.c, mb_udp.c) ------------------------------------------------- */

/* Start listening / connecting; a failure is raised as an event (never returned). */
void bx__mb_stream_listen(bx__mb_conn *l, const bx__mb_addr *a);
void bx__mb_stream_connect(bx__mb_conn *c, const bx__mb_addr *a);
void bx__mb_udp_listen(bx__mb_conn *l, const bx__mb_addr *a);
void bx__mb_udp_connect(bx__mb_conn *c, const bx__mb_addr *a);
/* Sends one frame (header + payload, copied). 0 or an error (nothing sent). */
int bx__mb_stream_send(bx__mb_conn *c, unsigned type, unsigned id, const void *data, size_t len);
int bx__mb_udp_send(bx__mb_conn *c, unsigned type, unsigned id, const void *data, size_t len);
/* Takes bytes as if read from c's socket, through the same buffer and frame reader as a real
 * read (as many reads as the buffer takes): the fuzz target's way in. c must be open. */
void bx__mb_stream_input(bx__mb_conn *c, const char *data, size_t len);
/* Makes c's UDP socket (bound to bind_to and/or connected to connect_to) and starts reading it
 * (the fuzz target's way to a socket too). 0 or a libuv error (nothing made). */
int bx__mb_udp_open(bx__mb_conn *c, const struct sockaddr *bind_to,
                    const struct sockaddr *connect_to);
/* Tests' way to the UDP send queue (loopback never pushes back): while c's socket (a client's
 * or a listener's) is held, every send is queued as if the kernel had said EAGAIN; releasing it
 * sends the queue in order. */
void bx__mb_udp_hold(bx__mb_conn *c, bool hold);
/* Takes one datagram as if received on c's socket (a UDP client, or a listener with `from`
 * the sender), through the same checks and dispatch as a real one: the fuzz target's way in. */
void bx__mb_udp_input(bx__mb_conn *c, const char *data, size_t len, const struct sockaddr *from);
/* After c ended: closes its handle (orderly: a `close` goes out first). */
void bx__mb_stream_close(bx__mb_conn *c, bool orderly);
void bx__mb_udp_close(bx__mb_conn *c, bool orderly);

#endif /* BX_MB_INTERNAL_H */
