#include <bx/idl.h>
BX_INTERFACE(calc);
typedef struct calc_rgb {
  unsigned char c[3];
} calc_rgb;
int calc_paint(calc_rgb color);
