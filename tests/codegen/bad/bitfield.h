#include <bx/idl.h>
BX_INTERFACE(calc);
typedef struct calc_flags {
  unsigned a : 1;
  unsigned b : 1;
} calc_flags;
int calc_set(calc_flags f);
