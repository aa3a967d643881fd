#include <bx/idl.h>
BX_INTERFACE(calc);
typedef struct calc_a {
  int x;
} calc_a BX_CLASS("calc..A");
int calc_use(calc_a a);
