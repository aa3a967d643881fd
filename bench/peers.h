/* The peers bx-bench measures next to bx: nng and ZeroMQ REQ/REP, written against their public
 * APIs, with the same payload and the same timing as the bx scenarios. */
#ifndef BX_BENCH_PEERS_H
#define BX_BENCH_PEERS_H

#include <stdbool.h>
#include <stddef.h>

/* Runs `warmup` then `ops` request/reply round trips of `size` bytes against a REP server in a
 * child process (pinned to CPU 0 when asked) at url (nng: "ipc:///path" or "tcp://..."; zmq:
 * the same forms). Fills lat[0..ops) with microseconds per round trip and *total_us with the
 * measured span. Returns 0, or -1 when the peer failed. */
int peer_nng(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
             double *total_us);
int peer_zmq(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
             double *total_us);

/* The raw libwebsockets echo (the WebSocket floor) on 127.0.0.1:port. */
int peer_lws(const char *port, size_t size, int warmup, int ops, bool pinned, double *lat,
             double *total_us);
void lws_serve(const char *port, int n, int ready);
/* Starts the server side of peer `kind` ("nng", "zmq", "lws") as a fresh process. */
int peer_start(const char *kind, const char *url, int n, bool pinned);

/* The raw ping-pong on libuv loops over a Unix socket at path (uv_floor.c). */
int peer_uv_unix(const char *path, size_t size, int warmup, int ops, bool pinned, double *lat,
                 double *total_us);

/* msgbox's native API (bench/msgbox.c): request/reply round trips of `size` bytes against an
 * echoing server process listening on url ("tcp://127.0.0.1:0", "udp://127.0.0.1:0"). */
int peer_msgbox(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
                double *total_us);
/* The UDP floor: a blocking ping-pong of one datagram of `size` + 8 bytes (msgbox's header and
 * the payload) between two processes on 127.0.0.1; url is unused. */
int peer_raw_udp(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
                 double *total_us);

/* The same ping-pong with both sides on libuv loops (uv_udp_*): the event loop's share. */
int peer_uv_udp(const char *url, size_t size, int warmup, int ops, bool pinned, double *lat,
                double *total_us);
/* NATS (bench/nats.c): a nats-server process on 127.0.0.1 with a random port (hostport:
 * "127.0.0.1:P"; -1 when nats-server is not installed), a wait until `subject` answers the FOAM
 * frame (a bx service subscribed, 0) and the floor: request/reply round trips of `size` bytes
 * between two processes with blocking sockets speaking the NATS text protocol through the
 * server, no library. */
int nats_server_start(char *hostport, size_t cap, int *pid);
int nats_wait_served(const char *hostport, const char *subject, const char *frame);
int peer_raw_nats(const char *hostport, size_t size, int warmup, int ops, bool pinned, double *lat,
                  double *total_us);

/* libsodium crypto_box seal+open of `size` bytes in this process (the telehash floor):
 * with the X25519 agreement per message, or with the shared key precomputed. */
int peer_sodium(bool precomputed, size_t size, int warmup, int ops, double *lat, double *total_us);

/* The floor of a telehash channel packet: crypto_secretbox_easy + open_easy of `size` bytes
 * with a precomputed key (sodium.c). */
int peer_secretbox(size_t size, int warmup, int ops, double *lat, double *total_us);

/* telehash (bench/th.c): bx's CS3a message seal+open+verify of `size` bytes with the keys a
 * link keeps (th-seal+open) and as a one-off (th-seal+open-1x), a channel packet's seal+open
 * (th-chan), and a reliable-channel round trip between two endpoints in two processes over UDP
 * loopback (th-rtt). */
int peer_th_seal(size_t size, int warmup, int ops, double *lat, double *total_us);
int peer_th_seal_1x(size_t size, int warmup, int ops, double *lat, double *total_us);
int peer_th_chan(size_t size, int warmup, int ops, double *lat, double *total_us);
int peer_th_rtt(size_t size, int warmup, int ops, bool pinned, double *lat, double *total_us);

/* The server side: bx-bench --peer-serve nng|zmq URL COUNT READY_FD pinned|unpinned. */
int peer_serve_main(int argc, char **argv);

/* Microseconds on the monotonic clock; pins the calling process to CPU 0 when `pinned`. */
double peer_now_us(void);
void peer_pin(bool pinned);

#endif
