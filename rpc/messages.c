/* The RPC messages built from typed values: RPCMessage{name, args} and RPCReturnMessage{data}.
 * Clients build requests here, skeletons build replies, and calls served directly in the same
 * context rebuild either on demand when someone asks to see the message. They are lazy
 * messages (box/internal.h): the encoder writes them without building their envelope. */
#include <limits.h>
#include <string.h>

#include "rpc_internal.h"

bx_msg *bx__rpc_request_new(const char *method, cJSON *args) {
  bx_msg *req = bx__msg_new_lazy(BX_CLASS_RPC_MESSAGE, method, "args");
  if (req == NULL) {
    cJSON_Delete(args);
    return NULL;
  }
  bx__msg_lazy_body(req, args);
  return req;
}

int bx__rpc_request_typed(const bx_method *m, const void *args, bx_msg **out) {
  *out = NULL;
  bx_msg *req = bx__msg_new_lazy(BX_CLASS_RPC_MESSAGE, m->name, "args");
  if (req == NULL) return BX_ENOMEM;
  cJSON *arr = NULL;
  int rc = bx_args_encode(m, args, req, &arr); /* box arguments go into req's table */
  if (rc) {
    bx_msg_unref(req);
    return rc;
  }
  bx__msg_lazy_body(req, arr);
  *out = req;
  return 0;
}

int bx__rpc_return_typed(const bx_method *m, const void *result, bx_msg **out) {
  *out = NULL;
  bx_msg *reply = bx__msg_new_lazy(BX_CLASS_RPC_RETURN, NULL, "data");
  if (reply == NULL) return BX_ENOMEM;
  cJSON *data = NULL;
  int rc = bx_result_encode(m, result, reply, &data);
  if (rc) {
    bx_msg_unref(reply);
    return rc;
  }
  bx__msg_lazy_body(reply, data);
  *out = reply;
  return 0;
}

/* ---- application errors ----------------------------------------------------------------------
 * RPCErrorMessage{data:"text", code:C}: `data` stays the plain string FOAM2 reads as the
 * message; `code` (a field FOAM2 ignores) is the implementation's code, by name when bx or
 * libuv names it (names are the same on every system, numbers are not), else as a number. */

bx_msg *bx__rpc_error_new(int code, const char *text) {
  cJSON *o = bx_json_new_object(BX_CLASS_RPC_ERROR);
  if (o == NULL || !cJSON_AddStringToObject(o, "data", text ? text : bx_strerror(code))) {
    cJSON_Delete(o);
    return NULL;
  }
  const char *name = bx_err_name(code);
  bool ok = true;
  if (code != BX_EREMOTE && code < 0 && strcmp(name, "BX_UNKNOWN") != 0)
    ok = cJSON_AddStringToObject(o, "code", name) != NULL;
  else if (code != BX_EREMOTE && code < 0)
    ok = cJSON_AddNumberToObject(o, "code", code) != NULL;
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  bx_msg *m = NULL;
  bx_msg_new(o, &m);
  return m;
}

int bx__rpc_error_code(const bx_msg *reply) {
  if (!bx_msg_is(reply, BX_CLASS_RPC_ERROR)) return BX_EREMOTE;
  const cJSON *c = bx__msg_member(reply, "code");
  if (cJSON_IsString(c) && c->valuestring) {
    int code = bx_err_from_name(c->valuestring);
    return code < 0 ? code : BX_EREMOTE;
  }
  if (cJSON_IsNumber(c) && c->valuedouble < 0 && c->valuedouble >= (double)INT_MIN &&
      c->valuedouble == (double)(int)c->valuedouble)
    return (int)c->valuedouble;
  return BX_EREMOTE;
}
