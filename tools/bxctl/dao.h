/* bxctl dao: look at a DAO service's data from the shell (dao.c). */
#ifndef BXCTL_DAO_H
#define BXCTL_DAO_H

#include <bx.h>

typedef struct dao_opts {
  uv_loop_t *loop;
  bx_ctx *ctx;
  bx_box *conn; /* the peer's registry */
  uint64_t timeout_ms;
  bool json;
} dao_opts;

/* argv: NAME put|find|remove|select|listen [ARG|OPTION ...]. Returns the exit code (0 ok,
 * 1 remote error, 2 usage, 3 connection or timeout). */
int bxctl_dao(const dao_opts *o, int argc, char **argv);

#endif
