/* The captures' model test.Todo as a bx_dao_model table, for the DAO tests. */
#ifndef BXT_TODO_MODEL_H
#define BXT_TODO_MODEL_H

#include "bx.h"

static const bx_dao_field bxt_todo_fields[] = {
    {"id", BX_DAO_INT},       {"title", BX_DAO_STRING}, {"done", BX_DAO_BOOL},
    {"priority", BX_DAO_INT}, {"due", BX_DAO_DATE},     {"tags", BX_DAO_STRINGS},
};
static const bx_dao_model bxt_todo_model = {"test.Todo", bxt_todo_fields, 6, 0};

#endif
