/* The connection core shared by every byte-stream transport: the connection box, framing,
 * reassembly, write coalescing, limits, the RegisterSelfMessage handshake, dispatch, and what
 * a closed connection leaves behind.
 *
 * Design notes
 * - Framing (spec/foam section 4): a 4-byte little-endian signed length, then that many
 *   bytes of JSON. A negative length or one above limits.max_frame closes the connection
 *   before anything is allocated for it. Input accumulates in one buffer that is reused:
 *   frames are decoded in place, and the unread tail is moved to the front afterwards, so a
 *   frame split anywhere (even inside its length prefix) reassembles and several frames in
 *   one read all dispatch.
 * - Output: send() encodes straight into the `out` buffer (4 bytes reserved, bx_encode
 *   appends, the prefix is patched), so each frame is one contiguous piece. Frames sent during
 *   one callback are written together: the first send queues one flush task on the run queue,
 *   and the flush hands the whole buffer to the transport as one write. While a write is in
 *   flight new frames collect in `out`; when it completes they go out in the next single
 *   write. Order is kept; the two buffers are swapped, not reallocated.
 * - Limits: max_queued_bytes and max_exports are soft: a send is refused once the bytes
 *   waiting (or the connection's exports) already reach the limit, so the queue overshoots by
 *   at most one frame and a refused send has created nothing. Exports per connection are
 *   counted approximately from the root registry's size around each encode and inbound
 *   dispatch (the registry keeps no per-owner count), clamped to the registry's size.
 * - Inbound frames decode with the connection box as origin (a ReturnBox means "back over
 *   this connection") and go to the root registry. A well-framed frame that does not decode
 *   is logged and dropped; the connection stays. A RegisterSelfMessage binds its path to this
 *   connection unless the path is held by something that is not a connection (such as the
 *   context's own name).
 * - Closing: bx__conn_close() releases everything the connection stands for at once:
 *   bx__registry_fail_owner() fails every call whose reply export belongs to it (exactly once,
 *   the registry removes before answering) and drops its other exports and registrations,
 *   queued bytes are discarded, the named path is unbound, the client box forgets it. Memory
 *   is freed only after the transport reports its handles closed (bx__conn_closed()).
 * - The connection is the private state of its box. The framework's "alive" reference is
 *   dropped in bx__conn_closed(); a box that outlives it rejects sends with BX_ECONNLOST.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"

#define CN_READ_CHUNK (64u * 1024u)
#define CN_KEEP_CAP (1024u * 1024u) /* buffers above this are released when empty */

enum { CN_CONNECTING, CN_OPEN, CN_CLOSING, CN_CLOSED };

struct bx__conn {
  bx__tlink link; /* first: in the context state's list while the handles are open */
  bx_box *box;    /* the connection box; this struct is its private state */
  const bx__tran *tran;
  bx__tstate *ts; /* NULL once closed */
  bx_ctx *ctx;
  int state;
  bx_listener *listener; /* accepted by; NULL when dialled */
  bx_box *client;        /* the client box that dialled it (weak); NULL otherwise */
  bx_transport_limits limits;
  bx_peer_info peer;
  char *self_name;    /* the path the peer announced with RegisterSelfMessage */
  bool counted;       /* counted in listener->nconns */
  bool stats_counted; /* counted in the context's open connections */
  bool writing;       /* a write is in flight (of `wr`) */
  bool flush_queued;
  bx_buf in; /* input; bytes before in_off are consumed */
  size_t in_off;
  bx_buf out;    /* frames waiting to be written */
  bx_buf wr;     /* frames being written */
  size_t wr_off; /* message transports: the frame of `wr` being written */
  size_t exports;
  union {
    max_align_t align;
    char bytes[1];
  } priv[]; /* the transport's */
};

static bx__conn *cn(bx_box *b) {
  return bx_box_priv(b);
}

/* ---- accessors ----------------------------------------------------------------------------- */

void *bx__conn_priv(bx__conn *c) {
  return c->priv;
}
bx__conn *bx__conn_of(bx_box *b) {
  return bx__box_is(b, &bx__conn_box_ops) ? cn(b) : NULL;
}
bx_box *bx__conn_box(bx__conn *c) {
  return c->box;
}
bx_ctx *bx__conn_ctx(bx__conn *c) {
  return c->ctx;
}
bool bx__conn_is_open(const bx__conn *c) {
  return c->state == CN_OPEN;
}
bx_peer_info *bx__conn_peer(bx__conn *c) {
  return &c->peer;
}
bx_listener *bx__conn_listener(bx__conn *c) {
  return c->listener;
}

static int32_t cn_get_le32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  uint32_t v = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
  return (int32_t)v;
}

/* ---- output ------------------------------------------------------------------------------- */

static void cn_trim(bx_buf *b) {
  if (b->len == 0 && b->cap > CN_KEEP_CAP) bx_buf_free(b);
}

static bool cn_messages(const bx__conn *c) {
  return (c->tran->flags & BX__TRAN_MESSAGES) != 0;
}

/* Message transports get one frame at a time, without its length prefix. */
static int cn_write_frame(bx__conn *c) {
  size_t n = (size_t)(uint32_t)cn_get_le32(c->wr.base + c->wr_off);
  return c->tran->write(c, c->wr.base + c->wr_off + 4, n);
}

static void cn_write_next(bx__conn *c) {
  if (c->state != CN_OPEN || c->writing || c->out.len == 0) return;
  bx_buf t = c->wr; /* swap: `out` becomes the write, the old write buffer collects again */
  c->wr = c->out;
  c->out = t;
  c->out.len = 0;
  c->wr_off = 0;
  c->writing = true;
  int rc = cn_messages(c) ? cn_write_frame(c) : c->tran->write(c, c->wr.base, c->wr.len);
  if (rc == BX__WRITTEN) {
    bx__conn_write_done(c, 0);
  } else if (rc) {
    c->writing = false;
    bx_log(c->ctx, BX_LOG_INFO, "%s connection: write failed: %s", c->tran->scheme,
           bx_strerror(rc));
    bx__conn_close(c, BX_ECONNLOST);
  }
}

static void cn_flush_task(void *a, void *b) {
  bx_box *box = a;
  (void)b;
  bx__conn *c = cn(box);
  c->flush_queued = false;
  cn_write_next(c);
  bx_box_unref(box);
}

static void cn_schedule_flush(bx__conn *c) {
  if (c->flush_queued || c->writing || c->state != CN_OPEN) return;
  if (bx__defer(c->ctx, cn_flush_task, bx_box_ref(c->box), NULL) != 0) {
    bx_box_unref(c->box);
    cn_write_next(c); /* no run queue: write now */
    return;
  }
  c->flush_queued = true;
}

void bx__conn_write_done(bx__conn *c, int status) {
  c->writing = false;
  if (c->state != CN_OPEN) return;
  if (status >= 0 && cn_messages(c)) {
    c->wr_off += 4 + (size_t)(uint32_t)cn_get_le32(c->wr.base + c->wr_off);
    while (c->wr_off < c->wr.len) { /* the next frame of this batch */
      c->writing = true;
      status = cn_write_frame(c);
      if (status == 0) return;
      c->writing = false;
      if (status != BX__WRITTEN) break;
      status = 0;
      c->wr_off += 4 + (size_t)(uint32_t)cn_get_le32(c->wr.base + c->wr_off);
    }
  }
  c->wr.len = 0;
  c->wr_off = 0;
  cn_trim(&c->wr);
  if (status < 0) {
    bx_log(c->ctx, BX_LOG_INFO, "%s connection: write failed: %s", c->tran->scheme,
           bx_strerror(status));
    bx__conn_close(c, BX_ECONNLOST);
    return;
  }
  cn_write_next(c); /* frames that collected meanwhile go out together */
}

/* Refuses a send up front when a soft limit is reached (nothing has been created yet). */
static int cn_admit(bx__conn *c, const bx_msg *msg) {
  if (c->state >= CN_CLOSING || c->ts == NULL) return BX_ECONNLOST;
  if (c->out.len + c->wr.len >= c->limits.max_queued_bytes) return BX_EQUEUEFULL;
  bool may_export = bx_msg_reply_box(msg) != NULL || bx_msg_box_count(msg) > 0;
  if (may_export && c->exports >= c->limits.max_exports) return BX_EQUEUEFULL;
  return 0;
}

static void cn_put_le32(char *p, uint32_t v) {
  p[0] = (char)(v & 0xff);
  p[1] = (char)((v >> 8) & 0xff);
  p[2] = (char)((v >> 16) & 0xff);
  p[3] = (char)((v >> 24) & 0xff);
}

/* Encodes msg as one frame at the end of `out`. Returns 0 or an error (out unchanged). */
static int cn_encode(bx__conn *c, const bx_msg *msg) {
  size_t start = c->out.len;
  int rc = bx_buf_reserve(&c->out, 4);
  if (rc) return rc;
  c->out.len += 4;
  bx__encode_opts opts = {.target = c->box, .max_frame = c->limits.max_frame, .owned = &c->exports};
  rc = bx__encode(c->ctx, msg, &opts, &c->out, NULL);
  size_t n = c->out.len - start - 4;
  if (rc) {
    c->out.len = start;
    return rc;
  }
  cn_put_le32(c->out.base + start, (uint32_t)n);
  bx_transport_stats *stats = bx__tstate_stats(c->ts);
  stats->messages_out++;
  stats->bytes_out += n;
  return 0;
}

static void cn_count_open(bx__conn *c) {
  bx_transport_stats *stats = bx__tstate_stats(c->ts);
  stats->connections++;
  stats->connections_total++;
  c->stats_counted = true;
}

static void cn_count_error(bx__conn *c) {
  if (c->ts) bx__tstate_stats(c->ts)->errors++;
}

static int cn_send(bx_box *self, bx_msg *msg) {
  bx__conn *c = cn(self);
  int rc = cn_admit(c, msg);
  if (rc == 0) rc = cn_encode(c, msg);
  bx_msg_unref(msg);
  if (rc) {
    bx_log(c->ctx, BX_LOG_DEBUG, "%s connection: send refused: %s", c->tran->scheme,
           bx_strerror(rc));
    cn_count_error(c);
    return rc;
  }
  cn_schedule_flush(c);
  return 0;
}

/* ---- the connection box ------------------------------------------------------------------- */

static void cn_destroy(bx_box *self) {
  bx__conn *c = cn(self);
  bx_buf_free(&c->in);
  bx_buf_free(&c->out);
  bx_buf_free(&c->wr);
  free(c->self_name);
}

const bx_box_ops bx__conn_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "connection",
    .send = cn_send,
    .destroy = cn_destroy,
};

static bx__conn *cn_new(bx__tstate *ts, const bx__tran *tran, const bx_transport_limits *limits) {
  bx_ctx *ctx = bx__tstate_ctx(ts);
  bx_box *b = bx_box_new(ctx, &bx__conn_box_ops, sizeof(bx__conn) + tran->conn_size);
  if (b == NULL) return NULL;
  bx__conn *c = cn(b);
  c->box = b; /* the alive reference, until bx__conn_closed() */
  c->tran = tran;
  c->ts = ts;
  c->ctx = ctx;
  c->limits = *limits;
  c->peer.scheme = tran->scheme;
  bx__tstate_add_conn(ts, c);
  return c;
}

/* ---- the handshake ------------------------------------------------------------------------ */

static bx_msg *cn_register_self_msg(bx_ctx *ctx) {
  cJSON *o = bx_json_new_object(BX_CLASS_REGISTER_SELF);
  if (o == NULL || !cJSON_AddStringToObject(o, "name", bx_ctx_name(ctx)) ||
      !cJSON_AddItemToObject(o, "attributes", cJSON_CreateObject())) {
    cJSON_Delete(o);
    return NULL;
  }
  return bx_msg_new(o);
}

/* Unbinds the peer's announced path if it still leads to this connection. */
static void cn_unbind_self(bx__conn *c) {
  if (c->self_name == NULL) return;
  bx_box *named = bx_named_box(c->ctx, c->self_name);
  if (named != NULL && bx__named_binding(named) == c->box)
    bx_named_bind(c->ctx, c->self_name, NULL);
  bx_box_unref(named);
  free(c->self_name);
  c->self_name = NULL;
}

static void cn_register_self(bx__conn *c, const bx_msg *msg) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "name");
  const char *path = name->valuestring; /* the codec checked: a string */
  bx_box *named = bx_named_box(c->ctx, path);
  if (named == NULL) {
    bx_log(c->ctx, BX_LOG_WARN, "%s connection: ignoring RegisterSelfMessage: bad path",
           c->tran->scheme);
    return;
  }
  bx_box *bound = bx__named_binding(named);
  bx_box_unref(named);
  if (bound == c->box) return;
  if (bound != NULL && bx__conn_of(bound) == NULL) {
    bx_log(c->ctx, BX_LOG_INFO, "%s connection: peer announced '%.100s', which is bound locally",
           c->tran->scheme, path);
    return;
  }
  char *copy = bx__strdup(path);
  if (copy == NULL || bx_named_bind(c->ctx, path, c->box) != 0) {
    free(copy);
    return;
  }
  cn_unbind_self(c);
  c->self_name = copy;
}

/* ---- input -------------------------------------------------------------------------------- */

/* A frame that did not decode may still say whose reply it is (the codec reads its addressee):
 * a one-shot reply export this connection owns. That call then fails now, with the reason,
 * instead of waiting for its deadline. */
static void cn_fail_reply(bx__conn *c, const bx_codec_error *err) {
  if (err->addressee[0] == '\0') return;
  char text[240];
  snprintf(text, sizeof text, "the reply could not be decoded: %s", err->text);
  bx__registry_fail_export(bx_ctx_registry(c->ctx), err->addressee, c->box, BX_EBADMSG, text);
}

static void cn_dispatch(bx__conn *c, const char *p, size_t n) {
  bx_msg *msg = NULL;
  bx_codec_error err;
  int rc = bx_decode(c->ctx, p, n, c->box, &msg, &err);
  bx_transport_stats *stats = bx__tstate_stats(c->ts);
  stats->bytes_in += n;
  if (rc) {
    stats->errors++;
    bx_log(c->ctx, BX_LOG_WARN, "%s connection%s%s: dropping a frame of %zu bytes: %s",
           c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address, n, err.text);
    cn_fail_reply(c, &err);
    return;
  }
  if (bx_msg_is(msg, BX_CLASS_REGISTER_SELF)) {
    cn_register_self(c, msg);
    bx_msg_unref(msg);
    return;
  }
  stats->messages_in++;
  if (bx_msg_reply_box(msg) != NULL) stats->requests_in++;
  rc = bx_send(bx_ctx_registry(c->ctx), msg);
  if (rc < 0)
    bx_log(c->ctx, BX_LOG_DEBUG, "%s connection: inbound message refused: %s", c->tran->scheme,
           bx_strerror(rc));
}

/* Moves the unread tail to the front and makes room for `need` bytes in all. */
static int cn_compact(bx__conn *c, size_t need) {
  size_t avail = c->in.len - c->in_off;
  if (c->in_off > 0) {
    memmove(c->in.base, c->in.base + c->in_off, avail);
    c->in.len = avail;
    c->in_off = 0;
  }
  if (avail == 0) cn_trim(&c->in);
  return need > avail ? bx_buf_reserve(&c->in, need - avail) : 0;
}

/* Decodes every complete frame in the input buffer. */
static void cn_process(bx__conn *c) {
  bx_box_ref(c->box); /* dispatching may close the connection */
  size_t need = 0;
  while (c->state == CN_OPEN) {
    size_t avail = c->in.len - c->in_off;
    if (avail < 4) break;
    int32_t n = cn_get_le32(c->in.base + c->in_off);
    if (n < 0 || (size_t)n > c->limits.max_frame) {
      bx_log(c->ctx, BX_LOG_WARN, "%s connection%s%s: closing: frame length %ld is %s",
             c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address, (long)n,
             n < 0 ? "negative" : "over the limit");
      bx__conn_close(c, BX_ECONNLOST);
      break;
    }
    if (avail < 4 + (size_t)n) {
      need = 4 + (size_t)n;
      break;
    }
    const char *frame = c->in.base + c->in_off + 4;
    c->in_off += 4 + (size_t)n;
    cn_dispatch(c, frame, (size_t)n);
  }
  if (c->state == CN_OPEN && cn_compact(c, need) != 0) bx__conn_close(c, BX_ENOMEM);
  bx_box_unref(c->box);
}

void bx__conn_read_space(bx__conn *c, size_t suggested, char **base, size_t *len) {
  (void)suggested;
  if (c->in.cap - c->in.len < 4096 && bx_buf_reserve(&c->in, CN_READ_CHUNK) != 0) {
    *base = NULL;
    *len = 0;
    return;
  }
  *base = c->in.base + c->in.len;
  *len = c->in.cap - c->in.len;
}

void bx__conn_read_done(bx__conn *c, ssize_t nread) {
  if (nread < 0) {
    if (nread != UV_EOF)
      bx_log(c->ctx, BX_LOG_INFO, "%s connection: read failed: %s", c->tran->scheme,
             bx_strerror((int)nread));
    bx__conn_close(c, BX_ECONNLOST);
    return;
  }
  if (c->state != CN_OPEN) return;
  c->in.len += (size_t)nread;
  cn_process(c);
}

void bx__conn_message(bx__conn *c, const char *data, size_t len) {
  if (c->state != CN_OPEN) return;
  if (len > c->limits.max_frame) {
    bx_log(c->ctx, BX_LOG_WARN,
           "%s connection%s%s: closing: a message of %zu bytes is over the "
           "limit",
           c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address, len);
    bx__conn_close(c, BX_ECONNLOST);
    return;
  }
  bx_box_ref(c->box); /* dispatching may close the connection */
  cn_dispatch(c, data, len);
  bx_box_unref(c->box);
}

void bx__conn_input(bx__conn *c, const char *data, size_t len) {
  if (c->state != CN_OPEN) return;
  if (bx_buf_append(&c->in, data, len) != 0) {
    bx__conn_close(c, BX_ENOMEM);
    return;
  }
  cn_process(c);
}

/* ---- opening ------------------------------------------------------------------------------ */

bx__conn *bx__conn_accept(bx_listener *l) {
  bx__conn *c = cn_new(l->ts, l->tran, &l->limits);
  if (c == NULL) return NULL;
  c->listener = l;
  l->live++;
  return c;
}

int bx__conn_opened(bx__conn *c) {
  bx_listener *l = c->listener;
  if (l != NULL && (l->closing || l->nconns >= l->limits.max_connections)) {
    bx_log(c->ctx, BX_LOG_WARN, "%s: refusing a connection: %s", l->url,
           l->closing ? "closing" : "too many connections");
    bx__conn_close(c, BX_ECONNLOST);
    return BX_EQUEUEFULL;
  }
  if (l != NULL) {
    l->nconns++;
    c->counted = true;
  }
  c->state = CN_OPEN;
  cn_count_open(c);
  return 0;
}

bx_box *bx__conn_dial(bx__tstate *ts, const bx__tran *tran, const char *addr,
                      const bx_transport_limits *limits, bx_box *client, int *err) {
  bx__conn *c = cn_new(ts, tran, limits);
  if (c == NULL) {
    *err = BX_ENOMEM;
    return NULL;
  }
  c->client = client;
  int rc = 0;
  if ((tran->flags & BX__TRAN_NO_HANDSHAKE) == 0) {
    bx_msg *hello = cn_register_self_msg(c->ctx);
    rc = hello ? cn_encode(c, hello) : BX_ENOMEM;
    bx_msg_unref(hello);
  }
  if (rc == 0) rc = tran->dial(c, addr);
  if (rc) {
    c->client = NULL;
    c->state = CN_CLOSING; /* nothing was started: close the handles only */
    tran->close(c);
    *err = rc;
    return NULL;
  }
  return bx_box_ref(c->box);
}

void bx__conn_connected(bx__conn *c, int status) {
  if (c->state != CN_CONNECTING) return;
  if (status < 0) {
    bx_log(c->ctx, BX_LOG_INFO, "%s connection failed: %s", c->tran->scheme, bx_strerror(status));
    bx__conn_close(c, status);
    return;
  }
  c->state = CN_OPEN;
  cn_count_open(c);
  cn_schedule_flush(c);
}

/* ---- closing ------------------------------------------------------------------------------ */

void bx__conn_close(bx__conn *c, int code) {
  if (c->state >= CN_CLOSING) return;
  c->state = CN_CLOSING;
  if (c->stats_counted) {
    bx_transport_stats *stats = bx__tstate_stats(c->ts);
    stats->connections--;
    if (code != BX_ECLOSING && code != BX_ECONNLOST && code != 0) stats->errors++;
    c->stats_counted = false;
  }
  bx_box_ref(c->box);
  if (c->counted) {
    c->listener->nconns--;
    c->counted = false;
  }
  bx_box *client = c->client;
  c->client = NULL;
  if (client != NULL) bx__client_conn_gone(client, c->box);
  cn_unbind_self(c);
  c->out.len = 0;
  size_t n = bx__registry_fail_owner(bx_ctx_registry(c->ctx), c->box, code);
  n += bx__registry_drop_routes_via(bx_ctx_registry(c->ctx), c->box);
  if (n > 0)
    bx_log(c->ctx, BX_LOG_DEBUG, "%s connection closed: released %zu exports (%s)", c->tran->scheme,
           n, bx_err_name(code));
  c->exports = 0;
  c->tran->close(c);
  bx_box_unref(c->box);
}

void bx__conn_forget_client(bx__conn *c) {
  c->client = NULL;
}

void bx__conn_closed(bx__conn *c) {
  if (c->state == CN_CLOSED) return;
  c->state = CN_CLOSED;
  bx_listener *l = c->listener;
  bx__tstate *ts = c->ts;
  c->ts = NULL;
  c->listener = NULL;
  bx_buf_free(&c->in);
  bx_buf_free(&c->out);
  bx_buf_free(&c->wr);
  c->in_off = 0;
  bx__tstate_remove_conn(ts, c);
  if (l != NULL) bx__listener_conn_closed(l);
  bx_box_unref(c->box); /* the alive reference; may free c */
}
