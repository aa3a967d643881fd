#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_use(int a __attribute__((annotate("bx:optional"))));
