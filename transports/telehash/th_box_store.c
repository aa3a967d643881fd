/* The box host's messages in memory (spec/telehash section 6.4): boxes keyed (to, from),
 * duplicates by id, per-box and host-wide capacity with oldest-first eviction, expiry.
 *
 * Design notes
 * - A message is listed in the host's order, its box's and its recipient's (all oldest first,
 *   by store order), and in a binary min-heap by expiry when it has one. Eviction takes the
 *   head of a list, expiry pops the heap while its top is due: nothing scans every message.
 * - Boxes and recipients exist while they hold messages; the recipient's count of boxes is
 *   what a host advertises ("box":[W,C]), so each change of it is reported (on_boxes).
 * - With a persistence layer every insert and remove is mirrored inside the transaction the
 *   host opened for the packet (bx__bs_begin / bx__bs_end); the first error is kept and makes
 *   bx__bs_end roll back.
 */
#include "th_internal.h"

/* ---- the expiry heap ------------------------------------------------------------------------ */

static bool bs_before(const bx__bs_msg *a, const bx__bs_msg *b) {
  return a->expires < b->expires || (a->expires == b->expires && a->seq < b->seq);
}

static void bs_heap_set(bx__bs *s, size_t i, bx__bs_msg *m) {
  s->heap[i] = m;
  m->slot = i + 1;
}

static void bs_heap_up(bx__bs *s, size_t i) {
  bx__bs_msg *m = s->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!bs_before(m, s->heap[p])) break;
    bs_heap_set(s, i, s->heap[p]);
    i = p;
  }
  bs_heap_set(s, i, m);
}

static void bs_heap_down(bx__bs *s, size_t i) {
  bx__bs_msg *m = s->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->heap_n) break;
    if (c + 1 < s->heap_n && bs_before(s->heap[c + 1], s->heap[c])) c++;
    if (!bs_before(s->heap[c], m)) break;
    bs_heap_set(s, i, s->heap[c]);
    i = c;
  }
  bs_heap_set(s, i, m);
}

static int bs_heap_push(bx__bs *s, bx__bs_msg *m) {
  if (s->heap_n == s->heap_cap) {
    size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
    bx__bs_msg **h = realloc(s->heap, cap * sizeof *h);
    if (h == NULL) return BX_ENOMEM;
    s->heap = h;
    s->heap_cap = cap;
  }
  s->heap[s->heap_n++] = m;
  bs_heap_up(s, s->heap_n - 1);
  return 0;
}

static void bs_heap_remove(bx__bs *s, bx__bs_msg *m) {
  if (m->slot == 0) return;
  size_t i = m->slot - 1;
  m->slot = 0;
  bx__bs_msg *last = s->heap[--s->heap_n];
  if (i == s->heap_n) return;
  bs_heap_set(s, i, last);
  bs_heap_up(s, i);
  bs_heap_down(s, last->slot - 1);
}

uint64_t bx__bs_next_expiry(const bx__bs *s) {
  return s->heap_n ? s->heap[0]->expires : 0;
}

/* ---- making and freeing --------------------------------------------------------------------- */

int bx__bs_init(bx__bs *s, uint32_t cap, uint32_t total) {
  memset(s, 0, sizeof *s);
  bx__tlink_init(&s->all);
  s->cap = cap;
  s->total = total;
  s->boxes = bx__map_new();
  s->rcpts = bx__map_new();
  s->ids = bx__map_new();
  s->keys = bx__map_new();
  if (s->boxes == NULL || s->rcpts == NULL || s->ids == NULL || s->keys == NULL) {
    bx__bs_free(s);
    return BX_ENOMEM;
  }
  return 0;
}

static void bs_drop_all(bx__bs *s) {
  while (bx__tlink_listed(&s->all)) {
    bx__bs_msg *m = (bx__bs_msg *)s->all.next;
    bx__tlink_remove(&m->all);
    free(m);
  }
  size_t pos = 0;
  const char *k;
  void *v;
  if (s->boxes != NULL)
    while (bx__map_next(s->boxes, &pos, &k, &v))
      free(v);
  pos = 0;
  if (s->rcpts != NULL)
    while (bx__map_next(s->rcpts, &pos, &k, &v))
      free(v);
  pos = 0;
  if (s->keys != NULL)
    while (bx__map_next(s->keys, &pos, &k, &v))
      free(v);
}

void bx__bs_free(bx__bs *s) {
  bs_drop_all(s);
  if (s->persist != NULL && s->persist->close != NULL) s->persist->close(s->pdata);
  bx__map_free(s->boxes);
  bx__map_free(s->rcpts);
  bx__map_free(s->ids);
  bx__map_free(s->keys);
  free(s->heap);
  memset(s, 0, sizeof *s);
}

int bx__bs_reload(bx__bs *s) {
  if (s->persist == NULL) return 0;
  bs_drop_all(s);
  bx__map_free(s->boxes);
  bx__map_free(s->rcpts);
  bx__map_free(s->ids);
  bx__map_free(s->keys);
  s->n = s->heap_n = 0;
  s->boxes = bx__map_new();
  s->rcpts = bx__map_new();
  s->ids = bx__map_new();
  s->keys = bx__map_new();
  if (s->boxes == NULL || s->rcpts == NULL || s->ids == NULL || s->keys == NULL) return BX_ENOMEM;
  const bx__bs_persist *p = s->persist;
  s->persist = NULL; /* loading mirrors nothing */
  int rc = p->load(s->pdata, s);
  s->persist = p;
  return rc;
}

/* ---- lookups -------------------------------------------------------------------------------- */

static void bs_box_key(const char *to, const char *from, char out[2 * BX_TH_HASHNAME_LEN + 2]) {
  snprintf(out, 2 * BX_TH_HASHNAME_LEN + 2, "%s/%s", to, from);
}

static void bs_id_key(const bx__bs_box *b, const char *id, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", b->key, id);
}

bx__bs_box *bx__bs_box_get(const bx__bs *s, const char *to, const char *from) {
  char key[2 * BX_TH_HASHNAME_LEN + 2];
  bs_box_key(to, from, key);
  return bx__map_get(s->boxes, key);
}

bx__bs_rcpt *bx__bs_rcpt_get(const bx__bs *s, const char *to) {
  return bx__map_get(s->rcpts, to);
}

const uint8_t *bx__bs_key_get(const bx__bs *s, const char *hashname) {
  return bx__map_get(s->keys, hashname);
}

int bx__bs_key_put(bx__bs *s, const char *hashname, const uint8_t key[BX__TH_KEY]) {
  const uint8_t *old = bx__map_get(s->keys, hashname);
  if (old != NULL && memcmp(old, key, BX__TH_KEY) == 0) return 0;
  uint8_t *copy = malloc(BX__TH_KEY);
  if (copy == NULL) return BX_ENOMEM;
  memcpy(copy, key, BX__TH_KEY);
  void *prev = NULL;
  if (bx__map_put(s->keys, hashname, copy, &prev) != 0) {
    free(copy);
    return BX_ENOMEM;
  }
  free(prev);
  if (s->persist != NULL && s->persist->key != NULL) {
    int rc = s->persist->key(s->pdata, hashname, key);
    if (rc != 0 && s->persist_rc == 0) s->persist_rc = rc;
  }
  return 0;
}

/* The box to/from, made (with its recipient) when missing. NULL on allocation failure. */
static bx__bs_box *bs_box_make(bx__bs *s, const char *to, const char *from) {
  bx__bs_box *b = bx__bs_box_get(s, to, from);
  if (b != NULL) return b;
  bx__bs_rcpt *r = bx__bs_rcpt_get(s, to);
  bool new_rcpt = r == NULL;
  if (new_rcpt) {
    r = bx__zalloc(sizeof *r);
    if (r == NULL) return NULL;
    snprintf(r->to, sizeof r->to, "%s", to);
    bx__tlink_init(&r->msgs);
    if (bx__map_put(s->rcpts, r->to, r, NULL) != 0) {
      free(r);
      return NULL;
    }
  }
  b = bx__zalloc(sizeof *b);
  if (b == NULL || (bs_box_key(to, from, b->key), bx__map_put(s->boxes, b->key, b, NULL)) != 0) {
    free(b);
    if (new_rcpt) free(bx__map_del(s->rcpts, to));
    return NULL;
  }
  snprintf(b->to, sizeof b->to, "%s", to);
  snprintf(b->from, sizeof b->from, "%s", from);
  bx__tlink_init(&b->msgs);
  b->rcpt = r;
  r->boxes++;
  if (s->on_boxes != NULL) s->on_boxes(to, r->boxes, s->data);
  return b;
}

/* Drops an empty box (and its recipient when it has no other). */
static void bs_box_gone(bx__bs *s, bx__bs_box *b) {
  bx__bs_rcpt *r = b->rcpt;
  bx__map_del(s->boxes, b->key);
  r->boxes--;
  char to[BX_TH_HASHNAME_LEN + 1];
  snprintf(to, sizeof to, "%s", r->to);
  size_t left = r->boxes;
  if (left == 0) free(bx__map_del(s->rcpts, r->to));
  free(b);
  if (s->on_boxes != NULL) s->on_boxes(to, left, s->data);
}

/* ---- changes -------------------------------------------------------------------------------- */

static void bs_persist_rc(bx__bs *s, int rc) {
  if (rc != 0 && s->persist_rc == 0) s->persist_rc = rc;
}

void bx__bs_del(bx__bs *s, bx__bs_msg *m, bx__bs_why why) {
  bx__bs_box *b = m->box;
  if (s->persist != NULL) bs_persist_rc(s, s->persist->remove(s->pdata, m));
  char idk[2 * BX_TH_HASHNAME_LEN + BX_TH_BOX_ID_LEN + 4];
  bs_id_key(b, m->id, idk, sizeof idk);
  bx__map_del(s->ids, idk);
  bx__tlink_remove(&m->all);
  bx__tlink_remove(&m->in_box);
  bx__tlink_remove(&m->in_to);
  bs_heap_remove(s, m);
  s->n--;
  b->n--;
  if (why == BX__BS_EVICTED) s->evicted++;
  if (why == BX__BS_EXPIRED) s->expired++;
  if (why == BX__BS_REMOVED) s->removed++;
  free(m);
  if (b->n == 0) bs_box_gone(s, b);
}

static int bs_insert(bx__bs *s, bx__bs_box *b, const char *id, const uint8_t *data, size_t len,
                     uint64_t expires, uint64_t seq) {
  bx__bs_msg *m = bx__zalloc(sizeof *m + len);
  if (m == NULL) return BX_ENOMEM;
  snprintf(m->id, sizeof m->id, "%s", id);
  m->len = len;
  memcpy(m->data, data, len);
  m->box = b;
  m->seq = seq;
  m->expires = expires;
  char idk[2 * BX_TH_HASHNAME_LEN + BX_TH_BOX_ID_LEN + 4];
  bs_id_key(b, id, idk, sizeof idk);
  if (bx__map_put(s->ids, idk, m, NULL) != 0 || (expires != 0 && bs_heap_push(s, m) != 0)) {
    bx__map_del(s->ids, idk);
    free(m);
    return BX_ENOMEM;
  }
  bx__tlink_append(&s->all, &m->all);
  bx__tlink_append(&b->msgs, &m->in_box);
  bx__tlink_append(&b->rcpt->msgs, &m->in_to);
  b->n++;
  s->n++;
  if (seq >= s->seq) s->seq = seq + 1;
  return 0;
}

int bx__bs_put(bx__bs *s, const char *to, const char *from, const char *id, const uint8_t *data,
               size_t len, uint64_t expires) {
  bx__bs_box *b = bx__bs_box_get(s, to, from);
  if (b != NULL) {
    char idk[2 * BX_TH_HASHNAME_LEN + BX_TH_BOX_ID_LEN + 4];
    bs_id_key(b, id, idk, sizeof idk);
    if (bx__map_get(s->ids, idk) != NULL) {
      s->duplicate++;
      return 1;
    }
  }
  /* room first: the box's oldest, then the host's oldest */
  while ((b = bx__bs_box_get(s, to, from)) != NULL && b->n >= s->cap)
    bx__bs_del(s, BX__BS_IN_BOX(b->msgs.next), BX__BS_EVICTED); /* may free b */
  while (s->n >= s->total && bx__tlink_listed(&s->all))
    bx__bs_del(s, (bx__bs_msg *)s->all.next, BX__BS_EVICTED);
  b = bs_box_make(s, to, from);
  if (b == NULL) return BX_ENOMEM;
  int rc = bs_insert(s, b, id, data, len, expires, s->seq);
  if (rc != 0) {
    if (b->n == 0) bs_box_gone(s, b);
    return rc;
  }
  s->accepted++;
  if (s->persist != NULL) bs_persist_rc(s, s->persist->insert(s->pdata, (bx__bs_msg *)s->all.prev));
  return 0;
}

int bx__bs_load(bx__bs *s, const char *to, const char *from, const char *id, const uint8_t *data,
                size_t len, uint64_t expires, uint64_t seq) {
  bx__bs_box *b = bs_box_make(s, to, from);
  if (b == NULL) return BX_ENOMEM;
  int rc = bs_insert(s, b, id, data, len, expires, seq);
  if (rc != 0 && b->n == 0) bs_box_gone(s, b);
  return rc;
}

bool bx__bs_remove(bx__bs *s, const char *to, const char *from, const char *id) {
  bx__bs_box *b = bx__bs_box_get(s, to, from);
  if (b == NULL) return false;
  char idk[2 * BX_TH_HASHNAME_LEN + BX_TH_BOX_ID_LEN + 4];
  bs_id_key(b, id, idk, sizeof idk);
  bx__bs_msg *m = bx__map_get(s->ids, idk);
  if (m == NULL) return false;
  bx__bs_del(s, m, BX__BS_REMOVED);
  return true;
}

size_t bx__bs_clear(bx__bs *s, const char *to, const char *from) {
  size_t n = 0;
  if (from != NULL) {
    bx__bs_box *b = bx__bs_box_get(s, to, from);
    size_t left = b ? b->n : 0;
    for (; left > 0; left--, n++)
      bx__bs_del(s, BX__BS_IN_BOX(b->msgs.next), BX__BS_REMOVED);
    return n;
  }
  bx__bs_rcpt *r;
  while ((r = bx__bs_rcpt_get(s, to)) != NULL) {
    bx__bs_del(s, BX__BS_IN_TO(r->msgs.next), BX__BS_REMOVED);
    n++;
  }
  return n;
}

size_t bx__bs_expire(bx__bs *s, uint64_t now) {
  size_t n = 0;
  while (s->heap_n > 0 && s->heap[0]->expires <= now) {
    bx__bs_del(s, s->heap[0], BX__BS_EXPIRED);
    n++;
  }
  return n;
}

int bx__bs_begin(bx__bs *s) {
  s->persist_rc = 0;
  if (s->persist == NULL) return 0;
  return s->persist->begin(s->pdata);
}

int bx__bs_end(bx__bs *s) {
  if (s->persist == NULL) return 0;
  int rc = s->persist_rc;
  if (rc == 0) rc = s->persist->commit(s->pdata);
  if (rc != 0) s->persist->rollback(s->pdata);
  s->persist_rc = 0;
  return rc;
}
