/* bxgen: <iface>_stub.h and <iface>_stub.c, the client side. Per method: an async call with a
 * typed callback (the outputs as values, borrowed during the callback), a blocking call (the
 * outputs moved to the caller), or for a one-way method a send. Each fills the method's args
 * struct and calls bx_call_start()/bx_call_sync(); the runtime encodes and decodes. */
#include <stdlib.h>

#include "emit.h"

/* ---- parameter lists ---- */

static void stub_add(bxg_strs *l, const char *type, const char *name) {
  bxg_strs_add(l, bxg_var(type, name));
}

/* The callback's view of one output: values as values, the rest as borrowed const pointers. */
static void stub_cb_output(bxg_strs *l, const bxg_method *m, const bxg_param *q) {
  const bxg_slot *s = &q->slot;
  char *type;

  if (s->shape == BXG_ARRAY) {
    type = bxg_const_ptr(s->type.c_type);
    stub_add(l, type, q->name);
    stub_add(l, m->params[q->count].member, m->params[q->count].name);
  } else if (s->type.kind == BXG_STRING) {
    stub_add(l, "const char *", q->name);
    return;
  } else if (s->type.kind == BXG_JSON) {
    stub_add(l, "const cJSON *", q->name);
    return;
  } else if (s->type.kind == BXG_STRUCT) {
    type = bxg_const_ptr(s->type.c_type);
    stub_add(l, type, q->name);
  } else {
    stub_add(l, q->member, q->name);
    return;
  }
  free(type);
}

static void stub_cb_params(const bxg_method *m, bxg_strs *l) {
  stub_add(l, "bx_call *", "call");
  stub_add(l, "int", "status");
  for (size_t i = 0; i < m->nparams; i++)
    if (!m->params[i].is_count && m->params[i].dir != BXG_IN) stub_cb_output(l, m, &m->params[i]);
  stub_add(l, "void *", "data");
}

/* The async and send parameters: the inputs as declared (a BX_INOUT value by value). */
static void stub_in_params(const bxg_method *m, bxg_strs *l) {
  stub_add(l, "bx_stub *", "stub");
  for (size_t i = 0; i < m->nparams; i++) {
    const bxg_param *q = &m->params[i];

    if (q->dir == BXG_IN)
      stub_add(l, q->decl, q->name);
    else if (q->dir == BXG_INOUT)
      stub_add(l, q->member, q->name);
  }
}

static void stub_sync_params(const bxg_method *m, bxg_strs *l) {
  stub_add(l, "bx_stub *", "stub");
  for (size_t i = 0; i < m->nparams; i++)
    stub_add(l, m->params[i].decl, m->params[i].name);
}

/* Writes head, the parameters from one of the builders above (then the callback and its
 * data when with_cb), and tail. */
static void stub_proto(bxg_buf *b, const char *head, const bxg_method *m,
                       void (*params)(const bxg_method *, bxg_strs *), bool with_cb,
                       const char *tail) {
  bxg_strs l = {0};

  params(m, &l);
  if (with_cb) {
    bxg_strs_add(&l, bxg_strf("%s_cb cb", m->c_name));
    bxg_strs_add(&l, bxg_xstrdup("void *data"));
  }
  bxg_buf_list(b, head, l.items, l.n, tail);
  bxg_strs_free(&l);
}

/* ---- the header ---- */

static void stub_decls(bxg_buf *b, const bxg_method *m) {
  char *head;

  bxg_buf_printf(b, "/* ---- %s ---- */\n\n", m->name);
  if (m->oneway) {
    head = bxg_strf("int %s_send(", m->c_name);
    stub_proto(b, head, m, stub_in_params, false, ");\n\n");
    free(head);
    return;
  }
  head = bxg_strf("typedef void (*%s_cb)(", m->c_name);
  stub_proto(b, head, m, stub_cb_params, false, ");\n");
  free(head);
  head = bxg_strf("int %s_async(", m->c_name);
  stub_proto(b, head, m, stub_in_params, true, ");\n");
  free(head);
  head = bxg_strf("int %s_sync(", m->c_name);
  stub_proto(b, head, m, stub_sync_params, false, ");\n\n");
  free(head);
}

static void stub_h_intro(bxg_buf *b, const bxg_model *m) {
  bxg_buf_printf(b,
                 "/* The interface's descriptor as the client sees it. */\n"
                 "extern const bx_interface %s_stub_interface;\n\n",
                 m->iface);
  bxg_buf_printf(b,
                 "/* Initialises stub to call service (borrowed) and allows the interface's "
                 "classes; see\n"
                 " * bx_stub_init(). Returns 0 or BX_ENOMEM. */\n"
                 "int %s_stub_init(bx_stub *stub, bx_box *service);\n\n",
                 m->iface);
  for (size_t i = 0; i < m->nusers; i++) {
    const bxg_user *u = m->users[i];
    char *v;

    if (!u->is_struct) continue;
    v = bxg_var(u->c_type, "*v");
    bxg_buf_printf(b,
                   "/* Frees what *v owns (strings, arrays, nested values) and zeroes it; "
                   "not v itself. */\n"
                   "void %s_clear(%s);\n\n",
                   u->ident, v);
    free(v);
  }
}

char *bxg_emit_stub_h(const bxg_model *m) {
  bxg_buf b = {0};
  bxg_emit_header_open(&b, m, "STUB", "The client side of the interface: typed calls.");
  bxg_buf_puts(
      &b,
      "/* Per method:\n"
      " * - <method>_async() starts a call and returns 0, or an error (the callback is then never\n"
      " *   called). The callback runs exactly once, from the loop, with status 0 and the\n"
      " *   outputs, or an error and zero outputs; strings, arrays and structs it gets are\n"
      " *   borrowed (valid during the callback). Inputs are borrowed during the call only.\n"
      " * - <method>_sync() runs the context's loop until the answer: on 0 the outputs are the\n"
      " *   caller's (free() strings and arrays, <type>_clear() structs; a NULL out pointer\n"
      " *   discards its output); on error stub->last_error may hold the text.\n"
      " * - a one-way method has <method>_send() instead: it returns once the message is sent.\n"
      " */\n\n");
  stub_h_intro(&b, m);
  for (size_t i = 0; i < m->nmethods; i++)
    stub_decls(&b, &m->methods[i]);
  bxg_emit_dao_models(&b, m);
  bxg_emit_header_close(&b, m, "STUB");
  return b.data;
}

/* ---- the .c file ---- */

static void stub_fill_args(bxg_buf *b, const bxg_method *m, bool sync) {
  if (m->nin == 0) return;
  bxg_buf_puts(b, "  memset(&bx_args, 0, sizeof bx_args);\n");
  for (size_t i = 0; i < m->nparams; i++) {
    const bxg_param *q = &m->params[i];
    bool deref = q->by_ref || (sync && q->dir == BXG_INOUT);

    if (q->dir != BXG_OUT)
      bxg_buf_printf(b, "  bx_args.%s = %s%s;\n", q->name, deref ? "*" : "", q->name);
  }
}

static void stub_done(bxg_buf *b, const bxg_method *m) {
  bxg_strs args = {0};

  bxg_buf_printf(b, "static void %s_done(bx_call *call, int status, void *result, void *data) {\n",
                 m->c_name);
  bxg_buf_printf(b, "  %s_cb cb = (%s_cb)bx_call_user_fn(call);\n", m->c_name, m->c_name);
  if (m->nout > 0)
    bxg_buf_printf(b, "  const %s_result *r = status == 0 ? result : &%s_none;\n\n", m->c_name,
                   m->c_name);
  else
    bxg_buf_puts(b, "\n  (void)result;\n");
  bxg_strs_add(&args, bxg_xstrdup("call"));
  bxg_strs_add(&args, bxg_xstrdup("status"));
  for (size_t i = 0; i < m->nparams; i++) {
    const bxg_param *q = &m->params[i];

    if (q->is_count || q->dir == BXG_IN) continue;
    bxg_strs_add(&args,
                 bxg_strf("%sr->%s",
                          q->slot.shape == BXG_VALUE && q->slot.type.kind == BXG_STRUCT ? "&" : "",
                          q->name));
    if (q->count >= 0) bxg_strs_add(&args, bxg_strf("r->%s", m->params[q->count].name));
  }
  bxg_strs_add(&args, bxg_xstrdup("data"));
  bxg_buf_list(b, "  cb(", args.items, args.n, ");\n}\n\n");
  bxg_strs_free(&args);
}

static void stub_start(bxg_buf *b, const bxg_model *model, const bxg_method *m, char *done,
                       char *data) {
  char *items[7];

  items[0] = "stub";
  items[1] = bxg_strf("&%s_methods[%zu]", model->iface, bxg_method_index(model, m));
  items[2] = m->nin > 0 ? "&bx_args" : "NULL";
  items[3] = "&bx_opts";
  items[4] = done;
  items[5] = data;
  items[6] = "&stub->last_call";
  bxg_buf_list(b, "  return bx_call_start(", items, 7, ");\n}\n\n");
  free(items[1]);
}

static void stub_async(bxg_buf *b, const bxg_model *model, const bxg_method *m) {
  char *head = bxg_strf("int %s_async(", m->c_name), *done = bxg_strf("%s_done", m->c_name);

  stub_proto(b, head, m, stub_in_params, true, ") {\n");
  if (m->nin > 0) bxg_buf_printf(b, "  %s_args bx_args;\n", m->c_name);
  bxg_buf_puts(b, "  bx_call_opts bx_opts = {.timeout_ms = stub->timeout_ms, .user_fn = "
                  "(bx_fn)cb};\n\n");
  bxg_buf_puts(b, "  if (cb == NULL)\n    return BX_EINVAL;\n");
  stub_fill_args(b, m, false);
  stub_start(b, model, m, done, "data");
  free(head);
  free(done);
}

static void stub_send(bxg_buf *b, const bxg_model *model, const bxg_method *m) {
  char *head = bxg_strf("int %s_send(", m->c_name),
       *done = bxg_strf("%s_oneway_done", model->iface);

  stub_proto(b, head, m, stub_in_params, false, ") {\n");
  if (m->nin > 0) bxg_buf_printf(b, "  %s_args bx_args;\n", m->c_name);
  bxg_buf_puts(b, "  bx_call_opts bx_opts = {.timeout_ms = stub->timeout_ms};\n\n");
  stub_fill_args(b, m, false);
  stub_start(b, model, m, done, "NULL");
  free(head);
  free(done);
}

/* Moves one output from bx_res to the caller's pointer, leaving nothing owned behind. */
static void stub_move_out(bxg_buf *b, const bxg_method *m, const bxg_param *q) {
  const char *n = q->name, *cn = q->count >= 0 ? m->params[q->count].name : NULL;

  if (q->dir == BXG_INOUT) {
    bxg_buf_printf(b, "  *%s = bx_res.%s;\n", n, n);
  } else if (cn != NULL) {
    bxg_buf_printf(b, "  if (%s != NULL && %s != NULL) {\n", n, cn);
    bxg_buf_printf(b, "    *%s = bx_res.%s;\n    *%s = bx_res.%s;\n", n, n, cn, cn);
    bxg_buf_printf(b, "    memset(&bx_res.%s, 0, sizeof bx_res.%s);\n", n, n);
    bxg_buf_printf(b, "    memset(&bx_res.%s, 0, sizeof bx_res.%s);\n  }\n", cn, cn);
  } else if (bxg_slot_owns(&q->slot)) {
    bxg_buf_printf(b, "  if (%s != NULL) {\n    *%s = bx_res.%s;\n", n, n, n);
    bxg_buf_printf(b, "    memset(&bx_res.%s, 0, sizeof bx_res.%s);\n  }\n", n, n);
  } else {
    bxg_buf_printf(b, "  if (%s != NULL)\n    *%s = bx_res.%s;\n", n, n, n);
  }
}

static bool stub_result_owns(const bxg_method *m) {
  for (size_t i = 0; i < m->nparams; i++)
    if (!m->params[i].is_count && m->params[i].dir != BXG_IN && bxg_slot_owns(&m->params[i].slot))
      return true;
  return false;
}

static void stub_sync(bxg_buf *b, const bxg_model *model, const bxg_method *m) {
  char *head = bxg_strf("int %s_sync(", m->c_name);

  stub_proto(b, head, m, stub_sync_params, false, ") {\n");
  if (m->nin > 0) bxg_buf_printf(b, "  %s_args bx_args;\n", m->c_name);
  if (m->nout > 0) bxg_buf_printf(b, "  %s_result bx_res;\n", m->c_name);
  if (m->nout > 0) bxg_buf_puts(b, "  int bx_rc;\n");
  if (m->nin > 0 || m->nout > 0) bxg_buf_puts(b, "\n");
  stub_fill_args(b, m, true);
  if (m->nout == 0) {
    bxg_buf_printf(b, "  return bx_call_sync(stub, &%s_methods[%zu], %s, NULL, NULL);\n}\n\n",
                   model->iface, bxg_method_index(model, m), m->nin ? "&bx_args" : "NULL");
    free(head);
    return;
  }
  bxg_buf_puts(b, "  memset(&bx_res, 0, sizeof bx_res);\n");
  bxg_buf_printf(b, "  bx_rc = bx_call_sync(stub, &%s_methods[%zu], %s, NULL, &bx_res);\n",
                 model->iface, bxg_method_index(model, m), m->nin ? "&bx_args" : "NULL");
  bxg_buf_puts(b, "  if (bx_rc != 0)\n    return bx_rc;\n");
  for (size_t i = 0; i < m->nparams; i++)
    if (!m->params[i].is_count && m->params[i].dir != BXG_IN) stub_move_out(b, m, &m->params[i]);
  if (stub_result_owns(m))
    bxg_buf_printf(b, "  bx_value_free(&%s_result_type, &bx_res);\n", m->c_name);
  bxg_buf_puts(b, "  return 0;\n}\n\n");
  free(head);
}

static void stub_method(bxg_buf *b, const bxg_model *model, const bxg_method *m) {
  bxg_buf_printf(b, "/* ---- %s ---- */\n\n", m->name);
  if (m->oneway) {
    stub_send(b, model, m);
    return;
  }
  if (m->nout > 0)
    bxg_buf_printf(b, "static const %s_result %s_none; /* the outputs of a failed call */\n\n",
                   m->c_name, m->c_name);
  stub_done(b, m);
  stub_async(b, model, m);
  stub_sync(b, model, m);
}

static bool stub_any_oneway(const bxg_model *m) {
  for (size_t i = 0; i < m->nmethods; i++)
    if (m->methods[i].oneway) return true;
  return false;
}

static void stub_c_helpers(bxg_buf *b, const bxg_model *m) {
  bxg_buf_printf(b,
                 "\nint %s_stub_init(bx_stub *stub, bx_box *service) {\n"
                 "  return bx_stub_init(stub, service, &%s_stub_interface);\n}\n\n",
                 m->iface, m->iface);
  for (size_t i = 0; i < m->nusers; i++) {
    const bxg_user *u = m->users[i];
    char *v = bxg_var(u->c_type, "*v");

    if (u->is_struct)
      bxg_buf_printf(b,
                     "void %s_clear(%s) {\n  bx_value_free(&%s_type, v);\n"
                     "  memset(v, 0, sizeof *v);\n}\n\n",
                     u->ident, v, u->ident);
    free(v);
  }
  if (stub_any_oneway(m))
    bxg_buf_printf(b,
                   "/* One-way calls complete once sent; nothing to report. */\n"
                   "static void %s_oneway_done(bx_call *call, int status, void *result, void "
                   "*data) {\n"
                   "  (void)call;\n  (void)status;\n  (void)result;\n  (void)data;\n}\n\n",
                   m->iface);
}

char *bxg_emit_stub_c(const bxg_model *m) {
  bxg_buf b = {0};
  char *iface = bxg_strf("%s_stub_interface", m->iface);

  bxg_emit_banner(&b, m, "The stub's tables and typed calls over the bx runtime.");
  bxg_buf_printf(&b, "#include <stddef.h>\n#include <string.h>\n\n#include \"%s_stub.h\"\n\n",
                 m->iface);
  bxg_emit_tables(&b, m);
  bxg_emit_interface(&b, m, false, iface);
  stub_c_helpers(&b, m);
  for (size_t i = 0; i < m->nmethods; i++)
    stub_method(&b, m, &m->methods[i]);
  b.len -= 1; /* one newline at the end of the file, not two */
  b.data[b.len] = '\0';
  free(iface);
  return b.data;
}
