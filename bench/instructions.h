/* Instructions per call under callgrind (see instructions.c). */
#ifndef BX_BENCH_INSTRUCTIONS_H
#define BX_BENCH_INSTRUCTIONS_H

#include <stdbool.h>

typedef struct instr_result {
  const char *scenario;  /* an --only scenario: inproc, unix, th-rtt */
  int calls;             /* calls in the longer of the two runs */
  double client, server; /* instructions per call; server 0 when in-process */
} instr_result;

/* Is valgrind installed? */
bool instr_available(void);
/* Fills r->client and r->server. Returns 0, or -1 when a run failed. */
int instr_measure(const char *self, instr_result *r);

#endif
