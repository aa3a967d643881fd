/* bxgen: the parser's state, shared by parse.c (translation unit, interface, methods) and
 * types.c (value types, structs, enums). */
#ifndef BXG_PARSE_H
#define BXG_PARSE_H

#include <clang-c/Index.h>

#include "model.h"

/* Annotations found on one declaration (include/bx/idl.h). */
enum {
  BXG_A_OUT = 1u << 0,
  BXG_A_INOUT = 1u << 1,
  BXG_A_NULLABLE = 1u << 2,
  BXG_A_COUNT = 1u << 3,
  BXG_A_ONEWAY = 1u << 4,
  BXG_A_CLASS = 1u << 5,
  BXG_A_IFACE = 1u << 6,
  BXG_A_VERSION = 1u << 7,
  BXG_A_DAO_ID = 1u << 8, /* a DAO model's id field */
  BXG_A_DATE = 1u << 9    /* a DAO model's date field (double, epoch ms) */
};

typedef struct bxg_annots {
  unsigned set;     /* BXG_A_* */
  char *count;      /* BX_COUNT(n): n */
  char *class_name; /* BX_CLASS("x.Y") */
  char *iface;      /* BX_INTERFACE(name) */
  char *version;    /* BX_INTERFACE(name, version): version */
} bxg_annots;

/* Where a type is used: decides which hint a diagnostic gives. */
typedef enum bxg_ctx { BXG_CTX_PARAM, BXG_CTX_FIELD, BXG_CTX_ITEM } bxg_ctx;

typedef struct bxg_decl_name {
  char *name;
  bxg_loc loc;
} bxg_decl_name;

typedef struct bxg_parser {
  CXTranslationUnit tu;
  CXFile main_file;
  bxg_model *m;
  size_t nusers_cap;
  /* Typedefs declared in the main file naming a struct or enum, keyed by its USR. */
  bxg_strs typedef_usrs;
  CXCursor *typedefs;
  size_t typedefs_cap;
  /* Functions declared in the main file, without redeclarations. */
  CXCursor *functions;
  size_t nfunctions;
  size_t functions_cap;
  bxg_strs function_usrs;
  /* Every file-scope name the translation unit declares (open addressing, for collisions). */
  bxg_decl_name *names;
  size_t names_cap;
  size_t names_len;
} bxg_parser;

/* types.c */
const char *bxg_intern(bxg_parser *p, const char *file); /* a file name for bxg_loc */
bxg_loc bxg_cursor_loc(bxg_parser *p, CXCursor c);
bool bxg_in_main_file(bxg_parser *p, CXCursor c);
char *bxg_cursor_name(CXCursor c);
/* The C spelling of t without its top-level const (malloc'd). */
char *bxg_spelling(CXType t);
/* Reads the bx annotations of c; diagnoses unknown ones and any outside `allowed`. */
bool bxg_annots_read(bxg_parser *p, CXCursor c, unsigned allowed, const bxg_loc *loc,
                     const char *what, bxg_annots *a);
void bxg_annots_free(bxg_annots *a);
/* Classifies a value type (scalar, enum, struct, string, cJSON *, bx_box *). */
bool bxg_value_type(bxg_parser *p, CXType t, bxg_ctx ctx, const bxg_loc *loc, const char *what,
                    bxg_vtype *out);
/* The target of a BX_NULLABLE pointer: a struct or a string. */
bool bxg_nullable_type(bxg_parser *p, CXType t, const bxg_loc *loc, const char *what,
                       bxg_vtype *out);
/* The integer type of a count. */
bool bxg_count_type(bxg_parser *p, CXType t, const bxg_loc *loc, const char *what, bxg_vtype *out);
bool bxg_is_pointer(CXType t);
/* Whether pointee makes a cJSON * (BXG_JSON) or a bx_box * (BXG_BOX). */
bool bxg_special_pointee(CXType pointee, bxg_kind *kind);
CXType bxg_pointee(CXType t); /* keeps typedef names */
void bxg_vtype_free(bxg_vtype *t);
void bxg_slot_free(bxg_slot *s);
void bxg_user_free(bxg_user *u);

/* types.c: adds the structs with a BX_DAO_ID field (DAO models) that no method mentions. */
void bxg_dao_models(bxg_parser *p);

#endif /* BXG_PARSE_H */
