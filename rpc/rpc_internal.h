/* Declarations shared by the files of rpc/ (never installed). */
#ifndef BX_RPC_INTERNAL_H
#define BX_RPC_INTERNAL_H

#include "internal.h"

/* Releases what a value owns; with `borrowed`, strings, cJSON and boxes point into a message
 * and are left alone (arrays and nullable targets are always the runtime's allocations). */
void bx__value_release(const bx_type *type, void *value, bool borrowed);
/* Releases a struct's fields (not the struct memory). */
void bx__struct_release(const bx_type *st, void *base, bool borrowed);

#endif
