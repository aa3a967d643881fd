/* Internal: reading the common RPC envelopes straight from a frame's bytes (never installed). */
#ifndef BX_ENVELOPE_H
#define BX_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of the frame: the inside of a string without escapes (its value), or a JSON value. */
typedef struct bx__text {
  const char *p;
  size_t n;
} bx__text;

enum { BX__ENVELOPE_LAYERS = 2 };

/* What an RPC frame says, in the shapes the envelope reader knows:
 *   Message{class, attributes: {[replyBox: SubBox{class, name, delegate: ReturnBox{class} |
 *           NamedBox{class, name}}[, deadlineMs: digits][, callId: string]]}, object: P}
 *                                                   (members in any order)
 *   P = SubBoxMessage{class, name, object: P}        (at most BX__ENVELOPE_LAYERS of them)
 *     | RPCMessage{class, name[, args: [...]]}
 *     | RPCReturnMessage{class[, data: any]}        (members of P in this order)
 * where every key, class and name is a string without escapes. The arguments and the data
 * are left as text for cJSON. */
typedef struct bx__envelope {
  bool reply;          /* attributes.replyBox is present */
  bx__text reply_name; /* its SubBox name */
  bool reply_named;    /* its delegate is a NamedBox (else a ReturnBox) */
  bx__text reply_path; /* the NamedBox's name */
  bool has_deadline;   /* attributes.deadlineMs follows the reply box (a non-negative integer) */
  unsigned long long deadline_ms;
  bool has_call_id; /* attributes.callId follows (a string without escapes) */
  bx__text call_id;
  unsigned nlayers; /* SubBoxMessage layers, outermost first */
  bx__text layer[BX__ENVELOPE_LAYERS];
  const char *cls; /* BX_CLASS_RPC_MESSAGE or BX_CLASS_RPC_RETURN (static) */
  const char *key; /* "args" or "data" (static) */
  bool has_name;   /* RPCMessage: its method name */
  bx__text name;
  bool has_body; /* args / data present: body is its JSON text (not checked here) */
  bx__text body;
} bx__envelope;

/* Reads buf[0..len) (any bytes) as one of the shapes above, checking the envelope's bytes as
 * bx__json_scan() would; the body is only delimited, for the caller to scan and parse. false:
 * the frame is not of these shapes or not well-formed around them, and the decoder takes the
 * general road (pre-scan, cJSON, tree check). */
bool bx__envelope_read(const char *buf, size_t len, bx__envelope *env);

#endif /* BX_ENVELOPE_H */
