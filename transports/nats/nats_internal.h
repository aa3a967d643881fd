/* The NATS transport's private header: the NATS client protocol spoken on the context's loop
 * (parser, connection), and the transport on top of it.
 *
 * Design notes
 * - No libnats: it runs subscription callbacks on its own threads and its blocking request and
 *   flush must not run on the loop thread; a probe measured it at ~1.8x the raw protocol. The
 *   text protocol (INFO, CONNECT, PUB/HPUB, SUB/UNSUB, MSG/HMSG, PING/PONG, +OK/-ERR) is small:
 *   the parser (nats_parse.c) is a pure function over a buffer, bounded in line length and
 *   payload size; the connection (nats_client.c) owns the socket, keepalive and reconnection.
 * - Everything runs on the loop thread; every callback comes from a loop callback.
 */
#ifndef BX_TRANSPORTS_NATS_INTERNAL_H
#define BX_TRANSPORTS_NATS_INTERNAL_H

#include "framework.h"

/* ---- the parser (nats_parse.c) --------------------------------------------------------------- */

enum {
  BXN_OP_MSG = 1, /* MSG or HMSG */
  BXN_OP_PING,
  BXN_OP_PONG,
  BXN_OP_OK,
  BXN_OP_ERR,
  BXN_OP_INFO,
};

/* One server operation; the pointers point into the parsed buffer. */
typedef struct bxn_op {
  int kind;
  const char *subject;
  size_t subject_len;
  const char *reply; /* NULL when the message has no reply subject */
  size_t reply_len;
  uint64_t sid;
  const char *hdr; /* HMSG: the header block (NATS/1.0 ...\r\n...\r\n\r\n), else NULL */
  size_t hdr_len;
  const char *payload; /* the message's payload */
  size_t payload_len;
  const char *text; /* INFO: its JSON; -ERR: its text */
  size_t text_len;
} bxn_op;

enum { BXN_NEED = 0, BXN_OK = 1, BXN_BAD = -1 };

/* Cuts the next operation from p[0..n). Returns BXN_OK (*op filled, *used: its bytes),
 * BXN_NEED (incomplete: read more; *used is 0) or BXN_BAD (a protocol error: a line longer
 * than max_line, a payload over max_payload, an unknown operation, a malformed line; *op.text
 * says why, a static string). Never reads past p[n-1]. */
int bxn_parse(const char *p, size_t n, size_t max_line, size_t max_payload, bxn_op *op,
              size_t *used);
/* The status code of an HMSG header block ("NATS/1.0 503" -> 503), 0 when there is none. */
int bxn_header_status(const char *hdr, size_t len);

/* ---- the connection (nats_client.c) ---------------------------------------------------------- */

typedef struct bxn_client bxn_client;

enum {
  BXN_EV_CONNECTED = 1, /* CONNECT accepted and the subscriptions are in place (PONG) */
  BXN_EV_DISCONNECTED,  /* the connection was lost (status: why); reconnecting */
  BXN_EV_ROUND_FAILED,  /* every known server was tried and failed (status: the last error) */
  BXN_EV_DRAINED,       /* the output buffer went below its threshold again */
  BXN_EV_CLOSED,        /* after bxn_close(): every handle has closed; the client is freed */
};

typedef struct bxn_handler {
  /* A message for subscription sid. */
  void (*on_msg)(void *data, const bxn_op *msg);
  void (*on_event)(void *data, int ev, int status);
  void *data;
} bxn_handler;

typedef struct bxn_opts {
  const char *servers; /* seed list "host:port[,host:port...]" (required) */
  const char *user, *pass, *token;
  const char *name;          /* client name in CONNECT */
  uint64_t ping_ms;          /* keepalive interval (default 10000) */
  unsigned max_pings_out;    /* unanswered PINGs before the connection counts as lost (2) */
  uint64_t reconnect_min_ms; /* backoff after a failed round: starts here (100) ... */
  uint64_t reconnect_max_ms; /* ... doubles up to here (2000) */
  size_t max_out;            /* output buffered while a write is in flight (64 MiB) */
} bxn_opts;

/* Starts connecting to the first server of opts->servers. The client copies what it keeps.
 * Returns 0 (*out: the client, owned until bxn_close) or BX_EINVAL / BX_ENOMEM. */
int bxn_client_new(bx_ctx *ctx, const bxn_opts *opts, const bxn_handler *h, bxn_client **out);
/* Closes the client: no events but BXN_EV_CLOSED follow (from a later loop callback). */
void bxn_close(bxn_client *c);
bool bxn_connected(const bxn_client *c);
/* The max_payload the server announced (1 MiB until it did). */
size_t bxn_max_payload(const bxn_client *c);
/* A new unique token (22 characters of [A-Za-z0-9], NUL-terminated) into buf[23]. */
void bxn_nuid(char buf[23]);

/* Subscribes (and re-subscribes after every reconnection); queue may be NULL. Returns 0 (*sid)
 * or BX_ENOMEM / BX_EINVAL (a subject with spaces). */
int bxn_sub(bxn_client *c, const char *subject, const char *queue, uint64_t *sid);
/* Unsubscribes (no-op for an unknown sid). */
void bxn_unsub(bxn_client *c, uint64_t sid);
/* Publishes payload on subject with an optional reply subject. Returns 0, BX_ECONNLOST (not
 * connected: nothing is written), BX_EMSGSIZE (over max_payload) or BX_EQUEUEFULL (over
 * max_out). The bytes are copied. */
int bxn_pub(bxn_client *c, const char *subject, const char *reply, const char *payload, size_t len);
/* Bytes waiting to be written. */
size_t bxn_pending(const bxn_client *c);
/* The number of servers known (seeds and discovered), and the one connected to (or last tried)
 * as "host:port" (borrowed). */
size_t bxn_server_count(const bxn_client *c);
const char *bxn_current_server(const bxn_client *c);

/* ---- the transport (nats_tran.c) ------------------------------------------------------------- */

extern const bx__tran bx__nats_tran;

#endif /* BX_TRANSPORTS_NATS_INTERNAL_H */
