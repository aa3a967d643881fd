#include <bx/idl.h>
#include "foreign_types.inc"
BX_INTERFACE(calc);
int calc_move(const shared_point *p);
