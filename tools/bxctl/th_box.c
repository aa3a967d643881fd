/* bxctl th send / recv: text messages through a telehash box host (spec/telehash section 6).
 *
 *   bxctl th send --th-id FILE --host HOST.json (--to HASHNAME | --to-id FILE) --text TEXT
 *   bxctl th recv --th-id FILE --host HOST.json [--from HASHNAME] [--json]
 *
 * send seals {"type":"text"} + TEXT to the recipient (its key from --to-id, or fetched from the
 * host for --to and checked against the hashname) and stores it; it succeeds once the host
 * answered the store (the message is then held). recv collects the messages waiting for us
 * (from one sender with --from), opens each, verifies its sender with the sender's key
 * (fetched from the host), prints it and then removes it at the host; a message that does not
 * open is reported and left there. Exit codes as bxctl's: 0 ok, 2 usage or a file, 3 no answer
 * or refused by the host.
 *
 * Design notes
 * - One loop, one endpoint, one link to the host; every step is a box channel whose events
 *   drive the next (th_step). The whole run is bounded by --timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bx.h>

#include "th.h"

enum { TB_OK = 0, TB_USAGE = 2, TB_CONN = 3, TB_MAXMSG = 64, TB_MAXKEYS = 64 };

typedef struct tb_msg {
  char id[BX_TH_BOX_ID_LEN + 1];
  char from[BX_TH_HASHNAME_LEN + 1];
  uint8_t data[BX_TH_BOX_MAX_MSG];
  size_t len;
} tb_msg;

typedef struct tb_key {
  char hn[BX_TH_HASHNAME_LEN + 1];
  bool have;
  uint8_t key[BX_TH_KEY_BYTES];
} tb_key;

typedef enum { TB_FETCH_TO, TB_STORE, TB_COLLECT, TB_FETCH_FROM, TB_REMOVE } tb_phase;

typedef struct tb_run {
  uv_loop_t loop;
  bx_ctx *ctx;
  bx_th_endpoint *ep;
  bx_th_link *link;
  bx_th_identity *id;
  uv_timer_t timer;
  const th_opts *o;
  bool done, recv;
  int exit_code;
  tb_phase phase;
  bx_th_box_client *chan; /* the channel of the current step */
  /* send */
  char to[BX_TH_HASHNAME_LEN + 1];
  uint8_t to_pk[BX_TH_KEY_BYTES];
  bool have_pk, acked;
  const char *text;
  char stored_id[BX_TH_BOX_ID_LEN + 1];
  int64_t cap;
  /* recv */
  const char *from;
  tb_msg *msgs;
  int nmsg, waiting, rounds, printed;
  tb_key keys[TB_MAXKEYS];
  int nkeys, fetching;
  bx_th_box_client *collect;
} tb_run;

static void tb_finish(tb_run *r, int code) {
  if (r->done) return;
  r->done = true;
  r->exit_code = code;
  uv_timer_stop(&r->timer);
}

static void tb_fail(tb_run *r, const char *what, const bx_th_box_event *ev) {
  const char *why = ev && ev->err ? ev->err : ev ? bx_strerror(ev->status) : "";
  fprintf(stderr, "bxctl: %s%s%s\n", what, why[0] ? ": " : "", why);
  if (r->o->json) printf("{\"ok\":false,\"error\":\"%s\"}\n", ev && ev->err ? ev->err : what);
  tb_finish(r, TB_CONN);
}

static void tb_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data);

static int tb_open(tb_run *r, const char *box, bool with_key) {
  int rc = bx_th_box_client_open(r->link, box, with_key, false, tb_cb, r, &r->chan);
  if (rc != 0) {
    fprintf(stderr, "bxctl: box channel: %s\n", bx_strerror(rc));
    tb_finish(r, TB_CONN);
  }
  return rc;
}

/* ---- send ----------------------------------------------------------------------------------- */

static void tb_store(tb_run *r, const bx_th_box_event *ev) {
  (void)ev;
  uint8_t msg[BX_TH_BOX_MAX_MSG];
  size_t n = 0;
  int rc = bx_th_box_seal(r->id, r->to_pk, "text", (const uint8_t *)r->text, strlen(r->text), msg,
                          sizeof msg, &n);
  if (rc != 0) {
    fprintf(stderr, "bxctl: the text cannot be sealed: %s\n", bx_strerror(rc));
    tb_finish(r, TB_USAGE);
    bx_th_box_client_cancel(r->chan);
    return;
  }
  bx_th_box_id(msg, n, r->stored_id);
  bx_th_box_op op = {.msg = msg, .len = n, .end = true};
  rc = bx_th_box_client_send(r->chan, &op);
  if (rc != 0) {
    fprintf(stderr, "bxctl: store: %s\n", bx_strerror(rc));
    tb_finish(r, TB_CONN);
  }
}

static void tb_send_event(tb_run *r, const bx_th_box_event *ev) {
  if (r->phase == TB_FETCH_TO) {
    if (ev->type == BX_TH_BOX_RESPONSE) {
      if (ev->key == NULL) {
        fprintf(stderr, "bxctl: the host does not know the key of %s (use --to-id FILE)\n", r->to);
        tb_finish(r, TB_CONN);
        bx_th_box_client_cancel(r->chan);
        return;
      }
      memcpy(r->to_pk, ev->key, BX_TH_KEY_BYTES);
      r->have_pk = true;
      bx_th_box_op op = {.end = true};
      bx_th_box_client_send(r->chan, &op);
    } else if (ev->type == BX_TH_BOX_CLOSED) {
      if (!r->have_pk) {
        tb_fail(r, "fetching the recipient's key", ev);
        return;
      }
      r->phase = TB_STORE;
      tb_open(r, r->to, true);
    }
    return;
  }
  if (ev->type == BX_TH_BOX_RESPONSE) {
    tb_store(r, ev);
  } else if (ev->type == BX_TH_BOX_STATUS) {
    r->acked = true;
    r->cap = ev->cap;
  } else if (ev->type == BX_TH_BOX_CLOSED) {
    if (!r->acked || ev->status != 0) {
      tb_fail(r, "the host did not store the message", ev);
      return;
    }
    if (r->o->json)
      printf("{\"ok\":true,\"to\":\"%s\",\"id\":\"%s\",\"cap\":%lld}\n", r->to, r->stored_id,
             (long long)r->cap);
    else
      printf("stored %s for %s (room for %lld more)\n", r->stored_id, r->to, (long long)r->cap);
    tb_finish(r, TB_OK);
  }
}

/* ---- recv ----------------------------------------------------------------------------------- */

static tb_key *tb_key_of(tb_run *r, const char *hn) {
  for (int i = 0; i < r->nkeys; i++)
    if (strcmp(r->keys[i].hn, hn) == 0) return &r->keys[i];
  return NULL;
}

static void tb_print(tb_run *r, const tb_msg *m) {
  tb_key *k = tb_key_of(r, m->from);
  bx_th_box_letter *l = NULL;
  int rc = bx_th_box_unseal(r->id, m->data, m->len, k && k->have ? k->key : NULL, &l);
  if (rc != 0) {
    fprintf(stderr, "bxctl: message %s from %s does not open (%s): left at the host\n", m->id,
            m->from, bx_strerror(rc));
    return;
  }
  const char *type = l->type ? l->type : "";
  if (r->o->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "from", m->from);
    cJSON_AddBoolToObject(o, "verified", l->verified);
    cJSON_AddStringToObject(o, "id", m->id);
    cJSON_AddStringToObject(o, "type", type);
    char *text = calloc(1, l->len + 1);
    if (text != NULL && l->len) memcpy(text, l->body, l->len);
    cJSON_AddStringToObject(o, "text", text ? text : "");
    free(text);
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s ? s : "null");
    free(s);
    cJSON_Delete(o);
  } else {
    printf("from %s (%s)%s%s: %.*s\n", m->from, l->verified ? "verified" : "UNVERIFIED",
           strcmp(type, "text") == 0 ? "" : " type ", strcmp(type, "text") == 0 ? "" : type,
           (int)l->len, l->body ? (const char *)l->body : "");
  }
  bx_th_box_letter_free(l);
  bx_th_box_op op = {.id = m->id};
  if (bx_th_box_client_send(r->collect, &op) == 0) r->printed++;
}

static void tb_print_all(tb_run *r) {
  for (int i = 0; i < r->nmsg; i++)
    tb_print(r, &r->msgs[i]);
  fflush(stdout);
  r->phase = TB_REMOVE;
  bx_th_box_op end = {.end = true};
  bx_th_box_client_send(r->collect, &end);
}

/* The next sender whose key is not known yet: fetched from the host; none left: print. */
static void tb_fetch_next(tb_run *r) {
  while (r->fetching < r->nkeys && r->keys[r->fetching].have)
    r->fetching++;
  if (r->fetching >= r->nkeys) {
    tb_print_all(r);
    return;
  }
  r->phase = TB_FETCH_FROM;
  tb_open(r, r->keys[r->fetching].hn, false);
}

static void tb_collect_start(tb_run *r) {
  r->phase = TB_COLLECT;
  r->nmsg = 0;
  r->waiting = -1;
  r->fetching = 0;
  if (tb_open(r, r->from ? r->from : bx_th_identity_hashname(r->id), true) == 0)
    r->collect = r->chan;
}

static void tb_collected(tb_run *r) {
  for (int i = 0; i < r->nmsg; i++) {
    if (tb_key_of(r, r->msgs[i].from) != NULL || r->nkeys >= TB_MAXKEYS) continue;
    tb_key *k = &r->keys[r->nkeys++];
    snprintf(k->hn, sizeof k->hn, "%s", r->msgs[i].from);
    if (strcmp(k->hn, bx_th_identity_hashname(r->id)) == 0) {
      memcpy(k->key, bx_th_identity_public_key(r->id), BX_TH_KEY_BYTES);
      k->have = true;
    }
  }
  tb_fetch_next(r);
}

static void tb_recv_event(tb_run *r, bx_th_box_client *c, const bx_th_box_event *ev) {
  if (c != r->collect) { /* a key fetch */
    tb_key *k = &r->keys[r->fetching];
    if (ev->type == BX_TH_BOX_RESPONSE) {
      if (ev->key != NULL) {
        memcpy(k->key, ev->key, BX_TH_KEY_BYTES);
        k->have = true;
      }
      bx_th_box_op op = {.end = true};
      bx_th_box_client_send(c, &op);
    } else if (ev->type == BX_TH_BOX_CLOSED) {
      r->fetching++; /* without a key its messages print as unverified */
      tb_fetch_next(r);
    }
    return;
  }
  switch (ev->type) {
  case BX_TH_BOX_RESPONSE:
    r->waiting = (int)(ev->waiting < TB_MAXMSG ? ev->waiting : TB_MAXMSG);
    if (r->waiting == 0) tb_collected(r);
    break;
  case BX_TH_BOX_MESSAGE:
    if (r->phase != TB_COLLECT || r->nmsg >= TB_MAXMSG) break; /* a live one: next time */
    tb_msg *m = &r->msgs[r->nmsg++];
    snprintf(m->id, sizeof m->id, "%s", ev->id);
    snprintf(m->from, sizeof m->from, "%s", ev->from);
    m->len = ev->len <= sizeof m->data ? ev->len : 0;
    memcpy(m->data, ev->msg, m->len);
    if (r->nmsg == r->waiting) tb_collected(r);
    break;
  case BX_TH_BOX_STATUS:
    break;
  case BX_TH_BOX_CLOSED:
    r->collect = NULL;
    if (ev->status != 0) {
      tb_fail(r, "collecting", ev);
      return;
    }
    /* a full batch: more may wait */
    if (r->nmsg >= 32 && r->printed > 0 && ++r->rounds < 100) {
      tb_collect_start(r);
      return;
    }
    if (r->o->json == false && r->printed == 0 && r->nmsg == 0) fprintf(stderr, "no messages\n");
    tb_finish(r, TB_OK);
    break;
  }
}

static void tb_cb(bx_th_box_client *c, const bx_th_box_event *ev, void *data) {
  tb_run *r = data;
  if (r->done) return;
  if (r->recv)
    tb_recv_event(r, c, ev);
  else
    tb_send_event(r, ev);
}

/* ---- the run -------------------------------------------------------------------------------- */

static void tb_timeout(uv_timer_t *t) {
  tb_run *r = t->data;
  fprintf(stderr, "bxctl: no answer from the host in %.1f s\n", (double)r->o->timeout_ms / 1000);
  if (r->o->json) printf("{\"ok\":false,\"error\":\"no answer\",\"code\":\"BX_ETIMEDOUT\"}\n");
  tb_finish(r, TB_CONN);
}

static int tb_start(tb_run *r, const char *host_json) {
  bx_ctx_options co;
  bx_ctx_options_init(&co);
  co.name = "/bxctl";
  co.log_level = BX_LOG_ERROR;
  bx_th_endpoint_opts eo;
  memset(&eo, 0, sizeof eo);
  eo.bind[0] = "udp://0.0.0.0:0";
  eo.link_timeout_ms = (uint32_t)r->o->timeout_ms;
  int rc = bx_ctx_new(&r->loop, &co, &r->ctx);
  if (rc == 0) rc = bx_th_endpoint_new(r->ctx, r->id, &eo, &r->ep);
  if (rc != 0) {
    fprintf(stderr, "bxctl: endpoint: %s\n", bx_strerror(rc));
    return TB_CONN;
  }
  rc = bx_th_link_new(r->ep, host_json, &r->link);
  if (rc != 0) {
    fprintf(stderr, "bxctl: --host: not a host's JSON: %s\n", bx_strerror(rc));
    return TB_USAGE;
  }
  if (r->recv)
    tb_collect_start(r);
  else
    tb_open(r, r->to, r->have_pk); /* without the key: fetch it first */
  return r->done ? r->exit_code : TB_OK;
}

static int tb_main(tb_run *r, const char *id_file, const char *host_arg) {
  int rc = bx_th_identity_load(id_file, &r->id);
  if (rc != 0) {
    fprintf(stderr, "bxctl: --th-id %s: %s\n", id_file, bx_strerror(rc));
    return TB_USAGE;
  }
  char *host = bxctl_th_read_json(host_arg);
  if (host == NULL) {
    fprintf(stderr, "bxctl: --host %s: cannot read it\n", host_arg);
    bx_th_identity_free(r->id);
    return TB_USAGE;
  }
  uv_loop_init(&r->loop);
  uv_timer_init(&r->loop, &r->timer);
  r->timer.data = r;
  rc = tb_start(r, host);
  free(host);
  if (rc == TB_OK && !r->done) {
    uv_timer_start(&r->timer, tb_timeout, r->o->timeout_ms, 0);
    while (!r->done && uv_run(&r->loop, UV_RUN_ONCE)) {
    }
  } else if (!r->done) {
    r->exit_code = rc;
  }
  uv_close((uv_handle_t *)&r->timer, NULL);
  if (r->ep) bx_th_endpoint_close(r->ep, NULL, NULL);
  if (r->ctx) bx_ctx_close(r->ctx, NULL, NULL);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_loop_close(&r->loop);
  bx_th_identity_free(r->id);
  return r->exit_code;
}

/* The key and hashname of an identity or peer file. */
static int tb_key_file(const char *file, uint8_t key[BX_TH_KEY_BYTES],
                       char hn[BX_TH_HASHNAME_LEN + 1]) {
  char *text = bxctl_th_read_json(file);
  int rc = text ? bx_th_peer_key(text, key, hn) : UV_ENOENT;
  free(text);
  if (rc != 0) fprintf(stderr, "bxctl: --to-id %s: %s\n", file, bx_strerror(rc));
  return rc;
}

int bxctl_th_box(const th_opts *o, const char *cmd, int argc, char **argv) {
  static tb_run r;
  memset(&r, 0, sizeof r);
  r.o = o;
  r.recv = strcmp(cmd, "recv") == 0;
  const char *id_file = NULL, *host = NULL, *to = NULL, *to_id = NULL;
  bool json = o->json;
  for (int i = 0; i < argc; i++) {
    bool v = i + 1 < argc;
    if (strcmp(argv[i], "--th-id") == 0 && v)
      id_file = argv[++i];
    else if (strcmp(argv[i], "--host") == 0 && v)
      host = argv[++i];
    else if (!r.recv && strcmp(argv[i], "--to") == 0 && v)
      to = argv[++i];
    else if (!r.recv && strcmp(argv[i], "--to-id") == 0 && v)
      to_id = argv[++i];
    else if (!r.recv && strcmp(argv[i], "--text") == 0 && v)
      r.text = argv[++i];
    else if (r.recv && strcmp(argv[i], "--from") == 0 && v)
      r.from = argv[++i];
    else if (strcmp(argv[i], "--json") == 0)
      json = true;
    else
      return -1;
  }
  th_opts local = *o;
  local.json = json;
  r.o = &local;
  if (id_file == NULL || host == NULL) return -1;
  if (!r.recv && (r.text == NULL || (to == NULL) == (to_id == NULL))) return -1;
  if (r.from != NULL && strlen(r.from) != BX_TH_HASHNAME_LEN) return -1;
  if (to != NULL) {
    if (strlen(to) != BX_TH_HASHNAME_LEN) return -1;
    snprintf(r.to, sizeof r.to, "%s", to);
    r.phase = TB_FETCH_TO;
  }
  if (to_id != NULL) {
    if (tb_key_file(to_id, r.to_pk, r.to) != 0) return TB_USAGE;
    r.have_pk = true;
    r.phase = TB_STORE;
  }
  tb_msg *msgs = r.recv ? calloc(TB_MAXMSG, sizeof *msgs) : NULL;
  if (r.recv && msgs == NULL) return TB_CONN;
  r.msgs = msgs;
  int rc = tb_main(&r, id_file, host);
  free(msgs);
  return rc;
}
