/* bxctl: the command line client of bx services and hubs.
 *
 *   bxctl [--url URL] [--timeout S] [--json] COMMAND [ARG ...]
 *
 * It speaks plain FOAM box protocol, so it works against any box peer (bxd, a bx service, a
 * FOAM2 node server); `bxctl th ...` (th.c) works with telehash identities instead. Exit
 * codes: 0 ok, 1 remote error, 2 usage, 3 connection or timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bx.h>

#include "hub.h"
#include "th.h"

enum { EXIT_OK = 0, EXIT_REMOTE = 1, EXIT_USAGE = 2, EXIT_CONN = 3 };

typedef struct ctl {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_box *conn;
  const char *url;
  uint64_t timeout_ms;
  bool json;
  bool done;
  int exit_code;
  const char *command;
} ctl;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: bxctl [--url URL] [--timeout S] [--json] COMMAND [ARG ...]\n"
      "\n"
      "Commands:\n"
      "  ls                             the names registered in the hub, with their owners\n"
      "  ls --cluster                   the services of the hub's NATS cluster (bxd --nats)\n"
      "  call SERVICE METHOD [ARG ...]  call a method; each ARG is a JSON value (quote strings:\n"
      "                                 '\"text\"'); prints the result as JSON\n"
      "  lookup NAME                    whether NAME is registered (exit 1 when not)\n"
      "  send SERVICE JSON              send JSON as a one-way message to SERVICE\n"
      "  stats                          the hub's counters\n"
      "  th keygen|id|ping ...          telehash identities and a link check (bxctl th --help)\n"
      "\n"
      "Options:\n"
      "  --url URL      the peer: unix:///path, tcp://host:port, ws://host:port/ (default: the\n"
      "                 bxd default Unix socket)\n"
      "  --timeout S    seconds to wait for an answer (default 5)\n"
      "  --json         print results and errors as JSON objects\n"
      "  --help         this text\n"
      "\n"
      "Exit codes: 0 ok, 1 remote error, 2 usage, 3 connection or timeout.\n");
}

/* ---- output ------------------------------------------------------------------------------- */

static void print_json(const cJSON *v) {
  bx_buf buf = {0};
  if (bx_json_write(&buf, v) == 0) printf("%.*s\n", (int)buf.len, buf.base);
  bx_buf_free(&buf);
}

static bool is_connection_error(int status) {
  return status == BX_ECONNLOST || status == BX_ETIMEDOUT || status == BX_ENOREPLY ||
         status == BX_ECLOSING || (status < 0 && status > -4096); /* libuv: refused, no file */
}

static void report_error(ctl *c, int status, const char *text) {
  c->exit_code = is_connection_error(status) ? EXIT_CONN : EXIT_REMOTE;
  if (text == NULL) text = bx_strerror(status);
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", text);
    cJSON_AddStringToObject(o, "code", bx_err_name(status));
    print_json(o);
    cJSON_Delete(o);
  }
  if (is_connection_error(status))
    fprintf(stderr, "bxctl: %s: %s\n", c->url, text);
  else
    fprintf(stderr, "bxctl: %s\n", text);
}

static void report_result(ctl *c, const cJSON *data) {
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    if (data) cJSON_AddItemToObject(o, "result", cJSON_Duplicate(data, 1));
    print_json(o);
    cJSON_Delete(o);
  } else if (data) {
    print_json(data);
  }
}

/* `ls` prints one name per line (JSON with --json). */
static void report_list(ctl *c, const cJSON *data) {
  if (c->json || !cJSON_IsArray(data)) {
    report_result(c, data);
    return;
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, data) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(e, "owner");
    const cJSON *local = cJSON_GetObjectItemCaseSensitive(e, "local"); /* ls --cluster */
    const char *o = cJSON_IsString(owner) ? owner->valuestring : "";
    if (cJSON_IsBool(local)) o = cJSON_IsTrue(local) ? "this hub" : "cluster";
    printf("%-24s %s\n", cJSON_IsString(name) ? name->valuestring : "?", o);
  }
}

/* ---- calls -------------------------------------------------------------------------------- */

static void on_done(bx_call *call, int status, void *result, void *data) {
  ctl *c = data;
  c->done = true;
  if (strcmp(c->command, "barrier") == 0) { /* only the connection's fate matters */
    if (is_connection_error(status)) report_error(c, status, bx_call_error_text(call));
    return;
  }
  if (status != 0) {
    report_error(c, status, bx_call_error_text(call));
    return;
  }
  const cJSON *v = result;
  if (strcmp(c->command, "lookup") == 0) {
    if (!c->json)
      printf("registered\n");
    else
      report_result(c, cJSON_IsObject(v) ? NULL : v);
  } else if (strcmp(c->command, "ls") == 0) {
    report_list(c, v);
  } else {
    report_result(c, v);
  }
}

static int wait_done(ctl *c) {
  while (!c->done && uv_run(&c->loop, UV_RUN_ONCE)) {
  }
  return c->exit_code;
}

/* Calls method on box with args (owned) and waits for the answer. */
static int call(ctl *c, bx_box *box, const char *method, cJSON *args) {
  bx_call_opts opts = {.timeout_ms = c->timeout_ms};
  int rc = bx_call_json(box, method, args, false, &opts, on_done, c, NULL);
  if (rc) {
    report_error(c, rc, NULL);
    return c->exit_code;
  }
  return wait_done(c);
}

/* Builds a JSON array from argv; each element must parse as JSON. */
static int parse_args(int argc, char **argv, cJSON **out) {
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < argc; i++) {
    cJSON *v = cJSON_Parse(argv[i]);
    if (v == NULL) {
      fprintf(stderr, "bxctl: argument '%s' is not a JSON value (quote strings: '\"%s\"')\n",
              argv[i], argv[i]);
      cJSON_Delete(arr);
      return EXIT_USAGE;
    }
    cJSON_AddItemToArray(arr, v);
  }
  *out = arr;
  return 0;
}

static int cmd_call(ctl *c, int argc, char **argv) {
  if (argc < 2) return EXIT_USAGE;
  cJSON *args;
  int rc = parse_args(argc - 2, argv + 2, &args);
  if (rc) return rc;
  bx_box *svc = NULL;
  bx_sub_box_new(c->ctx, argv[0], c->conn, &svc);
  rc = call(c, svc, argv[1], args);
  bx_box_unref(svc);
  return rc;
}

static int cmd_registry(ctl *c, const char *method, const char *name) {
  cJSON *args = cJSON_CreateArray();
  if (name) cJSON_AddItemToArray(args, cJSON_CreateString(name));
  return call(c, c->conn, method, args);
}

/* send: the message, then a lookup on the same connection as a barrier, so that bxctl exits
 * only once the peer has read the message. */
static int cmd_send(ctl *c, int argc, char **argv) {
  if (argc != 2) return EXIT_USAGE;
  cJSON *payload = cJSON_Parse(argv[1]);
  if (payload == NULL) {
    fprintf(stderr, "bxctl: the message '%s' is not JSON\n", argv[1]);
    return EXIT_USAGE;
  }
  bx_box *svc = NULL;
  bx_sub_box_new(c->ctx, argv[0], c->conn, &svc);
  int rc = bx_send_json(svc, payload);
  bx_box_unref(svc);
  if (rc) {
    report_error(c, rc, NULL);
    return c->exit_code;
  }
  c->command = "barrier";
  bx_call_opts opts = {.timeout_ms = c->timeout_ms};
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateString(argv[0]));
  rc = bx_call_json(c->conn, "doLookup", args, false, &opts, on_done, c, NULL);
  if (rc) {
    report_error(c, rc, NULL);
    return c->exit_code;
  }
  return wait_done(c);
}

static int run(ctl *c, int argc, char **argv) {
  const char *cmd = argv[0];
  c->command = cmd;
  if (strcmp(cmd, "call") == 0) return cmd_call(c, argc - 1, argv + 1);
  if (strcmp(cmd, "ls") == 0 && argc == 1) return cmd_registry(c, "list", NULL);
  if (strcmp(cmd, "ls") == 0 && argc == 2 && strcmp(argv[1], "--cluster") == 0)
    return cmd_registry(c, "clusterList", NULL);
  if (strcmp(cmd, "stats") == 0 && argc == 1) return cmd_registry(c, "stats", NULL);
  if (strcmp(cmd, "lookup") == 0 && argc == 2) return cmd_registry(c, "doLookup", argv[1]);
  if (strcmp(cmd, "send") == 0) return cmd_send(c, argc - 1, argv + 1);
  return EXIT_USAGE;
}

int main(int argc, char **argv) {
  ctl c;
  memset(&c, 0, sizeof c);
  c.timeout_ms = 5000;
  char def[600];
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--json") == 0) {
      c.json = true;
    } else if (strcmp(argv[i], "--url") == 0 && has_value) {
      c.url = argv[++i];
    } else if (strcmp(argv[i], "--timeout") == 0 && has_value) {
      double s = strtod(argv[++i], NULL);
      if (s <= 0) {
        fprintf(stderr, "bxctl: --timeout needs a positive number of seconds\n");
        return EXIT_USAGE;
      }
      c.timeout_ms = (uint64_t)(s * 1000);
    } else {
      fprintf(stderr, "bxctl: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[i], "th") == 0) { /* no hub connection: telehash only */
    th_opts to = {.timeout_ms = c.timeout_ms, .json = c.json};
    return bxctl_th(&to, argc - i - 1, argv + i + 1);
  }
  if (c.url == NULL) { /* the default hub: only in a directory nobody else controls */
    char dir[512], why[700];
    if (hub_default_url(def, sizeof def, dir, sizeof dir) != 0) return EXIT_USAGE;
    if (access(dir, F_OK) == 0 && hub_dir_check(dir, why, sizeof why) != 0) {
      fprintf(stderr, "bxctl: refusing the default hub socket: %s\n", why);
      return EXIT_CONN;
    }
    c.url = def;
  }
  uv_loop_init(&c.loop);
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.name = "/bxctl";
  opts.log_level = BX_LOG_ERROR;
  int rc = bx_ctx_new(&c.loop, &opts, &c.ctx);
  /* bxctl prints what it receives and never interprets it: any application class may pass. */
  if (rc == 0) rc = bx_ctx_allow_class(c.ctx, "*");
  if (rc == 0) rc = bx_connect(c.ctx, c.url, NULL, &c.conn);
  if (rc != 0) {
    fprintf(stderr, "bxctl: %s: %s\n", c.url, bx_strerror(rc));
    rc = EXIT_USAGE;
  } else {
    rc = run(&c, argc - i, argv + i);
    if (rc == EXIT_USAGE) usage(stderr);
  }
  bx_box_unref(c.conn);
  bx_ctx_close(c.ctx, NULL, NULL);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  uv_loop_close(&c.loop);
  return rc;
}
