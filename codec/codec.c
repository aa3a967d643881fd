/* The FOAM JSON codec: frame bytes <-> bx_msg (spec/foam sections 1-2).
 *
 * Design notes
 * - Decoding runs in stages, each cheap enough to run on every frame: the size cap; a linear
 *   pre-scan of the raw bytes (strict UTF-8, nesting depth, exact integers; json_scan.c);
 *   cJSON's parse; a read-only check of the whole tree (every "class" on the whitelist, every
 *   known class in the right shape); and only then the building of the message, so a frame
 *   that is refused has created nothing but garbage to free.
 * - Calls and returns in the shapes bx itself and FOAM's WebSocket client send take a shorter
 *   road: the envelope reader (envelope.c) matches their fixed keys and classes in place, and
 *   only the arguments or data go through the stages above; the message keeps the rest as a
 *   lazy payload (class, method name, SubBoxMessage layers). Whatever the reader does not
 *   recognise, or any stage refuses, is decoded the general way, so both roads accept the same
 *   frames, make the same messages, and report the same errors (fuzz_decode compares them).
 * - Wire box references become live boxes: attributes.replyBox becomes the reply box, and each
 *   reference inside the payload is replaced, in place, by a placeholder into the message's box
 *   table. A ReturnBox always means "back over the connection this frame came in on" (origin).
 * - Encoding writes each live box in its portable form (bx_export_wire) or, for a box without
 *   one, exports it through the export hook the registry layer installed (bx__codec_hooks) and
 *   writes SubBox{name, ReturnBox}. If the frame then fails (too large, out of memory) the
 *   encoder takes those exports back through the same hooks, so a failed encode leaves no
 *   stray export behind; a successful one reports how many it made.
 * - NamedBox paths in a frame become live boxes through the registry layer's hook too.
 * - A frame that fails to decode may still say whom it was addressed to (the name of its
 *   top-level SubBoxMessage, bx_codec_error.addressee), so a transport can fail the call that
 *   waits for that reply instead of leaving it to its deadline.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "codec_internal.h"
#include "json_parse.h"
#include "json_scan.h"
#include "json_write.h"

/* ---- errors ------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int cd_fail(bx_codec_error *err, int code,
                                                         const char *fmt, ...) {
  if (err == NULL) return code;
  va_list ap;
  va_start(ap, fmt);
  err->code = code;
  vsnprintf(err->text, sizeof err->text, fmt, ap);
  va_end(ap);
  return code;
}

/* A peer-supplied string made fit for a one-line error text: control characters become '?',
 * and long strings are cut at a character boundary and marked with "...". */
typedef struct cd_shown {
  char s[56];
} cd_shown;

static cd_shown cd_show(const char *src) {
  cd_shown out;
  const size_t room = sizeof out.s - 4; /* keep space for "..." and the terminator */
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0;
  for (; s[o] != '\0' && o < room; o++)
    out.s[o] = s[o] < 0x20 ? '?' : (char)s[o];
  if (s[o] != '\0') {
    while (o > 0 && (s[o] & 0xC0) == 0x80)
      o--; /* do not cut a character in two */
    memcpy(out.s + o, "...", 3);
    o += 3;
  }
  out.s[o] = '\0';
  return out;
}

/* ---- decoding: the tree check ------------------------------------------------------------- */

typedef struct cd_dec {
  bx_ctx *ctx;
  bx_box *origin;
  bx_msg *msg;
  bx_codec_error *err;
  size_t refs;         /* wire box references met by the check */
  size_t payload_refs; /* those under the top level's "object" members */
} cd_dec;

enum cd_type { CD_ANY, CD_STRING, CD_OBJECT, CD_ARRAY, CD_NUMBER, CD_BOX, CD_TIME };

typedef struct cd_field {
  const char *key;
  enum cd_type type;
  bool required; /* optional fields may also be null */
} cd_field;

typedef struct cd_shape {
  const char *cls;
  size_t len;   /* strlen(cls): most classes are told apart by length alone */
  bool box_ref; /* a wire box reference */
  cd_field fields[2];
} cd_shape;

#define CD_CLASS(c) c, sizeof c - 1

/* The built-in classes (always allowed, bx_ctx_allow_class) and what a receiver relies on in
 * each; unknown properties are ignored. */
static const cd_shape cd_shapes[] = {
    {CD_CLASS(BX_CLASS_MESSAGE),
     false,
     {{"attributes", CD_OBJECT, false}, {"object", CD_ANY, true}}},
    {CD_CLASS(BX_CLASS_SUB_BOX_MESSAGE),
     false,
     {{"name", CD_STRING, true}, {"object", CD_ANY, true}}},
    {CD_CLASS(BX_CLASS_RPC_MESSAGE), false, {{"name", CD_STRING, true}, {"args", CD_ARRAY, false}}},
    {CD_CLASS(BX_CLASS_RPC_RETURN), false, {{0}}},
    {CD_CLASS(BX_CLASS_RPC_ERROR), false, {{0}}},
    {CD_CLASS(BX_CLASS_HELLO), false, {{0}}},
    {CD_CLASS(BX_CLASS_NO_SUCH_NAME), false, {{"name", CD_STRING, true}}},
    {CD_CLASS(BX_CLASS_REGISTER_SELF), false, {{"name", CD_STRING, true}}},
    {CD_CLASS(BX_CLASS_SUB_BOX), true, {{"name", CD_STRING, true}, {"delegate", CD_BOX, true}}},
    {CD_CLASS(BX_CLASS_NAMED_BOX), true, {{"name", CD_STRING, true}}},
    {CD_CLASS(BX_CLASS_RETURN_BOX), true, {{0}}},
    {CD_CLASS(BX_CLASS_TIMESTAMP), false, {{"value", CD_TIME, true}}},
    {CD_CLASS(BX_CLASS_REMOTE_EXCEPTION),
     false,
     {{"id", CD_STRING, false}, {"message", CD_STRING, false}}},
};

/* The entry of a built-in class, or NULL. */
static const cd_shape *cd_builtin(const char *cls) {
  size_t len = strlen(cls);
  for (size_t i = 0; i < sizeof cd_shapes / sizeof cd_shapes[0]; i++)
    if (cd_shapes[i].len == len && memcmp(cd_shapes[i].cls, cls, len) == 0) return &cd_shapes[i];
  return NULL;
}

/* obj's first member named key (as cJSON_GetObjectItemCaseSensitive), or NULL. */
static const cJSON *cd_member(const cJSON *obj, const char *key) {
  for (const cJSON *c = obj->child; c != NULL; c = c->next)
    if (c->string != NULL && c->string[0] == key[0] && strcmp(c->string, key) == 0) return c;
  return NULL;
}

static const char *const cd_type_names[] = {
    [CD_ANY] = "a value",
    [CD_STRING] = "a string",
    [CD_OBJECT] = "an object",
    [CD_ARRAY] = "an array",
    [CD_NUMBER] = "a number",
    [CD_BOX] = "a box reference",
    [CD_TIME] = "a number or an ISO-8601 date",
};

static bool cd_class_is(const char *cls, const char *want) {
  return cls != NULL && strcmp(cls, want) == 0;
}

/* A wire box reference: SubBox, NamedBox or ReturnBox. */
static bool cd_is_box_ref(const cJSON *node) {
  const char *cls = bx_json_class(node);
  return cd_class_is(cls, BX_CLASS_SUB_BOX) || cd_class_is(cls, BX_CLASS_NAMED_BOX) ||
         cd_class_is(cls, BX_CLASS_RETURN_BOX);
}

static bool cd_has_type(const cJSON *v, enum cd_type type) {
  switch (type) {
  case CD_STRING:
    return cJSON_IsString(v) && v->valuestring != NULL;
  case CD_OBJECT:
    return cJSON_IsObject(v);
  case CD_ARRAY:
    return cJSON_IsArray(v);
  case CD_NUMBER:
    return cJSON_IsNumber(v);
  case CD_BOX:
    return cd_is_box_ref(v);
  case CD_TIME:
    return cJSON_IsNumber(v) || (cJSON_IsString(v) && v->valuestring != NULL);
  default:
    return true;
  }
}

/* A date given as an ISO-8601 string (FOAM2 over TCP) becomes its number, the form bx writes:
 * the one change the check makes to the tree it is given (the decoder's own parse). */
static int cd_time_string(cJSON *v, cd_dec *d, const char *cls, const cd_field *f) {
  double ms;
  if (v->valuestring == NULL || !bx__iso_date_ms(v->valuestring, &ms))
    return cd_fail(d->err, BX_EBADMSG, "%s.%s must be %s", cls, f->key, cd_type_names[f->type]);
  cJSON_free(v->valuestring);
  v->valuestring = NULL;
  v->type = (v->type & ~0xFF) | cJSON_Number;
  cJSON_SetNumberValue(v, ms);
  return 0;
}

static int cd_check_field(cd_dec *d, const cJSON *obj, const char *cls, const cd_field *f) {
  const cJSON *v = cd_member(obj, f->key);
  if (v == NULL || (cJSON_IsNull(v) && !f->required)) {
    if (!f->required) return 0;
    return cd_fail(d->err, BX_EBADMSG, "%s.%s is missing", cls, f->key);
  }
  if (f->type == CD_TIME && cJSON_IsString(v)) return cd_time_string((cJSON *)v, d, cls, f);
  if (cd_has_type(v, f->type)) return 0;
  return cd_fail(d->err, BX_EBADMSG, "%s.%s must be %s", cls, f->key, cd_type_names[f->type]);
}

static int cd_check_shape(cd_dec *d, const cJSON *obj, const cd_shape *s) {
  for (size_t k = 0; k < sizeof s->fields / sizeof s->fields[0] && s->fields[k].key; k++) {
    int rc = cd_check_field(d, obj, s->cls, &s->fields[k]);
    if (rc) return rc;
  }
  return 0;
}

/* Finds obj's class. *cls is NULL for plain data. A second "class" key, or one that is not a
 * string, is refused: readers that pick a different one would see a different class. */
static int cd_class_of(cd_dec *d, const cJSON *obj, const char **cls) {
  const cJSON *found = NULL;
  *cls = NULL;
  for (const cJSON *c = obj->child; c != NULL; c = c->next) {
    if (c->string == NULL || c->string[0] != 'c' || strcmp(c->string, "class") != 0) continue;
    if (found != NULL) return cd_fail(d->err, BX_EBADMSG, "duplicate \"class\" key");
    found = c;
  }
  if (found == NULL) return 0;
  if (!cJSON_IsString(found) || found->valuestring == NULL)
    return cd_fail(d->err, BX_EBADMSG, "\"class\" must be a string");
  *cls = found->valuestring;
  return 0;
}

/* builtin: cls's entry in cd_shapes, or NULL for an application class. */
static int cd_check_class(cd_dec *d, const char *cls, const cd_shape *builtin, bool top) {
  /* Placeholders are ours, in memory only: one from a peer could point into our box table. */
  if (builtin == NULL && (strcmp(cls, BX_CLASS_BOX_REF) == 0 || !bx_ctx_class_allowed(d->ctx, cls)))
    return cd_fail(d->err, BX_EUNKNOWNCLASS, "unknown class '%s'", cd_show(cls).s);
  if (!top && builtin != NULL && strcmp(cls, BX_CLASS_REGISTER_SELF) == 0)
    return cd_fail(d->err, BX_EBADMSG, "%s is only valid at the top level", cls);
  return 0;
}

/* Checks node and everything under it, changing nothing but a date string to its number
 * (cd_time_string), and counts the wire box references
 * (those in the payload apart). Shapes are checked after the children so that an unknown class
 * is reported as such even where it also breaks the shape of the object holding it (a SubBox
 * delegating to {"class":"evil.Box"}). */
static int cd_check(cd_dec *d, const cJSON *node, bool top) {
  bool object = bx__json_is(node, cJSON_Object);
  if (!object && !bx__json_is(node, cJSON_Array)) return 0;
  const char *cls = NULL;
  const cd_shape *builtin = NULL;
  int rc = object ? cd_class_of(d, node, &cls) : 0;
  if (rc == 0 && cls != NULL) {
    builtin = cd_builtin(cls);
    rc = cd_check_class(d, cls, builtin, top);
    if (builtin != NULL && builtin->box_ref) d->refs++;
  }
  for (const cJSON *c = node->child; rc == 0 && c != NULL; c = c->next) {
    if (!bx__json_is(c, cJSON_Object) && !bx__json_is(c, cJSON_Array)) continue;
    size_t before = d->refs;
    rc = cd_check(d, c, false);
    if (top && c->string != NULL && strcmp(c->string, "object") == 0)
      d->payload_refs += d->refs - before;
  }
  if (rc == 0 && builtin != NULL) rc = cd_check_shape(d, node, builtin);
  return rc;
}

/* ---- decoding: building the message ------------------------------------------------------- */

static const char *cd_str(const cJSON *obj, const char *key) {
  return cd_member(obj, key)->valuestring; /* present: checked */
}

/* A new live box for a checked wire reference. */
static int cd_box(cd_dec *d, const cJSON *ref, bx_box **out) {
  const char *cls = bx_json_class(ref);
  *out = NULL;
  if (strcmp(cls, BX_CLASS_RETURN_BOX) == 0) {
    bx_return_box_new(d->ctx, d->origin, out);
  } else if (strcmp(cls, BX_CLASS_NAMED_BOX) == 0) {
    int rc = bx__codec_hooks_of(d->ctx)->named_box(d->ctx, cd_str(ref, "name"), out);
    if (rc == BX_EINVAL)
      return cd_fail(d->err, BX_EBADMSG, "malformed %s path '%s'", cls,
                     cd_show(cd_str(ref, "name")).s);
  } else {
    bx_box *delegate;
    int rc = cd_box(d, cJSON_GetObjectItemCaseSensitive(ref, "delegate"), &delegate);
    if (rc) return rc;
    bx_sub_box_new(d->ctx, cd_str(ref, "name"), delegate, out);
    bx_box_unref(delegate);
  }
  return *out ? 0 : cd_fail(d->err, BX_ENOMEM, "out of memory");
}

/* A placeholder in d->msg's box table for the wire reference ref. */
static int cd_placeholder(cd_dec *d, const cJSON *ref, cJSON **out) {
  bx_box *box;
  int rc = cd_box(d, ref, &box);
  if (rc) return rc;
  *out = bx_msg_box_ref(d->msg, box);
  bx_box_unref(box);
  return *out ? 0 : cd_fail(d->err, BX_ENOMEM, "out of memory");
}

/* Replaces the wire reference ref, a member of parent, by a placeholder under the same key. */
static int cd_replace(cd_dec *d, cJSON *parent, cJSON *ref) {
  cJSON *ph;
  int rc = cd_placeholder(d, ref, &ph);
  if (rc) return rc;
  ph->string = ref->string; /* the key moves over; ref is freed without it */
  ph->type |= ref->type & cJSON_StringIsConst;
  ref->string = NULL;
  cJSON_ReplaceItemViaPointer(parent, ref, ph);
  return 0;
}

static int cd_live_children(cd_dec *d, cJSON *node) {
  cJSON *next;
  for (cJSON *c = node->child; c != NULL; c = next) {
    next = c->next;
    int rc = 0;
    if (cd_is_box_ref(c))
      rc = cd_replace(d, node, c);
    else if (c->child != NULL)
      rc = cd_live_children(d, c);
    if (rc) return rc;
  }
  return 0;
}

/* Turns every wire box reference in the payload into a live box. */
static int cd_payload(cd_dec *d) {
  cJSON *obj = bx_msg_object(d->msg);
  if (obj == NULL || d->payload_refs == 0) return 0;
  if (!cd_is_box_ref(obj)) return cd_live_children(d, obj);
  cJSON *ph;
  int rc = cd_placeholder(d, obj, &ph);
  if (rc == 0) bx_msg_set_object(d->msg, ph);
  return rc;
}

static int cd_reply_box(cd_dec *d, const cJSON *ref) {
  if (cJSON_IsNull(ref)) return 0;
  if (!cd_is_box_ref(ref)) /* checked here, not earlier: every duplicate key comes this way */
    return cd_fail(d->err, BX_EBADMSG, "%s.attributes.replyBox must be a box reference",
                   BX_CLASS_MESSAGE);
  bx_box *box;
  int rc = cd_box(d, ref, &box);
  if (rc) return rc;
  bx_msg_set_reply_box(d->msg, box);
  bx_box_unref(box);
  return 0;
}

/* deadlineMs (the milliseconds left, box_internal.h) as loop time; a value that is not a
 * number is left alone (kept as a plain attribute). Never 0, which means "none". */
static void cd_set_deadline(cd_dec *d, double left) {
  uint64_t now = uv_now(bx_ctx_loop(d->ctx));
  uint64_t ms = left > 0 ? (left < 1e15 ? (uint64_t)left : (uint64_t)1e15) : 0;
  bx__msg_set_due(d->msg, now + ms > 0 ? now + ms : 1);
}

/* Moves the attributes, in order, into the message: replyBox as the reply box, deadlineMs as
 * its deadline, the rest as JSON attributes. */
static int cd_attrs(cd_dec *d, cJSON *attrs) {
  while (attrs->child != NULL) {
    cJSON *a = cJSON_DetachItemViaPointer(attrs, attrs->child);
    if (strcmp(a->string, "replyBox") == 0) {
      int rc = cd_reply_box(d, a);
      cJSON_Delete(a);
      if (rc) return rc;
      continue;
    }
    if (strcmp(a->string, BX__ATTR_DEADLINE) == 0 && cJSON_IsNumber(a)) {
      cd_set_deadline(d, a->valuedouble);
      cJSON_Delete(a);
      continue;
    }
    /* Hand over a key the item does not own: replacing a duplicate key would free it first. */
    char *key = a->string;
    a->string = NULL;
    a->type &= ~cJSON_StringIsConst;
    int rc = bx_msg_set_attr(d->msg, key, a);
    cJSON_free(key);
    if (rc) return cd_fail(d->err, rc, "out of memory");
  }
  return 0;
}

static int cd_message(cd_dec *d, cJSON *root) {
  cJSON *object = cJSON_DetachItemFromObjectCaseSensitive(root, "object");
  if (cJSON_IsNull(object)) {
    cJSON_Delete(object);
    object = NULL;
  }
  bx_msg_new(object, &d->msg);
  if (d->msg == NULL) return cd_fail(d->err, BX_ENOMEM, "out of memory");
  int rc = cd_payload(d);
  cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "attributes");
  if (rc == 0 && cJSON_IsObject(attrs)) rc = cd_attrs(d, attrs);
  return rc;
}

static const char *cd_json_kind(const cJSON *v) {
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsBool(v)) return "a boolean";
  return "null";
}

/* Decodes the parsed frame. Takes root (freed, or owned by the message). */
static int cd_top(cd_dec *d, cJSON *root) {
  const char *cls = NULL;
  int rc = 0;
  if (!cJSON_IsObject(root))
    rc = cd_fail(d->err, BX_EBADMSG, "top level must be a JSON object, not %s", cd_json_kind(root));
  if (rc == 0) rc = cd_class_of(d, root, &cls);
  if (rc == 0 && cls == NULL) rc = cd_fail(d->err, BX_EBADMSG, "top-level object has no \"class\"");
  if (rc == 0) rc = cd_check(d, root, true);
  if (rc == 0 && strcmp(cls, BX_CLASS_REGISTER_SELF) == 0) {
    bx_msg_new(root, &d->msg); /* the stream handshake: the object is the payload */
    return d->msg ? 0 : cd_fail(d->err, BX_ENOMEM, "out of memory");
  }
  if (rc == 0 && strcmp(cls, BX_CLASS_MESSAGE) != 0)
    rc = cd_fail(d->err, BX_EBADMSG, "top level must be a %s, not '%s'", BX_CLASS_MESSAGE,
                 cd_show(cls).s);
  if (rc == 0) rc = cd_message(d, root);
  cJSON_Delete(root);
  return rc;
}

/* ---- decoding: the envelope road ----------------------------------------------------------- */

enum { CD_GENERAL = 1 }; /* not for the envelope road: decode the general way */

/* The arguments or data (the body), pre-scanned, parsed and checked like any part of a
 * payload, at the depth where it sits (the envelope's own depth is within the limit). A body
 * that fails any of it, or holds a box reference, takes the general road, which says why or
 * makes the boxes live. */
static int cd_fast_body(cd_dec *d, const bx__envelope *env, cJSON **body) {
  *body = NULL;
  int max_depth = bx_ctx_max_depth(d->ctx), holder = 2 + (int)env->nlayers;
  if ((env->reply ? 4 : 0) > max_depth || holder > max_depth) return CD_GENERAL;
  if (!env->has_body) return 0;
  bx__json_spans spans;
  if (bx__json_scan(env->body.p, env->body.n, max_depth - holder, NULL, &spans) != 0)
    return CD_GENERAL;
  bx__json_parse_error pe;
  int rc = bx__json_parse(env->body.p, env->body.n, &spans, body, &pe);
  if (rc) return rc == BX_ENOMEM ? cd_fail(d->err, rc, "out of memory") : CD_GENERAL;
  bx_codec_error scratch; /* a refusal is reported by the general road */
  cd_dec check = {.ctx = d->ctx, .err = &scratch};
  if (cd_check(&check, *body, false) == 0 && check.refs == 0) return 0;
  cJSON_Delete(*body);
  *body = NULL;
  return CD_GENERAL;
}

/* attributes.replyBox: SubBox{name, ReturnBox (the origin) or NamedBox{path}}. */
static int cd_fast_reply(cd_dec *d, const bx__envelope *env) {
  if (!env->reply) return 0;
  char nbuf[64], pbuf[64];
  char *name = bx__copy_text(nbuf, sizeof nbuf, env->reply_name.p, env->reply_name.n);
  char *path = env->reply_named
                   ? bx__copy_text(pbuf, sizeof pbuf, env->reply_path.p, env->reply_path.n)
                   : NULL;
  int rc = 0;
  bx_box *delegate = NULL, *reply = NULL;
  if (name == NULL || (env->reply_named && path == NULL))
    rc = BX_ENOMEM;
  else if (env->reply_named && bx__codec_hooks_of(d->ctx)->named_box(d->ctx, path, &delegate) != 0)
    rc = CD_GENERAL; /* a malformed path: the general road says so */
  else if (!env->reply_named)
    rc = bx_return_box_new(d->ctx, d->origin, &delegate);
  if (rc == 0) rc = bx_sub_box_new(d->ctx, name, delegate, &reply);
  if (rc == 0) bx_msg_set_reply_box(d->msg, reply);
  bx_box_unref(reply);
  bx_box_unref(delegate);
  if (name != nbuf) bx__free(name);
  if (path != pbuf) bx__free(path);
  return rc == BX_ENOMEM ? cd_fail(d->err, rc, "out of memory") : rc;
}

/* Decodes a call or a return of the shapes bx__envelope_read() knows into a lazy message
 * (d->msg): nothing but the body goes through cJSON. Returns 0, CD_GENERAL (d->msg NULL) or
 * an error (d->msg to be freed). */
static int cd_fast(cd_dec *d, const char *buf, size_t len) {
  bx__envelope env;
  if (!bx__envelope_read(buf, len, &env)) return CD_GENERAL;
  cJSON *body;
  int rc = cd_fast_body(d, &env, &body);
  if (rc) return rc;
  d->msg = bx__msg_new_lazy_n(env.cls, env.has_name ? env.name.p : NULL, env.name.n, env.key);
  if (d->msg == NULL) {
    cJSON_Delete(body);
    return cd_fail(d->err, BX_ENOMEM, "out of memory");
  }
  bx__msg_lazy_body(d->msg, body);
  for (unsigned i = env.nlayers; rc == 0 && i-- > 0;) /* innermost first */
    rc = bx__msg_lazy_layer(d->msg, env.layer[i].p, env.layer[i].n);
  if (rc) return cd_fail(d->err, rc, "out of memory");
  rc = cd_fast_reply(d, &env);
  if (rc == 0 && env.has_deadline) cd_set_deadline(d, (double)env.deadline_ms);
  if (rc == 0 && env.has_call_id) {
    char idbuf[64];
    char *v = bx__copy_text(idbuf, sizeof idbuf, env.call_id.p, env.call_id.n);
    cJSON *id = v ? cJSON_CreateString(v) : NULL;
    if (v != idbuf) bx__free(v);
    rc = id ? bx_msg_set_attr(d->msg, BX__ATTR_CALL_ID, id) : BX_ENOMEM;
    if (rc) return cd_fail(d->err, rc, "out of memory");
  }
  if (rc == CD_GENERAL) {
    bx_msg_unref(d->msg);
    d->msg = NULL;
  }
  return rc;
}

/* ---- decoding: bytes ----------------------------------------------------------------------- */

static int cd_scan(const bx_ctx *ctx, const char *buf, size_t len, bx__json_spans *spans,
                   bx_codec_error *err) {
  bx__json_scan_error se;
  int rc = bx__json_scan(buf, len, bx_ctx_max_depth(ctx), &se, spans);
  switch (rc) {
  case 0:
    return 0;
  case BX_EBADUTF8:
    return cd_fail(err, rc, "invalid UTF-8 at byte %zu", se.offset);
  case BX_ETOODEEP:
    return cd_fail(err, rc, "nesting deeper than %d levels at byte %zu", bx_ctx_max_depth(ctx),
                   se.offset);
  case BX_EINEXACT:
    return cd_fail(err, rc, "number %.*s at byte %zu %s", (int)se.token_len, se.token, se.offset,
                   se.what);
  default:
    return cd_fail(err, rc, "%s at byte %zu", se.what, se.offset);
  }
}

static int cd_parse(const char *buf, size_t len, const bx__json_spans *sp, cJSON **root,
                    bx_codec_error *err) {
  bx__json_parse_error pe;
  int rc = bx__json_parse(buf, len, sp, root, &pe);
  if (rc == BX_EBADJSON) return cd_fail(err, rc, "%s at byte %zu", pe.what, pe.offset);
  return rc ? cd_fail(err, rc, "out of memory") : 0;
}

/* Both roads: the envelope road first unless `general`, the general road when it declines. */
static int cd_decode(bx_ctx *ctx, const char *buf, size_t len, bx_box *origin, bx_msg **out,
                     bx_codec_error *err, bool general) {
  if (err) memset(err, 0, sizeof *err);
  if (out == NULL) return cd_fail(err, BX_EINVAL, "no place for the result");
  *out = NULL;
  if (ctx == NULL || (buf == NULL && len > 0))
    return cd_fail(err, BX_EINVAL, "no context or no buffer");
  if (len > bx_ctx_max_frame(ctx))
    return cd_fail(err, BX_EMSGSIZE, "frame of %zu bytes exceeds the limit of %zu bytes", len,
                   bx_ctx_max_frame(ctx));
  if (len == 0) return cd_fail(err, BX_EBADJSON, "empty frame");
  cd_dec d = {.ctx = ctx, .origin = origin, .err = err};
  int rc = general ? CD_GENERAL : cd_fast(&d, buf, len);
  if (rc == CD_GENERAL) {
    bx__json_spans spans;
    cJSON *root = NULL;
    rc = cd_scan(ctx, buf, len, &spans, err);
    if (rc == 0) rc = cd_parse(buf, len, &spans, &root, err);
    if (rc) return rc;
    rc = cd_top(&d, root);
  }
  if (rc) {
    bx_msg_unref(d.msg);
    return rc;
  }
  bx_msg_set_origin(d.msg, origin);
  *out = d.msg;
  return 0;
}

/* A refused frame that still parses as Message{object: SubBoxMessage{name}}: err->addressee
 * receives name (cut to fit). Frames over the size cap are not looked at. */
/* A refused frame's reply box, when it still reads as SubBox{name, ReturnBox} (err->reply: the
 * name, back over the frame's connection) or NamedBox{path} (err->reply_path). A name or path
 * longer than its field is not reported (a cut one would name another box). */
static void cd_reply_of(const cJSON *root, bx_codec_error *err) {
  const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "attributes");
  const cJSON *rb = cJSON_GetObjectItemCaseSensitive(attrs, "replyBox");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(rb, "name");
  if (!cJSON_IsString(name) || name->valuestring == NULL) return;
  const char *cls = bx_json_class(rb), *n = name->valuestring;
  const cJSON *delegate = cJSON_GetObjectItemCaseSensitive(rb, "delegate");
  if (cd_class_is(cls, BX_CLASS_SUB_BOX) &&
      cd_class_is(bx_json_class(delegate), BX_CLASS_RETURN_BOX) && strlen(n) < sizeof err->reply)
    memcpy(err->reply, n, strlen(n) + 1);
  else if (cd_class_is(cls, BX_CLASS_NAMED_BOX) && strlen(n) < sizeof err->reply_path)
    memcpy(err->reply_path, n, strlen(n) + 1);
}

/* What a refused frame still says about where it was going and where its answer goes. Frames
 * over the size cap are not looked at. */
static void cd_addressee(const char *buf, size_t len, bx_codec_error *err) {
  if (err == NULL || err->code == BX_EMSGSIZE || err->code == BX_EINVAL || len == 0) return;
  cJSON *root = cJSON_ParseWithLength(buf, len);
  if (!cd_class_is(bx_json_class(root), BX_CLASS_MESSAGE)) {
    cJSON_Delete(root);
    return;
  }
  const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
  if (cd_class_is(bx_json_class(obj), BX_CLASS_SUB_BOX_MESSAGE) && cJSON_IsString(name) &&
      name->valuestring != NULL)
    snprintf(err->addressee, sizeof err->addressee, "%s", name->valuestring);
  cd_reply_of(root, err);
  cJSON_Delete(root);
}

int bx_decode(bx_ctx *ctx, const char *buf, size_t len, bx_box *origin, bx_msg **out,
              bx_codec_error *err) {
  int rc = cd_decode(ctx, buf, len, origin, out, err, false);
  if (rc) cd_addressee(buf, len, err);
  return rc;
}

int bx__decode_general(bx_ctx *ctx, const char *buf, size_t len, bx_box *origin, bx_msg **out,
                       bx_codec_error *err) {
  int rc = cd_decode(ctx, buf, len, origin, out, err, true);
  if (rc) cd_addressee(buf, len, err);
  return rc;
}

/* ---- encoding ----------------------------------------------------------------------------- */

typedef struct cd_export {
  const char *name; /* the registry's (valid while exported) */
  bx_box *box;      /* borrowed: the registry holds it while the export lives */
} cd_export;

typedef struct cd_enc {
  bx_ctx *ctx;
  const bx_msg *msg;
  const bx__codec_hooks *hooks;
  bx_export ex;        /* target, the owner's count, and the exports made */
  size_t start, limit; /* out->len on entry; the frame cap */
  cd_export *exports;  /* exports made by this encode, taken back if it fails */
  size_t nexports, cap;
  cd_export local[2]; /* the first ones (a reply box, a box argument) */
} cd_enc;

/* Remembers an export this encode made. */
static int cd_remember(cd_enc *e, bx_box *box, const char *name) {
  if (e->nexports == e->cap) {
    size_t cap = e->cap * 2;
    cd_export *x = bx__malloc(cap * sizeof *x);
    if (x == NULL) return BX_ENOMEM;
    memcpy(x, e->exports, e->nexports * sizeof *x);
    if (e->exports != e->local) bx__free(e->exports);
    e->exports = x;
    e->cap = cap;
  }
  e->exports[e->nexports++] = (cd_export){name, box};
  return 0;
}

static void cd_rollback(cd_enc *e) {
  for (size_t i = e->nexports; i-- > 0;)
    e->hooks->unexport(e->ctx, e->exports[i].name, e->exports[i].box);
  e->nexports = 0;
}

static void cd_enc_free(cd_enc *e) {
  if (e->exports != e->local) bx__free(e->exports);
}

/* Bytes the rest of the frame may still take. */
static size_t cd_room(const cd_enc *e, const bx_buf *out) {
  size_t used = out->len - e->start;
  return used < e->limit ? e->limit - used : 0;
}

/* Appends s within the frame's room. Inline: with a literal, strlen() folds away. */
static inline __attribute__((always_inline)) int cd_put(cd_enc *e, bx_buf *out, const char *s) {
  size_t n = strlen(s);
  if (n > cd_room(e, out)) return BX_EMSGSIZE;
  if (out->cap - out->len < n && bx_buf_reserve(out, n) != 0) return BX_ENOMEM;
  memcpy(out->base + out->len, s, n);
  out->len += n;
  return 0;
}

/* A box with no wire form: exported, and written as SubBox{name, ReturnBox}. */
static int cd_write_export(cd_enc *e, bx_buf *out, bx_box *box) {
  const char *name;
  int rc = e->hooks->export_box(&e->ex, box, &name);
  if (rc) return rc;
  rc = cd_remember(e, box, name);
  if (rc) {
    e->hooks->unexport(e->ctx, name, box);
    return rc;
  }
  rc = cd_put(e, out, "{\"class\":\"" BX_CLASS_SUB_BOX "\",\"name\":");
  if (rc == 0) rc = bx__json_write_string(out, name);
  if (rc == 0) rc = cd_put(e, out, ",\"delegate\":{\"class\":\"" BX_CLASS_RETURN_BOX "\"}}");
  return rc;
}

static int cd_write_box(cd_enc *e, bx_buf *out, bx_box *box, bool one_shot) {
  e->ex.one_shot = one_shot;
  e->ex.err = 0;
  cJSON *wire = bx_export_wire(&e->ex, box);
  if (wire == NULL && e->ex.err == 0) return cd_write_export(e, out, box);
  int rc = e->ex.err;
  if (rc == 0) rc = bx__json_write_ex(out, wire, cd_room(e, out), NULL, NULL);
  cJSON_Delete(wire);
  return rc;
}

/* The writer's hook: a payload placeholder is written as its box's wire form. */
static int cd_write_placeholder(void *data, bx_buf *out, const cJSON *node) {
  cd_enc *e = data;
  bx_box *box = bx_msg_box_at(e->msg, node);
  if (box == NULL) return BX_EINVAL; /* a placeholder of some other message */
  return cd_write_box(e, out, box, false);
}

static int cd_write_json(cd_enc *e, bx_buf *out, const cJSON *json) {
  return bx__json_write_ex(out, json, cd_room(e, out), cd_write_placeholder, e);
}

static int cd_write_attrs(cd_enc *e, bx_buf *out) {
  int rc = cd_put(e, out, "{");
  bool first = true;
  bx_box *reply = bx_msg_reply_box(e->msg);
  if (rc == 0 && reply != NULL) {
    rc = cd_put(e, out, "\"replyBox\":");
    if (rc == 0) rc = cd_write_box(e, out, reply, true);
    first = false;
  }
  uint64_t due = bx__msg_due(e->msg);
  if (rc == 0 && due != 0) { /* what is left of the deadline, now */
    uint64_t now = uv_now(bx_ctx_loop(e->ctx));
    char num[24];
    bx__u64_text(num, due > now ? due - now : 0, 10);
    rc = cd_put(e, out, first ? "\"" BX__ATTR_DEADLINE "\":" : ",\"" BX__ATTR_DEADLINE "\":");
    if (rc == 0) rc = cd_put(e, out, num);
    first = false;
  }
  const cJSON *attrs = bx_msg_attrs(e->msg);
  for (const cJSON *a = attrs ? attrs->child : NULL; rc == 0 && a != NULL; a = a->next) {
    if (a->string == NULL || strcmp(a->string, "replyBox") == 0) continue;
    if (due != 0 && strcmp(a->string, BX__ATTR_DEADLINE) == 0) continue;
    rc = first ? 0 : cd_put(e, out, ",");
    if (rc == 0) rc = bx__json_write_string(out, a->string);
    if (rc == 0) rc = cd_put(e, out, ":");
    if (rc == 0) rc = cd_write_json(e, out, a);
    first = false;
  }
  return rc ? rc : cd_put(e, out, "}");
}

/* A lazy payload, written as its tree would be. */
static int cd_write_lazy(cd_enc *e, bx_buf *out, const bx__lazy *lz) {
  int rc = 0;
  for (unsigned i = lz->nsubs; rc == 0 && i-- > 0;) {
    rc = cd_put(e, out, "{\"class\":\"" BX_CLASS_SUB_BOX_MESSAGE "\",\"name\":");
    if (rc == 0) rc = bx__json_write_string(out, bx__lazy_layer_name(lz, i));
    if (rc == 0) rc = cd_put(e, out, ",\"object\":");
  }
  if (rc == 0) rc = cd_put(e, out, "{\"class\":");
  if (rc == 0) rc = bx__json_write_string(out, lz->cls);
  if (rc == 0 && lz->name != NULL) {
    rc = cd_put(e, out, ",\"name\":");
    if (rc == 0) rc = bx__json_write_string(out, lz->name);
  }
  if (rc == 0 && lz->body != NULL) {
    rc = cd_put(e, out, ",");
    if (rc == 0) rc = bx__json_write_string(out, lz->key);
    if (rc == 0) rc = cd_put(e, out, ":");
    if (rc == 0) rc = cd_write_json(e, out, lz->body);
  }
  for (unsigned i = 0; rc == 0 && i <= lz->nsubs; i++)
    rc = cd_put(e, out, "}");
  return rc;
}

static int cd_write_payload(cd_enc *e, bx_buf *out) {
  if (e->msg->lazy) return cd_write_lazy(e, out, e->msg->lazy);
  const cJSON *payload = bx_msg_object(e->msg);
  return payload ? cd_write_json(e, out, payload) : cd_put(e, out, "null");
}

static int cd_write_message(cd_enc *e, bx_buf *out) {
  int rc = cd_put(e, out, "{\"class\":\"" BX_CLASS_MESSAGE "\",\"attributes\":");
  if (rc == 0) rc = cd_write_attrs(e, out);
  if (rc == 0) rc = cd_put(e, out, ",\"object\":");
  if (rc == 0) rc = cd_write_payload(e, out);
  return rc ? rc : cd_put(e, out, "}");
}

int bx__encode(bx_ctx *ctx, const bx_msg *msg, const bx__encode_opts *opts, bx_buf *out,
               size_t *exports) {
  if (exports) *exports = 0;
  if (ctx == NULL || msg == NULL || out == NULL) return BX_EINVAL;
  cd_enc e = {.ctx = ctx, .msg = msg, .hooks = bx__codec_hooks_of(ctx), .start = out->len};
  e.ex.ctx = ctx;
  e.limit = bx_ctx_max_frame(ctx);
  if (opts) {
    e.ex.target = opts->target;
    e.ex.owned = opts->owned;
    if (opts->max_frame != 0 && opts->max_frame < e.limit) e.limit = opts->max_frame;
  }
  e.exports = e.local;
  e.cap = sizeof e.local / sizeof e.local[0];
  int rc;
  if (bx_msg_is(msg, BX_CLASS_REGISTER_SELF))
    rc = cd_write_json(&e, out, bx_msg_object(msg)); /* the stream handshake goes bare */
  else
    rc = cd_write_message(&e, out);
  if (rc == 0 && out->len - e.start > e.limit) rc = BX_EMSGSIZE;
  if (rc) {
    out->len = e.start;
    cd_rollback(&e);
  } else if (exports) {
    *exports = e.nexports;
  }
  cd_enc_free(&e);
  return rc;
}

int bx_encode(bx_ctx *ctx, const bx_msg *msg, bx_box *target, bx_buf *out) {
  bx__encode_opts opts = {.target = target};
  return bx__encode(ctx, msg, &opts, out, NULL);
}
