/* bxt_calc_server URL: serves the test `calc` service on URL (unix:///path, tcp://host:port,
 * port 0 for any) and prints "READY <url>" once listening; SIGTERM stops it cleanly. */
#include <stdio.h>

#include "calc_server.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s URL\n", argv[0]);
    return 2;
  }
  return bxt_serve(argv[1]);
}
