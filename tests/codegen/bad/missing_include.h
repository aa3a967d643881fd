#include <bx/idl.h>
#include "no_such_header.h"
BX_INTERFACE(calc);
int calc_add(int a);
