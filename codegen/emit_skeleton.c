/* bxgen: <iface>_skeleton.h and <iface>_skeleton.c, the server side. The header declares the
 * ops table the implementation fills in; the .c file holds the tables and one invoke function
 * per method, which unpacks the decoded args struct into a call of the ops member. Decoding,
 * encoding and freeing are the runtime's (rpc/), driven by the tables. */
#include <stdlib.h>

#include "emit.h"

/* ---- the ops table ---- */

static void skel_add_param(bxg_strs *l, const bxg_param *q) {
  bxg_strs_add(l, bxg_var(q->decl, q->name));
}

/* Inputs, then outputs; an array is followed by its count. */
static void skel_ops_params(const bxg_method *m, bxg_strs *l) {
  bxg_strs_add(l, bxg_xstrdup("void *impl"));
  bxg_strs_add(l, bxg_xstrdup("bx_rpc_call *call"));
  for (int out = 0; out < 2; out++) {
    for (size_t i = 0; i < m->nparams; i++) {
      const bxg_param *q = &m->params[i];

      if (q->is_count || (q->dir != BXG_IN) != out) continue;
      skel_add_param(l, q);
      if (q->count >= 0) skel_add_param(l, &m->params[q->count]);
    }
  }
}

static void skel_ops_member(bxg_buf *b, const bxg_method *m) {
  bxg_strs params = {0};
  char *head = bxg_strf("  int (*%s)(", m->name);

  skel_ops_params(m, &params);
  bxg_buf_list(b, head, params.items, params.n, m->oneway ? "); /* one-way */\n" : ");\n");
  bxg_strs_free(&params);
  free(head);
}

char *bxg_emit_skeleton_h(const bxg_model *m) {
  bxg_buf b = {0};
  bxg_emit_header_open(&b, m, "SKELETON",
                       "The server side of the interface: an ops table to implement.");
  bxg_buf_puts(
      &b,
      "/* One function per method, named by its wire name. Each gets impl, the call (the reply\n"
      " * handle), the decoded inputs (borrowed: valid until the call is answered) and pointers\n"
      " * to the outputs, which it fills with values it allocates (malloc, cJSON, bx_box_ref):\n"
      " * the runtime frees them after sending. It returns 0, a negative error code (text with\n"
      " * bx_rpc_set_error()), or BX_RPC_ASYNC to answer later with bx_rpc_return() or\n"
      " * bx_rpc_fail(). A NULL member answers BX_ENOMETHOD. */\n");
  bxg_buf_printf(&b, "typedef struct %s_ops {\n", m->iface);
  for (size_t i = 0; i < m->nmethods; i++)
    skel_ops_member(&b, &m->methods[i]);
  bxg_buf_printf(&b, "} %s_ops;\n\n", m->iface);
  bxg_buf_printf(&b,
                 "/* The interface's descriptor: its methods and struct classes. */\n"
                 "extern const bx_interface %s_interface;\n\n",
                 m->iface);
  bxg_buf_printf(
      &b,
      "/* Creates a box serving the interface: ops (borrowed: must outlive the box) "
      "and impl\n"
      " * (borrowed) are passed to every call; see bx_skeleton_new(). Returns 0 and "
      "the box in *out,\n * or an error code (*out NULL). */\n"
      "int %s_skeleton_new(bx_ctx *ctx, const %s_ops *ops, void *impl, bx_box **out);\n\n",
      m->iface, m->iface);
  bxg_emit_dao_models(&b, m);
  bxg_emit_header_close(&b, m, "SKELETON");
  return b.data;
}

/* ---- invoke functions ---- */

static void skel_call_arg(bxg_strs *l, const bxg_method *m, const bxg_param *q) {
  const char *v = q->dir == BXG_IN ? "a" : "r";

  if (q->dir == BXG_IN)
    bxg_strs_add(l, bxg_strf("%sa->%s", q->by_ref ? "&" : "", q->name));
  else
    bxg_strs_add(l, bxg_strf("&r->%s", q->name));
  if (q->count >= 0)
    bxg_strs_add(l, bxg_strf("%s%s->%s", q->dir == BXG_IN ? "" : "&", v, m->params[q->count].name));
}

static void skel_invoke_body(bxg_buf *b, const bxg_model *model, const bxg_method *m) {
  bxg_strs args = {0};
  char *head = bxg_strf("  return o->%s(", m->name);

  bxg_buf_printf(b, "  const %s_ops *o = ops;\n", model->iface);
  if (m->nin > 0) bxg_buf_printf(b, "  const %s_args *a = args;\n", m->c_name);
  if (m->nout > 0) bxg_buf_printf(b, "  %s_result *r = result;\n", m->c_name);
  bxg_buf_puts(b, "\n");
  if (m->nin == 0) bxg_buf_puts(b, "  (void)args;\n");
  if (m->nout == 0) bxg_buf_puts(b, "  (void)result;\n");
  bxg_buf_printf(b, "  if (o->%s == NULL)\n    return BX_ENOMETHOD;\n", m->name);
  for (size_t i = 0; i < m->nparams; i++)
    if (m->params[i].dir == BXG_INOUT)
      bxg_buf_printf(b, "  r->%s = a->%s;\n", m->params[i].name, m->params[i].name);
  bxg_strs_add(&args, bxg_xstrdup("impl"));
  bxg_strs_add(&args, bxg_xstrdup("call"));
  for (int out = 0; out < 2; out++)
    for (size_t i = 0; i < m->nparams; i++)
      if (!m->params[i].is_count && (m->params[i].dir != BXG_IN) == out)
        skel_call_arg(&args, m, &m->params[i]);
  bxg_buf_list(b, head, args.items, args.n, ");\n");
  bxg_strs_free(&args);
  free(head);
}

static void skel_invoke(bxg_buf *b, const bxg_model *model, const bxg_method *m) {
  char *head = bxg_strf("static int %s_invoke(", m->c_name);
  char *params[] = {"const void *ops", "void *impl", "bx_rpc_call *call", "void *args",
                    "void *result"};

  bxg_buf_list(b, head, params, 5, ") {\n");
  skel_invoke_body(b, model, m);
  bxg_buf_puts(b, "}\n\n");
  free(head);
}

char *bxg_emit_skeleton_c(const bxg_model *m) {
  bxg_buf b = {0};
  char *iface = bxg_strf("%s_interface", m->iface);

  bxg_emit_banner(&b, m, "The skeleton's tables and invoke functions over the bx runtime.");
  bxg_buf_printf(&b, "#include <stddef.h>\n\n#include \"%s_skeleton.h\"\n\n", m->iface);
  bxg_emit_tables(&b, m);
  bxg_buf_puts(&b, "/* ---- invoke: decoded arguments -> the implementation ---- */\n\n");
  for (size_t i = 0; i < m->nmethods; i++)
    skel_invoke(&b, m, &m->methods[i]);
  bxg_emit_interface(&b, m, true, iface);
  bxg_buf_printf(
      &b,
      "\nint %s_skeleton_new(bx_ctx *ctx, const %s_ops *ops, void *impl, bx_box **out) {\n"
      "  return bx_skeleton_new(ctx, &%s_interface, ops, impl, out);\n}\n",
      m->iface, m->iface, m->iface);
  free(iface);
  return b.data;
}
