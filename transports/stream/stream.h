/* Shared plumbing of the libuv stream transports (tcp.c, unix.c): connection state, reads,
 * writes, dialling and closing. Each transport adds its own addresses and peer information. */
#ifndef BX_TRANSPORTS_STREAM_H
#define BX_TRANSPORTS_STREAM_H

#include "framework.h"

typedef union bx__st_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} bx__st_handle;

/* A link's private state (bx__tran.link_size): one socket, carrying one peer. */
typedef struct bx__st_conn {
  bx__st_handle h; /* h.handle.data is the bx__link */
  bx__conn *peer;  /* the link's peer */
  uv_connect_t connect;
  uv_write_t write;
  uv_getaddrinfo_t gai;
  bool inited;    /* h has been initialised (and so must be uv_close()d) */
  bool resolving; /* gai is in progress */
  bool closing;
  void (*fill_peer)(bx__conn *c); /* the transport's peer information */
} bx__st_conn;

/* A listener's private state. The handle is allocated apart from the listener so that a
 * failed bx_listen() can close it after the listener is gone. */
typedef struct bx__st_listener {
  bx__st_handle *h;                                   /* h->handle.data is the bx_listener */
  void (*init_conn)(bx__st_conn *s, uv_loop_t *loop); /* initialises a link's handle */
  void (*fill_peer)(bx__conn *c);
  void (*on_closed)(bx_listener *l); /* optional cleanup once the handle closed */
} bx__st_listener;

/* The stream state of c's link. */
bx__st_conn *bx__st(bx__conn *c);

/* Starts listening on the initialised, bound handle of l (backlog 128). On failure closes and
 * frees the handle. */
int bx__st_listen(bx_listener *l);
/* bx__tran ops shared by the stream transports. */
void bx__st_listen_close(bx_listener *l);
int bx__st_write(bx__link *k, bx__conn *c, const char *buf, size_t len);
/* Stops or restarts reading the socket (backpressure). */
void bx__st_read_pause(bx__link *k, bx__conn *c, bool pause);
void bx__st_close(bx__link *k);
/* Starts dialling c: a solo link for it with an initialised handle (init_conn). Returns the
 * link's stream state, or NULL (BX_ENOMEM). */
bx__st_conn *bx__st_dial(bx__conn *c, void (*init_conn)(bx__st_conn *s, uv_loop_t *loop),
                         void (*fill_peer)(bx__conn *c));
/* Closes a handle that has no listener (a failed bx_listen()) and frees it. */
void bx__st_discard(bx__st_handle *h);

/* Ignores SIGPIPE if its disposition is still the default (see stream.c). */
void bx__st_ignore_sigpipe(void);
/* Reports the link closed once its handle has closed and no lookup is in flight. */
void bx__st_check_closed(bx__link *k);

/* The connect request finished: fills the peer, starts reading and reports to the core. */
void bx__st_connect_cb(uv_connect_t *req, int status);

#endif
