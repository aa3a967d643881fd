#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_each(int (*fn)(int));
