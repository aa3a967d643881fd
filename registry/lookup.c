/* Lookup boxes (FOAM's LookupBox): resolve a name with doLookup(name) on a parent registry,
 * queue messages in a Promised box meanwhile, then forward to what the lookup returned. A
 * failed lookup fails what was queued and is forgotten, so the next message tries again (the
 * service may have registered since). */
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

typedef struct lk_priv {
  bx_box *parent; /* owned */
  char *name;
  bx_box *promised; /* owned; NULL until the first message or after a failed lookup */
} lk_priv;

typedef struct lk_answer_priv {
  bx_box *lookup;   /* owned until the answer arrives */
  bx_box *promised; /* owned: the promise this answer settles */
} lk_answer_priv;

static lk_priv *lk(bx_box *b) {
  return bx_box_priv(b);
}

static void lk_answer_settle(lk_answer_priv *a, const bx_msg *reply) {
  const char *text = NULL;
  int err = bx_msg_error(reply, &text);
  bx_box *found = NULL;
  if (err == 0) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(bx_msg_object(reply), "data");
    found = bx_msg_box_at(reply, data);
    if (found == NULL) {
      err = BX_EBADMSG;
      text = "doLookup returned no box";
    }
  }
  if (err == 0) {
    bx_promised_resolve(a->promised, found);
    return;
  }
  bx_promised_reject(a->promised, err, text);
  lk_priv *p = lk(a->lookup);
  if (p->promised == a->promised) { /* forget it: the next message looks up again */
    p->promised = NULL;
    bx_box_unref(a->promised);
  }
}

static int lk_answer_send(bx_box *self, bx_msg *reply) {
  lk_answer_priv *a = bx_box_priv(self);
  if (a->lookup == NULL) { /* answered already */
    bx_msg_unref(reply);
    return 0;
  }
  lk_answer_settle(a, reply);
  bx_msg_unref(reply);
  bx_box *lookup = a->lookup, *promised = a->promised;
  a->lookup = a->promised = NULL;
  bx_box_unref(promised);
  bx_box_unref(lookup);
  return 0;
}

static void lk_answer_destroy(bx_box *self) {
  lk_answer_priv *a = bx_box_priv(self);
  if (a->promised != NULL) /* dropped unanswered (e.g. a connection closed) */
    bx_promised_reject(a->promised, BX_ENOREPLY, "lookup was never answered");
  bx_box_unref(a->promised);
  bx_box_unref(a->lookup);
}

static const bx_box_ops lk_answer_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "lookup-answer",
    .send = lk_answer_send,
    .destroy = lk_answer_destroy,
};

/* Sends doLookup(name) to the parent with an answer box that settles p->promised. */
static int lk_start(bx_box *self) {
  lk_priv *p = lk(self);
  bx_ctx *ctx = bx_box_ctx(self);
  bx_box *answer = NULL;
  bx_box_new(ctx, &lk_answer_ops, sizeof(lk_answer_priv), &answer);
  cJSON *rpc = bx_json_new_object(BX_CLASS_RPC_MESSAGE);
  cJSON *args = cJSON_CreateArray();
  bx_msg *m = NULL;
  if (answer == NULL || rpc == NULL || args == NULL ||
      !cJSON_AddStringToObject(rpc, "name", "doLookup") ||
      !cJSON_AddItemToArray(args, cJSON_CreateString(p->name))) {
    cJSON_Delete(rpc);
    cJSON_Delete(args);
    bx_box_unref(answer);
    return BX_ENOMEM;
  }
  cJSON_AddItemToObject(rpc, "args", args);
  if (bx_msg_new(rpc, &m) != 0) {
    bx_box_unref(answer);
    return BX_ENOMEM;
  }
  lk_answer_priv *a = bx_box_priv(answer);
  a->lookup = bx_box_ref(self);
  a->promised = bx_box_ref(p->promised);
  bx_msg_set_reply_box(m, answer);
  bx_box_unref(answer);
  int rc = bx_send(p->parent, m);
  return rc;
}

static int lk_send(bx_box *self, bx_msg *msg) {
  lk_priv *p = lk(self);
  if (p->promised != NULL) return bx_send(p->promised, msg);
  bx_box *promised = NULL;
  bx_promised_box_new(bx_box_ctx(self), 0, &promised);
  if (promised == NULL) {
    bx_msg_unref(msg);
    return BX_ENOMEM;
  }
  p->promised = promised;
  bx_box_ref(promised); /* the queue must survive a synchronous failed answer */
  int rc = bx_send(promised, msg);
  int lrc = rc == 0 ? lk_start(self) : 0;
  if (lrc != 0) {
    /* The lookup never left: fail what was queued and forget the promise. */
    bx_promised_reject(promised, lrc, "lookup could not be sent");
    if (p->promised == promised) {
      p->promised = NULL;
      bx_box_unref(promised);
    }
  }
  bx_box_unref(promised);
  return rc;
}

static void lk_destroy(bx_box *self) {
  lk_priv *p = lk(self);
  bx_box_unref(p->parent);
  bx_box_unref(p->promised);
  bx__free(p->name);
}

static const bx_box_ops lk_ops = {
    .version = BX_BOX_OPS_VERSION,
    .type = "lookup",
    .send = lk_send,
    .destroy = lk_destroy,
};

int bx_lookup_box_new(bx_ctx *ctx, bx_box *parent, const char *name, bx_box **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (ctx == NULL || parent == NULL || name == NULL || *name == '\0') return BX_EINVAL;
  bx_box *b = NULL;
  bx_box_new(ctx, &lk_ops, sizeof(lk_priv), &b);
  if (b == NULL) return BX_ENOMEM;
  lk(b)->name = bx__strdup(name);
  if (lk(b)->name == NULL) {
    bx_box_unref(b);
    return BX_ENOMEM;
  }
  lk(b)->parent = bx_box_ref(parent);
  *out = b;
  return 0;
}
