/* bxgen: value types. Maps clang types to the kinds of include/bx/rpc.h, and reads the structs
 * and enums of the interface header into bxg_user records.
 *
 * Design notes:
 * - Integers map by their canonical type's size and signedness (clang_Type_getSizeOf), never by
 *   name: `long`, `size_t` and `int64_t` are all INT64/UINT64 on LP64. The emitters add a
 *   _Static_assert for every spelling that is not a <stdint.h> name, so a target with other
 *   sizes fails to compile instead of sending garbage.
 * - Plain `char` is ambiguous (a number or a character?) and is rejected; `char *` is a string.
 * - Structs and enums must be declared in the interface header: the generated files are
 *   self-contained per interface, so a type shared by two headers would be described twice.
 * - A struct is registered before its fields are read, so a BX_NULLABLE pointer to itself
 *   (a list) resolves to the record being built. */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ---- cursors and spellings ---- */

const char *bxg_intern(bxg_parser *p, const char *file) {
  bxg_strs *pool = &p->m->files;

  for (size_t i = 0; i < pool->n; i++)
    if (strcmp(pool->items[i], file) == 0) return pool->items[i];
  bxg_strs_add(pool, bxg_xstrdup(file));
  return pool->items[pool->n - 1];
}

bxg_loc bxg_cursor_loc(bxg_parser *p, CXCursor c) {
  bxg_loc loc = {NULL, 0, 0};
  CXFile file;
  CXString name;

  clang_getExpansionLocation(clang_getCursorLocation(c), &file, &loc.line, &loc.col, NULL);
  if (file == NULL) return loc;
  name = clang_getFileName(file);
  loc.file = bxg_intern(p, clang_getCString(name));
  clang_disposeString(name);
  return loc;
}

bool bxg_in_main_file(bxg_parser *p, CXCursor c) {
  CXFile file;

  clang_getExpansionLocation(clang_getCursorLocation(c), &file, NULL, NULL, NULL);
  return file != NULL && clang_File_isEqual(file, p->main_file);
}

static char *types_take(CXString s) {
  const char *c = clang_getCString(s);
  char *r = bxg_xstrdup(c ? c : "");

  clang_disposeString(s);
  return r;
}

char *bxg_cursor_name(CXCursor c) {
  return types_take(clang_getCursorSpelling(c));
}

/* clang spells bool as _Bool (bool is a macro in C); the generated code includes stdbool.h. */
static void types_bool_spelling(char *s) {
  for (char *p = strstr(s, "_Bool"); p != NULL; p = strstr(p + 4, "_Bool")) {
    bool starts = p == s || p[-1] == ' ' || p[-1] == '(';
    bool ends = p[5] == '\0' || p[5] == ' ' || p[5] == '*' || p[5] == ')';

    if (starts && ends) {
      memmove(p + 4, p + 5, strlen(p + 5) + 1);
      memcpy(p, "bool", 4);
    }
  }
}

char *bxg_spelling(CXType t) {
  char *s = types_take(clang_getTypeSpelling(t));
  size_t n;

  types_bool_spelling(s);
  n = strlen(s);

  if (!clang_isConstQualifiedType(t)) return s;
  if (bxg_starts_with(s, "const "))
    memmove(s, s + 6, n - 5);
  else if (bxg_ends_with(s, " const"))
    s[n - 6] = '\0';
  return s;
}

bool bxg_is_pointer(CXType t) {
  return clang_getCanonicalType(t).kind == CXType_Pointer;
}

CXType bxg_pointee(CXType t) {
  if (t.kind == CXType_Pointer) return clang_getPointeeType(t);
  return clang_getPointeeType(clang_getCanonicalType(t));
}

/* ---- annotations ---- */

static const struct {
  unsigned bit;
  const char *macro;
} types_annot_names[] = {{BXG_A_OUT, "BX_OUT"},           {BXG_A_INOUT, "BX_INOUT"},
                         {BXG_A_NULLABLE, "BX_NULLABLE"}, {BXG_A_COUNT, "BX_COUNT"},
                         {BXG_A_ONEWAY, "BX_ONEWAY"},     {BXG_A_CLASS, "BX_CLASS"},
                         {BXG_A_IFACE, "BX_INTERFACE"},   {BXG_A_VERSION, "BX_INTERFACE"},
                         {BXG_A_DAO_ID, "BX_DAO_ID"},     {BXG_A_DATE, "BX_DATE"}};

typedef struct types_annot_ctx {
  bxg_parser *p;
  const bxg_loc *loc;
  const char *what;
  bxg_annots *a;
  bool ok;
} types_annot_ctx;

static void types_set_value(types_annot_ctx *x, char **slot, const char *value, const char *macro) {
  if (*slot != NULL && strcmp(*slot, value) != 0) {
    bxg_error(x->loc, "%s: conflicting %s annotations ('%s' and '%s')", x->what, macro, *slot,
              value);
    x->ok = false;
    return;
  }
  free(*slot);
  *slot = bxg_xstrdup(value);
}

static void types_annot_one(types_annot_ctx *x, const char *s) {
  bxg_annots *a = x->a;

  if (strcmp(s, "bx:out") == 0)
    a->set |= BXG_A_OUT;
  else if (strcmp(s, "bx:inout") == 0)
    a->set |= BXG_A_INOUT;
  else if (strcmp(s, "bx:nullable") == 0)
    a->set |= BXG_A_NULLABLE;
  else if (strcmp(s, "bx:oneway") == 0)
    a->set |= BXG_A_ONEWAY;
  else if (strcmp(s, "bx:dao-id") == 0)
    a->set |= BXG_A_DAO_ID;
  else if (strcmp(s, "bx:date") == 0)
    a->set |= BXG_A_DATE;
  else if (bxg_starts_with(s, "bx:count=")) {
    a->set |= BXG_A_COUNT;
    types_set_value(x, &a->count, s + 9, "BX_COUNT");
  } else if (bxg_starts_with(s, "bx:class=")) {
    a->set |= BXG_A_CLASS;
    types_set_value(x, &a->class_name, s + 9, "BX_CLASS");
  } else if (bxg_starts_with(s, "bx:interface=")) {
    a->set |= BXG_A_IFACE;
    types_set_value(x, &a->iface, s + 13, "BX_INTERFACE");
  } else if (bxg_starts_with(s, "bx:version=")) {
    a->set |= BXG_A_VERSION;
    types_set_value(x, &a->version, s + 11, "BX_INTERFACE");
  } else if (bxg_starts_with(s, "bx:")) {
    bxg_error(x->loc, "%s: unknown bx annotation \"%s\"", x->what, s);
    x->ok = false;
  }
}

static enum CXChildVisitResult types_annot_visit(CXCursor c, CXCursor parent, CXClientData d) {
  CXString s;

  (void)parent;
  if (clang_getCursorKind(c) != CXCursor_AnnotateAttr) return CXChildVisit_Continue;
  s = clang_getCursorSpelling(c);
  types_annot_one(d, clang_getCString(s));
  clang_disposeString(s);
  return CXChildVisit_Continue;
}

bool bxg_annots_read(bxg_parser *p, CXCursor c, unsigned allowed, const bxg_loc *loc,
                     const char *what, bxg_annots *a) {
  types_annot_ctx x = {p, loc, what, a, true};

  clang_visitChildren(c, types_annot_visit, &x);
  for (size_t i = 0; i < sizeof types_annot_names / sizeof types_annot_names[0]; i++) {
    if ((a->set & types_annot_names[i].bit) && !(allowed & types_annot_names[i].bit)) {
      bxg_error(loc, "%s: %s does not apply here", what, types_annot_names[i].macro);
      x.ok = false;
    }
  }
  if (a->count != NULL && !bxg_is_identifier(a->count)) {
    bxg_error(loc, "%s: BX_COUNT(%s) must name a parameter or field", what, a->count);
    x.ok = false;
  }
  return x.ok;
}

void bxg_annots_free(bxg_annots *a) {
  free(a->count);
  free(a->class_name);
  free(a->iface);
  free(a->version);
  memset(a, 0, sizeof *a);
}

/* ---- scalars ---- */

static bxg_kind types_int_kind(long long size, bool is_signed) {
  static const bxg_kind s[] = {BXG_INT8, BXG_INT16, BXG_INT32, BXG_INT64};
  static const bxg_kind u[] = {BXG_UINT8, BXG_UINT16, BXG_UINT32, BXG_UINT64};
  int i = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;

  return is_signed ? s[i] : u[i];
}

/* 1: a supported scalar in *kind; 0: not a scalar; -1: an unsupported scalar (diagnosed). */
static int types_scalar(CXType c, const bxg_loc *loc, const char *what, bxg_kind *kind) {
  long long size = clang_Type_getSizeOf(c);

  switch (c.kind) {
  case CXType_Bool:
    *kind = BXG_BOOL;
    return 1;
  case CXType_SChar:
  case CXType_Short:
  case CXType_Int:
  case CXType_Long:
  case CXType_LongLong:
    *kind = types_int_kind(size, true);
    return 1;
  case CXType_UChar:
  case CXType_UShort:
  case CXType_UInt:
  case CXType_ULong:
  case CXType_ULongLong:
  case CXType_Char16:
  case CXType_Char32:
    *kind = types_int_kind(size, false);
    return 1;
  case CXType_Float:
    *kind = BXG_FLOAT;
    return 1;
  case CXType_Double:
    *kind = BXG_DOUBLE;
    return 1;
  case CXType_Char_S:
  case CXType_Char_U:
    bxg_error(loc,
              "%s: plain 'char' is ambiguous: use int8_t or uint8_t for a number, or "
              "'const char *' for a string",
              what);
    return -1;
  case CXType_LongDouble:
  case CXType_Float128:
  case CXType_Half:
  case CXType_Float16:
  case CXType_Int128:
  case CXType_UInt128:
  case CXType_WChar:
  case CXType_Complex: {
    char *s = bxg_spelling(c);
    bxg_error(loc, "%s: type '%s' is not supported", what, s);
    free(s);
    return -1;
  }
  default:
    return 0;
  }
}

/* ---- user types ---- */

static char *types_typedef_name(bxg_parser *p, const char *usr, CXCursor *td) {
  for (size_t i = 0; i < p->typedef_usrs.n; i++) {
    if (strcmp(p->typedef_usrs.items[i], usr) == 0) {
      *td = p->typedefs[i];
      return bxg_cursor_name(*td);
    }
  }
  *td = clang_getNullCursor();
  return NULL;
}

static bxg_user *types_find(bxg_parser *p, const char *usr) {
  for (size_t i = 0; i < p->m->nusers; i++)
    if (strcmp(p->m->users[i]->usr, usr) == 0) return p->m->users[i];
  return NULL;
}

static char *types_camel(const char *s) {
  char *r = bxg_xmalloc(strlen(s) + 1), *o = r;
  bool up = true;

  for (; *s; s++) {
    if (*s == '_') {
      up = true;
      continue;
    }
    *o++ = up && *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
    up = false;
  }
  *o = '\0';
  return r;
}

static char *types_default_class(bxg_parser *p, const char *ident) {
  const char *iface = p->m->iface;
  size_t n = strlen(iface);
  const char *rest = ident;
  char *camel, *r;

  if (strncmp(ident, iface, n) == 0 && ident[n] == '_' && ident[n + 1] != '\0')
    rest = ident + n + 1;
  camel = types_camel(rest);
  r = bxg_strf("%s.%s", iface, camel);
  free(camel);
  return r;
}

static bool types_class_ok(const char *s) {
  if (*s == '\0' || *s == '.' || bxg_ends_with(s, ".")) return false;
  for (; *s; s++) {
    bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.';
    if (!ok || (s[0] == '.' && s[1] == '.')) return false;
  }
  return true;
}

/* The class: BX_CLASS on the struct or on its typedef, else "<iface>.<CamelCase>". */
static bool types_class(bxg_parser *p, bxg_user *u, CXCursor def, CXCursor td) {
  bxg_annots a = {0};
  char *what = bxg_strf("struct '%s'", u->c_type);
  bool ok = bxg_annots_read(p, def, BXG_A_CLASS, &u->loc, what, &a);

  if (!clang_Cursor_isNull(td)) ok = bxg_annots_read(p, td, BXG_A_CLASS, &u->loc, what, &a) && ok;
  if (ok && a.class_name != NULL && !types_class_ok(a.class_name)) {
    bxg_error(&u->loc, "%s: BX_CLASS(\"%s\") is not a class name (dotted identifiers)", what,
              a.class_name);
    ok = false;
  }
  if (ok)
    u->class_name = a.class_name ? bxg_xstrdup(a.class_name) : types_default_class(p, u->ident);
  bxg_annots_free(&a);
  free(what);
  return ok;
}

static enum CXChildVisitResult types_enum_visit(CXCursor c, CXCursor parent, CXClientData d) {
  bxg_user *u = d;
  size_t cap = u->nvalues;

  (void)parent;
  if (clang_getCursorKind(c) != CXCursor_EnumConstantDecl) return CXChildVisit_Continue;
  u->values = bxg_xrealloc(u->values, (cap + 1) * sizeof *u->values);
  u->values[u->nvalues++] = bxg_cursor_name(c);
  return CXChildVisit_Continue;
}

static bool types_enum(bxg_parser *p, bxg_user *u, CXCursor def, CXCursor td) {
  bxg_annots a = {0};
  char *what = bxg_strf("enum '%s'", u->c_type);
  bool ok = bxg_annots_read(p, def, 0, &u->loc, what, &a);

  if (!clang_Cursor_isNull(td)) ok = bxg_annots_read(p, td, 0, &u->loc, what, &a) && ok;
  bxg_annots_free(&a);
  free(what);
  clang_visitChildren(def, types_enum_visit, u);
  return ok;
}

/* ---- struct fields ---- */

typedef struct types_field {
  CXCursor c;
  char *name;
  char *what;
  bxg_annots a;
  bxg_loc loc;
  bool is_count;
  bool ok;
} types_field;

typedef struct types_fields {
  bxg_parser *p;
  bxg_user *u;
  types_field *items;
  size_t n;
  size_t cap;
} types_fields;

static enum CXChildVisitResult types_field_visit(CXCursor c, CXCursor parent, CXClientData d) {
  types_fields *fs = d;
  types_field *f;

  (void)parent;
  if (clang_getCursorKind(c) != CXCursor_FieldDecl) return CXChildVisit_Continue;
  bxg_grow((void **)&fs->items, &fs->cap, fs->n, sizeof *fs->items);
  f = &fs->items[fs->n++];
  f->c = c;
  f->name = bxg_cursor_name(c);
  f->loc = bxg_cursor_loc(fs->p, c);
  f->what = bxg_strf("field '%s' of '%s'", f->name, fs->u->c_type);
  f->ok = bxg_annots_read(fs->p, c, BXG_A_NULLABLE | BXG_A_COUNT | BXG_A_DAO_ID | BXG_A_DATE,
                          &f->loc, f->what, &f->a);
  if (*f->name == '\0') {
    bxg_error(&f->loc, "struct '%s': anonymous members are not supported", fs->u->c_type);
    f->ok = false;
  } else if (clang_Cursor_isBitField(c)) {
    bxg_error(&f->loc, "%s: bit-fields are not supported", f->what);
    f->ok = false;
  }
  return CXChildVisit_Continue;
}

static types_field *types_field_named(types_fields *fs, const char *name) {
  for (size_t i = 0; i < fs->n; i++)
    if (strcmp(fs->items[i].name, name) == 0) return &fs->items[i];
  return NULL;
}

/* Marks the count fields; each names an integer field that is not itself an array. */
static bool types_link_counts(types_fields *fs) {
  bool ok = true;

  for (size_t i = 0; i < fs->n; i++) {
    types_field *f = &fs->items[i], *n;

    if (f->a.count == NULL) continue;
    n = types_field_named(fs, f->a.count);
    if (n == NULL || n == f || n->a.count != NULL || (n->a.set & BXG_A_NULLABLE)) {
      bxg_error(&f->loc, "%s: BX_COUNT(%s) must name another integer field of the struct", f->what,
                f->a.count);
      ok = false;
    } else if (n->is_count) {
      bxg_error(&f->loc, "%s: field '%s' already counts another array", f->what, n->name);
      ok = false;
    } else {
      n->is_count = true;
    }
  }
  return ok;
}

static bool types_array_slot(bxg_parser *p, types_fields *fs, types_field *f, bxg_slot *s) {
  CXType t = clang_getCursorType(f->c);
  types_field *n = types_field_named(fs, f->a.count);

  if (!bxg_is_pointer(t)) {
    bxg_error(&f->loc, "%s: BX_COUNT applies to pointers ('T *items BX_COUNT(n)')", f->what);
    return false;
  }
  if (f->a.set & BXG_A_NULLABLE) {
    bxg_error(&f->loc, "%s: an array cannot be BX_NULLABLE (send an empty array)", f->what);
    return false;
  }
  s->shape = BXG_ARRAY;
  s->count_name = bxg_xstrdup(n->name);
  if (!bxg_value_type(p, bxg_pointee(t), BXG_CTX_ITEM, &f->loc, f->what, &s->type)) return false;
  return bxg_count_type(p, clang_getCursorType(n->c), &n->loc, n->what, &s->count);
}

static bool types_field_slot(bxg_parser *p, types_fields *fs, types_field *f, bxg_slot *s) {
  CXType t = clang_getCursorType(f->c);

  s->name = bxg_xstrdup(f->name);
  s->loc = f->loc;
  s->dao_id = (f->a.set & BXG_A_DAO_ID) != 0;
  s->date = (f->a.set & BXG_A_DATE) != 0;
  if (f->a.count != NULL) return types_array_slot(p, fs, f, s);
  if (f->a.set & BXG_A_NULLABLE) {
    s->shape = BXG_NULLABLE;
    return bxg_nullable_type(p, t, &f->loc, f->what, &s->type);
  }
  s->shape = BXG_VALUE;
  return bxg_value_type(p, t, BXG_CTX_FIELD, &f->loc, f->what, &s->type);
}

/* A DAO model (a BX_DAO_ID field): one id, an integer or string; every field an integer, a
 * float, a bool, a string, an array of strings or a BX_DATE double. */
static bool types_dao_check(bxg_user *u) {
  size_t ids = 0;
  bool ok = true;

  for (size_t i = 0; i < u->nfields; i++)
    ids += u->fields[i].dao_id;
  for (size_t i = 0; i < u->nfields; i++) {
    const bxg_slot *s = &u->fields[i];
    bxg_kind k = s->type.kind;
    bool scalar = s->shape == BXG_VALUE &&
                  (bxg_kind_is_int(k) || k == BXG_FLOAT || k == BXG_DOUBLE || k == BXG_BOOL);
    bool text = s->shape == BXG_VALUE && k == BXG_STRING;
    bool texts = s->shape == BXG_ARRAY && k == BXG_STRING;

    if (s->dao_id && !(text || (s->shape == BXG_VALUE && bxg_kind_is_int(k)))) {
      bxg_error(&s->loc, "field '%s' of '%s': BX_DAO_ID needs an integer or a string", s->name,
                u->c_type);
      ok = false;
    }
    if (s->date && !(s->shape == BXG_VALUE && k == BXG_DOUBLE)) {
      bxg_error(&s->loc, "field '%s' of '%s': BX_DATE needs a double (epoch ms)", s->name,
                u->c_type);
      ok = false;
    }
    if (ids > 0 && !(scalar || text || texts) && s->dao_id == false) {
      bxg_error(&s->loc,
                "field '%s' of '%s': a DAO model holds integers, floats, bools, strings and "
                "arrays of strings",
                s->name, u->c_type);
      ok = false;
    }
  }
  if (ids > 1) {
    bxg_error(&u->loc, "struct '%s': more than one BX_DAO_ID field", u->c_type);
    ok = false;
  }
  u->dao_model = ok && ids == 1;
  return ok;
}

static bool types_struct_fields(bxg_parser *p, bxg_user *u, CXCursor def) {
  types_fields fs = {p, u, NULL, 0, 0};
  bool ok = true;

  clang_visitChildren(def, types_field_visit, &fs);
  for (size_t i = 0; i < fs.n; i++)
    ok = fs.items[i].ok && ok;
  ok = ok && types_link_counts(&fs);
  u->fields = bxg_xcalloc(fs.n, sizeof *u->fields);
  for (size_t i = 0; ok && i < fs.n; i++) {
    if (fs.items[i].is_count) continue;
    ok = types_field_slot(p, &fs, &fs.items[i], &u->fields[u->nfields++]);
    u->owns = u->owns || (ok && bxg_slot_owns(&u->fields[u->nfields - 1]));
  }
  ok = ok && types_dao_check(u);
  for (size_t i = 0; i < fs.n; i++) {
    free(fs.items[i].name);
    free(fs.items[i].what);
    bxg_annots_free(&fs.items[i].a);
  }
  free(fs.items);
  return ok;
}

/* ---- finding and building user types ---- */

static bxg_user *types_new_user(bxg_parser *p, CXCursor def, CXCursor *td) {
  bxg_user *u = bxg_xcalloc(1, sizeof *u);
  char *tag = bxg_cursor_name(def);

  u->is_struct = clang_getCursorKind(def) == CXCursor_StructDecl;
  u->usr = types_take(clang_getCursorUSR(def));
  u->loc = bxg_cursor_loc(p, def);
  u->ident = types_typedef_name(p, u->usr, td);
  if (u->ident != NULL) {
    u->c_type = bxg_xstrdup(u->ident);
    free(tag);
  } else {
    u->c_type = bxg_strf("%s %s", u->is_struct ? "struct" : "enum", tag);
    u->ident = tag;
  }
  bxg_grow((void **)&p->m->users, &p->nusers_cap, p->m->nusers, sizeof *p->m->users);
  p->m->users[p->m->nusers++] = u;
  return u;
}

static bool types_check_decl(bxg_parser *p, CXCursor def, CXType c, const bxg_loc *loc,
                             const char *what) {
  char *s = bxg_spelling(c);
  bool ok = false;

  if (clang_Cursor_isNull(def))
    bxg_error(loc, "%s: '%s' is incomplete (declared but not defined)", what, s);
  else if (clang_getCursorKind(def) == CXCursor_UnionDecl)
    bxg_error(loc, "%s: unions are not supported ('%s')", what, s);
  else if (!bxg_in_main_file(p, def))
    bxg_error(loc,
              "%s: '%s' is declared in another header; structs and enums must be declared in "
              "the interface header",
              what, s);
  else
    ok = true;
  free(s);
  return ok;
}

static bool types_has_name(bxg_parser *p, CXCursor def) {
  char *usr = types_take(clang_getCursorUSR(def)), *tag = bxg_cursor_name(def);
  CXCursor td;
  char *name = types_typedef_name(p, usr, &td);
  bool ok = name != NULL || (*tag != '\0' && !clang_Cursor_isAnonymous(def));

  free(usr);
  free(tag);
  free(name);
  return ok;
}

static bxg_user *types_user(bxg_parser *p, CXType c, const bxg_loc *loc, const char *what) {
  CXCursor def = clang_getCursorDefinition(clang_getTypeDeclaration(c));
  CXCursor td;
  char *usr;
  bxg_user *u;
  bool ok;

  if (!types_check_decl(p, def, c, loc, what)) return NULL;
  usr = types_take(clang_getCursorUSR(def));
  u = types_find(p, usr);
  free(usr);
  if (u != NULL) return u;
  if (!types_has_name(p, def)) {
    bxg_error(loc, "%s: an unnamed struct or enum is not supported (give it a tag or a typedef)",
              what);
    return NULL;
  }
  u = types_new_user(p, def, &td);
  if (u->is_struct)
    ok = types_class(p, u, def, td) && types_struct_fields(p, u, def);
  else
    ok = types_enum(p, u, def, td);
  return ok ? u : NULL;
}

/* ---- value types ---- */

static bool types_quals(CXType t, const bxg_loc *loc, const char *what) {
  if (clang_isVolatileQualifiedType(t) || clang_isRestrictQualifiedType(t)) {
    char *s = bxg_spelling(t);
    bxg_error(loc, "%s: volatile and restrict are not supported ('%s')", what, s);
    free(s);
    return false;
  }
  return true;
}

static const char *types_record_name(CXType c, char **buf) {
  *buf = bxg_cursor_name(clang_getTypeDeclaration(c));
  return *buf;
}

/* cJSON * and bx_box * are recognised by their struct names. */
bool bxg_special_pointee(CXType pointee, bxg_kind *kind) {
  CXType c = clang_getCanonicalType(pointee);
  char *name = NULL;
  bool found = false;

  if (c.kind != CXType_Record) return false;
  if (strcmp(types_record_name(c, &name), "cJSON") == 0) {
    *kind = BXG_JSON;
    found = true;
  } else if (strcmp(name, "bx_box") == 0) {
    *kind = BXG_BOX;
    found = true;
  }
  free(name);
  return found;
}

static const char *types_pointer_hint(bxg_ctx ctx) {
  switch (ctx) {
  case BXG_CTX_PARAM:
    return "a pointer parameter needs BX_OUT, BX_INOUT or BX_COUNT(n)";
  case BXG_CTX_FIELD:
    return "a pointer field needs BX_COUNT(n) (an array) or BX_NULLABLE (an optional struct)";
  default:
    return "pointers to pointers are only supported for strings";
  }
}

static bool types_pointer_value(CXType t, bxg_ctx ctx, const bxg_loc *loc, const char *what,
                                bxg_vtype *out) {
  CXType pointee = bxg_pointee(t);
  enum CXTypeKind pk = clang_getCanonicalType(pointee).kind;
  char *s;

  if (!types_quals(pointee, loc, what)) return false;
  if (pk == CXType_Char_S || pk == CXType_Char_U) {
    out->kind = BXG_STRING;
    out->c_type = bxg_spelling(t);
    return true;
  }
  if (bxg_special_pointee(pointee, &out->kind)) {
    if (out->kind == BXG_BOX && clang_isConstQualifiedType(pointee)) {
      bxg_error(loc, "%s: a box is passed as 'bx_box *', not 'const bx_box *'", what);
      return false;
    }
    out->c_type = bxg_spelling(t);
    return true;
  }
  s = bxg_spelling(t);
  if (pk == CXType_Void)
    bxg_error(loc, "%s: 'void *' is not supported (bxgen must know the type)", what);
  else if (pk == CXType_FunctionProto || pk == CXType_FunctionNoProto)
    bxg_error(loc, "%s: function pointers are not supported", what);
  else
    bxg_error(loc, "%s: unsupported type '%s': %s", what, s, types_pointer_hint(ctx));
  free(s);
  return false;
}

bool bxg_value_type(bxg_parser *p, CXType t, bxg_ctx ctx, const bxg_loc *loc, const char *what,
                    bxg_vtype *out) {
  CXType c = clang_getCanonicalType(t);
  int scalar;
  char *s;

  memset(out, 0, sizeof *out);
  if (!types_quals(t, loc, what)) return false;
  scalar = types_scalar(c, loc, what, &out->kind);
  if (scalar != 0) {
    out->c_type = scalar > 0 ? bxg_spelling(t) : NULL;
    return scalar > 0;
  }
  switch (c.kind) {
  case CXType_Enum:
  case CXType_Record:
    if (bxg_special_pointee(c, &out->kind)) {
      s = bxg_spelling(t);
      bxg_error(loc, "%s: '%s' is used through a pointer: '%s *' (an output: 'BX_OUT %s **')", what,
                s, s, s);
      free(s);
      return false;
    }
    out->kind = c.kind == CXType_Enum ? BXG_ENUM : BXG_STRUCT;
    out->user = types_user(p, c, loc, what);
    out->c_type = out->user ? bxg_xstrdup(out->user->c_type) : NULL;
    return out->user != NULL;
  case CXType_Pointer:
    return types_pointer_value(t, ctx, loc, what, out);
  case CXType_ConstantArray:
  case CXType_IncompleteArray:
  case CXType_VariableArray:
    bxg_error(loc, "%s: fixed-size arrays are not supported: use 'T *items BX_COUNT(n)'", what);
    return false;
  default:
    s = bxg_spelling(t);
    bxg_error(loc, "%s: unsupported type '%s'", what, s);
    free(s);
    return false;
  }
}

bool bxg_nullable_type(bxg_parser *p, CXType t, const bxg_loc *loc, const char *what,
                       bxg_vtype *out) {
  CXType pointee;
  enum CXTypeKind pk;
  bxg_kind special;

  memset(out, 0, sizeof *out);
  pointee = bxg_pointee(t);
  pk = clang_getCanonicalType(pointee).kind;
  if (!bxg_is_pointer(t) || (pk != CXType_Record && pk != CXType_Char_S && pk != CXType_Char_U) ||
      bxg_special_pointee(pointee, &special)) {
    bxg_error(loc, "%s: BX_NULLABLE applies to struct pointers and strings", what);
    return false;
  }
  if (pk == CXType_Record) return bxg_value_type(p, pointee, BXG_CTX_ITEM, loc, what, out);
  return bxg_value_type(p, t, BXG_CTX_ITEM, loc, what, out);
}

bool bxg_count_type(bxg_parser *p, CXType t, const bxg_loc *loc, const char *what, bxg_vtype *out) {
  switch (clang_getCanonicalType(t).kind) {
  case CXType_SChar:
  case CXType_UChar:
  case CXType_Short:
  case CXType_UShort:
  case CXType_Int:
  case CXType_UInt:
  case CXType_Long:
  case CXType_ULong:
  case CXType_LongLong:
  case CXType_ULongLong:
    return bxg_value_type(p, t, BXG_CTX_ITEM, loc, what, out);
  default:
    bxg_error(loc, "%s: an array count must have an integer type", what);
    return false;
  }
}

/* ---- freeing ---- */

void bxg_vtype_free(bxg_vtype *t) {
  free(t->c_type);
  t->c_type = NULL;
}

void bxg_slot_free(bxg_slot *s) {
  free(s->name);
  free(s->count_name);
  bxg_vtype_free(&s->type);
  bxg_vtype_free(&s->count);
}

void bxg_user_free(bxg_user *u) {
  for (size_t i = 0; i < u->nfields; i++)
    bxg_slot_free(&u->fields[i]);
  for (size_t i = 0; i < u->nvalues; i++)
    free(u->values[i]);
  free(u->fields);
  free(u->values);
  free(u->usr);
  free(u->c_type);
  free(u->ident);
  free(u->class_name);
  free(u);
}

/* ---- DAO models that no method mentions ---- */

static enum CXChildVisitResult types_dao_attr(CXCursor c, CXCursor parent, CXClientData d) {
  (void)parent;
  if (clang_getCursorKind(c) == CXCursor_AnnotateAttr) {
    CXString s = clang_getCursorSpelling(c);
    if (strcmp(clang_getCString(s), "bx:dao-id") == 0) *(bool *)d = true;
    clang_disposeString(s);
  }
  return CXChildVisit_Continue;
}

static enum CXChildVisitResult types_dao_field(CXCursor c, CXCursor parent, CXClientData d) {
  (void)parent;
  if (clang_getCursorKind(c) == CXCursor_FieldDecl) clang_visitChildren(c, types_dao_attr, d);
  return CXChildVisit_Continue;
}

void bxg_dao_models(bxg_parser *p) {
  for (size_t i = 0; i < p->typedef_usrs.n; i++) {
    CXType u = clang_getCanonicalType(clang_getTypedefDeclUnderlyingType(p->typedefs[i]));
    CXCursor def = clang_getCursorDefinition(clang_getTypeDeclaration(u));
    bool dao = false;

    if (u.kind != CXType_Record || clang_Cursor_isNull(def)) continue;
    clang_visitChildren(def, types_dao_field, &dao);
    if (dao) {
      bxg_loc loc = bxg_cursor_loc(p, def);
      types_user(p, u, &loc, "DAO model");
    }
  }
}
