/* bx-bench's DAO rows (dao.c): put and find round trips, and a 10,000-row select streamed
 * through a remote sink, against DAO server processes (memory and SQLite). */
#ifndef BX_BENCH_DAO_H
#define BX_BENCH_DAO_H

#include <stddef.h>

/* Records one row (bx_bench.c's record(), system "bx"). */
typedef void (*bench_dao_record_fn)(const char *scenario, size_t size, double *lat, int n,
                                    double total_us);

/* The JSON size of the object dao-put sends (for the plain RPC row of the same size). */
#define BENCH_DAO_OBJECT_BYTES 96

/* Starts the DAO servers (memory and SQLite, 10,000 rows each) on Unix sockets. 0 or -1. */
int bench_dao_start(void);
/* Runs the rows: dao-put, dao-find (ops each), dao-select-10k-memory, dao-select-10k-sqlite. */
void bench_dao_run(int ops, bench_dao_record_fn record);
void bench_dao_stop(void);

#endif
