/* The registry skeleton: register(name|null, service|null, box), doLookup(name) and
 * unregister(nameOrBox) as bare RPCMessages (spec/foam section 3), for local and broadcast
 * registries alike. Messages from peers (with an origin) may register and unregister only when
 * the context allows it, and may unregister only what the same connection registered.
 *
 * Design notes
 * - One skeleton for every kind of registry: bx__registry_rpc() finds self's kind once
 *   (bx__registry_kind_of) and each method calls its slot; nothing here asks which kind. */
#include <stdio.h>
#include <string.h>

#include "registry_internal.h"

int bx__reply_no_such_name(const bx_msg *msg, const char *name) {
  if (bx_msg_reply_box(msg) == NULL) return BX_ENOREPLY;
  cJSON *o = bx_json_new_object(BX_CLASS_NO_SUCH_NAME);
  if (o == NULL || !cJSON_AddStringToObject(o, "name", name)) {
    cJSON_Delete(o);
    return BX_ENOMEM;
  }
  return bx_reply_json(msg, o);
}

/* Replies RPCReturnMessage, with `box` as data when non-NULL (void otherwise). */
static int rr_reply_return(const bx_msg *msg, bx_box *box) {
  if (bx_msg_reply_box(msg) == NULL) return 0;
  bx_msg *reply = NULL;
  bx_msg_new(bx_json_new_object(BX_CLASS_RPC_RETURN), &reply);
  if (reply == NULL || bx_msg_object(reply) == NULL) {
    bx_msg_unref(reply);
    return BX_ENOMEM;
  }
  if (box != NULL) {
    cJSON *ref = bx_msg_box_ref(reply, box);
    if (ref == NULL) {
      bx_msg_unref(reply);
      return BX_ENOMEM;
    }
    cJSON_AddItemToObject(bx_msg_object(reply), "data", ref);
  }
  return bx_reply(msg, reply);
}

static int rr_reply_error(const bx_msg *msg, int code, const char *text) {
  if (bx_msg_reply_box(msg) == NULL) return 0;
  return bx_reply_error(msg, code, text);
}

static int rr_register(const bx__registry_kind *kind, bx_box *self, const bx_msg *msg,
                       const cJSON *args) {
  const cJSON *name = cJSON_GetArrayItem(args, 0);
  bx_box *service = bx_msg_box_at(msg, cJSON_GetArrayItem(args, 2));
  if (!(cJSON_IsNull(name) || cJSON_IsString(name)) || service == NULL)
    return rr_reply_error(msg, BX_EBADARG, "register(name, service, box): bad arguments");
  const char *n = cJSON_IsString(name) ? name->valuestring : NULL;
  bx_box *out = NULL;
  int rc = kind->add(self, n, service, bx_msg_origin(msg), &out);
  if (rc) return rr_reply_error(msg, rc, rc == BX_EEXIST ? "name already registered" : NULL);
  rc = rr_reply_return(msg, out);
  bx_box_unref(out);
  return rc;
}

static int rr_do_lookup(const bx__registry_kind *kind, bx_box *self, const bx_msg *msg,
                        const cJSON *args) {
  const cJSON *name = cJSON_GetArrayItem(args, 0);
  if (!cJSON_IsString(name))
    return rr_reply_error(msg, BX_EBADARG, "doLookup(name): name must be a string");
  bx_box *found = kind->export_name(self, name->valuestring);
  if (found == NULL) return bx__reply_no_such_name(msg, name->valuestring);
  int rc = rr_reply_return(msg, found);
  bx_box_unref(found);
  return rc;
}

static int rr_unregister(const bx__registry_kind *kind, bx_box *self, const bx_msg *msg,
                         const cJSON *args) {
  const cJSON *arg = cJSON_GetArrayItem(args, 0);
  bx_box *owner = bx_msg_origin(msg);
  bool check = owner != NULL; /* peers may only remove their own names */
  bx_box *box = bx_msg_box_at(msg, arg);
  int rc;
  if (cJSON_IsString(arg))
    rc = kind->remove_name(self, arg->valuestring, owner, check);
  else if (box != NULL)
    rc = kind->remove_box(self, box, owner, check);
  else
    return rr_reply_error(msg, BX_EBADARG, "unregister(nameOrBox): expected a name or a box");
  if (rc == BX_ENOSERVICE) rc = 0; /* unregistering what is not there is not an error (FOAM) */
  return rc ? rr_reply_error(msg, rc, NULL) : rr_reply_return(msg, NULL);
}

int bx__registry_rpc(bx_box *self, bx_msg *msg) {
  const bx__registry_kind *kind = bx__registry_kind_of(self); /* self is a registry */
  bx_ctx *ctx = bx_box_ctx(self);
  const char *cls = bx_msg_class(msg);
  int rc;
  if (cls == NULL || strcmp(cls, BX_CLASS_RPC_MESSAGE) != 0) {
    bx_log(ctx, BX_LOG_WARN, "registry: dropping a message of class %s", cls ? cls : "(none)");
    rc = rr_reply_error(msg, BX_EBADMSG, "the registry accepts SubBoxMessage and RPCMessage");
    bx_msg_unref(msg);
    return rc;
  }
  const cJSON *obj = bx_msg_object(msg);
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(obj, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(obj, "args");
  const char *m = cJSON_IsString(method) ? method->valuestring : "";
  bool remote = bx_msg_origin(msg) != NULL;
  bool mutating = strcmp(m, "register") == 0 || strcmp(m, "unregister") == 0;
  if (remote && mutating && bx_ctx_authorize(ctx, msg, m) != 0) {
    bx_log(ctx, BX_LOG_INFO, "registry: refused remote %s", m);
    rc = rr_reply_error(msg, BX_EPERM,
                        bx_ctx_allows_remote_register(ctx)
                            ? "not authorized to register or unregister here"
                            : "remote registration is not allowed by this context");
  } else if (strcmp(m, "register") == 0) {
    rc = rr_register(kind, self, msg, args);
  } else if (strcmp(m, "doLookup") == 0) {
    rc = rr_do_lookup(kind, self, msg, args);
  } else if (strcmp(m, "unregister") == 0) {
    rc = rr_unregister(kind, self, msg, args);
  } else if (bx__registry_method(self, m) != NULL) {
    return bx_send(bx__registry_method(self, m), msg); /* an extension answers itself */
  } else {
    char text[160];
    snprintf(text, sizeof text, "registry has no method '%.100s'", m);
    rc = rr_reply_error(msg, BX_ENOMETHOD, text);
  }
  bx_msg_unref(msg);
  return rc == BX_ENOREPLY ? 0 : rc;
}
