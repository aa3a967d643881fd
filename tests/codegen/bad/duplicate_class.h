#include <bx/idl.h>
BX_INTERFACE(calc);
typedef struct calc_a {
  int x;
} calc_a BX_CLASS("calc.Thing");
typedef struct calc_b {
  int y;
} calc_b BX_CLASS("calc.Thing");
int calc_use(calc_a a, calc_b b);
