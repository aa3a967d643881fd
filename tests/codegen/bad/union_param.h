#include <bx/idl.h>
BX_INTERFACE(calc);
typedef union calc_num {
  int i;
  double d;
} calc_num;
int calc_put(calc_num n);
