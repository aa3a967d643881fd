#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_put(char *text);
