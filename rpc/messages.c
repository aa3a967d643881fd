/* The RPC messages built from typed values: RPCMessage{name, args} and RPCReturnMessage{data}.
 * Clients build requests here, skeletons build replies, and calls served directly in the same
 * context rebuild either on demand when someone asks to see the message. They are lazy
 * messages (box/internal.h): the encoder writes them without building their envelope. */
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
