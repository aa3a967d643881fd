/* A released-msgbox program built against the installed compatibility layer (pkg-config
 * bx-msgbox), as C99: it listens, connects to itself, gets an answer and closes. */
#include <stdio.h>
#include <string.h>

#include <msgbox.h>

static int done, port;
static msg_Conn *listener;

static void on_server(msg_Conn *conn, msg_Event event, msg_Data data) {
  if (event == msg_listening) {
    listener = conn;
    port = conn->remote_port;
  }
  if (event == msg_request) msg_send(conn, data); /* the reply */
  if (event == msg_connection_closed) msg_unlisten(listener);
  if (event == msg_listening_ended) done = 1;
}

static void on_client(msg_Conn *conn, msg_Event event, msg_Data data) {
  if (event == msg_connection_ready) {
    msg_Data d = msg_new_data("ping");
    msg_get(conn, d, msg_no_context);
    msg_delete_data(d);
  }
  if (event == msg_reply && strcmp(msg_as_str(data), "ping") == 0) msg_disconnect(conn);
  if (event == msg_error) fprintf(stderr, "msgbox consumer: %s\n", msg_error_str(data));
}

int main(void) {
  msg_listen("tcp://127.0.0.1:0", on_server);
  while (port == 0)
    msg_runloop(-1);
  char address[64];
  snprintf(address, sizeof address, "tcp://127.0.0.1:%d", port);
  msg_connect(address, on_client, msg_no_context);
  for (int i = 0; i < 500 && !done; i++)
    msg_runloop(10);
  if (!done) return 1;
  printf("msgbox consumer: ok\n");
  return 0;
}
