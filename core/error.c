/* Error names and texts: bx's own from BX_ERRNO_MAP, libuv's through uv_strerror/uv_err_name. */
#include <string.h>
#include <uv.h>

#include "core.h"

static bool er_is_bx(int err) {
  return err >= BX__ERR_MIN && err <= BX__ERR_MAX;
}

const char *bx_strerror(int err) {
  switch (err) {
#define ER_TEXT(name, value, text) \
  case BX_##name:                  \
    return text;
    BX_ERRNO_MAP(ER_TEXT)
#undef ER_TEXT
  default:
    break;
  }
  if (err == 0) return "success";
  if (er_is_bx(err)) return "unknown error";
  return uv_strerror(err);
}

const char *bx_err_name(int err) {
  switch (err) {
#define ER_NAME(name, value, text) \
  case BX_##name:                  \
    return "BX_" #name;
    BX_ERRNO_MAP(ER_NAME)
#undef ER_NAME
  default:
    break;
  }
  if (err == 0) return "BX_OK";
  if (er_is_bx(err) || err > 0) return "BX_UNKNOWN";
  /* uv_err_name() leaks for unknown codes; it names every code it defines without "UV_". */
  static const struct {
    int code;
    const char *name;
  } uv_names[] = {
#define ER_UV(name, text) {UV_##name, "UV_" #name},
      UV_ERRNO_MAP(ER_UV)
#undef ER_UV
  };
  for (size_t i = 0; i < sizeof uv_names / sizeof uv_names[0]; i++)
    if (uv_names[i].code == err) return uv_names[i].name;
  return "BX_UNKNOWN";
}

int bx_err_from_name(const char *name) {
  if (name == NULL) return 0;
#define ER_FROM(n, value, text) \
  if (strcmp(name, "BX_" #n) == 0) return BX_##n;
  BX_ERRNO_MAP(ER_FROM)
#undef ER_FROM
#define ER_FROM_UV(n, text) \
  if (strcmp(name, "UV_" #n) == 0) return UV_##n;
  UV_ERRNO_MAP(ER_FROM_UV)
#undef ER_FROM_UV
  return 0;
}

unsigned bx_version(void) {
  return BX_VERSION_HEX;
}

#define ER_STR2(x) #x
#define ER_STR(x) ER_STR2(x)
const char *bx_version_string(void) {
  return ER_STR(BX_VERSION_MAJOR) "." ER_STR(BX_VERSION_MINOR) "." ER_STR(BX_VERSION_PATCH);
}
