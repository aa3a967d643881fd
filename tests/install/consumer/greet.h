/* A one-method interface, to check bx_generate() from the installed package. */
#include <bx.h>
BX_INTERFACE(greet);
int greet_hello(const char *who, BX_OUT char **text);
