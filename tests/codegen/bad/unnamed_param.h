#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_add(int, int b);
