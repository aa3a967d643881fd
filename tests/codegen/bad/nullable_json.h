#include <cjson/cJSON.h>
#include <bx/idl.h>
BX_INTERFACE(calc);
int calc_put(const cJSON *j BX_NULLABLE);
