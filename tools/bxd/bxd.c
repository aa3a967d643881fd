/* bxd: the hub. One context whose registry other processes register services in and call
 * services through, over Unix sockets, TCP, WebSocket and msgbox (TCP, UDP, Unix) listeners.
 *
 *   bxd [--unix PATH]... [--tcp HOST:PORT]... [--ws HOST:PORT]... [--msgbox URL]... [options]
 *
 * Registrations belong to the connection that made them: they disappear when it closes, and
 * nobody else can remove or take them. Who may register is decided per listener kind: over
 * Unix sockets the peer's uid (same as bxd's by default), over TCP, UDP and WebSocket nobody unless
 * a token is configured and the register message carries it as its "token" attribute.
 *
 * Design notes
 * - A Unix socket's file mode is the first gate: connecting needs write permission on it. The
 *   mode follows --unix-uid: 0600 when only bxd's own uid may register (the default), 0666 when
 *   any uid or another uid may (they must be able to connect; SO_PEERCRED then decides who
 *   registers, and anybody who can connect may look up and call). --msgbox unix:// listeners
 *   get the same mode (bx_listen_opts.unix_mode) and the same uid check.
 * - The token comes from --token-file (a file only its owner may read), BXD_TOKEN or --token,
 *   in that order of preference; --token is visible to every local user in /proc/PID/cmdline.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bx.h>

#include "bxd_th.h"
#include "hub.h"
#include "sd.h"
#include "nats_fed.h"

#define BXD_MAX_LISTENERS 16
#define BXD_MAX_UIDS 16
#define BXD_MAX_TOKEN 1024

typedef struct bxd {
  uv_loop_t loop;
  bx_ctx *ctx;
  uv_signal_t sigint, sigterm;
  const char *urls[BXD_MAX_LISTENERS];
  int fds[BXD_MAX_LISTENERS]; /* an inherited listening socket for urls[i] (systemd), or 0 */
  char owned_urls[BXD_MAX_LISTENERS][600];
  int nurls;
  bool unix_any_uid;
  uid_t unix_uids[BXD_MAX_UIDS]; /* who may register over Unix sockets; none given: bxd's uid */
  int nuids;
  const char *token;
  const char *token_file;
  char token_buf[BXD_MAX_TOKEN + 2];
  unsigned max_connections; /* per listener; 0: the transport default */
  unsigned max_pending;     /* per connection, requests in service; 0: the default */
  const char *www;          /* files served on WebSocket listeners: the status page */
  const char *origins[BX_WS_MAX_ORIGINS + 1]; /* --ws-origin, NULL-terminated */
  int norigins;
  const char *cert, *key; /* --cert, --key: the wss listeners' */
  int log_format;         /* --log-format: BX_LOG_TEXT or BX_LOG_JSON */
  uint64_t started_ms;
  bxd_th th;        /* the telehash box host (--telehash ...), when asked for */
  const char *nats; /* --nats URL: attach to a NATS cluster (nats_fed.c) */
} bxd;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: bxd [--unix PATH]... [--tcp HOST:PORT]... [--ws HOST:PORT]... [--msgbox URL]...\n"
      "           [options]\n"
      "\n"
      "The bx hub: services register in its registry; clients call them through it.\n"
      "With no listener it listens on the default Unix socket\n"
      "($XDG_RUNTIME_DIR/bx/bxd.sock, else /tmp/bx-<uid>/bxd.sock) and, when this build has\n"
      "the WebSocket transport, on ws://" HUB_DEFAULT_WS "/.\n"
      "\n"
      "Listeners (each may be given several times):\n"
      "  --unix PATH         a Unix socket (mode 0600, or 0666 when --unix-uid lets other\n"
      "                      uids register: see below)\n"
      "  --tcp HOST:PORT     a TCP listener (port 0 picks one; IPv6 as [::1]:PORT)\n"
      "  --ws HOST:PORT      a WebSocket listener\n"
      "  --wss HOST:PORT     a WebSocket listener over TLS (needs --cert and --key)\n"
      "  --msgbox URL        boxes over msgbox: udp://HOST:PORT, tcp://HOST:PORT or\n"
      "                      unix:///PATH, optionally with ?heartbeat=MS (clients then need\n"
      "                      the same query); clients call msgbox+udp://HOST:PORT ...\n"
      "                      (a unix:// one's mode and uid check are those of --unix)\n"
      "  --nats URL          attach to a NATS cluster (nats://HOST:PORT[,HOST:PORT...]):\n"
      "                      this hub's services are served to it and its services are\n"
      "                      callable here by name (docs/scale.md)\n"
      "Who may register services:\n"
      "  --unix-uid UID|any  over Unix sockets (msgbox's too), peers with this uid (checked\n"
      "                      with SO_PEERCRED); may be given several times; 'any': every uid\n"
      "                      (default: bxd's own). Unless the only uid is bxd's own, the\n"
      "                      sockets are made mode 0666 so that those uids can connect: every\n"
      "                      local user can then look up and call services, only the uids\n"
      "                      listed can register\n"
      "  --token-file FILE   over TCP, UDP and WebSocket, peers whose register message carries\n"
      "                      the token in FILE (its first line) as its \"token\" attribute;\n"
      "                      FILE must not be readable or writable by group or others\n"
      "  --token TOKEN       the same with the token itself: visible to every local user in\n"
      "                      /proc/PID/cmdline, prefer --token-file or BXD_TOKEN\n"
      "                      (default: no token, nobody registers over these)\n"
      "%s"
      "Other:\n"
      "  --ws-origin ORIGIN  web pages of ORIGIN (e.g. https://app.example:8443) may open\n"
      "                      WebSockets here, besides pages bxd serves itself (same-origin)\n"
      "                      and programs (no Origin); repeatable; '*' allows every page\n"
      "  --cert FILE, --key FILE  the PEM certificate chain and key of the wss listeners\n"
      "  --max-connections N connections per listener (default 1024)\n"
      "  --max-pending N     requests one connection may have in service at once; at the\n"
      "                      limit its input pauses until half are answered (default 128)\n"
      "  --www DIR           files served on the WebSocket listeners (default: the live\n"
      "                      status page; 'none' serves nothing)\n"
      "  --name PATH         the hub's context path (default: /bxd)\n"
      "  --log-level LEVEL   error, warn (default), info or debug\n"
      "  --log-format F      text (default: bx LEVEL /bxd: message key=value ...) or json\n"
      "                      (one object per line: time, level, ctx, msg and the fields)\n"
      "  --help              this text\n"
      "  --version           the version of bxd (and of libbx)\n"
      "\n"
      "Environment:\n"
      "  BXD_TOKEN           the token, when neither --token-file nor --token is given\n"
      "                      (readable only by the same user and root in /proc/PID/environ)\n"
      "\n"
      "Registry extensions: list (names and owners), stats (counters).\n"
      "SIGINT or SIGTERM stops it: listeners close, calls in flight fail, the socket file\n"
      "is removed.\n",
      bxd_th_usage);
}

/* ---- who may register --------------------------------------------------------------------- */

static bool bxd_uid_listed(const bxd *d, uid_t uid) {
  for (int i = 0; i < d->nuids; i++)
    if (d->unix_uids[i] == uid) return true;
  return false;
}

/* The Unix sockets' mode: only bxd's own uid needs to connect, or others do too. */
static unsigned bxd_unix_mode(const bxd *d) {
  if (d->unix_any_uid) return 0666;
  for (int i = 0; i < d->nuids; i++)
    if (d->unix_uids[i] != getuid()) return 0666;
  return 0600;
}

static int bxd_add_uid(bxd *d, const char *v) {
  char *end;
  errno = 0;
  unsigned long u = strtoul(v, &end, 10);
  if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || (uid_t)u != u ||
      d->nuids >= BXD_MAX_UIDS)
    return -1;
  d->unix_uids[d->nuids++] = (uid_t)u;
  return 0;
}

/* ---- the token ---------------------------------------------------------------------------- */

/* Reads the token from the first line of path into d->token_buf. The file must be a regular
 * file that neither group nor others may read or write (checked on the open file). */
static int bxd_read_token_file(bxd *d, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    fprintf(stderr, "bxd: --token-file %s: %s\n", path, strerror(errno));
    return -1;
  }
  struct stat st;
  const char *why = NULL;
  if (fstat(fd, &st) != 0)
    why = strerror(errno);
  else if (!S_ISREG(st.st_mode))
    why = "not a regular file";
  else if (st.st_mode & (S_IRWXG | S_IRWXO))
    why = "readable or writable by group or others (chmod 600 it)";
  ssize_t n = why ? 0 : read(fd, d->token_buf, BXD_MAX_TOKEN + 1);
  close(fd);
  if (why == NULL && n < 0) why = strerror(errno);
  if (why == NULL && n > BXD_MAX_TOKEN) why = "longer than 1024 bytes";
  if (why == NULL) {
    d->token_buf[n] = '\0';
    d->token_buf[strcspn(d->token_buf, "\r\n")] = '\0';
    if (d->token_buf[0] == '\0') why = "empty";
  }
  if (why != NULL) {
    fprintf(stderr, "bxd: --token-file %s: %s; refusing to start\n", path, why);
    return -1;
  }
  d->token = d->token_buf;
  return 0;
}

/* --token-file, else --token, else $BXD_TOKEN; none: no token (nobody registers remotely). */
static int bxd_resolve_token(bxd *d) {
  if (d->token_file != NULL && d->token != NULL) {
    fprintf(stderr, "bxd: give --token-file or --token, not both\n");
    return -1;
  }
  if (d->token_file != NULL) return bxd_read_token_file(d, d->token_file);
  const char *env = getenv("BXD_TOKEN");
  if (d->token == NULL && env != NULL && *env != '\0') d->token = env;
  if (d->token != NULL && *d->token == '\0') {
    fprintf(stderr, "bxd: an empty token\n");
    return -1;
  }
  return 0;
}

/* "unix uid=1000 pid=42", "tcp 127.0.0.1:5123" */
static void bxd_describe_peer(const bx_peer_info *peer, char *buf, size_t len) {
  if (peer->has_cred)
    snprintf(buf, len, "%s uid=%ld pid=%ld", peer->scheme, (long)peer->uid, (long)peer->pid);
  else
    snprintf(buf, len, "%s%s%s", peer->scheme, peer->address[0] ? " " : "", peer->address);
}

static bool bxd_token_ok(const bxd *d, const bx_msg *msg) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(bx_msg_attrs(msg), "token");
  return d->token != NULL && cJSON_IsString(t) && strcmp(t->valuestring, d->token) == 0;
}

/* Why a peer may not register: NULL when it may. */
static const char *bxd_refusal(const bxd *d, const bx_msg *msg, const bx_peer_info *peer) {
  if (strcmp(peer->scheme, "unix") == 0 || strcmp(peer->scheme, "msgbox+unix") == 0) {
    if (d->unix_any_uid || (peer->has_cred && bxd_uid_listed(d, peer->uid))) return NULL;
    return peer->has_cred ? "uid not allowed (--unix-uid)" : "no peer credentials";
  }
  if (strcmp(peer->scheme, "inproc") == 0 || bxd_token_ok(d, msg)) return NULL;
  if (d->token == NULL) return "this listener needs --token (bxd has none: nobody registers)";
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(bx_msg_attrs(msg), "token");
  return cJSON_IsString(t) ? "wrong token" : "no token";
}

/* Who may register and unregister: logged with the name, the peer and the reason. */
static int bxd_authorize(void *data, const bx_msg *msg, const char *method) {
  bxd *d = data;
  bx_peer_info peer;
  if (bx_msg_peer(msg, &peer) != 0) return BX_EPERM;
  const char *why = bxd_refusal(d, msg, &peer);
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "args");
  const cJSON *name = cJSON_GetArrayItem(args, 0);
  char who[128], uid[24] = "", pid[24] = "";
  bxd_describe_peer(&peer, who, sizeof who);
  if (peer.has_cred) {
    snprintf(uid, sizeof uid, "%ld", (long)peer.uid);
    snprintf(pid, sizeof pid, "%ld", (long)peer.pid);
  }
  bx_log_field f[7];
  size_t n = 0;
  f[n++] = (bx_log_field){"event", method};
  f[n++] = (bx_log_field){"name", cJSON_IsString(name) ? name->valuestring : ""};
  f[n++] = (bx_log_field){"peer", who};
  if (peer.has_cred) {
    f[n++] = (bx_log_field){"uid", uid};
    f[n++] = (bx_log_field){"pid", pid};
  }
  if (why) f[n++] = (bx_log_field){"reason", why};
  bx_log_fields(d->ctx, why ? BX_LOG_WARN : BX_LOG_INFO, f, n, "%s %s", method,
                why ? "refused" : "allowed");
  return why ? BX_EPERM : 0;
}

/* ---- registry extensions ------------------------------------------------------------------ */

static void bxd_reply(bx_msg *msg, cJSON *data) {
  cJSON *ret = bx_json_new_object(BX_CLASS_RPC_RETURN);
  cJSON_AddItemToObject(ret, "data", data);
  bx_reply_json(msg, ret);
}

static void bxd_describe_owner(bx_box *owner, char *buf, size_t len) {
  bx_peer_info peer;
  if (owner == NULL || bx_connection_peer(owner, &peer) != 0)
    snprintf(buf, len, "local");
  else
    bxd_describe_peer(&peer, buf, len);
}

typedef struct bxd_list {
  bx_box *registry;
  cJSON *out;
} bxd_list;

static void bxd_list_one(const char *name, bx_box *service, void *data) {
  (void)service;
  bxd_list *l = data;
  char owner[128];
  bxd_describe_owner(bx_registry_owner(l->registry, name), owner, sizeof owner);
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "name", name);
  cJSON_AddStringToObject(e, "owner", owner);
  cJSON_AddItemToArray(l->out, e);
}

static int bxd_by_name(const void *a, const void *b) {
  const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
  return strcmp(cJSON_GetObjectItem(x, "name")->valuestring,
                cJSON_GetObjectItem(y, "name")->valuestring);
}

/* list(): [{"name":..,"owner":..}] sorted by name; one-shot reply exports are left out. */
static void bxd_list_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  bxd *d = data;
  bx_box *root = bx_ctx_registry(d->ctx);
  bxd_list l = {root, cJSON_CreateArray()};
  bx_registry_visit(root, bxd_list_one, &l);
  int n = cJSON_GetArraySize(l.out);
  cJSON **items = calloc((size_t)(n ? n : 1), sizeof *items);
  for (int i = 0; i < n; i++)
    items[i] = cJSON_DetachItemFromArray(l.out, 0);
  qsort(items, (size_t)n, sizeof *items, bxd_by_name);
  for (int i = 0; i < n; i++) {
    const char *name = cJSON_GetObjectItem(items[i], "name")->valuestring;
    bool numeric = strspn(name, "0123456789") == strlen(name); /* generated export names */
    if (numeric)
      cJSON_Delete(items[i]);
    else
      cJSON_AddItemToArray(l.out, items[i]);
  }
  free(items);
  bxd_reply(msg, l.out);
}

/* stats(): the hub's counters. */
static void bxd_stats_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  bxd *d = data;
  bx_transport_stats s;
  bx_transport_stats_get(d->ctx, &s);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "uptimeMs", (double)(uv_now(&d->loop) - d->started_ms));
  cJSON_AddNumberToObject(o, "names", (double)bx_registry_size(bx_ctx_registry(d->ctx)));
  cJSON_AddNumberToObject(o, "connections", (double)s.connections);
  cJSON_AddNumberToObject(o, "connectionsTotal", (double)s.connections_total);
  cJSON_AddNumberToObject(o, "messagesIn", (double)s.messages_in);
  cJSON_AddNumberToObject(o, "messagesOut", (double)s.messages_out);
  cJSON_AddNumberToObject(o, "calls", (double)s.requests_in);
  cJSON_AddNumberToObject(o, "bytesIn", (double)s.bytes_in);
  cJSON_AddNumberToObject(o, "bytesOut", (double)s.bytes_out);
  cJSON_AddNumberToObject(o, "errors", (double)s.errors);
  bxd_th_stats(&d->th, o);
  bxd_reply(msg, o);
}

static int bxd_add_method(bxd *d, const char *name, bx_box_fn fn) {
  bx_box *b = NULL;
  bx_function_box_new(d->ctx, fn, d, NULL, &b);
  int rc = b ? bx_registry_add_method(bx_ctx_registry(d->ctx), name, b) : BX_ENOMEM;
  bx_box_unref(b);
  return rc;
}

/* ---- listeners ---------------------------------------------------------------------------- */

static int bxd_add_url(bxd *d, const char *fmt, const char *arg) {
  if (d->nurls >= BXD_MAX_LISTENERS) return -1;
  char *u = d->owned_urls[d->nurls];
  snprintf(u, sizeof d->owned_urls[0], fmt, arg);
  d->urls[d->nurls++] = u;
  return 0;
}

/* Sockets systemd passed (bxd.socket): served as they are, besides any listener flag. */
static int bxd_inherited_listeners(bxd *d) {
  bxd_sd_socket s[BXD_MAX_LISTENERS];
  int n = bxd_sd_sockets(s, BXD_MAX_LISTENERS - d->nurls);
  for (int i = 0; i < n; i++) {
    bxd_add_url(d, "%s", s[i].url);
    d->fds[d->nurls - 1] = s[i].fd;
  }
  return n < 0 ? -1 : 0;
}

/* The default Unix socket's directory is created 0700 so that only its owner reaches it; one
 * that is already there must be the same (someone else may have made it first). */
static int bxd_default_listeners(bxd *d, bool *ws_optional) {
  char url[600], dir[512], why[700];
  if (hub_default_url(url, sizeof url, dir, sizeof dir) != 0) return -1;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "bxd: cannot create %s: %s\n", dir, strerror(errno));
    return -1;
  }
  if (hub_dir_check(dir, why, sizeof why) != 0) {
    fprintf(stderr, "bxd: refusing the default socket directory: %s\n", why);
    return -1;
  }
  bxd_add_url(d, "%s", url);
  bxd_add_url(d, "ws://%s/", HUB_DEFAULT_WS);
  *ws_optional = true;
  return 0;
}

static int bxd_listen_all(bxd *d, bool ws_optional) {
  for (int i = 0; i < d->nurls; i++) {
    bx_listener *l;
    bx_listen_opts lo;
    bx_ws_listen_opts wo;
    memset(&lo, 0, sizeof lo);
    memset(&wo, 0, sizeof wo);
    bx_transport_limits_init(&lo.limits);
    if (d->max_connections) lo.limits.max_connections = d->max_connections;
    if (d->max_pending) lo.limits.max_pending = d->max_pending;
    lo.unix_mode = bxd_unix_mode(d); /* read by the unix listeners only */
    lo.inherited_fd = d->fds[i];
    bool ws = strncmp(d->urls[i], "ws:", 3) == 0 || strncmp(d->urls[i], "wss:", 4) == 0;
    wo.www_dir = d->www; /* read by the ws and wss listeners only */
    wo.allowed_origins = d->origins;
    wo.tls_cert = d->cert;
    wo.tls_key = d->key;
    lo.ws = &wo;
    int rc = bx_listen(d->ctx, d->urls[i], &lo, &l);
    if (rc == BX_EINVAL && ws_optional && strncmp(d->urls[i], "ws:", 3) == 0) {
      bx_log(d->ctx, BX_LOG_INFO, "no WebSocket transport in this build: %s skipped", d->urls[i]);
      continue;
    }
    if (rc) {
      fprintf(stderr, "bxd: cannot listen on %s: %s\n", d->urls[i], bx_strerror(rc));
      return rc;
    }
    printf("listening on %s\n", bx_listener_url(l));
    if (ws && d->www)
      printf("status page: http%s%s\n", d->urls[i][2] == 's' ? "s" : "",
             strchr(bx_listener_url(l), ':'));
  }
  return 0;
}

/* ---- life cycle --------------------------------------------------------------------------- */

static void bxd_on_signal(uv_signal_t *s, int signum) {
  bxd *d = s->data;
  bx_log(d->ctx, BX_LOG_INFO, "%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
  bxd_sd_notify("STOPPING=1");
  uv_close((uv_handle_t *)&d->sigint, NULL);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  bxd_th_stop(&d->th);
  bx_ctx_close(d->ctx, NULL, NULL);
}

static int bxd_parse(bxd *d, int argc, char **argv, int *level, const char **name) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    }
    if (strcmp(a, "--version") == 0) {
      printf("bxd %s\n", bx_version_string());
      exit(0);
    }
    if (v == NULL) return -1;
    i++;
    int th = bxd_th_option(&d->th, a, v);
    if (th < 0) return -1;
    if (th > 0) continue;
    if (strcmp(a, "--unix") == 0)
      bxd_add_url(d, "unix://%s", v);
    else if (strcmp(a, "--tcp") == 0)
      bxd_add_url(d, "tcp://%s", v);
    else if (strcmp(a, "--ws") == 0)
      bxd_add_url(d, "ws://%s/", v);
    else if (strcmp(a, "--wss") == 0)
      bxd_add_url(d, "wss://%s/", v);
    else if (strcmp(a, "--ws-origin") == 0 && d->norigins < BX_WS_MAX_ORIGINS)
      d->origins[d->norigins++] = v;
    else if (strcmp(a, "--cert") == 0)
      d->cert = v;
    else if (strcmp(a, "--key") == 0)
      d->key = v;
    else if (strcmp(a, "--msgbox") == 0)
      bxd_add_url(d, "msgbox+%s", v);
    else if (strcmp(a, "--token") == 0)
      d->token = v;
    else if (strcmp(a, "--nats") == 0)
      d->nats = v;
    else if (strcmp(a, "--token-file") == 0)
      d->token_file = v;
    else if (strcmp(a, "--name") == 0)
      *name = v;
    else if (strcmp(a, "--www") == 0)
      d->www = strcmp(v, "none") == 0 ? NULL : v;
    else if (strcmp(a, "--max-connections") == 0 && atoi(v) > 0)
      d->max_connections = (unsigned)atoi(v);
    else if (strcmp(a, "--max-pending") == 0 && atoi(v) > 0)
      d->max_pending = (unsigned)atoi(v);
    else if (strcmp(a, "--unix-uid") == 0 && strcmp(v, "any") == 0)
      d->unix_any_uid = true;
    else if (strcmp(a, "--unix-uid") == 0 && bxd_add_uid(d, v) == 0)
      continue;
    else if (strcmp(a, "--log-format") == 0 && (d->log_format = bx_log_format_from_name(v)) >= 0)
      continue;
    else if (strcmp(a, "--log-level") == 0 && (*level = bx_log_level_from_name(v)) >= 0)
      continue;
    else
      return -1;
  }
  return 0;
}

/* The status page: where `make install` puts it relative to the executable (bin/../share/bx/
 * bxd-www; the build tree stages it the same way), so a moved prefix keeps working; else the
 * configured install directory. */
static const char *bxd_default_www(void) {
  static char rel[1100];
  char exe[1024];
  size_t len = sizeof exe;
  const char *dirs[2] = {NULL, BXD_WWW_INSTALL};
  if (uv_exepath(exe, &len) == 0) {
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(rel, sizeof rel, "%s/%s", exe, BXD_WWW_FROM_BIN);
    dirs[0] = rel;
  }
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char index[1200];
    if (dirs[i] == NULL) continue;
    snprintf(index, sizeof index, "%s/index.html", dirs[i]);
    if (access(index, R_OK) == 0) return dirs[i];
  }
  return NULL;
}

int main(int argc, char **argv) {
  static bxd d;
  d.www = bxd_default_www();
  int level = BX_LOG_WARN;
  const char *name = "/bxd";
  if (bxd_parse(&d, argc, argv, &level, &name) != 0) {
    usage(stderr);
    return 2;
  }
  if (d.nuids == 0) d.unix_uids[d.nuids++] = getuid();
  if (bxd_resolve_token(&d) != 0) return 2;
  bool ws_optional = false;
  if (bxd_inherited_listeners(&d) != 0) return 1;
  /* a box host alone needs no hub listener (give --unix ... for bxctl stats) */
  if (d.nurls == 0 && !bxd_th_wanted(&d.th) && bxd_default_listeners(&d, &ws_optional) != 0)
    return 1;
  uv_loop_init(&d.loop);
  d.started_ms = uv_now(&d.loop);
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.name = name;
  opts.log_level = level;
  opts.log_format = d.log_format;
  opts.allow_remote_register = true;
  opts.authorize = bxd_authorize;
  opts.authorize_data = &d;
  int rc = bx_ctx_new(&d.loop, &opts, &d.ctx);
  /* The hub routes payloads it never interprets: every application class may pass. */
  if (rc == 0) rc = bx_ctx_allow_class(d.ctx, "*");
  if (rc == 0) rc = bxd_add_method(&d, "list", bxd_list_fn);
  if (rc == 0) rc = bxd_add_method(&d, "stats", bxd_stats_fn);
  if (rc == 0) rc = bxd_listen_all(&d, ws_optional);
  if (rc == 0 && bxd_th_wanted(&d.th) && bxd_th_start(&d.th, d.ctx) != 0) rc = -1;
  if (rc == 0 && d.nats) rc = bxd_nats_start(d.ctx, d.nats);
  if (rc != 0) {
    bxd_th_stop(&d.th);
    bx_ctx_close(d.ctx, NULL, NULL);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    uv_loop_close(&d.loop);
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  bxd_sd_notify("READY=1");
  uv_signal_init(&d.loop, &d.sigint);
  uv_signal_init(&d.loop, &d.sigterm);
  d.sigint.data = d.sigterm.data = &d;
  uv_signal_start(&d.sigint, bxd_on_signal, SIGINT);
  uv_signal_start(&d.sigterm, bxd_on_signal, SIGTERM);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  return uv_loop_close(&d.loop) == 0 ? 0 : 1;
}
