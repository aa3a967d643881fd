#include <bx/idl.h>
BX_INTERFACE(calc);
struct calc_holder {
  struct {
    int x;
  } inner;
};
int calc_hold(const struct calc_holder *h);
