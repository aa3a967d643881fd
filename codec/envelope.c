/* The envelope reader: the frames of RPC calls and returns read without a cJSON tree.
 *
 * Design notes
 * - A call's frame is mostly envelope: Message, its reply box, a SubBoxMessage layer or two and
 *   the RPCMessage, some twenty JSON values around the arguments. Parsed by cJSON that is a
 *   malloc per node, key and string, a tree check, and as many frees, about two thirds of the
 *   cost of receiving a small call. The envelope's keys and classes are fixed, so this reader
 *   matches them in place over the frame's bytes and leaves only the arguments (or the
 *   returned data) to cJSON; the decoder keeps the rest as a lazy payload (box/internal.h).
 * - It is a recogniser, not a parser: it accepts exactly the shapes in envelope.h with strict
 *   JSON syntax around them, checking every byte of the envelope as the pre-scan would (UTF-8,
 *   no control characters), and answers "not mine" for anything else: an escape in a key,
 *   class or name, an unknown or repeated member, a member order other than FOAM's, null where
 *   a value is expected. The general road (pre-scan, cJSON, tree check) then decodes the frame
 *   and reports its errors.
 * - The arguments are only delimited here (strings and brackets counted, safely on any bytes);
 *   the decoder pre-scans and parses them alone, and a body that fails either sends the whole
 *   frame down the general road.
 */
#include <string.h>

#include "envelope.h"
#include "codec_internal.h"
#include "json_bytes.h"

typedef struct ev {
  const char *p;
  size_t len, i;
} ev;

static void ev_space(ev *e) {
  while (e->i < e->len &&
         (e->p[e->i] == ' ' || e->p[e->i] == '\n' || e->p[e->i] == '\r' || e->p[e->i] == '\t'))
    e->i++;
}

/* Skips whitespace and then c. */
static bool ev_char(ev *e, char c) {
  ev_space(e);
  if (e->i >= e->len || e->p[e->i] != c) return false;
  e->i++;
  return true;
}

/* Whitespace, then the next byte without taking it (0 at the end). */
static char ev_peek(ev *e) {
  ev_space(e);
  return e->i < e->len ? e->p[e->i] : '\0';
}

/* A string without escapes or control characters, in valid UTF-8: its bytes (between the
 * quotes). */
static bool ev_string(ev *e, bx__text *out) {
  if (!ev_char(e, '"')) return false;
  const unsigned char *s = (const unsigned char *)e->p + e->i;
  size_t avail = e->len - e->i, n = bx__json_plain_len(s, avail, true);
  if (n < avail && s[n] >= 0x80) { /* beyond ASCII: find the end, then check the whole */
    n += bx__json_plain_len(s + n, avail - n, false);
    if (n < avail && s[n] == '"' && !bx__utf8_valid(s, n)) return false;
  }
  if (n >= avail || s[n] != '"') return false; /* an escape, a control character, the end */
  *out = (bx__text){e->p + e->i, n};
  e->i += n + 1;
  return true;
}

/* Takes exactly the n bytes of lit if they come next (no whitespace skipped). bx and FOAM
 * write compact JSON, so most of a frame's punctuation, keys and classes match this way; the
 * general readers see only what is spaced out or unusual. */
static bool ev_lit(ev *e, const char *lit, size_t n) {
  if (e->len - e->i < n || memcmp(e->p + e->i, lit, n) != 0) return false;
  e->i += n;
  return true;
}
#define EV_LIT(e, s) ev_lit(e, s, sizeof s - 1)

static bool ev_is(bx__text t, const char *lit) {
  size_t n = strlen(lit);
  return t.n == n && memcmp(t.p, lit, n) == 0;
}

/* A member's key and its colon. */
static bool ev_key(ev *e, bx__text *key) {
  return ev_string(e, key) && ev_char(e, ':');
}

/* After a member: ',' (true, *more set) or '}' (true, *more clear). */
static bool ev_next(ev *e, bool *more) {
  char c = ev_peek(e);
  if (c != ',' && c != '}') return false;
  e->i++;
  *more = c == ',';
  return true;
}

/* Steps over a string whose opening quote is at e->i (the pre-scan found it terminated). */
static bool ev_skip_string(ev *e) {
  e->i++;
  while (e->i < e->len) {
    e->i += bx__json_plain_len((const unsigned char *)e->p + e->i, e->len - e->i, false);
    if (e->i >= e->len) return false;
    char c = e->p[e->i];
    e->i += c == '\\' ? 2 : 1;
    if (c == '"') return true;
  }
  return false;
}

/* Delimits one value (a string, a bracketed value with its brackets balanced, or a scalar up
 * to the next delimiter); what is inside is cJSON's to judge. */
static bool ev_value(ev *e, bx__text *out) {
  char c = ev_peek(e);
  size_t start = e->i;
  if (c == '"') {
    if (!ev_skip_string(e)) return false;
  } else if (c == '[' || c == '{') {
    size_t depth = 0;
    do {
      if (e->i >= e->len) return false;
      c = e->p[e->i];
      if (c == '"') {
        if (!ev_skip_string(e)) return false;
        continue;
      }
      if (c == '[' || c == '{') depth++;
      if (c == ']' || c == '}') depth--;
      e->i++;
    } while (depth > 0);
  } else {
    while (e->i < e->len && strchr(",]} \t\r\n", e->p[e->i]) == NULL)
      e->i++;
  }
  *out = (bx__text){e->p + start, e->i - start};
  return out->n > 0;
}

/* '{' "class" ':' and the class (the first member of every payload object). */
static bool ev_class_first(ev *e, bx__text *cls) {
  bx__text key;
  return (EV_LIT(e, "{\"class\":") ||
          (ev_char(e, '{') && ev_key(e, &key) && ev_is(key, "class"))) &&
         ev_string(e, cls);
}

/* ,"key": (the next member of a payload object, in FOAM's order) */
static bool ev_member(ev *e, const char *want) {
  bx__text key;
  return ev_char(e, ',') && ev_key(e, &key) && ev_is(key, want);
}
#define EV_MEMBER(e, key) (EV_LIT(e, ",\"" key "\":") || ev_member(e, key))

/* RPCMessage{class, name[, args]} after its class. */
static bool ev_rpc(ev *e, bx__envelope *env) {
  env->cls = BX_CLASS_RPC_MESSAGE;
  env->key = "args";
  if (!EV_MEMBER(e, "name") || !ev_string(e, &env->name)) return false;
  env->has_name = true;
  if (ev_peek(e) == ',') {
    if (!EV_MEMBER(e, "args") || ev_peek(e) != '[' || !ev_value(e, &env->body)) return false;
    env->has_body = true;
  }
  return ev_char(e, '}');
}

/* RPCReturnMessage{class[, data]} after its class. */
static bool ev_return(ev *e, bx__envelope *env) {
  env->cls = BX_CLASS_RPC_RETURN;
  env->key = "data";
  if (ev_peek(e) == ',') {
    if (!EV_MEMBER(e, "data") || !ev_value(e, &env->body)) return false;
    env->has_body = true;
  }
  return ev_char(e, '}');
}

/* The payload: SubBoxMessage layers around an RPCMessage or an RPCReturnMessage. */
static bool ev_payload(ev *e, bx__envelope *env) {
  bx__text cls;
  if (!ev_class_first(e, &cls)) return false;
  if (ev_is(cls, BX_CLASS_RPC_MESSAGE)) return ev_rpc(e, env);
  if (ev_is(cls, BX_CLASS_RPC_RETURN)) return ev_return(e, env);
  if (!ev_is(cls, BX_CLASS_SUB_BOX_MESSAGE) || env->nlayers == BX__ENVELOPE_LAYERS) return false;
  bx__text *layer = &env->layer[env->nlayers++];
  return EV_MEMBER(e, "name") && ev_string(e, layer) && EV_MEMBER(e, "object") &&
         ev_payload(e, env) && ev_char(e, '}');
}

/* The reply box's delegate: {"class":ReturnBox} or {"class":NamedBox,"name":path}, either
 * member first. */
static bool ev_delegate(ev *e, bx__envelope *env) {
  bx__text key, cls = {0}, path = {0};
  bool more = true, has_path = false;
  if (!ev_char(e, '{')) return false;
  while (more) {
    if (!ev_key(e, &key)) return false;
    if (ev_is(key, "class") && cls.p == NULL) {
      if (!ev_string(e, &cls)) return false;
    } else if (ev_is(key, "name") && !has_path) {
      if (!ev_string(e, &path)) return false;
      has_path = true;
    } else {
      return false;
    }
    if (!ev_next(e, &more)) return false;
  }
  env->reply_named = ev_is(cls, BX_CLASS_NAMED_BOX) && has_path;
  env->reply_path = path;
  return env->reply_named || (ev_is(cls, BX_CLASS_RETURN_BOX) && !has_path);
}

/* attributes.replyBox as bx and FOAM write it: SubBox{class, name, delegate: ReturnBox}. */
static bool ev_reply_box_compact(ev *e, bx__envelope *env) {
  size_t start = e->i;
  if (EV_LIT(e, "{\"class\":\"" BX_CLASS_SUB_BOX "\",\"name\":") &&
      ev_string(e, &env->reply_name) &&
      EV_LIT(e, ",\"delegate\":{\"class\":\"" BX_CLASS_RETURN_BOX "\"}}"))
    return true;
  e->i = start;
  return false;
}

/* attributes.replyBox: SubBox{class, name, delegate}, members in any order. */
static bool ev_reply_box(ev *e, bx__envelope *env) {
  if (ev_reply_box_compact(e, env)) {
    env->reply = true;
    return true;
  }
  bx__text key, cls = {0};
  bool more = true, has_name = false, has_delegate = false;
  if (!ev_char(e, '{')) return false;
  while (more) {
    if (!ev_key(e, &key)) return false;
    if (ev_is(key, "class") && cls.p == NULL) {
      if (!ev_string(e, &cls) || !ev_is(cls, BX_CLASS_SUB_BOX)) return false;
    } else if (ev_is(key, "name") && !has_name) {
      if (!ev_string(e, &env->reply_name)) return false;
      has_name = true;
    } else if (ev_is(key, "delegate") && !has_delegate) {
      if (!ev_delegate(e, env)) return false;
      has_delegate = true;
    } else {
      return false;
    }
    if (!ev_next(e, &more)) return false;
  }
  env->reply = true;
  return cls.p != NULL && has_name && has_delegate;
}

/* [,"deadlineMs":digits (at most 15: within a double's exact integers)][,"callId":"s"], then
 * '}': what bx's calls write after the reply box. */
static bool ev_deadline_end(ev *e, bx__envelope *env) {
  if (ev_char(e, '}')) return true;
  if (EV_LIT(e, ",\"deadlineMs\":")) {
    unsigned long long v = 0;
    size_t n = 0;
    while (e->i < e->len && e->p[e->i] >= '0' && e->p[e->i] <= '9' && n < 15) {
      v = v * 10 + (unsigned long long)(e->p[e->i++] - '0');
      n++;
    }
    if (n == 0 || (n > 1 && e->p[e->i - n] == '0')) return false; /* JSON: no leading zeros */
    env->has_deadline = true;
    env->deadline_ms = v;
  }
  if (EV_LIT(e, ",\"callId\":")) {
    if (!ev_string(e, &env->call_id)) return false;
    env->has_call_id = true;
  }
  return ev_char(e, '}');
}

/* Message.attributes: {}, or {"replyBox": ...} with bx's deadlineMs and callId after it. */
static bool ev_attributes(ev *e, bx__envelope *env) {
  if (EV_LIT(e, "{}")) return true;
  if (EV_LIT(e, "{\"replyBox\":")) return ev_reply_box(e, env) && ev_deadline_end(e, env);
  if (!ev_char(e, '{')) return false;
  if (ev_peek(e) == '}') {
    e->i++;
    return true;
  }
  bx__text key;
  return ev_key(e, &key) && ev_is(key, "replyBox") && ev_reply_box(e, env) && ev_char(e, '}');
}

enum { EV_CLASS = 1, EV_ATTRIBUTES = 2, EV_OBJECT = 4 }; /* top-level members seen */

/* The key of a top-level member: one of EV_CLASS, EV_ATTRIBUTES, EV_OBJECT, or 0. */
static unsigned ev_top_key(ev *e) {
  if (EV_LIT(e, "\"class\":")) return EV_CLASS;
  if (EV_LIT(e, "\"object\":")) return EV_OBJECT;
  if (EV_LIT(e, "\"attributes\":")) return EV_ATTRIBUTES;
  bx__text key;
  if (!ev_key(e, &key)) return 0;
  return ev_is(key, "class")        ? EV_CLASS
         : ev_is(key, "object")     ? EV_OBJECT
         : ev_is(key, "attributes") ? EV_ATTRIBUTES
                                    : 0;
}

/* One member of the top-level Message. */
static bool ev_top_member(ev *e, bx__envelope *env, unsigned *seen) {
  bx__text cls;
  unsigned key = ev_top_key(e);
  if (key == 0 || (*seen & key)) return false;
  *seen |= key;
  if (key == EV_CLASS)
    return EV_LIT(e, "\"" BX_CLASS_MESSAGE "\"") ||
           (ev_string(e, &cls) && ev_is(cls, BX_CLASS_MESSAGE));
  if (key == EV_ATTRIBUTES) return ev_attributes(e, env);
  return ev_payload(e, env);
}

bool bx__envelope_read(const char *buf, size_t len, bx__envelope *env) {
  ev e = {.p = buf, .len = len};
  memset(env, 0, sizeof *env);
  unsigned seen = 0;
  bool more = true;
  if (!ev_char(&e, '{')) return false;
  while (more)
    if (!ev_top_member(&e, env, &seen) || !ev_next(&e, &more)) return false;
  ev_space(&e);
  return e.i == len && (seen & EV_CLASS) && (seen & EV_OBJECT);
}
