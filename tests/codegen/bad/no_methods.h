#include <bx/idl.h>
BX_INTERFACE(calc);
int add(int a);
