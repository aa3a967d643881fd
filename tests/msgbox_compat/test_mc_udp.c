/* The released msgbox API on bx: one UDP listener, two clients (the release's
 * many_udp_cli_one_server_loop test). The listener's single msg_Conn gives each remote its own
 * conn_context back, both clients' first messages come in one msg_runloop() call, and a program
 * that rewrites remote_ip / remote_port on that conn addresses another remote with msg_send,
 * msg_get and msg_disconnect; an address no remote has is an error. C99 against msgbox.h only.
 */
#include "mct.h"

static msg_Conn *listener;
static int port;
static volatile int listening, ended, server_done;
static mct_log srv_log;

/* The two clients. */
typedef struct client {
  msg_Conn *conn;
  mct_log log;
  char got[64];
  volatile int ready, closed, requests, msgs;
} client;
static client ca, cb;

/* The server's view of each remote, in the order their first message came. */
static char addr1[64], addr2[64];
static uint32_t ip1, ip2;
static uint16_t port1, port2;
static int round1, round2_seen1, round2_seen2, pass1[2];
static volatile int nmsg, replies, closed_remotes, server_errors;
static void *reply_ctx_seen;
static char last_error[128];
static int get_ctx_tag;

static void server_cb(msg_Conn *conn, msg_Event event, msg_Data data) {
  mct_add(&srv_log, event);
  if (event == msg_listening) {
    listener = conn;
    port = conn->remote_port;
    listening = 1;
  }
  if (event == msg_listening_ended) ended = 1;
  if (event != msg_listening && event != msg_listening_ended) CHECK(conn == listener);
  if (event == msg_connection_ready) {
    /* A new remote starts with the listener's context (NULL), never a previous remote's. */
    CHECK(conn->conn_context == NULL);
  }
  if (event == msg_message) {
    CHECK_STR(msg_as_str(data), "why hello");
    if (nmsg < 2) {
      pass1[nmsg] = mct_pass;
      if (nmsg == 0) {
        strcpy(addr1, msg_address_str(conn));
        conn->conn_context = addr1;
        ip1 = conn->remote_ip;
        port1 = conn->remote_port;
      } else {
        strcpy(addr2, msg_address_str(conn));
        CHECK(strcmp(addr1, addr2) != 0);
        conn->conn_context = addr2;
        ip2 = conn->remote_ip;
        port2 = conn->remote_port;
        /* Address the first remote from inside the second one's event. */
        conn->remote_ip = ip1;
        conn->remote_port = port1;
        msg_Data d = msg_new_data("to the first");
        msg_send(conn, d);
        msg_delete_data(d);
        round1 = 1;
      }
    } else {
      if (conn->conn_context == addr1 && !round2_seen1)
        round2_seen1 = 1;
      else if (conn->conn_context == addr2 && !round2_seen2)
        round2_seen2 = 1;
      else
        CHECK(!"unexpected conn_context");
      CHECK_STR(msg_address_str(conn), (const char *)conn->conn_context);
    }
    nmsg++;
  }
  if (event == msg_reply) {
    CHECK_STR(msg_as_str(data), "answer from b");
    CHECK(conn->remote_ip == ip2 && conn->remote_port == port2);
    CHECK(conn->conn_context == addr2);
    reply_ctx_seen = conn->reply_context;
    replies++;
  }
  if (event == msg_connection_closed) {
    CHECK(conn->conn_context == addr1 || conn->conn_context == addr2);
    CHECK_STR(msg_address_str(conn), (const char *)conn->conn_context);
    closed_remotes++;
  }
  if (event == msg_error) {
    snprintf(last_error, sizeof last_error, "%s", msg_error_str(data));
    server_errors++;
  }
}

static void client_cb(msg_Conn *conn, msg_Event event, msg_Data data) {
  client *c = conn->conn_context;
  CHECK(c == &ca || c == &cb);
  mct_add(&c->log, event);
  if (event == msg_connection_ready) {
    c->conn = conn;
    c->ready = 1;
  }
  if (event == msg_message) {
    snprintf(c->got, sizeof c->got, "%s", msg_as_str(data));
    c->msgs++;
  }
  if (event == msg_request) {
    CHECK_STR(msg_as_str(data), "question for b");
    msg_Data d = msg_new_data("answer from b");
    msg_send(conn, d);
    msg_delete_data(d);
    c->requests++;
  }
  if (event == msg_connection_closed) c->closed = 1;
}

static void send_hello(client *c) {
  msg_Data d = msg_new_data("why hello");
  msg_send(c->conn, d);
  msg_delete_data(d);
}

static void wait_count(volatile int *count, int n) {
  double end = mct_now_ms() + 5000;
  while (*count < n) {
    CHECK(mct_now_ms() < end);
    mct_pass++;
    msg_runloop(10);
  }
}

int main(void) {
  char a[64];
  msg_listen("udp://127.0.0.1:0", server_cb);
  mct_run_until(&listening, 5000);
  mct_addr(a, sizeof a, "udp", port);
  msg_connect(a, client_cb, &ca);
  msg_connect(a, client_cb, &cb);
  mct_run_until(&ca.ready, 5000);
  mct_run_until(&cb.ready, 5000);

  /* Round one: a message from each, both read in one pass. */
  send_hello(&ca);
  send_hello(&cb);
  wait_count(&nmsg, 2);
  CHECK(pass1[0] == pass1[1]);
  CHECK(round1);

  /* The rewritten address reached the first client only. */
  double end = mct_now_ms() + 5000;
  while (ca.msgs + cb.msgs == 0) {
    CHECK(mct_now_ms() < end);
    msg_runloop(10);
  }
  client *first = ca.msgs ? &ca : &cb;
  client *second = first == &ca ? &cb : &ca;
  CHECK_STR(first->got, "to the first");
  CHECK(second->got[0] == '\0');

  /* Round two: each remote's context comes back. */
  send_hello(&ca);
  send_hello(&cb);
  wait_count(&nmsg, 4);
  CHECK(round2_seen1 && round2_seen2);

  /* A get to the second remote through the shared conn; its reply names that remote. */
  listener->remote_ip = ip2;
  listener->remote_port = port2;
  msg_Data q = msg_new_data("question for b");
  msg_get(listener, q, &get_ctx_tag);
  msg_delete_data(q);
  wait_count(&replies, 1);
  CHECK(reply_ctx_seen == &get_ctx_tag);
  CHECK(second->requests == 1 && first->requests == 0);

  /* An address no remote has: an error, delivered from the loop. */
  listener->remote_ip = ip1;
  listener->remote_port = 1; /* nobody */
  msg_Data d = msg_new_data("lost");
  msg_send(listener, d);
  msg_delete_data(d);
  CHECK(server_errors == 0);
  wait_count(&server_errors, 1);
  CHECK(strstr(last_error, "no known connection with udp://127.0.0.1:1") != NULL);

  /* The server closes the first remote; the second closes itself. */
  listener->remote_ip = ip1;
  listener->remote_port = port1;
  msg_disconnect(listener);
  mct_run_until(&first->closed, 5000);
  wait_count(&closed_remotes, 1);
  msg_disconnect(second->conn);
  mct_run_until(&second->closed, 5000);
  wait_count(&closed_remotes, 2);

  msg_unlisten(listener);
  mct_run_until(&ended, 5000);
  CHECK_STR(srv_log.text, "listening connection_ready message connection_ready message message "
                          "message reply error connection_closed connection_closed "
                          "listening_ended");
  CHECK_STR(first->log.text, "connection_ready message connection_closed");
  CHECK_STR(second->log.text, "connection_ready request connection_closed");
  printf("msgbox compat udp: ok\n");
  return 0;
}
