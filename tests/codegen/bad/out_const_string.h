#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_name(BX_OUT const char **name);
