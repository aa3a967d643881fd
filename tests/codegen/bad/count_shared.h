#include <stddef.h>
#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_dot(const int *xs BX_COUNT(n), const int *ys BX_COUNT(n), size_t n);
