#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_get(BX_OUT int value);
