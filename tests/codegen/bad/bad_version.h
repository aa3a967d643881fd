#include <bx.h>
BX_INTERFACE(v, 0);
int v_ping(void);
