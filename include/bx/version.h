/* bx version macros. */
#ifndef BX_VERSION_H
#define BX_VERSION_H

#define BX_VERSION_MAJOR 0
#define BX_VERSION_MINOR 1
#define BX_VERSION_PATCH 0

#define BX_VERSION_HEX ((BX_VERSION_MAJOR << 16) | (BX_VERSION_MINOR << 8) | BX_VERSION_PATCH)

#endif /* BX_VERSION_H */
