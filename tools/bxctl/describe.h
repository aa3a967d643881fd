/* bxctl describe: printing a service's descriptor. */
#ifndef BXCTL_DESCRIBE_H
#define BXCTL_DESCRIBE_H

#include <stdio.h>

#include <bx.h>

/* Prints descriptor d (a skeleton's answer to `describe`, borrowed) as C-like signatures:
 *   interface calc (version 2)
 *     struct calc.Point { double x; double y; string label; };
 *     double add(double a, double b);
 *     oneway void notify(string note);
 * Returns 0, or -1 when d is not a descriptor. */
int bxctl_describe_print(FILE *out, const cJSON *d);

#endif
