/* libFuzzer target for the WebSocket path: raw bytes sent to a real ws:// listener of a bx
 * context in this process (libwebsockets' handshake and frame parser, then bx's callbacks:
 * version check, reassembly, UTF-8, limits, close handling, dispatch into the registry).
 *
 * Input: the first byte picks the mode; the rest is sent over a fresh loopback TCP connection.
 * - mode & 1 == 0: the bytes are the whole conversation (the HTTP upgrade request included), so
 *   the handshake itself is fuzzed;
 * - mode & 1 == 1: a valid RFC 6455 upgrade request comes first and the bytes follow it as
 *   frames (masked or not, any opcode, lengths up to 2^63, fragments, close frames ...);
 * - mode & 2: the bytes go out in small writes with the loop run between them.
 * Then our side shuts down its writing half; the listener must close the connection (or answer
 * and close) within a bound of loop turns.
 *
 * Checked for every input: no crash, no leak (the sanitizers), and the connection ends: the
 * server closes it after our end of input (a connection still open after the bound aborts, as
 * a hang would). The context lives across inputs, so whatever one input leaves behind (a
 * connection never closed) shows in the next ones and at exit.
 *
 * Built by tests/fuzz/CMakeLists.txt when bx has WebSocket: a libFuzzer program with
 * `make fuzz` (clang), else a replay of corpus/ws/ as an ordinary test. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <bx.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_TURNS 4000 /* loop turns of 1 ms at most before a connection must have ended */

static uv_loop_t fz_loop;
static bx_ctx *fz_ctx;
static bx_listener *fz_l;
static struct sockaddr_in fz_addr;

static void fz_quiet(void *data, int level, const char *text) {
  (void)data;
  (void)level;
  (void)text;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  uv_loop_init(&fz_loop);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/fuzz/ws";
  o.log = fz_quiet;
  if (bx_ctx_new(&fz_loop, &o, &fz_ctx) != 0) abort();
  bx_listen_opts lo;
  bx_ws_listen_opts wo;
  memset(&lo, 0, sizeof lo);
  memset(&wo, 0, sizeof wo);
  bx_transport_limits_init(&lo.limits);
  lo.limits.max_frame = 65536; /* a declared length above it is refused from the header */
  wo.ping_secs = 2;
  lo.ws = &wo;
  if (bx_listen(fz_ctx, "ws://127.0.0.1:0/", &lo, &fz_l) != 0) abort();
  const char *url = bx_listener_url(fz_l); /* ws://127.0.0.1:PORT/ */
  const char *colon = strrchr(url, ':');
  memset(&fz_addr, 0, sizeof fz_addr);
  fz_addr.sin_family = AF_INET;
  fz_addr.sin_port = htons((uint16_t)atoi(colon + 1));
  fz_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return 0;
}

static const char fz_upgrade[] = "GET / HTTP/1.1\r\n"
                                 "Host: 127.0.0.1\r\n"
                                 "Upgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 "Sec-WebSocket-Version: 13\r\n\r\n";

/* Runs the loop for one turn of at most 1 ms, reading (and discarding) what the server sent.
 * Returns 1 once the server closed the connection. */
static int fz_turn(int fd) {
  uv_run(&fz_loop, UV_RUN_NOWAIT);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 1) <= 0) return 0;
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0) return 1;
  if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : 1; /* reset: closed */
  return 0;
}

/* Sends len bytes, turning the loop whenever the socket is full. Returns 1 if the server closed
 * the connection meanwhile. */
static int fz_send(int fd, const uint8_t *p, size_t len, size_t piece) {
  size_t off = 0;
  for (int turns = 0; off < len && turns < FZ_TURNS; turns++) {
    size_t n = len - off < piece ? len - off : piece;
    ssize_t w = send(fd, p + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) off += (size_t)w;
    if (w < 0 && errno != EAGAIN && errno != EINTR) return 1;
    if (fz_turn(fd)) return 1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) abort();
  if (connect(fd, (struct sockaddr *)&fz_addr, sizeof fz_addr) != 0) abort();
  size_t piece = mode & 2 ? 1 + (size_t)(mode >> 4) : SIZE_MAX;
  int closed = 0;
  if (mode & 1) closed = fz_send(fd, (const uint8_t *)fz_upgrade, sizeof fz_upgrade - 1, SIZE_MAX);
  if (!closed) closed = fz_send(fd, data + 1, size - 1, piece);
  shutdown(fd, SHUT_WR);
  for (int turns = 0; !closed; turns++) {
    if (turns == FZ_TURNS) {
      fprintf(stderr, "fuzz_ws: the listener kept the connection open after our end\n");
      abort();
    }
    closed = fz_turn(fd);
  }
  close(fd);
  for (int i = 0; i < 4; i++) /* the server's side of the close */
    uv_run(&fz_loop, UV_RUN_NOWAIT);
  return 0;
}
