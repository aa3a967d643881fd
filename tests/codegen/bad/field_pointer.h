#include <bx/idl.h>
BX_INTERFACE(calc);
typedef struct calc_point {
  double x, y;
} calc_point;
typedef struct calc_line {
  calc_point *from;
  calc_point *to;
} calc_line;
int calc_draw(const calc_line *line);
