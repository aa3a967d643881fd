/* Helpers of the NATS tests: a cluster of nats-server processes started and stopped with
 * tests/nats/cluster.sh (random loopback ports). Include after <cmocka.h>. */
#ifndef BXT_NATS_TESTUTIL_H
#define BXT_NATS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLUSTER_SH BX_TEST_DATA_DIR "/../nats/cluster.sh"

typedef struct cluster {
  char dir[64];
  char url[8][64]; /* nats://127.0.0.1:P */
  char seeds[512]; /* h:p,h:p,... */
  int n;
} cluster;

static inline int cluster_start(cluster *c, int n) {
  memset(c, 0, sizeof *c);
  snprintf(c->dir, sizeof c->dir, "/tmp/bx-nats-XXXXXX");
  if (mkdtemp(c->dir) == NULL) return -1;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%s start %s %d %ld", CLUSTER_SH, c->dir, n, (long)getpid());
  int rc = system(cmd);
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) return 77;
  if (rc != 0) return -1;
  c->n = n;
  for (int i = 0; i < n; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/url.%d", c->dir, i + 1);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(c->url[i], sizeof c->url[i], f) == NULL) return -1;
    fclose(f);
    c->url[i][strcspn(c->url[i], "\n")] = '\0';
    size_t len = strlen(c->seeds);
    snprintf(c->seeds + len, sizeof c->seeds - len, "%s%s", i ? "," : "", c->url[i] + 7);
  }
  return 0;
}

static inline void cluster_kill(cluster *c, int i) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%s kill %s %d", CLUSTER_SH, c->dir, i + 1);
  assert_int_equal(system(cmd), 0);
}

static inline void cluster_stop(cluster *c) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%s stop %s && rm -rf %s", CLUSTER_SH, c->dir, c->dir);
  if (system(cmd) != 0) fprintf(stderr, "cluster stop failed\n");
}

#endif /* BXT_NATS_TESTUTIL_H */
