/* calc_server: serves the calculator as "calc" on its own listeners, in a hub, or both.
 *
 *   calc_server --listen unix:///tmp/calc.sock --listen tcp://127.0.0.1:7301
 *   calc_server --connect unix:///run/user/1000/bx/bxd.sock [--token T]
 *
 * Prints one line per listener ("listening on URL"), "registered as NAME at URL" once the hub
 * accepted it, and "ready"; runs until SIGINT or SIGTERM. Registered in a hub, it stays
 * registered (bx_register_remote_keep): after the hub restarts or the connection drops it
 * registers again ("registered again as NAME at URL"), logging "hub unreachable, retrying in
 * Ns" while the hub cannot be reached. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc_impl.h"

#define MAX_LISTENERS 8

/* The registration in a hub (bx_register_remote_keep does the work). */
typedef struct hub_link {
  const char *url;
  const char *name;
  bx_box *hub;  /* the hub's registry over the connection */
  cJSON *attrs; /* {"token": ...} or NULL */
  bx_registration *reg;
} hub_link;

typedef struct server {
  uv_loop_t loop;
  bx_ctx *ctx;
  calc_impl impl;
  uv_signal_t sigint, sigterm;
  hub_link link;
  int exit_code;
} server;

static void usage(FILE *out) {
  fprintf(out,
          "usage: calc_server [--listen URL]... [--www DIR] [--cert FILE --key FILE]\n"
          "                   [--allow-class PATTERN]... [--name NAME] [--log-level LEVEL]\n"
          "\n"
          "Serves the calculator (examples/calculator/calc.h) as a registered service.\n"
          "  --listen URL       listen on URL: unix:///path, tcp://host:port (port 0 picks one),\n"
          "                     ws://host:port/, wss://host:port/, inproc://name; may be given\n"
          "                     several times (default: tcp://127.0.0.1:0)\n"
          "  --www DIR          ws/wss listeners also serve the files in DIR (GET /, /x.js)\n"
          "  --cert FILE        wss: the PEM certificate chain\n"
          "  --key FILE         wss: the PEM private key\n"
          "  --allow-class PAT  also accept these payload classes (e.g. test.rpc.*); repeatable\n"
          "  --connect URL      register in the hub at URL (bxd) and stay registered\n"
          "  --token TOKEN      the token the hub asks of services registering over TCP or\n"
          "                     WebSocket\n"
          "  --name NAME        the service name in the registry (default: calc)\n"
          "  --log-level LEVEL  error, warn (default), info or debug\n"
          "  --help             this text\n");
}

static void shutdown_server(server *srv) {
  uv_signal_stop(&srv->sigint);
  uv_signal_stop(&srv->sigterm);
  if (!uv_is_closing((uv_handle_t *)&srv->sigint)) {
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
  }
  bx_registration_stop(srv->link.reg);
  srv->link.reg = NULL;
  if (!bx_ctx_is_closing(srv->ctx)) bx_ctx_close(srv->ctx, NULL, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  fprintf(stderr, "calc_server: shutting down\n");
  shutdown_server(s->data);
}

/* ---- staying registered in a hub ---------------------------------------------------------- */

/* Why the hub refused to register us, in words. */
static const char *refusal(const hub_link *l, int status) {
  static char buf[300];
  bool unix_socket =
      strncmp(l->url, "unix://", 7) == 0 || strncmp(l->url, "msgbox+unix://", 14) == 0;
  if (status == BX_EPERM && unix_socket)
    return "register refused: this hub does not let this user register (bxd --unix-uid)";
  if (status == BX_EPERM && l->attrs == NULL)
    return "register refused: this listener needs --token";
  if (status == BX_EPERM) return "register refused: the hub did not accept the token";
  if (status == BX_EEXIST) {
    snprintf(buf, sizeof buf, "register refused: the name '%s' is taken", l->name);
    return buf;
  }
  snprintf(buf, sizeof buf, "register refused: %s", bx_strerror(status));
  return buf;
}

static void on_registration(bx_registration *reg, bx_reg_event ev, int status, uint64_t retry_ms,
                            void *data) {
  (void)reg;
  server *srv = data;
  hub_link *l = &srv->link;
  switch (ev) {
  case BX_REG_REGISTERED:
  case BX_REG_REREGISTERED:
    printf("%s as %s at %s\n", ev == BX_REG_REGISTERED ? "registered" : "registered again", l->name,
           l->url);
    fflush(stdout);
    break;
  case BX_REG_LOST:
    fprintf(stderr, "calc_server: lost the hub at %s (%s), registering again\n", l->url,
            bx_strerror(status));
    break;
  case BX_REG_RETRYING:
    fprintf(stderr, "calc_server: hub unreachable, retrying in %gs (%s)\n",
            (double)retry_ms / 1000.0, bx_strerror(status));
    break;
  case BX_REG_REFUSED: /* a service that cannot have its name has nothing to serve */
    fprintf(stderr, "calc_server: %s\n", refusal(l, status));
    srv->exit_code = 1;
    shutdown_server(srv);
    break;
  }
}

static int link_start(server *srv, const char *url, const char *name, const char *token,
                      bx_box *skel) {
  hub_link *l = &srv->link;
  l->url = url;
  l->name = name;
  if (token) {
    l->attrs = cJSON_CreateObject();
    cJSON_AddStringToObject(l->attrs, "token", token);
  }
  int rc = bx_connect(srv->ctx, url, NULL, &l->hub);
  bx_keep_opts ko = {.attributes = l->attrs, .timeout_ms = 2000};
  if (rc == 0) rc = bx_register_remote_keep(l->hub, name, skel, &ko, on_registration, srv, &l->reg);
  return rc;
}

int main(int argc, char **argv) {
  const char *urls[MAX_LISTENERS];
  int nurls = 0, level = BX_LOG_WARN;
  const char *name = "calc", *hub = NULL, *token = NULL;
  const char *www = NULL, *cert = NULL, *key = NULL, *classes[MAX_LISTENERS];
  int nclasses = 0;
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--listen") == 0 && has_value && nurls < MAX_LISTENERS) {
      urls[nurls++] = argv[++i];
    } else if (strcmp(argv[i], "--www") == 0 && has_value) {
      www = argv[++i];
    } else if (strcmp(argv[i], "--cert") == 0 && has_value) {
      cert = argv[++i];
    } else if (strcmp(argv[i], "--key") == 0 && has_value) {
      key = argv[++i];
    } else if (strcmp(argv[i], "--allow-class") == 0 && has_value && nclasses < MAX_LISTENERS) {
      classes[nclasses++] = argv[++i];
    } else if (strcmp(argv[i], "--connect") == 0 && has_value) {
      hub = argv[++i];
    } else if (strcmp(argv[i], "--token") == 0 && has_value) {
      token = argv[++i];
    } else if (strcmp(argv[i], "--name") == 0 && has_value) {
      name = argv[++i];
    } else if (strcmp(argv[i], "--log-level") == 0 && has_value &&
               (level = bx_log_level_from_name(argv[i + 1])) >= 0) {
      i++;
    } else {
      fprintf(stderr, "calc_server: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (nurls == 0 && hub == NULL) urls[nurls++] = "tcp://127.0.0.1:0";

  server srv;
  memset(&srv, 0, sizeof srv);
  uv_loop_init(&srv.loop);
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.log_level = level;
  opts.name = "/calc_server";
  int rc = bx_ctx_new(&srv.loop, &opts, &srv.ctx);
  bx_box *skel = NULL;
  for (int i = 0; rc == 0 && i < nclasses; i++)
    rc = bx_ctx_allow_class(srv.ctx, classes[i]);
  if (rc == 0) rc = calc_impl_register(srv.ctx, &srv.impl, name, &skel);
  if (rc == 0 && hub) rc = link_start(&srv, hub, name, token, skel);
  for (int i = 0; rc == 0 && i < nurls; i++) {
    bx_listener *l;
    bx_listen_opts lo;
    bx_ws_listen_opts wo;
    memset(&lo, 0, sizeof lo);
    memset(&wo, 0, sizeof wo);
    bx_transport_limits_init(&lo.limits);
    wo.www_dir = www;
    wo.tls_cert = cert;
    wo.tls_key = key;
    lo.ws = &wo;
    rc = bx_listen(srv.ctx, urls[i], &lo, &l);
    if (rc == 0)
      printf("listening on %s\n", bx_listener_url(l));
    else
      fprintf(stderr, "calc_server: cannot listen on %s: %s\n", urls[i], bx_strerror(rc));
  }
  if (rc != 0) {
    if (hub && rc) fprintf(stderr, "calc_server: %s: %s\n", hub, bx_strerror(rc));
    bx_registration_stop(srv.link.reg);
    bx_box_unref(skel);
    bx_box_unref(srv.link.hub);
    cJSON_Delete(srv.link.attrs);
    if (srv.ctx) bx_ctx_close(srv.ctx, NULL, NULL);
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv.loop);
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  uv_signal_init(&srv.loop, &srv.sigint);
  uv_signal_init(&srv.loop, &srv.sigterm);
  srv.sigint.data = srv.sigterm.data = &srv;
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
  uv_run(&srv.loop, UV_RUN_DEFAULT);
  bx_box_unref(skel);
  bx_box_unref(srv.link.hub);
  cJSON_Delete(srv.link.attrs);
  return uv_loop_close(&srv.loop) == 0 ? srv.exit_code : 1;
}
