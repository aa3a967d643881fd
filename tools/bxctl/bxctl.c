/* bxctl: the command line client of bx services and hubs.
 *
 *   bxctl [--url URL] [--timeout S] [--json] COMMAND [ARG ...]
 *
 * It speaks plain FOAM box protocol, so it works against any box peer (bxd, a bx service, a
 * FOAM2 node server); `bxctl th ...` (th.c) works with telehash identities instead. Exit
 * codes: 0 ok, 1 remote error (an application error is always one: its code is the
 * service's, never this machine's), 2 usage, 3 connection or timeout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bx.h>

#include "dao.h"
#include "describe.h"
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
  const char *service; /* describe, ping: the service named */
  uint64_t start_ns;   /* ping: when the call went out */
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
      "  describe SERVICE               the service's methods and types (from its bxgen\n"
      "                                 descriptor) as C-like signatures; JSON with --json\n"
      "  ping [SERVICE]                 the round-trip time to the hub, or through it to\n"
      "                                 SERVICE (any answer counts: it is alive)\n"
      "  send SERVICE JSON              send JSON as a one-way message to SERVICE\n"
      "  stats                          the hub's counters\n"
      "  th keygen|id|ping ...          telehash identities and a link check (bxctl th --help)\n"
      "  dao NAME put|find|remove|select|listen ...  a DAO's data (bxctl dao --help)\n"
      "\n"
      "Options:\n"
      "  --url URL      the peer: unix:///path, tcp://host:port, ws://host:port/ (default: the\n"
      "                 bxd default Unix socket)\n"
      "  --timeout S    seconds to wait for an answer (default 5)\n"
      "  --json         print results and errors as JSON objects\n"
      "  --help         this text\n"
      "  --version      the version of bxctl (and of libbx)\n"
      "\n"
      "Exit codes: 0 ok, 1 remote error (with --json, a service's own error code is\n"
      "app_code), 2 usage, 3 connection or timeout.\n");
}

/* ---- what went wrong, in words ----------------------------------------------------------- */

#define BXCTL_SCHEMES "unix://, tcp://, ws://, wss://, msgbox+udp://, nats:// ..."
#define BXCTL_MAX_UNIX_PATH 107 /* sizeof sun_path - 1 on Linux */

static bool known_scheme(const char *s, size_t n) {
  static const char *const schemes[] = {"unix",       "tcp",         "ws",   "wss", "msgbox+tcp",
                                        "msgbox+udp", "msgbox+unix", "nats", "th"};
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (strlen(schemes[i]) == n && memcmp(schemes[i], s, n) == 0) return true;
  return false;
}

/* The Unix socket path of a unix:// or msgbox+unix:// URL, or NULL. */
static const char *unix_path(const char *url) {
  if (strncmp(url, "unix://", 7) == 0) return url + 7;
  if (strncmp(url, "msgbox+unix://", 14) == 0) return url + 14;
  return NULL;
}

/* Checks what can be told before connecting: the scheme, a Unix socket path's length and its
 * directory. Prints the reason and returns an exit code, or 0. */
static int check_url(const char *url) {
  const char *sep = strstr(url, "://");
  if (sep == NULL || !known_scheme(url, (size_t)(sep - url))) {
    if (sep == NULL)
      fprintf(stderr, "bxctl: '%s' is not a URL (" BXCTL_SCHEMES ")\n", url);
    else
      fprintf(stderr, "bxctl: unknown scheme '%.*s' (" BXCTL_SCHEMES ")\n", (int)(sep - url), url);
    return EXIT_USAGE;
  }
  const char *path = unix_path(url);
  if (path == NULL) return 0;
  if (strlen(path) > BXCTL_MAX_UNIX_PATH) {
    fprintf(stderr, "bxctl: socket path longer than %d bytes: %s\n", BXCTL_MAX_UNIX_PATH, path);
    return EXIT_USAGE;
  }
  const char *slash = strrchr(path, '/');
  if (slash == NULL || slash == path) return 0;
  char dir[BXCTL_MAX_UNIX_PATH + 1];
  snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  struct stat st;
  if (stat(dir, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
    fprintf(stderr, "bxctl: directory %s does not exist\n", dir);
    return EXIT_CONN;
  }
  return 0;
}

/* The words for a failure bxctl understands better than its code, or NULL. */
static const char *explain(const char *url, const char *command, int status, const char *text,
                           char *buf, size_t len) {
  if (status == BX_ENOSERVICE) {
    snprintf(buf, len, "no such service '%s'", text ? text : "");
    return buf;
  }
  if (status == BX_ENOMETHOD && (strcmp(command, "ls") == 0 || strcmp(command, "stats") == 0))
    return "not a bxd hub: ls and stats need bxd";
  const char *path = unix_path(url);
  if (path && (status == UV_ENOENT || status == UV_ECONNREFUSED)) {
    snprintf(buf, len, "no socket at %s (is bxd running?)", path);
    return buf;
  }
  return NULL;
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

/* An application's error code as JSON: its name when bx or libuv names it, else the number. */
static cJSON *app_code_json(int code) {
  const char *name = bx_err_name(code);
  return strcmp(name, "BX_UNKNOWN") ? cJSON_CreateString(name) : cJSON_CreateNumber(code);
}

/* status: the call's; app_code: bx_call_error_code() (for BX_EREMOTE, the service's code). */
static void report_error(ctl *c, int status, const char *text, int app_code) {
  c->exit_code = is_connection_error(status) ? EXIT_CONN : EXIT_REMOTE;
  if (text == NULL) text = bx_strerror(status);
  char words[300];
  const char *why = explain(c->url, c->command, status, text, words, sizeof words);
  if (why) text = why;
  bool app = status == BX_EREMOTE && app_code != BX_EREMOTE && app_code < 0;
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", text);
    cJSON_AddStringToObject(o, "code", bx_err_name(status));
    if (app) cJSON_AddItemToObject(o, "app_code", app_code_json(app_code));
    print_json(o);
    cJSON_Delete(o);
  }
  if (is_connection_error(status) && why == NULL) {
    fprintf(stderr, "bxctl: %s: %s\n", c->url, text);
  } else if (app) {
    cJSON *code = app_code_json(app_code);
    if (cJSON_IsString(code))
      fprintf(stderr, "bxctl: %s (%s)\n", text, code->valuestring);
    else
      fprintf(stderr, "bxctl: %s (%d)\n", text, app_code);
    cJSON_Delete(code);
  } else {
    fprintf(stderr, "bxctl: %s\n", text);
  }
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

/* ping: an answer of any kind (a result, an error from the far end) proves it is alive; only
 * a connection error or a timeout does not. */
static void report_ping(ctl *c, int status, bx_call *call) {
  if (is_connection_error(status) || (c->service && status == BX_ENOSERVICE)) {
    report_error(c, status, bx_call_error_text(call), bx_call_error_code(call));
    return;
  }
  double ms = (double)(uv_hrtime() - c->start_ns) / 1e6;
  const char *who = c->service ? c->service : "the hub";
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    cJSON_AddStringToObject(o, "target", c->service ? c->service : "");
    cJSON_AddNumberToObject(o, "rttMs", ms);
    print_json(o);
    cJSON_Delete(o);
  } else {
    printf("answer from %s: %.3f ms\n", who, ms);
  }
}

/* ---- calls -------------------------------------------------------------------------------- */

static void on_done(bx_call *call, int status, void *result, void *data) {
  ctl *c = data;
  c->done = true;
  if (strcmp(c->command, "ping") == 0) { /* any answer from the far end: it is alive */
    report_ping(c, status, call);
    return;
  }
  if (strcmp(c->command, "describe") == 0 && status == BX_ENOMETHOD) {
    report_error(c, status, "the service has no descriptor (it is not a bxgen skeleton)", status);
    return;
  }
  if (strcmp(c->command, "barrier") == 0) { /* only the connection's fate matters */
    if (is_connection_error(status))
      report_error(c, status, bx_call_error_text(call), bx_call_error_code(call));
    return;
  }
  if (status != 0) {
    report_error(c, status, bx_call_error_text(call), bx_call_error_code(call));
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
  } else if (strcmp(c->command, "describe") == 0 && !c->json) {
    if (bxctl_describe_print(stdout, v) != 0)
      report_error(c, BX_EBADMSG, "not a descriptor", BX_EBADMSG);
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
    report_error(c, rc, NULL, rc);
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

/* Calls method() with no arguments on the service named `name`. */
static int cmd_service(ctl *c, const char *name, const char *method) {
  bx_box *svc = NULL;
  c->service = name;
  bx_sub_box_new(c->ctx, name, c->conn, &svc);
  int rc = call(c, svc, method, cJSON_CreateArray());
  bx_box_unref(svc);
  return rc;
}

static int cmd_registry(ctl *c, const char *method, const char *name) {
  cJSON *args = cJSON_CreateArray();
  if (name) cJSON_AddItemToArray(args, cJSON_CreateString(name));
  return call(c, c->conn, method, args);
}

/* ping: one call to connect (a barrier: only its connection errors count), then the timed one;
 * a service is asked for its descriptor, the hub to look up the empty name. */
static int cmd_ping(ctl *c, const char *service) {
  for (int round = 0; round < 2; round++) {
    c->command = round == 0 ? "barrier" : "ping";
    c->done = false;
    c->start_ns = uv_hrtime();
    int rc = service ? cmd_service(c, service, "describe") : cmd_registry(c, "doLookup", "");
    if (rc) return rc;
  }
  return 0;
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
    report_error(c, rc, NULL, rc);
    return c->exit_code;
  }
  c->command = "barrier";
  bx_call_opts opts = {.timeout_ms = c->timeout_ms};
  cJSON *args = cJSON_CreateArray();
  cJSON_AddItemToArray(args, cJSON_CreateString(argv[0]));
  rc = bx_call_json(c->conn, "doLookup", args, false, &opts, on_done, c, NULL);
  if (rc) {
    report_error(c, rc, NULL, rc);
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
  if (strcmp(cmd, "describe") == 0 && argc == 2) return cmd_service(c, argv[1], "describe");
  if (strcmp(cmd, "ping") == 0 && argc <= 2) return cmd_ping(c, argc == 2 ? argv[1] : NULL);
  if (strcmp(cmd, "dao") == 0) {
    dao_opts o = {&c->loop, c->ctx, c->conn, c->timeout_ms, c->json};
    int rc = bxctl_dao(&o, argc - 1, argv + 1);
    return rc == EXIT_USAGE ? -EXIT_USAGE : rc; /* dao printed its own usage */
  }
  return EXIT_USAGE;
}

int main(int argc, char **argv) {
  ctl c;
  memset(&c, 0, sizeof c);
  c.timeout_ms = 5000;
  char def[600];
  int rc, i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("bxctl %s\n", bx_version_string());
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
  rc = check_url(c.url);
  if (rc) return rc;
  uv_loop_init(&c.loop);
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.name = "/bxctl";
  char uname[64]; /* dao listen exports a sink by NamedBox: its path must be its own */
  if (strcmp(argv[i], "dao") == 0) {
    snprintf(uname, sizeof uname, "/bxctl-%ld", (long)getpid());
    opts.name = uname;
  }
  opts.log_level = BX_LOG_ERROR;
  rc = bx_ctx_new(&c.loop, &opts, &c.ctx);
  /* bxctl prints what it receives and never interprets it: any application class may pass. */
  if (rc == 0) rc = bx_ctx_allow_class(c.ctx, "*");
  if (rc == 0) rc = bx_connect(c.ctx, c.url, NULL, &c.conn);
  if (rc != 0) {
    fprintf(stderr, "bxctl: %s: %s\n", c.url, bx_strerror(rc));
    rc = EXIT_USAGE;
  } else {
    rc = run(&c, argc - i, argv + i);
    if (rc == EXIT_USAGE) usage(stderr);
    if (rc == -EXIT_USAGE) rc = EXIT_USAGE;
  }
  bx_box_unref(c.conn);
  bx_ctx_close(c.ctx, NULL, NULL);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  uv_loop_close(&c.loop);
  return rc;
}
