#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_add(int a, int b, BX_OUT int *sum);
int calc_add_sync(int a);
