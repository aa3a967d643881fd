/* Shared declarations: the export macro and the opaque core types. */
#ifndef BX_COMMON_H
#define BX_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(BX_BUILDING) && defined(__GNUC__)
#define BX_EXTERN __attribute__((visibility("default")))
#else
#define BX_EXTERN /* nothing */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Conventions of the whole API.
 * - Errors: functions return 0 or a negative error code (bx/error.h).
 * - Constructors: every function that makes an object (a context, box, message, listener,
 *   client box, skeleton ...) returns 0 or a negative error code and stores the new object in
 *   its last parameter, `out`, with one reference (or ownership) for the caller; on error it
 *   stores NULL there and has made nothing. BX_EINVAL means an argument it cannot take,
 *   BX_ENOMEM that memory ran out; other codes are said where they can happen.
 * - Ownership: every function's comment says who owns each pointer after the call. */
typedef struct bx_ctx bx_ctx; /* one per event loop: registry, run queue, transports */
typedef struct bx_box bx_box; /* anything with send(); refcounted */
typedef struct bx_msg bx_msg; /* a message envelope; refcounted */

/* Returns BX_VERSION_HEX of the library actually linked. */
BX_EXTERN unsigned bx_version(void);
/* Returns "MAJOR.MINOR.PATCH" of the library actually linked (static storage). */
BX_EXTERN const char *bx_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* BX_COMMON_H */
