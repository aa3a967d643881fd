/* Helpers of the msgbox compatibility tests: checks that end the program with a message and a
 * nonzero status, an event log per side, and a loop runner with a deadline. C99 against
 * msgbox.h only, as the released library's own tests are built. */
#ifndef MCT_H
#define MCT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msgbox.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

#define CHECK_STR(a, b)                                                                         \
  do {                                                                                          \
    const char *a_ = (a), *b_ = (b);                                                            \
    if (a_ == NULL || strcmp(a_, b_) != 0) {                                                    \
      fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)", b_); \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

static const char *const mct_names[] = {"message",           "request",         "reply",
                                        "listening",         "listening_ended", "connection_ready",
                                        "connection_closed", "connection_lost", "error"};

/* The events of one side, as "listening connection_ready message ...". */
typedef struct mct_log {
  char text[1024];
} mct_log;

static inline void mct_add(mct_log *log, msg_Event event) {
  size_t n = strlen(log->text);
  snprintf(log->text + n, sizeof log->text - n, "%s%s", n ? " " : "", mct_names[event]);
}

static inline double mct_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* The number of msg_runloop() calls made through mct_run (events record it as their pass). */
static int mct_pass;

/* Runs msg_runloop(10) until *flag is set; fails after ms milliseconds. */
static inline void mct_run_until(volatile int *flag, int ms) {
  double end = mct_now_ms() + ms;
  while (!*flag) {
    if (mct_now_ms() > end) {
      fprintf(stderr, "timed out waiting\n");
      exit(1);
    }
    mct_pass++;
    msg_runloop(10);
  }
}

/* "tcp://127.0.0.1:PORT" / "udp://..." into buf. */
static inline const char *mct_addr(char *buf, size_t len, const char *proto, int port) {
  snprintf(buf, len, "%s://127.0.0.1:%d", proto, port);
  return buf;
}

#endif /* MCT_H */
