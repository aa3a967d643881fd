/* The model test.Todo of the FOAM2 DAO captures (spec/foam/dao.md): id integer primary key,
 * title string, done bool, priority integer, due Date, tags array of strings. */
#ifndef TODO_H
#define TODO_H

#include <bx.h>

static const bx_dao_field todo_fields[] = {
    {"id", BX_DAO_INT},       {"title", BX_DAO_STRING}, {"done", BX_DAO_BOOL},
    {"priority", BX_DAO_INT}, {"due", BX_DAO_DATE},     {"tags", BX_DAO_STRINGS},
};
static const bx_dao_model todo_model = {"test.Todo", todo_fields, 6, 0};

#endif
