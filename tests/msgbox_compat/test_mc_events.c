/* The released msgbox API on bx, over TCP and UDP, in one process: the exact event orders of the
 * release's tests with conn_context on every event (echo, request and reply), a get to a silent
 * server ("tcp/udp get timed out" with its reply_context, and msg_runloop(-1) woken by it),
 * requests and one-way messages interleaved (a send inside a reply handler is one-way, two gets
 * in one pass keep their contexts), the error texts ("connect: Connection refused",
 * "bind: Address already in use", a malformed address), msg_unlisten, msg_runloop's modes and
 * the msg_Data and address helpers. Written against msgbox.h only, built as C99.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "mct.h"

static const char *proto;  /* "tcp" or "udp" of the case running */
static msg_Conn *listener; /* the server's listening conn */
static int port;           /* where it listens */
static volatile int listening, ended, server_done, client_done;
static mct_log srv_log, cli_log;
static int client_ctx_tag, get_ctx_tag, get_ctx_tag2;

static void reset(const char *p) {
  proto = p;
  listener = NULL;
  port = 0;
  listening = ended = server_done = client_done = 0;
  memset(&srv_log, 0, sizeof srv_log);
  memset(&cli_log, 0, sizeof cli_log);
}

/* Listens on 127.0.0.1 port 0 with cb and waits for msg_listening. */
static void start_server(msg_Callback cb) {
  char a[64];
  snprintf(a, sizeof a, "%s://127.0.0.1:0", proto);
  msg_listen(a, cb);
  mct_run_until(&listening, 5000);
  CHECK(port > 0);
}

static void stop_server(void) {
  msg_unlisten(listener);
  mct_run_until(&ended, 5000);
}

/* Server-side bookkeeping common to every case. */
static void server_common(msg_Conn *conn, msg_Event event) {
  mct_add(&srv_log, event);
  if (event == msg_listening) {
    CHECK(conn->for_listening == 1);
    CHECK(conn->protocol_type == (strcmp(proto, "udp") == 0 ? msg_udp : msg_tcp));
    listener = conn;
    port = conn->remote_port;
    listening = 1;
  }
  if (event == msg_listening_ended) ended = 1;
}

/* ---- 1. echo, then request and reply (the release's basic test) ---------------------------- */

static char remote_name[8][64];
static int nremotes;

static const char *address_of(msg_Conn *conn) {
  static char buf[64];
  snprintf(buf, sizeof buf, "%s://%s:%d", conn->protocol_type == msg_tcp ? "tcp" : "udp",
           msg_ip_str(conn), conn->remote_port);
  return buf;
}

static void basic_server(msg_Conn *conn, msg_Event event, msg_Data data) {
  server_common(conn, event);
  if (event == msg_connection_ready) {
    CHECK(nremotes < 8);
    strcpy(remote_name[nremotes], address_of(conn));
    conn->conn_context = remote_name[nremotes++];
    CHECK_STR(msg_address_str(conn), remote_name[nremotes - 1]);
    CHECK_STR(msg_ip_str(conn), "127.0.0.1");
  }
  if (event == msg_message || event == msg_request || event == msg_connection_closed) {
    CHECK(conn->conn_context != NULL);
    CHECK_STR(address_of(conn), (const char *)conn->conn_context);
  }
  if (event == msg_message) {
    CHECK_STR(msg_as_str(data), "hello msgbox!");
    CHECK(data.num_bytes == strlen("hello msgbox!") + 1);
    CHECK(conn->reply_id == 0);
    msg_send(conn, data); /* echo the incoming data itself, as the release's test does */
  }
  if (event == msg_request) {
    CHECK_STR(msg_as_str(data), "request string");
    CHECK(conn->reply_id != 0);
    msg_Data reply = msg_new_data("reply string");
    msg_send(conn, reply);
    msg_delete_data(reply);
  }
  if (event == msg_connection_closed) server_done = 1;
}

static void basic_client(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&cli_log, event);
  CHECK(conn->conn_context == &client_ctx_tag);
  if (event == msg_error) fprintf(stderr, "client error: %s\n", msg_error_str(data));
  if (event == msg_connection_ready) {
    CHECK(conn->for_listening == 0);
    CHECK(conn->remote_port == port);
    CHECK_STR(msg_ip_str(conn), "127.0.0.1");
    msg_Data d = msg_new_data("hello msgbox!");
    msg_send(conn, d);
    msg_delete_data(d);
  }
  if (event == msg_message) {
    CHECK_STR(msg_as_str(data), "hello msgbox!");
    msg_Data d = msg_new_data("request string");
    msg_get(conn, d, &get_ctx_tag);
    msg_delete_data(d);
  }
  if (event == msg_reply) {
    CHECK_STR(msg_as_str(data), "reply string");
    CHECK(conn->reply_context == &get_ctx_tag);
    msg_disconnect(conn);
  }
  if (event == msg_connection_closed) client_done = 1;
}

static void test_basic(const char *p) {
  char a[64];
  reset(p);
  start_server(basic_server);
  msg_connect(mct_addr(a, sizeof a, proto, port), basic_client, &client_ctx_tag);
  mct_run_until(&client_done, 5000);
  mct_run_until(&server_done, 5000);
  stop_server();
  CHECK_STR(cli_log.text, "connection_ready message reply connection_closed");
  CHECK_STR(srv_log.text,
            "listening connection_ready message request connection_closed listening_ended");
}

/* ---- 2. a get to a silent server ----------------------------------------------------------- */

static void silent_server(msg_Conn *conn, msg_Event event, msg_Data data) {
  (void)data;
  server_common(conn, event);
  if (event == msg_connection_closed) server_done = 1;
}

static volatile int got_request_seen;
static void silent_server_note(msg_Conn *conn, msg_Event event, msg_Data data) {
  silent_server(conn, event, data);
  if (event == msg_request) got_request_seen = 1;
}

static void timeout_client(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&cli_log, event);
  CHECK(conn->conn_context == &client_ctx_tag);
  if (event == msg_connection_ready) {
    msg_Data d = msg_new_data("hello msgbox!");
    msg_get(conn, d, &get_ctx_tag);
    msg_delete_data(d);
  }
  if (event == msg_error) {
    CHECK_STR(msg_error_str(data),
              conn->protocol_type == msg_tcp ? "tcp get timed out" : "udp get timed out");
    CHECK(conn->reply_context == &get_ctx_tag);
    msg_disconnect(conn);
  }
  if (event == msg_connection_closed) client_done = 1;
}

static void test_timeout(const char *p) {
  char a[64];
  reset(p);
  got_request_seen = 0;
  start_server(silent_server_note);
  msg_connect(mct_addr(a, sizeof a, proto, port), timeout_client, &client_ctx_tag);
  mct_run_until(&got_request_seen, 5000);
  /* Nothing is due now but the get's timeout: msg_runloop(-1) must wake for it (the release's
   * did not). */
  double t0 = mct_now_ms();
  while (strstr(cli_log.text, "error") == NULL) {
    msg_runloop(-1);
    CHECK(mct_now_ms() - t0 < 5000);
  }
  double waited = mct_now_ms() - t0;
  CHECK(waited > 500 && waited < 3000); /* the released 1 s */
  mct_run_until(&client_done, 5000);
  mct_run_until(&server_done, 5000);
  stop_server();
  CHECK_STR(cli_log.text, "connection_ready error connection_closed");
  CHECK_STR(srv_log.text, "listening connection_ready request connection_closed listening_ended");
}

/* ---- 3. requests and one-way messages interleaved (the release's multiget test) ------------ */

static void multi_server(msg_Conn *conn, msg_Event event, msg_Data data) {
  server_common(conn, event);
  const char *in = data.bytes ? msg_as_str(data) : "";
  const char *out = NULL;
  if (event == msg_request && strcmp(in, "hi") == 0) out = "hello";
  if (event == msg_request && strcmp(in, "bye") == 0) out = "byee";
  if (event == msg_request && strncmp(in, "two", 3) == 0) out = in;
  if (event == msg_request) CHECK(out != NULL);
  if (event == msg_message) {
    CHECK_STR(in, "do you know what a rhetorical question is?");
    out = "do i know what a rhetorical question is?";
  }
  if (out) {
    msg_Data d = msg_new_data(out);
    msg_send(conn, d);
    msg_delete_data(d);
  }
  if (event == msg_connection_closed) server_done = 1;
}

static int nreplies;
static char two_a[] = "two-a", two_b[] = "two-b";

static void multi_client(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&cli_log, event);
  CHECK(conn->conn_context == &client_ctx_tag);
  if (event == msg_connection_ready) {
    msg_Data d = msg_new_data("hi");
    msg_get(conn, d, &get_ctx_tag);
    msg_delete_data(d);
  }
  if (event == msg_reply) {
    const char *s = msg_as_str(data);
    nreplies++;
    if (nreplies == 1) {
      CHECK_STR(s, "hello");
      CHECK(conn->reply_context == &get_ctx_tag);
      /* Inside a reply handler a send is one-way: the server sees a msg_message. */
      msg_Data d = msg_new_data("do you know what a rhetorical question is?");
      msg_send(conn, d);
      msg_delete_data(d);
    } else if (nreplies == 2) {
      CHECK_STR(s, "byee");
      CHECK(conn->reply_context == &get_ctx_tag2);
      /* Two gets sent back to back: each reply brings its own context back. */
      msg_Data d1 = msg_new_data(two_a), d2 = msg_new_data(two_b);
      msg_get(conn, d1, two_a);
      msg_get(conn, d2, two_b);
      msg_delete_data(d1);
      msg_delete_data(d2);
    } else {
      CHECK(nreplies <= 4);
      CHECK(conn->reply_context == two_a || conn->reply_context == two_b);
      CHECK_STR(s, (const char *)conn->reply_context);
      if (nreplies == 4) msg_disconnect(conn);
    }
  }
  if (event == msg_message) {
    CHECK_STR(msg_as_str(data), "do i know what a rhetorical question is?");
    msg_Data d = msg_new_data("bye");
    msg_get(conn, d, &get_ctx_tag2);
    msg_delete_data(d);
  }
  if (event == msg_connection_closed) client_done = 1;
}

static void test_interleaved(const char *p) {
  char a[64];
  reset(p);
  nreplies = 0;
  start_server(multi_server);
  msg_connect(mct_addr(a, sizeof a, proto, port), multi_client, &client_ctx_tag);
  mct_run_until(&client_done, 5000);
  mct_run_until(&server_done, 5000);
  stop_server();
  CHECK_STR(cli_log.text, "connection_ready reply message reply reply reply connection_closed");
  CHECK_STR(srv_log.text, "listening connection_ready request message request request request "
                          "connection_closed listening_ended");
}

/* ---- 4. error texts ------------------------------------------------------------------------ */

static volatile int errors;
static char error_text[256];
static int err_ctx_tag;

static void error_cb(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&cli_log, event);
  if (event == msg_error) {
    CHECK(conn->conn_context == &err_ctx_tag || conn->for_listening);
    snprintf(error_text, sizeof error_text, "%s", msg_error_str(data));
    errors++;
  }
}

static void test_errors(const char *p) {
  char a[64];
  /* A port nobody listens on: listen, note the port, stop. */
  reset(p);
  start_server(silent_server);
  int free_port = port;
  stop_server();

  /* TCP: refused. (A UDP connect succeeds: the remote may exist; nothing was sent.) */
  if (strcmp(p, "tcp") == 0) {
    reset(p);
    errors = 0;
    msg_connect(mct_addr(a, sizeof a, p, free_port), error_cb, &err_ctx_tag);
    mct_run_until(&errors, 5000);
    CHECK_STR(error_text, "connect: Connection refused");
    CHECK_STR(cli_log.text, "error");
  }

  /* UDP: a get to nobody ends in "udp get timed out" (at once when the ICMP refusal comes);
   * the conn stays open and closes in order. */
  if (strcmp(p, "udp") == 0) {
    reset(p);
    msg_connect(mct_addr(a, sizeof a, p, free_port), timeout_client, &client_ctx_tag);
    mct_run_until(&client_done, 5000);
    CHECK_STR(cli_log.text, "connection_ready error connection_closed");
  }

  /* A port already taken. */
  reset(p);
  start_server(silent_server);
  errors = 0;
  msg_listen(mct_addr(a, sizeof a, p, port), error_cb);
  mct_run_until(&errors, 5000);
  CHECK_STR(error_text, "bind: Address already in use");
  stop_server();

  /* A malformed address: an error, with the conn_context, from msg_runloop only. */
  reset(p);
  errors = 0;
  snprintf(a, sizeof a, "%s://no-colon-here", p);
  msg_connect(a, error_cb, &err_ctx_tag);
  CHECK(errors == 0); /* never inside the call */
  mct_run_until(&errors, 5000);
  CHECK(strncmp(error_text, "msg_connect: ", 13) == 0);
  errors = 0;
  msg_connect("http://127.0.0.1:80", error_cb, &err_ctx_tag);
  mct_run_until(&errors, 5000);
  CHECK(strncmp(error_text, "msg_connect: ", 13) == 0);
  CHECK_STR(cli_log.text, "error error");
}

/* ---- 5. msg_runloop's modes and the helpers ------------------------------------------------ */

static void test_runloop_and_helpers(void) {
  /* Nothing open: every mode returns at once. */
  double t0 = mct_now_ms();
  msg_runloop(0);
  msg_runloop(-1);
  msg_runloop(200);
  CHECK(mct_now_ms() - t0 < 150);

  msg_Data d = msg_new_data("abc");
  CHECK(d.num_bytes == 4);
  CHECK_STR(msg_as_str(d), "abc");
  CHECK_STR(msg_error_str(d), "abc");
  msg_delete_data(d);
  d = msg_new_data_space(10);
  CHECK(d.num_bytes == 10 && d.bytes != NULL);
  memset(d.bytes, 'x', 10);
  msg_delete_data(d);

  CHECK(msg_no_context == NULL);
  CHECK(msg_tcp == SOCK_STREAM && msg_udp == SOCK_DGRAM);
  CHECK(net_allocs_for_class(0) == 0);

  msg_Conn c;
  memset(&c, 0, sizeof c);
  c.remote_ip = htonl(0x7f000001);
  c.remote_port = 6070;
  c.protocol_type = (uint16_t)msg_udp;
  CHECK_STR(msg_ip_str(&c), "127.0.0.1");
  CHECK_STR(msg_address_str(&c), "udp://127.0.0.1:6070");
}

int main(void) {
  test_runloop_and_helpers();
  const char *protos[] = {"tcp", "udp"};
  for (int i = 0; i < 2; i++) {
    test_basic(protos[i]);
    test_interleaved(protos[i]);
    test_errors(protos[i]);
    test_timeout(protos[i]);
  }
  /* Everything ended: msg_runloop(-1) returns at once again. */
  double t0 = mct_now_ms();
  msg_runloop(-1);
  CHECK(mct_now_ms() - t0 < 150);
  printf("msgbox compat events: ok\n");
  return 0;
}
