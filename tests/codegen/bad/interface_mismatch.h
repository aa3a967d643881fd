#include <bx/idl.h>
BX_INTERFACE(other);
int other_add(int a);
