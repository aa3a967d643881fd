/* msgbox.h: the released msgbox API (github tylerneylon/msgbox) on top of bx.
 *
 * A program written for the released library builds against this header unchanged and links
 * with bx_msgbox_compat (pkg-config bx-msgbox). It needs nothing from bx.h: it is C99 and
 * includes only system headers. The behaviour is the release's (event names and order, error
 * texts, who owns which msg_Data) without its defects; docs/msgbox.md lists the differences.
 *
 * Addresses: "tcp://HOST:PORT" or "udp://HOST:PORT"; HOST "*" (any IPv4 address) to listen, an
 * IPv4 address (also a host name or "[::1]" here) to connect. A listener on port 0 reports the
 * port it got in remote_port with msg_listening.
 *
 * Events come only from msg_runloop(), never from inside another msg_* call. Every msg_Data
 * given to a callback belongs to the library and is freed when the callback returns; a msg_Data
 * passed to msg_send() or msg_get() is copied and stays the caller's (free it with
 * msg_delete_data()). A msg_Conn is valid until the callback of its last event
 * (msg_connection_closed, msg_connection_lost, msg_listening_ended, or the msg_error of a
 * failed msg_connect / msg_listen) returns.
 */
#ifndef MSGBOX_H
#define MSGBOX_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(BX_MSGBOX_BUILDING) && defined(__GNUC__)
#define MSG_EXTERN __attribute__((visibility("default")))
#else
#define MSG_EXTERN /* nothing */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A message payload: num_bytes at bytes. Make one with msg_new_data*() and free it with
 * msg_delete_data(). */
typedef struct {
  size_t num_bytes;
  char *bytes;
} msg_Data;

/* The events a callback receives (values and order as released). */
typedef enum {
  msg_message,           /* a one-way message: data */
  msg_request,           /* a request: data; msg_send() on conn inside the callback replies */
  msg_reply,             /* the reply to a msg_get(): data, conn->reply_context */
  msg_listening,         /* msg_listen() succeeded */
  msg_listening_ended,   /* msg_unlisten() is done; the listener's msg_Conn is freed after */
  msg_connection_ready,  /* client: connected; server: a new remote */
  msg_connection_closed, /* an orderly close by either side; conn is freed after (not a UDP
                            listener's shared conn) */
  msg_connection_lost,   /* the remote went away without closing; conn is freed after */
  msg_error              /* data is the text, see msg_error_str() */
} msg_Event;

struct msg_Conn;

typedef void (*msg_Callback)(struct msg_Conn *, msg_Event, msg_Data);

typedef struct msg_Conn {
  void *conn_context;  /* the program's, given back on every event of this remote */
  void *reply_context; /* msg_reply, and a get's timeout error: the msg_get()'s */
  msg_Callback callback;

  uint32_t remote_ip;     /* network byte order */
  uint16_t remote_port;   /* host byte order */
  uint16_t protocol_type; /* msg_tcp or msg_udp */

  int socket; /* -1 here: bx owns the sockets */
  int for_listening;
  uint16_t reply_id; /* nonzero while a msg_request callback runs: msg_send() then replies */
  int index;         /* a number unique among the open conns */
} msg_Conn;

/* Runs the event loop and delivers events: for up to timeout_in_ms milliseconds, returning
 * after the pass that delivered some; 0 polls once; -1 waits until at least one event was
 * delivered (get timeouts included). Returns at once when nothing is open. Calls from inside a
 * callback return at once. */
MSG_EXTERN void msg_runloop(int timeout_in_ms);

/* Starts a listener (msg_listening or msg_error follows) or a client connection
 * (msg_connection_ready or msg_error follows). */
MSG_EXTERN void msg_listen(const char *address, msg_Callback callback);
MSG_EXTERN void msg_connect(const char *address, msg_Callback callback, void *conn_context);

/* Stops a listener (msg_listening_ended follows) / closes a connection in order (the remote is
 * told; msg_connection_closed follows). On a UDP listener's conn, msg_disconnect() closes the
 * remote named by its remote_ip and remote_port. */
MSG_EXTERN void msg_unlisten(msg_Conn *conn);
MSG_EXTERN void msg_disconnect(msg_Conn *conn);

/* Sends a one-way message, or the reply when called on the conn of a msg_request inside its
 * callback. data is copied: the caller keeps it. On a UDP listener's conn the message goes to
 * the remote named by remote_ip and remote_port. Failures come back as msg_error. */
MSG_EXTERN void msg_send(msg_Conn *conn, msg_Data data);
/* Sends a request; msg_reply or a msg_error "tcp get timed out" / "udp get timed out" (after
 * 1 s) follows with reply_context in conn->reply_context. data is copied. */
MSG_EXTERN void msg_get(msg_Conn *conn, msg_Data data, void *reply_context);

/* msg_Data helpers. msg_new_data() copies str with its terminating NUL (counted in num_bytes);
 * msg_new_data_space() allocates num_bytes bytes; msg_delete_data() frees either. msg_as_str()
 * returns data.bytes as a string (borrowed). */
MSG_EXTERN char *msg_as_str(msg_Data data);
MSG_EXTERN msg_Data msg_new_data(const char *str);
MSG_EXTERN msg_Data msg_new_data_space(size_t num_bytes);
MSG_EXTERN void msg_delete_data(msg_Data data);

/* "1.2.3.4" and "tcp://1.2.3.4:5678" of conn's remote (static storage, overwritten by the next
 * call). */
MSG_EXTERN char *msg_ip_str(msg_Conn *conn);
MSG_EXTERN char *msg_address_str(msg_Conn *conn);

/* The text of a msg_error's data, "connect: Connection refused" and the like (borrowed). */
MSG_EXTERN char *msg_error_str(msg_Data data);

/* NULL, to say "no context". */
MSG_EXTERN extern void *msg_no_context;

/* The values of msg_Conn.protocol_type (SOCK_DGRAM and SOCK_STREAM). */
MSG_EXTERN extern const int msg_udp;
MSG_EXTERN extern const int msg_tcp;

/* Exported by the release for its leak checks (its header did not declare it); always 0. */
MSG_EXTERN int net_allocs_for_class(int class_);

#ifdef __cplusplus
}
#endif
#endif /* MSGBOX_H */
