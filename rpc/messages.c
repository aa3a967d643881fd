/* The RPC messages built from typed values: RPCMessage{name, args} and RPCReturnMessage{data}.
 * Clients build requests here, skeletons build replies, and calls served directly in the same
 * context rebuild either on demand when someone asks to see the message. */
#include "rpc_internal.h"

bx_msg *bx__rpc_request_new(const char *method, cJSON *args) {
  cJSON *rpc = bx__json_object_const(BX_CLASS_RPC_MESSAGE);
  if (rpc == NULL || !bx__json_add(rpc, "name", cJSON_CreateString(method))) {
    cJSON_Delete(rpc);
    cJSON_Delete(args);
    return NULL;
  }
  if (args && !bx__json_add(rpc, "args", args)) {
    cJSON_Delete(rpc);
    cJSON_Delete(args);
    return NULL;
  }
  return bx_msg_new(rpc);
}

int bx__rpc_request_typed(const bx_method *m, const void *args, bx_msg **out) {
  *out = NULL;
  bx_msg *req = bx__rpc_request_new(m->name, NULL);
  if (req == NULL) return BX_ENOMEM;
  cJSON *arr = NULL;
  int rc = bx_args_encode(m, args, req, &arr); /* box arguments go into req's table */
  if (rc == 0 && !bx__json_add(bx_msg_object(req), "args", arr)) {
    cJSON_Delete(arr);
    rc = BX_ENOMEM;
  }
  if (rc) {
    bx_msg_unref(req);
    return rc;
  }
  *out = req;
  return 0;
}

int bx__rpc_return_typed(const bx_method *m, const void *result, bx_msg **out) {
  *out = NULL;
  bx_msg *reply = bx_msg_new(bx__json_object_const(BX_CLASS_RPC_RETURN));
  if (reply == NULL || bx_msg_object(reply) == NULL) {
    bx_msg_unref(reply);
    return BX_ENOMEM;
  }
  cJSON *data = NULL;
  int rc = bx_result_encode(m, result, reply, &data);
  if (rc == 0 && data && !bx__json_add(bx_msg_object(reply), "data", data)) {
    cJSON_Delete(data);
    rc = BX_ENOMEM;
  }
  if (rc) {
    bx_msg_unref(reply);
    return rc;
  }
  *out = reply;
  return 0;
}
