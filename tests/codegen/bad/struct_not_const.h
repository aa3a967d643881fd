#include <bx/idl.h>
BX_INTERFACE(calc);
typedef struct calc_point {
  double x, y;
} calc_point;
int calc_move(calc_point *p);
