#include <stddef.h>
#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_range(BX_OUT int **xs BX_COUNT(n), size_t n);
