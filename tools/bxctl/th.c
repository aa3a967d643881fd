/* bxctl th: telehash identities and a link check (docs/telehash.md, docs/tools.md).
 *
 *   bxctl th keygen [--force] [FILE]             a new identity file (default id.json), 0600
 *   bxctl th id FILE [--udp IP:PORT] [--tcp IP:PORT]   hashname, keys and peer JSON
 *   bxctl th ping --th-id FILE [--bind URL]... PEER    link to PEER, print the handshake RTT
 *   bxctl th send|recv ...                       through a box host (th_box.c)
 *
 * PEER is the peer's JSON (telehash-js's shape), as text or @FILE. Exit codes as bxctl's: 0 ok,
 * 2 usage or a local file problem, 3 no answer (ping timed out, or the link went down). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bx.h>

#include "th.h"

/* TH_BADARGS: a usage error, reported with the usage text (exit 2 as well). */
enum { TH_BADARGS = -1, TH_OK = 0, TH_USAGE = 2, TH_CONN = 3 };

static void th_usage(FILE *out) {
  fprintf(
      out,
      "usage: bxctl [--timeout S] [--json] th COMMAND [ARG ...]\n"
      "\n"
      "Commands:\n"
      "  keygen [--force] [FILE]     write a new telehash identity to FILE (default id.json,\n"
      "                              mode 0600; an existing file needs --force) and print its\n"
      "                              hashname\n"
      "  id FILE [--udp IP:PORT] [--tcp IP:PORT]\n"
      "                              print the identity's hashname, keys and its peer JSON\n"
      "                              with those paths\n"
      "  ping --th-id FILE [--bind URL]... PEER\n"
      "                              link to PEER (its JSON as text, or @FILE) and print the\n"
      "                              handshake's round-trip time; --bind: the sockets to send\n"
      "                              from (default udp://0.0.0.0:0; TCP paths need none)\n"
      "  send --th-id FILE --host HOST.json (--to HASHNAME | --to-id FILE) --text TEXT\n"
      "                              store a text message for a recipient at a box host\n"
      "                              (HOST.json: the host's JSON as bxd printed it, a file or\n"
      "                              @file; --to-id: the recipient's identity or peer JSON,\n"
      "                              else its key is fetched from the host)\n"
      "  recv --th-id FILE --host HOST.json [--from HASHNAME] [--json]\n"
      "                              collect the messages waiting for us (from one sender\n"
      "                              with --from): print each one's sender, whether it was\n"
      "                              verified and its text (--json: one object per message),\n"
      "                              then remove them at the host\n"
      "\n"
      "--timeout S bounds ping, send and recv (default 5). Exit codes: 0 ok, 2 usage or a file\n"
      "that cannot be read or written, 3 no answer (or the host refused).\n");
}

/* ---- keygen ------------------------------------------------------------------------------- */

static int th_keygen(const th_opts *o, int argc, char **argv) {
  const char *file = "id.json";
  bool force = false, named = false;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--force") == 0)
      force = true;
    else if (argv[i][0] != '-' && !named)
      file = argv[i], named = true;
    else
      return TH_BADARGS;
  }
  FILE *f = fopen(file, "r");
  if (f != NULL && !force) {
    fclose(f);
    fprintf(stderr, "bxctl: %s exists (its secret key would be lost; --force replaces it)\n", file);
    return TH_USAGE;
  }
  if (f != NULL) fclose(f);
  bx_th_identity *id;
  int rc = bx_th_identity_new(&id);
  if (rc == 0) rc = bx_th_identity_save(id, file);
  if (rc != 0) {
    fprintf(stderr, "bxctl: %s: %s\n", file, bx_strerror(rc));
    bx_th_identity_free(id);
    return TH_USAGE;
  }
  if (o->json)
    printf("{\"ok\":true,\"hashname\":\"%s\",\"file\":\"%s\"}\n", bx_th_identity_hashname(id),
           file);
  else
    printf("%s\n", bx_th_identity_hashname(id));
  bx_th_identity_free(id);
  return TH_OK;
}

/* ---- id ----------------------------------------------------------------------------------- */

/* Adds {"type":"udp4"|"udp6"|"tcp4"|"tcp6","ip":..,"port":..} for "IP:PORT" or "[IP6]:PORT". */
static int th_add_path(cJSON *paths, const char *proto, const char *hostport) {
  const char *colon = strrchr(hostport, ':');
  if (colon == NULL || colon == hostport) return BX_EINVAL;
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535) return BX_EINVAL;
  char ip[64];
  size_t n = (size_t)(colon - hostport);
  bool v6 = hostport[0] == '[';
  if (v6) {
    if (n < 3 || hostport[n - 1] != ']') return BX_EINVAL;
    hostport++;
    n -= 2;
  }
  if (n >= sizeof ip) return BX_EINVAL;
  memcpy(ip, hostport, n);
  ip[n] = '\0';
  struct sockaddr_storage ss;
  int rc = v6 ? uv_ip6_addr(ip, (int)port, (struct sockaddr_in6 *)&ss)
              : uv_ip4_addr(ip, (int)port, (struct sockaddr_in *)&ss);
  if (rc != 0) return BX_EINVAL;
  char type[8];
  snprintf(type, sizeof type, "%s%c", proto, v6 ? '6' : '4');
  cJSON *p = cJSON_CreateObject();
  cJSON_AddItemToArray(paths, p);
  cJSON_AddStringToObject(p, "type", type);
  cJSON_AddStringToObject(p, "ip", ip);
  cJSON_AddNumberToObject(p, "port", (double)port);
  return 0;
}

/* The "keys" object of an identity file bx_th_identity_load() accepted: the caller owns it. */
static cJSON *th_file_keys(const char *file) {
  FILE *f = fopen(file, "rb");
  if (f == NULL) return NULL;
  char *buf = calloc(1, 65537);
  size_t n = buf ? fread(buf, 1, 65536, f) : 0;
  fclose(f);
  cJSON *root = buf ? cJSON_ParseWithLength(buf, n) : NULL;
  free(buf);
  cJSON *keys = cJSON_DetachItemFromObjectCaseSensitive(root, "keys");
  cJSON_Delete(root);
  return keys;
}

static int th_id(const th_opts *o, int argc, char **argv) {
  if (argc < 1 || argv[0][0] == '-') return TH_BADARGS;
  const char *file = argv[0];
  cJSON *paths = cJSON_CreateArray();
  for (int i = 1; i < argc; i++) {
    bool v = i + 1 < argc;
    const char *proto = strcmp(argv[i], "--udp") == 0   ? "udp"
                        : strcmp(argv[i], "--tcp") == 0 ? "tcp"
                                                        : NULL;
    if (proto == NULL || !v || th_add_path(paths, proto, argv[++i]) != 0) {
      if (proto && v) fprintf(stderr, "bxctl: '%s' is not IP:PORT\n", argv[i]);
      cJSON_Delete(paths);
      return TH_BADARGS;
    }
  }
  bx_th_identity *id;
  int rc = bx_th_identity_load(file, &id);
  cJSON *keys = rc == 0 ? th_file_keys(file) : NULL;
  if (rc != 0 || keys == NULL) {
    fprintf(stderr, "bxctl: %s: %s\n", file, bx_strerror(rc ? rc : BX_EBADMSG));
    bx_th_identity_free(id);
    cJSON_Delete(paths);
    return TH_USAGE;
  }
  cJSON *peer = cJSON_CreateObject();
  cJSON_AddStringToObject(peer, "hashname", bx_th_identity_hashname(id));
  cJSON_AddItemToObject(peer, "keys", keys);
  cJSON_AddItemToObject(peer, "paths", paths);
  char *text = cJSON_PrintUnformatted(peer);
  if (o->json) {
    printf("%s\n", text ? text : "null");
  } else {
    printf("hashname %s\n", bx_th_identity_hashname(id));
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
      if (cJSON_IsString(k)) printf("key %s %s\n", k->string, k->valuestring);
    }
    printf("json %s\n", text ? text : "null");
  }
  free(text);
  cJSON_Delete(peer);
  bx_th_identity_free(id);
  return TH_OK;
}

/* ---- ping --------------------------------------------------------------------------------- */

typedef struct th_ping {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_th_endpoint *ep;
  uv_timer_t timer;
  const th_opts *o;
  uint64_t start_ns;
  bool done;
  int exit_code;
} th_ping;

static void th_ping_finish(th_ping *p, int code) {
  if (p->done) return;
  p->done = true;
  p->exit_code = code;
  uv_timer_stop(&p->timer);
}

static void th_ping_link_cb(bx_th_link *link, bx_th_link_event ev, int status, void *data) {
  th_ping *p = data;
  if (p->done) return;
  const char *hn = bx_th_link_hashname(link);
  if (ev == BX_TH_LINK_DOWN) {
    fprintf(stderr, "bxctl: %s: link down: %s\n", hn, bx_strerror(status));
    th_ping_finish(p, TH_CONN);
    return;
  }
  double ms = (double)(uv_hrtime() - p->start_ns) / 1e6;
  if (p->o->json)
    printf("{\"ok\":true,\"hashname\":\"%s\",\"rttMs\":%.3f}\n", hn, ms);
  else
    printf("link up %s rtt %.3f ms\n", hn, ms);
  th_ping_finish(p, TH_OK);
}

static void th_ping_timeout(uv_timer_t *t) {
  th_ping *p = t->data;
  fprintf(stderr, "bxctl: no answer in %.1f s\n", (double)p->o->timeout_ms / 1000);
  if (p->o->json) printf("{\"ok\":false,\"error\":\"no answer\",\"code\":\"BX_ETIMEDOUT\"}\n");
  th_ping_finish(p, TH_CONN);
}

char *bxctl_th_read_json(const char *arg) {
  if (arg[0] == '{') return strdup(arg);
  FILE *f = fopen(arg[0] == '@' ? arg + 1 : arg, "rb");
  if (f == NULL) return NULL;
  char *buf = calloc(1, 65537);
  size_t n = buf ? fread(buf, 1, 65536, f) : 0;
  fclose(f);
  if (buf) buf[n] = '\0';
  return buf;
}

/* Makes the endpoint and the link; 0 or a bx code, with a message printed. */
static int th_ping_start(th_ping *p, const bx_th_identity *id, bx_th_endpoint_opts *eo,
                         const char *peer_json) {
  bx_ctx_options co;
  bx_ctx_options_init(&co);
  co.name = "/bxctl";
  co.log_level = BX_LOG_ERROR;
  int rc = bx_ctx_new(&p->loop, &co, &p->ctx);
  if (rc == 0) rc = bx_th_endpoint_new(p->ctx, id, eo, &p->ep);
  if (rc != 0) {
    fprintf(stderr, "bxctl: endpoint: %s\n", bx_strerror(rc));
    return rc;
  }
  bx_th_link *link;
  p->start_ns = uv_hrtime();
  rc = bx_th_link_new(p->ep, peer_json, &link);
  if (rc != 0) fprintf(stderr, "bxctl: the peer JSON: %s\n", bx_strerror(rc));
  return rc;
}

static int th_ping_run(const th_opts *o, const char *id_file, bx_th_endpoint_opts *eo,
                       const char *peer_arg) {
  bx_th_identity *id;
  int rc = bx_th_identity_load(id_file, &id);
  if (rc != 0) {
    fprintf(stderr, "bxctl: %s: %s\n", id_file, bx_strerror(rc));
    return TH_USAGE;
  }
  char *peer = bxctl_th_read_json(peer_arg);
  if (peer == NULL) {
    fprintf(stderr, "bxctl: %s: cannot read the peer JSON\n", peer_arg);
    bx_th_identity_free(id);
    return TH_USAGE;
  }
  th_ping p;
  memset(&p, 0, sizeof p);
  p.o = o;
  eo->link_cb = th_ping_link_cb;
  eo->link_data = &p;
  eo->link_timeout_ms = (uint32_t)o->timeout_ms;
  uv_loop_init(&p.loop);
  uv_timer_init(&p.loop, &p.timer);
  p.timer.data = &p;
  rc = th_ping_start(&p, id, eo, peer);
  bx_th_identity_free(id);
  free(peer);
  if (rc == 0) {
    uv_timer_start(&p.timer, th_ping_timeout, o->timeout_ms, 0);
    while (!p.done && uv_run(&p.loop, UV_RUN_ONCE)) {
    }
  } else {
    p.exit_code = TH_USAGE;
  }
  uv_close((uv_handle_t *)&p.timer, NULL);
  if (p.ep) bx_th_endpoint_close(p.ep, NULL, NULL);
  if (p.ctx) bx_ctx_close(p.ctx, NULL, NULL);
  uv_run(&p.loop, UV_RUN_DEFAULT);
  uv_loop_close(&p.loop);
  return p.exit_code;
}

static int th_ping_cmd(const th_opts *o, int argc, char **argv) {
  bx_th_endpoint_opts eo;
  memset(&eo, 0, sizeof eo);
  const char *id_file = NULL, *peer = NULL;
  unsigned nbind = 0;
  for (int i = 0; i < argc; i++) {
    bool v = i + 1 < argc;
    if (strcmp(argv[i], "--th-id") == 0 && v)
      id_file = argv[++i];
    else if (strcmp(argv[i], "--bind") == 0 && v && nbind < BX_TH_MAX_BINDS)
      eo.bind[nbind++] = argv[++i];
    else if ((argv[i][0] != '-' || argv[i][1] == '\0') && peer == NULL)
      peer = argv[i];
    else
      return TH_BADARGS;
  }
  if (id_file == NULL || peer == NULL) return TH_BADARGS;
  if (nbind == 0) eo.bind[0] = "udp://0.0.0.0:0";
  return th_ping_run(o, id_file, &eo, peer);
}

int bxctl_th(const th_opts *o, int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "--help") == 0) {
    th_usage(argc < 1 ? stderr : stdout);
    return argc < 1 ? TH_USAGE : TH_OK;
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0) {
      th_usage(stdout);
      return TH_OK;
    }
  }
  int rc = TH_BADARGS;
  if (strcmp(argv[0], "keygen") == 0)
    rc = th_keygen(o, argc - 1, argv + 1);
  else if (strcmp(argv[0], "id") == 0)
    rc = th_id(o, argc - 1, argv + 1);
  else if (strcmp(argv[0], "ping") == 0)
    rc = th_ping_cmd(o, argc - 1, argv + 1);
  else if (strcmp(argv[0], "send") == 0 || strcmp(argv[0], "recv") == 0)
    rc = bxctl_th_box(o, argv[0], argc - 1, argv + 1);
  if (rc != TH_BADARGS) return rc;
  th_usage(stderr);
  return TH_USAGE;
}
