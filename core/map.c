/* A string-keyed open-addressing hash map (linear probing, tombstones, FNV-1a).
 *
 * Used for registries (which may hold 100,000 names), the named-box table and the class
 * whitelist. A map copies its keys, or borrows them (a registry keeps each name inside its
 * entry, saving an allocation per name). Deleting leaves a tombstone so that deleting the current
 * key during iteration is safe; tombstones are reclaimed when the table grows or is rebuilt. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

typedef struct mp_slot {
  char *key; /* NULL: empty; MP_TOMB: deleted */
  void *value;
  uint32_t hash;
} mp_slot;

struct bx__map {
  mp_slot *slots;
  size_t cap;  /* power of two */
  size_t size; /* live keys */
  size_t used; /* live keys + tombstones */
  bool borrow; /* keys belong to the caller */
};

static char mp_tomb_marker;
#define MP_TOMB (&mp_tomb_marker)

static uint32_t mp_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

bx__map *bx__map_new(void) {
  return bx__calloc(1, sizeof(bx__map));
}

bx__map *bx__map_new_borrowing(void) {
  bx__map *m = bx__map_new();
  if (m) m->borrow = true;
  return m;
}

static void mp_free_key(const bx__map *m, char *key) {
  if (!m->borrow) bx__free(key);
}

void bx__map_free(bx__map *m) {
  if (m == NULL) return;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key != NULL && m->slots[i].key != MP_TOMB) mp_free_key(m, m->slots[i].key);
  bx__free(m->slots);
  bx__free(m);
}

/* Index of key's slot, or of the slot where it would be inserted (first tombstone or empty). */
static size_t mp_find(const bx__map *m, const char *key, uint32_t h, bool *found) {
  size_t mask = m->cap - 1, i = h & mask, insert = SIZE_MAX;
  for (;;) {
    mp_slot *s = &m->slots[i];
    if (s->key == NULL) {
      *found = false;
      return insert != SIZE_MAX ? insert : i;
    }
    if (s->key == MP_TOMB) {
      if (insert == SIZE_MAX) insert = i;
    } else if (s->hash == h && strcmp(s->key, key) == 0) {
      *found = true;
      return i;
    }
    i = (i + 1) & mask;
  }
}

static int mp_rehash(bx__map *m, size_t cap) {
  mp_slot *slots = bx__calloc(cap, sizeof *slots);
  if (slots == NULL) return BX_ENOMEM;
  mp_slot *old = m->slots;
  size_t old_cap = m->cap;
  m->slots = slots;
  m->cap = cap;
  m->used = m->size;
  for (size_t i = 0; i < old_cap; i++) {
    if (old[i].key == NULL || old[i].key == MP_TOMB) continue;
    size_t j = old[i].hash & (cap - 1);
    while (slots[j].key != NULL)
      j = (j + 1) & (cap - 1);
    slots[j] = old[i];
  }
  bx__free(old);
  return 0;
}

void *bx__map_get(const bx__map *m, const char *key) {
  if (m == NULL || m->size == 0) return NULL;
  bool found;
  size_t i = mp_find(m, key, mp_hash(key), &found);
  return found ? m->slots[i].value : NULL;
}

int bx__map_put(bx__map *m, const char *key, void *value, void **old) {
  if (old) *old = NULL;
  if ((m->used + 1) * 4 > m->cap * 3) { /* keep the load (with tombstones) under 3/4 */
    size_t cap = m->cap ? m->cap : 8;
    while ((m->size + 1) * 2 > cap)
      cap *= 2;
    int rc = mp_rehash(m, cap);
    if (rc) return rc;
  }
  uint32_t h = mp_hash(key);
  bool found;
  size_t i = mp_find(m, key, h, &found);
  mp_slot *s = &m->slots[i];
  if (found) {
    if (old) *old = s->value;
    s->value = value;
    if (m->borrow) s->key = (char *)key; /* the old key may die with the old value */
    return 0;
  }
  char *copy = m->borrow ? (char *)key : bx__strdup(key);
  if (copy == NULL) return BX_ENOMEM;
  if (s->key == NULL) m->used++;
  s->key = copy;
  s->value = value;
  s->hash = h;
  m->size++;
  return 0;
}

void *bx__map_del(bx__map *m, const char *key) {
  if (m == NULL || m->size == 0) return NULL;
  bool found;
  size_t i = mp_find(m, key, mp_hash(key), &found);
  if (!found) return NULL;
  mp_slot *s = &m->slots[i];
  void *value = s->value;
  mp_free_key(m, s->key);
  s->key = MP_TOMB;
  s->value = NULL;
  m->size--;
  return value;
}

size_t bx__map_size(const bx__map *m) {
  return m ? m->size : 0;
}

bool bx__map_next(const bx__map *m, size_t *pos, const char **key, void **value) {
  if (m == NULL) return false;
  for (size_t i = *pos; i < m->cap; i++) {
    mp_slot *s = &m->slots[i];
    if (s->key == NULL || s->key == MP_TOMB) continue;
    *pos = i + 1;
    if (key) *key = s->key;
    if (value) *value = s->value;
    return true;
  }
  *pos = m->cap;
  return false;
}
