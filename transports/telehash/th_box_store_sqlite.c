/* The box host's durable store: every change of the in-memory store (th_box_store.c) mirrored
 * into an SQLite file, one transaction per packet, so a restarted host loses no message it
 * acknowledged.
 *
 * Design notes
 * - Memory stays the index the host serves from; the file is the truth across restarts. On
 *   open every row is loaded (messages in store order, keys). Rows past their expiry are
 *   deleted first through the index on `expires`, never by reading every row.
 * - Durability: WAL journal with synchronous=FULL, so a COMMIT that returned is on disk before
 *   the host answers {"cap":N}; a host killed at any point leaves the last committed state
 *   (SQLite's own crash safety; the tests kill -9 a host mid-stream).
 * - Failures: a write that fails (disk full, read-only file, I/O) makes the packet's
 *   transaction roll back; the host then reloads memory from the file and answers err "store
 *   failed", so memory and file never disagree and nothing unstored is acknowledged. A file
 *   that cannot be written at open is refused at open with a clear error.
 */
#include "th_internal.h"

#include <sqlite3.h>

typedef struct sq_store {
  sqlite3 *db;
  sqlite3_stmt *ins, *del, *key;
  bool in_tx;
} sq_store;

static const char sq_schema[] =
    "CREATE TABLE IF NOT EXISTS box_msgs("
    " seq INTEGER PRIMARY KEY, dst TEXT NOT NULL, src TEXT NOT NULL, id TEXT NOT NULL,"
    " expires INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE(dst, src, id));"
    "CREATE INDEX IF NOT EXISTS box_msgs_expires ON box_msgs(expires) WHERE expires > 0;"
    "CREATE TABLE IF NOT EXISTS box_keys(hashname TEXT PRIMARY KEY, key BLOB NOT NULL);";

static int sq_err(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return 0;
  case SQLITE_READONLY:
    return UV_EROFS;
  case SQLITE_FULL:
    return UV_ENOSPC;
  case SQLITE_CANTOPEN:
  case SQLITE_PERM:
  case SQLITE_AUTH:
    return UV_EACCES;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return BX_EBADMSG;
  case SQLITE_NOMEM:
    return BX_ENOMEM;
  default:
    return UV_EIO;
  }
}

static int sq_exec(sq_store *q, const char *sql) {
  return sq_err(sqlite3_exec(q->db, sql, NULL, NULL, NULL));
}

static int sq_step(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return sq_err(rc);
}

static int sq_begin(void *p) {
  sq_store *q = p;
  int rc = sq_exec(q, "BEGIN IMMEDIATE");
  q->in_tx = rc == 0;
  return rc;
}

static int sq_commit(void *p) {
  sq_store *q = p;
  if (!q->in_tx) return UV_EIO;
  int rc = sq_exec(q, "COMMIT");
  if (rc == 0) q->in_tx = false;
  return rc;
}

static void sq_rollback(void *p) {
  sq_store *q = p;
  if (sqlite3_get_autocommit(q->db) == 0) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
  q->in_tx = false;
}

static int sq_insert(void *p, const bx__bs_msg *m) {
  sq_store *q = p;
  sqlite3_bind_int64(q->ins, 1, (sqlite3_int64)m->seq);
  sqlite3_bind_text(q->ins, 2, m->box->to, -1, SQLITE_STATIC);
  sqlite3_bind_text(q->ins, 3, m->box->from, -1, SQLITE_STATIC);
  sqlite3_bind_text(q->ins, 4, m->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(q->ins, 5, (sqlite3_int64)m->expires);
  sqlite3_bind_blob(q->ins, 6, m->data, (int)m->len, SQLITE_STATIC);
  return sq_step(q->ins);
}

static int sq_remove(void *p, const bx__bs_msg *m) {
  sq_store *q = p;
  sqlite3_bind_int64(q->del, 1, (sqlite3_int64)m->seq);
  return sq_step(q->del);
}

static int sq_key(void *p, const char *hn, const uint8_t key[BX__TH_KEY]) {
  sq_store *q = p;
  /* outside a packet's transaction the statement commits by itself */
  sqlite3_bind_text(q->key, 1, hn, -1, SQLITE_STATIC);
  sqlite3_bind_blob(q->key, 2, key, BX__TH_KEY, SQLITE_STATIC);
  return sq_step(q->key);
}

static int sq_load(void *p, bx__bs *s) {
  sq_store *q = p;
  sqlite3_stmt *st = NULL;
  int rc = sq_err(sqlite3_prepare_v2(
      q->db, "SELECT seq, dst, src, id, expires, data FROM box_msgs ORDER BY seq", -1, &st, NULL));
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *dst = (const char *)sqlite3_column_text(st, 1);
    const char *src = (const char *)sqlite3_column_text(st, 2);
    const char *id = (const char *)sqlite3_column_text(st, 3);
    const void *data = sqlite3_column_blob(st, 5);
    int len = sqlite3_column_bytes(st, 5);
    if (dst == NULL || src == NULL || id == NULL || !bx__th_hashname_valid(dst) ||
        !bx__th_hashname_valid(src) || strlen(id) != BX_TH_BOX_ID_LEN || len <= 0 ||
        len > BX_TH_BOX_MAX_MSG) {
      rc = BX_EBADMSG;
      break;
    }
    rc = bx__bs_load(s, dst, src, id, data, (size_t)len, (uint64_t)sqlite3_column_int64(st, 4),
                     (uint64_t)sqlite3_column_int64(st, 0));
  }
  if (rc == 0 && step != SQLITE_DONE) rc = sq_err(step);
  sqlite3_finalize(st);
  st = NULL;
  if (rc == 0)
    rc = sq_err(sqlite3_prepare_v2(q->db, "SELECT hashname, key FROM box_keys", -1, &st, NULL));
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *hn = (const char *)sqlite3_column_text(st, 0);
    if (hn != NULL && bx__th_hashname_valid(hn) && sqlite3_column_bytes(st, 1) == BX__TH_KEY)
      rc = bx__bs_key_put(s, hn, sqlite3_column_blob(st, 1));
  }
  if (rc == 0 && step != SQLITE_DONE) rc = sq_err(step);
  sqlite3_finalize(st);
  return rc;
}

static void sq_close(void *p) {
  sq_store *q = p;
  if (q == NULL) return;
  sqlite3_finalize(q->ins);
  sqlite3_finalize(q->del);
  sqlite3_finalize(q->key);
  sqlite3_close(q->db);
  free(q);
}

static const bx__bs_persist sq_ops = {
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .insert = sq_insert,
    .remove = sq_remove,
    .key = sq_key,
    .load = sq_load,
    .close = sq_close,
};

static int sq_prepare(sq_store *q) {
  int rc = sq_err(sqlite3_prepare_v2(q->db,
                                     "INSERT INTO box_msgs(seq, dst, src, id, expires, data) "
                                     "VALUES(?, ?, ?, ?, ?, ?)",
                                     -1, &q->ins, NULL));
  if (rc == 0)
    rc = sq_err(sqlite3_prepare_v2(q->db, "DELETE FROM box_msgs WHERE seq = ?", -1, &q->del, NULL));
  if (rc == 0)
    rc = sq_err(sqlite3_prepare_v2(
        q->db, "INSERT OR REPLACE INTO box_keys(hashname, key) VALUES(?, ?)", -1, &q->key, NULL));
  return rc;
}

int bx__bs_sqlite_open(bx__bs *s, const char *path, const char **errmsg) {
  if (errmsg != NULL) *errmsg = "";
  if (s == NULL || path == NULL || path[0] == '\0') return BX_EINVAL;
  sq_store *q = bx__zalloc(sizeof *q);
  if (q == NULL) return BX_ENOMEM;
  int rc = sq_err(sqlite3_open_v2(
      path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL));
  if (rc == 0 && sqlite3_db_readonly(q->db, "main") == 1) rc = UV_EROFS;
  if (rc == 0) sqlite3_busy_timeout(q->db, 2000);
  if (rc == 0) rc = sq_exec(q, "PRAGMA journal_mode=WAL");
  if (rc == 0) rc = sq_exec(q, "PRAGMA synchronous=FULL");
  if (rc == 0) rc = sq_exec(q, sq_schema);
  if (rc == 0) rc = sq_exec(q, "PRAGMA quick_check");
  if (rc == 0) rc = sq_prepare(q);
  if (rc == 0) {
    s->persist = NULL;
    rc = sq_load(q, s);
  }
  if (rc != 0) {
    if (errmsg != NULL)
      *errmsg = rc == UV_EROFS     ? "the store file is read-only"
                : rc == UV_ENOSPC  ? "the disk is full"
                : rc == BX_EBADMSG ? "the file is not a box store (or is corrupt)"
                : rc == BX_ENOMEM  ? "out of memory"
                                   : "the store cannot be opened or written";
    sqlite3_finalize(q->ins);
    sqlite3_finalize(q->del);
    sqlite3_finalize(q->key);
    sqlite3_close(q->db);
    free(q);
    return rc;
  }
  s->persist = &sq_ops;
  s->pdata = q;
  return 0;
}

void *bx__bs_sqlite_db(bx__bs *s) {
  if (s == NULL || s->persist != &sq_ops) return NULL;
  return ((sq_store *)s->pdata)->db;
}

const char *bx__bs_sqlite_errmsg(bx__bs *s) {
  sqlite3 *db = bx__bs_sqlite_db(s);
  return db ? sqlite3_errmsg(db) : "";
}
