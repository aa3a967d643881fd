#include <bx/idl.h>
BX_INTERFACE(calc);
typedef struct calc_opaque calc_opaque;
int calc_use(const calc_opaque *o);
