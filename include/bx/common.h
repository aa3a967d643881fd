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
