/* Memory figures for bx-bench (see memory.c). */
#ifndef BX_BENCH_MEMORY_H
#define BX_BENCH_MEMORY_H

typedef struct mem_result {
  long rss0, rss1k, rss10k; /* bytes */
  int conns;                /* connections actually opened */
} mem_result;

/* Runs the bxd binary on a Unix socket and measures its RSS idle, then with 1,000 and 10,000
 * idle connections. Returns 0, or -1 when it could not. */
int mem_bxd(const char *bxd, mem_result *out);
/* The RSS growth of a context registering `count` names, in bytes (-1 on failure). */
long mem_names(int count);

#endif
