/* bxctl th: the telehash commands of bxctl: keygen, id, ping (tools/bxctl/th.c), send and recv
 * through a box host (tools/bxctl/th_box.c). */
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

/* Runs `bxctl th send|recv ARGV...` (tools/bxctl/th_box.c; cmd "send" or "recv", argv the
 * arguments after it); returns bxctl's exit code, or -1 for a usage error. */
int bxctl_th_box(const th_opts *o, const char *cmd, int argc, char **argv);

/* A peer's or host's JSON given on the command line: the text itself ('{' first), @FILE or a
 * file name (at most 64 KiB read). Returns the text, owned by the caller (free()), or NULL when
 * the file cannot be read. */
char *bxctl_th_read_json(const char *arg);

#endif
