/* todo_server: serves a DAO of test.Todo (the struct in todo.h, read by bxgen) as "todos", in
 * memory or on SQLite, on its own listeners, in a hub, or both. FOAM2's ClientDAOs, bx_dao_client,
 * bx.js's conn.dao() and bxctl dao use it.
 *
 *   todo_server [--listen URL]... [--store memory|sqlite:PATH] [--connect HUBURL [--token T]]
 *               [--name todos] [--www DIR] [--log-level LEVEL]
 *
 * Prints "listening on URL" per listener, then "ready"; with --connect, "registered as NAME
 * at URL" once the hub accepted it (and again after a hub restart: it checks every half
 * second that the hub still knows it). Runs until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "todo_stub.h" /* bxgen: test_todo_dao_model from todo.h */

#define MAX_LISTENERS 8

typedef struct server {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_dao_store *store;
  bx_box *service;
  uv_signal_t sigint, sigterm;
  /* the hub */
  const char *hub_url, *name;
  bx_box *hub;
  cJSON *attrs;
  uv_timer_t timer;
  bool linked, registered, pending, announced;
  int exit_code;
} server;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: todo_server [--listen URL]... [--store memory|sqlite:PATH]\n"
      "                   [--connect HUBURL [--token T]] [--name NAME] [--www DIR]\n"
      "                   [--log-level LEVEL]\n"
      "\n"
      "Serves a DAO of test.Todo {id, title, done, priority, due, tags} as NAME.\n"
      "  --listen URL       unix:///path, tcp://host:port (port 0 picks one), ws://host:port/;\n"
      "                     repeatable (default: tcp://127.0.0.1:0 unless --connect)\n"
      "  --store S          memory (default) or sqlite:PATH (kept across restarts)\n"
      "  --connect URL      register in the hub at URL (bxd) and stay registered\n"
      "  --token TOKEN      the token the hub asks of services registering over TCP or WS\n"
      "  --name NAME        the service name (default: todos)\n"
      "  --www DIR          ws listeners also serve the files in DIR\n"
      "  --log-level LEVEL  error, warn (default), info or debug\n");
}

static void stop(server *s) {
  if (!uv_is_closing((uv_handle_t *)&s->sigint)) {
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
  }
  if (s->linked && !uv_is_closing((uv_handle_t *)&s->timer))
    uv_close((uv_handle_t *)&s->timer, NULL);
  if (!bx_ctx_is_closing(s->ctx)) bx_ctx_close(s->ctx, NULL, NULL);
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)signum;
  stop(sig->data);
}

static bool conn_error(int status) {
  return status == BX_ECONNLOST || status == BX_ETIMEDOUT || status == BX_ENOREPLY ||
         (status < 0 && status > -4096);
}

static void on_registered(bx_call *call, int status, void *result, void *data) {
  (void)result;
  server *s = data;
  s->pending = false;
  if (status == 0) {
    s->registered = true;
    printf("%s as %s at %s\n", s->announced ? "registered again" : "registered", s->name,
           s->hub_url);
    fflush(stdout);
    s->announced = true;
  } else if (!conn_error(status)) {
    fprintf(stderr, "todo_server: the hub refused %s: %s\n", s->name, bx_call_error_text(call));
    s->exit_code = 1;
    stop(s);
  }
}

static void on_checked(bx_call *call, int status, void *result, void *data) {
  (void)call, (void)result;
  server *s = data;
  s->pending = false;
  if (status != 0) s->registered = false;
}

static void tick(uv_timer_t *t) {
  server *s = t->data;
  if (s->pending || bx_ctx_is_closing(s->ctx)) return;
  bx_call_opts o = {.timeout_ms = 2000, .attributes = s->attrs};
  int rc;
  if (!s->registered) {
    rc = bx_register_remote(s->hub, s->name, s->service, &o, on_registered, s, NULL);
  } else {
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, cJSON_CreateString(s->name));
    rc = bx_call_json(s->hub, "doLookup", args, false, &o, on_checked, s, NULL);
  }
  s->pending = rc == 0;
}

int main(int argc, char **argv) {
  const char *urls[MAX_LISTENERS], *store = "memory", *token = NULL, *www = NULL;
  int nurls = 0, level = BX_LOG_WARN;
  server s;
  memset(&s, 0, sizeof s);
  s.name = "todos";
  for (int i = 1; i < argc; i++) {
    bool v = i + 1 < argc;
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--listen") == 0 && v && nurls < MAX_LISTENERS) {
      urls[nurls++] = argv[++i];
    } else if (strcmp(argv[i], "--store") == 0 && v) {
      store = argv[++i];
    } else if (strcmp(argv[i], "--connect") == 0 && v) {
      s.hub_url = argv[++i];
    } else if (strcmp(argv[i], "--token") == 0 && v) {
      token = argv[++i];
    } else if (strcmp(argv[i], "--name") == 0 && v) {
      s.name = argv[++i];
    } else if (strcmp(argv[i], "--www") == 0 && v) {
      www = argv[++i];
    } else if (strcmp(argv[i], "--log-level") == 0 && v &&
               (level = bx_log_level_from_name(argv[i + 1])) >= 0) {
      i++;
    } else {
      fprintf(stderr, "todo_server: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (nurls == 0 && s.hub_url == NULL) urls[nurls++] = "tcp://127.0.0.1:0";
  int rc;
  if (strcmp(store, "memory") == 0) {
    rc = bx_dao_memory_store_new(&test_todo_dao_model, &s.store);
  } else if (strncmp(store, "sqlite:", 7) == 0) {
    rc = bx_dao_sqlite_store_new(&test_todo_dao_model, store + 7, &s.store);
  } else {
    fprintf(stderr, "todo_server: --store is memory or sqlite:PATH\n");
    return 2;
  }
  if (rc) {
    fprintf(stderr, "todo_server: cannot open the store %s: %s\n", store, bx_strerror(rc));
    return 1;
  }
  uv_loop_init(&s.loop);
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.log_level = level;
  o.name = "/todo_server";
  rc = bx_ctx_new(&s.loop, &o, &s.ctx);
  if (rc == 0) rc = bx_dao_service_new(s.ctx, &test_todo_dao_model, s.store, NULL, &s.service);
  if (rc == 0) rc = bx_register(bx_ctx_registry(s.ctx), s.name, s.service, NULL);
  if (rc == 0 && s.hub_url) {
    if (token) {
      s.attrs = cJSON_CreateObject();
      cJSON_AddStringToObject(s.attrs, "token", token);
    }
    rc = bx_connect(s.ctx, s.hub_url, NULL, &s.hub);
    if (rc == 0) {
      uv_timer_init(&s.loop, &s.timer);
      s.timer.data = &s;
      s.linked = true;
      uv_timer_start(&s.timer, tick, 0, 500);
    }
  }
  for (int i = 0; rc == 0 && i < nurls; i++) {
    bx_listener *l;
    bx_listen_opts lo;
    bx_ws_listen_opts wo;
    memset(&lo, 0, sizeof lo);
    memset(&wo, 0, sizeof wo);
    bx_transport_limits_init(&lo.limits);
    wo.www_dir = www;
    lo.ws = &wo;
    rc = bx_listen(s.ctx, urls[i], &lo, &l);
    if (rc == 0)
      printf("listening on %s\n", bx_listener_url(l));
    else
      fprintf(stderr, "todo_server: cannot listen on %s: %s\n", urls[i], bx_strerror(rc));
  }
  uv_signal_init(&s.loop, &s.sigint);
  uv_signal_init(&s.loop, &s.sigterm);
  s.sigint.data = s.sigterm.data = &s;
  if (rc != 0) {
    if (s.hub_url) fprintf(stderr, "todo_server: %s\n", bx_strerror(rc));
    s.exit_code = 1;
    stop(&s);
  } else {
    if (s.hub_url == NULL) printf("ready\n");
    fflush(stdout);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  }
  uv_run(&s.loop, UV_RUN_DEFAULT);
  bx_box_unref(s.service);
  bx_box_unref(s.hub);
  cJSON_Delete(s.attrs);
  bx_dao_store_free(s.store);
  return uv_loop_close(&s.loop) == 0 ? s.exit_code : 1;
}
