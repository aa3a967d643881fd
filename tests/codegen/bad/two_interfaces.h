#include <bx/idl.h>
BX_INTERFACE(calc);
BX_INTERFACE(other);
int calc_add(int a);
