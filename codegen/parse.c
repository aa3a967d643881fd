/* bxgen: reads an interface header with libclang into the model.
 *
 * Design notes (see /docs/codegen.md for the user's view):
 * - Every clang error is fatal. With KeepGoing clang recovers from a missing header by turning
 *   unknown types into int, and the generator would silently emit wrong tables.
 * - Top-level declarations are filtered by their expansion location's file, not with
 *   clang_Location_isFromMainFile(), which is false for BX_INTERFACE(name) (a macro).
 * - A method's parameters are read in two passes: first names and annotations, then the
 *   BX_COUNT links, then each parameter's wire shape, so a count may be declared before or
 *   after its array.
 * - Every diagnostic is emitted in declaration order, and the model keeps declaration order,
 *   so output and errors are deterministic. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static const char *const parse_reserved[] = {"stub", "cb", "data", "call", "status", "impl"};

/* ---- names declared anywhere in the translation unit (for collision checks) ---- */

static size_t parse_hash(const char *s) {
  size_t h = 2166136261u;

  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static bxg_decl_name *parse_name_slot(bxg_parser *p, const char *name) {
  size_t i = parse_hash(name) & (p->names_cap - 1);

  while (p->names[i].name != NULL && strcmp(p->names[i].name, name) != 0)
    i = (i + 1) & (p->names_cap - 1);
  return &p->names[i];
}

static void parse_names_grow(bxg_parser *p) {
  bxg_decl_name *old = p->names;
  size_t n = p->names_cap;

  p->names_cap = n ? n * 2 : 1024;
  p->names = bxg_xcalloc(p->names_cap, sizeof *p->names);
  for (size_t i = 0; i < n; i++)
    if (old[i].name != NULL) *parse_name_slot(p, old[i].name) = old[i];
  free(old);
}

static void parse_remember(bxg_parser *p, CXCursor c) {
  char *name = bxg_cursor_name(c);
  bxg_decl_name *slot;

  if (*name == '\0') {
    free(name);
    return;
  }
  if ((p->names_len + 1) * 2 > p->names_cap) parse_names_grow(p);
  slot = parse_name_slot(p, name);
  if (slot->name != NULL) {
    free(name);
    return;
  }
  slot->name = name;
  slot->loc = bxg_cursor_loc(p, c);
  p->names_len++;
}

static const bxg_decl_name *parse_lookup(bxg_parser *p, const char *name) {
  bxg_decl_name *slot;

  if (p->names_cap == 0) return NULL;
  slot = parse_name_slot(p, name);
  return slot->name != NULL ? slot : NULL;
}

static enum CXChildVisitResult parse_enum_names(CXCursor c, CXCursor parent, CXClientData d) {
  (void)parent;
  if (clang_getCursorKind(c) == CXCursor_EnumConstantDecl) parse_remember(d, c);
  return CXChildVisit_Continue;
}

static void parse_remember_decl(bxg_parser *p, CXCursor c) {
  switch (clang_getCursorKind(c)) {
  case CXCursor_FunctionDecl:
  case CXCursor_VarDecl:
  case CXCursor_TypedefDecl:
    parse_remember(p, c);
    break;
  case CXCursor_EnumDecl:
    clang_visitChildren(c, parse_enum_names, p);
    break;
  default:
    break;
  }
}

/* ---- the translation unit ---- */

static int parse_tu(bxg_parser *p, CXIndex index, const bxg_options *opt) {
  static const char *const fixed[] = {"-x", "c", "-std=gnu11", "-DBX_CODEGEN=1"};
  size_t nfixed = sizeof fixed / sizeof fixed[0], n = nfixed + opt->clang_args.n;
  const char **args = bxg_xcalloc(n, sizeof *args);
  enum CXErrorCode ec;

  for (size_t i = 0; i < n; i++)
    args[i] = i < nfixed ? fixed[i] : opt->clang_args.items[i - nfixed];
  ec = clang_parseTranslationUnit2(
      index, opt->header, args, (int)n, NULL, 0,
      CXTranslationUnit_SkipFunctionBodies | CXTranslationUnit_KeepGoing, &p->tu);
  free(args);
  if (ec != CXError_Success) {
    bxg_fatal("libclang could not parse '%s' (error %d)", opt->header, (int)ec);
    return -1;
  }
  p->main_file = clang_getFile(p->tu, opt->header);
  return 0;
}

static bxg_loc parse_diag_loc(bxg_parser *p, CXDiagnostic d) {
  bxg_loc loc = {NULL, 0, 0};
  CXFile file;
  CXString name;

  clang_getExpansionLocation(clang_getDiagnosticLocation(d), &file, &loc.line, &loc.col, NULL);
  if (file == NULL) return loc;
  name = clang_getFileName(file);
  loc.file = bxg_intern(p, clang_getCString(name));
  clang_disposeString(name);
  return loc;
}

/* Prints clang's errors; returns how many there were. */
static unsigned parse_clang_errors(bxg_parser *p) {
  unsigned n = clang_getNumDiagnostics(p->tu), errors = 0;

  for (unsigned i = 0; i < n; i++) {
    CXDiagnostic d = clang_getDiagnostic(p->tu, i);

    if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
      bxg_loc loc = parse_diag_loc(p, d);
      CXString s = clang_getDiagnosticSpelling(d);
      bxg_error(&loc, "%s", clang_getCString(s));
      clang_disposeString(s);
      errors++;
    }
    clang_disposeDiagnostic(d);
  }
  return errors;
}

/* ---- top-level declarations ---- */

static void parse_iface_decl(bxg_parser *p, CXCursor c) {
  bxg_annots a = {0};
  bxg_loc loc = bxg_cursor_loc(p, c);

  bxg_annots_read(p, c, BXG_A_IFACE | BXG_A_VERSION, &loc, "declaration", &a);
  if (a.iface != NULL && p->m->iface != NULL) {
    bxg_error(&loc, "a second BX_INTERFACE(%s) (the first, BX_INTERFACE(%s), is at line %u)",
              a.iface, p->m->iface, p->m->iface_loc.line);
  } else if (a.iface != NULL) {
    p->m->iface = bxg_xstrdup(a.iface);
    p->m->iface_loc = loc;
    if (a.version != NULL) {
      char *end;
      unsigned long v = strtoul(a.version, &end, 10);
      if (*end != '\0' || v == 0 || v > 65535 || a.version[0] < '1' || a.version[0] > '9')
        bxg_error(&loc, "BX_INTERFACE(%s, %s): the version must be an integer from 1 to 65535",
                  a.iface, a.version);
      else
        p->m->version = (unsigned)v;
    }
  }
  bxg_annots_free(&a);
}

static void parse_typedef(bxg_parser *p, CXCursor c) {
  CXType u = clang_getCanonicalType(clang_getTypedefDeclUnderlyingType(c));
  CXCursor decl;
  CXString usr;

  if (u.kind != CXType_Record && u.kind != CXType_Enum) return;
  decl = clang_getTypeDeclaration(u);
  usr = clang_getCursorUSR(decl);
  bxg_grow((void **)&p->typedefs, &p->typedefs_cap, p->typedef_usrs.n, sizeof *p->typedefs);
  p->typedefs[p->typedef_usrs.n] = c;
  bxg_strs_add(&p->typedef_usrs, bxg_xstrdup(clang_getCString(usr)));
  clang_disposeString(usr);
}

static void parse_function(bxg_parser *p, CXCursor c) {
  CXString usr = clang_getCursorUSR(c);
  const char *u = clang_getCString(usr);

  for (size_t i = 0; i < p->function_usrs.n; i++) {
    if (strcmp(p->function_usrs.items[i], u) == 0) {
      clang_disposeString(usr);
      return;
    }
  }
  bxg_strs_add(&p->function_usrs, bxg_xstrdup(u));
  clang_disposeString(usr);
  bxg_grow((void **)&p->functions, &p->functions_cap, p->nfunctions, sizeof *p->functions);
  p->functions[p->nfunctions++] = c;
}

static enum CXChildVisitResult parse_scan(CXCursor c, CXCursor parent, CXClientData d) {
  bxg_parser *p = d;

  (void)parent;
  parse_remember_decl(p, c);
  if (!bxg_in_main_file(p, c)) return CXChildVisit_Continue;
  switch (clang_getCursorKind(c)) {
  case CXCursor_VarDecl:
    parse_iface_decl(p, c);
    break;
  case CXCursor_FunctionDecl:
    parse_function(p, c);
    break;
  case CXCursor_TypedefDecl:
    parse_typedef(p, c);
    break;
  default:
    break;
  }
  return CXChildVisit_Continue;
}

/* ---- parameters ---- */

typedef struct parse_arg {
  CXCursor c;
  CXType t;
  bxg_annots a;
  char *what;
} parse_arg;

static bool parse_param_name(const bxg_loc *loc, const char *name, const char *what) {
  bool reserved = false;

  if (*name == '\0') {
    bxg_error(loc, "%s: parameters must be named (the name is the wire name)", what);
    return false;
  }
  for (size_t i = 0; i < sizeof parse_reserved / sizeof parse_reserved[0]; i++)
    reserved = reserved || strcmp(name, parse_reserved[i]) == 0;
  if (reserved || bxg_starts_with(name, "bx_")) {
    bxg_error(loc, "%s: the name '%s' is reserved for the generated code; rename it", what, name);
    return false;
  }
  return true;
}

static bool parse_read_arg(bxg_parser *p, CXCursor fn, const bxg_method *m, size_t i,
                           parse_arg *a) {
  bxg_param *q = &m->params[i];
  bool ok;

  a->c = clang_Cursor_getArgument(fn, (unsigned)i);
  a->t = clang_getCursorType(a->c);
  q->name = bxg_cursor_name(a->c);
  q->loc = bxg_cursor_loc(p, a->c);
  q->count = -1;
  a->what = *q->name ? bxg_strf("parameter '%s' of '%s'", q->name, m->c_name)
                     : bxg_strf("parameter %zu of '%s'", i + 1, m->c_name);
  ok = bxg_annots_read(p, a->c, BXG_A_OUT | BXG_A_INOUT | BXG_A_NULLABLE | BXG_A_COUNT, &q->loc,
                       a->what, &a->a);
  ok = ok && parse_param_name(&q->loc, q->name, a->what);
  if (ok && (a->a.set & BXG_A_OUT) && (a->a.set & BXG_A_INOUT)) {
    bxg_error(&q->loc, "%s: BX_OUT and BX_INOUT together", a->what);
    ok = false;
  }
  q->dir = (a->a.set & BXG_A_OUT) ? BXG_OUT : (a->a.set & BXG_A_INOUT) ? BXG_INOUT : BXG_IN;
  q->decl = bxg_spelling(a->t);
  return ok;
}

static int parse_param_index(const bxg_method *m, const char *name) {
  for (size_t i = 0; i < m->nparams; i++)
    if (strcmp(m->params[i].name, name) == 0) return (int)i;
  return -1;
}

/* Checks that count parameter j suits array parameter i. */
static bool parse_count_ok(const bxg_method *m, const parse_arg *args, size_t i, int j) {
  const bxg_param *q = &m->params[i];
  const char *what = args[i].what;

  if (j < 0 || (size_t)j == i || args[j].a.count != NULL || (args[j].a.set & BXG_A_NULLABLE)) {
    bxg_error(&q->loc, "%s: BX_COUNT(%s) must name another integer parameter", what,
              args[i].a.count);
    return false;
  }
  if (m->params[j].is_count) {
    bxg_error(&q->loc, "%s: parameter '%s' already counts another array", what, args[i].a.count);
    return false;
  }
  if (q->dir == BXG_INOUT) {
    bxg_error(&q->loc, "%s: BX_INOUT arrays are not supported (use an input and a BX_OUT array)",
              what);
    return false;
  }
  if (m->params[j].dir != q->dir) {
    if (q->dir == BXG_OUT)
      bxg_error(&q->loc, "%s: the count of an output array is BX_OUT too ('BX_OUT size_t *%s')",
                what, args[i].a.count);
    else
      bxg_error(&q->loc, "%s: the count of an input array is an input ('size_t %s')", what,
                args[i].a.count);
    return false;
  }
  return true;
}

static bool parse_link_counts(bxg_parser *p, bxg_method *m, parse_arg *args) {
  for (size_t i = 0; i < m->nparams; i++) {
    bxg_param *q = &m->params[i];
    int j;
    CXType t;

    if (args[i].a.count == NULL) continue;
    j = parse_param_index(m, args[i].a.count);
    if (!parse_count_ok(m, args, i, j)) return false;
    t = q->dir == BXG_OUT ? bxg_pointee(args[j].t) : args[j].t;
    if (q->dir == BXG_OUT && !bxg_is_pointer(args[j].t)) {
      bxg_error(&m->params[j].loc, "%s: BX_OUT parameter must be a pointer ('T *p')", args[j].what);
      return false;
    }
    if (!bxg_count_type(p, t, &m->params[j].loc, args[j].what, &q->slot.count)) return false;
    m->params[j].is_count = true;
    m->params[j].member = bxg_spelling(t);
    q->count = j;
    q->slot.count_name = bxg_xstrdup(m->params[j].name);
  }
  return true;
}

static bool parse_pointee_const(CXType t) {
  return clang_isConstQualifiedType(bxg_pointee(t));
}

static bool parse_is_char_pointer(CXType t) {
  enum CXTypeKind k = clang_getCanonicalType(bxg_pointee(t)).kind;
  return bxg_is_pointer(t) && (k == CXType_Char_S || k == CXType_Char_U);
}

static bool parse_is_struct_pointer(CXType t) {
  bxg_kind special;
  CXType pointee = bxg_pointee(t);

  return bxg_is_pointer(t) && clang_getCanonicalType(pointee).kind == CXType_Record &&
         !bxg_special_pointee(pointee, &special);
}

static bool parse_in_slot(bxg_parser *p, parse_arg *a, bxg_param *q) {
  if (a->a.set & BXG_A_NULLABLE) {
    q->slot.shape = BXG_NULLABLE;
    if (bxg_is_pointer(a->t) && !parse_pointee_const(a->t)) {
      bxg_error(&q->loc, "%s: a nullable input points to const ('const T *p', 'const char *s')",
                a->what);
      return false;
    }
    return bxg_nullable_type(p, a->t, &q->loc, a->what, &q->slot.type);
  }
  if (parse_is_struct_pointer(a->t)) {
    if (!parse_pointee_const(a->t)) {
      bxg_error(&q->loc, "%s: a struct input is passed as 'const T *' (BX_OUT for an output)",
                a->what);
      return false;
    }
    q->by_ref = true;
    free(q->member);
    q->member = bxg_spelling(bxg_pointee(a->t));
    return bxg_value_type(p, bxg_pointee(a->t), BXG_CTX_PARAM, &q->loc, a->what, &q->slot.type);
  }
  if (parse_is_char_pointer(a->t) && !parse_pointee_const(a->t)) {
    bxg_error(&q->loc, "%s: a string input is 'const char *' (BX_OUT char ** for an output)",
              a->what);
    return false;
  }
  return bxg_value_type(p, a->t, BXG_CTX_PARAM, &q->loc, a->what, &q->slot.type);
}

/* T *p with T not const; returns T. */
static bool parse_out_pointer(const parse_arg *a, const bxg_param *q, const char *macro,
                              CXType *pointee) {
  if (!bxg_is_pointer(a->t)) {
    bxg_error(&q->loc, "%s: %s parameter must be a pointer ('T *%s')", a->what, macro, q->name);
    return false;
  }
  *pointee = bxg_pointee(a->t);
  if (clang_isConstQualifiedType(*pointee)) {
    bxg_error(&q->loc, "%s: %s parameter points to const", a->what, macro);
    return false;
  }
  return true;
}

static bool parse_out_string_ok(const parse_arg *a, const bxg_param *q, CXType pointee) {
  if (parse_is_char_pointer(pointee) && parse_pointee_const(pointee)) {
    bxg_error(&q->loc, "%s: a string output is 'char **' (the caller frees it)", a->what);
    return false;
  }
  return true;
}

static bool parse_out_slot(bxg_parser *p, parse_arg *a, bxg_param *q) {
  CXType t;

  if (!parse_out_pointer(a, q, "BX_OUT", &t) || !parse_out_string_ok(a, q, t)) return false;
  q->member = bxg_spelling(t);
  if (a->a.set & BXG_A_NULLABLE) {
    q->slot.shape = BXG_NULLABLE;
    return bxg_nullable_type(p, t, &q->loc, a->what, &q->slot.type);
  }
  return bxg_value_type(p, t, BXG_CTX_ITEM, &q->loc, a->what, &q->slot.type);
}

static bool parse_inout_slot(bxg_parser *p, parse_arg *a, bxg_param *q) {
  CXType t;

  if (!parse_out_pointer(a, q, "BX_INOUT", &t)) return false;
  if (a->a.set & BXG_A_NULLABLE) {
    bxg_error(&q->loc, "%s: BX_INOUT cannot be BX_NULLABLE", a->what);
    return false;
  }
  q->member = bxg_spelling(t);
  if (!bxg_value_type(p, t, BXG_CTX_ITEM, &q->loc, a->what, &q->slot.type)) return false;
  if (!bxg_kind_is_scalar(q->slot.type.kind) && q->slot.type.kind != BXG_ENUM) {
    bxg_error(&q->loc,
              "%s: BX_INOUT supports numbers, bools and enums (use an input and a BX_OUT "
              "output)",
              a->what);
    return false;
  }
  return true;
}

static bool parse_array_slot(bxg_parser *p, parse_arg *a, bxg_param *q) {
  CXType items = a->t;

  q->slot.shape = BXG_ARRAY;
  if (a->a.set & BXG_A_NULLABLE) {
    bxg_error(&q->loc, "%s: an array cannot be BX_NULLABLE (send an empty array)", a->what);
    return false;
  }
  if (q->dir == BXG_OUT && !parse_out_pointer(a, q, "BX_OUT", &items)) return false;
  q->member = q->dir == BXG_OUT ? bxg_spelling(items) : bxg_xstrdup(q->decl);
  if (!bxg_is_pointer(items)) {
    if (q->dir == BXG_OUT)
      bxg_error(&q->loc, "%s: an output array is 'BX_OUT T **%s BX_COUNT(n)'", a->what, q->name);
    else
      bxg_error(&q->loc, "%s: BX_COUNT applies to pointers ('const T *%s BX_COUNT(n)')", a->what,
                q->name);
    return false;
  }
  if (q->dir == BXG_IN && !clang_isConstQualifiedType(bxg_pointee(items))) {
    bxg_error(&q->loc, "%s: an input array points to const ('const T *%s BX_COUNT(n)')", a->what,
              q->name);
    return false;
  }
  if (q->dir == BXG_OUT && !parse_out_string_ok(a, q, bxg_pointee(items))) return false;
  return bxg_value_type(p, bxg_pointee(items), BXG_CTX_ITEM, &q->loc, a->what, &q->slot.type);
}

static bool parse_slot(bxg_parser *p, parse_arg *a, bxg_param *q) {
  q->slot.name = bxg_xstrdup(q->name);
  q->slot.loc = q->loc;
  if (a->a.count != NULL) return parse_array_slot(p, a, q);
  if (q->dir == BXG_OUT) return parse_out_slot(p, a, q);
  if (q->dir == BXG_INOUT) return parse_inout_slot(p, a, q);
  q->member = bxg_xstrdup(q->decl);
  return parse_in_slot(p, a, q);
}

static bool parse_params(bxg_parser *p, CXCursor fn, bxg_method *m) {
  int n = clang_Cursor_getNumArguments(fn);
  parse_arg *args;
  bool ok = true;

  m->nparams = n > 0 ? (size_t)n : 0;
  m->params = bxg_xcalloc(m->nparams, sizeof *m->params);
  args = bxg_xcalloc(m->nparams, sizeof *args);
  for (size_t i = 0; i < m->nparams; i++)
    ok = parse_read_arg(p, fn, m, i, &args[i]) && ok;
  ok = ok && parse_link_counts(p, m, args);
  for (size_t i = 0; ok && i < m->nparams; i++)
    if (!m->params[i].is_count) ok = parse_slot(p, &args[i], &m->params[i]);
  for (size_t i = 0; i < m->nparams; i++) {
    bxg_annots_free(&args[i].a);
    free(args[i].what);
  }
  free(args);
  return ok;
}

/* ---- methods ---- */

static bool parse_method_name(const bxg_method *m) {
  const char *name = m->name;

  if (*name == '\0' || !bxg_is_identifier(name)) {
    bxg_error(&m->loc, "method '%s': the wire name '%s' is not an identifier", m->c_name, name);
    return false;
  }
  if (bxg_is_c_keyword(name)) {
    bxg_error(&m->loc, "method '%s': the wire name '%s' is a C keyword (it names an ops member)",
              m->c_name, name);
    return false;
  }
  return true;
}

static bool parse_signature(bxg_parser *p, CXCursor c, bxg_method *m) {
  CXType ft = clang_getCursorType(c);
  CXType rt = clang_getResultType(ft);
  bxg_annots a = {0};
  char *what = bxg_strf("method '%s'", m->c_name);
  bool ok = bxg_annots_read(p, c, BXG_A_ONEWAY, &m->loc, what, &a);

  m->oneway = (a.set & BXG_A_ONEWAY) != 0;
  bxg_annots_free(&a);
  if (clang_Cursor_getStorageClass(c) == CX_SC_Static) {
    bxg_error(&m->loc, "%s: a method cannot be static (rename helpers without the '%s_' prefix)",
              what, p->m->iface);
    ok = false;
  } else if (ft.kind == CXType_FunctionNoProto) {
    bxg_error(&m->loc, "%s: declare a prototype ('%s(void)' when it takes no parameters)", what,
              m->c_name);
    ok = false;
  } else if (clang_isFunctionTypeVariadic(ft)) {
    bxg_error(&m->loc, "%s: variadic methods are not supported", what);
    ok = false;
  } else if (clang_getCanonicalType(rt).kind != CXType_Int) {
    char *s = bxg_spelling(rt);
    bxg_error(&m->loc, "%s: a method returns int (0 or an error code), not '%s'", what, s);
    free(s);
    ok = false;
  }
  free(what);
  return ok && parse_method_name(m);
}

static void parse_count_wire(bxg_method *m) {
  for (size_t i = 0; i < m->nparams; i++) {
    const bxg_param *q = &m->params[i];

    if (q->is_count) continue;
    m->nin += q->dir != BXG_OUT;
    m->nout += q->dir != BXG_IN;
  }
}

static void parse_method_free(bxg_method *m) {
  for (size_t i = 0; i < m->nparams; i++) {
    bxg_param *q = &m->params[i];
    free(q->name);
    free(q->decl);
    free(q->member);
    bxg_slot_free(&q->slot);
  }
  free(m->params);
  free(m->c_name);
  free(m->name);
}

static void parse_method(bxg_parser *p, CXCursor c) {
  bxg_method m = {0};
  unsigned errors = bxg_error_count();

  m.c_name = bxg_cursor_name(c);
  m.name = bxg_xstrdup(m.c_name + strlen(p->m->iface) + 1);
  m.loc = bxg_cursor_loc(p, c);
  if (parse_signature(p, c, &m) && parse_params(p, c, &m)) {
    parse_count_wire(&m);
    if (m.oneway && m.nout > 0)
      bxg_error(&m.loc, "method '%s': a BX_ONEWAY method has no outputs", m.c_name);
  }
  if (bxg_error_count() != errors) {
    parse_method_free(&m);
    return;
  }
  p->m->methods = bxg_xrealloc(p->m->methods, (p->m->nmethods + 1) * sizeof *p->m->methods);
  p->m->methods[p->m->nmethods++] = m;
}

static void parse_methods(bxg_parser *p) {
  char *prefix = bxg_strf("%s_", p->m->iface);

  for (size_t i = 0; i < p->nfunctions; i++) {
    char *name = bxg_cursor_name(p->functions[i]);

    if (bxg_starts_with(name, prefix)) parse_method(p, p->functions[i]);
    free(name);
  }
  free(prefix);
}

/* ---- whole-interface checks ---- */

static int parse_user_cmp(const void *a, const void *b) {
  const bxg_user *x = *(bxg_user *const *)a, *y = *(bxg_user *const *)b;

  if (x->loc.line != y->loc.line) return x->loc.line < y->loc.line ? -1 : 1;
  return x->loc.col < y->loc.col ? -1 : x->loc.col > y->loc.col;
}

static void parse_check_classes(bxg_parser *p) {
  bxg_model *m = p->m;

  for (size_t i = 0; i < m->nusers; i++) {
    for (size_t j = 0; m->users[i]->is_struct && j < i; j++) {
      if (m->users[j]->is_struct && strcmp(m->users[i]->class_name, m->users[j]->class_name) == 0) {
        bxg_error(&m->users[i]->loc, "struct '%s': class \"%s\" is also the class of '%s'",
                  m->users[i]->c_type, m->users[i]->class_name, m->users[j]->c_type);
      }
    }
  }
}

static void parse_check_names(bxg_parser *p) {
  bxg_gnames g = {0};

  bxg_generated_names(p->m, &g);
  for (size_t i = 0; i < g.n; i++) {
    const bxg_decl_name *d = parse_lookup(p, g.items[i].name);
    const bxg_loc *l = d ? &d->loc : NULL;

    for (size_t j = 0; l == NULL && j < i; j++)
      if (strcmp(g.items[j].name, g.items[i].name) == 0) l = &g.items[j].loc;
    if (l != NULL)
      bxg_error(&g.items[i].loc, "the generated name '%s' collides with the declaration at %s:%u",
                g.items[i].name, l->file ? l->file : "?", l->line);
  }
  bxg_gnames_free(&g);
}

static void parse_interface(bxg_parser *p, const bxg_options *opt) {
  bxg_loc top = {NULL, 1, 1};
  CXString name = clang_getFileName(p->main_file);

  top.file = bxg_intern(p, clang_getCString(name));
  clang_disposeString(name);
  if (p->m->iface == NULL) {
    bxg_error(&top, "no BX_INTERFACE(name) declaration in this header");
    return;
  }
  if (opt->expect_iface != NULL && strcmp(opt->expect_iface, p->m->iface) != 0) {
    bxg_error(&p->m->iface_loc, "the interface is '%s', but '%s' was expected (--interface)",
              p->m->iface, opt->expect_iface);
    return;
  }
  parse_methods(p);
  size_t reachable = p->m->nusers;
  bxg_dao_models(p); /* appends the others; they only get a DAO block, no descriptor */
  p->m->ndaos = p->m->nusers - reachable;
  p->m->daos = bxg_xcalloc(p->m->ndaos + 1, sizeof *p->m->daos);
  if (p->m->ndaos > 0)
    memcpy(p->m->daos, p->m->users + reachable, p->m->ndaos * sizeof *p->m->daos);
  p->m->nusers = reachable;
  bool daos = p->m->ndaos > 0;
  for (size_t i = 0; i < p->m->nusers; i++)
    daos = daos || p->m->users[i]->dao_model;
  if (bxg_error_count() == 0 && p->m->nmethods == 0 && !daos)
    bxg_error(&p->m->iface_loc, "interface '%s' declares no methods (functions named %s_*)",
              p->m->iface, p->m->iface);
}

/* ---- dependencies ---- */

static void parse_inclusion(CXFile file, CXSourceLocation *stack, unsigned n, CXClientData d) {
  bxg_strs *deps = d;
  CXString name = clang_getFileName(file);
  char *path = realpath(clang_getCString(name), NULL);

  (void)stack;
  (void)n;
  clang_disposeString(name);
  if (path == NULL) return;
  for (size_t i = 0; i < deps->n; i++) {
    if (strcmp(deps->items[i], path) == 0) {
      free(path);
      return;
    }
  }
  bxg_strs_add(deps, path);
}

/* ---- entry ---- */

static void parse_free(bxg_parser *p) {
  for (size_t i = 0; i < p->names_cap; i++)
    free(p->names[i].name);
  free(p->names);
  free(p->typedefs);
  free(p->functions);
  bxg_strs_free(&p->typedef_usrs);
  bxg_strs_free(&p->function_usrs);
  if (p->tu != NULL) clang_disposeTranslationUnit(p->tu);
}

static const char *parse_basename(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int bxg_parse(const bxg_options *opt, bxg_model *m, bxg_strs *deps) {
  bxg_parser p = {0};
  CXIndex index = clang_createIndex(0, 0);
  int rc = -1;

  p.m = m;
  m->header = bxg_xstrdup(parse_basename(opt->header));
  if (parse_tu(&p, index, opt) == 0 && parse_clang_errors(&p) == 0) {
    clang_visitChildren(clang_getTranslationUnitCursor(p.tu), parse_scan, &p);
    if (bxg_error_count() == 0) parse_interface(&p, opt);
    if (m->nusers > 1) qsort(m->users, m->nusers, sizeof *m->users, parse_user_cmp);
    if (bxg_error_count() == 0) parse_check_classes(&p);
    if (bxg_error_count() == 0) {
      bxg_model_derive(m);
      parse_check_names(&p);
    }
    if (bxg_error_count() == 0) {
      clang_getInclusions(p.tu, parse_inclusion, deps);
      rc = 0;
    }
  }
  parse_free(&p);
  clang_disposeIndex(index);
  return rc;
}

void bxg_model_free(bxg_model *m) {
  for (size_t i = 0; i < m->nmethods; i++)
    parse_method_free(&m->methods[i]);
  for (size_t i = 0; i < m->nusers; i++)
    bxg_user_free(m->users[i]);
  for (size_t i = 0; i < m->ndaos; i++)
    bxg_user_free(m->daos[i]);
  free(m->daos);
  for (size_t i = 0; i < m->nderived; i++)
    free(m->derived[i].name);
  free(m->methods);
  free(m->users);
  free(m->derived);
  free(m->iface);
  free(m->header);
  bxg_strs_free(&m->files);
  memset(m, 0, sizeof *m);
}
