#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_sum(const int *xs BX_COUNT(n), double n);
