/* The released msgbox API on bx: a 1 MiB message over TCP arrives intact (the release's long
 * string test), and three messages sent back to back are all delivered in one msg_runloop()
 * call, over TCP and UDP (its multi_msg_per_loop test). C99 against msgbox.h only.
 */
#include "mct.h"

static const char *proto;
static msg_Conn *listener;
static int port;
static volatile int listening, ended, server_done, client_done;
static mct_log srv_log, cli_log;

static void reset(const char *p) {
  proto = p;
  listener = NULL;
  port = 0;
  listening = ended = server_done = client_done = 0;
  memset(&srv_log, 0, sizeof srv_log);
  memset(&cli_log, 0, sizeof cli_log);
}

static void server_common(msg_Conn *conn, msg_Event event) {
  mct_add(&srv_log, event);
  if (event == msg_listening) {
    listener = conn;
    port = conn->remote_port;
    listening = 1;
  }
  if (event == msg_listening_ended) ended = 1;
  if (event == msg_connection_closed) server_done = 1;
}

static void start_server(msg_Callback cb) {
  char a[64];
  snprintf(a, sizeof a, "%s://127.0.0.1:0", proto);
  msg_listen(a, cb);
  mct_run_until(&listening, 5000);
}

static void stop_server(void) {
  msg_unlisten(listener);
  mct_run_until(&ended, 5000);
}

/* ---- 1 MiB over TCP ------------------------------------------------------------------------ */

static char *long_string;
static const size_t long_len = 1u << 20;

static void long_server(msg_Conn *conn, msg_Event event, msg_Data data) {
  server_common(conn, event);
  CHECK(event != msg_connection_lost && event != msg_error);
  if (event == msg_message) {
    CHECK(data.num_bytes == long_len);
    CHECK(memcmp(data.bytes, long_string, long_len) == 0);
    msg_Data d = msg_new_data("thanks!");
    msg_send(conn, d);
    msg_delete_data(d);
  }
}

static void long_client(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&cli_log, event);
  if (event == msg_connection_ready) {
    msg_Data d = msg_new_data(long_string); /* its NUL is the last of the 1 MiB */
    CHECK(d.num_bytes == long_len);
    msg_send(conn, d);
    msg_delete_data(d);
  }
  if (event == msg_message) {
    CHECK_STR(msg_as_str(data), "thanks!");
    msg_disconnect(conn);
  }
  if (event == msg_connection_closed) client_done = 1;
}

static void test_long(void) {
  char a[64];
  long_string = malloc(long_len);
  CHECK(long_string != NULL);
  for (size_t i = 0; i < long_len; i++)
    long_string[i] = (char)('a' + (i * 7 + i / 26) % 26);
  long_string[long_len - 1] = '\0';
  reset("tcp");
  start_server(long_server);
  msg_connect(mct_addr(a, sizeof a, proto, port), long_client, NULL);
  mct_run_until(&client_done, 10000);
  mct_run_until(&server_done, 10000);
  stop_server();
  CHECK_STR(cli_log.text, "connection_ready message connection_closed");
  CHECK_STR(srv_log.text, "listening connection_ready message connection_closed listening_ended");
  free(long_string);
}

/* ---- three messages in one pass ------------------------------------------------------------ */

static int msg_pass[3];
static int nmsgs;
static msg_Conn *client_conn;

static void three_server(msg_Conn *conn, msg_Event event, msg_Data data) {
  server_common(conn, event);
  if (event == msg_message) {
    CHECK_STR(msg_as_str(data), "why hello");
    CHECK(nmsgs < 3);
    msg_pass[nmsgs++] = mct_pass;
    if (nmsgs == 3) msg_disconnect(client_conn); /* any side may close */
  }
}

static void three_client(msg_Conn *conn, msg_Event event, msg_Data data) {
  (void)data;
  mct_add(&cli_log, event);
  if (event == msg_connection_ready) {
    client_conn = conn;
    msg_Data d = msg_new_data("why hello");
    msg_send(conn, d);
    msg_send(conn, d);
    msg_send(conn, d);
    msg_delete_data(d);
  }
  if (event == msg_connection_closed) client_done = 1;
}

static void test_three(const char *p) {
  char a[64];
  reset(p);
  nmsgs = 0;
  start_server(three_server);
  msg_connect(mct_addr(a, sizeof a, proto, port), three_client, NULL);
  mct_run_until(&client_done, 5000);
  mct_run_until(&server_done, 5000);
  stop_server();
  CHECK(nmsgs == 3);
  CHECK(msg_pass[0] == msg_pass[1] && msg_pass[1] == msg_pass[2]);
  CHECK_STR(cli_log.text, "connection_ready connection_closed");
  CHECK_STR(srv_log.text, "listening connection_ready message message message connection_closed "
                          "listening_ended");
}

int main(void) {
  test_long();
  test_three("tcp");
  test_three("udp");
  printf("msgbox compat passes: ok\n");
  return 0;
}
