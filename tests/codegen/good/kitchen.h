/* Every supported type and annotation, in one interface ("kitchen sink"): the golden test of
 * the type mapping (docs/codegen.md). Includes the bx headers piecewise instead of <bx.h>. */
#ifndef KITCHEN_H
#define KITCHEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <bx/common.h>
#include <bx/idl.h>

BX_INTERFACE(kitchen, 3);

typedef enum kitchen_color { KITCHEN_RED = 1, KITCHEN_GREEN = 2, KITCHEN_BLUE = -4 } kitchen_color;

enum kitchen_size { KITCHEN_SMALL, KITCHEN_LARGE }; /* no typedef */

/* Every scalar: the fixed-width types and the plain integer types (mapped by size). */
typedef struct kitchen_scalars {
  bool b;
  int8_t i8;
  int16_t i16;
  int32_t i32;
  int64_t i64;
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  signed char sc;
  unsigned char uc;
  short s;
  unsigned short us;
  int i;
  unsigned u;
  long l;
  unsigned long ul;
  long long ll;
  size_t sz;
  float f;
  double d;
} kitchen_scalars;

/* A list: a nullable pointer to the struct itself. */
typedef struct kitchen_node kitchen_node;
struct kitchen_node {
  const char *name;
  kitchen_node *next BX_NULLABLE;
};

/* A struct without typedef, its class set on the struct. */
struct BX_CLASS("org.example.Tag") kitchen_tag {
  const char *text;
};

typedef struct kitchen_big_thing {
  kitchen_scalars scalars; /* nested by value */
  const char *title;
  char *note BX_NULLABLE;
  kitchen_color color;
  enum kitchen_size size;
  int32_t *values BX_COUNT(n_values);
  size_t n_values;
  uint16_t n_tags; /* a count declared before its array */
  const char **tags BX_COUNT(n_tags);
  struct kitchen_tag *first BX_NULLABLE;
  kitchen_node *items BX_COUNT(n_items);
  int n_items;
  kitchen_color *colors BX_COUNT(n_colors);
  unsigned n_colors;
  cJSON *extra;
  bx_box *owner;
} kitchen_big_thing; /* class "kitchen.BigThing" */

/* The class set on the typedef. */
typedef struct kitchen_pair {
  int32_t left;
  int32_t right;
} kitchen_pair BX_CLASS("org.example.Pair");

int kitchen_scalars_echo(kitchen_scalars in, BX_OUT kitchen_scalars *out);
int kitchen_numbers(bool b, int8_t i8, uint64_t u64, long l, unsigned short us, size_t sz, float f,
                    double d, BX_OUT bool *ob, BX_OUT uint64_t *ou64, BX_OUT float *of);
int kitchen_strings(const char *s, const char *maybe BX_NULLABLE, BX_OUT char **out,
                    BX_OUT BX_NULLABLE char **maybe_out);
int kitchen_thing(const kitchen_big_thing *in, const kitchen_big_thing *maybe BX_NULLABLE,
                  kitchen_pair pair, BX_OUT kitchen_big_thing *out,
                  BX_OUT BX_NULLABLE kitchen_big_thing **maybe_out);
int kitchen_arrays(size_t n_in, const double *in BX_COUNT(n_in),
                   const char *const *names BX_COUNT(n_names), int n_names,
                   const kitchen_node *nodes BX_COUNT(n_nodes), uint32_t n_nodes,
                   BX_OUT double **out BX_COUNT(n_out), BX_OUT size_t *n_out,
                   BX_OUT char ***names_out BX_COUNT(n_names_out), BX_OUT int32_t *n_names_out);
int kitchen_json(cJSON *in, const cJSON *cin, BX_OUT cJSON **out);
int kitchen_boxes(bx_box *in, BX_OUT bx_box **out);
int kitchen_inout(BX_INOUT int64_t *counter, BX_INOUT kitchen_color *color, int32_t step,
                  BX_OUT bool *wrapped);
int kitchen_enums(kitchen_color c, enum kitchen_size s, BX_OUT kitchen_color *oc,
                  BX_OUT enum kitchen_size *os, const kitchen_color *cs BX_COUNT(n), size_t n,
                  BX_OUT kitchen_color **ocs BX_COUNT(on), BX_OUT size_t *on);
int kitchen_tags(const struct kitchen_tag *tag, BX_OUT struct kitchen_tag **all BX_COUNT(n),
                 BX_OUT size_t *n);
BX_ONEWAY int kitchen_log(const char *line, int32_t level);
BX_ONEWAY int kitchen_ping(void);
int kitchen_nothing(void);

/* Not methods: no "kitchen_" prefix, or not functions. */
extern int kitchen_helper_count;
static inline int helper_twice(int x) {
  return 2 * x;
}

#endif
