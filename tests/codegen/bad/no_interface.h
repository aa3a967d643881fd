#include <bx/idl.h>
int calc_add(int a, int b);
