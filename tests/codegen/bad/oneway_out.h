#include <bx/idl.h>
BX_INTERFACE(calc);
BX_ONEWAY int calc_get(BX_OUT int *value);
