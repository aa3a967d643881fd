#include <bx/idl.h>
BX_INTERFACE(calc);
static inline int calc_twice(int x) {
  return 2 * x;
}
