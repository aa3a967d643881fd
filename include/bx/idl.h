/* Annotations for interface headers read by bxgen (docs/codegen.md).
 *
 * An interface header is an ordinary C header. BX_INTERFACE(name) names the interface; every
 * function declared in that header whose name starts with "<name>_" is a method, called on
 * the wire by the rest of its name (calc_add -> "add"). A method returns int: 0 for success, a
 * negative code for an application error. Results are out parameters.
 *
 * For an ordinary compiler every macro below expands to nothing; bxgen defines BX_CODEGEN and
 * reads them as clang annotations.
 */
#ifndef BX_IDL_H
#define BX_IDL_H

/* BX_INTERFACE(name) or BX_INTERFACE(name, version): the version (a positive integer, bumped
 * when the interface grows) is the generated bx_interface's `version`, for tooling to show. */
#define BX__IFACE_PICK(a, b, m, ...) m
#define BX_INTERFACE(...) \
  BX__IFACE_PICK(__VA_ARGS__, BX__INTERFACE_V, BX__INTERFACE_1, unused)(__VA_ARGS__)
#ifdef BX_CODEGEN
#define BX__ANNOTATE(s) __attribute__((annotate(s)))
/* A declaration that carries the interface name (and version) for the generator. */
#define BX__INTERFACE_1(name) extern int bx__interface_##name BX__ANNOTATE("bx:interface=" #name)
#define BX__INTERFACE_V(name, v)                                                         \
  extern int bx__interface_##name BX__ANNOTATE("bx:interface=" #name) BX__ANNOTATE("bx:" \
                                                                                   "version=" #v)
#else
#define BX__ANNOTATE(s)
#define BX__INTERFACE_1(name) struct bx__interface_##name##_unused
#define BX__INTERFACE_V(name, v) struct bx__interface_##name##_unused
#endif

/* Parameter annotations. */
#define BX_OUT BX__ANNOTATE("bx:out")           /* T *p: a result written by the callee */
#define BX_INOUT BX__ANNOTATE("bx:inout")       /* T *p: read, then a result written back */
#define BX_NULLABLE BX__ANNOTATE("bx:nullable") /* T *p: NULL <-> JSON null */
#define BX_COUNT(n)                                                  \
  BX__ANNOTATE("bx:count=" #n) /* T *p: an array of n elements (n: a \
                                  parameter or field of integer type) */
/* Function annotation: a notification with no reply (no out parameters allowed). */
#define BX_ONEWAY BX__ANNOTATE("bx:oneway")
/* Struct annotation (on the typedef): the FOAM class name on the wire. The default is
 * "<interface>.<TypeName>" with the interface prefix removed and the name in CamelCase
 * (calc_point -> "calc.Point"). */
#define BX_CLASS(cls) BX__ANNOTATE("bx:class=" cls)
/* Field annotations of DAO models (docs/dao.md): a struct with a BX_DAO_ID field is a DAO
 * model; bxgen emits its bx_dao_model table and a typed C API (<type>_to_dao, _from_dao,
 * _dao_clear) into the generated headers. BX_DATE marks a double field holding a FOAM
 * DateTime in epoch ms (NAN: absent). */
#define BX_DAO_ID BX__ANNOTATE("bx:dao-id")
#define BX_DATE BX__ANNOTATE("bx:date")

#endif /* BX_IDL_H */
