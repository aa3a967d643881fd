#include <stddef.h>
#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_sum(const int *xs BX_COUNT(n * 2), size_t n);
