#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_use(int a BX_CLASS("calc.A"));
