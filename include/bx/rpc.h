/* RPC: typed calls over boxes (FOAM's stubs and SkeletonBox).
 *
 * Generated code (bxgen) describes an interface with the tables below and calls this one
 * runtime: the skeleton decodes RPCMessage{name, args} into a C argument struct, calls the
 * implementation, and answers RPCReturnMessage{data} or RPCErrorMessage; the client encodes an
 * argument struct, sends it with a reply box, and completes the call exactly once with the
 * decoded result or an error. The same tables drive both directions, and the decoder is the
 * one place untrusted arguments are checked (fuzzed in tests/fuzz/).
 *
 * Wire forms (spec/foam): a single result is `data` itself; several results are an object of
 * named fields; a void result has no `data`. Integers are range-checked; 64-bit values beyond
 * 2^53 travel as decimal strings and either form is accepted. Structs are FOAM objects with a
 * "class". Enums travel as their enumerator names. Boxes travel as box references.
 */
#ifndef BX_RPC_H
#define BX_RPC_H

#include <cjson/cJSON.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- type descriptors ----------------------------------------------------------------------
 * C representation of each kind:
 *   BOOL bool; INT8..UINT64 the fixed-width types; FLOAT float; DOUBLE double;
 *   STRING char * (UTF-8, NUL-terminated; never NULL unless wrapped in NULLABLE);
 *   ENUM an integer of `size` bytes holding one of `values`;
 *   STRUCT the C struct, `size` bytes, fields at `offset`;
 *   ARRAY elem *items at `offset` with its count (an integer of count_type) at `count_offset`;
 *   NULLABLE elem * (NULL <-> JSON null); for a STRING, JSON or BOX elem the C value is that
 *            pointer itself (char *, cJSON *, bx_box *), NULL standing for null;
 *   JSON cJSON *; BOX bx_box *. */
typedef enum bx_kind {
  BX_KIND_BOOL = 1,
  BX_KIND_INT8,
  BX_KIND_INT16,
  BX_KIND_INT32,
  BX_KIND_INT64,
  BX_KIND_UINT8,
  BX_KIND_UINT16,
  BX_KIND_UINT32,
  BX_KIND_UINT64,
  BX_KIND_FLOAT,
  BX_KIND_DOUBLE,
  BX_KIND_STRING,
  BX_KIND_ENUM,
  BX_KIND_STRUCT,
  BX_KIND_ARRAY,
  BX_KIND_NULLABLE,
  BX_KIND_JSON,
  BX_KIND_BOX
} bx_kind;

typedef struct bx_type bx_type;

typedef struct bx_field {
  const char *name; /* wire name (the C parameter or field name) */
  const bx_type *type;
  size_t offset;             /* offsetof the value in the containing struct */
  const bx_type *count_type; /* ARRAY only: integer type of the count */
  size_t count_offset;       /* ARRAY only: offsetof the count */
} bx_field;

typedef struct bx_enum_value {
  const char *name;
  int64_t value;
} bx_enum_value;

struct bx_type {
  bx_kind kind;
  const char *name;       /* C type name, used in error messages */
  size_t size;            /* sizeof the C value */
  const char *class_name; /* STRUCT: FOAM class on the wire (NULL: a plain object) */
  const bx_field *fields; /* STRUCT */
  size_t nfields;
  const bx_enum_value *values; /* ENUM */
  size_t nvalues;
  const bx_type *elem; /* ARRAY, NULLABLE */
};

/* The scalar types, for generated tables. */
BX_EXTERN extern const bx_type bx_type_bool, bx_type_int8, bx_type_int16, bx_type_int32,
    bx_type_int64, bx_type_uint8, bx_type_uint16, bx_type_uint32, bx_type_uint64, bx_type_float,
    bx_type_double, bx_type_string, bx_type_json, bx_type_box;

/* ---- interfaces --------------------------------------------------------------------------- */

typedef struct bx_rpc_call bx_rpc_call; /* a call being served (the reply handle) */

#define BX_METHOD_ONEWAY 0x1u /* the client sends no reply box and expects no answer */

/* Returned by an implementation that will answer later through bx_rpc_return/bx_rpc_fail. */
#define BX_RPC_ASYNC 1

typedef struct bx_method {
  const char *name;      /* wire name */
  const bx_type *args;   /* STRUCT: the in-arguments in wire order */
  const bx_type *result; /* STRUCT: the outputs (0 fields: void; 1: bare data; more: object) */
  unsigned flags;        /* BX_METHOD_* */
  /* Skeleton side: calls the implementation's function for this method with the decoded
   * arguments and pointers into `result`. Returns its status: 0, BX_RPC_ASYNC or an error. */
  int (*invoke)(const void *ops, void *impl, bx_rpc_call *call, void *args, void *result);
} bx_method;

typedef struct bx_interface {
  const char *name;
  const bx_method *methods;
  size_t nmethods;
  const char *const *classes; /* struct classes the decoder must accept */
  size_t nclasses;
  unsigned version; /* BX_INTERFACE(name, version) (0: none given); describe shows it */
} bx_interface;

/* Adds iface's struct classes to ctx's whitelist. Returns 0 or BX_ENOMEM. */
BX_EXTERN int bx_interface_allow_classes(bx_ctx *ctx, const bx_interface *iface);
/* The method named `name`, or NULL. */
BX_EXTERN const bx_method *bx_interface_method(const bx_interface *iface, const char *name);

/* ---- serving: skeletons ------------------------------------------------------------------ */

/* Every skeleton also answers `describe()` (unless iface has a method of that name): the
 * interface's name, version, methods (name, oneway, params and results with names and types)
 * and the structs and enums they use, as a JSON object (docs/codegen.md). bxctl describe shows
 * it as signatures. */

/* Creates a skeleton box serving iface: each RPCMessage calls the matching function of `ops`
 * (the generated ops table, borrowed: must outlive the box) with `impl` (borrowed) as its first
 * argument. Also whitelists iface's classes in ctx. Register the box to name the service.
 * Returns 0 and the box in *out, or BX_EINVAL, BX_ENOMEM or the class whitelist's error. */
BX_EXTERN int bx_skeleton_new(bx_ctx *ctx, const bx_interface *iface, const void *ops, void *impl,
                              bx_box **out);

/* Within an implementation function:
 * - return 0: the outputs it wrote into its out parameters are sent back;
 * - return a negative code: an application error is sent back: RPCErrorMessage whose data is
 *   the text set by bx_rpc_set_error() (a plain string, as FOAM does), or else naming the code,
 *   and whose "code" field (FOAM2 ignores it) carries the code. The caller's call fails with
 *   BX_EREMOTE and bx_call_error_code() gives back the code, bx_call_error_text() the text.
 *   Application codes are the implementation's own: bx and libuv codes travel by name (the
 *   same on every system, e.g. UV_ENOENT for "no such item"); codes of an application's own
 *   should lie at or below BX_APP_ERROR_BASE and travel as numbers. BX_EREMOTE means "no
 *   particular code";
 * - return BX_RPC_ASYNC: it keeps `call` and later writes its out parameters (the pointers stay
 *   valid) and calls exactly one of bx_rpc_return() or bx_rpc_fail(). Arguments stay valid
 *   until then; box arguments must be referenced (bx_box_ref) to be kept longer.
 * Outputs that own memory (strings, arrays, structs holding them, cJSON, boxes) are allocated
 * by the implementation with malloc (or cJSON / bx_box_ref) and freed by the runtime after
 * sending. */
BX_EXTERN void bx_rpc_set_error(bx_rpc_call *call, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Application error codes of an application's own: BX_APP_ERROR_BASE - n (n >= 0), clear of
 * bx's and libuv's. bx_strerror() does not name them: send a text with them. */
#define BX_APP_ERROR_BASE (-100000)

/* Completes an asynchronous call with its outputs. Returns 0 or BX_EINVAL (already done). */
BX_EXTERN int bx_rpc_return(bx_rpc_call *call);
/* Completes an asynchronous call with an error whose text is `text` (a plain string on the
 * wire). Returns 0 or BX_EINVAL (already done). */
BX_EXTERN int bx_rpc_fail(bx_rpc_call *call, const char *text);
/* Completes an asynchronous call with the application error `code` (negative) and its `text`
 * (NULL: the text set by bx_rpc_set_error(), else bx_strerror(code)). Returns 0, or BX_EINVAL
 * (code not negative: nothing done). Like bx_rpc_return(), once per call: the call is freed. */
BX_EXTERN int bx_rpc_fail_code(bx_rpc_call *call, int code, const char *text);
/* The request being served (borrowed, valid until the call is answered): its origin,
 * attributes. For a call from a stub in the same context, served without a message
 * (docs/codegen.md), it is rebuilt from the arguments on first use and has no reply box;
 * NULL only when that rebuilding runs out of memory. */
BX_EXTERN const bx_msg *bx_rpc_call_msg(const bx_rpc_call *call);
BX_EXTERN bx_ctx *bx_rpc_call_ctx(const bx_rpc_call *call);
BX_EXTERN const bx_method *bx_rpc_call_method(const bx_rpc_call *call);
/* Deadlines (docs/codegen.md): a call's remaining time travels with the request (the
 * attribute "deadlineMs", which FOAM2 ignores), reduced by the time relays held it. The
 * milliseconds left until the caller gives up: 0 when that has passed, -1 when the request
 * carried no deadline (a FOAM2 caller, a one-way message). The skeleton does not start a request
 * whose deadline has passed; it answers BX_ETIMEDOUT (a runtime error) instead. */
BX_EXTERN int64_t bx_rpc_call_deadline(const bx_rpc_call *call);
/* Whether the caller still waits for this call: false once its deadline passed (or the call
 * was answered). An asynchronous implementation asks before expensive work; it must still
 * complete the call (bx_rpc_return or bx_rpc_fail), which then sends nothing anybody reads. */
BX_EXTERN bool bx_rpc_call_wanted(const bx_rpc_call *call);
/* Cancellation: the caller called bx_call_cancel() while this call was being served (the
 * cancel travels through relays as a one-way message, docs/codegen.md). The implementation
 * still completes the call (its answer is dropped). A call canceled is no longer wanted. */
BX_EXTERN bool bx_rpc_call_canceled(const bx_rpc_call *call);
/* cb(call, data) runs from the loop when the cancel arrives, at most once, never after the
 * call was completed; NULL removes it. For asynchronous implementations (set it before
 * returning BX_RPC_ASYNC). */
BX_EXTERN void bx_rpc_call_on_cancel(bx_rpc_call *call, void (*cb)(bx_rpc_call *call, void *data),
                                     void *data);

/* ---- calling ------------------------------------------------------------------------------ */

#define BX_DEFAULT_CALL_TIMEOUT_MS 30000

typedef struct bx_call bx_call;

typedef void (*bx_fn)(void); /* a generic function pointer, cast back by its user */

typedef struct bx_call_opts {
  uint64_t timeout_ms;     /* 0: BX_DEFAULT_CALL_TIMEOUT_MS */
  bx_fn user_fn;           /* opaque to bx; read back with bx_call_user_fn() (generated stubs keep
                              the typed user callback here) */
  const cJSON *attributes; /* extra attributes for the request message (copied), e.g. the
                              "token" a hub asks of services that register */
} bx_call_opts;

/* A stub: where calls go, with per-stub defaults. Generated client functions take one. */
typedef struct bx_stub {
  bx_box *service;     /* borrowed: the service's box (a Sub over a registry or connection) */
  uint64_t timeout_ms; /* 0: BX_DEFAULT_CALL_TIMEOUT_MS */
  char *last_error;    /* text of the last failed blocking call (owned; freed by the next
                          blocking call or bx_stub_reset()) */
  bx_call *last_call;  /* the last call started through this stub by a generated _async()
                          function (valid until its callback returns): bx_call_cancel() it */
  int last_code;       /* bx_call_error_code() of the last failed blocking call (0 after a
                          success): the application's code when it returned BX_EREMOTE */
} bx_stub;

/* Initialises a stub for service (borrowed) and whitelists iface's classes (iface may be NULL)
 * in the service's context. Returns 0 or BX_ENOMEM. */
BX_EXTERN int bx_stub_init(bx_stub *stub, bx_box *service, const bx_interface *iface);
/* Frees last_error. */
BX_EXTERN void bx_stub_reset(bx_stub *stub);

/* Completion of a call, exactly once, always from the loop (never inside bx_call_*()):
 *   status 0: `result` points to the decoded outputs (a struct of method->result, borrowed:
 *             valid during the callback; take ownership of pointers in it by clearing them);
 *   BX_EREMOTE: the service's implementation failed: an application error, with its code
 *             (bx_call_error_code()) and text (bx_call_error_text()). No other status is
 *             an application's: the rest are the RPC runtime's and the transports';
 *   BX_ENOSERVICE, BX_ETIMEDOUT, BX_ECONNLOST, BX_ECANCELED, BX_ECLOSING, BX_EBADMSG (the
 *   reply did not decode), or a bx/libuv code from a remote RemoteException or the send. */
typedef void (*bx_call_cb)(bx_call *call, int status, void *result, void *data);

/* Starts a typed call of method m on stub->service with the argument struct `args`
 * (borrowed; encoded before returning). opts may be NULL. On success returns 0 and, when out
 * is non-NULL, stores the call handle (valid until the callback returns). On error the
 * callback is never called. A one-way method completes with status 0 once sent. */
BX_EXTERN int bx_call_start(const bx_stub *stub, const bx_method *m, const void *args,
                            const bx_call_opts *opts, bx_call_cb cb, void *data, bx_call **out);

/* Untyped calls (bxctl, bindings): args is a JSON array (owned by the call after the call
 * returns, whatever it returns). The callback's `result` is the reply's data as const cJSON *
 * (NULL for void), borrowed. oneway: send with no reply box. */
BX_EXTERN int bx_call_json(bx_box *service, const char *method, cJSON *args, bool oneway,
                           const bx_call_opts *opts, bx_call_cb cb, void *data, bx_call **out);

/* The opts->user_fn the call was started with. */
BX_EXTERN bx_fn bx_call_user_fn(const bx_call *call);

/* Registers service under name in a peer's registry (registry: the box bx_connect() returns,
 * or any registry box): the RPC register(name, null, service), as FOAM peers do. The service
 * box is exported over the connection. The callback's result is NULL; status 0 means it is
 * registered (BX_EPERM: the peer refused, BX_EEXIST: the name is taken). opts may carry
 * attributes (a token). Same contract as bx_call_start(). To stay registered across hub
 * restarts and dropped connections, use its keep-registered mode, bx_register_remote_keep()
 * (bx/transport.h). */
BX_EXTERN int bx_register_remote(bx_box *registry, const char *name, bx_box *service,
                                 const bx_call_opts *opts, bx_call_cb cb, void *data,
                                 bx_call **out);

/* Cancels a pending call: it completes with BX_ECANCELED (from the loop), exactly once, and the
 * server is told (bx_rpc_call_canceled(), through any relay). Returns 0, or BX_EINVAL when it
 * already completed. */
BX_EXTERN int bx_call_cancel(bx_call *call);
/* During the callback: the error text of a failed call (or NULL), and the raw reply (or
 * NULL). Both borrowed, valid during the callback. A call served in the same context without
 * a message gets its RPCReturnMessage rebuilt from the result on first use. */
BX_EXTERN const char *bx_call_error_text(const bx_call *call);
/* During the callback: for BX_EREMOTE, the application's error code (BX_EREMOTE when the
 * service sent none, as FOAM2 services do); for any other status, the status itself. */
BX_EXTERN int bx_call_error_code(const bx_call *call);
BX_EXTERN const bx_msg *bx_call_reply(const bx_call *call);

/* Blocking convenience: starts the call and runs the context's loop (UV_RUN_ONCE) until it
 * completes. On status 0 the outputs are moved into *result (a method->result struct the
 * caller then owns: release with bx_value_free(m->result, result)). On failure the error text
 * is kept in stub->last_error. While it waits the loop runs, so the context keeps serving:
 * incoming calls to its services, callbacks to boxes the call passed (a server calling back
 * before it answers), other calls' completions and timers (test_rpc_wire). Must not be used
 * from a callback running on the same loop (libuv's uv_run does not nest), nor when other code
 * needs the loop run with UV_RUN_DEFAULT semantics. */
BX_EXTERN int bx_call_sync(bx_stub *stub, const bx_method *m, const void *args,
                           const bx_call_opts *opts, void *result);

/* ---- typed values (the shared runtime codec) -------------------------------------------- */

/* Why a value failed to decode. */
typedef struct bx_value_error {
  int code;       /* BX_EBADARG */
  char text[160]; /* e.g. "argument 'b' of add: expected a number, got a string" */
} bx_value_error;

/* Decodes an RPC argument array into the args struct of m (zeroed, m->args->size bytes).
 * msg (borrowed) resolves box placeholders. Strings and cJSON values point into the JSON
 * (borrowed) when `borrow` is true, else they are copies. On failure everything decoded is
 * released and err explains (naming method and argument). */
BX_EXTERN int bx_args_decode(const bx_method *m, const cJSON *args, const bx_msg *msg, void *out,
                             bool borrow, bx_value_error *err);
/* Encodes an args struct as a JSON array appended into *out (new array); box values become
 * placeholders of msg. */
BX_EXTERN int bx_args_encode(const bx_method *m, const void *args, bx_msg *msg, cJSON **out);
/* Result <-> `data` per the rules at the top of this file. data may be NULL (absent). */
BX_EXTERN int bx_result_decode(const bx_method *m, const cJSON *data, const bx_msg *msg, void *out,
                               bool borrow, bx_value_error *err);
BX_EXTERN int bx_result_encode(const bx_method *m, const void *result, bx_msg *msg, cJSON **out);
/* Releases what a decoded (borrow false) or implementation-filled value owns, recursively:
 * strings, arrays, nullable targets, cJSON trees, box references. Does not free `value`. */
BX_EXTERN void bx_value_free(const bx_type *type, void *value);

#ifdef __cplusplus
}
#endif
#endif /* BX_RPC_H */
