/* bxctl th: the telehash commands (keygen, id, ping) of bxctl, in tools/bxctl/th.c. */
#ifndef BXCTL_TH_H
#define BXCTL_TH_H

#include <stdbool.h>
#include <stdint.h>

typedef struct th_opts {
  uint64_t timeout_ms; /* bxctl --timeout */
  bool json;           /* bxctl --json */
} th_opts;

/* Runs `bxctl th ARGV...` (argv borrowed, argv[0] the command); returns bxctl's exit code. */
int bxctl_th(const th_opts *o, int argc, char **argv);

#endif
