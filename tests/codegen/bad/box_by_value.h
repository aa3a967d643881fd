#include <bx.h>
BX_INTERFACE(calc);
int calc_give(BX_OUT bx_box *b);
