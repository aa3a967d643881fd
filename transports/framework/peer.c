/* The message core shared by every transport: the peer's connection box, its output queue and
 * the write pump over its link, limits, the RegisterSelfMessage handshake, dispatch, and what a
 * closed peer leaves behind.
 *
 * Design notes
 * - The core knows no framing: the transport's framer (framer.c) writes each frame's header
 *   into the output queue and, for stream transports, cuts frames out of the input. A frame
 *   whose length no peer may send closes the peer before anything is allocated for it. Input
 *   accumulates in one buffer that is reused: frames are decoded in place, and the unread tail
 *   is moved to the front afterwards, so a frame split anywhere reassembles and several frames
 *   in one read all dispatch.
 * - Output: send() encodes straight into the `out` buffer after a reserved header (bx__encode
 *   appends, the framer writes the header), so each frame is one contiguous piece. Frames sent
 *   during one callback are written together: the first send queues one flush task on the run
 *   queue, and the flush puts the peer in its link's turn. The write pump (lk_pump) writes one
 *   peer's batch at a time per link: the whole batch as one write for framers that batch, frame
 *   by frame otherwise; then the next waiting peer's. While a batch is in flight new frames
 *   collect in `out`; the two buffers are swapped, not reallocated. Order is kept per peer.
 * - Limits: max_queued_bytes and max_exports are soft: a local request is refused once the
 *   bytes waiting (or the exports the peer owns) already reach the limit, so the queue
 *   overshoots by at most one frame and a refused send has created nothing. The registry keeps the
 * count of exports a peer owns exactly (bx__encode's owner counter).
 * - Past the soft limit (cn_admit): a request sent by local code is refused (its caller hears
 *   BX_EQUEUEFULL); a request relayed from another peer (dispatched from its input: the
 *   state's "source") is queued up to twice the limit (the hard limit) and makes its source
 *   wait: the source's input is held (the transport stops reading it) until this queue has
 *   drained to half the soft limit, so one peer's backlog costs the peers feeding it, not
 *   everyone. A wait that would close a cycle is not taken. Past the hard limit a relayed
 *   request is refused and the source answers its reply box with the error (cn_dispatch). A
 *   message without a reply box (a reply, a one-way message), which nobody could be told of, is
 *   queued up to the hard limit; past it this peer is closed, a reader too slow for what it
 *   asked for, with a logged reason. Nothing is dropped without telling its sender.
 * - Budget (budget.c): every request from a peer counts against its max_pending until it is
 *   answered; at the limit its input is held (as for backpressure) until half are answered,
 *   so a peer's flood fills only its own share of what it feeds.
 * - Inbound frames decode with the connection box as origin (a ReturnBox means "back over
 *   this peer") and go to the root registry. A well-framed frame that does not decode is
 *   logged and dropped; the call waiting for it, when the codec could still read its
 *   addressee, fails now, and a request whose reply box the codec could still read is
 *   answered with the reason (cn_answer_refused); the peer stays.
 * - A RegisterSelfMessage binds its path to this peer unless the path is held by something
 *   that is not a peer (such as the context's own name), or by a live peer of another
 *   identity (cn_same_identity: only the same local user may take over a live holder's name,
 *   as a restarted client does).
 * - Down: a peer whose link is gone for now keeps everything and queues sends within its
 *   limits; bx__conn_up() sends what was queued over its new link.
 * - Closing: bx__conn_close() releases everything the peer stands for at once:
 *   bx__registry_fail_owner() fails every call whose reply export belongs to it (exactly once,
 *   the registry removes before answering) and drops its other exports and registrations,
 *   queued bytes are discarded, the named path is unbound, the client box is told. A solo link
 *   closes with its peer; a shared one lets it go (tran->peer_gone). Memory is freed only when
 *   no link refers to the peer any more (for a solo link, after its handles have closed).
 * - The peer is the private state of its box. The framework's "alive" reference is dropped
 *   when the peer is released (cn_release); a box that outlives it rejects sends with
 *   BX_ECONNLOST.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework.h"

#define CN_READ_CHUNK (64u * 1024u)
#define CN_KEEP_CAP (1024u * 1024u) /* buffers above this are released when empty */

enum { CN_CONNECTING, CN_OPEN, CN_DOWN, CN_CLOSING, CN_CLOSED };

struct bx__conn {
  bx__tmember member; /* first: in the context state until released */
  bx_box *box;        /* the connection box; this struct is its private state */
  const bx__tran *tran;
  const bx__framer *framer;
  bx__tstate *ts; /* NULL once released */
  bx_ctx *ctx;
  int state;
  bx__link *link;        /* the link it is on, or NULL (down, or not dialled yet) */
  bx__tlink on_link;     /* in link->peers */
  bx__tlink want;        /* in link->wants while it waits for its turn */
  bx_listener *listener; /* accepted through; NULL when dialled */
  void (*gone)(void *data, bx_box *conn_box); /* the client box's, told when it closes */
  void (*up)(void *data, bx_box *conn_box);   /* the client box's, told when the dial is done */
  void *gone_data;
  int close_code; /* why it closed (bx__conn_close's code) */
  bx_transport_limits limits;
  bx_peer_info peer;
  char *self_name;    /* the path the peer announced with RegisterSelfMessage */
  bool counted;       /* counted in listener->nconns */
  bool stats_counted; /* counted in the context's open connections */
  bool flush_queued;
  bx_buf in; /* input; bytes before in_off are consumed */
  size_t in_off;
  bx_buf out;           /* frames waiting to be written */
  bx_buf wr;            /* frames being written */
  size_t wr_off;        /* the next frame of `wr` to write (framers that do not batch) */
  size_t exports;       /* exports it owns (counted by the registry) */
  bool held;            /* its input is held (it waits for a full peer it feeds to drain) */
  bx__conn *waiting_on; /* the peer it waits for (weak: that peer wakes it or lets it go) */
  bx__tlink wait_node;  /* in waiting_on->waiters */
  bx__tlink waiters;    /* peers whose input is held until this one's queue drains */
  unsigned pending;     /* its requests in service (budget.c) */
  bool over_budget;     /* its input is held for pending reaching limits.max_pending */
  bool budget_warned;   /* its first pause for its budget was logged (at info level) */
  bool resume_queued;   /* a task to let it go on is on the run queue */
  union {
    max_align_t align;
    char bytes[1];
  } priv[]; /* the transport's */
};

static void cn_wake_waiters(bx__conn *c);

#define CN_OF(node, field) ((bx__conn *)((char *)(node)-offsetof(bx__conn, field)))

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
bx__link *bx__conn_link(bx__conn *c) {
  return c->link;
}
bool bx__conn_is_open(const bx__conn *c) {
  return c->state == CN_OPEN;
}
bool bx__conn_is_down(const bx__conn *c) {
  return c->state == CN_DOWN;
}
const bx_transport_limits *bx__conn_limits(const bx__conn *c) {
  return &c->limits;
}

bx_peer_info *bx__conn_peer(bx__conn *c) {
  return &c->peer;
}

int bx_connection_peer(bx_box *conn, bx_peer_info *out) {
  if (out == NULL) return BX_EINVAL;
  bx__conn *c = bx__conn_of(conn);
  if (c == NULL) return BX_ENOROUTE;
  *out = c->peer;
  return 0;
}

int bx_msg_peer(const bx_msg *msg, bx_peer_info *out) {
  if (msg == NULL) return BX_EINVAL;
  return bx_connection_peer(bx_msg_origin(msg), out);
}

bx__conn *bx__link_peer(bx__link *k) {
  return k->peers.next != &k->peers ? CN_OF(k->peers.next, on_link) : NULL;
}

void bx__link_attach(bx__link *k, bx__conn *c) {
  if (c->link == k) return;
  bx__tlink_remove(&c->on_link);
  bx__tlink_append(&k->peers, &c->on_link);
  c->link = k;
}

bx__link *bx__link_for(bx__conn *c) {
  bx__link *k = bx__link_new(c->ts, c->tran, NULL, true);
  if (k != NULL) bx__link_attach(k, c);
  return k;
}

/* ---- the write pump ------------------------------------------------------------------------ */

static void cn_trim(bx_buf *b) {
  if (b->len == 0 && b->cap > CN_KEEP_CAP) bx_buf_free(b);
}

static size_t cn_frame_len(const bx__conn *c, size_t off) {
  return c->framer->get(c->wr.base + off);
}

/* Makes c's queued frames its batch and c the link's writer. False when there is nothing. */
static bool cn_start_batch(bx__link *k, bx__conn *c) {
  if (c->state != CN_OPEN || c->link != k || c->out.len == 0) return false;
  bx_buf t = c->wr; /* swap: `out` becomes the batch, the old batch buffer collects again */
  c->wr = c->out;
  c->out = t;
  c->out.len = 0;
  c->wr_off = 0;
  k->writer = c;
  return true;
}

/* Hands the link the next piece of the writer's batch: all of it, or its next frame. */
static int cn_write_piece(bx__link *k, bx__conn *c) {
  if (c->framer->batch) return k->tran->write(k, c, c->wr.base, c->wr.len);
  size_t h = c->framer->header;
  return k->tran->write(k, c, c->wr.base + c->wr_off + h, cn_frame_len(c, c->wr_off));
}

/* The link lets go of its writer's batch (written, failed, or cut short). */
static void cn_end_batch(bx__link *k, bx__conn *c) {
  bool was_held = k->writer_held;
  k->writer = NULL;
  k->writer_held = false;
  c->wr.len = 0;
  c->wr_off = 0;
  cn_trim(&c->wr);
  if (c->state == CN_OPEN && c->out.len > 0 && !bx__tlink_listed(&c->want))
    bx__tlink_append(&k->wants, &c->want); /* frames that collected meanwhile: its next turn */
  if (bx__tlink_listed(&c->waiters) && c->out.len < c->limits.max_queued_bytes / 2)
    cn_wake_waiters(c);               /* drained enough: the peers feeding it go on */
  if (was_held) bx_box_unref(c->box); /* may free c */
}

/* A piece of the writer's batch went out (status 0) or failed. */
static void cn_piece_done(bx__link *k, bx__conn *c, int status) {
  if (status >= 0 && !c->framer->batch && c->state == CN_OPEN) {
    c->wr_off += c->framer->header + cn_frame_len(c, c->wr_off);
    if (c->wr_off < c->wr.len) return; /* the next frame of this batch */
  }
  if (status < 0 && c->state == CN_OPEN) {
    bx_log(c->ctx, BX_LOG_INFO, "%s connection: write failed: %s", c->tran->scheme,
           bx_strerror(status));
    bx__conn_close(c, BX_ECONNLOST);
  }
  cn_end_batch(k, c);
}

/* Writes on link k what it can: the writer's remaining pieces, then the waiting peers'
 * batches in turn, until a write is in flight or nothing waits. A batch whose write goes
 * out at once needs nothing held; one in flight holds its peer's box, so the bytes stay. */
static void lk_pump(bx__link *k) {
  if (k->pumping) return; /* a write that completed at once: the running pump goes on */
  k->pumping = true;
  while (!k->write_pending && !k->closing) {
    bx__conn *c = k->writer;
    if (c == NULL) {
      if (k->wants.next == &k->wants) break;
      c = CN_OF(k->wants.next, want);
      bx__tlink_remove(&c->want);
      if (!cn_start_batch(k, c)) continue;
    }
    if (c->state != CN_OPEN) {
      cn_end_batch(k, c);
      continue;
    }
    int rc = cn_write_piece(k, c);
    if (rc == 0) {
      k->write_pending = true;
      if (!k->writer_held) bx_box_ref(c->box);
      k->writer_held = true;
      break;
    }
    cn_piece_done(k, c, rc == BX__WRITTEN ? 0 : rc);
  }
  k->pumping = false;
}

void bx__link_write_done(bx__link *k, int status) {
  if (!k->write_pending) return;
  k->write_pending = false;
  if (k->writer != NULL) cn_piece_done(k, k->writer, status);
  lk_pump(k);
}

/* Puts c in its link's turn if it has frames to write; an idle link starts on it at once. */
static void cn_want(bx__conn *c) {
  bx__link *k = c->link;
  if (c->state != CN_OPEN || k == NULL || c->out.len == 0 || k->writer == c) return;
  if (k->writer == NULL && !k->pumping && k->wants.next == &k->wants)
    cn_start_batch(k, c); /* nobody waits: no turn to take */
  else if (!bx__tlink_listed(&c->want))
    bx__tlink_append(&k->wants, &c->want);
  lk_pump(k);
}

static void cn_flush_task(void *a, void *b) {
  bx_box *box = a;
  (void)b;
  bx__conn *c = cn(box);
  c->flush_queued = false;
  cn_want(c);
  bx_box_unref(box);
}

static void cn_schedule_flush(bx__conn *c) {
  if (c->flush_queued || c->state != CN_OPEN) return;
  if (bx__defer(c->ctx, cn_flush_task, bx_box_ref(c->box), NULL) != 0) {
    bx_box_unref(c->box);
    cn_want(c); /* no run queue: write now */
    return;
  }
  c->flush_queued = true;
}

/* ---- sending ------------------------------------------------------------------------------- */

/* ---- backpressure ---------------------------------------------------------------------- */

static void cn_process(bx__conn *c);
static void cn_process_messages(bx__conn *c);

/* Holds c's input (the transport stops reading it where it can) or lets it go again. */
static void cn_hold(bx__conn *c, bool hold) {
  if (c->held == hold) return;
  c->held = hold;
  bx__link *k = c->link;
  if (k != NULL && k->tran->read_pause) k->tran->read_pause(k, c, hold);
  if (hold || c->state != CN_OPEN || c->in.len == c->in_off) return;
  if (c->framer->cut != NULL) /* what it held */
    cn_process(c);
  else
    cn_process_messages(c);
}

/* c stops waiting for the peer it waited for (which drained, or went). */
static void cn_stop_waiting(bx__conn *c) {
  if (c->waiting_on == NULL) return;
  bx__tlink_remove(&c->wait_node);
  c->waiting_on = NULL;
  cn_hold(c, c->over_budget);
}

/* Lets every peer waiting for c go on. */
static void cn_wake_waiters(bx__conn *c) {
  while (bx__tlink_listed(&c->waiters))
    cn_stop_waiting(CN_OF(c->waiters.next, wait_node));
}

/* Would src waiting for target close a cycle of waits (target waits, maybe through others,
 * for src)? Then nobody would ever drain. */
static bool cn_would_cycle(const bx__conn *src, const bx__conn *target) {
  for (const bx__conn *w = target; w != NULL; w = w->waiting_on)
    if (w == src) return true;
  return false;
}

/* src, whose input fed target a request past target's soft limit, waits until target drains. */
static void cn_wait_on(bx__conn *src, bx__conn *target) {
  if (src->waiting_on == target || src->state != CN_OPEN || cn_would_cycle(src, target)) return;
  if (src->waiting_on != NULL) bx__tlink_remove(&src->wait_node);
  src->waiting_on = target;
  bx__tlink_append(&target->waiters, &src->wait_node);
  cn_hold(src, true);
}

/* ---- the budget of requests in service (budget.c) ----------------------------------------- */

void bx__conn_budget_take(bx__conn *c) {
  c->pending++;
  if (c->over_budget || c->pending < c->limits.max_pending || c->state != CN_OPEN) return;
  c->over_budget = true;
  bx_log(c->ctx, c->budget_warned ? BX_LOG_DEBUG : BX_LOG_INFO,
         "%s connection%s%s: pausing its input: %u of its requests are in service, its limit "
         "(it goes on when half are answered)",
         c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address, c->pending);
  c->budget_warned = true;
  cn_hold(c, true);
}

static void cn_resume_task(void *a, void *b) {
  (void)b;
  bx__conn *c = cn(a);
  c->resume_queued = false;
  if (c->over_budget && c->pending <= c->limits.max_pending / 2) {
    c->over_budget = false;
    if (c->state == CN_OPEN) cn_hold(c, c->waiting_on != NULL);
  }
  bx_box_unref(a);
}

void bx__conn_budget_give(bx__conn *c) {
  if (c == NULL || c->pending == 0) return;
  c->pending--;
  if (!c->over_budget || c->resume_queued || c->pending > c->limits.max_pending / 2) return;
  if (c->state != CN_OPEN || c->ts == NULL) return;
  if (bx__defer(c->ctx, cn_resume_task, bx_box_ref(c->box), NULL) != 0) {
    bx_box_unref(c->box);
    return;
  }
  c->resume_queued = true;
}

/* Whether c may take msg now (see the design notes): a request stops at the soft limit when
 * sent by local code (its caller hears BX_EQUEUEFULL) and makes its source wait when relayed,
 * up to the hard limit; a message without a reply box (a reply, a one-way message), which
 * nobody could be told about, is taken up to the hard limit, and past it closes c. */
static int cn_admit(bx__conn *c, const bx_msg *msg) {
  if (c->state >= CN_CLOSING || c->ts == NULL) return BX_ECONNLOST;
  bool request = bx_msg_reply_box(msg) != NULL;
  if ((request || bx_msg_box_count(msg) > 0) && c->exports >= c->limits.max_exports)
    return BX_EQUEUEFULL;
  size_t queued = c->out.len + c->wr.len, soft = c->limits.max_queued_bytes;
  if (queued < soft) return 0;
  bx__conn *src = bx__tstate_source(c->ts);
  if (src == c) src = NULL;
  if (request) {
    if (src == NULL || queued >= 2 * soft) return BX_EQUEUEFULL; /* its caller hears it */
    cn_wait_on(src, c);
    return 0;
  }
  if (queued < 2 * soft) return 0;
  bx_log(c->ctx, BX_LOG_WARN,
         "%s connection%s%s: closing: %zu bytes wait for it, twice its limit (a reader too slow "
         "for the replies it asked for)",
         c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address, queued);
  bx__conn_close(c, BX_ECONNLOST);
  return BX_ECONNLOST;
}

/* Encodes msg as one frame at the end of `out`. Returns 0 or an error (out unchanged). */
static int cn_encode(bx__conn *c, const bx_msg *msg) {
  size_t start = c->out.len, h = c->framer->header;
  int rc = bx_buf_reserve(&c->out, h);
  if (rc) return rc;
  c->out.len += h;
  bx__encode_opts opts = {.target = c->box, .max_frame = c->limits.max_frame, .owned = &c->exports};
  rc = bx__encode(c->ctx, msg, &opts, &c->out, NULL);
  if (rc) {
    c->out.len = start;
    return rc;
  }
  size_t n = c->out.len - start - h;
  c->framer->put(c->out.base + start, n);
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

/* A request whose deadline passed before it could be sent (a relay held it, or it arrived
 * expired): nobody waits for its answer any more, so it is answered here (BX_ETIMEDOUT) instead
 * of being forwarded. True when msg was answered (msg is then the caller's to release). */
static bool cn_expired(bx__conn *c, const bx_msg *msg) {
  uint64_t due = bx__msg_due(msg);
  if (due == 0 || due > uv_now(bx_ctx_loop(c->ctx)) || bx_msg_reply_box(msg) == NULL) return false;
  bx_log(c->ctx, BX_LOG_INFO, "%s connection: answering a request whose deadline passed",
         c->tran->scheme);
  bx_reply_error(msg, BX_ETIMEDOUT, "the deadline passed before the request could be forwarded");
  return true;
}

static int cn_send(bx_box *self, bx_msg *msg) {
  bx__conn *c = cn(self);
  if (c->state < CN_CLOSING && cn_expired(c, msg)) {
    bx_msg_unref(msg);
    return 0;
  }
  int rc = cn_admit(c, msg);
  if (rc == 0) rc = cn_encode(c, msg);
  bool told = bx_msg_reply_box(msg) != NULL; /* a request's caller hears the error */
  bx_msg_unref(msg);
  if (rc == BX_ENOMEM && !told && c->state == CN_OPEN) {
    /* A reply (or one-way message) lost for memory: nobody else could tell the peer, whose
     * call would wait for its deadline. Closing tells it (BX_ECONNLOST). */
    bx_log(c->ctx, BX_LOG_WARN, "%s connection%s%s: closing: out of memory for a message to it",
           c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address);
    bx__conn_close(c, BX_ECONNLOST);
  }
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
  bx__free(c->self_name);
}

const bx_box_ops bx__conn_box_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "connection",
    .send = cn_send,
    .destroy = cn_destroy,
};

static void cn_member_close(bx__tmember *m) {
  bx__conn_close((bx__conn *)m, BX_ECLOSING);
}

static bx__conn *cn_new(bx__tstate *ts, const bx__tran *tran, const bx_transport_limits *limits) {
  bx_ctx *ctx = bx__tstate_ctx(ts);
  bx_box *b = NULL;
  bx_box_new(ctx, &bx__conn_box_ops, sizeof(bx__conn) + tran->conn_size, &b);
  if (b == NULL) return NULL;
  bx__conn *c = cn(b);
  c->box = b; /* the alive reference, until the peer is released */
  c->tran = tran;
  c->framer = tran->framer;
  c->ts = ts;
  c->ctx = ctx;
  c->limits = *limits;
  c->peer.scheme = tran->scheme;
  bx__tlink_init(&c->on_link);
  bx__tlink_init(&c->want);
  bx__tlink_init(&c->wait_node);
  bx__tlink_init(&c->waiters);
  c->member.kind = BX__TM_PEER;
  c->member.close = cn_member_close;
  bx__tstate_join(ts, &c->member);
  return c;
}

/* The peer is done with every link: it leaves the context state and the framework's alive
 * reference goes (which may free it). */
static void cn_release(bx__conn *c) {
  if (c->state == CN_CLOSED) return;
  c->state = CN_CLOSED;
  bx__tstate *ts = c->ts;
  c->ts = NULL;
  c->listener = NULL;
  bx_buf_free(&c->in);
  bx_buf_free(&c->out);
  if (c->link == NULL || c->link->writer != c) bx_buf_free(&c->wr);
  c->in_off = 0;
  bx__tlink_remove(&c->want);
  bx__tlink_remove(&c->on_link);
  c->link = NULL;
  bx__tstate_leave(ts, &c->member);
  bx_box_unref(c->box); /* the alive reference; may free c */
}

static void cn_release_task(void *a, void *b) {
  (void)b;
  cn_release(a);
}

/* ---- the handshake ------------------------------------------------------------------------ */

static bx_msg *cn_register_self_msg(bx_ctx *ctx) {
  cJSON *o = bx_json_new_object(BX_CLASS_REGISTER_SELF);
  cJSON *attrs = cJSON_CreateObject();
  if (o == NULL || attrs == NULL || !cJSON_AddStringToObject(o, "name", bx_ctx_name(ctx)) ||
      !cJSON_AddItemToObject(o, "attributes", attrs)) {
    cJSON_Delete(attrs); /* not attached: every failure comes before or at attaching it */
    cJSON_Delete(o);
    return NULL;
  }
  bx_msg *m = NULL;
  bx_msg_new(o, &m);
  return m;
}

/* Unbinds the peer's announced path if it still leads to this peer. */
static void cn_unbind_self(bx__conn *c) {
  if (c->self_name == NULL) return;
  bx_box *named = NULL;
  bx_named_box(c->ctx, c->self_name, &named);
  if (named != NULL && bx__named_binding(named) == c->box)
    bx_named_bind(c->ctx, c->self_name, NULL);
  bx_box_unref(named);
  bx__free(c->self_name);
  c->self_name = NULL;
}

/* May b take over a name a live connection a announced? Only as the same identity: the same
 * user on both ends of local sockets (SO_PEERCRED, or this process for inproc). A peer with no
 * credentials (TCP, WebSocket) never takes a live holder's name. */
static bool cn_same_identity(const bx__conn *a, const bx__conn *b) {
  return a->peer.has_cred && b->peer.has_cred && a->peer.uid == b->peer.uid;
}

static void cn_register_self(bx__conn *c, const bx_msg *msg) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "name");
  const char *path = name->valuestring; /* the codec checked: a string */
  bx_box *named = NULL;
  bx_named_box(c->ctx, path, &named);
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
  bx__conn *holder = bound ? bx__conn_of(bound) : NULL;
  if (holder != NULL && holder->state < CN_CLOSING && !cn_same_identity(holder, c)) {
    bx_log(c->ctx, BX_LOG_WARN,
           "%s connection%s%s: peer announced '%.100s', which a live connection holds; it keeps it",
           c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address, path);
    return;
  }
  char *copy = bx__strdup(path);
  if (copy == NULL || bx_named_bind(c->ctx, path, c->box) != 0) {
    bx__free(copy);
    return;
  }
  cn_unbind_self(c);
  c->self_name = copy;
}

/* ---- input -------------------------------------------------------------------------------- */

/* A refused request whose reply box the codec could still read is answered at once with the
 * reason (one answer per frame), instead of leaving its caller to its deadline. */
static void cn_answer_refused(bx__conn *c, const bx_codec_error *err) {
  bx_box *to = NULL;
  if (err->reply[0] != '\0')
    bx_sub_box_new(c->ctx, err->reply, c->box, &to); /* SubBox{name, ReturnBox}: back over c */
  else if (err->reply_path[0] != '\0')
    bx_named_box(c->ctx, err->reply_path, &to);
  if (to == NULL) return;
  char text[240];
  snprintf(text, sizeof text, "the request could not be accepted: %s", err->text);
  bx_send_error(to, err->code, text);
  bx_box_unref(to);
}

/* A frame that did not decode may still say whose reply it is (the codec reads its addressee):
 * a one-shot reply export this peer owns. That call then fails now, with the reason, instead
 * of waiting for its deadline. */
static void cn_fail_reply(bx__conn *c, const bx_codec_error *err) {
  cn_answer_refused(c, err);
  if (err->addressee[0] == '\0') return;
  char text[240];
  snprintf(text, sizeof text, "the reply could not be decoded: %s", err->text);
  bx__registry_fail_export(bx_ctx_registry(c->ctx), err->addressee, c->box, BX_EBADMSG, text);
}

/* An inbound message was refused where it was going (a full queue, a lost connection ...): its
 * sender hears the reason at its reply box. One without a reply box is logged: a late reply to
 * a call that has completed already (its export is gone) quietly, anything else as a warning. */
static void cn_refused(bx__conn *c, bx_box *reply, int rc) {
  /* A late reply (its call is over, or its caller has gone) is no news: debug level. */
  int level = reply                                       ? BX_LOG_INFO
              : rc == BX_ENOSERVICE || rc == BX_ECONNLOST ? BX_LOG_DEBUG
                                                          : BX_LOG_WARN;
  bx_log(c->ctx, level, "%s connection%s%s: inbound message refused: %s%s", c->tran->scheme,
         c->peer.address[0] ? " from " : "", c->peer.address, bx_strerror(rc),
         reply ? " (its sender is told)" : " (it has no reply box to tell)");
  if (reply == NULL) return;
  char text[160];
  snprintf(text, sizeof text, "refused on the way: %s", bx_strerror(rc));
  bx_send_error(reply, rc, text);
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
  bx_box *reply = bx_box_ref(bx_msg_reply_box(msg));
  if (reply != NULL) stats->requests_in++;
  bx_box *counted = reply ? bx__budget_reply_box(c, reply) : NULL; /* c's budget */
  if (counted != NULL) bx_msg_set_reply_box(msg, counted);
  bx_box_unref(counted);
  bx__conn *outer = bx__tstate_source(c->ts);
  bx__tstate_set_source(c->ts, c); /* what is relayed now comes from c */
  rc = bx_send(bx_ctx_registry(c->ctx), msg);
  bx__tstate_set_source(c->ts, outer);
  if (rc < 0) cn_refused(c, reply, rc);
  bx_box_unref(reply);
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

static void cn_refuse_length(bx__conn *c, size_t len) {
  bx_log(c->ctx, BX_LOG_WARN,
         "%s connection%s%s: closing: a frame length of %zu is negative or over the limit of "
         "%zu",
         c->tran->scheme, c->peer.address[0] ? " from " : "", c->peer.address, len,
         c->limits.max_frame);
  bx__conn_close(c, BX_ECONNLOST);
}

/* Decodes every complete frame in the input buffer. */
static void cn_process(bx__conn *c) {
  bx_box_ref(c->box); /* dispatching may close the peer */
  size_t need = 0;
  while (c->state == CN_OPEN && !c->held && c->in.len - c->in_off >= c->framer->header) {
    size_t off, len;
    int r = c->framer->cut(c->in.base + c->in_off, c->in.len - c->in_off, c->limits.max_frame, &off,
                           &len, &need);
    if (r == BX__FRAME_BAD) {
      cn_refuse_length(c, len);
      break;
    }
    if (r == BX__FRAME_NEED) break;
    const char *frame = c->in.base + c->in_off + off;
    c->in_off += need;
    need = 0;
    cn_dispatch(c, frame, len);
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

/* Whole messages that come while the input is held: kept in `in`, each after a framer header,
 * and dispatched in order when it is let go (cn_hold_release). */
static void cn_hold_message(bx__conn *c, const char *data, size_t len) {
  size_t h = c->framer->header;
  if (bx_buf_reserve(&c->in, h + len) != 0) {
    bx__conn_close(c, BX_ENOMEM);
    return;
  }
  c->framer->put(c->in.base + c->in.len, len);
  memcpy(c->in.base + c->in.len + h, data, len);
  c->in.len += h + len;
}

/* Dispatches the whole messages held in `in` (cn_hold_message), in order. */
static void cn_process_messages(bx__conn *c) {
  bx_box_ref(c->box); /* dispatching may close the peer */
  size_t h = c->framer->header;
  while (c->state == CN_OPEN && !c->held && c->in.len - c->in_off >= h) {
    size_t n = c->framer->get(c->in.base + c->in_off);
    const char *m = c->in.base + c->in_off + h;
    c->in_off += h + n;
    cn_dispatch(c, m, n);
  }
  if (c->state == CN_OPEN && cn_compact(c, 0) != 0) bx__conn_close(c, BX_ENOMEM);
  bx_box_unref(c->box);
}

void bx__conn_message(bx__conn *c, const char *data, size_t len) {
  if (c->state != CN_OPEN) return;
  if (c->held && len <= c->limits.max_frame) {
    cn_hold_message(c, data, len);
    return;
  }
  if (len > c->limits.max_frame) {
    bx_log(c->ctx, BX_LOG_WARN,
           "%s connection%s%s: closing: a message of %zu bytes is over the limit", c->tran->scheme,
           c->peer.address[0] ? " from " : "", c->peer.address, len);
    bx__conn_close(c, BX_ECONNLOST);
    return;
  }
  bx_box_ref(c->box); /* dispatching may close the peer */
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

bx__conn *bx__conn_accept(bx__link *k) {
  bx_listener *l = k->listener;
  bx__conn *c = cn_new(k->ts, k->tran, &l->limits);
  if (c == NULL) return NULL;
  c->listener = l;
  bx__link_attach(k, c);
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

/* A dial that failed at once: c never opened and holds nothing but its link, if any. */
static void cn_abandon(bx__conn *c) {
  c->gone = NULL;
  c->up = NULL;
  c->state = CN_CLOSING;
  bx__link *k = c->link;
  if (k == NULL) {
    cn_release(c);
    return;
  }
  k->closing = true; /* its handles only: the link is released when they have closed */
  k->tran->link_close(k);
}

bx_box *bx__conn_dial(bx__tstate *ts, const bx__tran *tran, const char *addr,
                      const bx_transport_limits *limits, void (*gone)(void *, bx_box *),
                      void *gone_data, int *err) {
  bx__conn *c = cn_new(ts, tran, limits);
  if (c == NULL) {
    *err = BX_ENOMEM;
    return NULL;
  }
  c->gone = gone;
  c->gone_data = gone_data;
  int rc = 0;
  if ((tran->flags & BX__TRAN_NO_HANDSHAKE) == 0) {
    bx_msg *hello = cn_register_self_msg(c->ctx);
    rc = hello ? cn_encode(c, hello) : BX_ENOMEM;
    bx_msg_unref(hello);
  }
  if (rc == 0) rc = tran->dial(c, addr);
  if (rc) {
    cn_abandon(c);
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
  if (c->up != NULL) c->up(c->gone_data, c->box);
}

void bx__conn_set_up(bx__conn *c, void (*up)(void *data, bx_box *conn)) {
  c->up = up;
}

int bx__conn_close_code(const bx__conn *c) {
  return c->close_code;
}

/* ---- down and up -------------------------------------------------------------------------- */

void bx__conn_down(bx__conn *c) {
  if (c->state != CN_OPEN) return;
  c->state = CN_DOWN;
  bx__link *k = c->link;
  bx__tlink_remove(&c->want);
  bx__tlink_remove(&c->on_link);
  c->link = NULL;
  if (k != NULL && k->writer == c) {
    /* The batch in flight is lost with the link; its frames are not sent again. */
    k->write_pending = false;
    cn_end_batch(k, c); /* c stays: the framework's alive reference holds it */
  }
  bx_log(c->ctx, BX_LOG_INFO, "%s connection down: keeping its state", c->tran->scheme);
}

void bx__conn_up(bx__conn *c) {
  if (c->state != CN_DOWN || c->link == NULL) return;
  c->state = CN_OPEN;
  bx_log(c->ctx, BX_LOG_INFO, "%s connection up again", c->tran->scheme);
  cn_schedule_flush(c);
}

/* ---- closing ------------------------------------------------------------------------------ */

/* c leaves its link: a solo link closes (and releases c once its handles have closed); a
 * shared link lets it go now. */
static void cn_leave_link(bx__conn *c, int code) {
  bx__link *k = c->link;
  bx__tlink_remove(&c->want);
  if (k == NULL) { /* down: the transport kept it for a link to come */
    if (c->tran->peer_gone) c->tran->peer_gone(NULL, c);
    if (bx__defer(c->ctx, cn_release_task, c, NULL) != 0) cn_release(c);
    return;
  }
  if (k->solo) {
    bx__link_close(k, code);
    return;
  }
  bx__tlink_remove(&c->on_link);
  c->link = NULL;
  if (k->tran->peer_gone) k->tran->peer_gone(k, c);
  if (bx__defer(c->ctx, cn_release_task, c, NULL) != 0) cn_release(c);
}

void bx__conn_close(bx__conn *c, int code) {
  if (c->state >= CN_CLOSING) return;
  c->state = CN_CLOSING;
  c->close_code = code;
  cn_stop_waiting(c);
  cn_wake_waiters(c); /* nothing more will drain here: the peers feeding it go on */
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
  void (*gone)(void *, bx_box *) = c->gone;
  c->gone = NULL;
  if (gone != NULL) gone(c->gone_data, c->box);
  cn_unbind_self(c);
  c->out.len = 0;
  size_t n = bx__registry_fail_owner(bx_ctx_registry(c->ctx), c->box, code);
  n += bx__registry_drop_routes_via(bx_ctx_registry(c->ctx), c->box);
  if (n > 0)
    bx_log(c->ctx, BX_LOG_DEBUG, "%s connection closed: released %zu exports (%s)", c->tran->scheme,
           n, bx_err_name(code));
  c->exports = 0;
  cn_leave_link(c, code);
  bx_box_unref(c->box);
}

void bx__conn_forget_client(bx__conn *c) {
  c->gone = NULL;
  c->up = NULL;
  c->gone_data = NULL;
}

/* ---- a link's peers (link.c) ----------------------------------------------------------------- */

void bx__link_close_peers(bx__link *k, int code) {
  bx__tlink *n = k->peers.next;
  while (n != &k->peers) {
    bx__conn *c = CN_OF(n, on_link);
    if (c->state < CN_CLOSING) {
      bx__conn_close(c, code); /* may change the list: start over */
      n = k->peers.next;
      continue;
    }
    n = n->next;
  }
}

void bx__link_release_peers(bx__link *k) {
  if (k->writer != NULL) { /* a write the link's close cut short */
    k->write_pending = false;
    cn_end_batch(k, k->writer);
  }
  while (k->peers.next != &k->peers) {
    bx__conn *c = CN_OF(k->peers.next, on_link);
    bx__tlink_remove(&c->on_link);
    c->link = NULL;
    cn_release(c); /* closed with the link (bx__link_close), or abandoned while dialling */
  }
}
