/* Half of a split build: only the stub of greet.h (bx_generate ... STUB). */
#include <bx.h>

#include "greet_stub.h"

int main(void) {
  return greet_stub_init != NULL ? 0 : 1;
}
