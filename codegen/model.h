/* bxgen's model of an interface header: what parse.c reads with libclang and what the emitters
 * print. Everything here is owned by the bxg_model and freed by bxg_model_free(). */
#ifndef BXG_MODEL_H
#define BXG_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* The value kinds, in the order of bx_kind (include/bx/rpc.h). */
typedef enum bxg_kind {
  BXG_BOOL,
  BXG_INT8,
  BXG_INT16,
  BXG_INT32,
  BXG_INT64,
  BXG_UINT8,
  BXG_UINT16,
  BXG_UINT32,
  BXG_UINT64,
  BXG_FLOAT,
  BXG_DOUBLE,
  BXG_STRING,
  BXG_ENUM,
  BXG_STRUCT,
  BXG_JSON,
  BXG_BOX
} bxg_kind;

typedef struct bxg_user bxg_user;

/* One value's type. */
typedef struct bxg_vtype {
  bxg_kind kind;
  bxg_user *user; /* ENUM, STRUCT: the user type (owned by the model's list) */
  char *c_type;   /* its unqualified C spelling: "int64_t", "calc_point", "const char *" */
} bxg_vtype;

typedef enum bxg_shape {
  BXG_VALUE,    /* the value itself */
  BXG_NULLABLE, /* a pointer that may be NULL (strings: the char * itself) */
  BXG_ARRAY     /* items and a count */
} bxg_shape;

/* A value on the wire: a struct field, an argument or a result. */
typedef struct bxg_slot {
  char *name; /* wire name (the C field or parameter name) */
  bxg_shape shape;
  bxg_vtype type;   /* VALUE: the value; NULLABLE: the target; ARRAY: one item */
  char *count_name; /* ARRAY: the C name of the count field or parameter */
  bxg_vtype count;  /* ARRAY: the count's integer type */
  bxg_loc loc;
  bool dao_id; /* a DAO model's id field (BX_DAO_ID) */
  bool date;   /* a DAO model's date field (BX_DATE) */
} bxg_slot;

/* A struct or enum declared in the interface header. */
struct bxg_user {
  bool is_struct;
  char *usr;        /* clang's unique id of the declaration */
  char *c_type;     /* "calc_point" (the typedef) or "struct calc_point" */
  char *ident;      /* the identifier generated names start with: "calc_point" */
  char *class_name; /* STRUCT: FOAM class on the wire */
  bxg_slot *fields; /* STRUCT: wire fields in declaration order (counts excluded) */
  size_t nfields;
  char **values; /* ENUM: enumerator names */
  size_t nvalues;
  bxg_loc loc;
  bool owns;      /* STRUCT: holds memory to free (strings, arrays, ...) */
  bool dao_model; /* STRUCT: has a BX_DAO_ID field (emit_dao.c) */
};

typedef enum bxg_dir { BXG_IN, BXG_OUT, BXG_INOUT } bxg_dir;

typedef struct bxg_param {
  char *name;
  char *decl;   /* declared C type, annotations and top-level const dropped */
  char *member; /* C type of its member in the args or result struct */
  bxg_dir dir;
  bool by_ref;   /* an input struct passed as const T *: the member holds the value */
  bool is_count; /* the count of an array parameter: travels as that array's length */
  int count;     /* an array: index of its count parameter; otherwise -1 */
  bxg_slot slot; /* the wire value (not for counts) */
  bxg_loc loc;
} bxg_param;

typedef struct bxg_method {
  char *c_name; /* "calc_add" */
  char *name;   /* wire name: "add" */
  bool oneway;
  bxg_param *params;
  size_t nparams;
  size_t nin;  /* wire arguments (IN and INOUT, counts excluded) */
  size_t nout; /* results (OUT and INOUT, counts excluded) */
  bxg_loc loc;
} bxg_method;

/* An array or nullable type built over a value type; emitted once per file. */
typedef struct bxg_derived {
  bxg_shape shape;
  bxg_vtype elem; /* borrowed from the first slot that needed it */
  char *name;     /* descriptor identifier */
} bxg_derived;

typedef struct bxg_model {
  char *iface;      /* interface name */
  unsigned version; /* BX_INTERFACE(name, version); 0: none given */
  char *header;     /* file name the generated code includes */
  bxg_loc iface_loc;
  bxg_method *methods;
  size_t nmethods;
  bxg_user **users; /* reachable structs and enums, in declaration order */
  size_t nusers;
  bxg_user **daos; /* DAO models no method mentions (emit_dao.c only) */
  size_t ndaos;
  bxg_derived *derived;
  size_t nderived;
  bxg_strs files; /* string pool for bxg_loc.file */
} bxg_model;

/* Options of one run (main.c). */
typedef struct bxg_options {
  const char *header;
  const char *outdir;
  const char *depfile;
  const char *stamp;
  const char *expect_iface;
  bxg_strs clang_args; /* -I, -D as clang arguments */
} bxg_options;

/* parse.c: reads the header into model; on success fills deps (every file the header opened,
 * absolute) and returns 0; otherwise prints diagnostics and returns -1. */
int bxg_parse(const bxg_options *opt, bxg_model *model, bxg_strs *deps);
void bxg_model_free(bxg_model *model);

/* Helpers over the model (names.c). */
bool bxg_kind_is_int(bxg_kind k);
bool bxg_kind_is_scalar(bxg_kind k); /* bool, integers, floats: no memory, no descriptor */
const char *bxg_kind_short(bxg_kind k);
bool bxg_slot_owns(const bxg_slot *s);
/* Derived descriptor of a NULLABLE or ARRAY slot (NULL for VALUE). */
const bxg_derived *bxg_derived_of(const bxg_model *m, const bxg_slot *s);
/* "&bx_type_int32", "&calc_point_type", "&calc_array_int32_type" (malloc'd). */
char *bxg_type_ref(const bxg_model *m, const bxg_slot *s);
char *bxg_vtype_ref(const bxg_vtype *t);
/* Computes m->derived from every slot; call once after parsing. */
void bxg_model_derive(bxg_model *m);
/* Every file-scope identifier the generated files define, each with the declaration it was
 * made for (collision checks). */
typedef struct bxg_gname {
  char *name;
  bxg_loc loc;
} bxg_gname;

typedef struct bxg_gnames {
  bxg_gname *items;
  size_t n;
  size_t cap;
} bxg_gnames;

void bxg_generated_names(const bxg_model *m, bxg_gnames *out);
void bxg_gnames_free(bxg_gnames *g);

/* emit_*.c: each returns the text of one generated file (malloc'd). */
char *bxg_emit_skeleton_h(const bxg_model *m);
char *bxg_emit_skeleton_c(const bxg_model *m);
char *bxg_emit_stub_h(const bxg_model *m);
char *bxg_emit_stub_c(const bxg_model *m);
/* emit_dao.c: the DAO models (structs with BX_DAO_ID) as a guarded block of a header. */
void bxg_emit_dao_models(bxg_buf *b, const bxg_model *m);

#endif /* BXG_MODEL_H */
