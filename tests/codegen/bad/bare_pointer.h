#include <stdint.h>
#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_get(int32_t *value);
