#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_put(const int *x BX_NULLABLE);
