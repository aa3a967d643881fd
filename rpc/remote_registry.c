/* Registering in a peer's registry: the RPC register(name, null, box) as a typed call, so the
 * service box travels as a box reference (exported over the connection). */
#include <stddef.h>

#include "rpc_internal.h"

typedef struct rr_register_args {
  char *name;
  cJSON *service; /* FOAM's rarely used clientServerService: always null */
  bx_box *box;
} rr_register_args;

static const bx_type rr_nullable_json = {
    .kind = BX_KIND_NULLABLE, .name = "cJSON *", .size = sizeof(cJSON *), .elem = &bx_type_json};
static const bx_field rr_register_fields[] = {
    {"name", &bx_type_string, offsetof(rr_register_args, name), NULL, 0},
    {"service", &rr_nullable_json, offsetof(rr_register_args, service), NULL, 0},
    {"box", &bx_type_box, offsetof(rr_register_args, box), NULL, 0},
};
static const bx_type rr_register_type = {.kind = BX_KIND_STRUCT,
                                         .name = "register_args",
                                         .size = sizeof(rr_register_args),
                                         .fields = rr_register_fields,
                                         .nfields = 3};
/* The answer (the exported box) is not decoded: the caller only needs the outcome. */
static const bx_type rr_void_type = {.kind = BX_KIND_STRUCT, .name = "void", .size = 0};
static const bx_method rr_register_method = {"register", &rr_register_type, &rr_void_type, 0, NULL};

int bx_register_remote(bx_box *registry, const char *name, bx_box *service,
                       const bx_call_opts *opts, bx_call_cb cb, void *data, bx_call **out) {
  if (name == NULL || service == NULL) return BX_EINVAL;
  rr_register_args args = {.name = (char *)name, .service = NULL, .box = service};
  bx_stub stub = {.service = registry};
  return bx_call_start(&stub, &rr_register_method, &args, opts, cb, data, out);
}
