/* The allocator bx uses for its own memory (and cJSON's, which bx's messages are made of). */
#ifndef BX_ALLOC_H
#define BX_ALLOC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Three functions with the C library's contracts: malloc_fn may return NULL for any size
 * (bx then fails what it was doing with BX_ENOMEM, or closes the connection it was reading),
 * realloc_fn leaves the block unchanged when it returns NULL, free_fn takes NULL. */
typedef struct bx_allocator {
  void *(*malloc_fn)(size_t size);
  void *(*realloc_fn)(void *ptr, size_t size);
  void (*free_fn)(void *ptr);
} bx_allocator;

/* Replaces the allocator of bx and of cJSON (cJSON_InitHooks) for the whole process; NULL
 * restores the C library's. The struct is copied. Call it before any other bx or cJSON call,
 * or between uses with no context alive and no bx or cJSON object left: memory is freed by the
 * allocator that was current when it is freed. Not thread-safe. Returns 0, or BX_EINVAL when a
 * function is missing. (libuv's own allocations are libuv's: uv_replace_allocator.) Used by
 * the fault-injection tests to fail the Nth allocation. Memory bx frees for you (a skeleton
 * implementation's outputs, what bx_value_free() takes) must come from the same functions.
 * The msgbox, WebSocket, telehash, NATS transports and the DAO layer use the C library's own
 * allocator for their own memory. */
BX_EXTERN int bx_set_allocator(const bx_allocator *allocator);

#ifdef __cplusplus
}
#endif

#endif /* BX_ALLOC_H */
