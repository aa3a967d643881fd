#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_edit(BX_INOUT char **text);
