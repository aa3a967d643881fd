/* The calculator interface: an ordinary C header that bxgen turns into a typed client stub
 * (calc_stub.h) and a server skeleton (calc_skeleton.h). It mirrors the service the FOAM2
 * captures exercise, so a FOAM2 client calling calc.add(1,2) gets 3.
 *
 * Every method returns 0 or a negative error; results are BX_OUT parameters. */
#ifndef CALC_H
#define CALC_H

#include <stdint.h>
#include <bx.h>

BX_INTERFACE(calc, 2); /* 2: recall() */

/* A point on the wire as {"class":"calc.Point","x":..,"y":..,"label":".."}. */
typedef struct calc_point {
  double x;
  double y;
  const char *label;
} calc_point;

/* sum = a + b */
int calc_add(double a, double b, BX_OUT double *sum);
/* Answers its argument unchanged. Free-form JSON, so it echoes strings (the FOAM2 capture's
 * "héllo \"q\" €\n") and every other JSON value alike. */
int calc_echo(cJSON *value, BX_OUT cJSON **echoed);
/* Fails later, asynchronously, with the error "Error: boom". */
int calc_fail(void);
/* Fails at once with the error "sync boom". */
int calc_throwSync(void);
/* A notification: no result. A bx client sends it one-way (no reply box); a FOAM2 client's
 * reply box still gets an empty RPCReturnMessage. */
BX_ONEWAY int calc_notify(const char *note);
/* The point scaled by k, labelled "<label>*k". */
int calc_scale(const calc_point *p, double k, BX_OUT calc_point *scaled);
/* The value in the calculator's memory under name ("answer" holds 42). Any other name is an
 * application error: code UV_ENOENT, text "no such item: NAME" (docs/codegen.md, errors). */
int calc_recall(const char *name, BX_OUT double *value);
/* Calls listener back `from` times with RPCMessage tick(n), n = from .. 1, then answers the
 * number of ticks sent. */
int calc_countdown(bx_box *listener, int32_t from, BX_OUT int32_t *ticks);

#endif /* CALC_H */
