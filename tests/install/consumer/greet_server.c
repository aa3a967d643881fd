/* Half of a split build: only the skeleton of greet.h (bx_generate ... SKELETON). */
#include <bx.h>

#include "greet_skeleton.h"

int main(void) {
  return greet_skeleton_new != NULL ? 0 : 1;
}
