/* The captures' model test.Todo as a C struct read by bxgen: a DAO model (BX_DAO_ID) gives
 * test_todo_dao_model and test_todo_to_dao / _from_dao / _dao_clear in the generated headers.
 * A DAO model needs no method. */
#ifndef BXT_TODO_H
#define BXT_TODO_H

#include <bx.h>

BX_INTERFACE(todo);

typedef struct test_todo {
  int64_t id BX_DAO_ID;
  char *title;
  bool done;
  int32_t priority;
  double due BX_DATE; /* epoch ms; NAN: no due date */
  char **tags BX_COUNT(ntags);
  uint32_t ntags;
} test_todo BX_CLASS("test.Todo");

#endif
