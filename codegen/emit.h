/* bxgen: pieces shared by the skeleton and stub emitters (emit_common.c). */
#ifndef BXG_EMIT_H
#define BXG_EMIT_H

#include "model.h"

/* "double" + "a" -> "double a"; "const char *" + "s" -> "const char *s" (malloc'd). */
char *bxg_var(const char *type, const char *name);
/* A pointer to const T: "int32_t" -> "const int32_t *"; "char *" -> "char *const *". */
char *bxg_const_ptr(const char *type);
/* "calc" -> "CALC". */
char *bxg_upper(const char *s);

/* The first lines of every file: what generated it, from which header. */
void bxg_emit_banner(bxg_buf *b, const bxg_model *m, const char *summary);
/* A generated header's opening (banner, include guard <IFACE>_<SIDE>_H, includes, extern "C")
 * and closing; side is "SKELETON" or "STUB". */
void bxg_emit_header_open(bxg_buf *b, const bxg_model *m, const char *side, const char *summary);
void bxg_emit_header_close(bxg_buf *b, const bxg_model *m, const char *side);
/* Static asserts, the user type descriptors, and each method's args/result structs and
 * descriptors: everything both .c files define as static copies. */
void bxg_emit_tables(bxg_buf *b, const bxg_model *m);
/* The method table (with invoke thunks when `invoke`), the class list and the interface. */
void bxg_emit_interface(bxg_buf *b, const bxg_model *m, bool invoke, const char *var);
/* Index of m in the model's method table. */
size_t bxg_method_index(const bxg_model *model, const bxg_method *m);

#endif /* BXG_EMIT_H */
