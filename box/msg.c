/* bx_msg: the refcounted message envelope, its box table and error replies. */
#include <stdlib.h>
#include <string.h>

#include "box_internal.h"

int bx_msg_new(cJSON *object, bx_msg **out) {
  if (out == NULL) {
    cJSON_Delete(object);
    return BX_EINVAL;
  }
  bx_msg *m = bx__zalloc(sizeof *m);
  *out = m;
  if (m == NULL) {
    cJSON_Delete(object);
    return BX_ENOMEM;
  }
  m->refs = 1;
  m->object = object;
  return 0;
}

bx_msg *bx_msg_ref(bx_msg *msg) {
  if (msg) msg->refs++;
  return msg;
}

/* ---- lazy payloads ------------------------------------------------------------------------ */

_Static_assert(sizeof(bx_msg) % _Alignof(bx__lazy) == 0, "the parts follow the message aligned");

bx_msg *bx__msg_new_lazy_n(const char *cls, const char *name, size_t name_len, const char *key) {
  /* One block: the message, then its parts (freed with it; a tree message has none). */
  bx_msg *m = bx__zalloc(sizeof *m + sizeof(bx__lazy));
  if (m == NULL) return NULL;
  bx__lazy *lz = (bx__lazy *)(void *)(m + 1);
  m->refs = 1;
  m->lazy = lz;
  lz->cls = cls;
  lz->key = key;
  if (name != NULL &&
      (lz->name = bx__copy_text(lz->name_buf, sizeof lz->name_buf, name, name_len)) == NULL) {
    bx__free(m);
    return NULL;
  }
  return m;
}

bx_msg *bx__msg_new_lazy(const char *cls, const char *name, const char *key) {
  return bx__msg_new_lazy_n(cls, name, name ? strlen(name) : 0, key);
}

void bx__msg_lazy_body(bx_msg *msg, cJSON *body) {
  if (msg->lazy == NULL) {
    cJSON_Delete(body);
    return;
  }
  cJSON_Delete(msg->lazy->body);
  msg->lazy->body = body;
}

bool bx__msg_lazy_wrap(bx_msg *msg, bx_box *sub) {
  bx__lazy *lz = msg->lazy;
  if (lz == NULL || msg->refs != 1 || lz->nsubs == BX__LAZY_SUBS) return false;
  lz->subs[lz->nsubs++] = (bx__lazy_layer){.box = bx_box_ref(sub)};
  return true;
}

int bx__msg_lazy_layer(bx_msg *msg, const char *name, size_t n) {
  bx__lazy *lz = msg->lazy;
  if (lz == NULL || lz->nsubs == BX__LAZY_SUBS) return BX_EINVAL;
  bx__lazy_layer *l = &lz->subs[lz->nsubs];
  l->box = NULL;
  if ((l->name = bx__copy_text(l->buf, sizeof l->buf, name, n)) == NULL) return BX_ENOMEM;
  lz->nsubs++;
  return 0;
}

static void mg_layer_clear(bx__lazy_layer *l) {
  bx_box_unref(l->box);
  if (l->name != l->buf) bx__free(l->name);
  l->box = NULL;
  l->name = NULL;
}

/* Releases the parts (the body too unless it has been moved into a tree). */
static void mg_lazy_clear(bx_msg *m) {
  bx__lazy *lz = m->lazy;
  m->lazy = NULL;
  cJSON_Delete(lz->body);
  for (unsigned i = 0; i < lz->nsubs; i++)
    mg_layer_clear(&lz->subs[i]);
  if (lz->name != lz->name_buf) bx__free(lz->name);
  /* lz lives in m's block */
}

/* The tree the parts stand for, built bottom up; the body moves in last, so a failure leaves
 * the parts as they were. NULL on allocation failure. */
static cJSON *mg_lazy_tree(bx__lazy *lz) {
  cJSON *rpc = bx__json_object_const(lz->cls), *top = rpc;
  if (rpc != NULL && lz->name != NULL && !bx__json_add(rpc, "name", cJSON_CreateString(lz->name))) {
    cJSON_Delete(rpc);
    return NULL;
  }
  for (unsigned i = 0; top != NULL && i < lz->nsubs; i++)
    top = bx__wire_sub_message(bx__lazy_layer_name(lz, i), top);
  if (top != NULL && lz->body != NULL) {
    bx__json_add(rpc, lz->key, lz->body); /* cannot fail: both are non-NULL */
    lz->body = NULL;
  }
  return top;
}

int bx__msg_settle(const bx_msg *msg) {
  bx_msg *m = (bx_msg *)msg; /* the payload it stands for does not change */
  if (m == NULL || m->lazy == NULL) return 0;
  cJSON *tree = mg_lazy_tree(m->lazy);
  if (tree == NULL) return BX_ENOMEM;
  mg_lazy_clear(m);
  m->object = tree;
  return 0;
}

/* ---- reading the payload ------------------------------------------------------------------ */

/* A lazy payload read from its parts: an RPC object with no layer around it. */
static const bx__lazy *mg_lazy_rpc(const bx_msg *msg) {
  return msg->lazy != NULL && msg->lazy->nsubs == 0 ? msg->lazy : NULL;
}

const cJSON *bx__msg_member(const bx_msg *msg, const char *key) {
  const bx__lazy *lz = mg_lazy_rpc(msg);
  if (lz != NULL) return lz->key != NULL && strcmp(key, lz->key) == 0 ? lz->body : NULL;
  return cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), key);
}

const char *bx__msg_name(const bx_msg *msg) {
  const bx__lazy *lz = msg->lazy;
  if (lz != NULL) return lz->nsubs ? bx__lazy_layer_name(lz, lz->nsubs - 1) : lz->name;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(msg->object, "name");
  return bx__json_is(name, cJSON_String) ? name->valuestring : NULL;
}

int bx__msg_unwrap(bx_msg *msg) {
  bx__lazy *lz = msg->lazy;
  if (lz != NULL && lz->nsubs > 0) {
    mg_layer_clear(&lz->subs[--lz->nsubs]);
    return 0;
  }
  if (!bx_msg_is(msg, BX_CLASS_SUB_BOX_MESSAGE)) return BX_EBADMSG;
  cJSON *inner = cJSON_DetachItemFromObjectCaseSensitive(msg->object, "object");
  bx_msg_set_object(msg, inner);
  return 0;
}

/* ---- the envelope ------------------------------------------------------------------------- */

static void mg_free(bx_msg *m) {
  if (m->lazy) mg_lazy_clear(m);
  cJSON_Delete(m->object);
  cJSON_Delete(m->attrs);
  bx_box_unref(m->reply_box);
  bx_box_unref(m->origin);
  for (size_t i = 0; i < m->nboxes; i++)
    bx_box_unref(m->boxes[i]);
  bx__free(m->boxes);
  bx__free(m);
}

void bx_msg_unref(bx_msg *msg) {
  if (msg && --msg->refs == 0) mg_free(msg);
}

unsigned bx_msg_refcount(const bx_msg *msg) {
  return msg ? msg->refs : 0;
}

static int mg_dup_json(const cJSON *src, cJSON **dst) {
  *dst = NULL;
  if (src == NULL) return 0;
  *dst = cJSON_Duplicate(src, true);
  return *dst ? 0 : BX_ENOMEM;
}

int bx_msg_copy(const bx_msg *msg, bx_msg **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (msg == NULL) return BX_EINVAL;
  if (bx__msg_settle(msg) != 0) return BX_ENOMEM;
  cJSON *object, *attrs;
  if (mg_dup_json(msg->object, &object)) return BX_ENOMEM;
  if (mg_dup_json(msg->attrs, &attrs)) {
    cJSON_Delete(object);
    return BX_ENOMEM;
  }
  bx_msg *c = NULL;
  if (bx_msg_new(object, &c) != 0) {
    cJSON_Delete(attrs);
    return BX_ENOMEM;
  }
  c->attrs = attrs;
  if (msg->nboxes) {
    c->boxes = bx__malloc(msg->nboxes * sizeof *c->boxes);
    if (c->boxes == NULL) {
      mg_free(c);
      return BX_ENOMEM;
    }
    for (size_t i = 0; i < msg->nboxes; i++)
      c->boxes[i] = bx_box_ref(msg->boxes[i]);
    c->nboxes = c->boxes_cap = msg->nboxes;
  }
  c->reply_box = bx_box_ref(msg->reply_box);
  c->origin = bx_box_ref(msg->origin);
  c->due = msg->due;
  *out = c;
  return 0;
}

bx_msg *bx_msg_writable(bx_msg *msg) {
  if (msg == NULL || msg->refs == 1) return msg;
  bx_msg *c;
  if (bx_msg_copy(msg, &c) != 0) return NULL;
  bx_msg_unref(msg);
  return c;
}

cJSON *bx_msg_object(const bx_msg *msg) {
  if (msg->lazy && bx__msg_settle(msg) != 0) return NULL;
  return msg->object;
}

void bx_msg_set_object(bx_msg *msg, cJSON *object) {
  if (msg->lazy) mg_lazy_clear(msg);
  if (msg->object == object) return;
  cJSON_Delete(msg->object);
  msg->object = object;
}

cJSON *bx_msg_take_object(bx_msg *msg) {
  if (msg->lazy && bx__msg_settle(msg) != 0) return NULL;
  cJSON *o = msg->object;
  msg->object = NULL;
  return o;
}

const char *bx_json_class(const cJSON *obj) {
  if (!bx__json_is(obj, cJSON_Object)) return NULL;
  /* FOAM writes "class" first; look there before searching. */
  const cJSON *c = obj->child;
  if (c == NULL) return NULL;
  if (c->string == NULL || strcmp(c->string, "class") != 0)
    c = cJSON_GetObjectItemCaseSensitive(obj, "class");
  return bx__json_is(c, cJSON_String) ? c->valuestring : NULL;
}

cJSON *bx_json_new_object(const char *cls) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL) return NULL;
  if (cJSON_AddStringToObject(o, "class", cls) == NULL) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *bx__json_object_const(const char *cls) {
  cJSON *o = cJSON_CreateObject(), *c = cJSON_CreateStringReference(cls);
  if (o == NULL || c == NULL || !bx__json_add(o, "class", c)) {
    cJSON_Delete(o);
    cJSON_Delete(c);
    return NULL;
  }
  return o;
}

const char *bx_msg_class(const bx_msg *msg) {
  if (msg != NULL && msg->lazy) return msg->lazy->nsubs ? BX_CLASS_SUB_BOX_MESSAGE : msg->lazy->cls;
  return msg ? bx_json_class(msg->object) : NULL;
}

bool bx_msg_is(const bx_msg *msg, const char *cls) {
  const char *c = bx_msg_class(msg);
  return c != NULL && strcmp(c, cls) == 0;
}

bx_box *bx_msg_reply_box(const bx_msg *msg) {
  return msg->reply_box;
}

void bx_msg_set_reply_box(bx_msg *msg, bx_box *reply_box) {
  bx_box *old = msg->reply_box;
  msg->reply_box = bx_box_ref(reply_box);
  bx_box_unref(old);
}

bx_box *bx_msg_take_reply_box(bx_msg *msg) {
  bx_box *b = msg->reply_box;
  msg->reply_box = NULL;
  return b;
}

cJSON *bx_msg_attrs(const bx_msg *msg) {
  return msg->attrs;
}

int bx_msg_set_attr(bx_msg *msg, const char *key, cJSON *value) {
  if (key == NULL || value == NULL || strcmp(key, "replyBox") == 0) {
    cJSON_Delete(value);
    return BX_EINVAL;
  }
  if (msg->attrs == NULL && (msg->attrs = cJSON_CreateObject()) == NULL) {
    cJSON_Delete(value);
    return BX_ENOMEM;
  }
  /* Remove any old value first: replacing in place would free the old key, which may be the
   * very string the caller passed as `key`. */
  char *k = bx__strdup(key);
  if (k == NULL) {
    cJSON_Delete(value);
    return BX_ENOMEM;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(msg->attrs, k);
  bool ok = cJSON_AddItemToObject(msg->attrs, k, value);
  bx__free(k);
  if (!ok) {
    cJSON_Delete(value);
    return BX_ENOMEM;
  }
  return 0;
}

bx_box *bx_msg_origin(const bx_msg *msg) {
  return msg->origin;
}

void bx_msg_set_origin(bx_msg *msg, bx_box *origin) {
  bx_box *old = msg->origin;
  msg->origin = bx_box_ref(origin);
  bx_box_unref(old);
}

/* ---- the box table ------------------------------------------------------------------------ */

bool bx__json_is_box_ref(const cJSON *node, size_t *index) {
  const char *cls = bx_json_class(node);
  if (cls == NULL || strcmp(cls, BX_CLASS_BOX_REF) != 0) return false;
  const cJSON *ref = cJSON_GetObjectItemCaseSensitive(node, "ref");
  if (!cJSON_IsNumber(ref) || ref->valuedouble < 0 || ref->valuedouble > 1e9) return false;
  if (index) *index = (size_t)ref->valuedouble;
  return true;
}

cJSON *bx_msg_box_ref(bx_msg *msg, bx_box *box) {
  if (box == NULL) return NULL;
  if (msg->nboxes == msg->boxes_cap) {
    size_t cap = msg->boxes_cap ? msg->boxes_cap * 2 : 4;
    bx_box **b = bx__realloc(msg->boxes, cap * sizeof *b);
    if (b == NULL) return NULL;
    msg->boxes = b;
    msg->boxes_cap = cap;
  }
  cJSON *node = bx_json_new_object(BX_CLASS_BOX_REF);
  if (node == NULL || cJSON_AddNumberToObject(node, "ref", (double)msg->nboxes) == NULL) {
    cJSON_Delete(node);
    return NULL;
  }
  msg->boxes[msg->nboxes++] = bx_box_ref(box);
  return node;
}

bx_box *bx_msg_box_at(const bx_msg *msg, const cJSON *node) {
  size_t i;
  if (!bx__json_is_box_ref(node, &i) || i >= msg->nboxes) return NULL;
  return msg->boxes[i];
}

size_t bx_msg_box_count(const bx_msg *msg) {
  return msg->nboxes;
}

/* ---- errors ------------------------------------------------------------------------------- */

int bx_msg_new_error(int code, const char *text, bx_msg **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  cJSON *err = bx__json_object_const(BX_CLASS_RPC_ERROR);
  cJSON *exc = bx__json_object_const(BX_CLASS_REMOTE_EXCEPTION);
  if (err == NULL || exc == NULL || !cJSON_AddStringToObject(exc, "id", bx_err_name(code)) ||
      !cJSON_AddStringToObject(exc, "message", text ? text : bx_strerror(code))) {
    cJSON_Delete(err);
    cJSON_Delete(exc);
    return BX_ENOMEM;
  }
  if (!cJSON_AddItemToObject(err, "data", exc)) { /* out of memory: exc is not attached */
    cJSON_Delete(err);
    cJSON_Delete(exc);
    return BX_ENOMEM;
  }
  return bx_msg_new(err, out);
}

static int mg_exception_code(const cJSON *data, const char **text) {
  if (cJSON_IsString(data)) {
    if (text) *text = data->valuestring;
    return BX_EREMOTE;
  }
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(data, "message");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(data, "id");
  if (text) *text = cJSON_IsString(msg) ? msg->valuestring : "remote error";
  int code = cJSON_IsString(id) ? bx_err_from_name(id->valuestring) : 0;
  return code < 0 ? code : BX_EREMOTE;
}

int bx_msg_error(const bx_msg *msg, const char **text) {
  const char *cls = bx_msg_class(msg);
  if (text) *text = NULL;
  if (cls == NULL) return 0;
  if (strcmp(cls, BX_CLASS_RPC_ERROR) == 0)
    return mg_exception_code(cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "data"), text);
  if (strcmp(cls, BX_CLASS_NO_SUCH_NAME) == 0) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(bx_msg_object(msg), "name");
    if (text) *text = cJSON_IsString(name) ? name->valuestring : "";
    return BX_ENOSERVICE;
  }
  return 0;
}
