#include <bx/idl.h>
BX_INTERFACE(calc);
void calc_add(int a, int b);
