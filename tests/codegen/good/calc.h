/* The calculator interface of the bxgen docs (docs/codegen.md): the golden test of the
 * conventions' example. */
#ifndef CALC_H
#define CALC_H

#include <stdint.h>
#include <stddef.h>
#include <bx.h>

BX_INTERFACE(calc);

typedef struct calc_point {
  double x;
  double y;
  const char *label;
} calc_point; /* class "calc.Point" */

typedef enum calc_mode { CALC_FAST, CALC_EXACT } calc_mode;

int calc_add(double a, double b, BX_OUT double *sum);
int calc_echo(const char *text, BX_OUT char **echoed);
int calc_fail(void);
BX_ONEWAY int calc_notify(const char *note);
int calc_scale(const calc_point *p, double k, BX_OUT calc_point *scaled);
int calc_sum(const int32_t *xs BX_COUNT(n), size_t n, BX_OUT int64_t *total);
int calc_subscribe(bx_box *callback, int32_t times);
int calc_round(double x, calc_mode mode, BX_OUT int64_t *r);

#endif
