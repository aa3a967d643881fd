#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_len(const char *s, BX_OUT size_t *n); /* no <stddef.h>: size_t is unknown */
