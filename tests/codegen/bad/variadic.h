#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_log(const char *fmt, ...);
